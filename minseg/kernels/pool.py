"""Numba kernels for pooling and unpooling over (P, H, W) stacks of planes (P = N * C).

Indices are torch's: the flat position h * W + w of a value inside its (unpadded) input plane.
Every kernel runs its planes in parallel; a plane is owned by one thread, so the scatter-adds of
the backward passes need no atomics.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def max_pool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w):
    """Max over each dilated window (padding never wins); returns (values, flat indices).

    Ties keep the first maximum in row-major order; a NaN always wins (torch's rule, the last
    NaN when there are several). A window whose dilated taps all fall in the padding gives -inf
    and index -1 (torch returns an index outside the plane there).
    """
    planes, h, w = x.shape
    out = np.empty((planes, out_h, out_w), dtype=x.dtype)
    where = np.empty((planes, out_h, out_w), dtype=np.int64)
    for p in prange(planes):
        for oy in range(out_h):
            y0 = oy * sh - ph
            y1 = min(y0 + (kh - 1) * dh + 1, h)
            while y0 < 0:
                y0 += dh
            for ox in range(out_w):
                x0 = ox * sw - pw
                x1 = min(x0 + (kw - 1) * dw + 1, w)
                while x0 < 0:
                    x0 += dw
                best = -np.inf
                arg = y0 * w + x0 if y0 < y1 and x0 < x1 else -1  # -1: the taps all miss the input
                for yy in range(y0, y1, dh):
                    for xx in range(x0, x1, dw):
                        v = x[p, yy, xx]
                        if v > best or np.isnan(v):
                            best = v
                            arg = yy * w + xx
                out[p, oy, ox] = best
                where[p, oy, ox] = arg
    return out, where


@njit(cache=True, parallel=True)
def scatter_add(values, index, size):
    """out[p, index[p, m]] += values[p, m]: max pooling's backward (values: (P, M), out: (P, size)).
    Negative indices (windows that saw only padding) receive nothing."""
    planes, count = values.shape
    out = np.zeros((planes, size), dtype=values.dtype)
    for p in prange(planes):
        for m in range(count):
            if index[p, m] >= 0:
                out[p, index[p, m]] += values[p, m]
    return out


@njit(cache=True, parallel=True)
def scatter(values, index, size):
    """out[p, index[p, m]] = values[p, m], zeros elsewhere (later writes win): max unpooling."""
    planes, count = values.shape
    out = np.zeros((planes, size), dtype=values.dtype)
    for p in prange(planes):
        for m in range(count):
            out[p, index[p, m]] = values[p, m]
    return out


@njit(cache=True, parallel=True)
def gather(source, index):
    """out[p, m] = source[p, index[p, m]]: max unpooling's backward."""
    planes, count = index.shape
    out = np.empty((planes, count), dtype=source.dtype)
    for p in prange(planes):
        for m in range(count):
            out[p, m] = source[p, index[p, m]]
    return out


@njit(cache=True)
def avg_window(o, stride, pad, kernel, size):
    """(first, stop, padded length) of average-pooling window o along one axis (torch's rule:
    the padded length counts padding cells but not cells past the padding)."""
    start = o * stride - pad
    stop = min(start + kernel, size + pad)
    padded = stop - start
    return max(start, 0), min(stop, size), padded


@njit(cache=True)
def _avg_divisor(y0, y1, py, x0, x1, px, count_include_pad, divisor_override):
    if divisor_override > 0:
        return divisor_override
    if count_include_pad:
        return py * px
    return (y1 - y0) * (x1 - x0)


@njit(cache=True, parallel=True)
def avg_pool2d(x, kh, kw, sh, sw, ph, pw, out_h, out_w, count_include_pad, divisor_override):
    """Mean over each window (divisor: padded window area, valid area, or divisor_override > 0)."""
    planes, h, w = x.shape
    out = np.zeros((planes, out_h, out_w), dtype=x.dtype)
    for p in prange(planes):
        for oy in range(out_h):
            y0, y1, py = avg_window(oy, sh, ph, kh, h)
            for ox in range(out_w):
                x0, x1, px = avg_window(ox, sw, pw, kw, w)
                if y0 >= y1 or x0 >= x1:
                    continue
                total = x[p, y0, x0] * 0
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        total += x[p, yy, xx]
                out[p, oy, ox] = total / _avg_divisor(y0, y1, py, x0, x1, px, count_include_pad, divisor_override)
    return out


@njit(cache=True, parallel=True)
def avg_pool2d_backward(g, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override):
    """Spread each output gradient evenly (divided by the same divisor) over its window."""
    planes, out_h, out_w = g.shape
    out = np.zeros((planes, h, w), dtype=g.dtype)
    for p in prange(planes):
        for oy in range(out_h):
            y0, y1, py = avg_window(oy, sh, ph, kh, h)
            for ox in range(out_w):
                x0, x1, px = avg_window(ox, sw, pw, kw, w)
                if y0 >= y1 or x0 >= x1:
                    continue
                share = g[p, oy, ox] / _avg_divisor(y0, y1, py, x0, x1, px, count_include_pad, divisor_override)
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        out[p, yy, xx] += share
    return out


@njit(cache=True)
def adaptive_bounds(o, in_size, out_size):
    """Window o of adaptive pooling: [floor(o * in / out), ceil((o + 1) * in / out))."""
    return (o * in_size) // out_size, ((o + 1) * in_size + out_size - 1) // out_size


@njit(cache=True, parallel=True)
def adaptive_avg_pool2d(x, out_h, out_w):
    """Mean over adaptive windows (they may overlap by one cell when in / out is not an integer)."""
    planes, h, w = x.shape
    out = np.empty((planes, out_h, out_w), dtype=x.dtype)
    for p in prange(planes):
        for oy in range(out_h):
            y0, y1 = adaptive_bounds(oy, h, out_h)
            for ox in range(out_w):
                x0, x1 = adaptive_bounds(ox, w, out_w)
                total = x[p, y0, x0] * 0
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        total += x[p, yy, xx]
                out[p, oy, ox] = total / ((y1 - y0) * (x1 - x0))
    return out


@njit(cache=True, parallel=True)
def adaptive_avg_pool2d_backward(g, h, w):
    """Spread each output gradient evenly over its adaptive window."""
    planes, out_h, out_w = g.shape
    out = np.zeros((planes, h, w), dtype=g.dtype)
    for p in prange(planes):
        for oy in range(out_h):
            y0, y1 = adaptive_bounds(oy, h, out_h)
            for ox in range(out_w):
                x0, x1 = adaptive_bounds(ox, w, out_w)
                share = g[p, oy, ox] / ((y1 - y0) * (x1 - x0))
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        out[p, yy, xx] += share
    return out
