"""Batch normalisation and dropout, with torch's signatures and running-statistics rule."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, as_array
from .. import random as _random


class BatchNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over every axis but 1."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, var=None, eps=1e-5, axes=(), batch_stats=False):
        shape = [1] * x.ndim
        shape[1] = -1
        inv_std = (1.0 / np.sqrt(var + eps)).reshape(shape).astype(x.dtype)
        x_hat = x - mean.reshape(shape)
        x_hat *= inv_std  # in place: the values of (x - mean) * inv_std, without a second array
        w = None if weight is None else weight.reshape(shape)
        ctx.save_for_backward(x_hat, inv_std, w)
        ctx.axes, ctx.batch_stats = axes, batch_stats
        return scale_shift(x_hat, w, None if bias is None else bias.reshape(shape), in_place=not ctx.needs_grad)

    @staticmethod
    def backward(ctx, g):
        x_hat, inv_std, w = ctx.saved_tensors
        axes = ctx.axes
        grad_weight = (g * x_hat).sum(axis=axes) if ctx.needs_input_grad[1] else None
        grad_bias = g.sum(axis=axes) if ctx.needs_input_grad[2] else None
        g_hat = g if w is None else g * w
        if ctx.batch_stats:
            # the mean and variance depend on x too:
            # dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))
            grad_x = inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True)
                                - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))
        else:
            grad_x = g_hat * inv_std
        return grad_x, grad_weight, grad_bias


def scale_shift(x_hat: np.ndarray, weight, bias, in_place: bool) -> np.ndarray:
    """x_hat * weight + bias (either may be None) in x_hat's dtype, with as few arrays as the graph allows.

    Recorded for backward, x_hat is kept, so the result is one new array (multiplied into, then the bias
    added in place). Not recorded (no_grad(), or nothing requires grad), nothing else holds x_hat and the
    result is computed in its own memory: one array for the whole batch norm instead of four, which is what
    bounds a deep network's inference memory. The operations and their order are the same either way, so
    the values are bit-for-bit equal. A weight or bias of a wider dtype keeps the plain formula, rounded
    once at the end (in place would round after each step).
    """
    if any(p is not None and p.dtype != x_hat.dtype for p in (weight, bias)):
        out = x_hat if weight is None else x_hat * weight
        return (out if bias is None else out + bias).astype(x_hat.dtype, copy=False)
    out = x_hat if in_place else None
    if weight is not None:
        out = np.multiply(x_hat, weight, out=out)
    if bias is not None:
        out = np.add(x_hat if out is None else out, bias, out=out)
    return x_hat if out is None else out


def batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.batch_norm. In training, normalise by the batch's statistics and update
    ``running_mean`` / ``running_var`` in place: r <- (1 - momentum) r + momentum * stat, with the
    unbiased variance for ``running_var`` (as torch); in eval, normalise by the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: input must be at least 2-D (N, C, ...), got shape {input.shape}")
    channels = input.shape[1]
    axes = tuple(i for i in range(input.ndim) if i != 1)
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is not None and as_array(value).shape != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},), got "
                             f"{as_array(value).shape}")
    x = input.data
    if training:
        count = x.size // channels
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {input.shape}")
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        for buffer, stat in ((running_mean, mean), (running_var, var * count / (count - 1))):
            if buffer is not None:
                array = as_array(buffer)  # updated in place, as torch updates its buffers
                array *= 1 - momentum
                array += momentum * stat
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        mean, var = as_array(running_mean), as_array(running_var)
    return BatchNormFunction.apply(input, weight, bias, mean=mean.astype(x.dtype), var=var.astype(x.dtype),
                           eps=eps, axes=axes, batch_stats=training)


class DropoutFunction(Function):
    @staticmethod
    def forward(ctx, a, mask=None):
        ctx.save_for_backward(mask)
        return a * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return (g * mask,)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted dropout).

    The mask comes from ``generator`` (a numpy Generator) or from minseg's global generator, which
    ``minseg.manual_seed`` seeds, so a run can be repeated exactly.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    rng = generator if generator is not None else _random.default_generator()
    keep = rng.random(input.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return DropoutFunction.apply(input, mask=(keep * scale).astype(input.dtype))
