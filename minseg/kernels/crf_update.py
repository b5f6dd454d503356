"""The mean-field update of the Potts CRF, fused in Numba: Q_i = softmax_l(message_i(l) - unary_i(l))."""
from __future__ import annotations

import math

from numba import njit, prange


@njit(cache=True, parallel=True)
def potts_update(unary, message, out):
    """unary, message, out (N, K) float64: out[i] = softmax(message[i] - unary[i]) (max-shifted)."""
    n, k = unary.shape
    for i in prange(n):
        top = -math.inf
        for label in range(k):
            out[i, label] = message[i, label] - unary[i, label]
            top = max(top, out[i, label])
        total = 0.0
        for label in range(k):
            out[i, label] = math.exp(out[i, label] - top)
            total += out[i, label]
        for label in range(k):
            out[i, label] /= total
