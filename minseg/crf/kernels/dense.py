"""The dense (naive, O(N^2)) Gaussian filter of the fully connected CRF, in Numba.

``out[i] = sum_{j != i} exp(-|f_i - f_j|^2 / 2) * values[j]`` for features already divided by their
thetas. The self term j = i is left out, as in the CRF's pairwise sum over pairs of distinct pixels.
Memory stays O(N): the kernel is recomputed on the fly instead of being stored as an N x N matrix.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def dense_gaussian_filter(features, values, rows, cutoff=np.inf):
    """features (N, d), values (N, V) float64; rows (R,) int: out (R, V), the exact sum without j = i.

    out[r] = sum_{j != rows[r]} exp(-|f_rows[r] - f_j|^2 / 2) values[j]; pass rows = arange(N) for all.
    Pairs with |f_i - f_j|^2 / 2 > ``cutoff`` are skipped (exp(-30) ~ 1e-13: a cheap near-exact sum).
    """
    n, d = features.shape
    v = values.shape[1]
    out = np.zeros((rows.shape[0], v))
    for r in prange(rows.shape[0]):
        i = rows[r]
        for j in range(n):
            if j == i:
                continue
            dist2 = 0.0
            for k in range(d):
                diff = features[i, k] - features[j, k]
                dist2 += diff * diff
            if 0.5 * dist2 > cutoff:
                continue
            k_ij = math.exp(-0.5 * dist2)
            for c in range(v):
                out[r, c] += k_ij * values[j, c]
    return out
