"""conv_transpose2d by sub-pixel decomposition: s*s dense stride-1 convolutions, interleaved.

The column path in ops.py pastes one weighted copy of the filter per input pixel and adds the
copies where they overlap (col2im). With a stride s the copies start s pixels apart, so along one
axis output pixel o receives kernel tap i from input pixel q exactly when

    o + p = s * q + i * d          (p: padding, d: dilation)

i.e. only the taps with i * d = o + p (mod s) reach o. Split the outputs by their residue
r = o mod s (the phase y[r::s]) and write o = s * m + r. The taps of phase r are

    T_r = {i in [0, k) : (r + p - i * d) mod s == 0}

an arithmetic progression with step s / gcd(d, s) (empty when gcd(d, s) does not divide r + p, or
the kernel is too short to reach residue r, as kernel 1 stride 2), and each tap reads input pixel q = m + (r + p - i * d) / s: a shift that shrinks by
d' = d / gcd(d, s) from one tap of T_r to the next. Listing T_r backwards (t_0 = the last tap) the
phase is an ordinary stride-1 correlation of x with a small flipped sub-kernel v:

    y[s*m + r] = sum_j v[j] * x[m - P_r + j * d'],   v[j] = w[t_j],
    P_r = (t_0 * d - r - p) / s     (the correlation's leading padding; negative: starts inside x)

over m in [0, M_r), M_r = len(range(r, out, s)) (phases differ by one where s does not divide
the output size; a phase with M_r = 0 is empty, one with T_r empty is 0 + bias). In 2-D the phases
are the pairs (r_y, r_x), each the conv2d of x with W[:, :, T_ry reversed][:, :, :, T_rx reversed]
(weight axes swapped to conv2d's (out, in/groups) order), written to y[..., r_y::s, r_x::s]: no
overlapping scatter, no column matrix of the output's size.

Worked example (one axis): kernel 4, stride 2, padding 1, input 3 -> output (3-1)*2 - 2 + 3 + 1 = 6.

    phase 0 (o = 0, 2, 4): T_0 = {1, 3}, P_0 = (3 - 0 - 1) / 2 = 1:  y[2m] = w[3] x[m-1] + w[1] x[m]
    phase 1 (o = 1, 3, 5): T_1 = {0, 2}, P_1 = (2 - 1 - 1) / 2 = 0:  y[2m+1] = w[2] x[m] + w[0] x[m+1]

so y[0] = w1 x0, y[1] = w2 x0 + w0 x1, y[2] = w3 x0 + w1 x1, ..., y[5] = w2 x2 (x[-1], x[3]: padding);
in 2-D, kernel 4x4 stride 2 is four 2x2 convolutions. Kernel 2, stride 2, padding 0 (U-Net's
up-convolution) has T_0 = {0}, T_1 = {1}, P = 0: each phase is a 1x1 convolution, one GEMM.

All phases in one GEMM. Every phase reads x through windows of the same shape: J taps (the longest
T_r; a shorter one is padded with zero taps) spaced d'. Phase r at output m reads the window that
starts at input pixel m - P_r, so with P* = max_r P_r one window grid u = 0 .. U-1 (window u starts
at u - P*) holds every phase's windows, phase r's at u = m + (P* - P_r). One im2col of x over that
grid (a stride-1 conv2d's column matrix, Cin*Jh*Jw rows) and one GEMM with all the phases' sub-kernels
stacked as rows give every phase at once; phase r's outputs are its rows of the product, cut to
u in [P* - P_r, P* - P_r + M_r), copied into y[..., r_y::s, r_x::s] (one Numba pass over y, writing
its rows in order, the bias added on the way: kernels.phase_planes). In the worked example P* = 1
and U = 4: windows start at input pixels -1, 0, 1, 2; phase 0 uses windows 0..2, phase 1 windows 1..3.
When s divides k (kernel 4 stride 2, kernel 16 stride 8, kernel 2 stride 2) no tap is padded and the
flops are the column path's (plus the border windows the phases do not share: 33 for 32 per axis in
the benchmark's case); the one large intermediate is x's column matrix (Cin*Jh*Jw rows), where the
column path builds Cout*kH*kW rows by x's pixels and scatters them, overlapping, into y.

Backward, the same GEMMs transposed. Place each dy_r = dy[..., r_y::s, r_x::s] at its phase's rows and
windows of a zero (phases x Cout, windows) array D; then, as for conv2d,

    dW_stack = D @ cols^T             each phase's block of rows is the correlation of dy_r with x
                                      (its taps of dW, flipped back; padded taps are dropped)
    dx = col2im(W_stack^T @ D)        the sum over phases of each phase's adjoint
"""
from __future__ import annotations

