"""conv2d's 3x3, stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) and F(4x4, 3x3)
(Lavin & Gray, 2016).

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

F(4x4, 3x3) is the same construction with 4 outputs per axis from a 6-vector, by the Toom-Cook points
0, 1, -1, 1/2, -2 and infinity: A^T[i, j] = p_j^i (4x6), G[j, k] = p_j^k / prod_{l != j} (p_j - p_l) (6x3,
the row of infinity (0, 0, 1)), and B^T (6x6) the matrix for which A^T [(G g) * (B^T d)] is the correlation
for every d and g (``F4`` below; tests/test_conv_winograd.py checks the identity and worked examples).
A 4x4 output tile from a 6x6 input tile costs 36 multiplications, 2.25 per output pixel where F(2x2)
spends 4 and im2col 9: 36 GEMMs over 4x4 tiles, with 36/16 = 2.25 transformed values per output pixel
(F(2x2): 4), so the transforms also move 0.56x the data.

Float32. F(2x2)'s transforms only add, subtract and halve (exact in binary), so its rounding comes from
the sums as in the direct convolution, in another order. F(4x4)'s multiply by up to 8 and by 1/3, 1/15
(in G, applied once to the filters), and A^T's rows add terms of very different sizes, so its error is
larger: Lavin's points 0, +-1, +-2 gave 2.4x the error of the points used here (the same float32
arithmetic in NumPy against float64, 256 -> 64 channels on 32x32). Max error relative to max |y|
against float64 (the float32 case of tests/test_conv_winograd.py, 32 -> 16 channels on 20x20; then
256 -> 64 on 32x32): im2col 6.1e-7, 5.2e-7; F(2x2) 2.5e-7, 7.7e-7; F(4x4) 2.1e-6, 4.2e-6; torch's
float32 conv2d 3.3e-7, 2.7e-7. That is within the float32 tolerances every conv test uses against
torch (1e-4), so both are used.

Dilation d (stride 1): y[oy] reads the input at oy - p, oy - p + d, oy - p + 2d (p the leading padding),
so output rows oy = d r + a read only input rows d q + a - p: the output sub-grid y[a::d] is an
ordinary 3x3 convolution of the input sub-grid xp[a::d] of the padded input (rows r + i, i = 0, 1, 2).
With both axes, d*d undilated convolutions on interleaved sub-grids; the kernels walk them with
stride d (no copy), a sub-grid's tiles being its m x m output blocks as above.

The tile transforms are Numba kernels (conv/winograd_kernels.py); large convolutions are tiled in
bands of tile rows, within the column matrix's budget (bands.COLUMN_BUDGET_BYTES).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ...autograd import Function
from ...lazy import lazy_module
from ...threads import GRAIN
from . import bands
from .geometry import Geometry
from .workspace import matmul_nt, scratch

kernels = lazy_module(__package__ + ".winograd_kernels")  # Numba loads on the first call

@dataclass(frozen=True)
class Tiling:
    """One Winograd algorithm F(m x m, 3x3): m x m output tiles from (m + 2)^2 input tiles, by its three
    matrices (B^T d B, G g G^T, A^T M A). ``positions`` = (m + 2)^2 GEMMs, one per tile position."""
    m: int
    B_T: np.ndarray  # (m + 2, m + 2)
    G: np.ndarray  # (m + 2, 3)
    A_T: np.ndarray  # (m, m + 2)

    @property
    def positions(self) -> int:
        return (self.m + 2) ** 2

    @functools.cached_property
    def G_KRON(self) -> np.ndarray:
        """kron(G, G), ((m + 2)^2, 9): row (m + 2) a + b, column 3 i + j holds G[a, i] G[b, j] (made once)."""
        return np.kron(self.G, self.G)


F2 = Tiling(2, B_T=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64),
            G=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64),
            A_T=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64))
# F(4x4, 3x3) from the points 0, 1, -1, 1/2, -2 (and infinity): A^T[i, j] = p_j^i,
# G[j, k] = p_j^k / prod_l(p_j - p_l) (here halved), B^T solving A^T diag(G g) B^T d = the correlation
# for every d and g (times 2, so its entries are integers). Lavin's points 0, +-1, +-2 give float32
# errors 2.4x larger (module doc).
F4 = Tiling(4, B_T=np.array([[2, -3, -4, 3, 2, 0], [0, -2, 1, 5, 2, 0], [0, 2, -5, 1, 2, 0],
                             [0, -4, -2, 4, 2, 0], [0, 1, -2, -1, 2, 0], [0, 2, -3, -4, 3, 2]],
                            dtype=np.float64),
            G=np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, -1 / 3], [-16 / 15, -8 / 15, -4 / 15],
                        [1 / 15, -2 / 15, 4 / 15], [0, 0, 1]], dtype=np.float64) / 2,
            A_T=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 0.5, -2, 0], [0, 1, 1, 0.25, 4, 0],
                          [0, 1, -1, 0.125, -8, 1]], dtype=np.float64))

# None: conv2d takes Winograd where winograd_pays says so; True: wherever it applies (tests); False: never.
FORCE: bool | None = None
# When conv2d takes Winograd (FORCE None), and which tile. Measured on 2 threads (one-thread spot checks
# agreed), forward + backward, interleaved medians of 5 to 9 runs against the whole column matrix (im2col)
# on the shared 2-core machine (noise ~10%); the numbers are F(4x4)'s time over im2col's, N16 unless said:
# - at 64x64 outputs, 8 channels and more win: 8 -> 8, 16 -> 8, 16 -> 16, 32 -> 32: 0.82, 0.77, 0.83, 0.70
#   (N8: 0.88, 0.98, 0.87; N4 16 -> 16, 32 -> 32: 0.91, 1.01); N8 64 -> 64 at dilation 1, 2, 4: 0.64, 0.75,
#   0.86 (the sub-grids of 32x32 and 16x16 outputs there still win);
# - at 32x32, 64 channels win (64 -> 64: 0.87, 64 -> 32: 0.81), fewer do not (8 -> 16, 16 -> 16, 32 -> 32,
#   32 -> 16: 1.17, 1.06, 1.12, 0.97; N32 16 -> 16 and 32 -> 32: 1.13, 0.99; N8 32 -> 64: 1.23);
# - at 16x16 only 128 channels win (0.82; 64 -> 64 N32 1.04, 64 -> 32 1.04, 32 -> 32 1.09), and at 8x8 or
#   4x4 none (64 -> 64 at 8x8: 1.66, F(2x2) 1.23; 128 -> 128 0.99; 32 -> 32 at 4x4, F(2x2): 1.20): the
#   short tile rows vectorise badly, and 36 small GEMMs use the second core less than one large one;
# - fewer than 8 input channels (a network's first layer): 3 -> 8 at 64x64 0.87, but 3 -> 16 and 4 -> 8
#   1.13 and 0.95 in an earlier one-thread run.
# Where Winograd wins, F(4x4) beats F(2x2) (0.68 .. 0.98 of its time on one thread; 0.59 .. 0.97 on two, but
# 1.04 for 64 -> 64 at 32x32):
# conv2d takes only F(4x4), where every sub-grid has at least F4_MIN_SIDE outputs on both sides; F(2x2)
# runs where FORCE (tests) sends a convolution with smaller sub-grids.
# min(in, out) channels from the key on: from this many output pixels per image (fewer than 8: never)
WINOGRAD_MIN_PIXELS = {8: 64 * 64, 64: 32 * 32, 128: 16 * 16}
F4_MIN_SIDE = 16  # F(4x4, 3x3) where each sub-grid has at least this many outputs on both sides (per image)


def winograd_applies(geom: Geometry, groups: int) -> bool:
    """True for the convolutions Winograd's F(m x m, 3x3) computes: 3x3 kernel, stride 1, one group."""
    return (geom.kh, geom.kw, geom.sh, geom.sw, groups) == (3, 3, 1, 1, 1)


