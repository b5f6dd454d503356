"""conv2d by Winograd's F(2x2, 3x3) and F(4x4, 3x3) (conv/winograd.py): the transform matrices against
the 3-tap correlation worked by hand and against the Toom-Cook formulas, the tile kernels against the
matrices and against their adjoints, the dilation's sub-grids by hand, and, with the Winograd path and
a tile forced, conv2d against torch (forward and backward), the loop reference and finite differences
over hypothesis configurations; the dispatcher takes Winograd (F(4x4)) for the benchmark's shape and
nothing it cannot compute."""
import ast
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.conv import bands as conv_bands
from minseg.functional.conv import winograd as W
from minseg.functional.conv import winograd_kernels as K
from minseg.functional.conv.geometry import conv_geometry
from minseg.testing import check_op
from tests.support import examples
from tests.test_conv_taps import skip_share

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Using padding='same'")]

TF = torch.nn.functional


def winograd(force: bool | None = True):
    """W.FORCE inside: True, every 3x3 stride-1 single-group conv2d by Winograd; False, none."""
    return mock.patch.object(W, "FORCE", force)


def tile(tiling):
    """W.TILING inside: every Winograd convolution by this tile (W.F2 or W.F4)."""
    return mock.patch.object(W, "TILING", tiling)


TILINGS = pytest.mark.parametrize("tiling", [W.F2, W.F4], ids=["F2", "F4"])


def counting_winograd_calls():
    """A spy on tiles_forward inside: its ``called`` says whether the Winograd path really ran."""
    return mock.patch.object(W, "tiles_forward", wraps=W.tiles_forward)


def test_f23_on_a_4_vector_by_hand():
    # d = (1, 2, 3, 4), g = (1, 10, 100): y0 = 1 + 20 + 300 = 321, y1 = 2 + 30 + 400 = 432.
    # G g = (1, 55.5, 45.5, 100), B^T d = (1 - 3, 2 + 3, 3 - 2, 2 - 4) = (-2, 5, 1, -2),
    # product (-2, 277.5, 45.5, -200); A^T: (-2 + 277.5 + 45.5, 277.5 - 45.5 + 200) = (321, 432)
    d, g = np.array([1.0, 2, 3, 4]), np.array([1.0, 10, 100])
    np.testing.assert_array_equal(W.F2.G @ g, [1, 55.5, 45.5, 100])
    np.testing.assert_array_equal(W.F2.B_T @ d, [-2, 5, 1, -2])
    np.testing.assert_array_equal(W.F2.A_T @ ((W.F2.G @ g) * (W.F2.B_T @ d)), [321, 432])


def test_f43_on_a_6_vector_by_hand():
    # d = (1, ..., 6), g = (1, 10, 100): y_i = d_i + 10 d_(i+1) + 100 d_(i+2) = 321, 432, 543, 654
    d, g = np.arange(1.0, 7.0), np.array([1.0, 10, 100])
    # B^T's rows dotted with d, e.g. (2, -3, -4, 3, 2, 0) . d = 2 - 6 - 12 + 12 + 10 = 6
    np.testing.assert_array_equal(W.F4.B_T @ d, [6, 29, 3, 12, 2, 6])
    np.testing.assert_allclose(W.F4.A_T @ ((W.F4.G @ g) * (W.F4.B_T @ d)), [321, 432, 543, 654], rtol=1e-13)


def test_f43_matrices_are_toom_cook_at_0_1_minus1_half_minus2():
    # A^T[i, j] = p_j^i and G[j] = (1, p_j, p_j^2) / prod_(l != j)(p_j - p_l) / 2 (the 2 moved out of B^T),
    # the point at infinity being the last column / row (0, ..., 0, 1)
    points = [0, 1, -1, 0.5, -2]
    for j, p in enumerate(points):
        np.testing.assert_array_equal(W.F4.A_T[:, j], [p ** i for i in range(4)])
        scale = np.prod([p - q for q in points if q != p]) * 2
        np.testing.assert_allclose(W.F4.G[j], [1 / scale, p / scale, p * p / scale], rtol=1e-15)
    np.testing.assert_array_equal(W.F4.A_T[:, 5], [0, 0, 0, 1])
    np.testing.assert_array_equal(W.F4.G[5], [0, 0, 0.5])


