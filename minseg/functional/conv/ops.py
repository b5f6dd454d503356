"""The convolution family: unfold (im2col), fold (col2im), conv2d, conv_transpose2d, conv_matrix.

Convolution as one matrix multiplication. ``im2col`` lays every receptive-field window of the
input out as a column, so a convolution with weight W (out, in/groups, kH, kW) becomes

    y[o, (n, oy, ox)] = sum_k W[o, k] * cols[k, (n, oy, ox)] + b[o],   k = (c, i, j)

one GEMM per group over the whole batch (see :mod:`.kernels` for the column layout).
Its backward is two more GEMMs: dW = dy @ cols^T and dcols = W^T @ dy, then col2im adds dcols
back onto the pixels they were read from.

The transposed convolution runs the same machinery the other way round, as the slides draw it:
each input pixel scales a copy of the filter (cols = W^T @ x, one column per input pixel), the
copies land at stride spacing in the output and add up where they overlap (col2im). So
conv_transpose2d's forward is conv2d's backward with respect to its input, and its backward
uses conv2d's forward. Where the stride divides a longer kernel (kernel 4 stride 2, FCN's kernel 16
stride 8) the copies overlap and conv_transpose2d instead splits into s*s stride-1 convolutions of
the input whose outputs interleave (:mod:`.subpixel`); the column path stays for every other case
and as the reference beside it.

Depthwise convolutions (one input channel per group) skip the column matrix: with only kH*kW
taps per output a GEMM has nothing to chew on, so Numba kernels compute them directly.

3x3 convolutions at stride 1 with enough channels run by Winograd's F(4x4, 3x3) or F(2x2, 3x3) tiles
instead (:mod:`.winograd`: 4x or 2.25x fewer multiplications; Conv2dFunction stays the reference path
beside it).

Large convolutions build their column matrix in bands of output rows, and leave out the kernel taps
that read only zero padding (DeepLab's ASPP): :mod:`.bands` and :mod:`.taps`; the ndarray helpers
(im2col, layouts, the 1x1 product) are in :mod:`.columns`. The plain-loop references
(``<op>_reference``) live in :mod:`.reference`, conv_matrix in :mod:`.matrix`, the argument checks
and output-size arithmetic in :mod:`.geometry`.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ...autograd import Function, Tensor
from ...threads import GRAIN
from ..checks import check_channels, check_image, check_tensor, empty_answer
from .bands import conv_forward
from .geometry import (Geometry, check_conv_inputs, conv_geometry, fold_geometry, transpose_geometry,
                       unfold_geometry)
from .columns import (batch_major, channel_major, col2im, grouped_matmul, grouped_weight, im2col, is_pointwise,
                      kernels, pointwise_pixels, pointwise_product, stack_groups)
from .subpixel import subpixel_backward, subpixel_forward, use_subpixel
from .taps import padding_tap_share
from .winograd import WinogradConv2dFunction, winograd_pays
from .workspace import matmul_nt

__all__ = ["unfold", "fold", "conv2d", "conv_transpose2d"]


def _bias_grad(ctx, g: np.ndarray):
    return g.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None


# ----- Functions --------------------------------------------------------------------------------
class UnfoldFunction(Function):
    """(N, C, H, W) -> (N, C*kH*kW, L) windows as columns; backward is col2im."""

    @staticmethod
    def forward(ctx, x, geom=None):
        ctx.geom, ctx.channels = geom, x.shape[1]
        return im2col(x, geom, "cols").transpose(1, 0, 2).copy()

    @staticmethod
    def backward(ctx, g):
        return (col2im(g.transpose(1, 0, 2), g.shape[0], ctx.channels, ctx.geom),)


class FoldFunction(Function):
    """(N, C*kH*kW, L) -> (N, C, H, W), overlapping entries summed; backward is im2col."""

    @staticmethod
    def forward(ctx, cols, geom=None, channels=1):
        ctx.geom = geom
        return col2im(cols.transpose(1, 0, 2), cols.shape[0], channels, geom)

    @staticmethod
    def backward(ctx, g):
        return (im2col(g, ctx.geom, "cols").transpose(1, 0, 2).copy(),)


class Conv2dFunction(Function):
    """y = W @ im2col(x) + b per group; dW = dy @ cols^T, dx = col2im(W^T @ dy), db = sum dy.

    The column matrix is not kept for backward: refilling a reused scratch buffer costs less
    than holding (and first touching) a fresh one, and a deep network's memory stays small.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        return conv_forward(x, weight, bias, geom, groups)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        groups, geom, (n, channels) = ctx.groups, ctx.geom, x.shape[:2]
        dy = channel_major(g.reshape(n, weight.shape[0], geom.oh * geom.ow), groups, "dy")  # (G, O/G, N*L)
        dw = dx = None
        if ctx.needs_input_grad[1]:
            cols = stack_groups(im2col(x, geom, "cols"), groups)
            dw = matmul_nt(dy, cols).reshape(weight.shape)
            del cols
        if ctx.needs_input_grad[0]:
            w = grouped_weight(weight, groups)
            dcols = grouped_matmul(w.transpose(0, 2, 1), dy, "cols")
            dx = col2im(dcols.reshape(channels * geom.kh * geom.kw, n, geom.oh * geom.ow), n, channels, geom)
        return dx, dw, _bias_grad(ctx, g)


