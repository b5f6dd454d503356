"""Scratch memory and GEMM helpers for the convolution fast paths.

A convolution's column matrix is large (C*kH*kW times the input's size) and lives only for the
duration of one forward or backward call. Allocating it afresh every time costs more than
filling it: the operating system hands out new pages that are faulted in and zeroed on first
touch. ``scratch(slot, shape, dtype)`` returns a view of a buffer kept per slot and reused when no
view of it is alive any more (checked through the buffer's reference count), so a training loop
touches the same memory every step. Callers must never return or save a scratch view.
"""
from __future__ import annotations

import math
import sys

import numpy as np

# Buffers above this size are not kept between calls (fresh allocation, freed after use).
MAX_SCRATCH_BYTES = 256 * 2**20

_BUFFERS: dict = {}


def scratch(slot: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialised array of ``shape`` backed by slot's reusable buffer (see module doc)."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)  # (np.prod of a tuple costs ~10 us, per call of every conv)
    if size * dtype.itemsize > MAX_SCRATCH_BYTES:
        return np.empty(shape, dtype)
    key = (slot, dtype.str)
    buffer = _BUFFERS.get(key)
    # references: the dict, the local name and getrefcount's argument; more means a view is alive
    if buffer is None or buffer.size < size or sys.getrefcount(buffer) > 3:
        buffer = np.empty(size, dtype)
        _BUFFERS[key] = buffer
    return buffer[:size].reshape(shape)


def matmul_nt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b^T over the last two axes, for (G, m, k) and (G, n, k) with a long shared k.

    BLAS runs such products much faster with the larger of m, n as the row count of the result,
    so the smaller case is computed as (b @ a^T)^T (a transposed view is returned then).
    """
    if a.shape[-2] >= b.shape[-2]:
        return np.matmul(a, b.swapaxes(-1, -2))
    return np.matmul(b, a.swapaxes(-1, -2)).swapaxes(-1, -2)
