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
    """Max over each dilated window (padding never wins); returns (values, flat indices), one pass.

    Each plane is read as a flat row of h * w values, so a tap's position in it is also its index
    (i = row * w + col): window (oy, ox) covers rows y0, y0 + dh, ... < y1 and columns x0, x0 + dw,
    ... < x1, where y0, x0 are the first taps inside the input (the padding taps are skipped, not
    read), and the kernel keeps the running maximum with the index it came from. The update is a
    pair of selects, not a branch (on random or ReLU data a branch mispredicts often; the flat form
    with selects ran ~20 % faster than 2-D indexing with an if, measured back to back in one process).

    Ties keep the first maximum in row-major order; a NaN always wins (torch's rule
    ``v > best or isnan(v)``: the last NaN when there are several). A window whose dilated taps
    all fall in the padding gives -inf and index -1 (torch returns an index outside the plane there).
    """
    planes, h, w = x.shape
    flat = x.reshape(planes, h * w)
    out = np.empty((planes, out_h * out_w), dtype=x.dtype)
    where = np.empty((planes, out_h * out_w), dtype=np.int64)
    for p in prange(planes):
        plane = flat[p]
        o = 0  # the output cell oy * out_w + ox
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
                if y0 >= y1 or x0 >= x1:  # the taps all miss the input
                    out[p, o] = -np.inf
                    where[p, o] = -1
                else:  # as torch's start at -inf: the first tap wins unless beaten
                    arg = y0 * w + x0
                    best = plane[arg]
                    for row in range(y0 * w, y1 * w, dh * w):
                        for i in range(row + x0, row + x1, dw):
                            v = plane[i]
                            take = (v > best) | (v != v)  # v != v: v is NaN
                            best = v if take else best
                            arg = i if take else arg
                    out[p, o] = best
                    where[p, o] = arg
                o += 1
    return out.reshape(planes, out_h, out_w), where.reshape(planes, out_h, out_w)


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
    """out[p, index[p, m]] = values[p, m], zeros elsewhere (later writes win): max unpooling.

    Returns (out, bad): bad[p] counts the indices of plane p outside [0, size), which are skipped.
    """
    planes, count = values.shape
    out = np.zeros((planes, size), dtype=values.dtype)
    bad = np.zeros(planes, dtype=np.int64)
    for p in prange(planes):
        for m in range(count):
            i = index[p, m]
            if 0 <= i < size:
                out[p, i] = values[p, m]
            else:
                bad[p] += 1
    return out, bad


@njit(cache=True, parallel=True)
def gather(source, index):
    """out[p, m] = source[p, index[p, m]]: max unpooling's backward."""
    planes, count = index.shape
    out = np.empty((planes, count), dtype=source.dtype)
    for p in prange(planes):
        for m in range(count):
            out[p, m] = source[p, index[p, m]]
    return out


@njit(cache=True, parallel=True)
def window_mean(x, y0, y1, x0, x1, divisor, h, w, transpose):
    """Average and adaptive pooling: sums over the windows rows y0[i]:y1[i] x cols x0[j]:x1[j],
    divided by divisor[i, j]; or the transpose (backward), which spreads x[p, i, j] / divisor[i, j]
    evenly over window (i, j) of an (h, w) plane. Empty windows give 0."""
    planes = x.shape[0]
    out_h, out_w = y0.size, x0.size
    out = np.zeros((planes, h, w) if transpose else (planes, out_h, out_w), dtype=x.dtype)
    for p in prange(planes):
        for i in range(out_h):
            for j in range(out_w):
                if transpose:
                    share = x[p, i, j] / divisor[i, j]
                    for yy in range(y0[i], y1[i]):
                        for xx in range(x0[j], x1[j]):
                            out[p, yy, xx] += share
                else:
                    total = 0.0
                    for yy in range(y0[i], y1[i]):
                        for xx in range(x0[j], x1[j]):
                            total += x[p, yy, xx]
                    out[p, i, j] = total / divisor[i, j]
    return out
