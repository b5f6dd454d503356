"""The tile transforms of Winograd's F(2x2, 3x3) convolution (see conv/winograd.py), as Numba kernels.

Layouts. ``x`` is an image batch (N, C, H, W); a tile (ty, tx) is the 4x4 window whose top-left pixel
is x[2 ty - ph, 2 tx - pw] (0 outside the image). Its transform V = B^T d B lands in
``v[4 a + b, c, t]``, t = (n * rows + ty - row0) * tw + tx, for the tile rows [row0, row0 + rows) of one
band. ``m`` (16, O, T) holds the products M = U V of the same tiles; the output transform
Y = A^T M A writes the 2x2 outputs y[n, o, 2 ty + i, 2 tx + j] that fall inside (oh, ow).

Every transform is separable: B^T d B is B^T applied to the tile's columns (a combination of 4 input
rows) and then to its rows. The row step is done once per tile row over the whole width (a tile row's
tiles share it); the column step is then a loop over tx that Numba vectorises:

    B^T v = (v0 - v2, v1 + v2, v2 - v1, v1 - v3)        B w = (w0, w1 - w2 + w3, -w0 + w1 + w2, -w3)
    A^T m = (m0 + m1 + m2, m1 - m2 - m3)                A z = (z0, z0 + z1, z0 - z1, -z1)

The adjoints (``scatter`` / ``adjoint``) run the same steps backwards with the transposed matrices B and
A: the input one overlap-adds a tile's gradient onto the 4x4 pixels it read (tiles overlap by 2).
Each (n, c) or (n, o) plane is written by one thread only, so the parallel kernels never race; the
``_serial`` twins run on the calling thread, for arrays too small to wake the pool.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kernels import _valid_range  # output indices whose input index lies inside the image


@njit(cache=True)
def _input_plane(x, v, n, c, ph, pw, dh, dw, row0, tw, scatter):
    """Tiles of plane x[n, c] for one band, for each of its dh*dw sub-grids (a, b): v[:, c, tiles] = B^T d B
    (gather), or, with ``scatter``, x[n, c] += the adjoint B dV B^T of every tile, overlap-added (x zeroed
    by the caller). Sub-grid (a, b) pixel (r, q) is x[n, c, dh r + a - ph, dw q + b - pw]."""
    height, width = x.shape[2], x.shape[3]
    grids = dh * dw
    rows = v.shape[2] // (x.shape[0] * grids * tw)
    pad = np.zeros((2 * rows + 2, 2 * tw + 2), x.dtype)  # one sub-grid's band, 0 outside the image
    rowt = np.zeros((4, pad.shape[1]), x.dtype)  # B^T over one tile row's 4 pixel rows
    for grid in range(grids):
        a, b = grid // dw, grid % dw
        r_lo, r_hi = _valid_range(2 * row0 * dh + a - ph, dh, height, pad.shape[0])
        q_lo, q_hi = _valid_range(b - pw, dw, width, pad.shape[1])
        top, left = 2 * row0 * dh + a - ph, q_lo * dw + b - pw  # image row of pad row 0, column of q_lo
        pad[:] = 0
        if q_lo == q_hi:  # no column of this sub-grid lies in the image (only padding)
            r_hi = r_lo
        if not scatter:
            for r in range(r_lo, r_hi):
                line, row = x[n, c, top + r * dh], pad[r]
                for k in range(q_hi - q_lo):  # a loop, not a strided slice: numba copies those slowly
                    row[q_lo + k] = line[left + k * dw]
        _tile_rows(pad, rowt, v, c, (n * grids + grid) * rows * tw, rows, tw, scatter)
        if scatter:
            for r in range(r_lo, r_hi):
                line, row = x[n, c, top + r * dh], pad[r]
                for k in range(q_hi - q_lo):
                    line[left + k * dw] += row[q_lo + k]


@njit(cache=True)
def _tile_rows(pad, rowt, v, c, first, rows, tw, scatter):
    """B^T d B of the tiles of ``pad`` (one sub-grid's band) into v[:, c, first:], or the adjoint."""
    for ty in range(rows):
        r, first_tile = 2 * ty, first + ty * tw
        if not scatter:
            for q in range(pad.shape[1]):
                d0, d1, d2, d3 = pad[r, q], pad[r + 1, q], pad[r + 2, q], pad[r + 3, q]
                rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q] = d0 - d2, d1 + d2, d2 - d1, d1 - d3
            for a in range(4):
                s = rowt[a]
                v0, v1, v2, v3 = v[4 * a, c], v[4 * a + 1, c], v[4 * a + 2, c], v[4 * a + 3, c]
                for tx in range(tw):
                    q = 2 * tx
                    v0[first_tile + tx] = s[q] - s[q + 2]
                    v1[first_tile + tx] = s[q + 1] + s[q + 2]
                    v2[first_tile + tx] = s[q + 2] - s[q + 1]
                    v3[first_tile + tx] = s[q + 1] - s[q + 3]
            continue
        rowt[:] = 0
        for a in range(4):
            s = rowt[a]
            g0, g1, g2, g3 = v[4 * a, c], v[4 * a + 1, c], v[4 * a + 2, c], v[4 * a + 3, c]
            for tx in range(tw):  # B w per tile, overlap-added along the row
                q, t = 2 * tx, first_tile + tx
                s[q] += g0[t]
                s[q + 1] += g1[t] - g2[t] + g3[t]
                s[q + 2] += g1[t] + g2[t] - g0[t]
                s[q + 3] -= g3[t]
        for q in range(pad.shape[1]):
            s0, s1, s2, s3 = rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q]
            pad[r, q] += s0
            pad[r + 1, q] += s1 - s2 + s3
            pad[r + 2, q] += s1 + s2 - s0
            pad[r + 3, q] -= s3


