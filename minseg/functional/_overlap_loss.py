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

import numpy as np

from ..autograd import Function, Tensor
from ._loss_common import check_logits, class_last, class_targets, one_hot
from .activation import _log_sum_exp

__all__ = ["dice_loss", "jaccard_loss"]


def _sums(p: np.ndarray, y: np.ndarray, valid: np.ndarray):
    """I_k, P_k, Y_k summed over every axis but the class axis 1 (counted pixels only)."""
    axes = (0,) + tuple(range(2, p.ndim))
    v = valid[:, None].astype(p.dtype)
    pv = p * v
    return (pv * y).sum(axes), pv.sum(axes), (y * v).sum(axes)


class _OverlapLoss(Function):
    """mean_k (1 - ratio_k); the backward uses dL/dp_ik = v_i (a_k y_ik + b_k) from ``_slopes``."""

    @staticmethod
    def forward(ctx, x, target=None, valid=None, eps=1.0, kind="dice"):
        p = np.exp(x - _log_sum_exp(x, 1))
        y = one_hot(target, x.shape[1], x.dtype, batched=True)
        inter, pred, true = _sums(p, y, valid)
        if kind == "dice":
            num, den = 2 * inter + eps, pred + true + eps
        else:
            num, den = inter + eps, pred + true - inter + eps
        ctx.save_for_backward(p, y, valid, num, den)
        ctx.kind = kind
        return np.asarray(np.mean(1 - num / den), dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        p, y, valid, num, den = ctx.saved
        k = len(num)
        # Dice:    d(1 - N/D)/dp_ik = -(2 y_ik) / D + N / D^2
        # Jaccard: d(1 - N/U)/dp_ik = -y_ik / U + N (1 - y_ik) / U^2
        if ctx.kind == "dice":
            a, b = -2 / den, num / den ** 2
        else:
            a, b = -1 / den - num / den ** 2, num / den ** 2
        shape = (1, k) + (1,) * (p.ndim - 2)
        grad_p = (a.reshape(shape) * y + b.reshape(shape)) * (valid[:, None] * (g / k))
        # back through the softmax: dL/dx = p (dL/dp - sum_k p_k dL/dp_k)
        return (p * (grad_p - (grad_p * p).sum(axis=1, keepdims=True)),)


def _overlap(op: str, kind: str, input, target, eps, ignore_index) -> Tensor:
    input = check_logits(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, K, ...) logits, got shape {input.shape}")
    if input.shape[1] < 2:
        raise ValueError(f"{op}: input needs at least 2 classes on dim 1, got shape {input.shape}")
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"{op}: eps must be a number >= 0, got {eps!r}")
    labels, valid = class_targets(op, input, target, ignore_index)
    return _OverlapLoss.apply(input, target=labels, valid=valid, eps=float(eps), kind=kind)


def dice_loss(input: Tensor, target, eps: float = 1.0, ignore_index: int | None = None) -> Tensor:
    """Soft multi-class Dice loss from (N, K, ...) logits and (N, ...) class indices (a scalar)."""
    return _overlap("dice_loss", "dice", input, target, eps, ignore_index)


def jaccard_loss(input: Tensor, target, eps: float = 1.0, ignore_index: int | None = None) -> Tensor:
    """Soft multi-class Jaccard (IoU) loss from (N, K, ...) logits and (N, ...) class indices."""
    return _overlap("jaccard_loss", "jaccard", input, target, eps, ignore_index)


def _overlap_reference(kind, input, target, eps=1.0, ignore_index=None) -> float:
    """Loops over classes and pixels, as the formula reads (float64 ndarrays in, a float out)."""
    x = class_last(np.asarray(input, np.float64))
    num_classes = x.shape[-1]
    rows, labels = x.reshape(-1, num_classes), np.asarray(target).ravel()
    losses = []
    for k in range(num_classes):
        inter = pred = true = 0.0
        for row, label in zip(rows, labels):
            if ignore_index is not None and label == ignore_index:
                continue
            p_k = np.exp(row[k] - row.max()) / np.exp(row - row.max()).sum()  # softmax
            y_k = 1.0 if label == k else 0.0
            inter, pred, true = inter + p_k * y_k, pred + p_k, true + y_k
        union = pred + true if kind == "dice" else pred + true - inter
        losses.append(1 - ((2 if kind == "dice" else 1) * inter + eps) / (union + eps))
    return float(np.mean(losses))


def dice_loss_reference(input, target, eps=1.0, ignore_index=None) -> float:
    return _overlap_reference("dice", input, target, eps, ignore_index)


def jaccard_loss_reference(input, target, eps=1.0, ignore_index=None) -> float:
    return _overlap_reference("jaccard", input, target, eps, ignore_index)
