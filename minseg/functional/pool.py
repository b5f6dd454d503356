"""Pooling and unpooling with torch's semantics: max (with indices), average, adaptive average,
max unpooling (SegNet) and "bed of nails" unpooling.

Shapes: (N, C, H, W) or (C, H, W); the work happens on the (P, H, W) stack of planes in the
Numba kernels of :mod:`minseg.kernels.pool`. Indices are torch's flat per-plane positions
h * W + w in the unpadded input, so ``max_unpool2d`` can put every value back where it came from.
The plain-loop references that mirror the definitions are in
:mod:`minseg.functional.pool_reference`.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, as_array
from ..kernels import pool as kernels
from ..kernels._threads import threads_for
from ._utils import check_image, pair, plane_stack
from .conv_args import conv_out_size

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_unpool2d", "bed_of_nails_unpool2d"]


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """Windows along one axis: floor (or ceil) of (size + 2 pad - dilation (kernel - 1) - 1) / stride,
    plus one (the convolution's formula; ceil = floor after stride - 1 more cells); in ceil mode a
    last window that would start in the right padding is dropped."""
    out = conv_out_size(size + (stride - 1 if ceil_mode else 0), kernel, stride, pad, pad, dilation)
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _geometry(op, x, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    """Checked (kernel, stride, pad, dilation, out) pairs, in torch's order of complaints."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else pair(op, "stride", stride, 1)
    pad = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding must be at most half of kernel_size, got padding={padding!r}, "
                         f"kernel_size={kernel_size!r}")
    out = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(x.shape[-2:], kernel, stride, pad, dilation))
    if min(out) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(x.shape[-2:])} is too small for kernel_size="
                         f"{kernel_size!r} (dilation {dilation}, padding {pad}): output would be {out}")
    return kernel, stride, pad, dilation, out


class _Picked(Function):
    """An output whose values were picked from the input at flat per-plane ``indices`` (max pooling):
    the gradient of each pick goes back to the position it came from (scatter-add)."""

    @staticmethod
    def forward(ctx, x, values=None, indices=None):
        ctx.shape, ctx.indices = x.shape, indices
        return values

    @staticmethod
    def backward(ctx, g):
        planes = ctx.indices.reshape(-1, int(np.prod(ctx.indices.shape[-2:])))
        with threads_for(int(np.prod(ctx.shape))):
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
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _geometry(op, x, kernel_size, stride, padding,
                                                                  dilation, ceil_mode)
    with threads_for(x.size):
        values, where = kernels.max_pool2d(plane_stack(x.data), kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    shape = x.shape[:-2] + (oh, ow)
    out = _Picked.apply(x, values=values.reshape(shape), indices=where.reshape(shape))
    return (out, Tensor(where.reshape(shape))) if return_indices else out


class _WindowMean(Function):
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
        with threads_for(int(np.prod(ctx.shape))):
            back = kernels.window_mean(plane_stack(g), y0, y1, x0, x1, divisor.astype(g.dtype), h, w, True)
        return (back.reshape(ctx.shape),)


def _avg_windows(size, kernel, stride, pad, out):
    """Average pooling's windows along one axis: (first, stop) inside the input, and the length of
    the window inside the padded input (torch's count_include_pad divisor)."""
    start = np.arange(out) * stride - pad
    stop = np.minimum(start + kernel, size + pad)
    padded = stop - start
    first, last = np.maximum(start, 0), np.minimum(stop, size)
    return first, np.maximum(last, first), padded


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """Mean over windows (torch.nn.functional.avg_pool2d). The divisor is the window's area counting
    zero padding (count_include_pad=True) or only the input cells it covers, or divisor_override."""
    op = "avg_pool2d"
    x = check_image(op, input)
    kernel, stride, pad, _, out = _geometry(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or isinstance(divisor_override, bool) or divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int or None, got {divisor_override!r}")
    (y0, y1, py), (x0, x1, px) = (_avg_windows(*axis) for axis in zip(x.shape[-2:], kernel, stride, pad, out))
    if divisor_override is not None:
        divisor = np.full(out, float(divisor_override))
    elif count_include_pad:
        divisor = np.outer(py, px).astype(np.float64)
    else:
        divisor = np.maximum(np.outer(y1 - y0, x1 - x0), 1).astype(np.float64)
    return _WindowMean.apply(x, windows=((y0, y1), (x0, x1), divisor))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed ``output_size`` (int, pair, or None to keep that axis): output cell
    o averages input cells floor(o in / out) .. ceil((o + 1) in / out) - 1 (PSPNet's pyramid bins)."""
    op = "adaptive_avg_pool2d"
    x = check_image(op, input)
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(items) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair (None keeps that axis), "
                         f"got {output_size!r}")
    size = pair(op, "output_size", tuple(n if s is None else s for s, n in zip(items, x.shape[-2:])), 1)
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"{op}: input must have non-empty H and W, got shape {x.shape}")
    (y0, y1), (x0, x1) = (adaptive_windows(n, o) for n, o in zip(x.shape[-2:], size))
    return _WindowMean.apply(x, windows=((y0, y1), (x0, x1), np.outer(y1 - y0, x1 - x0).astype(np.float64)))


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive pooling's windows along one axis: [floor(o size / out), ceil((o + 1) size / out))."""
    o = np.arange(out)
    return (o * size) // out, -((-(o + 1) * size) // out)


def _unpool_size(op, x, kernel, stride, pad, output_size) -> tuple[int, int]:
    """torch's default (H - 1) stride - 2 pad + kernel, or output_size checked to lie strictly
    within one stride of it."""
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[-2:], stride, pad, kernel))
    if output_size is None:
        return default
    given = tuple(output_size)
    if len(given) not in (2, x.ndim):
        raise ValueError(f"{op}: output_size must be (H, W) or the full shape, got {output_size!r}")
    size = pair(op, "output_size", given[-2:], 1)
    for axis, (n, d, s) in enumerate(zip(size, default, stride)):
        if not d - s < n < d + s:
            raise ValueError(f"{op}: output_size {output_size!r} is invalid: dim {axis} must be between "
                             f"{d - s} and {d + s} (exclusive)")
    return size


