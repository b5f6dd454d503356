"""The tile transforms of Winograd's F(m x m, 3x3) convolutions, m = 2 or 4 (see conv/winograd.py), as
Numba kernels.

Layouts. ``x`` is an image batch (N, C, H, W); a tile (ty, tx) is the (m + 2)^2 window whose top-left
pixel is x[m ty - ph, m tx - pw] (0 outside the image). Its transform V = B^T d B lands in
``v[(m + 2) a + b, c, t]``, t = (n * rows + ty - row0) * tw + tx, for the tile rows [row0, row0 + rows)
of one band. ``mm`` ((m + 2)^2, O, T) holds the products M = U V of the same tiles; the output transform
Y = A^T M A writes the m x m outputs y[n, o, m ty + i, m tx + j] that fall inside (oh, ow).

Every transform is separable: B^T d B is B^T applied to the tile's columns (a combination of m + 2 input
rows) and then to its rows. The row step is done once per tile row over the whole width (a tile row's
tiles share it); the column step is then a loop over tx. F(2x2, 3x3)'s 1-D steps:

    B^T v = (v0 - v2, v1 + v2, v2 - v1, v1 - v3)        B w = (w0, w1 - w2 + w3, -w0 + w1 + w2, -w3)
    A^T m = (m0 + m1 + m2, m1 - m2 - m3)                A z = (z0, z0 + z1, z0 - z1, -z1)

and F(4x4, 3x3)'s are the products with winograd.F4's integer B^T and dyadic A^T, written out in
``_bt6`` / ``_b6`` / ``_at6`` / ``_a6``. (Written out, they share subexpressions across a tile's outputs;
measured on one thread, they ran 1.8x faster than sums of whole arrays with the matrices' entries as
coefficients, which vectorise but repeat the work once per output.)

The adjoints (``scatter`` / ``adjoint``) run the same steps backwards with the transposed matrices B and
A: the input one overlap-adds a tile's gradient onto the pixels it read (tiles overlap by 2).
Each (n, c) or (n, o) plane is written by one thread only, so the parallel kernels never race; the
``_serial`` twins run on the calling thread, for arrays too small to wake the pool.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from .kernels import _valid_range  # output indices whose input index lies inside the image


@njit(cache=True)
def _input_plane(x, v, n, c, ph, pw, dh, dw, row0, tw, scatter, m):
    """Tiles of plane x[n, c] for one band, for each of its dh*dw sub-grids (a, b): v[:, c, tiles] = B^T d B
    (gather), or, with ``scatter``, x[n, c] += the adjoint B dV B^T of every tile, overlap-added (the plane
    is zeroed here in the first band, row0 = 0: no zeroing pass of its own over x). Sub-grid (a, b) pixel
    (r, q) is x[n, c, dh r + a - ph, dw q + b - pw]."""
    if scatter and row0 == 0:
        x[n, c] = 0
    height, width = x.shape[2], x.shape[3]
    grids = dh * dw
    rows = v.shape[2] // (x.shape[0] * grids * tw)
    pad = np.zeros((m * rows + 2, m * tw + 2), x.dtype)  # one sub-grid's band, 0 outside the image
    rowt = np.zeros((m + 2, pad.shape[1]), x.dtype)  # B^T over one tile row's m + 2 pixel rows
    for grid in range(grids):
        a, b = grid // dw, grid % dw
        r_lo, r_hi = _valid_range(m * row0 * dh + a - ph, dh, height, pad.shape[0])
        q_lo, q_hi = _valid_range(b - pw, dw, width, pad.shape[1])
        top, left = m * row0 * dh + a - ph, q_lo * dw + b - pw  # image row of pad row 0, column of q_lo
        pad[:] = 0
        if q_lo == q_hi:  # no column of this sub-grid lies in the image (only padding)
            r_hi = r_lo
        if not scatter:
            _copy_band(x[n, c], pad, r_lo, r_hi, q_lo, q_hi, top, left, dh, dw, False)
        first = (n * grids + grid) * rows * tw
        if m == 2:
            _tile_rows_f2(pad, rowt, v, c, first, rows, tw, scatter)
        else:
            _tile_rows_f4(pad, rowt, v, c, first, rows, tw, scatter)
        if scatter:
            _copy_band(x[n, c], pad, r_lo, r_hi, q_lo, q_hi, top, left, dh, dw, True)


@njit(cache=True)
def _copy_band(plane, pad, r_lo, r_hi, q_lo, q_hi, top, left, dh, dw, scatter):
    """pad[r, q] = plane[top + dh r, left + dw (q - q_lo)] for the pad rows [r_lo, r_hi) and columns
    [q_lo, q_hi) inside the image; or, with ``scatter``, the adjoint: plane[...] += pad[r, q]."""
    count = q_hi - q_lo
    for r in range(r_lo, r_hi):
        line, row = plane[top + r * dh], pad[r, q_lo:q_hi]  # views indexed by k: SIMD
        if dw == 1:
            line = line[left:left + count]
            if scatter:
                for k in range(count):
                    line[k] += row[k]
            else:
                for k in range(count):
                    row[k] = line[k]
            continue
        # unsigned indices: numba skips the negative-index wraparound (as kernels.py's _plane)
        start, step = uint64(left), uint64(dw)
        if scatter:
            for k in range(uint64(count)):
                line[start + k * step] += row[k]
        else:
            for k in range(uint64(count)):
                row[k] = line[start + k * step]


@njit(cache=True)
def _tile_rows_f2(pad, rowt, v, c, first, rows, tw, scatter):
    """F(2x2): B^T d B of the 4x4 tiles of ``pad`` (a sub-grid's band) into v[:, c, first:], or the adjoint."""
    for ty in range(rows):
        r, first_tile = 2 * ty, first + ty * tw
        tiles = slice(first_tile, first_tile + tw)  # index views by tx: a computed index defeats SIMD
        if not scatter:
            for q in range(pad.shape[1]):
                d0, d1, d2, d3 = pad[r, q], pad[r + 1, q], pad[r + 2, q], pad[r + 3, q]
                rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q] = d0 - d2, d1 + d2, d2 - d1, d1 - d3
            for a in range(4):
                s = rowt[a]
                v0, v1, v2, v3 = v[4 * a, c, tiles], v[4 * a + 1, c, tiles], v[4 * a + 2, c, tiles], \
                    v[4 * a + 3, c, tiles]
                for tx in range(tw):
                    q = 2 * tx
                    v0[tx] = s[q] - s[q + 2]
                    v1[tx] = s[q + 1] + s[q + 2]
                    v2[tx] = s[q + 2] - s[q + 1]
                    v3[tx] = s[q + 1] - s[q + 3]
            continue
        rowt[:] = 0
        for a in range(4):
            s = rowt[a]
            g0, g1, g2, g3 = v[4 * a, c, tiles], v[4 * a + 1, c, tiles], v[4 * a + 2, c, tiles], \
                v[4 * a + 3, c, tiles]
            for tx in range(tw):  # B w per tile, overlap-added along the row
                q = 2 * tx
                s[q] += g0[tx]
                s[q + 1] += g1[tx] - g2[tx] + g3[tx]
                s[q + 2] += g1[tx] + g2[tx] - g0[tx]
                s[q + 3] -= g3[tx]
        for q in range(pad.shape[1]):
            s0, s1, s2, s3 = rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q]
            pad[r, q] += s0
            pad[r + 1, q] += s1 - s2 + s3
            pad[r + 2, q] += s1 + s2 - s0
            pad[r + 3, q] -= s3