@njit(cache=True)
def _output_plane(m, y, bias, n, o, dh, dw, row0, tw, adjoint):
    """Tiles of plane y[n, o] for one band, for each of its dh*dw sub-grids y[a::dh, b::dw]:
    y = A^T M A + bias, cropped to y's size; or, with ``adjoint``, m[:, o, tiles] = A dY A^T (dY 0
    beyond y's size)."""
    grids = dh * dw
    rows = m.shape[2] // (y.shape[0] * grids * tw)
    colt = np.zeros((4, 2 * tw), m.dtype)  # A^T over each tile's 4 columns, for the 4 tile rows a
    if grids == 1:  # the plane itself (a contiguous view: its loops vectorise)
        _output_grid(m, y[n, o], colt, bias[o], o, n * rows * tw, row0, rows, tw, adjoint)
        return
    for grid in range(grids):
        sub = y[n, o, grid // dw::dh, grid % dw::dw]
        _output_grid(m, sub, colt, bias[o], o, (n * grids + grid) * rows * tw, row0, rows, tw, adjoint)


@njit(cache=True)
def _output_grid(m, y, colt, bias, o, first_tile, row0, rows, tw, adjoint):
    """_output_plane on one sub-grid y (a 2-D view) whose band's tiles start at m[:, o, first_tile]."""
    oh, ow = y.shape
    for ty in range(rows):
        first, oy = first_tile + ty * tw, 2 * (row0 + ty)
        last = min(2, oh - oy)  # output rows of this tile inside y (0 in a sub-grid shorter than others)
        span = min(2 * tw, ow) if last > 0 else 0
        if not adjoint:
            if last <= 0:
                continue
            for a in range(4):
                s = colt[a]
                m0, m1, m2, m3 = m[4 * a, o], m[4 * a + 1, o], m[4 * a + 2, o], m[4 * a + 3, o]
                for tx in range(tw):
                    t = first + tx
                    s[2 * tx] = m0[t] + m1[t] + m2[t]
                    s[2 * tx + 1] = m1[t] - m2[t] - m3[t]
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
            m0, m1, m2, m3 = m[4 * a, o], m[4 * a + 1, o], m[4 * a + 2, o], m[4 * a + 3, o]
            for tx in range(tw):  # then A z over the tile's 2 output columns
                t, h0, h1 = first + tx, s[2 * tx], s[2 * tx + 1]
                m0[t], m1[t], m2[t], m3[t] = h0, h0 + h1, h0 - h1, -h1


@njit(cache=True, parallel=True)
def input_tiles(x, v, ph, pw, dh, dw, row0, tw, scatter):
    """v = B^T d B for every tile of the band (gather) or its adjoint into x (scatter), over (n, c) planes."""
    channels = x.shape[1]
    for p in prange(x.shape[0] * channels):
        _input_plane(x, v, p // channels, p % channels, ph, pw, dh, dw, row0, tw, scatter)


@njit(cache=True)
def input_tiles_serial(x, v, ph, pw, dh, dw, row0, tw, scatter):
    """``input_tiles`` on the calling thread (small arrays)."""
    for p in range(x.shape[0] * x.shape[1]):
        _input_plane(x, v, p // x.shape[1], p % x.shape[1], ph, pw, dh, dw, row0, tw, scatter)


@njit(cache=True, parallel=True)
def output_tiles(m, y, bias, dh, dw, row0, tw, adjoint):
    """y = A^T M A + bias for every tile of the band, or m = A dY A^T (adjoint), over (n, o) planes."""
    channels = y.shape[1]
    for p in prange(y.shape[0] * channels):
        _output_plane(m, y, bias, p // channels, p % channels, dh, dw, row0, tw, adjoint)


@njit(cache=True)
def output_tiles_serial(m, y, bias, dh, dw, row0, tw, adjoint):
    """``output_tiles`` on the calling thread (small arrays)."""
    for p in range(y.shape[0] * y.shape[1]):
        _output_plane(m, y, bias, p // y.shape[1], p % y.shape[1], dh, dw, row0, tw, adjoint)
