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
from numba import njit, prange, uint64

from .kernels import _valid_range  # output indices whose input index lies inside the image


@njit(cache=True)
def _load_grid(x, pad, n, c, top, dh, left, dw, scatter):
    """pad[p, r, k] = x[n, c, top + r dh, left + (2 k + p) dw] inside the image, 0 outside (the
    sub-grid's pixels split by column parity p); with ``scatter``, x += pad there instead."""
    height, width = x.shape[2], x.shape[3]
    r_lo, r_hi = _valid_range(top, dh, height, pad.shape[1])
    for p in range(2):
        k_lo, k_hi = _valid_range(left + p * dw, 2 * dw, width, pad.shape[2])
        if k_lo == k_hi:
            continue
        start = left + (2 * k_lo + p) * dw
        stop = start + (k_hi - k_lo - 1) * 2 * dw + 1
        for r in range(r_lo, r_hi):
            if scatter:
                x[n, c, top + r * dh, start:stop:2 * dw] += pad[p, r, k_lo:k_hi]
            else:
                pad[p, r, k_lo:k_hi] = x[n, c, top + r * dh, start:stop:2 * dw]


@njit(cache=True)
def _gather_tiles(pad, h, v, c, first, rows, tw):
    """V = B^T d B of one sub-grid band's tiles into v[:, c, first:first + rows tw]. First B^T over each
    tile's 4 columns 2 tx + (0, 1, 2, 3) = (even tx, odd tx, even tx + 1, odd tx + 1) on every pixel row,
    h[b, r, tx]; then B^T over the tile's 4 rows, h[b, 2 ty + (0, 1, 2, 3), tx]. V is written 4 rows
    (b, 4 + b, 8 + b, 12 + b) at a time, each a contiguous run over the band's tiles."""
    even, odd = pad[0], pad[1]
    for r in range(2 * rows + 2):
        e, o = even[r], odd[r]
        h0, h1, h2, h3 = h[0, r], h[1, r], h[2, r], h[3, r]
        for tx in range(tw):
            h0[tx], h1[tx], h2[tx], h3[tx] = e[tx] - e[tx + 1], o[tx] + e[tx + 1], e[tx + 1] - o[tx], o[tx] - o[tx + 1]
    stop = first + rows * tw
    for b in range(4):
        v0, v1, v2, v3 = v[b, c, first:stop], v[4 + b, c, first:stop], v[8 + b, c, first:stop], v[12 + b, c, first:stop]
        for ty in range(rows):
            d0, d1, d2, d3 = h[b, 2 * ty], h[b, 2 * ty + 1], h[b, 2 * ty + 2], h[b, 2 * ty + 3]
            w0, w1, w2, w3 = v0[ty * tw:], v1[ty * tw:], v2[ty * tw:], v3[ty * tw:]
            for tx in range(tw):
                w0[tx], w1[tx], w2[tx], w3[tx] = d0[tx] - d2[tx], d1[tx] + d2[tx], d2[tx] - d1[tx], d1[tx] - d3[tx]


@njit(cache=True)
def _scatter_tiles(pad, h, v, c, first, rows, tw):
    """The adjoint of _gather_tiles: pad = the sum of B dV B^T over the band's tiles (B w over the
    tile's rows into h, overlap-added where tile rows share pixel rows, then over its columns)."""
    h[:] = 0
    pad[:] = 0
    stop = first + rows * tw
    for b in range(4):
        g0, g1, g2, g3 = v[b, c, first:stop], v[4 + b, c, first:stop], v[8 + b, c, first:stop], v[12 + b, c, first:stop]
        for ty in range(rows):
            d0, d1, d2, d3 = h[b, 2 * ty], h[b, 2 * ty + 1], h[b, 2 * ty + 2], h[b, 2 * ty + 3]
            f0, f1, f2, f3 = g0[ty * tw:], g1[ty * tw:], g2[ty * tw:], g3[ty * tw:]
            for tx in range(tw):
                d0[tx] += f0[tx]
                d1[tx] += f1[tx] - f2[tx] + f3[tx]
                d2[tx] += f1[tx] + f2[tx] - f0[tx]
                d3[tx] -= f3[tx]
    for r in range(2 * rows + 2):
        e, o = pad[0, r], pad[1, r]
        h0, h1, h2, h3 = h[0, r], h[1, r], h[2, r], h[3, r]
        for tx in range(tw):  # columns 2 tx and 2 tx + 1 of each tile ...
            e[tx] += h0[tx]
            o[tx] += h1[tx] - h2[tx] + h3[tx]
        for tx in range(tw):  # ... and 2 tx + 2, 2 tx + 3, where the next tile starts
            e[tx + 1] += h1[tx] + h2[tx] - h0[tx]
            o[tx + 1] -= h3[tx]


@njit(cache=True)
def _input_plane(x, v, n, c, ph, pw, dh, dw, row0, tw, scatter):
    """Tiles of plane x[n, c] for one band, for each of its dh*dw sub-grids (a, b): v[:, c, tiles] = B^T d B
    (gather), or, with ``scatter``, x[n, c] += the adjoint B dV B^T of every tile, overlap-added (x zeroed
    by the caller). Sub-grid (a, b) pixel (r, q) is x[n, c, dh r + a - ph, dw q + b - pw]."""
    grids = dh * dw
    rows = v.shape[2] // (x.shape[0] * grids * tw)
    pad = np.zeros((2, 2 * rows + 2, tw + 1), x.dtype)  # one sub-grid's band by column parity
    h = np.empty((4, 2 * rows + 2, tw), x.dtype)  # B^T over each tile's columns, per pixel row
    for grid in range(grids):
        a, b = grid // dw, grid % dw
        top, left, first = 2 * row0 * dh + a - ph, b - pw, (n * grids + grid) * rows * tw
        if scatter:
            _scatter_tiles(pad, h, v, c, first, rows, tw)
        else:
            pad[:] = 0
            _load_grid(x, pad, n, c, top, dh, left, dw, False)
            _gather_tiles(pad, h, v, c, first, rows, tw)
        if scatter:
            _load_grid(x, pad, n, c, top, dh, left, dw, True)


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
