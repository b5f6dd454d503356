"""Numba kernels for separable resampling: one axis at a time, through a table of taps.

Every interpolation mode (nearest, bilinear, bicubic) is, along one axis, a sparse linear map:
output position o reads ``T`` input positions ``index[o, t]`` with weights ``weight[o, t]``
(T = 1, 2 or 4). A 2-D resize is that map along the width, then along the height (or the other
way round), so four kernels cover every mode in forward and backward:

- ``along_last`` / ``along_last_t``: the map (and its transpose) on axis 2 of a (P, R, I) array;
- ``along_middle`` / ``along_middle_t``: the same on axis 1 of a (P, I, C) array.

The transposes scatter-add, which is race-free because each plane p is owned by one thread.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def along_last(x, index, weight):
    """out[p, r, o] = sum_t weight[o, t] * x[p, r, index[o, t]]."""
    planes, rows, _ = x.shape
    size, taps = index.shape
    out = np.empty((planes, rows, size), dtype=x.dtype)
    for p in prange(planes):
        for r in range(rows):
            for o in range(size):
                acc = weight[o, 0] * x[p, r, index[o, 0]]
                for t in range(1, taps):
                    acc += weight[o, t] * x[p, r, index[o, t]]
                out[p, r, o] = acc
    return out


@njit(cache=True, parallel=True)
def along_last_t(g, index, weight, in_size):
    """The transpose of ``along_last``: gx[p, r, index[o, t]] += weight[o, t] * g[p, r, o]."""
    planes, rows, size = g.shape
    taps = index.shape[1]
    out = np.zeros((planes, rows, in_size), dtype=g.dtype)
    for p in prange(planes):
        for r in range(rows):
            for o in range(size):
                value = g[p, r, o]
                for t in range(taps):
                    out[p, r, index[o, t]] += weight[o, t] * value
    return out


@njit(cache=True, parallel=True)
def along_middle(x, index, weight):
    """out[p, o, c] = sum_t weight[o, t] * x[p, index[o, t], c] (whole rows at a time)."""
    planes, _, cols = x.shape
    size, taps = index.shape
    out = np.zeros((planes, size, cols), dtype=x.dtype)
    for p in prange(planes):
        for o in range(size):
            for t in range(taps):
                w = weight[o, t]
                i = index[o, t]
                for c in range(cols):
                    out[p, o, c] += w * x[p, i, c]
    return out


@njit(cache=True, parallel=True)
def along_middle_t(g, index, weight, in_size):
    """The transpose of ``along_middle``: gx[p, index[o, t], c] += weight[o, t] * g[p, o, c]."""
    planes, size, cols = g.shape
    taps = index.shape[1]
    out = np.zeros((planes, in_size, cols), dtype=g.dtype)
    for p in prange(planes):
        for o in range(size):
            for t in range(taps):
                w = weight[o, t]
                i = index[o, t]
                for c in range(cols):
                    out[p, i, c] += w * g[p, o, c]
    return out
