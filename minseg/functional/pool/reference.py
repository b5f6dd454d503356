"""Plain-loop pooling and unpooling that read like their definitions (slow; for teaching and tests).

Each reference pads the input explicitly (with -inf for max, 0 for average) and then reads one
window per output cell, so the padding rules are visible instead of folded into index arithmetic.
Each takes the op's own arguments (and checks them with the same :mod:`.geometry` as the fast path)
and returns ndarrays. The fast Numba versions are in :mod:`.kernels`; the tests tie the two together.
"""
from __future__ import annotations

import math

import numpy as np

from ..checks import check_image
from .geometry import adaptive_output_size, check_divisor_override, check_unpool_indices, pool_geometry, unpool_size


def _batch(op: str, input) -> tuple[np.ndarray, tuple]:
    """The input as an (N, C, H, W) ndarray, and the shape to give the result's leading axes."""
    x = check_image(op, input).data
    return (x, x.shape[:-2]) if x.ndim == 4 else (x[None], x.shape[:-2])


def _padded(x: np.ndarray, pad: tuple[int, int], extra: tuple[int, int], value: float) -> np.ndarray:
    """x with ``pad`` cells of ``value`` on each side, plus ``extra`` more at the bottom/right (room for
    ceil-mode windows that hang over the edge)."""
    (ph, pw), (eh, ew) = pad, extra
    return np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), constant_values=value)


def max_pool2d_reference(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                         return_indices=False):
    """max_pool2d by its definition: values (and, with return_indices, torch's flat indices).

    out[n, c, Y, X] = max_{a, b} xpad[n, c, Y sh + a dh, X sw + b dw], a < kh, b < kw;
    the index is the position (row * W + col) of the first maximum in the unpadded input.
    """
    op = "max_pool2d"
    x, lead = _batch(op, input)
    geom = pool_geometry(op, x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geom
    xp = _padded(x, (ph, pw), (kh * dh + sh, kw * dw + sw), -np.inf)
    values = np.zeros((n, c, oh, ow), dtype=x.dtype)
    indices = np.zeros((n, c, oh, ow), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for Y in range(oh):
                for X in range(ow):
                    best, where = -np.inf, None
                    for a in range(kh):
                        for e in range(kw):
                            r, col = Y * sh + a * dh, X * sw + e * dw  # padded coordinates
                            i, j = r - ph, col - pw  # input coordinates
                            if not (0 <= i < h and 0 <= j < w):
                                continue  # a padding cell (-inf) never wins
                            if where is None or xp[b, ch, r, col] > best:
                                best, where = xp[b, ch, r, col], i * w + j
                    # a window whose taps all land in the padding: -inf, index -1
                    values[b, ch, Y, X], indices[b, ch, Y, X] = best, -1 if where is None else where
    values, indices = values.reshape(lead + (oh, ow)), indices.reshape(lead + (oh, ow))
    return (values, indices) if return_indices else values


def avg_pool2d_reference(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                         divisor_override=None):
    """avg_pool2d by its definition, one window at a time.

    out[n, c, Y, X] = sum of the window over the zero-padded input / divisor, where the divisor is
    divisor_override, or the number of window cells inside the padded input (count_include_pad),
    or the number inside the real input.
    """
    op = "avg_pool2d"
    x, lead = _batch(op, input)
    geom = pool_geometry(op, x.shape, kernel_size, stride, padding, 1, ceil_mode)
    check_divisor_override(op, divisor_override)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = geom
    xp = _padded(x, (ph, pw), (kh + sh, kw + sw), 0.0)
    inside = _padded(np.ones((1, 1, h, w)), (ph, pw), (kh + sh, kw + sw), 0.0)[0, 0]  # 1 on the real input
    in_padded = _padded(np.ones((1, 1, h + 2 * ph, w + 2 * pw)), (0, 0), (kh + sh, kw + sw), 0.0)[0, 0]
    out = np.zeros((n, c, oh, ow))
    for Y in range(oh):
        for X in range(ow):
            rows, cols = slice(Y * sh, Y * sh + kh), slice(X * sw, X * sw + kw)
            count = in_padded[rows, cols].sum() if count_include_pad else inside[rows, cols].sum()
            divisor = divisor_override or count
            if inside[rows, cols].sum() > 0:
                out[:, :, Y, X] = xp[:, :, rows, cols].sum(axis=(2, 3)) / divisor
    return out.astype(x.dtype).reshape(lead + (oh, ow))


def adaptive_avg_pool2d_reference(input, output_size):
    """Adaptive average pooling: out[Y, X] = mean of rows floor(Y H / oh) .. ceil((Y + 1) H / oh) - 1
    and the same for columns."""
    op = "adaptive_avg_pool2d"
    x, lead = _batch(op, input)
    oh, ow = adaptive_output_size(op, x.shape, output_size)
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow))
    for Y in range(oh):
        r0, r1 = math.floor(Y * h / oh), math.ceil((Y + 1) * h / oh)
        for X in range(ow):
            c0, c1 = math.floor(X * w / ow), math.ceil((X + 1) * w / ow)
            out[:, :, Y, X] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out.astype(x.dtype).reshape(lead + (oh, ow))


def max_unpool2d_reference(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Max unpooling: a zero output with out.flat_plane[indices[..., Y, X]] = input[..., Y, X]."""
    op = "max_unpool2d"
    x, lead = _batch(op, input)
    index = check_unpool_indices(op, lead + x.shape[-2:], indices).reshape(x.shape)
    size = unpool_size(op, x.shape, kernel_size, stride, padding, output_size)
    n, c, h, w = x.shape
    out = np.zeros((n, c, size[0] * size[1]), dtype=x.dtype)
    for b in range(n):
        for ch in range(c):
            for Y in range(h):
                for X in range(w):
                    if not 0 <= index[b, ch, Y, X] < size[0] * size[1]:
                        raise ValueError(f"{op}: indices must lie in [0, {size[0] * size[1]}) for output size "
                                         f"{tuple(size)}, found {index[b, ch, Y, X]}")
                    out[b, ch, index[b, ch, Y, X]] = x[b, ch, Y, X]
    return out.reshape(lead + tuple(size))
