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
receive the sum (into an image it zeroes plane by plane, so the caller can pass np.empty: np.zeros
costs a pass of its own, a memset or, from calloc, fresh pages that fault on their first write).

Both kernels run in parallel over (n, c) pairs: each pair owns its own image plane, so col2im's
scatter-add has no races. ``planes_serial`` does either job on one thread, for arrays too small
to be worth waking the thread pool.

The depthwise kernels at the end skip the column matrix altogether: a convolution with one input
channel per group has only kH*kW taps per output, so it is computed directly (forward, input
gradient and weight gradient share one loop nest). ``phase_planes`` (last) moves the phases of a
sub-pixel transposed convolution (conv/subpixel.py) between the GEMM's product and the interleaved
output, one output plane per task.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64


# what _plane does with a column row: fill it from the image (im2col) or add it back (col2im)
GATHER, SCATTER = False, True
# what a depthwise pass computes (the ``pass_kind`` argument of the depthwise kernels)
FORWARD = 0  # grid[oy, ox]  += taps[i, j] * image[iy, ix]
INPUT_GRAD = 1  # image[iy, ix] += taps[i, j] * grid[oy, ox]
WEIGHT_GRAD = 2  # taps[i, j]    += grid[oy, ox] * image[iy, ix]


def valid_range(offset: int, step: int, size: int, count: int) -> tuple[int, int]:
    """Output indices o in [lo, hi) with 0 <= o * step + offset < size, clipped to [0, count).
    Plain Python, so taps.py (which cuts convolutions into blocks of taps) calls this very function;
    the kernels here call its compiled twin ``_valid_range``."""
    lo = -(offset // step)  # ceil(-offset / step)
    hi = (size - 1 - offset) // step + 1
    lo = min(max(lo, 0), count)
    hi = min(max(hi, lo), count)
    return lo, hi


_valid_range = njit(cache=True)(valid_range)


@njit(cache=True)
def _plane(x, cols, n, c, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, scatter):
    """The kh*kw rows of ``cols`` that channel c of image n feeds: filled from the image
    (im2col, zeros where the window hangs over the border) or, with ``scatter``, summed into
    it (col2im: the plane is zeroed first, here, where it is about to be written)."""
    height, width = x.shape[2], x.shape[3]
    plane = x[n, c]
    if scatter:
        plane[:] = 0
    for i in range(kh):
        for j in range(kw):
            row = cols[(c * kh + i) * kw + j, n]  # one row of the column matrix
            x0 = j * dw - pw  # input column read by output column 0 (may be in the padding)
            lo, hi = _valid_range(x0, sw, width, ow)
            # unsigned indices: numba then skips the negative-index wraparound and vectorises
            first, step, count = uint64(max(lo * sw + x0, 0)), uint64(sw), uint64(hi - lo)
            for oy in range(oh):
                iy = oy * sh - ph + i * dh
                base = oy * ow
                if iy < 0 or iy >= height:
                    if not scatter:
                        row[base:base + ow] = 0
                    continue
                line, out = plane[iy], uint64(base + lo)
                if scatter:
                    for k in range(count):
                        line[first + k * step] += row[out + k]
                else:
                    row[base:base + lo] = 0
                    for k in range(count):
                        row[out + k] = line[first + k * step]
                    row[base + hi:base + ow] = 0


@njit(cache=True, parallel=True)
def im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Fill ``cols`` (C*kh*kw, N, oh*ow) with the patches of ``x`` (N, C, H, W); see module doc."""
    channels = x.shape[1]
    for t in prange(x.shape[0] * channels):
        _plane(x, cols, t // channels, t % channels, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, False)


@njit(cache=True, parallel=True)
def col2im(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Sum ``cols`` (C*kh*kw, N, oh*ow) back onto ``x`` (N, C, H, W), whose old values are overwritten
    (each plane is zeroed by its task). Each (n, c) plane is written by one thread only, so the additions
    never race."""
    channels = x.shape[1]
    for t in prange(x.shape[0] * channels):
        _plane(x, cols, t // channels, t % channels, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, True)


@njit(cache=True)
def planes_serial(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, scatter):
    """im2col (scatter=False) or col2im (scatter=True) on the calling thread only, for small
    arrays: no thread pool is woken (and no OpenMP state is touched)."""
    for t in range(x.shape[0] * x.shape[1]):
        _plane(x, cols, t // x.shape[1], t % x.shape[1], kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, scatter)


# ----- depthwise convolution (one input channel per group): direct, no column matrix -------------
@njit(cache=True, fastmath=True)  # fastmath: lets the weight-gradient sum vectorise (reassociate)
def _depthwise_plane(image, grid, taps, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """One (input plane, output plane, kH x kW taps) triple of a depthwise convolution.

    FORWARD:      grid[oy, ox]  += taps[i, j] * image[iy, ix]
    INPUT_GRAD:   image[iy, ix] += taps[i, j] * grid[oy, ox]
    WEIGHT_GRAD:  taps[i, j]    += grid[oy, ox] * image[iy, ix]
    with iy = oy * sh - ph + i * dh, ix = ox * sw - pw + j * dw inside the image.
    """
    height, width = image.shape
    for i in range(kh):
        for j in range(kw):
            x0 = j * dw - pw
            lo, hi = _valid_range(x0, sw, width, ow)
            if lo >= hi:
                continue
            # unsigned indices: numba then skips the negative-index wraparound and vectorises
            first, step, start = uint64(lo * sw + x0), uint64(sw), uint64(lo)
            tap = taps[i, j]
            total = 0.0
            for oy in range(oh):
                iy = oy * sh - ph + i * dh
                if iy < 0 or iy >= height:
                    continue
                r, q = uint64(oy), uint64(iy)
                if pass_kind == FORWARD:
                    for k in range(uint64(hi - lo)):
                        grid[r, start + k] += tap * image[q, first + k * step]
                elif pass_kind == INPUT_GRAD:
                    for k in range(uint64(hi - lo)):
                        image[q, first + k * step] += tap * grid[r, start + k]
                else:
                    for k in range(uint64(hi - lo)):
                        total += grid[r, start + k] * image[q, first + k * step]
            if pass_kind == WEIGHT_GRAD:
                taps[i, j] += total


# A 3x3 kernel at stride 1 (every depthwise convolution of DeepLab v3+) takes all nine taps in one loop
# over a zero-bordered copy of the plane it reads: one pass over each output row instead of nine, and no
# border ranges. The loop above stays for every other kernel and stride (and as this one's reference).
@njit(cache=True)
def _bordered(plane, top, left, rows, cols):
    """A (rows, cols) zero array with ``plane`` at (top, left) (the parts that fit): what a stencil reads
    where the plain loops would test a border."""
    out = np.zeros((rows, cols), plane.dtype)
    height, width = min(plane.shape[0], rows - top), min(plane.shape[1], cols - left)
    for r in range(height):
        line, source = out[top + r, left:left + width], plane[r]
        for k in range(width):
            line[k] = source[k]
    return out


@njit(cache=True, fastmath=True)  # fastmath: the nine sums of WEIGHT_GRAD vectorise (reassociate)
def _stencil_3x3(pad, grid, taps, row_offsets, col_offsets, weight_grad):
    """grid[r, k] += sum_ij taps[i, j] * pad[r + row_offsets[i], k + col_offsets[j]] over grid's rows;
    or, with ``weight_grad``, taps[i, j] += sum_rk grid[r, k] * pad[r + row_offsets[i], k + col_offsets[j]]."""
    width = grid.shape[1]
    a, b, c = col_offsets[0], col_offsets[1], col_offsets[2]
    zero = pad[0, 0] * 0  # the data's dtype: a row's sums vectorise in it; rows add up in float64 (as 0.0 is)
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = 0.0
    t00, t01, t02, t10, t11, t12, t20, t21, t22 = (taps[0, 0], taps[0, 1], taps[0, 2], taps[1, 0], taps[1, 1],
                                                   taps[1, 2], taps[2, 0], taps[2, 1], taps[2, 2])
    for r in range(grid.shape[0]):
        out = grid[r]
        top, mid, low = pad[r + row_offsets[0]], pad[r + row_offsets[1]], pad[r + row_offsets[2]]
        # the nine shifted rows as views indexed by k: a computed index defeats SIMD
        p00, p01, p02 = top[a:a + width], top[b:b + width], top[c:c + width]
        p10, p11, p12 = mid[a:a + width], mid[b:b + width], mid[c:c + width]
        p20, p21, p22 = low[a:a + width], low[b:b + width], low[c:c + width]
        if weight_grad:
            r00 = r01 = r02 = r10 = r11 = r12 = r20 = r21 = r22 = zero
            for k in range(width):
                g = out[k]
                r00 += g * p00[k]
                r01 += g * p01[k]
                r02 += g * p02[k]
                r10 += g * p10[k]
                r11 += g * p11[k]
                r12 += g * p12[k]
                r20 += g * p20[k]
                r21 += g * p21[k]
                r22 += g * p22[k]
            s00, s01, s02, s10, s11, s12 = s00 + r00, s01 + r01, s02 + r02, s10 + r10, s11 + r11, s12 + r12
            s20, s21, s22 = s20 + r20, s21 + r21, s22 + r22
            continue
        for k in range(width):
            out[k] += (t00 * p00[k] + t01 * p01[k] + t02 * p02[k] + t10 * p10[k] + t11 * p11[k] + t12 * p12[k]
                       + t20 * p20[k] + t21 * p21[k] + t22 * p22[k])
    if weight_grad:
        taps[0, 0] += s00
        taps[0, 1] += s01
        taps[0, 2] += s02
        taps[1, 0] += s10
        taps[1, 1] += s11
        taps[1, 2] += s12
        taps[2, 0] += s20
        taps[2, 1] += s21
        taps[2, 2] += s22


@njit(cache=True)
def _depthwise_plane_3x3(image, grid, taps, pass_kind, ph, pw, dh, dw):
    """_depthwise_plane for a 3x3 kernel at stride 1, by _stencil_3x3 on a bordered copy:

    FORWARD, WEIGHT_GRAD: image bordered by (ph, pw), so image[oy - ph + i dh, ox - pw + j dw] is
        pad[oy + i dh, ox + j dw];
    INPUT_GRAD: image[iy, ix] += sum_ij taps[i, j] * grid[iy + ph - i dh, ix + pw - j dw], the
        correlation of grid bordered by (top, left) = (max(0, 2 dh - ph), max(0, 2 dw - pw)) (so that
        every index is >= 0) with row offsets ph + top - i dh and column offsets pw + left - j dw."""
    height, width = image.shape
    oh, ow = grid.shape
    if pass_kind == INPUT_GRAD:
        top, left = max(0, 2 * dh - ph), max(0, 2 * dw - pw)
        pad = _bordered(grid, top, left, top + max(oh, height + ph), left + max(ow, width + pw))
        rows, cols = (ph + top, ph + top - dh, ph + top - 2 * dh), (pw + left, pw + left - dw, pw + left - 2 * dw)
        _stencil_3x3(pad, image, taps, rows, cols, False)
        return
    pad = _bordered(image, ph, pw, oh + 2 * dh, ow + 2 * dw)
    _stencil_3x3(pad, grid, taps, (0, dh, 2 * dh), (0, dw, 2 * dw), pass_kind == WEIGHT_GRAD)


@njit(cache=True)
def _plane_pass(image, grid, taps, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused):
    """One plane triple of a depthwise pass: _depthwise_plane_3x3 where ``fused`` (3x3, stride 1), else
    _depthwise_plane."""
    if fused:
        _depthwise_plane_3x3(image, grid, taps, pass_kind, ph, pw, dh, dw)
    else:
        _depthwise_plane(image, grid, taps, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


@njit(cache=True)
def _depthwise_task(x, grid, weight, pass_kind, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused):
    """Task t of a depthwise pass; output channel o reads input channel o // multiplier.
    FORWARD: t = (n, o), writes grid[n, o]. INPUT_GRAD: t = (n, c), writes x[n, c] from the
    multiplier output channels of c. WEIGHT_GRAD: t = o, sums weight[o] over the batch. The plane a
    FORWARD or INPUT_GRAD task writes is zeroed first (the caller need not)."""
    n_batch, channels = x.shape[0], x.shape[1]
    multiplier = grid.shape[1] // channels
    if pass_kind == FORWARD:
        n, o = t // grid.shape[1], t % grid.shape[1]
        grid[n, o] = 0  # here, where the plane is about to be summed into (in cache), not in a pass of its own
        _plane_pass(x[n, o // multiplier], grid[n, o], weight[o, 0], FORWARD,
                    kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused)
    elif pass_kind == INPUT_GRAD:
        n, c = t // channels, t % channels
        x[n, c] = 0
        for o in range(c * multiplier, (c + 1) * multiplier):
            _plane_pass(x[n, c], grid[n, o], weight[o, 0], INPUT_GRAD, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused)
    else:
        for n in range(n_batch):
            _plane_pass(x[n, t // multiplier], grid[n, t], weight[t, 0], WEIGHT_GRAD,
                        kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused)


@njit(cache=True)
def _depthwise_tasks(x, grid, pass_kind):
    """How many independent tasks a depthwise pass has (see _depthwise_task)."""
    if pass_kind == FORWARD:
        return grid.shape[0] * grid.shape[1]
    if pass_kind == INPUT_GRAD:
        return x.shape[0] * x.shape[1]
    return grid.shape[1]


@njit(cache=True, parallel=True)
def depthwise(x, grid, weight, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused):
    """Depthwise convolution pass over x (N, C, H, W), grid (N, O, oh, ow) and weight (O, 1, kh, kw),
    O a multiple of C; ``pass_kind`` FORWARD, INPUT_GRAD or WEIGHT_GRAD; ``fused``: the nine-tap loop
    (3x3 at stride 1 only). Tasks never share an output plane."""
    for t in prange(_depthwise_tasks(x, grid, pass_kind)):
        _depthwise_task(x, grid, weight, pass_kind, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused)


@njit(cache=True)
def depthwise_serial(x, grid, weight, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused):
    """``depthwise`` on the calling thread (small arrays)."""
    for t in range(_depthwise_tasks(x, grid, pass_kind)):
        _depthwise_task(x, grid, weight, pass_kind, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, fused)


# ----- sub-pixel transposed convolution (conv/subpixel.py): its phases <-> the interleaved image ----
@njit(cache=True)
def _phase_plane(phases, image, n, c, sh, sw, top, left, bias, to_image):
    """Plane (n, c) of the output image and the phases' windows that hold it. ``phases`` is
    (G, phase rows * phase columns, C/G, N, Uy, Ux), phase (ry, rx) at index ry * len(left) + rx; output
    pixel (oy, ox) = (my * sh + ry, mx * sw + rx) sits at window (my + top[ry], mx + left[rx]).
    to_image: image[n, c, oy, ox] = phases[...] + bias[c] (the forward); else the reverse copy."""
    group_out = phases.shape[2]
    g, o = c // group_out, c % group_out
    height, width = image.shape[2], image.shape[3]
    shift, step = bias[c], uint64(sw)
    for oy in range(height):
        ry, my = oy % sh, oy // sh
        line = image[n, c, oy]
        for rx in range(left.size):
            row = phases[g, ry * left.size + rx, o, n, my + top[ry]]
            # unsigned indices: numba then skips the negative-index wraparound
            start, first, count = uint64(left[rx]), uint64(rx), uint64((width - rx + sw - 1) // sw)
            if to_image:
                for mx in range(count):
                    line[first + mx * step] = row[start + mx] + shift
            else:
                for mx in range(count):
                    row[start + mx] = line[first + mx * step]


@njit(cache=True, parallel=True)
def phase_planes(phases, image, sh, sw, top, left, bias, to_image):
    """_phase_plane for every (n, c) plane of ``image`` (N, C, H, W), in parallel (one plane per task)."""
    for t in prange(image.shape[0] * image.shape[1]):
        n, c = t // image.shape[1], t % image.shape[1]
        _phase_plane(phases, image, n, c, sh, sw, top, left, bias, to_image)


@njit(cache=True)
def phase_planes_serial(phases, image, sh, sw, top, left, bias, to_image):
    """``phase_planes`` on the calling thread (small arrays)."""
    for t in range(image.shape[0] * image.shape[1]):
        n, c = t // image.shape[1], t % image.shape[1]
        _phase_plane(phases, image, n, c, sh, sw, top, left, bias, to_image)
