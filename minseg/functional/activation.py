"""Activations and the (log-)softmax, shaped like ``torch.nn.functional``."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from ..ops import elementwise as _ew
from ..ops.reduce import normalize_dims


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
    m = a.max(axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return m + np.log(np.exp(a - m).sum(axis=dim, keepdims=True))


class LogSoftmaxFunction(Function):
    @staticmethod
    def forward(ctx, a, dim=-1):
        out = a - log_sum_exp(a, dim)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        # y_i = a_i - log sum e^a  =>  dL/da_i = g_i - softmax_i * sum_j g_j
        (out,) = ctx.saved_tensors
        return (g - np.exp(out) * g.sum(axis=ctx.dim, keepdims=True),)


class SoftmaxFunction(Function):
    @staticmethod
    def forward(ctx, a, dim=-1):
        out = np.exp(a - log_sum_exp(a, dim))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        # s_i = e^{a_i} / sum e^a  =>  dL/da_i = s_i (g_i - sum_j g_j s_j)
        (s,) = ctx.saved_tensors
        return (s * (g - (g * s).sum(axis=ctx.dim, keepdims=True)),)


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
