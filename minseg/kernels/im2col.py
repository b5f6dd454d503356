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
scatter-add has no races. ``planes_serial`` does either job on one thread, for arrays too small
to be worth waking the thread pool.
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


@njit(cache=True)
def _plane(x, cols, n, c, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, scatter):
    """The kh*kw rows of ``cols`` that channel c of image n feeds: filled from the image
    (im2col, zeros where the window hangs over the border) or, with ``scatter``, added back
    onto it (col2im)."""
    height, width = x.shape[2], x.shape[3]
    plane = x[n, c]
    for i in range(kh):
        for j in range(kw):
            row = cols[(c * kh + i) * kw + j, n]  # one row of the column matrix
            x0 = j * dw - pw  # input column read by output column 0 (may be in the padding)
            lo, hi = _valid_range(x0, sw, width, ow)
            for oy in range(oh):
                iy = oy * sh - ph + i * dh
                base = oy * ow
                if iy < 0 or iy >= height:
                    if not scatter:
                        row[base:base + ow] = 0
                    continue
                line = plane[iy]
                if scatter and sw == 1:
                    line[lo + x0:hi + x0] += row[base + lo:base + hi]
                elif scatter:
                    for ox in range(lo, hi):
                        line[ox * sw + x0] += row[base + ox]
                else:
                    row[base:base + lo] = 0
                    if sw == 1:
                        row[base + lo:base + hi] = line[lo + x0:hi + x0]
                    else:
                        for ox in range(lo, hi):
                            row[base + ox] = line[ox * sw + x0]
                    row[base + hi:base + ow] = 0


@njit(cache=True, parallel=True)
def im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Fill ``cols`` (C*kh*kw, N, oh*ow) with the patches of ``x`` (N, C, H, W); see module doc."""
    channels = x.shape[1]
    for t in prange(x.shape[0] * channels):
        _plane(x, cols, t // channels, t % channels, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, False)


@njit(cache=True, parallel=True)
def col2im(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Add ``cols`` (C*kh*kw, N, oh*ow) back onto ``x`` (N, C, H, W), which the caller zeroes.
    Each (n, c) plane is written by one thread only, so the additions never race."""
    channels = x.shape[1]
    for t in prange(x.shape[0] * channels):
        _plane(x, cols, t // channels, t % channels, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, True)


@njit(cache=True)
def planes_serial(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, scatter):
    """im2col (scatter=False) or col2im (scatter=True) on the calling thread only, for small
    arrays: no thread pool is woken (and no OpenMP state is touched)."""
    for t in range(x.shape[0] * x.shape[1]):
        _plane(x, cols, t // x.shape[1], t % x.shape[1], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, scatter)
