"""The mask drawing helpers: palette, colorize, overlay (hand-checked arithmetic) and the figures."""
import numpy as np
import pytest

from minseg.data import CLASSES, make_digit_scenes
from minseg.viz.masks import colorize, overlay, palette, show_mask, show_overlay, show_predictions, to_hwc


def test_palette_background_black_and_colours_distinct():
    colours = palette(21)
    assert colours.shape == (21, 3) and colours.dtype == np.float32
    np.testing.assert_array_equal(colours[0], [0, 0, 0])
    np.testing.assert_allclose(colours[1], [128 / 255, 0, 0])  # VOC: class 1 is dark red
    assert len({tuple(c) for c in colours}) == 21


def test_colorize_and_ignore_pixels():
    mask = np.array([[0, 1], [2, 255]])
    picture = colorize(mask, 3, ignore_index=255)
    assert picture.shape == (2, 2, 3)
    np.testing.assert_array_equal(picture[0, 1], palette(3)[1])
    np.testing.assert_array_equal(picture[1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="colorize: mask labels must lie in"):
        colorize(mask, 3, colours=palette(3))
    with pytest.raises(ValueError, match="colorize: mask must be an"):
        colorize(np.zeros((2, 2, 2), int))


def test_overlay_blends_labelled_pixels_only():
    image = np.full((3, 2, 2), 0.5, np.float32)
    mask = np.array([[0, 1], [1, 0]])
    out = overlay(image, mask, alpha=0.25, num_classes=2)
    np.testing.assert_allclose(out[0, 0], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(out[0, 1], 0.75 * 0.5 + 0.25 * palette(2)[1])
    with pytest.raises(ValueError, match="overlay: mask shape"):
        overlay(image, np.zeros((3, 3), int))


def test_to_hwc_accepts_chw_hwc_and_grey():
    assert to_hwc(np.zeros((3, 4, 5))).shape == (4, 5, 3)
    assert to_hwc(np.zeros((4, 5, 3))).shape == (4, 5, 3)
    assert to_hwc(np.zeros((4, 5))).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="to_hwc: image must be"):
        to_hwc(np.zeros((2, 4, 5)))


def test_figures_draw_with_legends():
    import matplotlib.pyplot as plt

    images, masks, _ = make_digit_scenes(3, size=32, seed=0)
    scores = np.eye(11, dtype=np.float32)[masks].transpose(0, 3, 1, 2)
    fig = show_predictions(images, masks, scores, CLASSES, max_rows=2)
    assert len(fig.axes) == 6 and "mIoU 1.00" in fig.axes[2].get_title()
    legend = fig.axes[1].get_legend()
    assert legend is not None and legend.get_texts()[0].get_text() == "background"
    ax = show_overlay(images[0], masks[0], CLASSES, ax=plt.figure().gca(), title="overlay")
    assert ax.get_title() == "overlay"
    show_mask(masks[0], CLASSES, ax=plt.figure().gca())
    plt.close("all")
