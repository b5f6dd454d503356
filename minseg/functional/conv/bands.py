"""conv2d's forward for large convolutions: in bands of output rows, and in blocks without the taps
that read only padding.

A column matrix is C*kH*kW rows by the output's pixels: DeepLab's ASPP builds 2048*9 x 65*65,
311 MB in float32, next to a 35 MB output. ``conv_forward_into`` builds it a band of output rows at
a time, within COLUMN_BUDGET_BYTES; ``conv_forward_by_taps`` first cuts the output grid into the
blocks of conv/taps.py, each computed with only the taps that read the image.
"""
from __future__ import annotations

import numpy as np

from .columns import batch_major, grouped_matmul, grouped_weight, im2col, is_pointwise, pointwise_product, stack_groups
from .geometry import Geometry
from .taps import padding_tap_share, tap_blocks

# Largest column matrix conv2d's forward builds at once; a larger one is built a band of output rows
# at a time (DeepLab's ASPP: 2048*9 rows x 65*65 columns, 311 MB in float32, next to a 35 MB output).
COLUMN_BUDGET_BYTES = 64 * 2**20


def band_rows(geom: Geometry, channels: int, n: int, itemsize: int) -> int:
    """Output rows per band such that one band's column matrix fits COLUMN_BUDGET_BYTES (at least 1)."""
    row_bytes = channels * geom.kh * geom.kw * n * geom.ow * itemsize
    return max(1, min(geom.oh, COLUMN_BUDGET_BYTES // max(row_bytes, 1)))


def conv_forward_into(out: np.ndarray, x: np.ndarray, w: np.ndarray, geom: Geometry, groups: int) -> None:
    """out (N, O, oh, ow) = W @ im2col(x), no bias, for the grouped weight w (G, O/G, K/G); ``out`` may
    be a view (a block of a larger output). Built ``band_rows`` output rows at a time, so that the
    column matrix never exceeds one band's (K, N, rows*ow): output rows [top, top + rows) read input
    rows from top*sh - ph on, so a band is the same convolution with the output grid cut to ``rows``
    rows and the leading padding moved up by top*sh (negative once the band starts inside the image;
    the kernels test every input row against the image anyway). Each band's GEMM result lands in
    its rows of ``out``, batch-major."""
    n, out_channels = x.shape[0], w.shape[0] * w.shape[1]
    rows = band_rows(geom, x.shape[1], n, x.dtype.itemsize)
    for top in range(0, geom.oh, rows):
        band = geom._replace(oh=min(rows, geom.oh - top), ph=geom.ph - top * geom.sh)
        part = grouped_matmul(w, stack_groups(im2col(x, band, "cols"), groups), "gemm")  # (G, O/G, N*rows*ow)
        out[:, :, top:top + band.oh] = part.reshape(out_channels, n, band.oh, geom.ow).transpose(1, 0, 2, 3)


# When conv2d's forward runs block by block without the taps that read only padding (conv_forward_by_taps).
# Measured on 2 threads (one-thread spot checks agreed), forward + backward, interleaved medians, against
# the whole column matrix; DeepLab's ASPP on a 65x65 map has 23% padding products (rate 12), 43% (24),
# 60% (36):
# - where one block remains (a dilation beyond the input: the centre tap only, a 1x1 GEMM) it always pays:
#   0.67 .. 0.71 of the time (64 and 256 channels, 8x8 .. 65x65);
# - several blocks pay only on large convolutions with much padding: 256 -> 256 channels at 65x65, 0.94 and
#   0.90 of the time at rates 24 and 36, but 1.14 at rate 12 (23%);
# - on everything smaller they cost more, at 23 .. 73% padding: 1.15 .. 1.34 (64 -> 64 at 8x8, rate 4; at
#   33x33, rates 6 .. 18; 256 -> 64 at 33x33, rate 24), and 1.5 .. 2.6 at 8x8 and 4x4 with padding 1
#   (9 blocks, most of them a pixel or a row: a GEMM call each).
TAP_SKIP_SHARE = 0.4  # several blocks: from this share of padding products on ...
TAP_SKIP_MIN_MACS = 10**8  # ... and this many multiply-adds per tap, N * C/groups * O * oh * ow


def skips_padding_taps(geom: Geometry, n: int, channels: int, out_channels: int, groups: int) -> bool:
    """Whether conv2d's forward should leave out the taps that read only padding (the measurements
    above): where a single block with fewer taps remains, or TAP_SKIP_SHARE and TAP_SKIP_MIN_MACS hold."""
    share = padding_tap_share(geom)
    if share == 0:
        return False
    if len(tap_blocks(geom)) == 1:
        return True
    macs = n * (channels // groups) * out_channels * geom.oh * geom.ow
    return share >= TAP_SKIP_SHARE and macs >= TAP_SKIP_MIN_MACS


def conv_forward_by_taps(x, weight, bias, geom: Geometry, groups: int) -> np.ndarray:
    """conv2d's forward without the kernel taps that read only zero padding (see conv/taps.py): each
    block of the output grid is the convolution with its sub-kernel, computed by conv_forward_into;
    a block no tap reaches is 0 (+ bias). Where the dilation is at least the input size the one block
    is the centre tap over the whole grid, a 1x1 convolution: a GEMM on x itself (pointwise_pixels).
    Exact: only products with padding zeros are left out (the sums run in another order)."""
    blocks = tap_blocks(geom)
    if len(blocks) == 1 and blocks[0].geom is not None and is_pointwise(blocks[0].geom):
        top, left = blocks[0].rows.first_tap, blocks[0].cols.first_tap
        return pointwise_product(x, weight[:, :, top:top + 1, left:left + 1], bias, blocks[0].geom, groups)
    n, out_channels = x.shape[0], weight.shape[0]
    y = np.empty((n, out_channels, geom.oh, geom.ow), dtype=x.dtype)
    for block in blocks:
        out = y[:, :, block.rows.start:block.rows.stop, block.cols.start:block.cols.stop]
        if block.geom is None:
            out[...] = 0
            continue
        taps = weight[:, :, block.rows.first_tap:block.rows.stop_tap, block.cols.first_tap:block.cols.stop_tap]
        conv_forward_into(out, x, grouped_weight(np.ascontiguousarray(taps), groups), block.geom, groups)
    if bias is not None:
        y += bias[:, None, None]
    return y


def conv_forward(x: np.ndarray, weight: np.ndarray, bias, geom: Geometry, groups: int) -> np.ndarray:
    """y = W @ im2col(x) + b (Conv2dFunction's forward): by blocks of taps where skips_padding_taps says so,
    in bands of rows where the column matrix exceeds COLUMN_BUDGET_BYTES, else one GEMM over the whole
    column matrix."""
    n, out_channels = x.shape[0], weight.shape[0]
    if skips_padding_taps(geom, n, x.shape[1], out_channels, groups):
        return conv_forward_by_taps(x, weight, bias, geom, groups)
    w = grouped_weight(weight, groups)
    if band_rows(geom, x.shape[1], n, x.dtype.itemsize) < geom.oh:
        y = np.empty((n, out_channels, geom.oh, geom.ow), dtype=x.dtype)
        conv_forward_into(y, x, w, geom, groups)
        return y if bias is None else np.add(y, bias[:, None, None], out=y)
    y = grouped_matmul(w, stack_groups(im2col(x, geom, "cols"), groups), "gemm")
    return batch_major(y, n, bias).reshape(n, out_channels, geom.oh, geom.ow)
