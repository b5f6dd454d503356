"""Where RoIPool and RoIAlign look: box -> bins -> sample points, computed exactly as torchvision does.

Both ops turn a box given in image coordinates into a grid of ``output_size`` bins on the feature
map. The arithmetic here is done in the feature map's own dtype (float32 or float64) in torchvision's
order of operations, so that every discrete decision (how many samples a bin gets, which pixel a
sample falls in, where a RoIPool bin starts and ends) comes out exactly as in torchvision's CPU kernel.

- ``align_geometry``: per box, the start, bin size and samples-per-bin grid of RoIAlign.
- ``align_sample_coords``: the sample coordinates along one axis, padded to the largest grid.
- ``align_axis_taps``: for each sample coordinate, its two neighbouring pixels and 1-D bilinear
  weights along that axis (torchvision's border rules); the fast path multiplies an x-tap by a y-tap.
- ``pool_bins``: RoIPool's integer bin boundaries (rounded box, floor/ceil bin edges, clipped).
- ``roi_align_sampling_points``: all of the above for one box, for the lecture's widget.
- ``check_roi_inputs``: the ops' argument checks (boxes in either form, output_size, spatial_scale).
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ...autograd import as_array
from ..checks import check_tensor, pair


class AlignGeometry(NamedTuple):
    """RoIAlign's view of K boxes: per box, per axis, where the grid starts, the bin size, samples per bin."""

    start_y: np.ndarray  # (K,) dtype of the feature map
    start_x: np.ndarray
    bin_h: np.ndarray
    bin_w: np.ndarray
    grid_h: np.ndarray  # (K,) int64, samples per bin along y (>= 0)
    grid_w: np.ndarray


def align_geometry(rois: np.ndarray, dtype, output_size: tuple[int, int], spatial_scale: float,
                   sampling_ratio: int, aligned: bool) -> AlignGeometry:
    """Scale the boxes ``rois`` (K, 5) onto the feature map and cut them into ``output_size`` bins.

    ``aligned`` shifts by half a pixel (pixel centres sit at integer + 0.5 in image coordinates);
    without it a box is stretched to at least 1x1. ``sampling_ratio <= 0`` means adaptive:
    ceil(box size / output size) samples per bin along each axis.
    """
    dtype = np.dtype(dtype)
    t = dtype.type
    boxes = rois[:, 1:5].astype(dtype)
    offset = t(0.5) if aligned else t(0.0)
    scaled = boxes * t(spatial_scale) - offset
    start_x, start_y, end_x, end_y = scaled.T
    width, height = end_x - start_x, end_y - start_y
    if not aligned:
        width, height = np.maximum(width, t(1.0)), np.maximum(height, t(1.0))
    out_h, out_w = output_size
    grid_h, grid_w = (_samples_per_bin(size, t(out), sampling_ratio)
                      for size, out in ((height, out_h), (width, out_w)))
    return AlignGeometry(start_y, start_x, height / t(out_h), width / t(out_w), grid_h, grid_w)


def _samples_per_bin(size: np.ndarray, bins, sampling_ratio: int) -> np.ndarray:
    """``sampling_ratio`` when positive, else ceil(size / bins) (0 for an empty box)."""
    if sampling_ratio > 0:
        return np.full(size.shape, sampling_ratio, dtype=np.int64)
    return np.clip(np.ceil(size / bins), 0, None).astype(np.int64)


def align_sample_coords(start: np.ndarray, bin_size: np.ndarray, grid: np.ndarray, bins: int) -> np.ndarray:
    """Sample coordinates (K, bins, G) along one axis, G = the largest grid (entries past a box's grid: junk).

    Sample ``s`` of bin ``p`` sits at start + p * bin + (s + 1/2) * bin / grid: a regular grid,
    evenly spaced inside the bin, never on its edges.
    """
    count = max(int(grid.max(initial=0)), 1)
    p = np.arange(bins).astype(start.dtype)[None, :, None]
    s = (np.arange(count) + 0.5).astype(start.dtype)[None, None, :]
    start, bin_size = start[:, None, None], bin_size[:, None, None]
    divisor = np.maximum(grid, 1).astype(start.dtype)[:, None, None]
    return (start + p * bin_size) + (s * bin_size) / divisor


