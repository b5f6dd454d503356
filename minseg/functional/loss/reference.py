"""The losses as plain loops over positions and classes, exactly as the formulas read (slow; for the
tests and the lectures). Each ``<op>_reference`` takes the op's own arguments (ndarrays) and returns
float64 ndarrays (the overlap losses a float); the tests tie them to the fast paths in :mod:`.ops`,
:mod:`.overlap` and :mod:`.weight_map`.
"""
from __future__ import annotations

import numpy as np

from .checks import class_last
from .weight_map import class_balance, instance_labels


def cross_entropy_reference(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Plain loops over positions (ndarrays in, float64 ndarray out); the readable version.

    l_i = w[t_i] * (log sum_k exp x_ik - x_i,t_i); 'mean' divides by sum_i w[t_i] over counted i.
    """
    x = np.asarray(input, np.float64)
    t = np.asarray(target)
    if x.ndim == 1:
        x, t = x[None], t[None]
    num_classes = x.shape[1]
    rows = class_last(x).reshape(-1, num_classes)
    losses, weights = np.zeros(len(rows)), np.zeros(len(rows))
    for i, (row, label) in enumerate(zip(rows, t.ravel())):
        if label == ignore_index:
            continue  # ignored positions add nothing, not even to the mean's denominator
        m = row.max()
        log_sum_exp = m + np.log(np.sum(np.exp(row - m)))
        weights[i] = 1.0 if weight is None else weight[label]
        losses[i] = weights[i] * (log_sum_exp - row[label])
    if reduction == "none":
        return losses.reshape(np.asarray(target).shape)
    if reduction == "sum":
        return np.array(losses.sum())
    return np.array(losses.sum() / weights.sum())


def binary_cross_entropy_with_logits_reference(input, target, weight=None, reduction="mean",
                                               pos_weight=None):
    """Element by element: l = -w [p y log s(x) + (1 - y) log(1 - s(x))] (float64 ndarrays)."""
    x, y = np.asarray(input, np.float64), np.asarray(target, np.float64)
    w = np.broadcast_to(1.0 if weight is None else np.asarray(weight, np.float64), x.shape)
    p = np.broadcast_to(1.0 if pos_weight is None else np.asarray(pos_weight, np.float64), x.shape)
    losses = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        s = 1.0 / (1.0 + np.exp(-x[i]))
        losses[i] = -w[i] * (p[i] * y[i] * np.log(s) + (1 - y[i]) * np.log(1 - s))
    if reduction == "none":
        return losses
    return np.array(losses.sum() if reduction == "sum" else losses.mean())


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
    """dice_loss as plain loops over classes and pixels (ties the fast path in the tests)."""
    return _overlap_reference("dice", input, target, eps, ignore_index)


def jaccard_loss_reference(input, target, eps=1.0, ignore_index=None) -> float:
    """jaccard_loss as plain loops over classes and pixels (ties the fast path in the tests)."""
    return _overlap_reference("jaccard", input, target, eps, ignore_index)


def unet_weight_map_reference(instance_mask, w0: float = 10.0, sigma: float = 5.0,
                              class_weights=None) -> np.ndarray:
    """The same map by brute force: for every background pixel, the distance to every instance
    pixel (slow; for tests and small examples)."""
    labels = instance_labels(instance_mask)
    weights = class_balance(labels > 0, class_weights)
    ids = [i for i in np.unique(labels) if i > 0]
    pixels = {i: np.argwhere(labels == i) for i in ids}
    out = weights.copy()
    for y, x in np.ndindex(labels.shape):
        if labels[y, x] != 0 or len(ids) < 2:
            continue
        # d_i = min over pixels q of instance i of |x - q|;  d1 <= d2 the two smallest
        d = sorted(np.sqrt(((pixels[i] - (y, x)) ** 2).sum(1)).min() for i in ids)
        out[y, x] += w0 * np.exp(-(d[0] + d[1]) ** 2 / (2 * sigma ** 2))
    return out.astype(np.float32)
