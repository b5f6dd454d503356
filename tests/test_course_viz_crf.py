"""Lecture 07's pictures without a browser: the NumPy permutohedral lattice against minseg's Numba one
and the exact Gaussian filter, and the mean-field explorer's panels against energies and labels
computed independently (brute-force NumPy, DenseCRF run from scratch)."""

import numpy as np
import pytest

import minseg as ms
from minseg.crf.kernels.permutohedral import lattice_build, lattice_filter, lattice_scale
from minseg.viz import crf as crfviz
from minseg.viz import lattice as latviz


def brute_force_energy(labels, unary, image, w1, theta_alpha, theta_beta, w2, theta_gamma):
    """E(x) pair by pair, unnormalised kernels, Euclidean: the slides' formula written out."""
    h, w = labels.shape
    pixels = [(r, c) for r in range(h) for c in range(w)]
    total = sum(unary[labels[p], p[0], p[1]] for p in pixels)
    for a in range(len(pixels)):
        for b in range(a + 1, len(pixels)):
            (ra, ca), (rb, cb) = pixels[a], pixels[b]
            if labels[ra, ca] != labels[rb, cb]:
                dp = (ra - rb) ** 2 + (ca - cb) ** 2
                dc = np.sum((image[ra, ca] - image[rb, cb]) ** 2)
                total += (w1 * np.exp(-dp / (2 * theta_alpha ** 2) - dc / (2 * theta_beta ** 2))
                          + w2 * np.exp(-dp / (2 * theta_gamma ** 2)))
    return total


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_numpy_lattice_is_minsegs_lattice(d):
    rng = np.random.default_rng(d)
    features, values = rng.normal(0, 2, (60, d)), rng.normal(size=(60, 2))
    offsets, weights, neighbours, _ = lattice_build(features)
    ours = latviz.splat_blur_slice(features, values)
    np.testing.assert_allclose(ours["bary"], weights, atol=1e-12)
    assert (ours["bary"] >= -1e-12).all() and np.allclose(ours["bary"].sum(axis=1), 1.0)
    # barycentric: the weighted vertices give back the lifted point
    rebuilt = np.einsum("pr,pri->pi", ours["bary"], ours["vertices"])
    np.testing.assert_allclose(rebuilt, ours["elevated"], atol=1e-9)
    assert np.allclose(ours["vertices"].sum(axis=2), 0) and ours["index"].max() + 1 == len(ours["keys"])
    # the same vertices shared by the same points
    same_ours = ours["index"].ravel()[:, None] == ours["index"].ravel()[None, :]
    same_numba = offsets.ravel()[:, None] == offsets.ravel()[None, :]
    np.testing.assert_array_equal(same_ours, same_numba)
    numba = lattice_filter(values, offsets, weights, neighbours)
    np.testing.assert_allclose(ours["sliced"], numba, atol=1e-10)


def test_lattice_approximates_the_gaussian_filter():
    """Points filling a 2-D square: splat-blur-slice / c_2 close to the exact Gaussian sum inside it."""
    grid = np.stack(np.meshgrid(np.arange(0, 12, 0.5), np.arange(0, 12, 0.5)), -1).reshape(-1, 2)
    values = np.sin(grid[:, 0] / 3) + 2
    approx = latviz.splat_blur_slice(grid, values)["sliced"] / lattice_scale(2)
    exact = latviz.dense_gaussian(grid, values)
    inside = np.all((grid > 3) & (grid < 9), axis=1)
    assert np.max(np.abs(approx[inside] / exact[inside] - 1)) < 0.1