def winograd_pays(geom: Geometry, n: int, channels: int, out_channels: int, groups: int) -> bool:
    """Whether conv2d should run this convolution by Winograd: FORCE where it applies, else the measured
    thresholds (F(4x4) tiles only), and never where conv_forward skips the taps that read padding
    (conv/bands.py: there many products are with zeros, which Winograd would all compute)."""
    if FORCE is not None or not winograd_applies(geom, groups):
        return bool(FORCE) and winograd_applies(geom, groups)
    narrow, pixels = min(channels, out_channels), geom.oh * geom.ow
    pays = any(narrow >= width and pixels >= least for width, least in WINOGRAD_MIN_PIXELS.items())
    return pays and _fits_f4(geom) and not bands.skips_padding_taps(geom, n, channels, out_channels, groups)


# Which tile conv2d's Winograd path uses: None, by tiling_for's rule; F2 or F4: that one (tests).
TILING: Tiling | None = None


def _fits_f4(geom: Geometry) -> bool:
    """Whether every sub-grid is at least F4_MIN_SIDE outputs wide and high (F(4x4)'s tiles pay there)."""
    return min(_ceil_div(geom.oh, geom.dh), _ceil_div(geom.ow, geom.dw)) >= F4_MIN_SIDE


def tiling_for(geom: Geometry) -> Tiling:
    """TILING if set, else F(4x4, 3x3) where _fits_f4 (2.25x fewer multiplications than F(2x2)'s, and
    0.56x the transformed data), else F(2x2, 3x3)."""
    if TILING is not None:
        return TILING
    return F4 if _fits_f4(geom) else F2


