"""The mean-field update of the Potts CRF: Q_i = softmax_l(message_i(l) - unary_i(l)), row by row.

Split in three so that the exponential runs in NumPy's SIMD ``np.exp`` (Numba's scalar exp is about
twice as slow here): shift by the row maximum (Numba), exponentiate (NumPy; crf/softmax.py puts the
three together), normalise (Numba). normalise_rows and normalise_transposed run in parallel (the
callers run small problems on one thread, see minseg.threads.threads_for); the shift is serial.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def shifted_logits(unary, message, out):
    """out[i] = message[i] - unary[i] - max over labels of the same (so the largest entry is 0)."""
    n, k = unary.shape
    for i in range(n):
        top = -np.inf
        for label in range(k):
            out[i, label] = message[i, label] - unary[i, label]
            top = max(top, out[i, label])
        for label in range(k):
            out[i, label] -= top


@njit(cache=True, parallel=True)
def normalise_rows(out):
    """out[i] /= sum(out[i]), rows in parallel (times the reciprocal: one division per row, not per label)."""
    n, k = out.shape
    for i in prange(n):
        total = 0.0
        for label in range(k):
            total += out[i, label]
        inverse = 1.0 / total
        for label in range(k):
            out[i, label] *= inverse


@njit(cache=True, parallel=True)
def normalise_transposed(q, out):
    """out[l, i] = q[i, l] / sum(q[i]) into a new (K, N) array, e.g. float64 from a float32 working Q.

    In blocks of 64 pixels, in parallel (each block writes its own columns of ``out``): rows are
    normalised into a small buffer, then written label by label, so that ``out`` gets runs of 64
    contiguous values instead of one scattered value per row.
    """
    n, k = q.shape
    for b in prange((n + 63) // 64):
        start, stop = 64 * b, min(64 * b + 64, n)
        block = np.empty((stop - start, k))
        for i in range(stop - start):
            row, total = q[start + i], 0.0
            for label in range(k):
                total += row[label]
            for label in range(k):
                block[i, label] = row[label] / total
        for label in range(k):
            column = out[label, start:stop]
            for i in range(stop - start):
                column[i] = block[i, label]
