"""RoIAlign and RoIPool as plain loops that read like the lecture slide (slow; for teaching and tests).

The ops' own arguments in (checked as the ops check them), arrays out: ``input`` (N, C, H, W),
``boxes`` (K, 5) rows [batch_index, x1, y1, x2, y2] or a list of (K_i, 4) arrays; the backward
references take the output gradient first, then the op's arguments, and return the input's gradient.
Each op is a list of "taps" (output bin <- feature pixel, with a weight), so the forward pass
gathers along the taps and the backward pass scatters the output gradient back along the same taps.
Only the box geometry and checks (:mod:`.geometry`) are shared with the fast path; the interpolation weights
here come straight from the slide's formula.
"""
from __future__ import annotations

import math

import numpy as np

from .geometry import align_geometry, align_sample_coords, check_roi_inputs, check_sampling_ratio, pool_bins


def bilinear_taps(x: float, y: float, height: int, width: int) -> list[tuple[int, int, float]]:
    """The pixels (i, j) that the point (x, y) reads, and their weights, with torchvision's border rule.

    A point more than one pixel off the map reads nothing (value 0). Otherwise it is clamped into
    [0, W-1] x [0, H-1] and f(x, y) = sum over i, j of f(i, j) max(0, 1 - |x - i|) max(0, 1 - |y - j|).
    Example (the slide): (6.5, 5.8) -> f(6,5)*.5*.2 + f(7,5)*.5*.2 + f(6,6)*.5*.8 + f(7,6)*.5*.8.
    """
    if not (-1 <= y <= height and -1 <= x <= width):
        return []
    x, y = min(max(x, 0), width - 1), min(max(y, 0), height - 1)
    taps = []
    for j in (math.floor(y), math.floor(y) + 1):
        for i in (math.floor(x), math.floor(x) + 1):
            weight = max(0, 1 - abs(x - i)) * max(0, 1 - abs(y - j))
            if weight > 0 and j < height and i < width:
                taps.append((i, j, weight))
    return taps


def roi_align_taps(rois, dtype, feature_size, output_size, spatial_scale=1.0, sampling_ratio=-1,
                   aligned=False):
    """Yield (k, p, q, n, j, i, weight): output bin (p, q) of box k reads pixel (j, i) of image n."""
    height, width = feature_size
    out_h, out_w = output_size
    geo = align_geometry(rois, dtype, output_size, spatial_scale, sampling_ratio, aligned)
    ys = align_sample_coords(geo.start_y, geo.bin_h, geo.grid_h, out_h)
    xs = align_sample_coords(geo.start_x, geo.bin_w, geo.grid_w, out_w)
    for k in range(len(rois)):
        n, grid_h, grid_w = int(rois[k, 0]), int(geo.grid_h[k]), int(geo.grid_w[k])
        count = max(grid_h * grid_w, 1)
        # bin (p, q) = the average over its grid_h x grid_w sample points of f(sample)
        for p in range(out_h):
            for q in range(out_w):
                for s in range(grid_h):
                    for t in range(grid_w):
                        for i, j, weight in bilinear_taps(xs[k, q, t], ys[k, p, s], height, width):
                            yield k, p, q, n, j, i, weight / count


def _align_inputs(input, boxes, output_size, spatial_scale, sampling_ratio):
    """Checked (input array, rois (K, 5), output (h, w), scale, sampling_ratio) of a RoIAlign call."""
    x, rois, _, size, scale = check_roi_inputs("roi_align", input, boxes, output_size, spatial_scale)
    return x.data, rois, size, scale, check_sampling_ratio("roi_align", sampling_ratio)


def roi_align_reference(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,
                        aligned=False) -> np.ndarray:
    """RoIAlign forward by plain loops: out[k, :, p, q] = mean of f(sample) over the bin's sample grid."""
    x, rois, size, scale, ratio = _align_inputs(input, boxes, output_size, spatial_scale, sampling_ratio)
    out = np.zeros((len(rois), x.shape[1]) + size, dtype=x.dtype)
    for k, p, q, n, j, i, weight in roi_align_taps(rois, x.dtype, x.shape[2:], size, scale, ratio, aligned):
        out[k, :, p, q] += weight * x[n, :, j, i]
    return out


def roi_align_reference_backward(grad_output, input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,
                                 aligned=False) -> np.ndarray:
    """d loss / d input for RoIAlign: each bin's gradient flows back along the same taps, same weights."""
    x, rois, size, scale, ratio = _align_inputs(input, boxes, output_size, spatial_scale, sampling_ratio)
    grad = np.asarray(grad_output)
    grad_input = np.zeros(x.shape, dtype=grad.dtype)
    for k, p, q, n, j, i, weight in roi_align_taps(rois, grad.dtype, x.shape[2:], size, scale, ratio, aligned):
        grad_input[n, :, j, i] += weight * grad[k, :, p, q]
    return grad_input


def roi_pool_argmax(input: np.ndarray, rois: np.ndarray, output_size, spatial_scale=1.0) -> np.ndarray:
    """For every (k, c, p, q): the flat index h * W + w of the bin's first maximum, or -1 for an empty bin."""
    n_boxes, channels = len(rois), input.shape[1]
    bins = pool_bins(rois, input.dtype, output_size, spatial_scale, input.shape[2:])
    argmax = np.full((n_boxes, channels) + tuple(output_size), -1, dtype=np.int64)
    for k in range(n_boxes):
        n = int(rois[k, 0])
        for p in range(output_size[0]):
            for q in range(output_size[1]):
                h0, h1, w0, w1 = bins.h_start[k, p], bins.h_end[k, p], bins.w_start[k, q], bins.w_end[k, q]
                if h1 <= h0 or w1 <= w0:
                    continue  # empty bin: output 0, no gradient
                for c in range(channels):
                    region = input[n, c, h0:h1, w0:w1]
                    h, w = np.unravel_index(np.argmax(region), region.shape)  # first max, row-major
                    argmax[k, c, p, q] = (h0 + h) * input.shape[3] + (w0 + w)
    return argmax


def roi_pool_reference(input, boxes, output_size, spatial_scale=1.0) -> np.ndarray:
    """RoIPool forward by plain loops: out[k, c, p, q] = max over the bin (0 when the bin is empty)."""
    x, rois, _, size, scale = check_roi_inputs("roi_pool", input, boxes, output_size, spatial_scale)
    x = x.data
    argmax = roi_pool_argmax(x, rois, size, scale)
    planes = x.reshape(x.shape[0], x.shape[1], -1)
    out = np.zeros(argmax.shape, dtype=x.dtype)
    for k, c, p, q in np.ndindex(*argmax.shape):
        if argmax[k, c, p, q] >= 0:
            out[k, c, p, q] = planes[int(rois[k, 0]), c, argmax[k, c, p, q]]
    return out


def roi_pool_reference_backward(grad_output, input, boxes, output_size, spatial_scale=1.0) -> np.ndarray:
    """d loss / d input for RoIPool: each bin's gradient goes to its maximum (nothing from empty bins)."""
    x, rois, _, size, scale = check_roi_inputs("roi_pool", input, boxes, output_size, spatial_scale)
    x, grad = x.data, np.asarray(grad_output)
    argmax = roi_pool_argmax(x, rois, size, scale)
    n, c, h, w = x.shape
    grad_planes = np.zeros((n, c, h * w), dtype=grad.dtype)
    for k, c, p, q in np.ndindex(*argmax.shape):
        if argmax[k, c, p, q] >= 0:
            grad_planes[int(rois[k, 0]), c, argmax[k, c, p, q]] += grad[k, c, p, q]
    return grad_planes.reshape(x.shape)
