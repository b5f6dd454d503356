"""Layer normalisation and GELU, shaped like ``torch.nn.functional`` (the transformer's two
elementwise-ish ops), each with a loop reference beside its fast path.

layer_norm normalises every vector of the last ``len(normalized_shape)`` axes on its own (one
token's features), unlike batch_norm which pools one channel over the batch.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor, as_array


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing ``axes``."""

    @staticmethod
    def forward(ctx, x, weight, bias, axes=(), eps=1e-5):
        mean = x.mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
        x_hat = (x - mean) * inv_std
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.axes = axes
        out = x_hat if weight is None else x_hat * weight
        out = out if bias is None else out + bias
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        # x_hat = (x - mu) inv_std with mu, var over the normalised axes of each vector:
        # dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)),  g_hat = g * weight
        x_hat, inv_std, weight = ctx.saved_tensors
        axes = ctx.axes
        batch_axes = tuple(range(g.ndim - len(axes)))
        grad_weight = (g * x_hat).sum(axis=batch_axes) if ctx.needs_input_grad[1] else None
        grad_bias = g.sum(axis=batch_axes) if ctx.needs_input_grad[2] else None
        g_hat = g if weight is None else g * weight
        grad_x = inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                            - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
        return grad_x, grad_weight, grad_bias


def _normalized_shape(input: Tensor, normalized_shape) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the trailing dims of the input, "
                         f"got input of shape {input.shape}")
    return shape


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.layer_norm: normalise over the trailing ``normalized_shape`` dims
    (biased variance), then scale by ``weight`` and shift by ``bias`` (both of that shape)."""
    shape = _normalized_shape(input, normalized_shape)
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and as_array(value).shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {as_array(value).shape}")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    return LayerNorm.apply(input, weight, bias, axes=axes, eps=float(eps))


def layer_norm_reference(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> np.ndarray:
    """The loop version on ndarrays: one vector (the trailing dims) at a time."""
    x = np.asarray(x, np.float64)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    vectors = x.reshape(-1, math.prod(shape))
    w = np.ones(vectors.shape[1]) if weight is None else np.asarray(weight, np.float64).ravel()
    b = np.zeros(vectors.shape[1]) if bias is None else np.asarray(bias, np.float64).ravel()
    out = np.empty_like(vectors)
    for row, v in enumerate(vectors):
        # mu = (1/D) sum_i v_i ; var = (1/D) sum_i (v_i - mu)^2 ; y_i = (v_i - mu)/sqrt(var + eps) w_i + b_i
        mu = sum(v) / len(v)
        var = sum((vi - mu) ** 2 for vi in v) / len(v)
        for i, vi in enumerate(v):
            out[row, i] = (vi - mu) / math.sqrt(var + eps) * w[i] + b[i]
    return out.reshape(x.shape)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu_parts(a: np.ndarray, approximate: str):
    """GELU(a) and its derivative: exact x Phi(x), or torch's tanh approximation."""
    from scipy.special import erf  # imported here so that `import minseg` stays light

    if approximate == "tanh":
        # 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
        t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a ** 3))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a ** 2)
        return 0.5 * a * (1 + t), 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * du
    # x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, Phi'(x) = exp(-x^2 / 2) / sqrt(2 pi)
    cdf = 0.5 * (1 + erf(a / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    return a * cdf, cdf + a * pdf


class GELU(Function):
    @staticmethod
    def forward(ctx, a, approximate="none"):
        out, slope = _gelu_parts(a, approximate)
        ctx.save_for_backward(slope.astype(a.dtype, copy=False))
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (slope,) = ctx.saved_tensors
        return (g * slope,)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """torch.nn.functional.gelu: x * Phi(x) (Phi the standard normal CDF), or with
    approximate='tanh' 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def gelu_reference(x, approximate: str = "none") -> np.ndarray:
    """One number at a time with math.erf / math.tanh."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for index, v in np.ndenumerate(x):
        if approximate == "tanh":
            out[index] = 0.5 * v * (1 + math.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v ** 3)))
        else:
            out[index] = v * 0.5 * (1 + math.erf(v / math.sqrt(2.0)))
    return out