def test_draw_lattice_keeps_the_step_and_shows_its_error():
    signal = np.where(np.arange(24) < 12, 0.2, 0.8) + np.random.default_rng(0).normal(0, 0.05, 24)
    fig = latviz.draw_lattice(signal, theta_x=4.0, theta_i=0.15)
    ax_splat, ax_blur, ax_slice = fig.axes[:3]  # then the colour bar
    assert len(ax_splat.collections[2].get_offsets()) == 24  # the points
    assert len(ax_blur.collections[1].get_offsets()) == len(fig.lattice["keys"])  # the vertices
    x = np.arange(24.0)
    features = np.stack([x / 4.0, signal / 0.15], 1)
    k = np.exp(-((features[:, None] - features[None]) ** 2).sum(-1) / 2)
    np.testing.assert_allclose(fig.exact, k @ signal / k.sum(1), rtol=1e-12)  # a bilateral filter, by hand
    np.testing.assert_allclose(ax_slice.lines[2].get_ydata(), fig.approx)
    assert np.abs(fig.approx - fig.exact).max() < 0.03
    assert fig.approx[:12].max() < 0.3 and fig.approx[12:].min() > 0.7  # the edge survives the filter
    assert f"{np.abs(fig.approx - fig.exact).max():.3f}" in ax_slice.get_title()


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(5)
    image = np.zeros((5, 6, 3))
    image[:, 3:] = 200.0
    image += rng.normal(0, 5, image.shape)
    truth = np.zeros((5, 6), int)
    truth[:, 3:] = 1
    logits = 2.0 * np.eye(3)[truth].transpose(2, 0, 1) + rng.normal(0, 1.2, (3, 5, 6))
    return image, -np.log(ms.crf.softmax_labels(logits))


PARAMS = dict(w1=0.5, theta_alpha=4.0, theta_beta=30.0, w2=0.3, theta_gamma=1.5)


def test_explorer_panels_are_the_crf_run_from_scratch(small_problem):
    image, unary = small_problem
    explorer = crfviz.MeanFieldExplorer(image, unary, max_iter=4, method="naive", normalization="none")
    crf = ms.crf.DenseCRF(**PARAMS)
    for iteration in (0, 1, 4):
        fig = explorer.draw(iteration, **PARAMS)
        ax_image, ax_unary, ax_q, ax_energy = fig.axes
        np.testing.assert_array_equal(ax_image.images[0].get_array(), np.clip(image, 0, 255).astype(np.uint8))
        np.testing.assert_array_equal(ax_unary.images[0].get_array(), unary.argmin(axis=0))
        expected = crf.predict(unary, image, n_iter=iteration, method="naive")
        np.testing.assert_array_equal(ax_q.images[0].get_array(), expected)
        assert f"after {iteration} iteration" in ax_q.get_title()
    curve = ax_energy.lines[0].get_ydata()
    labels = [crf.predict(unary, image, n_iter=t, method="naive") for t in range(5)]
    by_hand = [brute_force_energy(x, unary, image, **PARAMS) for x in labels]
    np.testing.assert_allclose(curve, by_hand, rtol=1e-10)
    assert ax_energy.lines[1].get_ydata()[0] == pytest.approx(curve[4])
    assert explorer.last["changed"] == int(np.count_nonzero(labels[4] != unary.argmin(0)))


def test_explorer_without_pairwise_terms_changes_nothing(small_problem):
    image, unary = small_problem
    explorer = crfviz.MeanFieldExplorer(image, unary, max_iter=3)
    explorer.draw(3, w1=0.0, theta_alpha=4.0, theta_beta=30.0, w2=0.0, theta_gamma=1.5)
    np.testing.assert_array_equal(explorer.last["labels"], unary.argmin(axis=0))
    rows, cols = np.indices(unary.shape[1:])
    np.testing.assert_allclose(explorer.last["energy"], [unary[unary.argmin(0), rows, cols].sum()] * 4)


