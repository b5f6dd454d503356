"""Plain-loop resizing that reads like the lecture's formula (slow; for teaching and for tests).

For every output pixel (X, Y) we find the real-valued input point (x, y) it corresponds to and sum
over the input grid,

    out(X, Y) = sum_{i, j} f(clamp(i), clamp(j)) * k(y - i) * k(x - j),

where i runs over rows, j over columns, clamp() repeats the border pixels (torch's rule), and k is
the tent max(0, 1 - |s|) for bilinear or the Keys cubic (A = -0.75) for bicubic. Only the few i, j
near (x, y) have k != 0: floor(y) - 1 .. ceil(y) + 1 for bilinear, floor(y) - 1 .. floor(y) + 2 for
bicubic. The fast path in :mod:`.ops` computes the same sums separably; both take their sample
positions and argument checks from :mod:`.geometry`.
"""
from __future__ import annotations

import math

import numpy as np

from ..pool.reference import adaptive_avg_pool2d_reference
from .geometry import (check_interpolate_input, check_mode, keys_cubic, nearest_source, output_geometry,
                       source_coordinates, triangle)


def interpolate_reference(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                          recompute_scale_factor=None, antialias: bool = False) -> np.ndarray:
    """F.interpolate one output pixel at a time: 'nearest' / 'nearest-exact' copy the pixel whose cell
    holds the source point, 'bilinear' / 'bicubic' sum the kernel-weighted neighbours, 'area' is
    adaptive average pooling (its reference)."""
    op = "interpolate"
    x = check_interpolate_input(op, input).data
    corners = check_mode(op, mode, align_corners, antialias)
    (out_h, out_w), scales = output_geometry(op, x.shape, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return adaptive_avg_pool2d_reference(x, (out_h, out_w))
    n, c, h, w = x.shape
    out = np.zeros((n, c, out_h, out_w), dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        rows, cols = nearest_source(h, out_h, scales[0], exact), nearest_source(w, out_w, scales[1], exact)
        for Y in range(out_h):
            for X in range(out_w):
                out[:, :, Y, X] = x[:, :, rows[Y], cols[X]]  # the one pixel whose cell holds (x, y)
        return out.astype(x.dtype)
    cubic = mode == "bicubic"
    kernel = keys_cubic if cubic else triangle
    ys = source_coordinates(h, out_h, scales[0], corners, cubic, x.dtype)
    xs = source_coordinates(w, out_w, scales[1], corners, cubic, x.dtype)
    for Y in range(out_h):
        y = float(ys[Y])
        for X in range(out_w):
            xx = float(xs[X])
            # out(X, Y) = sum_{i, j} f(clamp i, clamp j) k(y - i) k(x - j) over the neighbours of (x, y)
            for i in _neighbours(y, cubic):
                for j in _neighbours(xx, cubic):
                    weight = kernel(y - i) * kernel(xx - j)
                    out[:, :, Y, X] += weight * x[:, :, _clamp(i, h), _clamp(j, w)]
    return out.astype(x.dtype)


def _neighbours(t: float, cubic: bool) -> range:
    """Grid positions that can have a non-zero kernel weight at t (the slide's index ranges)."""
    if cubic:
        return range(math.floor(t) - 1, math.floor(t) + 3)
    return range(math.floor(t) - 1, math.ceil(t) + 2)


def _clamp(i: int, n: int) -> int:
    return min(max(i, 0), n - 1)
