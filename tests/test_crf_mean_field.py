"""Mean-field inference: naive path vs an independent dense computation, the loop reference, Q sums
to 1, the history helper, and when the parallel update does (and does not) lower the KL objective."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from scipy.special import softmax

import minseg as ms
from minseg.crf.dense import mean_field_step_reference, pairwise_matrix
from tests.support import examples


@st.composite
def problems(draw, max_side=6, weight_cap=3.0, normalizations=("none", "symmetric")):
    h, w = draw(st.integers(1, max_side)), draw(st.integers(2, max_side))
    k = draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    image = rng.uniform(0, 255, (h, w, draw(st.sampled_from([1, 3]))))
    unary = rng.uniform(0, 3, (k, h, w))
    w1 = draw(st.floats(0.0, weight_cap))
    w2 = draw(st.floats(0.0, weight_cap - w1))
    thetas = draw(st.floats(0.5, 6.0)), draw(st.floats(5.0, 120.0)), draw(st.floats(0.5, 3.0))
    normalization = draw(st.sampled_from(normalizations))
    crf = ms.crf.DenseCRF(w1, thetas[0], thetas[1], w2, thetas[2], normalization=normalization)
    return crf, unary, image


def independent_mean_field(crf, unary, image, n_iter):
    """Mean-field written separately with scipy: W from cdist, Q <- softmax(-U - W (1 - Q))."""
    k, h, w = unary.shape
    rows, cols = np.indices((h, w))
    p = np.stack([rows.ravel(), cols.ravel()], 1).astype(float)
    colour = image.reshape(h * w, -1)
    kernels = [np.exp(-cdist(p, p, "sqeuclidean") / (2 * crf.theta_alpha ** 2)
                      - cdist(colour, colour, "sqeuclidean") / (2 * crf.theta_beta ** 2)),
               np.exp(-cdist(p, p, "sqeuclidean") / (2 * crf.theta_gamma ** 2))]
    weights = np.zeros((h * w, h * w))
    for wm, km in zip((crf.w1, crf.w2), kernels):
        km = km - np.eye(h * w)  # no self term: pairs i != j only
        if crf.normalization == "symmetric":
            d = 1 / np.sqrt(np.maximum(km.sum(1), 1e-20))  # an isolated pixel: d = 0, k = 0
            km = d[:, None] * km * d[None, :]
        weights += wm * km
    u = unary.reshape(k, -1)
    q = softmax(-u, axis=0)
    for _ in range(n_iter):
        q = softmax(-u - (1 - q) @ weights.T, axis=0)
    return q.reshape(k, h, w)


@examples(60)
@given(problems(), st.integers(0, 6))
def test_naive_matches_independent_dense_computation(problem, n_iter):
    crf, unary, image = problem
    got = crf.mean_field(unary, image, n_iter=n_iter, method="naive")
    np.testing.assert_allclose(got, independent_mean_field(crf, unary, image, n_iter), atol=1e-10)


@examples(30)
@given(problems(max_side=3))
def test_one_step_matches_loop_reference(problem):
    crf, unary, image = problem
    k = unary.shape[0]
    q0 = softmax(-unary.reshape(k, -1), axis=0)
    expected = mean_field_step_reference(q0, unary.reshape(k, -1), pairwise_matrix(crf, image))
    got = crf.mean_field(unary, image, n_iter=1, method="naive").reshape(k, -1)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@examples(40)
@given(problems(), st.sampled_from(["naive", "permutohedral"]))
def test_q_is_a_distribution_per_pixel(problem, method):
    crf, unary, image = problem
    q = crf.mean_field(unary, image, n_iter=3, method=method)
    assert q.shape == unary.shape
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(axis=0), 1.0, atol=1e-12)


def test_zero_iterations_give_softmax_of_minus_unary(rng):
    unary, image = rng.uniform(0, 3, (3, 4, 5)), rng.uniform(0, 255, (4, 5, 3))
    q = ms.crf.DenseCRF().mean_field(unary, image, n_iter=0)
    np.testing.assert_allclose(q, softmax(-unary, axis=0), atol=1e-12)


def test_predict_history_matches_mean_field(rng):
    crf = ms.crf.DenseCRF(0.5, 3.0, 30.0, 0.5, 1.0)
    unary, image = rng.uniform(0, 3, (3, 5, 6)), rng.uniform(0, 255, (5, 6, 3))
    labels, history = crf.predict(unary, image, n_iter=4, method="naive", return_history=True)
    assert history.shape == (5, 3, 5, 6)
    for t in range(5):
        np.testing.assert_allclose(history[t], crf.mean_field(unary, image, n_iter=t, method="naive"))
    np.testing.assert_array_equal(labels, history[-1].argmax(0))
    np.testing.assert_array_equal(crf.predict(unary, image, n_iter=4, method="naive"), labels)


@examples(40)
@given(problems(weight_cap=1.0, normalizations=("none",)))
def test_parallel_update_never_raises_kl_when_weights_sum_to_at_most_one(problem):
    """Guaranteed case. F(Q) = E_Q[E] - H(Q) has the quadratic part -1/2 q^T (W ⊗ I) q, and
    W = w1 (K1 - I) + w2 (K2 - I) with K1, K2 Gaussian Gram matrices (positive semi-definite), so
    W >= -(w1 + w2) I. The parallel update minimises the convex rest with that part linearised; the
    entropy is 1-strongly convex (Pinsker), so F drops by at least (1 - w1 - w2) |ΔQ|^2 / 2 >= 0."""
    crf, unary, image = problem
    _, history = crf.predict(unary, image, n_iter=6, method="naive", return_history=True)
    values = [crf.kl_objective(q, unary, image) for q in history]
    assert all(b <= a + 1e-9 * (1 + abs(a)) for a, b in zip(values, values[1:]))


def test_kl_objective_decreases_on_a_typical_example():
    """Beyond the guarantee: stronger, normalised weights on a two-region image also descend here."""
    rng = np.random.default_rng(3)
    image = np.zeros((8, 10, 3))
    image[:, 5:] = 200.0
    image += rng.normal(0, 5, image.shape)
    unary = rng.uniform(0, 2, (3, 8, 10))
    crf = ms.crf.DenseCRF(5.0, 4.0, 20.0, 3.0, 1.0, normalization="symmetric")
    _, history = crf.predict(unary, image, n_iter=8, method="naive", return_history=True)
    values = [crf.kl_objective(q, unary, image) for q in history]
    assert all(b <= a + 1e-9 for a, b in zip(values, values[1:]))
    assert values[-1] < values[0] - 1.0


def test_parallel_update_can_raise_kl_for_strong_coupling():
    """Not guaranteed in general: two close pixels, strong coupling, opposite mild preferences. Each
    pixel jumps to the label the *other* one had, so they keep disagreeing and F goes up."""
    image = np.zeros((1, 2, 1))
    unary = np.array([[[0.0, 0.2]], [[0.2, 0.0]]])
    crf = ms.crf.DenseCRF(0.0, 1.0, 1.0, 10.0, 5.0)
    _, history = crf.predict(unary, image, n_iter=3, method="naive", return_history=True)
    values = [crf.kl_objective(q, unary, image) for q in history]
    assert values[1] > values[0]
    assert np.argmax(history[1][:, 0, 0]) == 1 and np.argmax(history[1][:, 0, 1]) == 0  # swapped


def test_kl_objective_matches_definition_on_two_pixels():
    image = np.array([[[0.0], [1.0]]])
    unary = np.array([[[0.3, 1.0]], [[0.9, 0.1]]])
    q = np.array([[[0.7, 0.2]], [[0.3, 0.8]]])
    crf = ms.crf.DenseCRF(2.0, 1.0, 1.0, 0.5, 1.0)
    w12 = 2.0 * np.exp(-0.5 - 0.5) + 0.5 * np.exp(-0.5)
    expected = (np.sum(q * unary) + w12 * (1 - (0.7 * 0.2 + 0.3 * 0.8)) + np.sum(q * np.log(q)))
    assert crf.kl_objective(q, unary, image) == pytest.approx(expected)
