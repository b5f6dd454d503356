"""Kernel taps that read only zero padding, and the blocks of the output grid that have none.

Output row oy of a convolution reads input row ``oy * sh - ph + i * dh`` through kernel row i. Where
that row lies in the zero padding the tap adds nothing, yet the column matrix holds its zeros and the
GEMM multiplies them. In an atrous convolution most taps can be like that: DeepLab's ASPP at rate 36
on a 65x65 map (padding 36) reads the image through its outer kernel rows on only 29 of the 65 output
rows, so 60% of its products are 0 * w; once the dilation reaches the input size only the centre
tap ever sees a pixel.

For kernel row i the output rows that read inside the image form one interval [lo_i, hi_i)
(``valid_range``). Cut the output rows at every lo_i and hi_i: in each segment between two cuts a
kernel row reads the image on every row or on none, and the kernel rows that do form one interval
[first, stop) (the taps' offsets grow with i). The same holds for columns. On a block (row segment x
column segment) the convolution is therefore exactly the convolution with the sub-kernel
``W[:, :, first_row:stop_row, first_col:stop_col]`` over the output grid cut to the block, with the
leading padding shifted to where the block's first tap reads:

    ph' = ph - top * sh - first_row * dh        (pw' likewise, with left, first_col, sw, dw)

(0 or negative: the sub-kernel never touches the padding). A block where no tap reads the image
is just the bias. With a dilation at least the input size the only block is the whole grid with
the centre tap, ph' = pw' = 0: a 1x1 convolution with the centre weights.

Only zeros are dropped, so the blocks give the full column matrix's results up to the float32
rounding of a sum taken in another order.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from .geometry import Geometry


class Segment(NamedTuple):
    """Output indices [start, stop) along one axis, on which exactly the kernel taps [first_tap,
    stop_tap) read inside the image (first_tap == stop_tap: none does)."""

    start: int
    stop: int
    first_tap: int
    stop_tap: int


def tap_segments(kernel: int, stride: int, padding: int, dilation: int, out_size: int,
                 in_size: int) -> list[Segment]:
    """The output axis cut where a kernel tap enters or leaves the image (see module doc)."""
    from .kernels import valid_range  # the kernels' own helper, as plain Python (loaded with them)

    ranges = [valid_range(i * dilation - padding, stride, in_size, out_size) for i in range(kernel)]
    cuts = sorted({0, out_size, *(bound for pair in ranges for bound in pair)})
    segments = []
    for start, stop in zip(cuts, cuts[1:]):
        inside = [i for i, (lo, hi) in enumerate(ranges) if lo <= start and stop <= hi]
        first, stop_tap = (inside[0], inside[-1] + 1) if inside else (0, 0)
        segments.append(Segment(start, stop, first, stop_tap))
    return segments


class TapBlock(NamedTuple):
    """One block of the output grid: its rows and columns, and the convolution that computes it
    (``geom``: the sub-kernel's geometry, None where no tap reads the image)."""

    rows: Segment
    cols: Segment
    geom: Geometry | None


@lru_cache(maxsize=1024)
def tap_blocks(geom: Geometry) -> tuple[TapBlock, ...]:
    """The output grid as blocks, each with the sub-kernel convolution that computes it exactly.
    Cached by geometry: conv2d's forward asks for every call (padding_tap_share), and a network
    repeats the same few geometries every step."""
    row_segments = tap_segments(geom.kh, geom.sh, geom.ph, geom.dh, geom.oh, geom.height)
    col_segments = tap_segments(geom.kw, geom.sw, geom.pw, geom.dw, geom.ow, geom.width)
    blocks = []
    for rows in row_segments:
        for cols in col_segments:
            sub = None
            if rows.stop_tap > rows.first_tap and cols.stop_tap > cols.first_tap:
                sub = geom._replace(kh=rows.stop_tap - rows.first_tap, kw=cols.stop_tap - cols.first_tap,
                                    oh=rows.stop - rows.start, ow=cols.stop - cols.start,
                                    ph=geom.ph - rows.start * geom.sh - rows.first_tap * geom.dh,
                                    pw=geom.pw - cols.start * geom.sw - cols.first_tap * geom.dw)
            blocks.append(TapBlock(rows, cols, sub))
    return tuple(blocks)


@lru_cache(maxsize=1024)
def padding_tap_share(geom: Geometry) -> float:
    """The share of the column matrix's entries that are padding zeros (what tap_blocks skips)."""
    total = geom.oh * geom.ow * geom.kh * geom.kw
    kept = sum(b.geom.oh * b.geom.ow * b.geom.kh * b.geom.kw for b in tap_blocks(geom) if b.geom is not None)
    return 1.0 - kept / total
