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

The depthwise kernels at the end skip the column matrix altogether: a convolution with one input
channel per group has only kH*kW taps per output, so it is computed directly (forward, input
gradient and weight gradient share one loop nest). ``phase_planes`` (last) moves the phases of a
sub-pixel transposed convolution (conv/subpixel.py) between the GEMM's product and the interleaved
output, one output plane per task.
"""
from __future__ import annotations

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
    (im2col, zeros where the window hangs over the border) or, with ``scatter``, added back
    onto it (col2im)."""
    height, width = x.shape[2], x.shape[3]
    plane = x[n, c]
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


@njit(cache=True)
def _depthwise_task(x, grid, weight, pass_kind, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Task t of a depthwise pass; output channel o reads input channel o // multiplier.
    FORWARD: t = (n, o), writes grid[n, o]. INPUT_GRAD: t = (n, c), writes x[n, c] from the
    multiplier output channels of c. WEIGHT_GRAD: t = o, sums weight[o] over the batch."""
    n_batch, channels = x.shape[0], x.shape[1]
    multiplier = grid.shape[1] // channels
    if pass_kind == FORWARD:
        n, o = t // grid.shape[1], t % grid.shape[1]
        _depthwise_plane(x[n, o // multiplier], grid[n, o], weight[o, 0], FORWARD,
                         kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    elif pass_kind == INPUT_GRAD:
        n, c = t // channels, t % channels
        for o in range(c * multiplier, (c + 1) * multiplier):
            _depthwise_plane(x[n, c], grid[n, o], weight[o, 0], INPUT_GRAD, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    else:
        for n in range(n_batch):
            _depthwise_plane(x[n, t // multiplier], grid[n, t], weight[t, 0], WEIGHT_GRAD,
                             kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


@njit(cache=True)
def _depthwise_tasks(x, grid, pass_kind):
    """How many independent tasks a depthwise pass has (see _depthwise_task)."""
    if pass_kind == FORWARD:
        return grid.shape[0] * grid.shape[1]
    if pass_kind == INPUT_GRAD:
        return x.shape[0] * x.shape[1]
    return grid.shape[1]


@njit(cache=True, parallel=True)
def depthwise(x, grid, weight, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """Depthwise convolution pass over x (N, C, H, W), grid (N, O, oh, ow) and weight (O, 1, kh, kw),
    O a multiple of C; ``pass_kind`` FORWARD, INPUT_GRAD or WEIGHT_GRAD. Tasks never share an output plane."""
    for t in prange(_depthwise_tasks(x, grid, pass_kind)):
        _depthwise_task(x, grid, weight, pass_kind, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


@njit(cache=True)
def depthwise_serial(x, grid, weight, pass_kind, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """``depthwise`` on the calling thread (small arrays)."""
    for t in range(_depthwise_tasks(x, grid, pass_kind)):
        _depthwise_task(x, grid, weight, pass_kind, t, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


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
