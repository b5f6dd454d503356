"""The cross-entropy losses, shaped like ``torch.nn.functional``: Tensor logits in, Tensor loss out.

- ``cross_entropy``: the per-pixel cross-entropy  l_i = -w[t_i] log softmax(x_i)[t_i], with class
  weights, ``ignore_index`` and ``reduction`` ('none' gives the per-pixel map, so a per-pixel
  weight map such as U-Net's can be multiplied in before averaging).
- ``binary_cross_entropy_with_logits``: -[p y log s(x) + (1 - y) log(1 - s(x))], s = sigmoid.

Each has a fused forward/backward ``Function`` (NumPy and Numba kernels); the loops that read like
the formula are in :mod:`.reference`.
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function, Tensor, as_array
from ...lazy import lazy_module
from ...threads import in_parallel, threads_for
from ..activation import class_axis_view, shifted_softmax
from ..checks import check_tensor, empty_answer
from .checks import check_logits, check_reduction, class_targets, class_weight

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits"]

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)


class CrossEntropyFunction(Function):
    """Vectorised forward/backward; the forward keeps softmax for the backward (one exp pass).

    The class-axis passes (max, sum, normalise) run as Numba kernels (activation.shifted_softmax), the
    exponential as NumPy's SIMD exp (a Numba exp, without SIMD, ran ~5x slower).
    """

    @staticmethod
    def forward(ctx, x, target=None, valid=None, weight=None, reduction="mean"):
        # l_i = w_i (log sum_k e^{x_ik - m_i} - (x_i,t_i - m_i)),  m_i = max_k x_ik
        shifted, p, total = shifted_softmax(x, 1)
        picked = _pick_classes(shifted, target)
        w = (np.ones(target.shape, x.dtype) if weight is None else weight[target]) * valid
        losses = w * (np.log(total[:, 0]) - picked)
        ctx.save_for_backward(p, target, w)
        ctx.reduction = reduction
        if reduction == "none":
            return losses
        loss_sum = losses.sum(dtype=x.dtype)
        if reduction == "sum":
            return loss_sum
        ctx.denominator = w.sum(dtype=x.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(loss_sum / ctx.denominator, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        # dl_i/dx_ik = w_i (softmax_ik - [k == t_i]), scaled by the upstream gradient of l_i
        p, target, w = ctx.saved_tensors
        if ctx.reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                g = g / ctx.denominator
        coefficient = w * g
        p3 = class_axis_view(p, 1)
        if p3 is None:  # (N, K) logits: NumPy along the last axis
            grad = p * coefficient[:, None]
            index = target[:, None]
            np.put_along_axis(grad, index, np.take_along_axis(grad, index, axis=1) - coefficient[:, None], axis=1)
            return (grad,)
        grad = np.empty_like(p3)
        with threads_for(p3.size):
            kernels.cross_entropy_grad(p3, _rows(target, p3), _rows(coefficient.astype(p.dtype, copy=False), p3),
                                       grad)
        return (grad.reshape(p.shape),)


def _rows(a: np.ndarray, a3: np.ndarray) -> np.ndarray:
    """A per-position array (N, d1, ...) as the (outer, inner) rows of the class-axis view a3 (outer, K, inner)."""
    return np.ascontiguousarray(a).reshape(a3.shape[0], a3.shape[2])


def _pick_classes(shifted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """shifted[n, target[n, ...], ...]: the entry of each position's target class (N, d1, ...)."""
    s3 = class_axis_view(shifted, 1)
    if s3 is None:
        return np.take_along_axis(shifted, target[:, None], axis=1)[:, 0]
    picked = np.empty((s3.shape[0], s3.shape[2]), shifted.dtype)
    with threads_for(s3.size):
        kernels.pick_classes(s3, _rows(target, s3), picked)
    return picked.reshape(target.shape)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean") -> Tensor:
    """torch.nn.functional.cross_entropy for class-index targets.

    input: (N, K, d1, ...) logits (or (K,)); target: (N, d1, ...) ints in [0, K) or ignore_index;
    weight: optional (K,) class weights. reduction: 'none' -> (N, d1, ...) map, 'sum', or 'mean'
    (the weighted mean sum_i l_i / sum_i w[t_i] over non-ignored positions, as torch).
    """
    op = "cross_entropy"
    input = check_logits(op, input)
    reduction = check_reduction(op, reduction)
    labels, valid = class_targets(op, input, target, ignore_index)
    w = class_weight(op, weight, input.shape[1] if input.ndim > 1 else input.shape[0], input.dtype)
    if input.ndim == 1:  # a single sample: treat as a batch of one
        single = as_array(target).reshape(1)
        out = cross_entropy(input.reshape(1, -1), single, weight, ignore_index, reduction)
        return out.reshape(()) if reduction == "none" else out
    if input.shape[1] == 0:
        return _no_classes(input, labels, reduction)
    return CrossEntropyFunction.apply(input, target=labels, valid=valid, weight=w, reduction=reduction)


