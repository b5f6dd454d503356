"""Lecture 08's RoI quantisation explorer without a browser: call ``draw``, read the figure's data.
Expected values are worked out by hand (the bins and sample points) or computed by torchvision."""
import numpy as np
from matplotlib.collections import PathCollection
import pytest
import torch
import torchvision

from minseg.viz import roi


def _scatter(ax):
    """The axes' scatter of sample points (its other collections are the grid's lines)."""
    return next(c for c in ax.collections if isinstance(c, PathCollection))

BOX = (1.3, 2.2, 8.6, 9.4)


@pytest.fixture(scope="module")
def explorer():
    return roi.RoIExplorer(roi.example_features())


def test_example_features_are_a_digit_of_whole_numbers():
    f = roi.example_features()
    assert f.shape == (12, 12) and f.max() == 16 and f.min() == 0
    np.testing.assert_array_equal(f, np.round(f))
    assert not f[:2].any() and not f[:, :2].any()  # the 8x8 digit sits in a frame of zeros


@pytest.mark.parametrize("setting", [(BOX, 2, 2, False), ((2.6, 2.4, 5.3, 4.6), 3, 2, True),
                                     ((0.0, 0.0, 11.0, 11.0), 4, 0, False), ((5.2, 1.7, 5.4, 9.9), 1, 3, True)])
def test_both_outputs_are_torchvisions(explorer, setting):
    box, size, ratio, aligned = setting
    fig = explorer.draw(*box, output_size=size, sampling_ratio=ratio, aligned=aligned)
    x = torch.tensor(explorer.features[None, None])
    rois = torch.tensor([[0.0, *box]], dtype=torch.float64)
    pooled = torchvision.ops.roi_pool(x, rois, size)[0, 0].numpy()
    averaged = torchvision.ops.roi_align(x, rois, size, sampling_ratio=ratio if ratio > 0 else -1,
                                         aligned=aligned)[0, 0].numpy()
    np.testing.assert_allclose(fig.roi["pool"], pooled)
    np.testing.assert_allclose(fig.roi["align"], averaged, rtol=1e-12)
    shown_pool, shown_align = (ax.images[0].get_array() for ax in fig.axes[2:])
    np.testing.assert_allclose(shown_pool, pooled)
    np.testing.assert_allclose(shown_align, averaged, rtol=1e-12)


def test_roipool_bins_are_quantised_twice(explorer):
    # box (1.3, 2.2)-(8.6, 9.4) rounds to (1, 2)-(9, 9): 9 columns, 8 rows; 2 bins:
    # columns [1 + floor(0), 1 + ceil(4.5)) = [1, 6) and [1 + floor(4.5), 1 + ceil(9)) = [5, 10); rows [2, 6), [6, 10)
    fig = explorer.draw(*BOX, output_size=2, sampling_ratio=2)
    assert fig.roi["rounded"] == (1, 2, 9, 9)
    assert [tuple(map(int, c)) for c in fig.roi["cols"]] == [(1, 6), (5, 10)]
    assert [tuple(map(int, r)) for r in fig.roi["rows"]] == [(2, 6), (6, 10)]
    rects = [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in fig.axes[0].patches]
    assert rects[0] == pytest.approx((1.3, 2.2, 7.3, 7.2))  # the box as given (dashed)
    assert rects[1] == (0.5, 1.5, 9, 8)  # the rounded box, whole pixels
    assert rects[2:] == [(0.5, 1.5, 5, 4), (4.5, 1.5, 5, 4), (0.5, 5.5, 5, 4), (4.5, 5.5, 5, 4)]
    f = explorer.features
    maxima = [f[2:6, 1:6].max(), f[2:6, 5:10].max(), f[6:10, 1:6].max(), f[6:10, 5:10].max()]
    np.testing.assert_array_equal(fig.roi["pool"].ravel(), maxima)
    marked = [f[int(line.get_ydata()[0]), int(line.get_xdata()[0])] for line in fig.axes[0].lines]
    assert marked == maxima  # each bin's x sits on its maximum


@pytest.mark.parametrize("aligned", [False, True])
def test_roialign_samples_by_hand(explorer, aligned):
    # box (1, 2)-(5, 4), 2x2 bins of 2 x 1 pixels, 2x2 samples each, at start + (s + 1/2) * bin / 2
    fig = explorer.draw(1.0, 2.0, 5.0, 4.0, output_size=2, sampling_ratio=2, aligned=aligned)
    shift = 0.5 if aligned else 0.0
    points = _scatter(fig.axes[1]).get_offsets()
    assert len(points) == 16
    np.testing.assert_allclose(sorted(set(np.round(points[:, 0], 9))), np.array([1.5, 2.5, 3.5, 4.5]) - shift)
    np.testing.assert_allclose(sorted(set(np.round(points[:, 1], 9))), np.array([2.25, 2.75, 3.25, 3.75]) - shift)
    assert fig.roi["per_bin"] == 4
    assert ("aligned" in fig.axes[1].get_title()) == aligned


def test_adaptive_sampling_uses_ceil_of_bin_size(explorer):
    fig = explorer.draw(0.0, 0.0, 7.0, 3.0, output_size=2, sampling_ratio=0)
    assert fig.roi["per_bin"] == 4 * 2  # ceil(3.5) along x, ceil(1.5) along y
    assert "adaptive" in fig.axes[1].get_title()


def test_corners_given_in_either_order(explorer):
    a, b = explorer.draw(8.6, 9.4, 1.3, 2.2), explorer.draw(*BOX)
    np.testing.assert_array_equal(a.roi["align"], b.roi["align"])


def test_widget_redraws_when_the_controls_move(explorer):
    widget = explorer.widget()
    assert widget.figure.roi["pool"].shape == (2, 2)
    widget.controls["output_size"].value = 3
    assert widget.figure.roi["pool"].shape == (3, 3)
    before = widget.figure.roi["points"].copy()
    widget.controls["aligned"].value = True
    np.testing.assert_allclose(widget.figure.roi["points"], before - 0.5)
    widget.controls["x2"].value = 10.0
    assert widget.figure.roi["box"][2] == 10.0


def test_static_figure_and_readable_text(explorer):
    fig = explorer.static_figure()
    assert len(fig.axes) == 8
    assert bytes(fig._repr_png_()[:8]) == b"\x89PNG\r\n\x1a\n"
    sizes = [t.get_fontsize() for ax in fig.axes for t in ax.texts + [ax.title]]
    assert min(sizes) >= 8
