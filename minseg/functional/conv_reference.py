"""Plain-loop convolutions: the formulas of the slides, one output (or input) pixel at a time.

They take ndarrays or Tensors, return ndarrays, and are slow on purpose: they exist to be read
and to check the fast paths in conv.py (tests tie the two together and both to torch).
"""
from __future__ import annotations

import numpy as np

from .conv_args import check_conv_inputs, conv_geometry, resolve_padding, transpose_geometry
from ._utils import pair


def _arrays(op, input, weight, bias, groups, transposed=False):
    x, w, b, out_channels = check_conv_inputs(op, input, weight, bias, groups, transposed)
    x = x.data if x.ndim == 4 else x.data[None]
    b = np.zeros(out_channels, x.dtype) if b is None else b.data
    return x, w.data, b, out_channels


def conv2d_reference(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """conv2d by its definition: slide the kernel over the zero-padded input, one dot product
    per output pixel. Same arguments and result as F.conv2d (batched (N, O, oh, ow) output)."""
    x, w, b, out_channels = _arrays("conv2d", input, weight, bias, groups)
    geom = conv_geometry("conv2d", x.shape[2:], w.shape[2:], stride, padding, dilation)
    rows, cols = resolve_padding("conv2d", padding, w.shape[2:], pair("conv2d", "stride", stride),
                                 pair("conv2d", "dilation", dilation))
    padded = np.pad(x, ((0, 0), (0, 0), rows, cols))
    n_batch, group_in, group_out = x.shape[0], w.shape[1], out_channels // groups
    span_h, span_w = geom.dh * (geom.kh - 1) + 1, geom.dw * (geom.kw - 1) + 1
    out = np.zeros((n_batch, out_channels, geom.oh, geom.ow), dtype=x.dtype)
    # out[n, o, y, x] = b[o] + sum_{c, i, j} w[o, c, i, j] * padded[n, g*C_g + c, y*sh + i*dh, x*sw + j*dw]
    # with g = o // (out / groups) the group of output channel o
    for n in range(n_batch):
        for o in range(out_channels):
            g = o // group_out
            channels = slice(g * group_in, (g + 1) * group_in)
            for y in range(geom.oh):
                for x_ in range(geom.ow):
                    top, left = y * geom.sh, x_ * geom.sw
                    window = padded[n, channels, top:top + span_h:geom.dh, left:left + span_w:geom.dw]
                    out[n, o, y, x_] = b[o] + np.sum(w[o] * window)
    return out


def conv_transpose2d_reference(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                               groups=1, dilation=1) -> np.ndarray:
    """conv_transpose2d as the slides draw it: every input pixel pastes a copy of the filter,
    weighted by its value, into the output at stride spacing; overlapping copies add up.
    ``padding`` then crops that many rows/columns from each border; ``output_padding`` keeps
    extra ones at the bottom/right."""
    x, w, b, out_channels = _arrays("conv_transpose2d", input, weight, bias, groups, transposed=True)
    geom = transpose_geometry("conv_transpose2d", x.shape[2:], w.shape[2:], stride, padding,
                              output_padding, dilation)
    n_batch, channels, height, width = x.shape
    group_in, group_out = channels // groups, w.shape[1]
    span_h, span_w = geom.dh * (geom.kh - 1) + 1, geom.dw * (geom.kw - 1) + 1
    # the uncropped canvas, large enough for every copy and the output_padding rows
    canvas_h = max(geom.ph + geom.height, (height - 1) * geom.sh + span_h)
    canvas_w = max(geom.pw + geom.width, (width - 1) * geom.sw + span_w)
    canvas = np.zeros((n_batch, out_channels, canvas_h, canvas_w), x.dtype)
    # canvas[n, g*O_g + o, y*sh + i*dh, x*sw + j*dw] += x[n, c, y, x] * w[c, o, i, j],  g = c // C_g
    for n in range(n_batch):
        for c in range(channels):
            outs = slice((c // group_in) * group_out, (c // group_in + 1) * group_out)
            for y in range(height):
                for x_ in range(width):
                    top, left = y * geom.sh, x_ * geom.sw
                    canvas[n, outs, top:top + span_h:geom.dh, left:left + span_w:geom.dw] += x[n, c, y, x_] * w[c]
    out = canvas[:, :, geom.ph:geom.ph + geom.height, geom.pw:geom.pw + geom.width]
    return out + b[None, :, None, None]