def test_explorer_caches_each_parameter_set_and_the_widget_redraws(small_problem):
    image, unary = small_problem
    explorer = crfviz.MeanFieldExplorer(image, unary, max_iter=4, normalization="none")
    first = explorer.run(**PARAMS)
    assert explorer.run(**PARAMS) is first and len(explorer.cache) == 1
    widget = explorer.widget()
    assert len(explorer.cache) == 2  # the sliders' defaults
    widget.controls["iteration"].value = 0
    np.testing.assert_array_equal(widget.figure.axes[2].images[0].get_array(), unary.argmin(axis=0))
    widget.controls["w2"].value = 0.0
    widget.controls["w1"].value = 0.0
    assert len(explorer.cache) == 4
    widget.controls["iteration"].value = 4
    np.testing.assert_array_equal(widget.figure.axes[2].images[0].get_array(), unary.argmin(axis=0))
    assert set(widget.controls) == {"iteration", *crfviz.PARAMETERS}


def test_explorer_static_figure_shows_the_chosen_iterations(small_problem):
    image, unary = small_problem
    explorer = crfviz.MeanFieldExplorer(image, unary, max_iter=5, method="naive", normalization="none")
    fig = explorer.static_figure(iterations=(0, 2, 5), **PARAMS)
    assert len(fig.axes) == 5
    crf = ms.crf.DenseCRF(**PARAMS)
    for ax, t in zip(fig.axes[1:4], (0, 2, 5)):
        expected = crf.predict(unary, image, n_iter=t, method="naive")
        np.testing.assert_array_equal(ax.images[0].get_array(), expected)


def test_explorer_refuses_large_or_mismatched_images():
    with pytest.raises(ValueError, match="at most 2500 pixels"):
        crfviz.MeanFieldExplorer(np.zeros((60, 60, 3)), np.zeros((2, 60, 60)))
    with pytest.raises(ValueError, match="same H and W"):
        crfviz.MeanFieldExplorer(np.zeros((6, 5, 3)), np.zeros((2, 5, 6)))


def _shown(fig) -> dict:
    """What the mean-field figure shows: every image, line and title (compared across figures)."""
    return {"images": [im.get_array().tolist() for ax in fig.axes for im in ax.images],
            "lines": [line.get_xydata().tolist() for ax in fig.axes for line in ax.lines],
            "titles": [ax.get_title() for ax in fig.axes], "energy_ylim": fig.axes[3].get_ylim()}


def test_explorer_update_shows_what_a_fresh_draw_shows(small_problem):
    image, unary = small_problem
    explorer = crfviz.MeanFieldExplorer(image, unary, max_iter=4, normalization="symmetric")
    shown = explorer.draw(1, **PARAMS)
    for iteration, change in ((3, {}), (3, {"w1": 2.0}), (0, {"theta_alpha": 2.0}), (4, {"theta_beta": 5.0}),
                              (2, {"w2": 0.0, "theta_gamma": 3.0})):
        values = dict(PARAMS, **change)
        assert explorer.update(shown, iteration, **values)
        updated_last = explorer.last
        fresh = explorer.draw(iteration, **values)
        assert _shown(shown) == _shown(fresh)
        assert shown._repr_png_() == fresh._repr_png_()  # the same pixels (and the same PNG bytes)
        np.testing.assert_array_equal(updated_last["labels"], explorer.last["labels"])
    assert not explorer.update(crfviz.LectureFigure(), 1, **PARAMS)


def test_explorer_kernels_are_the_crfs_own(small_problem):
    """The cached unit kernels, weighted, are DenseCRF's pairwise matrix for the same parameters."""
    image, unary = small_problem
    explorer = crfviz.MeanFieldExplorer(image, unary, normalization="symmetric")
    for params in (PARAMS, dict(PARAMS, theta_alpha=7.0), dict(PARAMS, theta_gamma=0.8), PARAMS):
        appearance, smoothness = explorer.unit_kernels(params["theta_alpha"], params["theta_beta"],
                                                       params["theta_gamma"])
        crf = ms.crf.DenseCRF(**params, normalization="symmetric")
        np.testing.assert_allclose(params["w1"] * appearance + params["w2"] * smoothness,
                                   ms.crf.dense.pairwise_matrix(crf, image), rtol=1e-12)
