"""``F.interpolate``: nearest, bilinear and bicubic resizing of NCHW tensors, equal to torch.

Every mode is separable: along one axis, output sample o is a weighted sum of a few input samples,

    f(x, y) = sum_{i, j} f(i, j) k(x - i) k(y - j) = sum_i k(y - i) [sum_j f(i, j) k(x - j)],

with k the box (nearest), the tent max(0, 1 - |s|) (bilinear) or the Keys cubic with A = -0.75
(bicubic), and input indices outside the image clamped to the border (torch's rule). So the fast
path builds, per axis, a table of taps (index[o, t], weight[o, t]) and applies it along the width,
then along the height (whichever order is cheaper) with the Numba kernels in
:mod:`minseg.kernels.interpolate`. The resize is linear in the input, so the backward pass applies
the transposed tables in the opposite order. The plain loops that mirror the formula directly are in
:mod:`minseg.functional.interpolate_reference`.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..kernels import interpolate as kernels
from ..kernels._threads import threads_for
from ._resample import keys_cubic, nearest_source, source_coordinates
from ._utils import check_tensor, pair, plane_stack

__all__ = ["interpolate", "upsample"]

MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area")
_SMOOTH = ("bilinear", "bicubic")


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


def _separable(planes, rows, cols, size, width_first: bool, transpose: bool) -> np.ndarray:
    """Apply the column taps along W and the row taps along H (or their transposes) to (P, H, W)
    planes, giving (P, *size); ``width_first`` picks the order."""
    (ri, rw), (ci, cw) = rows, cols
    with threads_for(planes.shape[0] * size[0] * size[1]):
        if width_first:
            return kernels.along_middle(kernels.along_last(planes, ci, cw, size[1], transpose),
                                        ri, rw, size[0], transpose)
        return kernels.along_last(kernels.along_middle(planes, ri, rw, size[0], transpose),
                                  ci, cw, size[1], transpose)


class Resize(Function):
    """Separable resize of an (N, C, H, W) array through per-axis tap tables (rows, cols)."""

    @staticmethod
    def forward(ctx, x, rows=None, cols=None):
        n, c, h, w = x.shape
        out_h, out_w = rows[0].shape[0], cols[0].shape[0]
        # width first when that order does fewer multiply-adds (H * out_W + out_H * out_W terms)
        ctx.plan = (x.shape, rows, cols, h * out_w <= out_h * w)
        out = _separable(plane_stack(x), rows, cols, (out_h, out_w), ctx.plan[3], False)
        return out.reshape(n, c, out_h, out_w)

    @staticmethod
    def backward(ctx, g):
        (n, c, h, w), rows, cols, width_first = ctx.plan
        # the transposed passes run in the opposite order
        return (_separable(plane_stack(g), rows, cols, (h, w), not width_first, True).reshape(n, c, h, w),)


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


def _check_mode(op: str, mode: str, align_corners, antialias: bool) -> bool:
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES} (4-D NCHW input), got {mode!r}")
    if align_corners is not None and mode not in _SMOOTH:
        raise ValueError(f"{op}: align_corners can only be set with mode 'bilinear' or 'bicubic', "
                         f"got align_corners={align_corners!r} with mode={mode!r}")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported (use antialias=False)")
    return bool(align_corners)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize an (N, C, H, W) tensor to ``size`` or by ``scale_factor`` (torch.nn.functional.interpolate).

    mode: 'nearest' (torch's floor(o * in/out) rule), 'nearest-exact', 'bilinear', 'bicubic' (Keys,
    A = -0.75, border samples clamped) or 'area' (adaptive average pooling). align_corners (bilinear
    and bicubic only, default False): True maps the corner pixels' centres onto each other.
    """
    op = "interpolate"
    x = check_tensor(op, "input", input, 4, "(N, C, H, W)")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got dtype {x.dtype}")
    corners = _check_mode(op, mode, align_corners, antialias)
    (out_h, out_w), (scale_h, scale_w) = output_geometry(op, x.shape, size, scale_factor,
                                                         recompute_scale_factor)
    if mode == "area":
        from .pool import adaptive_avg_pool2d

        return adaptive_avg_pool2d(x, (out_h, out_w))
    rows = resize_taps(mode, x.shape[2], out_h, scale_h, corners, x.dtype)
    cols = resize_taps(mode, x.shape[3], out_w, scale_w, corners, x.dtype)
    return Resize.apply(x, rows=rows, cols=cols)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners=None) -> Tensor:
    """The old torch name for :func:`interpolate` (kept for code written against it)."""
    return interpolate(input, size, scale_factor, mode, align_corners)