@TILINGS
def test_nested_tiles_are_the_correlation_of_an_input_tile(tiling):
    m = tiling.m
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((m + 2, m + 2)), rng.standard_normal((3, 3))
    direct = np.array([[sum(d[i + u, j + v] * g[u, v] for u in range(3) for v in range(3)) for j in range(m)]
                       for i in range(m)])
    tiles = tiling.A_T @ ((tiling.G @ g @ tiling.G.T) * (tiling.B_T @ d @ tiling.B_T.T)) @ tiling.A_T.T
    np.testing.assert_allclose(tiles, direct, rtol=1e-12, atol=1e-12)
    u = W.filter_transform(g.reshape(1, 1, 3, 3), tiling)
    np.testing.assert_allclose(u[:, 0, 0].reshape(m + 2, m + 2), tiling.G @ g @ tiling.G.T, rtol=1e-12)


@TILINGS
def test_the_tile_kernels_compute_the_matrices(tiling):
    # an (m + 2)^2 image without padding has one m x m output tile: V = B^T d B, and Y = A^T M A
    m, positions = tiling.m, tiling.positions
    rng = np.random.default_rng(1)
    d = rng.standard_normal((1, 1, m + 2, m + 2))
    v = np.empty((positions, 1, 1))
    K.input_tiles_serial(d, v, 0, 0, 1, 1, 0, 1, False, m)
    np.testing.assert_allclose(v[:, 0, 0].reshape(m + 2, m + 2), tiling.B_T @ d[0, 0] @ tiling.B_T.T,
                               rtol=1e-12, atol=1e-12)
    mm, y = rng.standard_normal((positions, 1, 1)), np.empty((1, 1, m, m))
    K.output_tiles_serial(mm, y, np.array([0.5]), 1, 1, 0, 1, False, m)
    np.testing.assert_allclose(y[0, 0], tiling.A_T @ mm[:, 0, 0].reshape(m + 2, m + 2) @ tiling.A_T.T + 0.5,
                               rtol=1e-12)


ADJOINT_CASES = [((2, 3, 5, 7), 1, 1), ((1, 2, 9, 8), 2, 2), ((2, 1, 7, 10), (0, 3), (1, 3)), ((1, 2, 2, 3), 3, 2),
                 ((1, 1, 1, 1), 1, 1)]


@TILINGS
@pytest.mark.parametrize("shape, padding, dilation", ADJOINT_CASES)
def test_the_adjoint_kernels_are_the_transposes(shape, padding, dilation, tiling):
    # <gather(x), v> = <x, scatter(v)> and <output(m), dy> = <m, output_adjoint(dy)>, bias 0
    geom = conv_geometry("conv2d", shape[2:], (3, 3), 1, padding, dilation)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    tiles = W._band_tiles(geom, shape[0], W.tile_grid(geom, tiling)[0], tiling)
    v = rng.standard_normal((tiling.positions, shape[1], tiles))
    gathered, scattered = np.empty_like(v), np.zeros_like(x)
    W._input_pass(x, gathered, geom, 0, False, tiling)
    W._input_pass(scattered, v, geom, 0, True, tiling)
    assert np.vdot(gathered, v) == pytest.approx(np.vdot(x, scattered), rel=1e-12)
    m, dy = rng.standard_normal((tiling.positions, 2, tiles)), rng.standard_normal((shape[0], 2, geom.oh, geom.ow))
    y, dm = np.empty_like(dy), np.empty_like(m)
    W._output_pass(m, y, np.zeros(2), geom, 0, False, tiling)
    W._output_pass(dm, dy, np.zeros(2), geom, 0, True, tiling)
    assert np.vdot(y, dy) == pytest.approx(np.vdot(m, dm), rel=1e-12)


@TILINGS
def test_dilation_sub_grids_by_hand(tiling):
    """Dilation 2, padding 2, a 5x5 input x[r, c] = 5 r + c, a 3x3 filter of ones: output (2, 3) is
    output sub-grid (a, b) = (0, 1), position (1, 1). It reads padded rows 2 (1 + i) + 0 = 2, 4, 6, i.e.
    image rows 0, 2, 4, and padded columns 2 (1 + j) + 1 = 3, 5, 7, image columns 1, 3 and 5 (padding).
    So y[2, 3] = sum over r in {0, 2, 4}, c in {1, 3} of 5 r + c = 2 * 5 * (0 + 2 + 4) + 3 * (1 + 3) = 72.
    Output (0, 0) reads image rows 0, 2 (row -2 is padding) and columns 0, 2:
    (0 + 2) + (10 + 12) = 24."""
    x = ms.tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    with winograd(), tile(tiling), ms.no_grad():
        y = F.conv2d(x, ms.tensor(np.ones((1, 1, 3, 3))), padding=2, dilation=2).numpy()
    # F(4x4)'s G holds 1/3 and 1/15, so its sums are exact only to rounding
    assert y[0, 0, 2, 3] == pytest.approx(72, rel=1e-13) and y[0, 0, 0, 0] == pytest.approx(24, rel=1e-13)


