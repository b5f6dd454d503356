"""The soft Dice and Jaccard losses, multi-class, from logits.

With p = softmax(logits) over the class axis and y the one-hot target, for every class k the sums
run over all counted pixels of the whole batch (the slide's vectors y, ŷ in [0, 1]^n):

    I_k = sum_i p_ik y_ik,   P_k = sum_i p_ik,   Y_k = sum_i y_ik
    Dice loss    D_k = 1 - (2 I_k + eps) / (P_k + Y_k + eps)
    Jaccard loss J_k = 1 - (I_k + eps) / (P_k + Y_k - I_k + eps)    (the soft union |A|+|B|-|A∩B|)

and the loss is the mean over the K classes. ``eps`` (1 by default) keeps a class that is absent
from both prediction and target from dividing 0 by 0 (its loss is then close to 0).
"""
from __future__ import annotations

import math

import numpy as np

from ...autograd import Function, Tensor
from ...lazy import lazy_module
from .checks import check_logits, class_targets
from ...threads import threads_for
from ..activation import softmax_array

__all__ = ["dice_loss", "jaccard_loss"]

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)


class OverlapLossFunction(Function):
    """mean_k (1 - ratio_k); the backward uses dL/dp_ik = v_i (a_k [t_i = k] + b_k).

    The one-hot y is never built: I_k and Y_k are class-binned sums over the pixels' own class; the
    softmax and the backward run as class-axis kernels (loss/kernels.py).
    """

    @staticmethod
    def forward(ctx, x, target=None, valid=None, eps=1.0, kind="dice"):
        k = x.shape[1]
        p = softmax_array(x, 1)
        p_true = np.take_along_axis(p, target[:, None], axis=1)[:, 0]  # p_i,t_i
        counted = target[valid]
        inter = np.bincount(counted, weights=p_true[valid], minlength=k)
        true = np.bincount(counted, minlength=k).astype(np.float64)
        axes = (0,) + tuple(range(2, x.ndim))
        pred = (p if valid.all() else p * valid[:, None]).sum(axes, dtype=np.float64)
        if kind == "dice":
            num, den = 2 * inter + eps, pred + true + eps
        else:
            num, den = inter + eps, pred + true - inter + eps
        ctx.save_for_backward(p, target, valid, num, den)
        ctx.kind = kind
        return np.asarray(np.mean(1 - num / den), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        p, target, valid, num, den = ctx.saved_tensors
        k = len(num)
        # Dice:    d(1 - N/D)/dp_ik = -(2 y_ik) / D + N / D^2
        # Jaccard: d(1 - N/U)/dp_ik = -y_ik / U + N (1 - y_ik) / U^2
        if ctx.kind == "dice":
            a, b = -2 / den, num / den ** 2
        else:
            a, b = -1 / den - num / den ** 2, num / den ** 2
        a, b = (a * (g / k)).astype(p.dtype), (b * (g / k)).astype(p.dtype)
        # back through the softmax, in one kernel: dL/dx_ik = p_ik (dL/dp_ik - sum_j p_ij dL/dp_ij)
        n, inner = p.shape[0], math.prod(p.shape[2:])
        p3 = np.ascontiguousarray(p).reshape(n, k, inner)
        grad = np.empty_like(p3)
        counted = valid.reshape(n, inner).astype(p.dtype)
        with threads_for(p3.size):
            kernels.overlap_backward(p3, target.reshape(n, inner), counted, a, b, grad)
        return (grad.reshape(p.shape),)


def _overlap(op: str, kind: str, input, target, eps, ignore_index) -> Tensor:
    input = check_logits(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, K, ...) logits, got shape {input.shape}")
    if input.shape[1] < 2:
        raise ValueError(f"{op}: input needs at least 2 classes on dim 1, got shape {input.shape}")
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"{op}: eps must be a number >= 0, got {eps!r}")
    labels, valid = class_targets(op, input, target, ignore_index)
    return OverlapLossFunction.apply(input, target=labels, valid=valid, eps=float(eps), kind=kind)


def dice_loss(input: Tensor, target, eps: float = 1.0, ignore_index: int | None = None) -> Tensor:
    """Soft multi-class Dice loss from (N, K, ...) logits and (N, ...) class indices (a scalar)."""
    return _overlap("dice_loss", "dice", input, target, eps, ignore_index)


def jaccard_loss(input: Tensor, target, eps: float = 1.0, ignore_index: int | None = None) -> Tensor:
    """Soft multi-class Jaccard (IoU) loss from (N, K, ...) logits and (N, ...) class indices."""
    return _overlap("jaccard_loss", "jaccard", input, target, eps, ignore_index)
