"""batch_norm and dropout (see the package docstring): the public functions and their autograd Functions."""
from __future__ import annotations

import numpy as np

from ...autograd import Function, Tensor, as_array
from ... import random as _random
from ...lazy import lazy_module

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)


class BatchNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), by the Numba kernels of
    :mod:`.kernels`; with batch statistics the backward also carries the mean's and variance's
    dependence on x:

        dx = inv_std * w * (g - mean(g) - x_hat * mean(g * x_hat)),   dw = sum g * x_hat,   db = sum g

    (means and sums over every axis but 1). Only x_hat = (x - mean) * inv_std is kept for backward,
    and only when a gradient is wanted: under no_grad() the forward writes y and nothing else.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, var=None, eps=1e-5, batch_stats=False):
        x3 = channel_rows(x)
        inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        keep = bool(ctx.needs_grad)
        x_hat = np.empty_like(x3) if keep else np.empty((0, 0, 0), x.dtype)
        y = np.empty_like(x3)
        kernels.normalise(x3, mean, inv_std, _per_channel(weight, 1, x), _per_channel(bias, 0, x), x_hat, y, keep)
        ctx.save_for_backward(x_hat if keep else None, inv_std, weight)
        ctx.batch_stats = batch_stats
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        g3 = np.ascontiguousarray(g).reshape(x_hat.shape)
        dx = np.empty_like(g3) if ctx.needs_input_grad[0] else np.empty((0, 0, 0), g.dtype)
        sum_g, sum_gx = np.empty(g3.shape[1]), np.empty(g3.shape[1])
        kernels.normalise_grad(g3, x_hat, inv_std, _per_channel(weight, 1, g), ctx.batch_stats, dx, sum_g, sum_gx)
        grad_weight = sum_gx.astype(g.dtype) if ctx.needs_input_grad[1] else None
        grad_bias = sum_g.astype(g.dtype) if ctx.needs_input_grad[2] else None
        return (dx.reshape(g.shape) if ctx.needs_input_grad[0] else None), grad_weight, grad_bias


def channel_rows(x: np.ndarray) -> np.ndarray:
    """x (N, C, ...) as a C-contiguous (N, C, L) array (a view where x already is contiguous)."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


def _per_channel(param, default: float, like: np.ndarray) -> np.ndarray:
    """A batch-norm weight or bias as a (C,) array; ``default`` (1 or 0) everywhere when it is None."""
    if param is None:
        return np.full(like.shape[1], default, dtype=like.dtype)
    return np.ascontiguousarray(param)


def batch_norm_reference(x: np.ndarray, mean, var, weight=None, bias=None, eps: float = 1e-5) -> np.ndarray:
    """The loop the kernels implement, for tests: per channel c, y = (x - mean_c) / sqrt(var_c + eps)
    * w_c + b_c over every (n, i, j), in float64."""
    y = np.empty(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            w = 1.0 if weight is None else float(weight[c])
            b = 0.0 if bias is None else float(bias[c])
            y[n, c] = (x[n, c] - float(mean[c])) / np.sqrt(float(var[c]) + eps) * w + b
    return y


def batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.batch_norm. In training, normalise by the batch's statistics and update
    ``running_mean`` / ``running_var`` in place: r <- (1 - momentum) r + momentum * stat, with the
    unbiased variance for ``running_var`` (as torch); in eval, normalise by the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: input must be at least 2-D (N, C, ...), got shape {input.shape}")
    channels = input.shape[1]
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
        mean, var = np.empty(channels), np.empty(channels)
        kernels.channel_moments(channel_rows(x), mean, var)  # float64 sums (NumPy's mean + var: 4 passes)
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
                                   eps=eps, batch_stats=training)


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
