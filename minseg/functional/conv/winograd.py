"""conv2d's 3x3, stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2016).

In one dimension, two outputs of a 3-tap correlation of a 4-vector d with a filter g,

    y0 = d0 g0 + d1 g1 + d2 g2,        y1 = d1 g0 + d2 g1 + d3 g2,

take 6 multiplications directly, but only 4 as  y = A^T [(G g) * (B^T d)]  (``*`` elementwise) with

          | 1  0 -1  0 |           | 1    0    0  |
    B^T = | 0  1  1  0 |       G = | 1/2  1/2  1/2|       A^T = | 1  1  1  0 |
          | 0 -1  1  0 |           | 1/2 -1/2  1/2|             | 0  1 -1 -1 |
          | 0  1  0 -1 |           | 0    0    1  |

(e.g. m1 + m2 = (d1 + d2)(g0 + g1 + g2)/2 + (d2 - d1)(g0 - g1 + g2)/2 = d1 g1 + d2 (g0 + g2)). Nesting the
1-D algorithm in both axes gives a 2x2 output tile Y = A^T [U * V] A from a 4x4 input tile d, with
U = G g G^T (4x4, per filter) and V = B^T d B (4x4, per tile). Summed over input channels that is

    M[xi] = U[xi] @ V[xi]       U (16, out, in),  V (16, in, tiles),  M (16, out, tiles)

16 GEMMs, one per position xi of the 4x4 tile, over the batch's 2x2 tiles (they overlap by 2 pixels
in the input, padding is 0). Why it pays: a direct (im2col) 3x3 convolution spends 9 multiply-adds per
output pixel, input channel and output channel, i.e. 36 per 2x2 tile; Winograd spends 16, 2.25x fewer,
in GEMMs that are as large (out x in by the number of tiles). The transforms are additions only (the
halves of G are exact in binary), linear in the image's size, not multiplied by the channel counts.

The backward is the exact adjoint of these three linear steps: dM = A dY A^T per tile; dU[xi] = dM[xi]
@ V[xi]^T and dg = G^T dU G per filter; dV[xi] = U[xi]^T @ dM[xi], overlap-added back onto the pixels
as B dV B^T (the padding dropped). V is recomputed from the input in backward, not kept.

Float32: the transforms only add, subtract and halve (exact in binary), so the rounding comes from
the sums as in the direct convolution, just in another order: each GEMM sums C products (im2col's sums
9 C) and the output transform adds up 9 of them. Measured against float64 (tests/test_conv_winograd.py's
float32 case, 32 -> 16 channels on 20x20): max relative error 2.5e-7 for Winograd, 6.1e-7 for im2col.
Larger tiles (F(4x4, 3x3)) save more multiplications but need fractions like 1/6 and 1/24 in their
transforms, and their float32 error grows quickly with the tile size; only F(2x2, 3x3) is used here.

Dilation d (stride 1): y[oy] reads the input at oy - p, oy - p + d, oy - p + 2d (p the leading padding),
so output rows oy = d r + a read only input rows d q + a - p: the output sub-grid y[a::d] is an
ordinary 3x3 convolution of the input sub-grid xp[a::d] of the padded input (rows r + i, i = 0, 1, 2).
With both axes, d*d undilated convolutions on interleaved sub-grids; the kernels walk them with
stride d (no copy), a sub-grid's tiles being its 2x2 output blocks as above.

The tile transforms are Numba kernels (conv/winograd_kernels.py); large convolutions are tiled in
bands of tile rows, within the column matrix's budget (bands.COLUMN_BUDGET_BYTES).
"""
from __future__ import annotations

import numpy as np

from ...autograd import Function
from ...lazy import lazy_module
from ...threads import GRAIN
from . import bands
from .geometry import Geometry
from .taps import padding_tap_share
from .workspace import matmul_nt, scratch

kernels = lazy_module(__package__ + ".winograd_kernels")  # Numba loads on the first call

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
G_KRON = np.kron(G, G)  # (16, 9): row 4 a + b, column 3 i + j holds G[a, i] G[b, j]

