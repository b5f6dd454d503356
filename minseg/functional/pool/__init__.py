"""The pooling family: max (with indices), average, adaptive average, max unpooling (SegNet) and
"bed of nails" unpooling, with torch's semantics.

- ``ops.py``: the public ops and their Functions (forward + backward);
- ``geometry.py``: argument checks and window arithmetic (output sizes, windows, unpooling size);
- ``reference.py``: the plain loops, ``<op>_reference`` with the op's own signature;
- ``kernels.py``: the Numba kernels over (P, H, W) stacks of planes.
"""
from .geometry import pool_output_size  # noqa: F401 - lecture 02 reads pool.pool_output_size
from .ops import adaptive_avg_pool2d, avg_pool2d, bed_of_nails_unpool2d, max_pool2d, max_unpool2d
from .reference import (adaptive_avg_pool2d_reference, avg_pool2d_reference, max_pool2d_reference,
                        max_unpool2d_reference)

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_unpool2d", "bed_of_nails_unpool2d",
           "max_pool2d_reference", "avg_pool2d_reference", "adaptive_avg_pool2d_reference",
           "max_unpool2d_reference"]