@st.composite
def winograd_config(draw):
    """conv2d arguments Winograd computes: 3x3, stride 1, one group; small and odd sizes included."""
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.one_of(st.sampled_from([0, 1, 2, "same"]), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    pads = (0, 0) if padding == "same" else (padding if isinstance(padding, tuple) else (padding, padding))
    size = tuple(max(1, 2 * d + 1 - 2 * p) + draw(st.integers(0, 5)) for d, p in zip(dilation, pads))
    return dict(n=draw(st.integers(1, 3)), cin=draw(st.integers(1, 5)), cout=draw(st.integers(1, 5)), size=size,
                padding=padding, dilation=dilation, bias=draw(st.booleans()), tiling=draw(st.sampled_from([2, 4])),
                dtype=draw(st.sampled_from([np.float32, np.float64])), seed=draw(st.integers(0, 2**16)))


def _arrays(cfg):
    rng = np.random.default_rng(cfg["seed"])
    arrays = [rng.standard_normal((cfg["n"], cfg["cin"]) + cfg["size"]),
              rng.standard_normal((cfg["cout"], cfg["cin"], 3, 3))]
    if cfg["bias"]:
        arrays.append(rng.standard_normal(cfg["cout"]))
    return [a.astype(cfg["dtype"]) for a in arrays]


@examples(120)
@given(cfg=winograd_config())
def test_forced_winograd_matches_torch_reference_and_finite_differences(cfg):
    arrays, kwargs = _arrays(cfg), dict(padding=cfg["padding"], dilation=cfg["dilation"])
    with winograd(), tile(W.F4 if cfg["tiling"] == 4 else W.F2), counting_winograd_calls() as spy:
        check_op(F.conv2d, arrays, TF.conv2d, F.conv2d_reference, kwargs=kwargs,
                 gradcheck_inputs=sum(a.size for a in arrays) <= 400)
    assert spy.called, "conv2d did not take the Winograd path"


@TILINGS
@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding="same", dilation=2),
                                    dict(padding=(2, 0), dilation=(1, 2))])
def test_bands_of_one_tile_row_match_torch_and_finite_differences(kwargs, tiling):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)]
    geom = conv_geometry("conv2d", (9, 7), (3, 3), 1, kwargs["padding"], kwargs.get("dilation", 1))
    assert len(W.tile_bands(geom, 3, 4, 2, 8, tiling)) == 1
    with winograd(), tile(tiling), skip_share(conv_bands.TAP_SKIP_SHARE, budget=64):  # bands of one tile row
        assert len(W.tile_bands(geom, 3, 4, 2, 8, tiling)) == W.tile_grid(geom, tiling)[0] > 1
        check_op(F.conv2d, arrays, TF.conv2d, F.conv2d_reference, kwargs=kwargs)


@TILINGS
def test_only_the_gradients_asked_for(tiling):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    w_torch = torch.tensor(w, requires_grad=True)
    TF.conv2d(torch.tensor(x), w_torch, padding=1).sum().backward()
    with winograd(), tile(tiling):
        xt, wt = ms.tensor(x), ms.tensor(w, requires_grad=True)
        F.conv2d(xt, wt, padding=1).sum().backward()
    assert xt.grad is None
    np.testing.assert_allclose(np.asarray(wt.grad), w_torch.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_float32_errors_against_float64():
    # max |y - exact| / max |exact| for a float32 conv2d: F(2x2, 3x3)'s transforms are exact factors (0, +-1,
    # 1/2), so its rounding error is that of sums in another order (measured 2.5e-7, im2col 6.1e-7);
    # F(4x4, 3x3)'s factors up to 8 and 1/15 cost more (measured 2.1e-6), within the 1e-4 of every
    # float32 comparison with torch
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 32, 20, 20)), rng.standard_normal((16, 32, 3, 3)) / np.sqrt(9 * 32)
    exact = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    errors = {}
    for name, force, tiling in (("im2col", False, None), ("F2", True, W.F2), ("F4", True, W.F4)):
        with winograd(force), tile(tiling), ms.no_grad():
            y = F.conv2d(ms.tensor(x.astype(np.float32)), ms.tensor(w.astype(np.float32)), padding=1).numpy()
        errors[name] = np.abs(y - exact).max() / np.abs(exact).max()
    assert errors["F2"] < 1e-6 and errors["F2"] < 2 * errors["im2col"], errors
    assert errors["F4"] < 1e-5, errors


