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
uses conv2d's forward.

Depthwise convolutions (one input channel per group) skip the column matrix: with only kH*kW
taps per output a GEMM has nothing to chew on, so Numba kernels compute them directly.

The plain-loop references (``<op>_reference``) live in :mod:`.reference`, conv_matrix in
:mod:`.matrix`, the argument checks and output-size arithmetic in :mod:`.geometry`.
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function, Tensor
from ...lazy import lazy_module
from ...threads import GRAIN
from ..checks import check_channels, check_image, check_tensor, empty_answer
from .geometry import (Geometry, check_conv_inputs, conv_geometry, fold_geometry, transpose_geometry,
                       unfold_geometry)
from .workspace import matmul_nt, scratch

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)

__all__ = ["unfold", "fold", "conv2d", "conv_transpose2d"]

# Arrays smaller than GRAIN (the project-wide grain of minseg/threads.py) go to the serial
# kernels: waking the thread pool costs more. The serial twins never touch the pool at all.


# ----- array helpers (ndarray in, ndarray out) --------------------------------------------------
def im2col(x: np.ndarray, geom: Geometry, slot: str | None = None) -> np.ndarray:
    """The column array (C*kH*kW, N, oh*ow) of an (N, C, H, W) batch (in scratch ``slot`` if given)."""
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    shape = (c * geom.kh * geom.kw, n, geom.oh * geom.ow)
    cols = np.empty(shape, x.dtype) if slot is None else scratch(slot, shape, x.dtype)
    if cols.size >= GRAIN:
        kernels.im2col(x, cols, *geom.kernel_args())
    else:
        kernels.planes_serial(x, cols, *geom.kernel_args(), kernels.GATHER)
    return cols


def col2im(cols: np.ndarray, n: int, channels: int, geom: Geometry) -> np.ndarray:
    """The (N, C, H, W) image that sums column array (C*kH*kW, N, oh*ow) back onto its pixels."""
    image = np.zeros((n, channels, geom.height, geom.width), dtype=cols.dtype)
    cols = np.ascontiguousarray(cols)
    if cols.size >= GRAIN:
        kernels.col2im(cols, image, *geom.kernel_args())
    else:
        kernels.planes_serial(image, cols, *geom.kernel_args(), kernels.SCATTER)
    return image