class DepthwiseConv2dFunction(Function):
    """conv2d with one input channel per group (groups = C, weight (C*m, 1, kH, kW)), computed
    directly by Numba kernels: with kH*kW taps per output there is no GEMM worth building
    a 9x larger column matrix for (the case of DeepLabv3+'s separable convolutions)."""

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        x, weight = np.ascontiguousarray(x), np.ascontiguousarray(weight)
        y = np.empty((x.shape[0], weight.shape[0], geom.oh, geom.ow), dtype=x.dtype)  # the kernel zeroes it
        depthwise_pass(x, y, weight, kernels.FORWARD, geom)
        if bias is not None:
            y += bias[:, None, None]
        ctx.geom = geom
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        g = np.ascontiguousarray(g)
        dx = dw = None
        if ctx.needs_input_grad[0]:
            dx = np.empty_like(x)  # the kernel zeroes it
            depthwise_pass(dx, g, weight, kernels.INPUT_GRAD, ctx.geom)
        if ctx.needs_input_grad[1]:
            dw = np.zeros_like(weight)
            depthwise_pass(x, g, dw, kernels.WEIGHT_GRAD, ctx.geom)
        return dx, dw, _bias_grad(ctx, g)


# None: the nine-tap loop (kernels._depthwise_plane_3x3) where fused_depthwise_pays says so; True / False:
# wherever it applies (3x3, stride 1) / nowhere (tests run cases through both).
FUSED_DEPTHWISE: bool | None = None
# The nine-tap loop computes every tap, the per-tap loop skips those that read only padding. Measured on 2
# threads, fwd + bwd, in alternation (2026-12-02), nine-tap time over per-tap time by the share of the reads
# that fall in the padding: 0.72-0.79 under 5% (64x64 and 32x32 maps, dilation 1 or 2), 0.93 at 8% (16x16,
# 80 channels) and at 23% (32x32, dilation 6), 0.99-1.02 at 16% (8x8 dilation 1, 16x16 dilation 2), but
# 1.14-1.26 at 31% (8x8 dilation 2, 16x16 dilation 4) and 1.41 at 75% (8x8 dilation 6).
FUSED_MAX_PADDING_SHARE = 0.25
_padding_share = functools.lru_cache(maxsize=256)(padding_tap_share)  # a network repeats its geometries


def fused_depthwise_pays(geom: Geometry) -> bool:
    """Whether a depthwise pass takes the nine-tap loop: 3x3 at stride 1, FUSED_DEPTHWISE if set, else
    where at most FUSED_MAX_PADDING_SHARE of the taps' reads fall in the padding."""
    if (geom.kh, geom.kw, geom.sh, geom.sw) != (3, 3, 1, 1):
        return False
    if FUSED_DEPTHWISE is not None:
        return FUSED_DEPTHWISE
    return _padding_share(geom) <= FUSED_MAX_PADDING_SHARE


