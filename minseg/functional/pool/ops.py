"""Pooling and unpooling with torch's semantics: max (with indices), average, adaptive average,
max unpooling (SegNet) and "bed of nails" unpooling.

Shapes: (N, C, H, W) or (C, H, W); the work happens on the (P, H, W) stack of planes in the
Numba kernels of :mod:`.kernels`; the window arithmetic is in :mod:`.geometry`. Indices are
torch's flat per-plane positions h * W + w in the unpadded input, so ``max_unpool2d`` can put every
value back where it came from. The plain-loop references that mirror the definitions are in
:mod:`.reference`.
"""
from __future__ import annotations

import math

import numpy as np

from ...autograd import Function, Tensor
from ...lazy import lazy_module
from ...threads import threads_for
from ..checks import check_channels, check_image, pair, plane_stack
from .geometry import (adaptive_output_size, adaptive_windows, avg_windows, check_divisor_override,
                       check_unpool_indices, pool_geometry, unpool_size)

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_unpool2d", "bed_of_nails_unpool2d"]


class PickedFunction(Function):
    """An output whose values were picked from the input at flat per-plane ``indices`` (max pooling):
    the gradient of each pick goes back to the position it came from (scatter-add)."""

    @staticmethod
    def forward(ctx, x, values=None, indices=None):
        ctx.shape, ctx.indices = x.shape, indices
        return values

    @staticmethod
    def backward(ctx, g):
        planes = ctx.indices.reshape(-1, math.prod(ctx.indices.shape[-2:]))
        with threads_for(math.prod(ctx.shape)):
            back = kernels.scatter_add(np.ascontiguousarray(g).reshape(planes.shape), planes,
                                       ctx.shape[-2] * ctx.shape[-1])
        return (back.reshape(ctx.shape),)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Max over (dilated) windows; padding is -inf, so it never wins (torch.nn.functional.max_pool2d).

    With ``return_indices`` also returns an int64 Tensor of torch's flat per-plane indices h * W + w,
    the input to :func:`max_unpool2d`.
    """
    op = "max_pool2d"
    x = check_image(op, input)
    check_channels(op, x)
    geom = pool_geometry(op, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    with threads_for(x.size):
        values, where = kernels.max_pool2d(plane_stack(x.data), *geom.kernel, *geom.stride, *geom.padding,
                                           *geom.dilation, *geom.out)
    shape = x.shape[:-2] + geom.out
    out = PickedFunction.apply(x, values=values.reshape(shape), indices=where.reshape(shape))
    return (out, Tensor(where.reshape(shape))) if return_indices else out


class WindowMeanFunction(Function):
    """Mean over rectangular windows given per axis (first, stop) and a divisor per output cell."""

    @staticmethod
    def forward(ctx, x, windows=None):
        ctx.shape, ctx.windows = x.shape, windows
        (y0, y1), (x0, x1), divisor = windows
        with threads_for(x.size):
            out = kernels.window_mean(plane_stack(x), y0, y1, x0, x1, divisor.astype(x.dtype), 0, 0, False)
        return out.reshape(x.shape[:-2] + divisor.shape)

    @staticmethod
    def backward(ctx, g):
        (y0, y1), (x0, x1), divisor = ctx.windows
        h, w = ctx.shape[-2:]
        with threads_for(math.prod(ctx.shape)):
            back = kernels.window_mean(plane_stack(g), y0, y1, x0, x1, divisor.astype(g.dtype), h, w, True)
        return (back.reshape(ctx.shape),)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over windows (torch.nn.functional.avg_pool2d). The divisor is the window's area counting
    zero padding (count_include_pad=True) or only the input cells it covers, or divisor_override."""
    op = "avg_pool2d"
    x = check_image(op, input)
    check_channels(op, x)
    geom = pool_geometry(op, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    check_divisor_override(op, divisor_override)
    out = geom.out
    (y0, y1, py), (x0, x1, px) = (avg_windows(*axis) for axis in zip(x.shape[-2:], geom.kernel, geom.stride,
                                                                     geom.padding, out))
    if divisor_override is not None:
        divisor = np.full(out, float(divisor_override))
    elif count_include_pad:
        divisor = np.outer(py, px).astype(np.float64)
    else:
        divisor = np.maximum(np.outer(y1 - y0, x1 - x0), 1).astype(np.float64)
    return WindowMeanFunction.apply(x, windows=((y0, y1), (x0, x1), divisor))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed ``output_size`` (int, pair, or None to keep that axis): output cell
    o averages input cells floor(o in / out) .. ceil((o + 1) in / out) - 1 (PSPNet's pyramid bins)."""
    op = "adaptive_avg_pool2d"
    x = check_image(op, input)
    size = adaptive_output_size(op, x.shape, output_size)
    (y0, y1), (x0, x1) = (adaptive_windows(n, o) for n, o in zip(x.shape[-2:], size))
    return WindowMeanFunction.apply(x, windows=((y0, y1), (x0, x1), np.outer(y1 - y0, x1 - x0).astype(np.float64)))


class MaxUnpoolFunction(Function):
    """Values placed at flat per-plane ``indices`` of zero planes of size ``size``; backward gathers."""

    @staticmethod
    def forward(ctx, x, indices=None, size=None):
        ctx.shape, ctx.indices = x.shape, indices
        flat = indices.reshape(-1, math.prod(x.shape[-2:]))
        with threads_for(flat.shape[0] * size[0] * size[1]):
            out, bad = kernels.scatter(np.ascontiguousarray(x).reshape(flat.shape), flat, size[0] * size[1])
        if bad.any():
            wrong = flat[(flat < 0) | (flat >= size[0] * size[1])][0]
            raise ValueError(f"max_unpool2d: indices must lie in [0, {size[0] * size[1]}) for output size "
                             f"{tuple(size)}, found {wrong}")
        return out.reshape(x.shape[:-2] + tuple(size))

    @staticmethod
    def backward(ctx, g):
        flat = ctx.indices.reshape(-1, math.prod(ctx.shape[-2:]))
        planes = np.ascontiguousarray(g).reshape(flat.shape[0], g.shape[-2] * g.shape[-1])
        with threads_for(planes.size):
            return (kernels.gather(planes, flat).reshape(ctx.shape),)


def max_unpool2d(input: Tensor, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """SegNet's unpooling: every value goes back to the position ``indices`` remembers (from
    ``max_pool2d(..., return_indices=True)``), zeros elsewhere (torch.nn.functional.max_unpool2d)."""
    op = "max_unpool2d"
    x = check_image(op, input)
    check_channels(op, x)
    index = check_unpool_indices(op, x.shape, indices)
    size = unpool_size(op, x.shape, kernel_size, stride, padding, output_size)
    return MaxUnpoolFunction.apply(x, indices=index, size=size)


class BedOfNailsFunction(Function):
    @staticmethod
    def forward(ctx, x, factor=None):
        ctx.factor = factor
        out = np.zeros(x.shape[:-2] + (x.shape[-2] * factor[0], x.shape[-1] * factor[1]), dtype=x.dtype)
        out[..., ::factor[0], ::factor[1]] = x
        return out

    @staticmethod
    def backward(ctx, g):
        return (np.ascontiguousarray(g[..., ::ctx.factor[0], ::ctx.factor[1]]),)


def bed_of_nails_unpool2d(input: Tensor, scale_factor=2) -> Tensor:
    """The simplest unpooling: each value at the top-left corner of its scale_factor x scale_factor
    block, zeros elsewhere ("bed of nails"); equals max_unpool2d with every index at a block's corner."""
    op = "bed_of_nails_unpool2d"
    x = check_image(op, input)
    return BedOfNailsFunction.apply(x, factor=pair(op, "scale_factor", scale_factor, 1))
