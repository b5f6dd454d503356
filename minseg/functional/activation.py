"""Activations and the (log-)softmax, shaped like ``torch.nn.functional``."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor
from ..threads import in_two_threads, threads_for
from ..ops import elementwise as _ew
from ..ops.reduce import normalize_dims



def class_kernels():
    """The class-axis kernels (functional/loss/kernels.py, shared with cross_entropy), imported on the first
    call: Numba loads then, and the loss family (which imports this module) is complete by then."""
    from .loss import kernels

    return kernels


def relu(input: Tensor) -> Tensor:
    """max(0, x)."""
    return _ew.LeakyReLUFunction.apply(input, negative_slope=0.0)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return _ew.LeakyReLUFunction.apply(input, negative_slope=float(negative_slope))


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), computed without overflow."""
    return _ew.SigmoidFunction.apply(input)


def tanh(input: Tensor) -> Tensor:
    """(e^x - e^-x) / (e^x + e^-x) elementwise."""
    return _ew.TanhFunction.apply(input)


def log_sum_exp(a: np.ndarray, dim: int) -> np.ndarray:
    """log sum_j e^{a_j} along ``dim`` (kept as a size-1 axis), stable for large and -inf entries;
    shared by softmax, log_softmax and the overlap losses."""
    # log sum_j e^{a_j} = m + log sum_j e^{a_j - m}, m = max_j a_j: no overflow, no underflow to 0
    m = a.max(axis=dim, keepdims=True, initial=-np.inf)  # (-inf over an empty axis, as torch: no error)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # log 0 = -inf where every entry is -inf (or there are none)
        return m + np.log(np.exp(a - m).sum(axis=dim, keepdims=True))


def class_axis_view(a: np.ndarray, dim: int) -> np.ndarray | None:
    """``a`` as (outer, K, inner) with K the axis ``dim`` (a view of a contiguous copy), for the class-axis
    kernels; None where they do not pay: ``dim`` last (inner 1, NumPy reduces contiguous rows well) or
    nothing to reduce."""
    inner = math.prod(a.shape[dim + 1:])
    if inner <= 1 or a.size == 0 or a.dtype.kind != "f":
        return None
    return np.ascontiguousarray(a).reshape(math.prod(a.shape[:dim]), a.shape[dim], inner)


def _exp_overflow_expected(a: np.ndarray, out: np.ndarray) -> None:
    """np.exp(a, out=out) without NumPy's overflow warning: softmax_classes exponentiates unshifted logits
    and recomputes the pixels where e^x overflowed (its errstate is set here, on the thread that runs)."""
    with np.errstate(over="ignore"):
        np.exp(a, out=out)


def softmax_classes(a3: np.ndarray) -> np.ndarray:
    """softmax over axis 1 of (outer, K, inner): NumPy's SIMD exp of the unshifted logits on two threads,
    then one kernel sums and normalises, shifting by the maximum only the pixels where that is needed
    (loss/kernels.py: normalise_exponentials says when, and why the others lose nothing)."""
    out = np.empty_like(a3)
    with threads_for(a3.size):
        in_two_threads(_exp_overflow_expected, a3, out=out)
        with np.errstate(invalid="ignore"):  # inf - inf = nan in a pixel with a +-inf maximum, as torch's
            class_kernels().normalise_exponentials(a3, out)  # (NumPy warns only with NUMBA_DISABLE_JIT)
    return out


def softmax_array(a: np.ndarray, dim: int) -> np.ndarray:
    """softmax of an ndarray along ``dim``: the class-axis kernels where class_axis_view allows, the
    log-sum-exp formula otherwise (SoftmaxFunction's forward; the overlap losses' probabilities)."""
    a3 = class_axis_view(a, dim)
    return np.exp(a - log_sum_exp(a, dim)) if a3 is None else softmax_classes(a3).reshape(a.shape)