class AxisTaps(NamedTuple):
    """Along one axis, for each sample: the pixel below and above and their 1-D bilinear weights."""

    low: np.ndarray  # (K, bins, G) int64
    high: np.ndarray
    w_low: np.ndarray  # (K, bins, G) dtype of the feature map; 0 for samples off the map or past the grid
    w_high: np.ndarray


def align_axis_taps(coords: np.ndarray, grid: np.ndarray, size: int) -> AxisTaps:
    """torchvision's border rule along one axis of length ``size``, applied to sample ``coords``.

    A sample more than one pixel outside the map (c < -1 or c > size) contributes nothing; otherwise
    it is clamped into [0, size - 1] and split between its two neighbouring pixels:
    weight(i) = max(0, 1 - |c - i|).
    """
    t = coords.dtype.type
    inside = (coords >= -1.0) & (coords <= size)
    inside &= np.arange(coords.shape[2])[None, None, :] < grid[:, None, None]
    c = np.where(inside & (coords > 0), coords, t(0))
    low = c.astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, low, low + 1)
    c = np.where(at_end, low.astype(coords.dtype), c)
    frac = c - low.astype(coords.dtype)
    zero = t(0)
    return AxisTaps(low, high, np.where(inside, t(1) - frac, zero), np.where(inside, frac, zero))


class PoolBins(NamedTuple):
    """RoIPool's bins for K boxes: integer [start, end) rows and columns, clipped to the map."""

    h_start: np.ndarray  # (K, out_h) int64
    h_end: np.ndarray
    w_start: np.ndarray  # (K, out_w) int64
    w_end: np.ndarray


def round_half_away(values: np.ndarray) -> np.ndarray:
    """C's round(): halves go away from zero (np.round would send 2.5 to 2)."""
    values = values.astype(np.float64)  # exact for float32 inputs, so + 0.5 cannot round up early
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def pool_bins(rois: np.ndarray, dtype, output_size: tuple[int, int], spatial_scale: float,
              feature_size: tuple[int, int]) -> PoolBins:
    """Quantise each box to whole pixels, then cut it into bins with floor (start) and ceil (end).

    Box corners: round(x * spatial_scale); the box spans end - start + 1 pixels (at least 1); bin p
    covers [floor(p * size / bins), ceil((p + 1) * size / bins)) from the box start, clipped to the map.
    Bins may overlap by a pixel or be empty (then RoIPool outputs 0).
    """
    dtype = np.dtype(dtype)
    corners = round_half_away(rois[:, 1:5].astype(dtype) * dtype.type(spatial_scale))
    x1, y1, x2, y2 = corners.T
    edges = []
    for start, end, bins, size in ((y1, y2, output_size[0], feature_size[0]),
                                   (x1, x2, output_size[1], feature_size[1])):
        extent = np.maximum(end - start + 1, 1).astype(dtype)
        bin_size = (extent / dtype.type(bins))[:, None]
        p = np.arange(bins + 1).astype(dtype)[None, :]
        lower = np.floor(p[:, :-1] * bin_size).astype(np.int64) + start[:, None]
        upper = np.ceil(p[:, 1:] * bin_size).astype(np.int64) + start[:, None]
        edges += [np.clip(lower, 0, size), np.clip(upper, 0, size)]
    return PoolBins(*edges)


class SamplingPoints(NamedTuple):
    """RoIAlign's samples for one box (see ``roi_align_sampling_points``)."""

    points: np.ndarray  # (out_h, out_w, grid_h, grid_w, 2) sample (x, y) on the feature map
    neighbours: np.ndarray  # (out_h, out_w, grid_h, grid_w, 4, 2) int pixel (i, j) = (column, row)
    weights: np.ndarray  # (out_h, out_w, grid_h, grid_w, 4) bilinear weight of each neighbour
    bin_edges_x: np.ndarray  # (out_w + 1,) bin boundaries along x on the feature map
    bin_edges_y: np.ndarray  # (out_h + 1,)
    count: int  # samples averaged per bin (the divisor)


