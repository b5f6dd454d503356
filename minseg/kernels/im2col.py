"""im2col / col2im: the patch matrix behind convolution, as Numba kernels.

Layout. ``x`` is an image batch (N, C, H, W). The column array is ``cols[k, n, l]`` with
k = (c * kh + i) * kw + j (channel, kernel row, kernel column) and l = oy * ow + ox (output
position), so ``cols.reshape(K, N * L)`` is one matrix that a single GEMM multiplies by the
(out, K) weight matrix for the whole batch:

    cols[(c, i, j), n, (oy, ox)] = x[n, c, oy * sh - ph + i * dh, ox * sw - pw + j * dw]

and 0 where that index falls in the zero padding. The padding is never materialised: for each
kernel tap (i, j) the range of output columns that read inside the image is computed once, the
rest is written as zeros. ``col2im`` is the adjoint (transpose) of ``im2col``: it adds every
column entry back onto the pixel it was read from, so pixels shared by overlapping windows
receive the sum.

Both kernels run in parallel over (n, c) pairs: each pair owns its own image plane, so col2im's
scatter-add has no races.
"""
from __future__ import annotations

from numba import njit, prange


@njit(cache=True)
def _valid_range(offset, step, size, count):
    """Output indices o in [lo, hi) with 0 <= o * step + offset < size (clipped to [0, count))."""
    lo = -(offset // step)  # ceil(-offset / step)
    hi = (size - 1 - offset) // step + 1
    lo = min(max(lo, 0), count)
    hi = min(max(hi, lo), count)
    return lo, hi


@njit(cache=True, parallel=True)
def im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Fill ``cols`` (C*kh*kw, N, oh*ow) with the patches of ``x`` (N, C, H, W); see module doc."""
    n_batch, channels, height, width = x.shape
    for t in prange(n_batch * channels):
        n = t // channels
        c = t - n * channels
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                x0 = j * dw - pw
                lo, hi = _valid_range(x0, sw, width, ow)
                for oy in range(oh):
                    iy = oy * sh - ph + i * dh
                    base = oy * ow
                    if iy < 0 or iy >= height:
                        for ox in range(ow):
                            cols[row, n, base + ox] = 0
                        continue
                    for ox in range(lo):
                        cols[row, n, base + ox] = 0
                    for ox in range(lo, hi):
                        cols[row, n, base + ox] = x[n, c, iy, ox * sw + x0]
                    for ox in range(hi, ow):
                        cols[row, n, base + ox] = 0


@njit(cache=True, parallel=True)
def col2im(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Add ``cols`` (C*kh*kw, N, oh*ow) back onto ``x`` (N, C, H, W), which the caller zeroes."""
    n_batch, channels, height, width = x.shape
    for t in prange(n_batch * channels):
        n = t // channels
        c = t - n * channels
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                x0 = j * dw - pw
                lo, hi = _valid_range(x0, sw, width, ow)
                for oy in range(oh):
                    iy = oy * sh - ph + i * dh
                    if iy < 0 or iy >= height:
                        continue
                    base = oy * ow
                    for ox in range(lo, hi):
                        x[n, c, iy, ox * sw + x0] += cols[row, n, base + ox]