# ----- the filter transform U = G g G^T and its adjoint -----------------------------------------
def filter_transform(weight: np.ndarray, tiling: Tiling) -> np.ndarray:
    """(O, C, 3, 3) filters g -> U (P, O, C), P = (m + 2)^2 positions, U[(m + 2) a + b] = (G g G^T)[a, b]
    = sum_ij G[a, i] G[b, j] g[i, j]: one product with kron(G, G) (P x 9) over all O*C filters (a stack
    of small matrix products costs more)."""
    u = tiling.G_KRON.astype(weight.dtype) @ weight.reshape(-1, 9).T
    return u.reshape(tiling.positions, *weight.shape[:2])


def filter_transform_adjoint(du: np.ndarray, tiling: Tiling) -> np.ndarray:
    """dU (P, O, C) -> dg (O, C, 3, 3) = G^T dU G per filter (the adjoint of filter_transform)."""
    dg = tiling.G_KRON.T.astype(du.dtype) @ du.reshape(tiling.positions, -1)
    return dg.T.reshape(*du.shape[1:], 3, 3)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def tile_grid(geom: Geometry, tiling: Tiling) -> tuple[int, int]:
    """Tile rows and columns of each of the dh*dw sub-grids (ceil(oh / dh) by ceil(ow / dw) outputs)."""
    m = tiling.m
    return _ceil_div(_ceil_div(geom.oh, geom.dh), m), _ceil_div(_ceil_div(geom.ow, geom.dw), m)


