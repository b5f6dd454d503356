"""Numba kernel for separable resampling: one axis at a time, through a table of taps.

Every interpolation mode (nearest, bilinear, bicubic) is, along one axis, a sparse linear map:
output position o reads ``T`` input positions ``index[o, t]`` with weights ``weight[o, t]``
(T = 1, 2 or 4). A 2-D resize is that map along the width, then along the height (or the other
way round), so one kernel, ``along_axis``, covers every mode in forward and backward: the map (or
its transpose) on axis 2 of a (P, R, I) array or on axis 1 of a (P, I, C) array.

The transposes scatter-add, which is race-free because each plane p is owned by one thread.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def along_axis(x, index, weight, size, transpose, axis):
    """The map along ``axis`` (2: the last, 1: the middle) of x (P, ·, ·), or its transpose; ``size``
    is that axis's output length.

    axis 2, forward:   out[p, r, o] = sum_t weight[o, t] * x[p, r, index[o, t]]
            transpose: out[p, r, index[o, t]] += weight[o, t] * x[p, r, o]
    axis 1, forward:   out[p, o, c] = sum_t weight[o, t] * x[p, index[o, t], c]
            transpose: out[p, index[o, t], c] += weight[o, t] * x[p, o, c]

    Along axis 2 each update is one sample (row by row); along axis 1 it is a whole row of C
    samples, so the innermost loop runs over contiguous memory either way.
    """
    planes, rows, cols = x.shape
    count, taps = index.shape
    out = np.zeros((planes, rows, size) if axis == 2 else (planes, size, cols), dtype=x.dtype)
    for p in prange(planes):
        for r in range(rows if axis == 2 else 1):
            for o in range(count):
                for t in range(taps):
                    w, i = weight[o, t], index[o, t]
                    if axis == 1:
                        src, dst = (o, i) if transpose else (i, o)
                        for c in range(cols):
                            out[p, dst, c] += w * x[p, src, c]
                    elif transpose:
                        out[p, r, i] += w * x[p, r, o]
                    else:
                        out[p, r, o] += w * x[p, r, i]
    return out
