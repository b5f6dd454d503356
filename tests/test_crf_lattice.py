"""The permutohedral lattice: its self term, its scale, its accuracy against the dense filter and the
naive mean-field, pydensecrf (where installed), and the photo demo."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
from minseg.crf.filters import DenseFilter, LatticeFilter, kernel_features
from minseg.crf.kernels.permutohedral import lattice_build, lattice_filter, lattice_scale, lattice_self_weights
from tests.support import examples


def blocky_image(rng, h, w):
    """Piecewise-constant colour regions plus a little noise: what photos look like to the CRF."""
    image = np.zeros((h, w, 3))
    for _ in range(3):
        image[rng.integers(0, h):, rng.integers(0, w):] += rng.uniform(0, 120, 3)
    return image + rng.normal(0, 5, image.shape)


@pytest.mark.parametrize("d, spread", [(2, 3.0), (3, 1.0), (5, 0.5)])
def test_self_weights_are_the_operators_diagonal(d, spread):
    """lattice_self_weights (path counting) == diag of splat-blur-slice, found by filtering unit vectors."""
    n = 40
    features = np.random.default_rng(d).normal(0, spread, (n, d))
    offsets, weights, neighbours, ranks = lattice_build(features)
    operator = lattice_filter(np.eye(n), offsets, weights, neighbours)
    for table_limit in (1 << 24, 0):  # tabulated path weights, and walked per point
        np.testing.assert_allclose(lattice_self_weights(offsets, weights, neighbours, ranks, table_limit),
                                   np.diag(operator), rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("theta", [2.0, 4.0])
def test_lattice_scale_matches_gaussian_mass_on_a_dense_grid(theta):
    """On a uniform pixel grid (positions only) the lattice sum / c_d is 2 π θ^2 = sum of the Gaussian."""
    side = 48
    rows, cols = np.indices((side, side))
    features = np.stack([rows.ravel(), cols.ravel()], 1) / theta
    offsets, weights, neighbours, _ = lattice_build(features)
    out = lattice_filter(np.ones((side * side, 1)), offsets, weights, neighbours)[:, 0] / lattice_scale(2)
    assert out[(side // 2) * side + side // 2] == pytest.approx(2 * np.pi * theta ** 2, rel=0.01)


@examples(25)
@given(st.integers(0, 2 ** 31), st.integers(4, 14), st.integers(4, 14))
def test_lattice_filter_close_to_dense_filter(seed, h, w):
    """Tolerance, relative L1 error: 25 % for the 5-D appearance kernel, 6 % for the 2-D smoothness one.

    Why it is not exact: the lattice replaces the Gaussian by a tent (barycentric splat and slice)
    blurred once along each of the d+1 lattice directions. On a 2-D pixel grid that is close to the
    Gaussian (median error ~2 %, worst 5 % over 300 random images of 4x4..14x14, at image borders of
    tiny images); in 5-D the pixels lie on a 2-D sheet and meet few lattice vertices, so the kernel's
    shape differs more (median ~5 %, worst 22 % on those images). Self term excluded in both.
    """
    rng = np.random.default_rng(seed)
    image = blocky_image(rng, h, w)
    values = rng.random((h * w, 3))
    thetas = rng.uniform(2, 10), rng.uniform(10, 40), rng.uniform(1, 3)
    appearance, smoothness = kernel_features(image, *thetas)
    for features, tolerance in ((appearance, 0.25), (smoothness, 0.06)):
        exact, approx = DenseFilter(features)(values), LatticeFilter(features)(values)
        assert np.abs(exact - approx).sum() <= tolerance * np.abs(exact).sum()


@pytest.mark.slow
def test_permutohedral_mean_field_close_to_naive():
    """Tolerance on Q after 5 iterations: mean |ΔQ| <= 0.02 and 95 % of pixels within 0.1.

    Setting: symmetric normalisation, w1 + w2 <= 2, so one update moves a message by at most ~w times
    the filter error and the update does not amplify much. A few pixels can differ more: where a
    pixel's colour is rare its kernel row sum is small and the lattice's relative error on it is large.
    (With unnormalised strong weights the naive path itself sits near a tipping point, and a few
    percent of filter error can flip whole regions; no tolerance holds there.)
    """
    for seed in range(12):
        rng = np.random.default_rng(seed)
        h, w = rng.integers(6, 16, 2)
        image, unary = blocky_image(rng, h, w), rng.uniform(0, 2, (3, h, w))
        w1 = rng.uniform(0, 2)
        crf = ms.crf.DenseCRF(w1, rng.uniform(2, 10), rng.uniform(10, 40), rng.uniform(0, 2 - w1),
                              rng.uniform(1, 3), normalization="symmetric")
        naive = crf.mean_field(unary, image, 5, "naive")
        diff = np.abs(naive - crf.mean_field(unary, image, 5, "permutohedral"))
        assert diff.mean() <= 0.02
        assert np.quantile(diff.max(axis=0), 0.95) <= 0.1


def pydensecrf_problem():
    rng = np.random.default_rng(0)
    h, w, k = 20, 30, 3
    image = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    image[:, :15] //= 4
    unary = rng.uniform(0, 3, (k, h, w)).astype(np.float32)
    return image, unary


def pydensecrf_q(image, unary, n_iter, sxy=7.0, srgb=25.0, compat=2.0):
    dcrf = pytest.importorskip("pydensecrf.densecrf")
    k, h, w = unary.shape
    model = dcrf.DenseCRF2D(w, h, k)
    model.setUnaryEnergy(np.ascontiguousarray(unary.reshape(k, -1)))
    model.addPairwiseBilateral(sxy=sxy, srgb=srgb, rgbim=np.ascontiguousarray(image), compat=compat)
    return np.array(model.inference(n_iter)).reshape(k, h, w)


def test_lattice_matches_pydensecrf_filter():
    """Where pydensecrf (Krähenbühl's C++) is installed: one of its iterations reveals its filtered
    message; our raw lattice (self term kept, symmetric normalisation, its feature order x, y, r, g, b)
    gives the same numbers to float32 precision."""
    image, unary = pydensecrf_problem()
    q1 = pydensecrf_q(image, unary, 1)
    k, h, w = unary.shape
    theirs = (np.log(q1) + unary).reshape(k, -1)  # = 2 * message + a per-pixel constant
    rows, cols = np.indices((h, w))
    features = np.concatenate([np.stack([cols.ravel(), rows.ravel()], 1) / 7.0,
                               image.reshape(-1, 3) / 25.0], 1).astype(np.float32).astype(np.float64)
    offsets, weights, neighbours, _ = lattice_build(features)
    scale = 1 / np.sqrt(lattice_filter(np.ones((h * w, 1)), offsets, weights, neighbours))
    q0 = ms.crf.softmax_labels(-unary.astype(np.float64)).reshape(k, -1).T
    ours = (2.0 * scale * lattice_filter(scale * q0, offsets, weights, neighbours)).T
    np.testing.assert_allclose(ours - ours.mean(0), theirs - theirs.mean(0), atol=1e-4)


def test_mean_field_agrees_with_pydensecrf_labels():
    """Same model up to the self term (pydensecrf keeps it, we drop it): on a three-region image with a
    noisy unary (right on ~70 % of pixels) both clean up the labels, and they agree on >= 98 %."""
    rng = np.random.default_rng(1)
    h, w, k = 24, 32, 3
    truth = np.zeros((h, w), dtype=np.int64)
    truth[:, 16:], truth[12:, :10] = 1, 2
    image = np.array([[0, 0, 0], [200, 60, 40], [40, 160, 60]], dtype=np.float64)[truth]
    image = np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)
    prob = np.full((k, h, w), 0.2)
    np.put_along_axis(prob, truth[None], 0.6, axis=0)
    prob += rng.uniform(0, 1.0, prob.shape)
    unary = (-np.log(prob / prob.sum(0))).astype(np.float32)
    theirs = pydensecrf_q(image, unary, 5, sxy=10.0, srgb=20.0, compat=5.0).argmax(0)
    crf = ms.crf.DenseCRF(5.0, 10.0, 20.0, 0.0, 1.0, normalization="symmetric")
    ours = crf.predict(unary.astype(np.float64), image.astype(np.float64), 5, "permutohedral")
    assert np.mean(unary.argmin(0) == truth) < 0.8
    assert np.mean(ours == theirs) >= 0.98
    assert np.mean(ours == truth) >= 0.95


@pytest.mark.slow
def test_demo_sharpens_blocky_prediction_towards_colour_edges():
    result = ms.crf.demo("coffee", downscale=2)
    assert result["refined"].shape == result["image"].shape[:2]
    assert result["agreement_after"] > result["agreement_before"] + 0.03
    assert result["history"].shape[0] == 6


def test_coarse_unary_is_blocky():
    image = np.random.default_rng(0).uniform(0, 255, (20, 24, 3))
    unary, coarse, _ = ms.crf.coarse_unary(image, num_labels=2, factor=4)
    assert unary.shape == (2, 20, 24)
    blocks = coarse.reshape(5, 4, 6, 4)
    assert np.all(blocks == blocks[:, :1, :, :1])
    np.testing.assert_allclose(np.exp(-unary).sum(0), 1.0)


def test_gathered_splat_equals_the_scatter():
    """The stacked lattices' splat gathers per vertex (vertex_entries): the same sums as the scatter
    lattice[offsets[p, r]] += splat_w[p, r] * Q[p], added in the same (pixel) order."""
    from minseg.crf.filters import PairwiseFilter
    from minseg.crf.kernels.lattice_stack import _stacked_splat

    rng = np.random.default_rng(3)
    image = blocky_image(rng, 12, 17)
    stacked = PairwiseFilter(list(zip((1.0, 0.7), kernel_features(image, 5.0, 20.0, 2.0))), "permutohedral",
                             "symmetric").stacked
    values = rng.uniform(0, 1, (12 * 17, 4)).astype(np.float32)
    scatter = np.zeros((stacked.bounds[-1], 4))
    np.add.at(scatter, stacked.offsets.ravel(), (stacked.splat_w[:, :, None] * values[:, None, :]).reshape(-1, 4))
    gathered = np.empty_like(scatter)
    _stacked_splat(values, stacked.starts, stacked.pixel, stacked.weight, gathered)
    np.testing.assert_allclose(gathered, scatter, rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(stacked.starts) >= 0) and stacked.starts[-1] == stacked.offsets.size


@pytest.mark.slow  # 16,800 pixels: minutes in pure Python (NUMBA_DISABLE_JIT)
def test_parallel_lattice_build_and_threads_give_the_serial_answer(monkeypatch):
    """A CRF large enough to build its two lattices on two threads, and to run its mean-field passes on
    two Numba threads, gives bit for bit what one thread gives (each row is written by one thread only)."""
    import numba

    from minseg.crf import filters

    rng = np.random.default_rng(5)
    h, w = 120, 140  # 16,800 pixels: above PARALLEL_BUILD_PIXELS and, with 21 labels, the threads' grain
    image, unary = blocky_image(rng, h, w), rng.uniform(0, 3, (21, h, w))
    crf = ms.crf.DenseCRF(10.0, 80.0, 13.0, 3.0, 3.0, normalization="symmetric")
    assert h * w >= filters.PARALLEL_BUILD_PIXELS
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        parallel = crf.mean_field(unary, image, 3)
        numba.set_num_threads(1)
        monkeypatch.setattr(filters, "PARALLEL_BUILD_PIXELS", h * w + 1)
        serial = crf.mean_field(unary, image, 3)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(parallel, serial)