from functools import lru_cache
from math import gcd
from typing import NamedTuple

import numpy as np

from ...threads import GRAIN
from .columns import col2im, grouped_matmul, im2col, kernels, stack_groups
from .geometry import Geometry
from .workspace import matmul_nt, scratch

# None: conv_transpose2d takes this path where ``use_subpixel`` says it is faster; True / False force
# it on or off (tests run cases through both paths).
FORCE: bool | None = None


class PhaseAxis(NamedTuple):
    """One axis of a phase: the outputs o = residue + stride * m (m < count), the kernel taps that feed
    them (increasing), and the leading padding P_r of their stride-1 correlation with the input
    (negative: it starts inside the input)."""

    residue: int
    count: int
    taps: tuple[int, ...]
    padding: int


def phase_axis(residue: int, kernel: int, stride: int, padding: int, dilation: int,
               out_size: int) -> PhaseAxis:
    """Phase ``residue`` of one axis (module doc): T_r, M_r and P_r = (t_0 * d - r - p) / s."""
    # T_r = {i : (r + p - i * d) mod s == 0}
    taps = tuple(i for i in range(kernel) if (residue + padding - i * dilation) % stride == 0)
    count = len(range(residue, out_size, stride))
    lead = (taps[-1] * dilation - residue - padding) // stride if taps else 0  # an exact division
    return PhaseAxis(residue, count, taps, lead)


class AxisPlan(NamedTuple):
    """One axis of the decomposition: the phases with outputs, the shared window grid's taps per window
    (J, the longest T_r), its leading padding P* = max P_r, the spacing d' = d / gcd(d, s) of a
    window's taps in the input, and its number of windows U."""

    phases: tuple[PhaseAxis, ...]
    taps: int
    padding: int
    dilation: int
    windows: int

    def offset(self, phase: PhaseAxis) -> int:
        """Window of the phase's first output: u = m + P* - P_r at m = 0."""
        return self.padding - phase.padding


