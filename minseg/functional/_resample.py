"""Where each output pixel of a resize looks in the input: torch's coordinate rules, one axis at a time.

Shared by the fast path (:mod:`minseg.functional.interpolate`) and the plain-loop reference
(:mod:`minseg.functional.interpolate_reference`), so both read the input at the same places.

torch's rules (aten/src/ATen/native/UpSample.h), for an axis of ``in_size`` -> ``out_size``:

- scale: align_corners -> (in - 1) / (out - 1) (0 when out == 1); otherwise 1 / scale_factor when a
  scale factor was passed on to the kernel, else in / out.
- source coordinate of output o: align_corners -> scale * o; otherwise scale * (o + 0.5) - 0.5, the
  centre of output pixel o mapped to input pixel-centre coordinates (clamped at 0 for bilinear).
- nearest: floor(o * scale) in float32 (o itself when out == in, o // 2 when out == 2 in).
- bilinear copies when out == in; bicubic does not.
The arithmetic is done in the input's float type, as torch does, so ties fall the same way.
"""
from __future__ import annotations

import numpy as np

KEYS_A = -0.75  # the bicubic (Keys) kernel's free parameter, as torch and OpenCV use


def axis_scale(in_size: int, out_size: int, scale: float | None, align_corners: bool, dtype) -> np.generic:
    """The input distance between neighbouring output samples, in ``dtype`` (torch's
    area_pixel_compute_scale)."""
    dtype = np.dtype(dtype).type
    if align_corners:
        return dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(in_size) / dtype(out_size)


def source_coordinates(in_size: int, out_size: int, scale: float | None, align_corners: bool,
                       cubic: bool, dtype) -> np.ndarray:
    """The real-valued input coordinate of every output sample along one axis (float ``dtype``)."""
    dtype = np.dtype(dtype).type
    o = np.arange(out_size).astype(dtype)
    if out_size == in_size and not cubic:  # torch copies an unchanged axis for (bi)linear
        return o
    step = axis_scale(in_size, out_size, scale, align_corners, dtype)
    if align_corners:
        return step * o
    real = step * (o + dtype(0.5)) - dtype(0.5)
    return real if cubic else np.maximum(real, dtype(0))


def nearest_source(in_size: int, out_size: int, scale: float | None, exact: bool = False) -> np.ndarray:
    """Input index of every output sample for mode 'nearest' (floor(o * s)) or 'nearest-exact'
    (floor((o + 0.5) * s)); torch computes both in float32 whatever the input type."""
    o = np.arange(out_size)
    if not exact and out_size == in_size:
        return o
    if not exact and out_size == 2 * in_size:
        return o // 2
    step = axis_scale(in_size, out_size, scale, False, np.float32)
    if exact:
        src = np.floor(((o + 0.5) * np.float64(step)).astype(np.float32))
    else:
        src = np.floor(o.astype(np.float32) * step)
    return np.minimum(src.astype(np.int64), in_size - 1)


def keys_cubic(s):
    """The Keys cubic convolution kernel k(s) with A = -0.75: 1 at 0, 0 at the other integers,
    support (-2, 2). Works on scalars and arrays."""
    s = np.abs(s)
    a = KEYS_A
    inner = ((a + 2) * s - (a + 3)) * s * s + 1
    outer = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
    return np.where(s <= 1, inner, np.where(s < 2, outer, 0 * s))


def triangle(s):
    """The bilinear (tent) kernel max(0, 1 - |s|)."""
    return np.maximum(0 * s, 1 - np.abs(s))