# None: conv2d takes Winograd where winograd_pays says so; True: wherever it applies (tests); False: never.
FORCE: bool | None = None
# When conv2d takes Winograd (FORCE None). Measured on one thread, forward + backward, time of Winograd over
# the im2col path, medians of 7 interleaved runs on the shared 2-core machine (noise ~10%), N16 unless said:
# - 64 channels and more win at every size tried: 64 -> 64 at 8x8 .. 64x64: 0.62, 0.98, 0.86, 0.86;
#   64 -> 128 at 32x32: 0.89; 128 -> 128 at 16x16, 32x32: 0.90, 0.76; N8 64 -> 64 64x64 dilation 1, 2, 4:
#   0.82, 0.85, 0.84; N2 256 -> 256 33x33 dilation 2, 4: 0.71, 0.78.
# - fewer channels win from 64x64 outputs on (8, 16, 32 channels: 0.94, 0.96, 0.93; N8 32 -> 32 dilation 2:
#   0.57) but not at 16x16 / 32x32 (1.03 .. 1.27), where the transforms' per-plane work is too short;
# - 3 input channels (a network's first layer) lose: 3 -> 16 at 64x64: 1.38 (the GEMMs are tiny).
WINOGRAD_MIN_CHANNELS = 8  # min(in, out) below this: never
WINOGRAD_WIDE_CHANNELS = 64  # min(in, out) from this on: at any size
WINOGRAD_MIN_PIXELS = 64 * 64  # between the two: from this many output pixels on


def winograd_applies(geom: Geometry, groups: int) -> bool:
    """True for the convolutions F(2x2, 3x3) computes: 3x3 kernel, stride 1, one group."""
    return (geom.kh, geom.kw, geom.sh, geom.sw, groups) == (3, 3, 1, 1, 1)


def winograd_pays(geom: Geometry, channels: int, out_channels: int, groups: int) -> bool:
    """Whether conv2d should run this convolution by Winograd: FORCE where it applies, else the measured
    thresholds, and never where conv_forward skips the taps that read padding (conv/taps.py: there most
    products are with zeros, which Winograd would all compute)."""
    if FORCE is not None or not winograd_applies(geom, groups):
        return bool(FORCE) and winograd_applies(geom, groups)
    narrow, pixels = min(channels, out_channels), geom.oh * geom.ow
    pays = narrow >= WINOGRAD_WIDE_CHANNELS or (narrow >= WINOGRAD_MIN_CHANNELS and pixels >= WINOGRAD_MIN_PIXELS)
    return pays and padding_tap_share(geom) < bands.TAP_SKIP_SHARE


# ----- the filter transform U = G g G^T and its adjoint -----------------------------------------
def filter_transform(weight: np.ndarray) -> np.ndarray:
    """(O, C, 3, 3) filters g -> U (16, O, C), U[4 a + b] = (G g G^T)[a, b] = sum_ij G[a, i] G[b, j] g[i, j]:
    one product with kron(G, G) (16 x 9) over all O*C filters (a stack of 4x3 products costs more)."""
    return (G_KRON.astype(weight.dtype) @ weight.reshape(-1, 9).T).reshape(16, *weight.shape[:2])


def filter_transform_adjoint(du: np.ndarray) -> np.ndarray:
    """dU (16, O, C) -> dg (O, C, 3, 3) = G^T dU G per filter (the adjoint of filter_transform)."""
    return (G_KRON.T.astype(du.dtype) @ du.reshape(16, -1)).T.reshape(*du.shape[1:], 3, 3)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tile_grid(geom: Geometry) -> tuple[int, int]:
    """Tile rows and columns of each of the dh*dw sub-grids (ceil(oh / dh) by ceil(ow / dw) outputs)."""
    return _ceil_div(_ceil_div(geom.oh, geom.dh), 2), _ceil_div(_ceil_div(geom.ow, geom.dw), 2)


