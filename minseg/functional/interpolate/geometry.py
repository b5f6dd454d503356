"""Where each output pixel of a resize looks in the input: torch's coordinate rules, one axis at a time.

Shared by the fast path (:mod:`.ops`) and the plain-loop reference (:mod:`.reference`), so both
read the input at the same places; also the argument checks and output size of ``interpolate``
and the per-axis tap tables (``resize_taps``) of the fast path.

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

import math
import numbers

import numpy as np

from ..checks import check_tensor, pair

MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")
_SMOOTH = ("bilinear", "bicubic")
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


def check_interpolate_input(op: str, input):
    """``input`` as a 4-D floating-point Tensor (N, C, H, W)."""
    x = check_tensor(op, "input", input, 4, "(N, C, H, W)")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got dtype {x.dtype}")
    return x


def _scale_pair(op: str, scale_factor) -> tuple[float, float]:
    """torch's ``s or (s_h, s_w)`` scale_factor as two floats (an int-or-pair size goes through pair())."""
    items = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    if not (len(items) == 2 and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items)):
        raise ValueError(f"{op}: scale_factor must be a number or a pair of numbers (for the H and W axes), "
                         f"got {scale_factor!r}")
    return float(items[0]), float(items[1])


def output_geometry(op: str, shape, size, scale_factor, recompute_scale_factor):
    """(out_h, out_w) and the scales passed to the kernel (None: use in/out), as torch decides.

    With a scale factor the output is floor(in * scale_factor); unless recompute_scale_factor is
    True the kernel then keeps using 1 / scale_factor (not in / out) to place its samples.
    """
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size or scale_factor must be given, got "
                         f"size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor=True needs scale_factor, not size")
        return pair(op, "size", size, minimum=1), (None, None)
    factors = _scale_pair(op, scale_factor)
    if not all(math.isfinite(s) and s > 0 for s in factors):
        raise ValueError(f"{op}: scale_factor must be positive and finite, got {scale_factor!r}")
    out = tuple(math.floor(float(n * s)) for n, s in zip(shape[2:], factors))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} gives an empty output {out} "
                         f"for input of shape {tuple(shape)}")
    return out, ((None, None) if recompute_scale_factor else factors)


def check_mode(op: str, mode: str, align_corners, antialias: bool) -> bool:
    """A supported mode; align_corners only for the smooth modes. Returns align_corners as a bool."""
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES} (4-D NCHW input), got {mode!r}")
    if align_corners is not None and mode not in _SMOOTH:
        raise ValueError(f"{op}: align_corners can only be set with mode 'bilinear' or 'bicubic', "
                         f"got align_corners={align_corners!r} with mode={mode!r}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported (use antialias=False)")
    return bool(align_corners)


def resize_taps(mode: str, in_size: int, out_size: int, scale: float | None, align_corners: bool,
                dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The taps of one axis: (index, weight), both (out_size, T); output o = sum_t weight * in[index].

    T = 1 for nearest, 2 for bilinear, 4 for bicubic. Weights are computed in ``dtype`` (torch does
    the coordinate arithmetic in the input's type).
    """
    if mode in ("nearest", "nearest-exact"):
        source = nearest_source(in_size, out_size, scale, exact=mode == "nearest-exact")
        index = np.ascontiguousarray(source[:, None])
        return index, np.ones(index.shape, dtype)
    real = source_coordinates(in_size, out_size, scale, align_corners, mode == "bicubic", dtype)
    base = np.minimum(np.floor(real).astype(np.int64), in_size - 1)
    frac = np.clip(real - base.astype(dtype), 0, 1).astype(dtype)
    if mode == "bilinear":
        index = np.stack([base, np.minimum(base + 1, in_size - 1)], axis=1)
        weight = np.stack([1 - frac, frac], axis=1)
    else:  # bicubic: the four samples base-1 .. base+2 at distances t+1, t, 1-t, 2-t
        offsets = np.arange(-1, 3)
        index = np.clip(base[:, None] + offsets, 0, in_size - 1)
        weight = keys_cubic(frac[:, None] - offsets.astype(dtype)).astype(dtype)
    return index, np.ascontiguousarray(weight)