def tile_bands(geom: Geometry, channels: int, out_channels: int, n: int, itemsize: int,
               tiling: Tiling) -> list[tuple]:
    """(first tile row, tile rows) of each band, such that a band's V and M (P values per tile and
    channel) fit bands.COLUMN_BUDGET_BYTES together (at least one tile row per band)."""
    tile_rows, tile_cols = tile_grid(geom, tiling)
    row_bytes = tiling.positions * (channels + out_channels) * n * geom.dh * geom.dw * tile_cols * itemsize
    rows = max(1, min(tile_rows, bands.COLUMN_BUDGET_BYTES // max(row_bytes, 1)))
    return [(first, min(rows, tile_rows - first)) for first in range(0, tile_rows, rows)]


def _input_pass(x, v, geom: Geometry, row0: int, scatter: bool, tiling: Tiling) -> None:
    """v = B^T d B for the band's tiles of x, or (scatter) x += their adjoint; serially when small."""
    kernel = kernels.input_tiles if v.size >= GRAIN else kernels.input_tiles_serial
    kernel(x, v, geom.ph, geom.pw, geom.dh, geom.dw, row0, tile_grid(geom, tiling)[1], scatter, tiling.m)


def _output_pass(m, y, bias, geom: Geometry, row0: int, adjoint: bool, tiling: Tiling) -> None:
    """y = A^T M A + bias for the band's tiles, or (adjoint) m = A dY A^T; serially when small."""
    kernel = kernels.output_tiles if m.size >= GRAIN else kernels.output_tiles_serial
    kernel(m, y, bias, geom.dh, geom.dw, row0, tile_grid(geom, tiling)[1], adjoint, tiling.m)


def _band_tiles(geom: Geometry, n: int, rows: int, tiling: Tiling) -> int:
    """Tiles in a band of ``rows`` tile rows: every image, sub-grid and tile column."""
    return n * geom.dh * geom.dw * rows * tile_grid(geom, tiling)[1]


# The scratch slots of V and M: the im2col path's column ("cols") and product ("gemm") slots. No convolution
# runs both paths at once, so sharing them keeps one buffer per slot instead of two (a U-Net training
# step held 18 MB of columns and 16 MB of V side by side).
V_SLOT, M_SLOT = "cols", "gemm"


def tiles_forward(x: np.ndarray, u: np.ndarray, bias, geom: Geometry, tiling: Tiling) -> np.ndarray:
    """y (N, O, oh, ow) of the 3x3 convolution ``geom`` (stride 1) with transformed filters u (P, O, C)."""
    (n, channels), out_channels, positions = x.shape[:2], u.shape[1], tiling.positions
    y = np.empty((n, out_channels, geom.oh, geom.ow), x.dtype)
    bias = np.zeros(out_channels, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    for row0, rows in tile_bands(geom, channels, out_channels, n, x.dtype.itemsize, tiling):
        tiles = _band_tiles(geom, n, rows, tiling)
        v = scratch(V_SLOT, (positions, channels, tiles), x.dtype)
        _input_pass(x, v, geom, row0, False, tiling)
        m = np.matmul(u, v, out=scratch(M_SLOT, (positions, out_channels, tiles), x.dtype))
        _output_pass(m, y, bias, geom, row0, False, tiling)
        del v, m  # scratch views: the next band reuses their buffers
    return y


def tiles_backward(x, u, dy, geom: Geometry, input_shape: tuple, need_dx: bool, tiling: Tiling):
    """(dx or None, dU or None) of tiles_forward for the output gradient dy; dU only where x is given
    (the input, needed to recompute V), dx only with ``need_dx``."""
    (n, channels), out_channels, positions = input_shape[:2], u.shape[1], tiling.positions
    dx = np.empty(input_shape, dy.dtype) if need_dx else None  # zeroed plane by plane in the first band
    du = np.zeros(u.shape, dy.dtype) if x is not None else None  # summed over the bands
    unused_bias = np.zeros(out_channels, dy.dtype)
    for row0, rows in tile_bands(geom, channels, out_channels, n, dy.dtype.itemsize, tiling):
        tiles = _band_tiles(geom, n, rows, tiling)
        dm = scratch(M_SLOT, (positions, out_channels, tiles), dy.dtype)
        _output_pass(dm, dy, unused_bias, geom, row0, True, tiling)
        v = scratch(V_SLOT, (positions, channels, tiles), dy.dtype)
        if du is not None:
            _input_pass(x, v, geom, row0, False, tiling)
            du += matmul_nt(dm, v)
        if need_dx:
            np.matmul(u.transpose(0, 2, 1), dm, out=v)  # dV, in V's memory
            _input_pass(dx, v, geom, row0, True, tiling)
        del v, dm
    return dx, du


class WinogradConv2dFunction(Function):
    """conv2d of a 3x3 kernel at stride 1 by F(m x m, 3x3) tiles (module doc; m by tiling_for); the same
    arguments and results as Conv2dFunction. Only the gradients asked for are computed."""

    @staticmethod
    def forward(ctx, x, weight, bias, geom=None, groups=1):
        ctx.geom, ctx.input_shape, ctx.tiling = geom, x.shape, tiling_for(geom)
        ctx.u = filter_transform(weight, ctx.tiling)  # kept for backward: P/9 of the weight's size
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None)
        return tiles_forward(np.ascontiguousarray(x), ctx.u, bias, geom, ctx.tiling)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        need_dx, need_dw = ctx.needs_input_grad[:2]
        dx = dw = None
        if need_dx or need_dw:
            x = np.ascontiguousarray(x) if need_dw else None
            dx, du = tiles_backward(x, ctx.u, np.ascontiguousarray(g), ctx.geom,
                                    ctx.input_shape, need_dx, ctx.tiling)
            dw = filter_transform_adjoint(du, ctx.tiling) if need_dw else None
        db = g.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None
        return dx, dw, db