def test_the_dispatcher_takes_winograd_for_the_benchmark_shape_and_only_where_it_applies():
    def takes(x_shape, w_shape, **kwargs):
        rng = np.random.default_rng(6)
        x = ms.tensor(rng.standard_normal(x_shape, dtype=np.float32), requires_grad=True)
        w = ms.tensor(rng.standard_normal(w_shape, dtype=np.float32), requires_grad=True)
        with counting_winograd_calls() as spy:
            F.conv2d(x, w, **kwargs).sum().backward()
        return spy.called

    assert W.FORCE is None and W.TILING is None
    for rate in (1, 2, 4):  # benchmarks/bench_conv.py's 3x3 convolutions, plain and dilated: F(4x4)
        assert takes((8, 64, 64, 64), (64, 64, 3, 3), padding=rate, dilation=rate)
        assert W.tiling_for(conv_geometry("conv2d", (64, 64), (3, 3), 1, rate, rate)) is W.F4
    assert W.tiling_for(conv_geometry("conv2d", (8, 8), (3, 3), 1, 1, 1)) is W.F2  # 8x8 outputs: F(2x2)
    assert W.tiling_for(conv_geometry("conv2d", (32, 32), (3, 3), 1, 4, 4)) is W.F2  # 8x8 sub-grids
    assert not takes((2, 3, 64, 64), (16, 3, 3, 3), padding=1)  # 3 input channels: the GEMMs are tiny
    assert takes((1, 8, 64, 64), (8, 8, 3, 3), padding=1)  # 8 channels from 64x64 outputs on
    assert not takes((2, 32, 32, 32), (32, 32, 3, 3), padding=1)
    assert takes((1, 64, 32, 32), (64, 64, 3, 3), padding=1)  # 64 channels from 32x32 on
    assert not takes((2, 64, 16, 16), (64, 64, 3, 3), padding=1)
    assert takes((1, 128, 16, 16), (128, 128, 3, 3), padding=1)  # 128 channels from 16x16 on
    assert not takes((2, 128, 8, 8), (128, 128, 3, 3), padding=1)
    assert not takes((1, 64, 64, 64), (64, 64, 3, 3), padding=8, dilation=8)  # 8x8 sub-grids: not F(4x4)
    assert not takes((2, 64, 16, 16), (64, 64, 3, 3), padding=1, stride=2)
    assert not takes((2, 64, 16, 16), (64, 32, 3, 3), padding=1, groups=2)
    assert not takes((2, 64, 16, 16), (64, 64, 5, 5), padding=2)
    assert not takes((1, 64, 33, 33), (64, 64, 3, 3), padding=12, dilation=12)  # ASPP: 3x3 sub-grids
    assert not takes((1, 64, 32, 32), (64, 64, 3, 3), padding=40, dilation=40)  # by the centre tap (bands.py)
    with winograd():  # forced: every 3x3 stride-1 single-group convolution, and still nothing else
        assert takes((1, 64, 33, 33), (64, 64, 3, 3), padding=12, dilation=12)
        assert takes((1, 2, 5, 5), (1, 2, 3, 3))
        assert not takes((1, 2, 5, 5), (2, 2, 3, 3), stride=2)


def test_winograd_kernels_import_only_numpy_numba_and_sibling_kernels():
    # tests/test_layout.py's rule for kernel files (its glob covers kernels.py files only)
    path = Path(K.__file__)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert all(alias.name.split(".")[0] in {"numpy", "numba"} for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            assert (node.level == 0 and module.split(".")[0] in {"__future__", "numpy", "numba"}) or \
                (node.level == 1 and module == "kernels"), module
