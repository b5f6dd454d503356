"""RoIPool and RoIAlign: crop a fixed-size feature grid for each box, as torchvision.ops does.

Fast R-CNN's RoIPool snaps the box to whole feature pixels and takes the max over each bin; Mask
R-CNN's RoIAlign keeps the box where it is, samples a regular grid of points in each bin, reads each
point by bilinear interpolation f(x, y) = sum f(i, j) max(0, 1 - |x - i|) max(0, 1 - |y - j|), and
averages the samples. Both are differentiable with respect to the feature map (not the boxes).

Boxes are a (K, 5) array of rows [batch_index, x1, y1, x2, y2] in image coordinates (multiplied by
``spatial_scale`` to land on the feature map), or a list with one (K_i, 4) array per image.
The box geometry and argument checks live in :mod:`.geometry` (exact torchvision arithmetic), the
readable loops in :mod:`.reference`, and the Numba gather/scatter kernels in :mod:`.kernels`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...autograd import Function, Tensor
from ...threads import threads_for
from . import kernels
from .geometry import (align_axis_taps, align_geometry, align_sample_coords, check_roi_inputs,
                       check_sampling_ratio, pool_bins)

__all__ = ["roi_pool", "roi_align"]


def _planes(x: np.ndarray) -> np.ndarray:
    """A contiguous (N, C, H, W) array seen as (N, C, H * W): the kernels index pixels by h * W + w."""
    return x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3])


def _scatter_back(input_shape, work: int, grad: np.ndarray, kernel, *args) -> np.ndarray:
    """The input's gradient: zeros that ``kernel(grad, *args, planes)`` adds each output gradient into."""
    grad_x = np.zeros(input_shape, dtype=grad.dtype)
    if grad.size:
        with threads_for(work):
            kernel(np.ascontiguousarray(grad), *args, _planes(grad_x))
    return grad_x


# ----- RoIAlign ----------------------------------------------------------------------------------

class AlignTables(NamedTuple):
    """The fast path's tables, in the order the kernels take them: per sample along y, the pixel
    below and above and their weights, the samples per bin; then the same along x."""

    y_lo: np.ndarray
    y_hi: np.ndarray
    wy_lo: np.ndarray
    wy_hi: np.ndarray
    grid_h: np.ndarray
    x_lo: np.ndarray
    x_hi: np.ndarray
    wx_lo: np.ndarray
    wx_hi: np.ndarray
    grid_w: np.ndarray


def align_tables(rois, dtype, feature_size, output_size, spatial_scale, sampling_ratio, aligned) -> AlignTables:
    """RoIAlign's sample taps along y and x (see geometry.align_axis_taps), for the kernels."""
    geo = align_geometry(rois, dtype, output_size, spatial_scale, sampling_ratio, aligned)
    ys = align_sample_coords(geo.start_y, geo.bin_h, geo.grid_h, output_size[0])
    xs = align_sample_coords(geo.start_x, geo.bin_w, geo.grid_w, output_size[1])
    y, x = align_axis_taps(ys, geo.grid_h, feature_size[0]), align_axis_taps(xs, geo.grid_w, feature_size[1])
    return AlignTables(y.low, y.high, y.w_low, y.w_high, geo.grid_h, x.low, x.high, x.w_low, x.w_high, geo.grid_w)


class RoIAlignFunction(Function):
    """RoIAlign with the Numba kernels; the gradient flows to the feature map only."""

    @staticmethod
    def forward(ctx, x, rois, batch=None, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1,
                aligned=False):
        x = np.ascontiguousarray(x)
        tables = align_tables(rois, x.dtype, x.shape[2:], output_size, spatial_scale, sampling_ratio, aligned)
        out = np.zeros((len(rois), x.shape[1]) + tuple(output_size), dtype=x.dtype)
        # work: 4 taps per sample, grid_h * grid_w samples per bin
        ctx.work = 4 * x.shape[1] * int(np.prod(output_size)) * int((tables.grid_h * tables.grid_w).sum())
        if out.size:
            with threads_for(ctx.work):
                kernels.roi_align_forward(_planes(x), x.shape[3], batch, *tables, out)
        ctx.tables, ctx.batch, ctx.input_shape = tables, batch, x.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        return _scatter_back(ctx.input_shape, ctx.work, grad, kernels.roi_align_backward,
                             ctx.input_shape[3], ctx.batch, *ctx.tables), None


def roi_align(input, boxes, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
              aligned: bool = False) -> Tensor:
    """torchvision.ops.roi_align: average of bilinear samples on a regular grid in each output bin.

    input (N, C, H, W); boxes (K, 5) [batch_index, x1, y1, x2, y2] or a list of (K_i, 4);
    output_size int or (h, w); spatial_scale maps image to feature coordinates (e.g. 1/16);
    sampling_ratio samples per bin along each axis (<= 0: adaptive, ceil(box size / output size));
    aligned=True shifts the box by -0.5 pixel so pixel centres line up. Returns (K, C, h, w).
    """
    op = "roi_align"
    x, rois, batch, size, scale = check_roi_inputs(op, input, boxes, output_size, spatial_scale)
    return RoIAlignFunction.apply(x, rois, batch=batch, output_size=size, spatial_scale=scale,
                                  sampling_ratio=check_sampling_ratio(op, sampling_ratio), aligned=bool(aligned))


# ----- RoIPool -----------------------------------------------------------------------------------

class RoIPoolFunction(Function):
    """RoIPool with the Numba kernels; the gradient goes to each bin's (first) maximum."""

    @staticmethod
    def forward(ctx, x, rois, batch=None, output_size=(1, 1), spatial_scale=1.0):
        x = np.ascontiguousarray(x)
        bins = pool_bins(rois, x.dtype, output_size, spatial_scale, x.shape[2:])
        shape = (len(rois), x.shape[1]) + tuple(output_size)
        out = np.zeros(shape, dtype=x.dtype)
        argmax = np.full(shape, -1, dtype=np.int64)
        if out.size:
            with threads_for(4 * out.size):  # work: about 4 pixels per bin
                kernels.roi_pool_forward(x, batch, *bins, out, argmax)
        ctx.argmax, ctx.batch, ctx.input_shape = argmax, batch, x.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        return _scatter_back(ctx.input_shape, grad.size, grad, kernels.roi_pool_backward, ctx.batch,
                             ctx.argmax), None


def roi_pool(input, boxes, output_size, spatial_scale: float = 1.0) -> Tensor:
    """torchvision.ops.roi_pool: max over each bin of the box snapped to whole feature pixels.

    Box corners are rounded (round(x * spatial_scale)); bin p spans [floor(p * size / bins),
    ceil((p + 1) * size / bins)) pixels from the box start, clipped to the map; an empty bin gives 0.
    Returns (K, C, h, w).
    """
    x, rois, batch, size, scale = check_roi_inputs("roi_pool", input, boxes, output_size, spatial_scale)
    return RoIPoolFunction.apply(x, rois, batch=batch, output_size=size, spatial_scale=scale)
