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


@njit(cache=True)
def _input_plane(x, v, n, c, ph, pw, row0, tw, scatter):
    """Tiles of plane x[n, c] for one band: v[:, c, tiles of n] = B^T d B (gather), or, with
    ``scatter``, x[n, c] += the adjoint B dV B^T of every tile, overlap-added (x zeroed by the caller)."""
    height, width = x.shape[2], x.shape[3]
    rows = v.shape[2] // (x.shape[0] * tw)
    top, left = 2 * row0 - ph, -pw  # image row / column of the padded buffer's [0, 0]
    pad = np.zeros((2 * rows + 2, 2 * tw + 2), x.dtype)  # the band's pixels, 0 outside the image
    r_lo, r_hi = max(0, -top), min(pad.shape[0], height - top)
    c_lo, c_hi = max(0, -left), min(pad.shape[1], width - left)
    if not scatter:
        for r in range(r_lo, r_hi):
            pad[r, c_lo:c_hi] = x[n, c, top + r, left + c_lo:left + c_hi]
    rowt = np.zeros((4, pad.shape[1]), x.dtype)  # B^T over one tile row's 4 pixel rows
    for ty in range(rows):
        r, first = 2 * ty, (n * rows + ty) * tw
        if not scatter:
            for q in range(pad.shape[1]):
                d0, d1, d2, d3 = pad[r, q], pad[r + 1, q], pad[r + 2, q], pad[r + 3, q]
                rowt[0, q], rowt[1, q], rowt[2, q], rowt[3, q] = d0 - d2, d1 + d2, d2 - d1, d1 - d3
            for a in range(4):
                s = rowt[a]
                v0, v1, v2, v3 = v[4 * a, c], v[4 * a + 1, c], v[4 * a + 2, c], v[4 * a + 3, c]
                for tx in range(tw):
                    q = 2 * tx
                    v0[first + tx] = s[q] - s[q + 2]
                    v1[first + tx] = s[q + 1] + s[q + 2]
                    v2[first + tx] = s[q + 2] - s[q + 1]
                    v3[first + tx] = s[q + 1] - s[q + 3]
            continue
        rowt[:] = 0
        for a in range(4):
            s = rowt[a]
            g0, g1, g2, g3 = v[4 * a, c], v[4 * a + 1, c], v[4 * a + 2, c], v[4 * a + 3, c]
            for tx in range(tw):  # B w per tile, overlap-added along the row
                q, t = 2 * tx, first + tx
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
    if scatter:
        for r in range(r_lo, r_hi):
            x[n, c, top + r, left + c_lo:left + c_hi] += pad[r, c_lo:c_hi]


@njit(cache=True)
def _output_plane(m, y, bias, n, o, row0, tw, adjoint):
    """Tiles of plane y[n, o] for one band: y = A^T M A + bias[o], cropped to y's size; or, with
    ``adjoint``, m[:, o, tiles of n] = A dY A^T (dY 0 beyond y's size)."""
    oh, ow = y.shape[2], y.shape[3]
    rows = m.shape[2] // (y.shape[0] * tw)
    colt = np.zeros((4, 2 * tw), m.dtype)  # A^T over each tile's 4 columns, for the 4 tile rows a
    for ty in range(rows):
        first, oy = (n * rows + ty) * tw, 2 * (row0 + ty)
        last = min(2, oh - oy)  # output rows of this tile inside y (1 or 2)
        span = min(2 * tw, ow)
        if not adjoint:
            for a in range(4):
                s = colt[a]
                m0, m1, m2, m3 = m[4 * a, o], m[4 * a + 1, o], m[4 * a + 2, o], m[4 * a + 3, o]
                for tx in range(tw):
                    t = first + tx
                    s[2 * tx] = m0[t] + m1[t] + m2[t]
                    s[2 * tx + 1] = m1[t] - m2[t] - m3[t]
            top = y[n, o, oy]
            for q in range(span):
                top[q] = colt[0, q] + colt[1, q] + colt[2, q] + bias[o]
            if last == 2:
                low = y[n, o, oy + 1]
                for q in range(span):
                    low[q] = colt[1, q] - colt[2, q] - colt[3, q] + bias[o]
            continue
        colt[:] = 0
        for q in range(span):  # A z over the tile's 2 output rows
            z0 = y[n, o, oy, q]
            z1 = y[n, o, oy + 1, q] if last == 2 else 0.0
            colt[0, q], colt[1, q], colt[2, q], colt[3, q] = z0, z0 + z1, z0 - z1, -z1
        for a in range(4):
            s = colt[a]
            m0, m1, m2, m3 = m[4 * a, o], m[4 * a + 1, o], m[4 * a + 2, o], m[4 * a + 3, o]
            for tx in range(tw):  # then A z over the tile's 2 output columns
                t, h0, h1 = first + tx, s[2 * tx], s[2 * tx + 1]
                m0[t], m1[t], m2[t], m3[t] = h0, h0 + h1, h0 - h1, -h1


@njit(cache=True, parallel=True)
def input_tiles(x, v, ph, pw, row0, tw, scatter):
    """v = B^T d B for every tile of the band (gather) or its adjoint into x (scatter), over (n, c) planes."""
    channels = x.shape[1]
    for p in prange(x.shape[0] * channels):
        _input_plane(x, v, p // channels, p % channels, ph, pw, row0, tw, scatter)


@njit(cache=True)
def input_tiles_serial(x, v, ph, pw, row0, tw, scatter):
    """``input_tiles`` on the calling thread (small arrays)."""
    for p in range(x.shape[0] * x.shape[1]):
        _input_plane(x, v, p // x.shape[1], p % x.shape[1], ph, pw, row0, tw, scatter)


@njit(cache=True, parallel=True)
def output_tiles(m, y, bias, row0, tw, adjoint):
    """y = A^T M A + bias for every tile of the band, or m = A dY A^T (adjoint), over (n, o) planes."""
    channels = y.shape[1]
    for p in prange(y.shape[0] * channels):
        _output_plane(m, y, bias, p // channels, p % channels, row0, tw, adjoint)


@njit(cache=True)
def output_tiles_serial(m, y, bias, row0, tw, adjoint):
    """``output_tiles`` on the calling thread (small arrays)."""
    for p in range(y.shape[0] * y.shape[1]):
        _output_plane(m, y, bias, p // y.shape[1], p % y.shape[1], row0, tw, adjoint)
