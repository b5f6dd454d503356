"""Argument checks shared by the functional ops: torch-style int-or-pair arguments and tensors."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Tensor


def pair(op: str, name: str, value, minimum: int | None = None) -> tuple[int, int]:
    """torch's ``int or (int, int)`` argument as a pair of ints, checked against ``minimum``."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) for v in value):
        result = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if minimum is not None and min(result) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return result


def check_tensor(op: str, name: str, x, ndim: int | None = None, layout: str = "") -> Tensor:
    """``x`` as a Tensor (ndarrays are wrapped), with ``ndim`` dimensions when given."""
    if not isinstance(x, Tensor):
        if isinstance(x, (np.ndarray, list, numbers.Number)):
            x = Tensor(np.asarray(x))
        else:
            raise TypeError(f"{op}: {name} must be a Tensor or an ndarray, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        shape_text = f" {layout}" if layout else ""
        raise ValueError(f"{op}: {name} must be {ndim}-D{shape_text}, got shape {x.shape}")
    return x


def check_image(op: str, input) -> Tensor:
    """``input`` as a Tensor that is a batch (N, C, H, W) or a single image (C, H, W), as torch allows."""
    x = check_tensor(op, "input", input)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {x.shape}")
    return x


def plane_stack(a: np.ndarray) -> np.ndarray:
    """The (P, H, W) stack of planes of an (..., H, W) array, as the 2-D kernels take it (a copy only
    when ``a`` is not contiguous)."""
    return np.ascontiguousarray(a).reshape(-1, *a.shape[-2:])


def check_float_pair(op: str, first: Tensor, second: Tensor, second_name: str) -> None:
    """Two float tensors that meet in one op must have one dtype (no silent promotion)."""
    if first.dtype != second.dtype:
        raise TypeError(f"{op}: {second_name} has dtype {second.dtype} but input has dtype {first.dtype}")


def check_channels(op: str, x: Tensor, name: str = "input", axis: int = -3) -> None:
    """Reject a tensor with no channels (``axis``) where torch rejects it: only the batch may be empty."""
    if x.shape[axis] == 0:
        raise ValueError(f"{op}: {name} must have at least one channel (as in torch, only the batch may be "
                         f"empty), got shape {x.shape}")


def empty_answer(array: np.ndarray, *inputs) -> Tensor:
    """``array`` (torch's answer for an input with nothing to compute) as a Tensor in the graph of
    ``inputs`` (None allowed), so that backward() runs as in torch and gives them zero gradients."""
    anchor = [t.sum() * 0.0 for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    out = Tensor(array)
    for term in anchor:
        out = out + term
    return out
