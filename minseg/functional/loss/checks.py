"""Argument checks shared by the losses: class-index targets, ignore masks, reductions."""
from __future__ import annotations

import numbers

import numpy as np

from ...autograd import Tensor, as_array
from ..checks import check_tensor

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(op: str, reduction) -> str:
    """``reduction`` checked to be one of torch's 'none', 'mean', 'sum'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def check_logits(op: str, input) -> Tensor:
    """Float logits with the class axis at dim 1: (N, K, d1, ...), or (K,) for a single sample."""
    input = check_tensor(op, "input", input)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating-point logits, got dtype {input.dtype}")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must be (N, K, ...) or (K,) logits, got a scalar")
    return input


def class_targets(op: str, input: Tensor, target, ignore_index) -> tuple[np.ndarray, np.ndarray]:
    """``target`` as int64 (N, d1, ...) class indices and the mask of counted positions.

    Checks the shape against (N, K, d1, ...) logits and that every counted index is in [0, K).
    Ignored positions get index 0 in the returned array (so it can be used for gathering).
    """
    target = as_array(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(f"{op}: target must have shape {expected} for input of shape {input.shape} "
                         f"((N, d1, ...) for (N, K, d1, ...)), got {target.shape}")
    if ignore_index is not None and not isinstance(ignore_index, (numbers.Integral, np.integer)):
        raise ValueError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    valid = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    num_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    bad = valid & ((target < 0) | (target >= num_classes))
    if bad.any():
        raise ValueError(f"{op}: target values must lie in [0, {num_classes}) or equal "
                         f"ignore_index={ignore_index}, found {target[bad].flat[0]}")
    return np.where(valid, target, 0).astype(np.int64), valid


def class_weight(op: str, weight, num_classes: int, dtype) -> np.ndarray | None:
    """The optional per-class weight as a (K,) array of the logits' dtype."""
    if weight is None:
        return None
    weight = as_array(weight)
    if weight.shape != (num_classes,):
        raise ValueError(f"{op}: weight must have shape ({num_classes},) (one per class), got {weight.shape}")
    return weight.astype(dtype, copy=False)


def class_last(a: np.ndarray) -> np.ndarray:
    """(N, K, d1, ...) -> (N, d1, ..., K): the class axis last (a view)."""
    return np.moveaxis(a, 1, -1) if a.ndim > 1 else a