def depthwise_pass(x, grid, weight, pass_kind: int, geom: Geometry) -> None:
    """Run kernels.depthwise (pass_kind FORWARD, INPUT_GRAD or WEIGHT_GRAD), serially when small: below GRAIN
    multiply-adds (kH * kW per output element; GRAIN counts elements of one-operation work)."""
    kernel = kernels.depthwise if grid.size * geom.kh * geom.kw >= GRAIN else kernels.depthwise_serial
    kernel(x, grid, weight, pass_kind, *geom.kernel_args(), fused_depthwise_pays(geom))


class PointwiseConv2dFunction(Function):
    """A 1x1 convolution (no padding) without a column matrix: per image and group the pixels
    already are the GEMM's right-hand side, x[n] viewed as (C/G, H*W), so

        y[n, g] = W[g] @ x[n, g] + b,   dx[n, g] = W[g]^T @ dy[n, g],   dW[g] = sum_n dy[n, g] @ x[n, g]^T

    with W (G, O/G, C/G). np.matmul broadcasts W over the batch and writes (N, G, O/G, L), which
    is y's own (N, O, H, W) memory order: no im2col, no channel-major / batch-major copies.
    A stride s reads every s-th pixel (its gradient lands there, zeros elsewhere).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        ctx.geom, ctx.groups, ctx.input_shape = geom, groups, x.shape
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return pointwise_product(x, weight, bias, geom, groups)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        geom, groups = ctx.geom, ctx.groups
        w = grouped_weight(weight, groups)  # (G, O/G, C/G)
        dy = np.ascontiguousarray(g).reshape(g.shape[0], groups, w.shape[1], geom.oh * geom.ow)
        dx = dw = None
        if ctx.needs_input_grad[0]:
            pixels = np.matmul(w.transpose(0, 2, 1), dy).reshape(g.shape[0], ctx.input_shape[1], geom.oh, geom.ow)
            if geom.sh == geom.sw == 1:
                dx = pixels
            else:
                dx = np.zeros(ctx.input_shape, dtype=g.dtype)
                dx[:, :, ::geom.sh, ::geom.sw] = pixels
        if ctx.needs_input_grad[1]:
            dw = matmul_nt(dy, pointwise_pixels(x, geom, groups)).sum(axis=0).reshape(weight.shape)
        return dx, dw, _bias_grad(ctx, g)


class ConvTranspose2dFunction(Function):
    """y = col2im(W^T @ x) + b; dx = W @ im2col(dy), dW = x @ im2col(dy)^T, db = sum dy."""

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        n, out_channels = x.shape[0], weight.shape[1] * groups
        w = grouped_weight(weight, groups)  # (G, Cin/G, Cout/G*kH*kW)
        xs = channel_major(x.reshape(n, x.shape[1], geom.oh * geom.ow), groups, "dy")  # (G, Cin/G, N*L)
        cols = grouped_matmul(w.transpose(0, 2, 1), xs, "cols")
        y = col2im(cols.reshape(out_channels * geom.kh * geom.kw, n, geom.oh * geom.ow), n, out_channels, geom)
        if bias is not None:
            y += bias[:, None, None]
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        groups, geom, n = ctx.groups, ctx.geom, g.shape[0]
        gcols = stack_groups(im2col(g, geom, "cols"), groups)  # (G, Cout/G*kH*kW, N*L)
        w = grouped_weight(weight, groups)
        dx = dw = None
        if ctx.needs_input_grad[0]:
            dx = batch_major(grouped_matmul(w, gcols, "gemm"), n).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            xs = channel_major(x.reshape(n, x.shape[1], geom.oh * geom.ow), groups, "dy")
            dw = matmul_nt(xs, gcols).reshape(weight.shape)
        return dx, dw, _bias_grad(ctx, g)


class SubpixelConvTranspose2dFunction(Function):
    """ConvTranspose2dFunction's result as s*s stride-1 convolutions of x interleaved into y, all in one
    GEMM (conv/subpixel.py); backward: that GEMM transposed, for the gradients asked for; db = sum dy."""

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        return subpixel_forward(x, weight, bias, geom, groups)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[:2]
        dx, dw = subpixel_backward(x, weight, g, ctx.geom, ctx.groups, need_x, need_w)
        return dx, dw, _bias_grad(ctx, g)


# ----- public API -------------------------------------------------------------------------------
def _batched(x: Tensor, run) -> Tensor:
    """Run ``run`` on a 4-D batch; a 3-D single image gets a batch axis of 1 and loses it after."""
    if x.ndim == 4:
        return run(x)
    out = run(x.reshape(1, *x.shape))
    return out.reshape(*out.shape[1:])


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation, as torch): input (N, C, H, W) or (C, H, W), weight
    (out, C/groups, kH, kW), optional bias (out,). ``padding``: int, pair, 'valid' or 'same'
    (stride 1 only; an odd total goes to the bottom/right). ``dilation`` spreads the taps
    (atrous convolution); ``groups`` splits the channels (groups=C is depthwise)."""
    x, w, b, _ = check_conv_inputs("conv2d", input, weight, bias, groups)
    geom = conv_geometry("conv2d", x.shape[-2:], w.shape[2:], stride, padding, dilation)
    if x.shape[-3] == 0:  # torch's shortcut for an input with no channels: no output channels either
        return empty_answer(np.zeros(x.shape[:-3] + (0, geom.oh, geom.ow), x.dtype), x, w, b)
    if w.shape[1] == 1 and groups > 1:
        function = DepthwiseConv2dFunction
    else:
        function = PointwiseConv2dFunction if is_pointwise(geom) else Conv2dFunction
        batch = math.prod(x.shape[:-3])
        if function is Conv2dFunction and winograd_pays(geom, batch, x.shape[-3], w.shape[0], groups):
            function = WinogradConv2dFunction  # 3x3, stride 1: 4x fewer multiplies (conv/winograd.py)
    return _batched(x, lambda x4: function.apply(x4, w, b, geom=geom, groups=int(groups)))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed convolution (torch's conv_transpose2d): weight (in, out/groups, kH, kW).

    Output size per axis: (in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.
    Every input pixel adds a copy of the filter, weighted by its value, at stride spacing: the
    column path, or, where subpixel.use_subpixel measured it faster, the s*s interleaved stride-1
    convolutions of conv/subpixel.py.
    """
    x, w, b, _ = check_conv_inputs("conv_transpose2d", input, weight, bias, groups, transposed=True)
    geom = transpose_geometry("conv_transpose2d", x.shape[-2:], w.shape[2:], stride, padding,
                              output_padding, dilation)
    function = SubpixelConvTranspose2dFunction if use_subpixel(geom) else ConvTranspose2dFunction
    return _batched(x, lambda x4: function.apply(x4, w, b, geom=geom, groups=int(groups)))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col, as torch's F.unfold: (N, C, H, W) -> (N, C*kH*kW, L), column l holding the
    window of output position l (row-major over the output grid), channel-major rows."""
    x = check_image("unfold", input)
    check_channels("unfold", x)
    geom = unfold_geometry("unfold", x.shape, kernel_size, dilation, padding, stride)
    return _batched(x, lambda x4: UnfoldFunction.apply(x4, geom=geom))


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im, as torch's F.fold: (N, C*kH*kW, L) -> (N, C, H, W) with overlapping windows
    summed. L must equal the number of windows that fit in ``output_size``."""
    cols = check_tensor("fold", "input", input)
    if cols.ndim in (2, 3):
        check_channels("fold", cols, axis=-2)  # (N, C*kH*kW, L): torch wants C*kH*kW >= 1
    geom, channels = fold_geometry("fold", cols.shape, output_size, kernel_size, dilation, padding, stride)
    if cols.ndim == 3:
        return FoldFunction.apply(cols, geom=geom, channels=channels)
    out = FoldFunction.apply(cols.reshape(1, *cols.shape), geom=geom, channels=channels)
    return out.reshape(*out.shape[1:])