def _no_classes(input: Tensor, labels: np.ndarray, reduction: str) -> Tensor:
    """cross_entropy over no classes, which torch accepts when every position is ignored (class_targets
    let no other through): each loss is 0, so 'none' gives zeros, 'sum' 0 and 'mean' 0 / 0 = nan."""
    if reduction == "none":
        return empty_answer(np.zeros(labels.shape, input.dtype), input)
    return empty_answer(np.asarray(0.0 if reduction == "sum" else np.nan, input.dtype), input)


class BinaryCrossEntropyWithLogitsFunction(Function):
    """The loss and both derivatives in one Numba pass (kernels.binary_cross_entropy_terms, which
    has the formulas); the forward keeps the derivatives, so the backward only scales them by the
    upstream gradient."""

    @staticmethod
    def forward(ctx, x, y, weight=None, pos_weight=None, reduction="mean"):
        x = np.ascontiguousarray(x)  # so a, tail and the losses are C-ordered and ravel() gives views
        a, tail = np.empty_like(x), np.empty_like(x)
        grad_y = np.empty(x.shape if ctx.needs_input_grad[1] else 0, np.result_type(x, y))
        flat = (x.ravel(), np.ascontiguousarray(y).ravel(), a.ravel(), tail.ravel())
        weights = _flat_weight(weight, x) + _flat_weight(pos_weight, x)
        terms = kernels.binary_cross_entropy_terms  # loaded here, not by two threads at once
        half = x.size // 2
        in_parallel([lambda: _bce_elements(terms, flat, weights, grad_y.ravel(), 0, half),
                     lambda: _bce_elements(terms, flat, weights, grad_y.ravel(), half, x.size)],
                    worth_it=x.size >= BCE_SPLIT_ELEMENTS)
        losses, ctx.grad_x, ctx.grad_y = tail, a, grad_y
        ctx.reduction = reduction
        if reduction == "none":
            return losses
        total = losses.sum(dtype=x.dtype)
        if reduction == "sum":
            return total
        with np.errstate(invalid="ignore"):  # the mean of no elements is nan, as in torch
            return np.asarray(total / x.size, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        if ctx.reduction == "mean":
            g = g / max(ctx.grad_x.size, 1)  # (no elements: the gradient is empty anyway)
        grad_x = ctx.grad_x * g if ctx.needs_input_grad[0] else None
        grad_y = ctx.grad_y * g if ctx.needs_input_grad[1] else None
        return grad_x, grad_y


# From this many elements BCE's pass runs in two halves at once (threads.in_parallel): its exp, log1p
# and kernel cost ~4 ns an element, so halves of 65536 elements (~0.13 ms each) already pay for the
# hand-over to the second thread.
BCE_SPLIT_ELEMENTS = 1 << 17


def _bce_elements(terms, flat, weights, grad_y, lo: int, hi: int) -> None:
    """Elements [lo, hi) of BCE's one pass: a = e^-|x| and tail = log1p(a) by NumPy's SIMD ufuncs,
    then ``terms`` (kernels.binary_cross_entropy_terms); both release the GIL, so two halves run at once."""
    x, y, a, tail = (array[lo:hi] for array in flat)
    np.exp(np.negative(np.abs(x, out=a), out=a), out=a)  # a = e^-|x|
    np.log1p(a, out=tail)
    (weight, weight_step, pos_weight, pos_step) = weights
    terms(x, y, a, tail, weight[lo * weight_step:hi * weight_step or 1], weight_step,
          pos_weight[lo * pos_step:hi * pos_step or 1], pos_step, grad_y[lo:hi] if grad_y.size else grad_y)


def _flat_weight(value, like: np.ndarray) -> tuple[np.ndarray, int]:
    """A weight for binary_cross_entropy_terms: (the array, its step): (one value, 0) when it is None
    (a 1) or has one element, else (the weight broadcast to ``like``'s shape and flattened, 1)."""
    if value is None or value.size == 1:
        return np.ones(1, like.dtype) if value is None else value.reshape(1), 0
    return np.ascontiguousarray(np.broadcast_to(value, like.shape)).ravel(), 1


def _broadcastable_to(op: str, name: str, value, shape, dtype):
    if value is None:
        return None
    value = as_array(value).astype(dtype, copy=False)
    try:
        ok = np.broadcast_shapes(value.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} must broadcast to the input's shape {tuple(shape)}, "
                         f"got {value.shape}")
    return value


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """torch.nn.functional.binary_cross_entropy_with_logits: sigmoid + binary cross-entropy in one
    stable step. target: probabilities of input's shape (a Tensor may require grad); weight and
    pos_weight broadcast to input's shape (pos_weight multiplies the positive term)."""
    op = "binary_cross_entropy_with_logits"
    input = check_logits(op, input)
    reduction = check_reduction(op, reduction)
    target = check_tensor(op, "target", target)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target must have the input's shape {input.shape}, got {target.shape}")
    if target.dtype != input.dtype:
        target = target if target.requires_grad else Tensor(target.data.astype(input.dtype))
    weight = _broadcastable_to(op, "weight", weight, input.shape, input.dtype)
    pos_weight = _broadcastable_to(op, "pos_weight", pos_weight, input.shape, input.dtype)
    return BinaryCrossEntropyWithLogitsFunction.apply(input, target, weight=weight, pos_weight=pos_weight,
                                              reduction=reduction)