class _Unpool(Function):
    """Values placed at flat per-plane ``indices`` of zero planes of size ``size``; backward gathers."""

    @staticmethod
    def forward(ctx, x, indices=None, size=None):
        ctx.shape, ctx.indices = x.shape, indices
        flat = indices.reshape(-1, int(np.prod(x.shape[-2:])))
        with threads_for(flat.shape[0] * size[0] * size[1]):
            out, bad = kernels.scatter(np.ascontiguousarray(x).reshape(flat.shape), flat, size[0] * size[1])
        if bad.any():
            wrong = flat[(flat < 0) | (flat >= size[0] * size[1])][0]
            raise ValueError(f"max_unpool2d: indices must lie in [0, {size[0] * size[1]}) for output size "
                             f"{tuple(size)}, found {wrong}")
        return out.reshape(x.shape[:-2] + tuple(size))

    @staticmethod
    def backward(ctx, g):
        flat = ctx.indices.reshape(-1, int(np.prod(ctx.shape[-2:])))
        planes = np.ascontiguousarray(g).reshape(flat.shape[0], -1)
        with threads_for(planes.size):
            return (kernels.gather(planes, flat).reshape(ctx.shape),)


def max_unpool2d(input: Tensor, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """SegNet's unpooling: every value goes back to the position ``indices`` remembers (from
    ``max_pool2d(..., return_indices=True)``), zeros elsewhere (torch.nn.functional.max_unpool2d)."""
    op = "max_unpool2d"
    x = check_image(op, input)
    index = as_array(indices)
    if index.shape != x.shape:
        raise ValueError(f"{op}: indices must have the input's shape {x.shape}, got {index.shape}")
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (int64), got dtype {index.dtype}")
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op, "stride", stride, 1)
    size = _unpool_size(op, x, kernel, stride, pair(op, "padding", padding, 0), output_size)
    return _Unpool.apply(x, indices=np.ascontiguousarray(index, dtype=np.int64), size=size)


class _BedOfNails(Function):
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
    return _BedOfNails.apply(x, factor=pair(op, "scale_factor", scale_factor, 1))