# F(4x4, 3x3)'s 1-D steps: products with winograd.F4's B^T (6x6, integers), B, A^T (4x6) and A. Their
# constants come in an array ``k`` of the data's dtype: Numba types ``2 * x`` float64 for a float32 x.
@njit(cache=True, inline="always")
def _constants(like):
    """k = (2, 3, 4, 5, 8, 1/2, 1/4, 1/8) in ``like``'s dtype."""
    return np.array((2.0, 3.0, 4.0, 5.0, 8.0, 0.5, 0.25, 0.125), like.dtype)


@njit(cache=True, inline="always")
def _bt6(d0, d1, d2, d3, d4, d5, k):
    """B^T d for a 6-vector d."""
    two, three, four, five = k[0], k[1], k[2], k[3]
    return (two * (d0 - d4) - three * (d1 - d3) - four * d2 + four * d4, d2 - two * d1 + five * d3 + two * d4,
            two * d1 - five * d2 + d3 + two * d4, four * (d3 - d1) - two * d2 + two * d4,
            d1 - two * d2 - d3 + two * d4, two * (d1 + d5) - three * d2 - four * d3 + three * d4)


@njit(cache=True, inline="always")
def _b6(s0, s1, s2, s3, s4, s5, k):
    """B s = (B^T)^T s for a 6-vector s: the adjoint of _bt6."""
    two, three, four, five = k[0], k[1], k[2], k[3]
    return (two * s0, two * (s2 + s5 - s1) - three * s0 + s4 - four * s3,
            s1 - four * s0 - five * s2 - two * (s3 + s4) - three * s5,
            three * s0 + five * s1 + s2 + four * (s3 - s5) - s4, two * (s0 + s1 + s2 + s3 + s4) + three * s5,
            two * s5)


