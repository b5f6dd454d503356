"""Batch normalisation and dropout, with torch's signatures and running-statistics rule.

- ``ops.py``: ``batch_norm`` and ``dropout`` and their Functions, and ``batch_norm_reference`` (the loop);
- ``kernels.py``: batch norm's Numba kernels over (N, C, L) views (statistics, normalise, backward).
"""
from .ops import batch_norm, batch_norm_reference, dropout

__all__ = ["batch_norm", "dropout", "batch_norm_reference"]
