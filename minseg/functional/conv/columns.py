"""The ndarray helpers of the GEMM path: im2col / col2im (the Numba kernels, serial when small),
the channel-major and batch-major layouts around a GEMM, the per-group weight and column matrices,
and the 1x1 convolution's product on the image itself. ndarray in, ndarray out; no autograd here."""
from __future__ import annotations

import math

import numpy as np

from ...lazy import lazy_module
from ...threads import GRAIN
from .geometry import Geometry
from .workspace import scratch

kernels = lazy_module(__package__ + ".kernels")  # Numba loads on the first call (see minseg/lazy.py)

# Arrays smaller than GRAIN (the project-wide grain of minseg/threads.py) go to the serial
# kernels: waking the thread pool costs more. The serial twins never touch the pool at all.


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
    image = np.empty((n, channels, geom.height, geom.width), dtype=cols.dtype)  # the kernels zero it
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
    rows = math.prod(a.shape[:-1])
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
    return weight.reshape(groups, weight.shape[0] // groups, math.prod(weight.shape[1:]))


def stack_groups(cols: np.ndarray, groups: int) -> np.ndarray:
    """Column array (K, N, L) as the per-group matrices (G, K/G, N*L)."""
    return cols.reshape(groups, cols.shape[0] // groups, cols.shape[1] * cols.shape[2])


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


def pointwise_product(x: np.ndarray, weight: np.ndarray, bias, geom: Geometry, groups: int) -> np.ndarray:
    """A 1x1 convolution's output (N, O, oh, ow): per image and group W[g] @ x[n, g] (see
    PointwiseConv2dFunction), plus the bias."""
    n, out_channels = x.shape[0], weight.shape[0]
    y = np.matmul(grouped_weight(weight, groups), pointwise_pixels(x, geom, groups))
    if bias is not None:
        y.reshape(n, out_channels, geom.oh * geom.ow)[...] += bias[:, None]
    return y.reshape(n, out_channels, geom.oh, geom.ow)
