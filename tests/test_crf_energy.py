"""Dense CRF energy: the lecture's worked 3x3 example, the loop reference, exact minimisation, bad input."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
from minseg.crf.dense import energy_reference
from tests.support import examples


def slide_example():
    """The slides' 3x3 example: image 255 with a 0 centre, P(y=1) as on the slide, unary -log10 P.

    Conventions that give the slide's numbers: all of w1, w2, θα, θβ, θγ = 1; Chebyshev distance
    for both |p_i - p_j| (pixel units, so every one of the centre's 8 neighbours is at distance 1) and
    |I_i - I_j| (raw 0..255 grey values); base-10 logarithm in the unary; the pairwise sum counts each
    unordered pair once. x_A (centre labelled 0) then pays 8 [exp(-1/2 - 255^2/2) + exp(-1/2)] = 4.85:
    only the centre's 8 neighbours differ from it and every farther pixel is at Chebyshev distance 2,
    which the slide ignores; here those pairs have equal labels, so the sum is exactly the slide's.
    """
    image = np.full((3, 3), 255.0)
    image[1, 1] = 0.0
    p1 = np.array([[0.8, 0.8, 0.8], [0.9, 0.1, 0.8], [0.9, 0.9, 0.9]])
    unary = ms.crf.unary_from_probabilities(np.stack([1 - p1, p1]), base=10)
    x_a = np.ones((3, 3), dtype=np.int64)
    x_a[1, 1] = 0
    x_b = np.ones((3, 3), dtype=np.int64)
    return ms.crf.DenseCRF(1.0, 1.0, 1.0, 1.0, 1.0), image, unary, x_a, x_b


def unary_part(unary, labels):
    rows, cols = np.indices(labels.shape)
    return unary[labels, rows, cols].sum()


def test_slide_worked_example_numbers():
    crf, image, unary, x_a, x_b = slide_example()
    e_a = crf.energy(x_a, unary, image, distance="chebyshev")
    e_b = crf.energy(x_b, unary, image, distance="chebyshev")
    assert round(unary_part(unary, x_a), 2) == 0.62
    assert round(e_a - unary_part(unary, x_a), 2) == 4.85
    assert e_a - unary_part(unary, x_a) == pytest.approx(8 * (np.exp(-0.5 - 255 ** 2 / 2) + np.exp(-0.5)))
    assert round(unary_part(unary, x_b), 2) == 1.57
    assert e_b - unary_part(unary, x_b) == 0.0
    assert e_a > e_b


def test_slide_example_exact_minimiser_is_x_b():
    crf, image, unary, _, x_b = slide_example()
    labels, energy = crf.minimize_exact(unary, image, distance="chebyshev")
    np.testing.assert_array_equal(labels, x_b)
    assert energy == pytest.approx(crf.energy(x_b, unary, image, distance="chebyshev"))


def test_slide_example_mean_field_fills_the_hole():
    crf, image, unary, _, x_b = slide_example()
    for method in ("naive", "permutohedral"):
        np.testing.assert_array_equal(crf.predict(unary, image, n_iter=5, method=method), x_b)


@st.composite
def small_problems(draw, max_pixels=12):
    h = draw(st.integers(1, 4))
    w = draw(st.integers(1, max(1, max_pixels // h)))
    k = draw(st.integers(2, 3))
    c = draw(st.sampled_from([1, 3]))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (h, w, c))
    unary = rng.uniform(0, 3, (k, h, w))
    labels = rng.integers(0, k, (h, w))
    params = [draw(st.floats(0.0, 5.0)), draw(st.floats(0.5, 5.0)), draw(st.floats(5.0, 100.0)),
              draw(st.floats(0.0, 5.0)), draw(st.floats(0.5, 5.0))]
    normalization = draw(st.sampled_from(["none", "symmetric"]))
    distance = draw(st.sampled_from(["euclidean", "chebyshev"]))
    return ms.crf.DenseCRF(*params, normalization=normalization), labels, unary, image, distance


@examples(150)
@given(small_problems())
def test_energy_matches_loop_reference(problem):
    crf, labels, unary, image, distance = problem
    expected = energy_reference(crf, labels, unary, image, distance)
    got = crf.energy(labels, unary, image, distance=distance)
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-10)


@examples(40)
@given(small_problems(max_pixels=8))
def test_minimize_exact_beats_every_labeling(problem):
    crf, _, unary, image, distance = problem
    labels, energy = crf.minimize_exact(unary, image, distance=distance)
    k, h, w = unary.shape
    every = [energy_reference(crf, np.array(x).reshape(h, w), unary, image, distance)
             for x in itertools.product(range(k), repeat=h * w)]
    assert energy == pytest.approx(min(every), rel=1e-10, abs=1e-10)
    assert crf.energy(labels, unary, image, distance=distance) == pytest.approx(energy, rel=1e-10, abs=1e-10)


def test_energy_is_unary_sum_when_weights_are_zero(rng):
    image, unary = rng.uniform(0, 1, (4, 5, 3)), rng.uniform(0, 1, (3, 4, 5))
    labels = rng.integers(0, 3, (4, 5))
    crf = ms.crf.DenseCRF(0.0, 1.0, 1.0, 0.0, 1.0)
    assert crf.energy(labels, unary, image) == pytest.approx(unary_part(unary, labels))


BAD_CALLS = [
    (lambda crf, u, im, x: crf.energy(x, u[:, :2], im), "unary"),
    (lambda crf, u, im, x: crf.mean_field(u, im[:2]), "unary"),
    (lambda crf, u, im, x: crf.mean_field(u[:1], im), "K >= 2"),
    (lambda crf, u, im, x: crf.mean_field(u[0], im), "unary must be 3-D"),
    (lambda crf, u, im, x: crf.mean_field(u, im[0, 0]), "image must be"),
    (lambda crf, u, im, x: crf.mean_field(u, im, method="exact"), "method"),
    (lambda crf, u, im, x: crf.mean_field(u, im, n_iter=-1), "n_iter"),
    (lambda crf, u, im, x: crf.energy(x, u, im, distance="manhattan"), "distance"),
    (lambda crf, u, im, x: crf.energy(x + 5, u, im), "labels must lie"),
    (lambda crf, u, im, x: crf.energy(x[:2], u, im), "labels must have shape"),
    (lambda crf, u, im, x: crf.energy(x.astype(float), u, im), "integer"),
    (lambda crf, u, im, x: crf.mean_field(u * np.nan, im), "finite"),
    (lambda crf, u, im, x: ms.crf.DenseCRF(-1.0), "w1"),
    (lambda crf, u, im, x: ms.crf.DenseCRF(1.0, theta_alpha=-2.0), "theta_alpha"),
    (lambda crf, u, im, x: ms.crf.DenseCRF(1.0, theta_beta=0.0), "theta_beta"),
    (lambda crf, u, im, x: ms.crf.DenseCRF(1.0, theta_gamma=-1.0), "theta_gamma"),
    (lambda crf, u, im, x: ms.crf.DenseCRF(normalization="after"), "normalization"),
    (lambda crf, u, im, x: crf.minimize_exact(np.zeros((2, 5, 5)), np.zeros((5, 5))), "max_labelings"),
    (lambda crf, u, im, x: crf.kl_objective(u[:, :2], u, im), "q must have"),
    (lambda crf, u, im, x: crf.energy(np.zeros((60, 60), int), np.zeros((2, 60, 60)), np.zeros((60, 60))),
     "energy: image must have at most 2500 pixels"),
]


@pytest.mark.parametrize("call, words", BAD_CALLS)
def test_bad_input_raises_value_error_naming_it(call, words, rng):
    crf = ms.crf.DenseCRF(1.0, 2.0, 10.0, 1.0, 1.0)
    unary, image = rng.uniform(0, 1, (3, 3, 4)), rng.uniform(0, 255, (3, 4, 3))
    labels = rng.integers(0, 3, (3, 4))
    with pytest.raises(ValueError, match=words):
        call(crf, unary, image, labels)


def test_non_array_input_raises_type_error():
    with pytest.raises(TypeError, match="mean_field: unary must be an ndarray"):
        ms.crf.DenseCRF().mean_field("unary", np.zeros((2, 2)))
    with pytest.raises(TypeError, match="w2 must be a real number"):
        ms.crf.DenseCRF(w2="3")