def tile_bands(geom: Geometry, channels: int, out_channels: int, n: int, itemsize: int) -> list[tuple]:
    """(first tile row, tile rows) of each band, such that a band's V and M (16 values per tile and
    channel) fit bands.COLUMN_BUDGET_BYTES together (at least one tile row per band)."""
    tile_rows, tile_cols = tile_grid(geom)
    row_bytes = 16 * (channels + out_channels) * n * geom.dh * geom.dw * tile_cols * itemsize
    rows = max(1, min(tile_rows, bands.COLUMN_BUDGET_BYTES // max(row_bytes, 1)))
    return [(first, min(rows, tile_rows - first)) for first in range(0, tile_rows, rows)]


def _input_pass(x, v, geom: Geometry, row0: int, scatter: bool) -> None:
    """v = B^T d B for the band's tiles of x, or (scatter) x += their adjoint; serially when small."""
    kernel = kernels.input_tiles if v.size >= GRAIN else kernels.input_tiles_serial
    kernel(x, v, geom.ph, geom.pw, geom.dh, geom.dw, row0, tile_grid(geom)[1], scatter)


def _output_pass(m, y, bias, geom: Geometry, row0: int, adjoint: bool) -> None:
    """y = A^T M A + bias for the band's tiles, or (adjoint) m = A dY A^T; serially when small."""
    kernel = kernels.output_tiles if m.size >= GRAIN else kernels.output_tiles_serial
    kernel(m, y, bias, geom.dh, geom.dw, row0, tile_grid(geom)[1], adjoint)


def _band_tiles(geom: Geometry, n: int, rows: int) -> int:
    """Tiles in a band of ``rows`` tile rows: every image, sub-grid and tile column."""
    return n * geom.dh * geom.dw * rows * tile_grid(geom)[1]


# The scratch slots of V and M: the im2col path's column ("cols") and product ("gemm") slots. No convolution
# runs both paths at once, so sharing them keeps one buffer per slot instead of two (a U-Net training
# step held 18 MB of columns and 16 MB of V side by side).
V_SLOT, M_SLOT = "cols", "gemm"


def tiles_forward(x: np.ndarray, u: np.ndarray, bias, geom: Geometry) -> np.ndarray:
    """y (N, O, oh, ow) of the 3x3 convolution ``geom`` (stride 1) with transformed filters u (16, O, C)."""
    (n, channels), out_channels = x.shape[:2], u.shape[1]
    y = np.empty((n, out_channels, geom.oh, geom.ow), x.dtype)
    bias = np.zeros(out_channels, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    for row0, rows in tile_bands(geom, channels, out_channels, n, x.dtype.itemsize):
        tiles = _band_tiles(geom, n, rows)
        v = scratch(V_SLOT, (16, channels, tiles), x.dtype)
        _input_pass(x, v, geom, row0, scatter=False)
        m = np.matmul(u, v, out=scratch(M_SLOT, (16, out_channels, tiles), x.dtype))
        _output_pass(m, y, bias, geom, row0, adjoint=False)
        del v, m  # scratch views: the next band reuses their buffers
    return y


def tiles_backward(x, u, dy, geom: Geometry, input_shape: tuple, need_dx: bool):
    """(dx or None, dU or None) of tiles_forward for the output gradient dy; dU only where x is given
    (the input, needed to recompute V), dx only with ``need_dx``."""
    (n, channels), out_channels = input_shape[:2], u.shape[1]
    dx = np.zeros(input_shape, dy.dtype) if need_dx else None
    du = np.zeros(u.shape, dy.dtype) if x is not None else None  # summed over the bands
    unused_bias = np.zeros(out_channels, dy.dtype)
    for row0, rows in tile_bands(geom, channels, out_channels, n, dy.dtype.itemsize):
        tiles = _band_tiles(geom, n, rows)
        dm = scratch(M_SLOT, (16, out_channels, tiles), dy.dtype)
        _output_pass(dm, dy, unused_bias, geom, row0, adjoint=True)
        v = scratch(V_SLOT, (16, channels, tiles), dy.dtype)
        if du is not None:
            _input_pass(x, v, geom, row0, scatter=False)
            du += matmul_nt(dm, v)
        if need_dx:
            np.matmul(u.transpose(0, 2, 1), dm, out=v)  # dV, in V's memory
            _input_pass(dx, v, geom, row0, scatter=True)
        del v, dm
    return dx, du


class WinogradConv2dFunction(Function):
    """conv2d of a 3x3 kernel at stride 1 by F(2x2, 3x3) tiles (module doc); the same arguments and
    results as Conv2dFunction. Only the gradients asked for are computed."""

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        ctx.geom, ctx.input_shape = geom, x.shape
        ctx.u = filter_transform(weight)  # kept for backward: 16/9 of the weight's size
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None)
        return tiles_forward(np.ascontiguousarray(x), ctx.u, bias, geom)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        need_dx, need_dw = ctx.needs_input_grad[:2]
        dx = dw = None
        if need_dx or need_dw:
            x = np.ascontiguousarray(x) if need_dw else None
            dx, du = tiles_backward(x, ctx.u, np.ascontiguousarray(g), ctx.geom,
                                    ctx.input_shape, need_dx)
            dw = filter_transform_adjoint(du) if need_dw else None
        db = g.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None
        return dx, dw, db