def roi_align_sampling_points(box, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
                              aligned: bool = False, feature_size=(64, 64),
                              dtype=np.float64) -> SamplingPoints:
    """Where RoIAlign samples one box (x1, y1, x2, y2), and how each sample mixes its 4 neighbours.

    Neighbour order per sample: (x_low, y_low), (x_high, y_low), (x_low, y_high), (x_high, y_high);
    weights follow f(x, y) = sum f(i, j) max(0, 1 - |x - i|) max(0, 1 - |y - j|) after torchvision's
    clamping into the map of ``feature_size`` (H, W); a sample more than a pixel outside gets weight 0.
    """
    op = "roi_align_sampling_points"
    out_h, out_w = pair(op, "output_size", output_size, minimum=1)
    height, width = pair(op, "feature_size", feature_size, minimum=1)
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    if box.shape != (4,):
        raise ValueError(f"{op}: box must be 4 numbers (x1, y1, x2, y2), got {box.size} values")
    rois = np.concatenate([[0.0], box])[None, :]
    geo = align_geometry(rois, dtype, (out_h, out_w), spatial_scale, sampling_ratio, aligned)
    grid_h, grid_w = int(geo.grid_h[0]), int(geo.grid_w[0])
    ys = align_sample_coords(geo.start_y, geo.bin_h, geo.grid_h, out_h)[:, :, :grid_h]
    xs = align_sample_coords(geo.start_x, geo.bin_w, geo.grid_w, out_w)[:, :, :grid_w]
    low_y, high_y, wl_y, wh_y = (a[0][:, None, :, None] for a in align_axis_taps(ys, geo.grid_h, height))
    low_x, high_x, wl_x, wh_x = (a[0][None, :, None, :] for a in align_axis_taps(xs, geo.grid_w, width))
    shape = (out_h, out_w, grid_h, grid_w)
    corners = ((low_x, low_y, wl_x, wl_y), (high_x, low_y, wh_x, wl_y),
               (low_x, high_y, wl_x, wh_y), (high_x, high_y, wh_x, wh_y))
    neighbours = np.stack([np.stack(np.broadcast_arrays(np.broadcast_to(i, shape), j), axis=-1)
                           for i, j, _, _ in corners], axis=-2)
    weights = np.stack([np.broadcast_to(wx * wy, shape) for _, _, wx, wy in corners], axis=-1)
    points = np.stack(np.broadcast_arrays(xs[0][None, :, None, :], ys[0][:, None, :, None]), axis=-1)
    edges_x = geo.start_x[0] + np.arange(out_w + 1) * geo.bin_w[0]
    edges_y = geo.start_y[0] + np.arange(out_h + 1) * geo.bin_h[0]
    return SamplingPoints(points.astype(np.float64), neighbours, weights.astype(np.float64),
                          edges_x.astype(np.float64), edges_y.astype(np.float64), max(grid_h * grid_w, 1))


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


def check_roi_inputs(op: str, input, boxes, output_size, spatial_scale):
    """Checked (input Tensor, rois (K, 5), batch indices (K,), output (h, w), scale)."""
    x = check_tensor(op, "input", input, 4, "(N, C, H, W)")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be float32 or float64, got dtype {x.dtype}")
    size = pair(op, "output_size", output_size, minimum=1)
    scale = _check_scale(op, spatial_scale)
    rois = boxes_to_rois(op, boxes)
    batch = _check_rois(op, rois, x.shape[0])
    return x, rois, batch, size, scale


def check_sampling_ratio(op: str, sampling_ratio) -> int:
    """RoIAlign's sampling_ratio: an int (<= 0 for adaptive)."""
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, (numbers.Integral, np.integer)):
        raise ValueError(f"{op}: sampling_ratio must be an int (<= 0 for adaptive), got {sampling_ratio!r}")
    return int(sampling_ratio)