@njit(cache=True, inline="always")
def _at6(m0, m1, m2, m3, m4, m5, k):
    """A^T m for a 6-vector m: 4 outputs (the points 0, 1, -1, 1/2, -2 and infinity)."""
    two, four, eight, half, quarter, eighth = k[0], k[2], k[4], k[5], k[6], k[7]
    plus, minus = m1 + m2, m1 - m2
    return (m0 + plus + m3 + m4, minus + half * m3 - two * m4, plus + quarter * m3 + four * m4,
            minus + eighth * m3 - eight * m4 + m5)


@njit(cache=True, inline="always")
def _a6(z0, z1, z2, z3, k):
    """A z for a 4-vector z: the adjoint of _at6."""
    two, four, eight, half, quarter, eighth = k[0], k[2], k[4], k[5], k[6], k[7]
    return (z0, z0 + z1 + z2 + z3, z0 - z1 + z2 - z3, z0 + half * z1 + quarter * z2 + eighth * z3,
            z0 - two * z1 + four * z2 - eight * z3, z3)


@njit(cache=True, inline="always")
def _six_rows(array, a, channel, tiles):
    """array[6 a + b, channel, tiles] for b = 0 .. 5 (views): row a of the 6x6 tile positions of V or M."""
    return (array[6 * a, channel, tiles], array[6 * a + 1, channel, tiles], array[6 * a + 2, channel, tiles],
            array[6 * a + 3, channel, tiles], array[6 * a + 4, channel, tiles], array[6 * a + 5, channel, tiles])


@njit(cache=True)
def _tile_rows_f4(pad, rowt, v, c, first, rows, tw, scatter):
    """F(4x4): B^T d B of the 6x6 tiles of ``pad`` (a sub-grid's band) into v[:, c, first:], or the adjoint."""
    k = _constants(pad)
    for ty in range(rows):
        r, first_tile = 4 * ty, first + ty * tw
        tiles = slice(first_tile, first_tile + tw)  # index views by tx: a computed index defeats SIMD
        if not scatter:
            for q in range(pad.shape[1]):
                e = _bt6(pad[r, q], pad[r + 1, q], pad[r + 2, q], pad[r + 3, q], pad[r + 4, q], pad[r + 5, q],
                         k)
                rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q], rowt[4, q], rowt[5, q] = e
            for a in range(6):
                s = rowt[a]
                v0, v1, v2, v3, v4, v5 = _six_rows(v, a, c, tiles)
                for tx in range(tw):
                    q = 4 * tx
                    v0[tx], v1[tx], v2[tx], v3[tx], v4[tx], v5[tx] = _bt6(s[q], s[q + 1], s[q + 2], s[q + 3],
                                                                          s[q + 4], s[q + 5], k)
            continue
        rowt[:] = 0
        for a in range(6):
            s = rowt[a]
            g0, g1, g2, g3, g4, g5 = _six_rows(v, a, c, tiles)
            for tx in range(tw):  # B w per tile, overlap-added along the row
                q = 4 * tx
                w0, w1, w2, w3, w4, w5 = _b6(g0[tx], g1[tx], g2[tx], g3[tx], g4[tx], g5[tx], k)
                s[q] += w0
                s[q + 1] += w1
                s[q + 2] += w2
                s[q + 3] += w3
                s[q + 4] += w4
                s[q + 5] += w5
        for q in range(pad.shape[1]):
            w0, w1, w2, w3, w4, w5 = _b6(rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q], rowt[4, q],
                                         rowt[5, q], k)
            pad[r, q] += w0
            pad[r + 1, q] += w1
            pad[r + 2, q] += w2
            pad[r + 3, q] += w3
            pad[r + 4, q] += w4
            pad[r + 5, q] += w5


