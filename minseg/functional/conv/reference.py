"""Plain-loop convolutions: the formulas of the slides, one output (or input) pixel at a time.

They take ndarrays or Tensors, return ndarrays, and are slow on purpose: they exist to be read
and to check the fast paths in ops.py (tests tie the two together and both to torch). Each takes
the op's own arguments, checked by the same :mod:`.geometry` as the fast path.
"""
from __future__ import annotations

import numpy as np

from ..checks import check_image, check_tensor, pair
from .geometry import (check_conv_inputs, conv_geometry, fold_geometry, resolve_padding, transpose_geometry,
                       unfold_geometry)


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


def unfold_reference(input, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """unfold (im2col) by its definition: column l = y * ow + x holds the window of output position
    (y, x), rows ordered (channel, kernel row, kernel column). Same result as F.unfold."""
    x = check_image("unfold", input).data
    geom = unfold_geometry("unfold", x.shape, kernel_size, dilation, padding, stride)
    batch = x if x.ndim == 4 else x[None]
    padded = np.pad(batch, ((0, 0), (0, 0), (geom.ph, geom.ph), (geom.pw, geom.pw)))
    span_h, span_w = geom.dh * (geom.kh - 1) + 1, geom.dw * (geom.kw - 1) + 1
    n_batch, channels = batch.shape[:2]
    out = np.zeros((n_batch, channels * geom.kh * geom.kw, geom.oh * geom.ow), dtype=x.dtype)
    # out[n, (c, i, j), y * ow + x] = padded[n, c, y*sh + i*dh, x*sw + j*dw]
    for y in range(geom.oh):
        for x_ in range(geom.ow):
            top, left = y * geom.sh, x_ * geom.sw
            window = padded[:, :, top:top + span_h:geom.dh, left:left + span_w:geom.dw]
            out[:, :, y * geom.ow + x_] = window.reshape(out.shape[:2])
    return out if x.ndim == 4 else out[0]


def fold_reference(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> np.ndarray:
    """fold (col2im) by its definition: every column is added back onto the window it was read from,
    so pixels shared by overlapping windows receive the sum. Same result as F.fold."""
    cols = check_tensor("fold", "input", input).data
    geom, channels = fold_geometry("fold", cols.shape, output_size, kernel_size, dilation, padding, stride)
    batch = cols if cols.ndim == 3 else cols[None]
    n_batch = batch.shape[0]
    span_h, span_w = geom.dh * (geom.kh - 1) + 1, geom.dw * (geom.kw - 1) + 1
    canvas = np.zeros((n_batch, channels, geom.height + 2 * geom.ph, geom.width + 2 * geom.pw), cols.dtype)
    # canvas[n, c, y*sh + i*dh, x*sw + j*dw] += cols[n, (c, i, j), y * ow + x]
    for y in range(geom.oh):
        for x_ in range(geom.ow):
            top, left = y * geom.sh, x_ * geom.sw
            window = batch[:, :, y * geom.ow + x_].reshape(n_batch, channels, geom.kh, geom.kw)
            canvas[:, :, top:top + span_h:geom.dh, left:left + span_w:geom.dw] += window
    out = canvas[:, :, geom.ph:geom.ph + geom.height, geom.pw:geom.pw + geom.width]
    return out if cols.ndim == 3 else out[0]
