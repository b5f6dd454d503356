"""Numba kernels of the elementwise ops: relu's forward and backward, each one pass over flat arrays.

NumPy needs three passes for relu's forward (x <= 0, its negation for the mask, max(x, 0)) and, for
the backward, a product with the mask and then a check for inf or nan gradients (inf * 0 is nan where
torch gives 0); here the forward writes the mask and the output in one loop, and the backward is a
select, which gives 0 where the mask is False whatever the gradient. Both are ``nogil``: the caller
runs two halves of a large array at once (threads.in_halves). They take float32 or float64 arrays
(ops/elementwise.py keeps NumPy's passes for any other dtype).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def relu_forward(x, mask, out):
    """mask[i] = not x[i] <= 0 and out[i] = x[i] where mask[i], else 0: torch's relu, which passes the
    gradient at nan (mask True, output nan) and gives 0 at -inf (where x * mask would be nan)."""
    zero = np.zeros(1, x.dtype)[0]  # of x's dtype: a Python 0 would make float32 arithmetic float64
    for i in range(x.size):
        value = x[i]
        keep = not value <= zero
        mask[i] = keep
        out[i] = value if keep else zero


@njit(cache=True, nogil=True)
def relu_backward(g, mask, out):
    """out[i] = g[i] where mask[i], else 0 (also for an inf or nan g[i], as torch's relu)."""
    zero = np.zeros(1, g.dtype)[0]
    for i in range(g.size):
        out[i] = g[i] if mask[i] else zero