@njit(cache=True)
def _output_plane(mm, y, bias, n, o, dh, dw, row0, tw, adjoint, m):
    """Tiles of plane y[n, o] for one band, for each of its dh*dw sub-grids y[a::dh, b::dw]:
    y = A^T M A + bias, cropped to y's size; or, with ``adjoint``, mm[:, o, tiles] = A dY A^T (dY 0
    beyond y's size)."""
    grids = dh * dw
    rows = mm.shape[2] // (y.shape[0] * grids * tw)
    colt = np.zeros((m + 2, m * tw), mm.dtype)  # A^T over each tile's m + 2 columns, for its tile rows a
    if grids == 1:  # the plane itself (a contiguous view: its loops vectorise)
        _output_grid(mm, y[n, o], colt, bias[o], o, n * rows * tw, row0, rows, tw, adjoint, m)
        return
    for grid in range(grids):
        sub = y[n, o, grid // dw::dh, grid % dw::dw]
        _output_grid(mm, sub, colt, bias[o], o, (n * grids + grid) * rows * tw, row0, rows, tw, adjoint, m)


@njit(cache=True)
def _output_grid(mm, y, colt, bias, o, first_tile, row0, rows, tw, adjoint, m):
    """_output_plane on one sub-grid y (a 2-D view) whose band's tiles start at mm[:, o, first_tile]."""
    if m == 2:
        _output_grid_f2(mm, y, colt, bias, o, first_tile, row0, rows, tw, adjoint)
    else:
        _output_grid_f4(mm, y, colt, bias, o, first_tile, row0, rows, tw, adjoint)


@njit(cache=True, inline="always")
def _output_row(first_tile, ty, tw, row0, m, oh, ow):
    """Tile row ty of a band (m x m output tiles) on an (oh, ow) sub-grid: (its tiles' slice of M, its
    first output row, how many of its m output rows lie inside (0 or fewer in a sub-grid shorter than
    others), how many output columns lie inside)."""
    first, oy = first_tile + ty * tw, m * (row0 + ty)
    last = min(m, oh - oy)
    span = min(m * tw, ow) if last > 0 else 0
    return slice(first, first + tw), oy, last, span  # views indexed by tx: a computed index defeats SIMD


@njit(cache=True)
def _output_grid_f2(m, y, colt, bias, o, first_tile, row0, rows, tw, adjoint):
    """_output_grid for F(2x2, 3x3)."""
    oh, ow = y.shape
    for ty in range(rows):
        tiles, oy, last, span = _output_row(first_tile, ty, tw, row0, 2, oh, ow)
        if not adjoint:
            if last <= 0:
                continue
            for a in range(4):
                s = colt[a]
                m0, m1, m2, m3 = m[4 * a, o, tiles], m[4 * a + 1, o, tiles], m[4 * a + 2, o, tiles], \
                    m[4 * a + 3, o, tiles]
                for tx in range(tw):
                    s[2 * tx] = m0[tx] + m1[tx] + m2[tx]
                    s[2 * tx + 1] = m1[tx] - m2[tx] - m3[tx]
            top = y[oy]
            for q in range(span):
                top[q] = colt[0, q] + colt[1, q] + colt[2, q] + bias
            if last == 2:
                low = y[oy + 1]
                for q in range(span):
                    low[q] = colt[1, q] - colt[2, q] - colt[3, q] + bias
            continue
        colt[:] = 0
        for q in range(span):  # A z over the tile's 2 output rows
            z0 = y[oy, q]
            z1 = y[oy + 1, q] if last == 2 else 0.0
            colt[0, q], colt[1, q], colt[2, q], colt[3, q] = z0, z0 + z1, z0 - z1, -z1
        for a in range(4):
            s = colt[a]
            m0, m1, m2, m3 = m[4 * a, o, tiles], m[4 * a + 1, o, tiles], m[4 * a + 2, o, tiles], \
                m[4 * a + 3, o, tiles]
            for tx in range(tw):  # then A z over the tile's 2 output columns
                h0, h1 = s[2 * tx], s[2 * tx + 1]
                m0[tx], m1[tx], m2[tx], m3[tx] = h0, h0 + h1, h0 - h1, -h1


@njit(cache=True)
def _output_grid_f4(mm, y, colt, bias, o, first_tile, row0, rows, tw, adjoint):
    """_output_grid for F(4x4, 3x3)."""
    oh, ow = y.shape
    k = _constants(colt)
    for ty in range(rows):
        tiles, oy, last, span = _output_row(first_tile, ty, tw, row0, 4, oh, ow)
        if not adjoint:
            if last <= 0:
                continue
            for a in range(6):
                s = colt[a]
                m0, m1, m2, m3, m4, m5 = _six_rows(mm, a, o, tiles)
                for tx in range(tw):
                    q = 4 * tx
                    s[q], s[q + 1], s[q + 2], s[q + 3] = _at6(m0[tx], m1[tx], m2[tx], m3[tx], m4[tx], m5[tx],
                                                              k)
            for q in range(span):
                y0, y1, y2, y3 = _at6(colt[0, q], colt[1, q], colt[2, q], colt[3, q], colt[4, q], colt[5, q],
                                      k)
                y[oy, q] = y0 + bias
                if last > 1:
                    y[oy + 1, q] = y1 + bias
                if last > 2:
                    y[oy + 2, q] = y2 + bias
                if last > 3:
                    y[oy + 3, q] = y3 + bias
            continue
        colt[:] = 0
        for q in range(span):  # A z over the tile's 4 output rows
            z0 = y[oy, q]
            z1 = y[oy + 1, q] if last > 1 else 0.0
            z2 = y[oy + 2, q] if last > 2 else 0.0
            z3 = y[oy + 3, q] if last > 3 else 0.0
            colt[0, q], colt[1, q], colt[2, q], colt[3, q], colt[4, q], colt[5, q] = _a6(z0, z1, z2, z3, k)
        for a in range(6):
            s = colt[a]
            m0, m1, m2, m3, m4, m5 = _six_rows(mm, a, o, tiles)
            for tx in range(tw):  # then A z over the tile's 4 output columns
                q = 4 * tx
                m0[tx], m1[tx], m2[tx], m3[tx], m4[tx], m5[tx] = _a6(s[q], s[q + 1], s[q + 2], s[q + 3], k)


@njit(cache=True, parallel=True)
def input_tiles(x, v, ph, pw, dh, dw, row0, tw, scatter, m):
    """v = B^T d B for every tile of the band (gather) or its adjoint into x (scatter), over (n, c) planes."""
    channels = x.shape[1]
    for p in prange(x.shape[0] * channels):
        _input_plane(x, v, p // channels, p % channels, ph, pw, dh, dw, row0, tw, scatter, m)


@njit(cache=True)
def input_tiles_serial(x, v, ph, pw, dh, dw, row0, tw, scatter, m):
    """``input_tiles`` on the calling thread (small arrays)."""
    for p in range(x.shape[0] * x.shape[1]):
        _input_plane(x, v, p // x.shape[1], p % x.shape[1], ph, pw, dh, dw, row0, tw, scatter, m)


@njit(cache=True, parallel=True)
def output_tiles(mm, y, bias, dh, dw, row0, tw, adjoint, m):
    """y = A^T M A + bias for every tile of the band, or mm = A dY A^T (adjoint), over (n, o) planes."""
    channels = y.shape[1]
    for p in prange(y.shape[0] * channels):
        _output_plane(mm, y, bias, p // channels, p % channels, dh, dw, row0, tw, adjoint, m)


@njit(cache=True)
def output_tiles_serial(mm, y, bias, dh, dw, row0, tw, adjoint, m):
    """``output_tiles`` on the calling thread (small arrays)."""
    for p in range(y.shape[0] * y.shape[1]):
        _output_plane(mm, y, bias, p // y.shape[1], p % y.shape[1], dh, dw, row0, tw, adjoint, m)
