"""Numba kernels for separable resampling: one axis at a time, through a table of taps.

Every interpolation mode (nearest, bilinear, bicubic) is, along one axis, a sparse linear map:
output position o reads ``T`` input positions ``index[o, t]`` with weights ``weight[o, t]``
(T = 1, 2 or 4). A 2-D resize is that map along the width, then along the height (or the other
way round), so two kernels cover every mode in forward and backward:

- ``along_last``: the map (or its transpose) on axis 2 of a (P, R, I) array;
- ``along_middle``: the same on axis 1 of a (P, I, C) array.

The transposes scatter-add, which is race-free because each plane p is owned by one thread.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def along_last(x, index, weight, size, transpose):
    """The map along axis 2 of x (P, R, ·), or its transpose; ``size`` is the output axis length.

    forward:   out[p, r, o] = sum_t weight[o, t] * x[p, r, index[o, t]]
    transpose: out[p, r, index[o, t]] += weight[o, t] * x[p, r, o]
    """
    planes, rows, _ = x.shape
    count, taps = index.shape
    out = np.zeros((planes, rows, size), dtype=x.dtype)
    for p in prange(planes):
        for r in range(rows):
            for o in range(count):
                for t in range(taps):
                    if transpose:
                        out[p, r, index[o, t]] += weight[o, t] * x[p, r, o]
                    else:
                        out[p, r, o] += weight[o, t] * x[p, r, index[o, t]]
    return out


@njit(cache=True, parallel=True)
def along_middle(x, index, weight, size, transpose):
    """The map along axis 1 of x (P, ·, C), whole rows at a time, or its transpose.

    forward:   out[p, o, :] = sum_t weight[o, t] * x[p, index[o, t], :]
    transpose: out[p, index[o, t], :] += weight[o, t] * x[p, o, :]
    """
    planes, _, cols = x.shape
    count, taps = index.shape
    out = np.zeros((planes, size, cols), dtype=x.dtype)
    for p in prange(planes):
        for o in range(count):
            for t in range(taps):
                w = weight[o, t]
                src, dst = (o, index[o, t]) if transpose else (index[o, t], o)
                for c in range(cols):
                    out[p, dst, c] += w * x[p, src, c]
    return out