def shifted_softmax(a: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a - max, softmax, sum of e^(a - max) kept as a size-1 axis) along ``dim``: what cross-entropy needs
    (the shifted logits give log-probabilities without the underflow of log(softmax)). Class-axis kernels
    where class_axis_view allows, the NumPy formula otherwise."""
    a3 = class_axis_view(a, dim)
    if a3 is None:
        shifted = a - a.max(axis=dim, keepdims=True, initial=-np.inf)
        p = np.exp(shifted)
        total = p.sum(axis=dim, keepdims=True)
        p /= total
        return shifted, p, total
    shifted = np.empty_like(a3)
    total = np.empty((a3.shape[0], a3.shape[2]), a3.dtype)
    with threads_for(a3.size):
        class_kernels().shift_by_class_max(a3, shifted)
        p = in_two_threads(np.exp, shifted)
        class_kernels().normalise_classes(p, total)
    kept = a.shape[:dim] + (1,) + a.shape[dim + 1:]
    return shifted.reshape(a.shape), p.reshape(a.shape), total.reshape(kept)


def log_softmax_classes(a3: np.ndarray) -> np.ndarray:
    """log_softmax over axis 1 of (outer, K, inner): (x - m) - log sum_k e^(x - m)."""
    shifted = np.empty_like(a3)
    sums = np.empty((a3.shape[0], a3.shape[2]), a3.dtype)
    with threads_for(a3.size):
        class_kernels().shift_by_class_max(a3, shifted)
        class_kernels().class_sums(in_two_threads(np.exp, shifted), sums)
    with np.errstate(divide="ignore"):  # all logits -inf: log 0 = -inf, as log_sum_exp gives
        shifted -= np.log(sums)[:, None, :]
    return shifted


class LogSoftmaxFunction(Function):
    """Over a middle axis (the class axis of (N, K, H, W)) the class-axis kernels; over the last axis
    (or an empty input) the NumPy formula. Both are tested against torch and log_softmax_reference."""

    @staticmethod
    def forward(ctx, a, dim=-1):
        a3 = class_axis_view(a, dim)
        out = a - log_sum_exp(a, dim) if a3 is None else log_softmax_classes(a3).reshape(a.shape)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        # y_i = a_i - log sum e^a  =>  dL/da_i = g_i - softmax_i * sum_j g_j
        (out,) = ctx.saved_tensors
        g3 = class_axis_view(g, ctx.dim)
        if g3 is None:
            return (g - np.exp(out) * g.sum(axis=ctx.dim, keepdims=True),)
        sums = np.empty((g3.shape[0], g3.shape[2]), g3.dtype)
        with threads_for(g3.size):
            class_kernels().class_sums(g3, sums)
        return ((g3 - np.exp(out.reshape(g3.shape)) * sums[:, None, :]).reshape(g.shape),)


class SoftmaxFunction(Function):
    """As LogSoftmaxFunction: class-axis kernels over a middle axis, the NumPy formula otherwise."""

    @staticmethod
    def forward(ctx, a, dim=-1):
        out = softmax_array(a, dim)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        # s_i = e^{a_i} / sum e^a  =>  dL/da_i = s_i (g_i - sum_j g_j s_j)
        (s,) = ctx.saved_tensors
        g3 = class_axis_view(g, ctx.dim)
        if g3 is None:
            return (s * (g - (g * s).sum(axis=ctx.dim, keepdims=True)),)
        grad = np.empty_like(g3)
        with threads_for(g3.size):
            class_kernels().softmax_backward(s.reshape(g3.shape), g3, grad)
        return (grad.reshape(g.shape),)


def _softmax_dim(op: str, input: Tensor, dim) -> int:
    if dim is None:
        raise ValueError(f"{op}: dim must be given (e.g. dim=1 for (N, K, H, W) logits)")
    return normalize_dims(op, dim, input.ndim)[0]


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, shifted by the maximum for stability."""
    return SoftmaxFunction.apply(input, dim=_softmax_dim("softmax", input, dim))


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim``; finite even where softmax would underflow to 0."""
    return LogSoftmaxFunction.apply(input, dim=_softmax_dim("log_softmax", input, dim))


def softmax_reference(input, dim=None) -> np.ndarray:
    """softmax by its definition, one slice along ``dim`` at a time (ndarray in, float64 out; slow)."""
    x = np.moveaxis(np.asarray(input, np.float64), dim, -1)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        # s_k = e^(x_k - m) / sum_j e^(x_j - m),  m = max_j x_j
        row = x[index]
        if row.size == 0:  # an empty axis: nothing to normalise
            continue
        e = np.exp(row - row.max())
        out[index] = e / e.sum()
    return np.moveaxis(out, -1, dim)


def log_softmax_reference(input, dim=None) -> np.ndarray:
    """log_softmax by its definition, one slice along ``dim`` at a time: x_k - m - log sum_j e^(x_j - m)."""
    x = np.moveaxis(np.asarray(input, np.float64), dim, -1)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        row = x[index]
        if row.size == 0:
            continue
        m = row.max()
        out[index] = row - m - np.log(np.sum(np.exp(row - m)))
    return np.moveaxis(out, -1, dim)