def channel_major(a: np.ndarray, groups: int, slot: str) -> np.ndarray:
    """(N, C, L) -> (groups, C/groups, N*L): channels as rows, the whole batch as columns.
    For N > 1 the result is a scratch array (see conv_workspace)."""
    n, c, length = a.shape
    if n == 1:
        return np.ascontiguousarray(a).reshape(groups, c // groups, length)
    out = scratch(slot, (c, n, length), a.dtype)
    np.copyto(out, a.transpose(1, 0, 2))
    return out.reshape(groups, c // groups, n * length)


def batch_major(a: np.ndarray, n: int, bias: np.ndarray | None = None) -> np.ndarray:
    """(..., N*L) with C rows in total -> a new (N, C, L) array, plus ``bias`` per channel."""
    rows = int(np.prod(a.shape[:-1]))
    a = a.reshape(rows, n, a.shape[-1] // n if n else 0).transpose(1, 0, 2)
    out = np.empty(a.shape, dtype=a.dtype)
    if bias is None:
        np.copyto(out, a)
    else:
        np.add(a, bias[:, None], out=out)
    return out


def grouped_matmul(a: np.ndarray, b: np.ndarray, slot: str) -> np.ndarray:
    """a @ b for (G, m, k) and (G, k, n) stacks, into scratch ``slot``."""
    out = scratch(slot, (a.shape[0], a.shape[1], b.shape[2]), a.dtype)
    return np.matmul(a, b, out=out)


def grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """A (A, B, kH, kW) weight as the per-group matrices (G, A/G, B*kH*kW) (sizes explicit, so that an
    empty weight reshapes too)."""
    return weight.reshape(groups, weight.shape[0] // groups, int(np.prod(weight.shape[1:])))


def _bias_grad(ctx, g: np.ndarray):
    return g.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None


def _stack(cols: np.ndarray, groups: int) -> np.ndarray:
    """Column array (K, N, L) as the per-group matrices (G, K/G, N*L)."""
    return cols.reshape(groups, cols.shape[0] // groups, cols.shape[1] * cols.shape[2])


# Largest column matrix conv2d's forward builds at once; a larger one is built a band of output rows
# at a time (DeepLab's ASPP: 2048*9 rows x 65*65 columns, 311 MB in float32, next to a 35 MB output).
COLUMN_BUDGET_BYTES = 64 * 2**20


def band_rows(geom: Geometry, channels: int, n: int, itemsize: int) -> int:
    """Output rows per band such that one band's column matrix fits COLUMN_BUDGET_BYTES (at least 1)."""
    row_bytes = channels * geom.kh * geom.kw * n * geom.ow * itemsize
    return max(1, min(geom.oh, COLUMN_BUDGET_BYTES // max(row_bytes, 1)))


def conv_forward_in_bands(x, w, bias, geom: Geometry, groups: int, rows: int) -> np.ndarray:
    """conv2d's forward (y = W @ im2col(x) + b) ``rows`` output rows at a time, so that the column
    matrix never exceeds one band's (K, N, rows*ow). Output rows [top, top + rows) read input rows
    from top*sh - ph on: that band is the same convolution with the output grid cut to ``rows`` rows
    and the leading padding moved up by top*sh (negative once the band starts inside the image;
    the kernels test every input row against the image anyway). Each band's GEMM result lands
    in its rows of y, batch-major."""
    n, out_channels = x.shape[0], w.shape[0] * w.shape[1]
    y = np.empty((n, out_channels, geom.oh, geom.ow), dtype=x.dtype)
    for top in range(0, geom.oh, rows):
        band = geom._replace(oh=min(rows, geom.oh - top), ph=geom.ph - top * geom.sh)
        part = grouped_matmul(w, _stack(im2col(x, band, "cols"), groups), "gemm")  # (G, O/G, N*rows*ow)
        y[:, :, top:top + band.oh] = part.reshape(out_channels, n, band.oh, geom.ow).transpose(1, 0, 2, 3)
    if bias is not None:
        y += bias[:, None, None]
    return y


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
        n, out_channels = x.shape[0], weight.shape[0]
        w = grouped_weight(weight, groups)
        ctx.geom, ctx.groups = geom, groups
        ctx.save_for_backward(x, weight)
        rows = band_rows(geom, x.shape[1], n, x.dtype.itemsize)
        if rows < geom.oh:
            return conv_forward_in_bands(x, w, bias, geom, groups, rows)
        y = grouped_matmul(w, _stack(im2col(x, geom, "cols"), groups), "gemm")
        return batch_major(y, n, bias).reshape(n, out_channels, geom.oh, geom.ow)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        groups, geom, (n, channels) = ctx.groups, ctx.geom, x.shape[:2]
        dy = channel_major(g.reshape(n, weight.shape[0], geom.oh * geom.ow), groups, "dy")  # (G, O/G, N*L)
        dw = dx = None
        if ctx.needs_input_grad[1]:
            cols = _stack(im2col(x, geom, "cols"), groups)
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
        y = np.zeros((x.shape[0], weight.shape[0], geom.oh, geom.ow), dtype=x.dtype)
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
            dx = np.zeros_like(x)
            depthwise_pass(dx, g, weight, kernels.INPUT_GRAD, ctx.geom)
        if ctx.needs_input_grad[1]:
            dw = np.zeros_like(weight)
            depthwise_pass(x, g, dw, kernels.WEIGHT_GRAD, ctx.geom)
        return dx, dw, _bias_grad(ctx, g)


def depthwise_pass(x, grid, weight, pass_kind: int, geom: Geometry) -> None:
    """Run kernels.depthwise (pass_kind FORWARD, INPUT_GRAD or WEIGHT_GRAD), serially when small."""
    kernel = kernels.depthwise if grid.size >= GRAIN else kernels.depthwise_serial
    kernel(x, grid, weight, pass_kind, *geom.kernel_args())


def is_pointwise(geom: Geometry) -> bool:
    """True for a 1x1 kernel without padding: every output pixel reads exactly one input pixel."""
    return (geom.kh, geom.kw, geom.ph, geom.pw) == (1, 1, 0, 0) and \
        (geom.oh, geom.ow) == ((geom.height - 1) // geom.sh + 1, (geom.width - 1) // geom.sw + 1)


def pointwise_pixels(x: np.ndarray, geom: Geometry, groups: int) -> np.ndarray:
    """x (N, C, H, W) as (N, G, C/G, oh*ow): the pixels a 1x1 convolution reads. A view of x at
    stride 1; a strided one keeps every sh-th row and sw-th column (a copy 1/(sh*sw) of x's size)."""
    if geom.sh > 1 or geom.sw > 1:
        x = x[:, :, ::geom.sh, ::geom.sw]
    x = np.ascontiguousarray(x)
    return x.reshape(x.shape[0], groups, x.shape[1] // groups, geom.oh * geom.ow)


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
        n, out_channels = x.shape[0], weight.shape[0]
        y = np.matmul(grouped_weight(weight, groups), pointwise_pixels(x, geom, groups))
        if bias is not None:
            y.reshape(n, out_channels, geom.oh * geom.ow)[...] += bias[:, None]
        ctx.geom, ctx.groups, ctx.input_shape = geom, groups, x.shape
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None, weight)
        return y.reshape(n, out_channels, geom.oh, geom.ow)

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
        gcols = _stack(im2col(g, geom, "cols"), groups)  # (G, Cout/G*kH*kW, N*L)
        w = grouped_weight(weight, groups)
        dx = dw = None
        if ctx.needs_input_grad[0]:
            dx = batch_major(grouped_matmul(w, gcols, "gemm"), n).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            xs = channel_major(x.reshape(n, x.shape[1], geom.oh * geom.ow), groups, "dy")
            dw = matmul_nt(xs, gcols).reshape(weight.shape)
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
    return _batched(x, lambda x4: function.apply(x4, w, b, geom=geom, groups=int(groups)))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed convolution (torch's conv_transpose2d): weight (in, out/groups, kH, kW).

    Output size per axis: (in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.
    Every input pixel adds a copy of the filter, weighted by its value, at stride spacing.
    """
    x, w, b, _ = check_conv_inputs("conv_transpose2d", input, weight, bias, groups, transposed=True)
    geom = transpose_geometry("conv_transpose2d", x.shape[-2:], w.shape[2:], stride, padding,
                              output_padding, dilation)
    return _batched(x, lambda x4: ConvTranspose2dFunction.apply(x4, w, b, geom=geom, groups=int(groups)))


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
