"""Where pooling windows sit: argument checks and output sizes of the pooling family, torch's rules.

Windows along one axis (the convolution's formula, see :mod:`minseg.functional.conv.geometry`):

    out = floor((size + 2 pad - dilation (kernel - 1) - 1) / stride) + 1

(ceil instead of floor in ceil mode, where a last window that would start in the right padding is
dropped). Shared by the fast path (:mod:`.ops`) and the loop references (:mod:`.reference`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...autograd import as_array
from ..checks import pair
from ..conv.geometry import conv_out_size


class PoolGeometry(NamedTuple):
    """Checked pooling arguments as (height, width) pairs, and the output grid."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """Windows along one axis: floor (or ceil) of (size + 2 pad - dilation (kernel - 1) - 1) / stride,
    plus one (the convolution's formula; ceil = floor after stride - 1 more cells); in ceil mode a
    last window that would start in the right padding is dropped."""
    out = conv_out_size(size + (stride - 1 if ceil_mode else 0), kernel, stride, pad, pad, dilation)
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pool_stride(op: str, kernel: tuple[int, int], stride) -> tuple[int, int]:
    """torch's default stride (the kernel size) for None or (), else a checked pair."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return pair(op, "stride", stride, 1)


def pool_geometry(op: str, shape, kernel_size, stride, padding, dilation=1, ceil_mode=False) -> PoolGeometry:
    """Checked pooling arguments for an input of ``shape`` (..., H, W), in torch's order of complaints."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = pool_stride(op, kernel, stride)
    pad = pair(op, "padding", padding, 0)
    dilation = pair(op, "dilation", dilation, 1)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding must be at most half of kernel_size, got padding={padding!r}, "
                         f"kernel_size={kernel_size!r}")
    out = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(shape[-2:], kernel, stride, pad, dilation))
    if min(out) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(shape[-2:])} is too small for kernel_size="
                         f"{kernel_size!r} (dilation {dilation}, padding {pad}): output would be {out}")
    return PoolGeometry(kernel, stride, pad, dilation, out)


def check_divisor_override(op: str, divisor_override) -> None:
    """avg_pool2d's divisor_override: None or a positive int."""
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or isinstance(divisor_override, bool) or divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int or None, got {divisor_override!r}")


def avg_windows(size, kernel, stride, pad, out):
    """Average pooling's windows along one axis: (first, stop) inside the input, and the length of
    the window inside the padded input (torch's count_include_pad divisor)."""
    start = np.arange(out) * stride - pad
    stop = np.minimum(start + kernel, size + pad)
    padded = stop - start
    first, last = np.maximum(start, 0), np.minimum(stop, size)
    return first, np.maximum(last, first), padded


def adaptive_output_size(op: str, shape, output_size) -> tuple[int, int]:
    """adaptive_avg_pool2d's ``output_size`` (int, pair, None keeps that axis) as a checked pair."""
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(items) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair (None keeps that axis), "
                         f"got {output_size!r}")
    size = pair(op, "output_size", tuple(n if s is None else s for s, n in zip(items, shape[-2:])), 1)
    if min(shape[-2:]) < 1:
        raise ValueError(f"{op}: input must have non-empty H and W, got shape {tuple(shape)}")
    return size


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive pooling's windows along one axis: [floor(o size / out), ceil((o + 1) size / out))."""
    o = np.arange(out)
    return (o * size) // out, -((-(o + 1) * size) // out)


def unpool_size(op, shape, kernel_size, stride, padding, output_size) -> tuple[int, int]:
    """max_unpool2d's output (H, W): torch's default (H - 1) stride - 2 pad + kernel, or output_size
    checked to lie strictly within one stride of it."""
    kernel = pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op, "stride", stride, 1)
    pad = pair(op, "padding", padding, 0)
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(shape[-2:], stride, pad, kernel))
    if output_size is None:
        return default
    given = tuple(output_size)
    if len(given) not in (2, len(shape)):
        raise ValueError(f"{op}: output_size must be (H, W) or the full shape, got {output_size!r}")
    size = pair(op, "output_size", given[-2:], 1)
    for axis, (n, d, s) in enumerate(zip(size, default, stride)):
        if not d - s < n < d + s:
            raise ValueError(f"{op}: output_size {output_size!r} is invalid: dim {axis} must be between "
                             f"{d - s} and {d + s} (exclusive)")
    return size


def check_unpool_indices(op: str, shape, indices) -> np.ndarray:
    """max_unpool2d's ``indices``: integers of the input's shape, as a contiguous int64 array."""
    index = as_array(indices)
    if index.shape != tuple(shape):
        raise ValueError(f"{op}: indices must have the input's shape {tuple(shape)}, got {index.shape}")
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (int64), got dtype {index.dtype}")
    return np.ascontiguousarray(index, dtype=np.int64)