def axis_plan(kernel: int, stride: int, padding: int, dilation: int, out_size: int) -> AxisPlan:
    """The phases of one axis and the window grid that holds all their windows (module doc)."""
    found = [phase_axis(r, kernel, stride, padding, dilation, out_size) for r in range(stride)]
    found = tuple(phase for phase in found if phase.count > 0)
    lead = max(phase.padding for phase in found)
    windows = max(lead - phase.padding + phase.count for phase in found)
    longest = max(1, max(len(phase.taps) for phase in found))
    return AxisPlan(found, longest, lead, dilation // gcd(dilation, stride), windows)


class Plan(NamedTuple):
    """The sub-pixel decomposition of a transposed convolution: rows and columns (AxisPlan each), and
    the stride-1 convolution of x over the shared window grid (``geom``, what im2col builds)."""

    rows: AxisPlan
    cols: AxisPlan
    geom: Geometry

    def phases(self) -> list[tuple[PhaseAxis, PhaseAxis]]:
        """The 2-D phases (row phase, column phase), in the order of the stacked weight's blocks."""
        return [(rows, cols) for rows in self.rows.phases for cols in self.cols.phases]

    def covers_windows(self) -> bool:
        """True when every phase has an output at every window (kernel 4 stride 2 padding 1, kernel 2
        stride 2 with an even output): the backward's stacked gradient then needs no zeros."""
        return all(axis.offset(phase) == 0 and phase.count == axis.windows
                   for axis in (self.rows, self.cols) for phase in axis.phases)


@lru_cache(maxsize=256)
def plan(geom: Geometry) -> Plan:
    """The decomposition of the transposed convolution ``geom`` (transpose_geometry's: oh, ow are the
    input's size, height, width the output's). Cached: a network repeats its geometries."""
    rows = axis_plan(geom.kh, geom.sh, geom.ph, geom.dh, geom.height)
    cols = axis_plan(geom.kw, geom.sw, geom.pw, geom.dw, geom.width)
    windows = Geometry(rows.taps, cols.taps, 1, 1, rows.padding, cols.padding, rows.dilation, cols.dilation,
                       rows.windows, cols.windows, geom.oh, geom.ow)
    return Plan(rows, cols, windows)


def use_subpixel(geom: Geometry) -> bool:
    """Whether conv_transpose2d takes the sub-pixel path: FORCE if set, else where it measured faster
    than the column path: the stride divides the kernel on both axes (no padded taps) and on one axis
    the kernel is longer than a stride of 2 or more (copies that overlap). Kernel = stride (U-Net's 2x2
    up-convolution) has no overlap to save: there the column path's one GEMM and scatter measured as
    fast or slightly faster, so it stays."""
    if FORCE is not None:
        return FORCE
    divides = geom.kh % geom.sh == 0 and geom.kw % geom.sw == 0
    return divides and ((geom.sh >= 2 and geom.kh > geom.sh) or (geom.sw >= 2 and geom.kw > geom.sw))


# ----- the stacked weight: every phase's flipped sub-kernel, in conv2d's (out, in/G) order ---------
def swap_channel_roles(weight: np.ndarray, groups: int) -> np.ndarray:
    """(A, B/G, kH, kW) -> (B, A/G, kH, kW): per group, the two channel axes swap places. A transposed
    convolution's weight (Cin, Cout/G, ..) becomes conv2d's (Cout, Cin/G, ..), and (its own inverse) back."""
    a, group_b, kh, kw = weight.shape
    split = weight.reshape(groups, a // groups, group_b, kh, kw)
    return split.swapaxes(1, 2).reshape(groups * group_b, a // groups, kh, kw)


def flipped_taps(rows: PhaseAxis, cols: PhaseAxis) -> tuple:
    """Index of a phase's taps in a (.., .., kH, kW) weight, in sub-kernel order (v[j] = w[t_j])."""
    row_taps, col_taps = (np.array(axis.taps[::-1], dtype=np.intp) for axis in (rows, cols))
    return row_taps[:, None], col_taps[None, :]


def stacked_weight(weight: np.ndarray, the_plan: Plan, groups: int) -> np.ndarray:
    """(G, phases * Cout/G, Cin/G * Jh * Jw): per group, the phases' sub-kernels one block of rows each
    (zeros at the padded taps of a shorter phase)."""
    conv_weight = swap_channel_roles(weight, groups)
    cout, group_in = conv_weight.shape[:2]
    found = the_plan.phases()
    stack = np.zeros((len(found), cout, group_in, the_plan.rows.taps, the_plan.cols.taps), weight.dtype)
    for block, (rows, cols) in zip(stack, found):
        if rows.taps and cols.taps:
            block[:, :, :len(rows.taps), :len(cols.taps)] = conv_weight[(slice(None), slice(None),
                                                                         *flipped_taps(rows, cols))]
    stack = np.ascontiguousarray(stack.reshape(len(found), groups, cout // groups, -1).transpose(1, 0, 2, 3))
    return stack.reshape(groups, len(found) * (cout // groups), -1)


def unstack_weight_grad(stacked: np.ndarray, the_plan: Plan, kernel: tuple, groups: int) -> np.ndarray:
    """stacked_weight's adjoint: the (G, phases * Cout/G, K/G) gradient back to dW (Cin, Cout/G, kH, kW),
    each phase's block written to its taps (every tap belongs to one phase; padded taps are dropped)."""
    found = the_plan.phases()
    blocks = stacked.reshape(groups, len(found), -1, stacked.shape[-1]).transpose(1, 0, 2, 3)
    cout = groups * blocks.shape[2]
    group_in = stacked.shape[-1] // (the_plan.rows.taps * the_plan.cols.taps)
    conv_grad = np.zeros((cout, group_in) + kernel, stacked.dtype)
    for block, (rows, cols) in zip(blocks, found):
        if rows.taps and cols.taps:
            block = block.reshape(cout, group_in, the_plan.rows.taps, the_plan.cols.taps)
            conv_grad[(slice(None), slice(None), *flipped_taps(rows, cols))] = \
                block[:, :, :len(rows.taps), :len(cols.taps)]
    return swap_channel_roles(conv_grad, groups)


# ----- phases <-> the product's rows and windows --------------------------------------------------
def interleave(product: np.ndarray, the_plan: Plan, image: np.ndarray, geom: Geometry, bias,
               to_image: bool) -> None:
    """Between the (G, phases * Cout/G, N * U) product and the (N, Cout, H, W) image: with to_image,
    y[..., r_y::sh, r_x::sw] = phase (r_y, r_x)'s block of rows at its windows + b (the forward); else
    each phase's windows from dy (the backward's stacked gradient). One pass over the image
    (kernels.phase_planes), writing or reading its rows in order."""
    rows, cols = the_plan.rows, the_plan.cols
    groups, n = product.shape[0], image.shape[0]
    grid = product.reshape(groups, len(rows.phases) * len(cols.phases), image.shape[1] // groups, n,
                           rows.windows, cols.windows)
    top = np.array([rows.offset(phase) for phase in rows.phases], dtype=np.int64)
    left = np.array([cols.offset(phase) for phase in cols.phases], dtype=np.int64)
    bias = np.zeros(image.shape[1], image.dtype) if bias is None else np.ascontiguousarray(bias, image.dtype)
    kernel = kernels.phase_planes if image.size >= GRAIN else kernels.phase_planes_serial
    kernel(grid, image, geom.sh, geom.sw, top, left, bias, to_image)


# ----- forward and backward -------------------------------------------------------------------------
def subpixel_forward(x: np.ndarray, weight: np.ndarray, bias, geom: Geometry, groups: int) -> np.ndarray:
    """y (N, Cout, H, W): one GEMM of the stacked weight with x's window columns, each phase's block
    of the product (plus the bias) interleaved into y."""
    the_plan = plan(geom)
    n, out_channels = x.shape[0], weight.shape[1] * groups
    cols = stack_groups(im2col(x, the_plan.geom, "cols"), groups)  # (G, Cin/G * J, N * U)
    product = grouped_matmul(stacked_weight(weight, the_plan, groups), cols, "gemm")  # W_stack @ cols
    del cols
    y = np.empty((n, out_channels, geom.height, geom.width), dtype=x.dtype)
    interleave(product, the_plan, y, geom, bias, True)
    return y


def stacked_grad(g: np.ndarray, the_plan: Plan, geom: Geometry, groups: int) -> np.ndarray:
    """D (G, phases * Cout/G, N * U): dy_r at phase r's rows and windows, zero at every other window."""
    rows = len(the_plan.phases()) * (g.shape[1] // groups)
    shape = (groups, rows, g.shape[0] * the_plan.rows.windows * the_plan.cols.windows)
    stack = scratch("dy", shape, g.dtype)
    if not the_plan.covers_windows():
        stack.fill(0)
    interleave(stack, the_plan, np.ascontiguousarray(g), geom, None, False)
    return stack


def subpixel_backward(x, weight, g, geom: Geometry, groups: int, need_x: bool, need_w: bool):
    """(dx, dW) of subpixel_forward, None where not needed (module doc: the forward's GEMM transposed)."""
    dx = dw = None
    if not (need_x or need_w):
        return dx, dw
    the_plan = plan(geom)
    n, channels = x.shape[:2]
    stack = stacked_grad(g, the_plan, geom, groups)
    if need_w:
        cols = stack_groups(im2col(x, the_plan.geom, "cols"), groups)
        # dW_stack = D @ cols^T
        dw = unstack_weight_grad(matmul_nt(stack, cols), the_plan, (geom.kh, geom.kw), groups)
        del cols
    if need_x:
        weights = stacked_weight(weight, the_plan, groups)
        # dx = col2im(W_stack^T @ D)
        dcols = grouped_matmul(weights.transpose(0, 2, 1), stack, "cols")
        windows = the_plan.geom
        dcols = dcols.reshape(channels * windows.kh * windows.kw, n, windows.oh * windows.ow)
        dx = col2im(dcols, n, channels, windows)
    return dx, dw
