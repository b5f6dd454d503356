"""Resizing: ``interpolate`` (nearest, nearest-exact, bilinear, bicubic, area), equal to torch.

- ``ops.py``: the public op and its Function (separable forward + transposed backward);
- ``geometry.py``: argument checks, output size, torch's sample-position rules, the tap tables;
- ``reference.py``: the plain loops, ``interpolate_reference`` with the op's own signature;
- ``kernels.py``: the Numba kernels applying a tap table along one axis.
"""
from .ops import interpolate
from .reference import interpolate_reference

__all__ = ["interpolate", "interpolate_reference"]
