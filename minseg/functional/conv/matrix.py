"""Convolution as a matrix: the dense M with ``conv(x).ravel() == M @ x.ravel()``.

Row r of M is the kernel laid over the input where output pixel r reads it: the kernel values
sit in the columns of the input pixels under the window, zeros elsewhere (taps that fall in the
zero padding simply drop out). The transposed convolution with the same weight is
``M.T @ y.ravel()``, which is why it is called *transposed*.

For small inputs only (the lectures draw M); the fast paths never build it.
"""
from __future__ import annotations

import numpy as np

from ...autograd import as_array
from .geometry import conv_geometry

MAX_ENTRIES = 2**25


def _as_4d_weight(weight: np.ndarray, input_size):
    """The weight as (out, in, kH, kW) and the input as (H, W), plus whether the problem is 1-D.

    1-D: ``input_size`` an int or (L,), weight a plain kernel (k,) or a conv1d weight (out, in, k).
    2-D: ``input_size`` (H, W), weight a plain kernel (kH, kW) or a conv2d weight (out, in, kH, kW).
    """
    size = (input_size,) if np.ndim(input_size) == 0 else tuple(input_size)
    if not all(isinstance(s, (int, np.integer)) and s >= 1 for s in size) or len(size) not in (1, 2):
        raise ValueError(f"conv_matrix: input_size must be L, (L,) or (H, W) positive ints, got {input_size!r}")
    if len(size) == 1:
        if weight.ndim not in (1, 3):
            raise ValueError(f"conv_matrix: for a 1-D input_size, weight must be a 1-D kernel (k,) or 3-D "
                             f"(out, in, k), got shape {weight.shape}")
        w = weight.reshape(1, 1, 1, -1) if weight.ndim == 1 else weight[:, :, None, :]
        return w, (1, size[0]), True
    if weight.ndim not in (2, 4):
        raise ValueError(f"conv_matrix: for a 2-D input_size, weight must be a 2-D kernel (kH, kW) or 4-D "
                         f"(out, in, kH, kW), got shape {weight.shape}")
    return (weight[None, None] if weight.ndim == 2 else weight), size, False


def _lift(value, is_1d: bool, neutral):
    """A 1-D argument (int or 1-tuple) as the 2-D pair (neutral, value); 2-D arguments unchanged."""
    if not is_1d or isinstance(value, str):
        return value
    value = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    return (neutral, value)


def conv_matrix(weight, input_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The matrix M of a convolution (no bias) over an input of ``input_size``.

    2-D: weight (out, in, kH, kW) or a plain (kH, kW) kernel, input_size (H, W); M has shape
    (out*oh*ow, in*H*W) and ``F.conv2d(x, weight, ...).ravel() == M @ x.ravel()`` for x (1, in, H, W).
    1-D: weight (out, in, k) as torch's conv1d, or a plain kernel (k,) such as the slides'
    [x, y, z]; input_size L; M has shape (out*ol, in*L) (plain kernel: (ol, L)).
    stride / padding / dilation as in conv2d (ints or pairs; padding also 'same' / 'valid').
    Returns an ndarray with the weight's dtype.
    """
    weight = as_array(weight)
    w, (height, width), is_1d = _as_4d_weight(weight, input_size)
    geom = conv_geometry("conv_matrix", (height, width), w.shape[2:], _lift(stride, is_1d, 1),
                         _lift(padding, is_1d, 0), _lift(dilation, is_1d, 1))
    out_ch, in_ch = w.shape[:2]
    n_out, n_in = geom.oh * geom.ow, height * width
    if out_ch * n_out * in_ch * n_in > MAX_ENTRIES:
        raise ValueError(f"conv_matrix: M would have {out_ch * n_out} x {in_ch * n_in} entries; it is meant "
                         f"for small inputs (at most {MAX_ENTRIES} entries)")
    matrix = np.zeros((out_ch * n_out, in_ch * n_in), dtype=w.dtype)
    oy, ox = np.divmod(np.arange(n_out), geom.ow)  # output pixel of each row (within one channel)
    for i in range(geom.kh):
        for j in range(geom.kw):
            # tap (i, j) of output pixel (oy, ox) reads input pixel (iy, ix)
            iy = oy * geom.sh - geom.ph + i * geom.dh
            ix = ox * geom.sw - geom.pw + j * geom.dw
            inside = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
            rows, pixels = np.nonzero(inside)[0], (iy * width + ix)[inside]
            for o in range(out_ch):
                for c in range(in_ch):
                    matrix[o * n_out + rows, c * n_in + pixels] = w[o, c, i, j]
    return matrix
