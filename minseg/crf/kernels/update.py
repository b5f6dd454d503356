"""The mean-field update of the Potts CRF: Q_i = softmax_l(message_i(l) - unary_i(l)), row by row.

Split in three so that the exponential runs in NumPy's SIMD ``np.exp`` (Numba's scalar exp is about
twice as slow here): shift by the row maximum (Numba), exponentiate (NumPy), normalise (Numba).
normalise_rows runs its rows in parallel (the callers run small problems on one thread, see
minseg.threads.threads_for); the other passes are serial.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _shifted_logits(unary, message, out):
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


@njit(cache=True)
def normalise_transposed(q, out):
    """out[l, i] = q[i, l] / sum(q[i]) into a new (K, N) array, e.g. float64 from a float32 working Q.

    In blocks of 64 pixels: rows are normalised into a small buffer, then written label by label,
    so that ``out`` gets runs of 64 contiguous values instead of one scattered value per row.
    """
    n, k = q.shape
    block = np.empty((64, k))
    for start in range(0, n, 64):
        stop = min(start + 64, n)
        for i in range(start, stop):
            total = 0.0
            for label in range(k):
                total += q[i, label]
            for label in range(k):
                block[i - start, label] = q[i, label] / total
        for label in range(k):
            for i in range(start, stop):
                out[label, i] = block[i - start, label]


def potts_update(unary, message, out):
    """unary, message, out (N, K): out[i] = softmax(message[i] - unary[i]), stably.

    (The lattice path fuses the first step into its slice: lattice_stack.stacked_message.)
    """
    _shifted_logits(unary, message, out)
    softmax_shifted_rows(out)


def softmax_from_unary(unary, out):
    """out[i] = softmax(-unary[i]): mean-field's starting point (no message to read; once per run)."""
    np.negative(unary, out=out)
    out -= out.max(axis=1, keepdims=True)
    softmax_shifted_rows(out)


def softmax_shifted_rows(out):
    """out[i] = exp(out[i]) / sum(exp(out[i])) in place, for rows already shifted to a maximum of 0."""
    np.exp(out, out=out)
    normalise_rows(out)
