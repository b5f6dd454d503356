"""``F.interpolate``: nearest, bilinear and bicubic resizing of NCHW tensors, equal to torch.

Every mode is separable: along one axis, output sample o is a weighted sum of a few input samples,

    f(x, y) = sum_{i, j} f(i, j) k(x - i) k(y - j) = sum_i k(y - i) [sum_j f(i, j) k(x - j)],

with k the box (nearest), the tent max(0, 1 - |s|) (bilinear) or the Keys cubic with A = -0.75
(bicubic), and input indices outside the image clamped to the border (torch's rule). So the fast
path builds, per axis, a table of taps (index[o, t], weight[o, t]) and applies it along the width,
then along the height (whichever order is cheaper) with the Numba kernel in
:mod:`.kernels` (the taps and torch's coordinate rules are in :mod:`.geometry`). The resize is linear in the input, so the backward pass applies
the transposed tables in the opposite order. The plain loops that mirror the formula directly are in
:mod:`.reference`.
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function, Tensor
from ...lazy import lazy_module
from ...threads import threads_for
from ..checks import check_channels, plane_stack
from ..pool.ops import adaptive_avg_pool2d
from .geometry import check_interpolate_input, check_mode, output_geometry, resize_taps

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)

__all__ = ["interpolate"]

def _separable(planes, rows, cols, size, *, width_first: bool, transpose: bool) -> np.ndarray:
    """Apply the column taps along W and the row taps along H (or their transposes) to (P, H, W)
    planes, giving (P, *size); ``width_first`` picks the order."""
    (ri, rw), (ci, cw) = rows, cols
    with threads_for(planes.shape[0] * size[0] * size[1]):
        if width_first:
            return kernels.along_axis(kernels.along_axis(planes, ci, cw, size[1], transpose, 2),
                                      ri, rw, size[0], transpose, 1)
        return kernels.along_axis(kernels.along_axis(planes, ri, rw, size[0], transpose, 1),
                                  ci, cw, size[1], transpose, 2)


class ResizeFunction(Function):
    """Separable resize of an (N, C, H, W) array through per-axis tap tables (rows, cols)."""

    @staticmethod
    def forward(ctx, x, rows=None, cols=None):
        n, c, h, w = x.shape
        out_h, out_w = rows[0].shape[0], cols[0].shape[0]
        # width first when that order does fewer multiply-adds (H * out_W + out_H * out_W terms)
        ctx.input_shape, ctx.rows, ctx.cols = x.shape, rows, cols
        ctx.width_first = h * out_w <= out_h * w
        out = _separable(plane_stack(x), rows, cols, (out_h, out_w), width_first=ctx.width_first, transpose=False)
        return out.reshape(n, c, out_h, out_w)

    @staticmethod
    def backward(ctx, g):
        n, c, h, w = ctx.input_shape
        # the transposed passes run in the opposite order
        back = _separable(plane_stack(g), ctx.rows, ctx.cols, (h, w), width_first=not ctx.width_first,
                          transpose=True)
        return (back.reshape(n, c, h, w),)


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize an (N, C, H, W) tensor to ``size`` or by ``scale_factor`` (torch.nn.functional.interpolate).

    mode: 'nearest' (torch's floor(o * in/out) rule), 'nearest-exact', 'bilinear', 'bicubic' (Keys,
    A = -0.75, border samples clamped) or 'area' (adaptive average pooling). align_corners (bilinear
    and bicubic only, default False): True maps the corner pixels' centres onto each other.
    """
    op = "interpolate"
    x = check_interpolate_input(op, input)
    corners = check_mode(op, mode, align_corners, antialias)
    (out_h, out_w), (scale_h, scale_w) = output_geometry(op, x.shape, size, scale_factor,
                                                         recompute_scale_factor)
    if mode == "area":  # (torch's area mode takes an input with no channels; its other modes do not)
        return adaptive_avg_pool2d(x, (out_h, out_w))
    check_channels(op, x)
    rows = resize_taps(mode, x.shape[2], out_h, scale_h, corners, x.dtype)
    cols = resize_taps(mode, x.shape[3], out_w, scale_w, corners, x.dtype)
    return ResizeFunction.apply(x, rows=rows, cols=cols)
