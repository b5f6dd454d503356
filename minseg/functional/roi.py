"""RoIPool and RoIAlign: crop a fixed-size feature grid for each box, as torchvision.ops does.

Fast R-CNN's RoIPool snaps the box to whole feature pixels and takes the max over each bin; Mask
R-CNN's RoIAlign keeps the box where it is, samples a regular grid of points in each bin, reads each
point by bilinear interpolation f(x, y) = sum f(i, j) max(0, 1 - |x - i|) max(0, 1 - |y - j|), and
averages the samples. Both are differentiable with respect to the feature map (not the boxes).

Boxes are a (K, 5) array of rows [batch_index, x1, y1, x2, y2] in image coordinates (multiplied by
``spatial_scale`` to land on the feature map), or a list with one (K_i, 4) array per image.
The box geometry lives in ``roi_geometry`` (exact torchvision arithmetic), the readable loops in
``roi_reference``, and the Numba gather/scatter kernels in ``minseg.kernels.roi``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor, as_array
from ..kernels import roi as kernels
from ..kernels._threads import threads_for
from ._utils import check_tensor, pair
from .roi_geometry import (align_axis_taps, align_geometry, align_sample_coords, pool_bins,  # noqa: F401
                           roi_align_sampling_points)

__all__ = ["roi_pool", "roi_align"]


# ----- argument checks ---------------------------------------------------------------------------

def boxes_to_rois(op: str, boxes) -> np.ndarray:
    """(K, 5) rows [batch_index, x1, y1, x2, y2] from either accepted form (a list gets index = position)."""
    form = "a (K, 5) array of [batch_index, x1, y1, x2, y2] rows or a list of (K_i, 4) arrays"
    if isinstance(boxes, (list, tuple)):
        parts = []
        for index, item in enumerate(boxes):
            item = as_array(item)
            if item.ndim != 2 or item.shape[1] != 4:
                raise ValueError(f"{op}: boxes[{index}] must be a (K_i, 4) array of [x1, y1, x2, y2] rows, "
                                 f"got shape {item.shape}")
            parts.append(np.concatenate([np.full((len(item), 1), index, dtype=np.float64),
                                         item.astype(np.float64)], axis=1))
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, 5))
    array = as_array(boxes)
    if array.ndim != 2 or array.shape[1] != 5:
        raise ValueError(f"{op}: boxes must be {form}, got shape {array.shape}")
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{op}: boxes must hold numbers, got dtype {array.dtype}")
    return array


def _check_rois(op: str, rois: np.ndarray, batch_size: int) -> np.ndarray:
    """Batch indices: whole numbers in [0, N); corners: finite with x2 >= x1 and y2 >= y1. Returns indices."""
    if not np.all(np.isfinite(rois)):
        bad = int(np.argwhere(~np.isfinite(rois))[0, 0])
        raise ValueError(f"{op}: boxes must be finite, row {bad} is {rois[bad].tolist()}")
    index = rois[:, 0]
    wrong = (index != np.floor(index)) | (index < 0) | (index >= batch_size)
    if wrong.any():
        bad = int(np.argmax(wrong))
        raise ValueError(f"{op}: boxes[:, 0] (batch index) must be an integer in [0, {batch_size}) for an "
                         f"input of batch size {batch_size}, row {bad} has {index[bad]:g}")
    flipped = (rois[:, 3] < rois[:, 1]) | (rois[:, 4] < rois[:, 2])
    if flipped.any():
        bad = int(np.argmax(flipped))
        raise ValueError(f"{op}: boxes must have x2 >= x1 and y2 >= y1, row {bad} is {rois[bad].tolist()}")
    return index.astype(np.int64)


def _check_scale(op: str, spatial_scale) -> float:
    if (isinstance(spatial_scale, bool) or not isinstance(spatial_scale, numbers.Real)
            or not np.isfinite(spatial_scale) or spatial_scale <= 0):
        raise ValueError(f"{op}: spatial_scale must be a positive number (feature size / image size), "
                         f"got {spatial_scale!r}")
    return float(spatial_scale)


def _prepare(op: str, input, boxes, output_size, spatial_scale):
    """Checked (input Tensor, rois (K, 5), batch indices (K,), output (h, w), scale)."""
    x = check_tensor(op, "input", input, 4, "(N, C, H, W)")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be float32 or float64, got dtype {x.dtype}")
    size = pair(op, "output_size", output_size, minimum=1)
    scale = _check_scale(op, spatial_scale)
    rois = boxes_to_rois(op, boxes)
    batch = _check_rois(op, rois, x.shape[0])
    return x, rois, batch, size, scale


def _planes(x: np.ndarray) -> np.ndarray:
    """A contiguous (N, C, H, W) array seen as (N, C, H * W): the kernels index pixels by h * W + w."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def _scatter_back(input_shape, work: int, grad: np.ndarray, kernel, *args) -> np.ndarray:
    """The input's gradient: zeros that ``kernel(grad, *args, planes)`` adds each output gradient into."""
    grad_x = np.zeros(input_shape, dtype=grad.dtype)
    if grad.size:
        with threads_for(work):
            kernel(np.ascontiguousarray(grad), *args, _planes(grad_x))
    return grad_x


# ----- RoIAlign ----------------------------------------------------------------------------------

def align_taps(rois, dtype, feature_size, output_size, spatial_scale, sampling_ratio, aligned):
    """The fast path's tables: for y then x, (pixel_lo, pixel_hi, weight_lo, weight_hi, grid) per sample."""
    geo = align_geometry(rois, dtype, output_size, spatial_scale, sampling_ratio, aligned)
    tables = []
    axes = ((geo.start_y, geo.bin_h, geo.grid_h, output_size[0], feature_size[0]),
            (geo.start_x, geo.bin_w, geo.grid_w, output_size[1], feature_size[1]))
    for start, bin_size, grid, bins, size in axes:
        coords = align_sample_coords(start, bin_size, grid, bins)
        tables += [*align_axis_taps(coords, grid, size), grid]
    return tables


class RoIAlignFunction(Function):
    """RoIAlign with the Numba kernels; the gradient flows to the feature map only."""

    @staticmethod
    def forward(ctx, x, rois, batch=None, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1,
                aligned=False):
        x = np.ascontiguousarray(x)
        tables = align_taps(rois, x.dtype, x.shape[2:], output_size, spatial_scale, sampling_ratio, aligned)
        out = np.zeros((len(rois), x.shape[1]) + tuple(output_size), dtype=x.dtype)
        # work: 4 taps per sample, grid_h * grid_w samples per bin
        ctx.work = 4 * x.shape[1] * int(np.prod(output_size)) * int((tables[4] * tables[9]).sum())
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
    x, rois, batch, size, scale = _prepare(op, input, boxes, output_size, spatial_scale)
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, (numbers.Integral, np.integer)):
        raise ValueError(f"{op}: sampling_ratio must be an int (<= 0 for adaptive), got {sampling_ratio!r}")
    return RoIAlignFunction.apply(x, rois, batch=batch, output_size=size, spatial_scale=scale,
                                  sampling_ratio=int(sampling_ratio), aligned=bool(aligned))


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
    x, rois, batch, size, scale = _prepare("roi_pool", input, boxes, output_size, spatial_scale)
    return RoIPoolFunction.apply(x, rois, batch=batch, output_size=size, spatial_scale=scale)
