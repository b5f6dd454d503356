"""Mean-field's message on several permutohedral lattices at once (the CRF's appearance and smoothness
kernels), in one pass over the pixels per step.

Filtering each kernel separately reads Q (N x K: 6.5 MB in float32 on a 320x240 photo with 21
labels) twice per kernel and adds into the message once per kernel; those passes over memory, not
the arithmetic, are the cost. Q may be float32 or float64; the lattice and the sums are float64. Here the kernels' lattices are stacked into one array of vertices (kernel
k owns the rows ``bounds[k]:bounds[k + 1]``), each pixel's d_k + 1 simplex vertices of all kernels
are the columns of one (N, R) table (R = sum_k (d_k + 1)), and every per-pixel factor (barycentric
weight, normalisation, kernel weight, lattice scale) is folded into that table once, at setup:

    splat   lattice[offsets[p, r]] += splat_w[p, r] * Q[p]              (all kernels, one pass)
    blur    per kernel, d_k + 1 passes of the [1 2 1]/2 blur over its own rows
    slice   message[p] = sum_r column_scale[r] splat_w[p, r] lattice[offsets[p, r]] - self_w[p] Q[p]

with splat_w = b_r in_scale_k, self_w = sum_k out_scale_k s_k in_scale_k (s_k: the lattice's own
diagonal, ``lattice_self_weights``), and out_scale_k = column_scale_k in_scale_k: the output scale
is the input scale times a constant per kernel (w_k / lattice scale; the symmetric normalisation
uses the same d^(-1/2) on both sides), so one (N, R) weight table serves splat and slice. The
message is written, not added (no clearing), and can go straight on into the Potts update: the
slice may write the shifted logits message - unary over Q itself.

Each pass runs in parallel without two threads ever writing the same row: the splat as a gather
(each vertex sums the pixels that splat onto it, from a table built once, ``vertex_entries``), the
blur per vertex, the slice per block of pixels. (The caller runs small problems on one thread.)
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .permutohedral import _blur_direction


@njit(cache=True, nogil=True)  # nogil: StackedLattices sorts each lattice's entries on its own thread
def vertex_entries(offsets, splat_w, m):
    """The splat turned around: for each of the m vertices, the (pixel, weight) pairs that splat onto it.

    A counting sort of ``offsets`` (N, R): vertex u's entries are ``starts[u]:starts[u + 1]`` of
    ``pixel`` and ``weight`` (N*R each), in increasing pixel order, which is the order in which the
    scatter ``lattice[offsets[p, r]] += splat_w[p, r] * values[p]`` adds them (so the sums are the same,
    to the bit). Built once per CRF; every mean-field step's splat gathers with it.
    """
    n, r = offsets.shape
    starts = np.zeros(m + 1, np.int64)
    for p in range(n):
        for j in range(r):
            starts[offsets[p, j] + 1] += 1
    for u in range(m):
        starts[u + 1] += starts[u]
    fill = starts[:-1].copy()
    pixel = np.empty(n * r, np.int64)
    weight = np.empty(n * r, splat_w.dtype)
    for p in range(n):
        for j in range(r):
            u = offsets[p, j]
            pixel[fill[u]], weight[fill[u]] = p, splat_w[p, j]
            fill[u] += 1
    return starts, pixel, weight


@njit(cache=True, parallel=True)
def _stacked_splat(values, starts, pixel, weight, lattice):
    """lattice[u] = sum of weight[e] * values[pixel[e]] over vertex u's entries (see vertex_entries): the
    splat as a gather, vertex by vertex, so that the threads never write the same row."""
    m, v = lattice.shape
    for u in prange(m):
        for c in range(v):
            lattice[u, c] = 0.0
        for e in range(starts[u], starts[u + 1]):
            p, w = pixel[e], weight[e]
            for c in range(v):  # labels innermost: contiguous, vectorisable
                lattice[u, c] += w * values[p, c]


@njit(cache=True)
def _stacked_blur(lattice, spare, neighbours, bounds, rows):
    """Blur each kernel's rows of ``lattice`` in place along its d_k + 1 directions.

    Kernel k: vertices ``bounds[k]:bounds[k + 1]``; its neighbour table for direction j is
    ``neighbours[rows[k] + j * m_k : ... + m_k]`` (indices local to the kernel, -1 = unoccupied).
    """
    for k in range(bounds.shape[0] - 1):
        lo, hi = bounds[k], bounds[k + 1]
        m = hi - lo
        passes = (rows[k + 1] - rows[k]) // max(m, 1)
        src, dst = lattice[lo:hi], spare[lo:hi]
        for j in range(passes):
            _blur_direction(src, dst, neighbours[rows[k] + j * m:rows[k] + (j + 1) * m])
            src, dst = dst, src
        if passes % 2 == 1:  # the result sits in ``spare``
            lattice[lo:hi] = spare[lo:hi]


# pixels per task of the slice (each task has its own row buffer)
SLICE_BLOCK = 256


@njit(cache=True, parallel=True)
def _stacked_slice(lattice, offsets, splat_w, column_scale, self_w, values, unary, out):
    """message[p] = sum_r column_scale[r] splat_w[p, r] lattice[offsets[p, r]] - self_w[p] values[p].

    Writes out[p] = message[p], or, when ``unary`` (N, V) is not empty, the mean-field logits
    message[p] - unary[p] shifted so that their maximum is 0 (the first half of the Potts update).
    ``out`` may be ``values`` itself: pixel p's values are read before its row is written, and the
    splat that needed all of them is over. Blocks of SLICE_BLOCK pixels run in parallel.
    """
    n, v = values.shape
    logits = unary.shape[0] > 0
    for block in prange((n + SLICE_BLOCK - 1) // SLICE_BLOCK):
        row = np.empty(v)
        for p in range(block * SLICE_BLOCK, min(n, (block + 1) * SLICE_BLOCK)):
            own = self_w[p]
            for c in range(v):
                row[c] = -own * values[p, c]
            for r in range(offsets.shape[1]):
                o, w = offsets[p, r], column_scale[r] * splat_w[p, r]
                for c in range(v):
                    row[c] += w * lattice[o, c]
            if logits:
                top = -np.inf
                for c in range(v):
                    row[c] -= unary[p, c]
                    top = max(top, row[c])
                for c in range(v):
                    row[c] -= top
            for c in range(v):
                out[p, c] = row[c]


@njit(cache=True)
def stacked_message(values, starts, pixel, weight, offsets, splat_w, column_scale, self_w, neighbours, bounds,
                    rows, lattice, spare, unary, out):
    """out (N, V) = the filtered message of ``values`` (N, V) on all stacked lattices (see module doc),
    or the shifted logits message - unary when ``unary`` is not empty (see ``_stacked_slice``).

    ``lattice`` and ``spare`` (M_total, V) are scratch buffers, reused across calls; starts, pixel,
    weight: the splat grouped by vertex (``vertex_entries``).
    """
    _stacked_splat(values, starts, pixel, weight, lattice)
    _stacked_blur(lattice, spare, neighbours, bounds, rows)
    _stacked_slice(lattice, offsets, splat_w, column_scale, self_w, values, unary, out)
