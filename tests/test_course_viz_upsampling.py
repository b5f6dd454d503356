"""Lecture 03's widgets without a browser: call the update functions, read the figures' data, drive
the controls from Python. Expected values come from torch, from the slides, or are worked by hand,
never from the widget code itself."""
import numpy as np
import pytest
import torch

from minseg.viz import upsampling as uviz

IMAGE = np.array([[1.0, 2.0, 1.0], [2.0, -1.0, 3.0], [1.0, 0.0, 2.0]])


def torch_transposed(x, kernel, stride, padding):
    return torch.nn.functional.conv_transpose2d(torch.tensor(x[None, None]), torch.tensor(kernel[None, None]),
                                                stride=stride, padding=padding).numpy()[0, 0]


@pytest.mark.parametrize("kernel_size, stride, padding", [(3, 2, 0), (4, 2, 1), (3, 1, 1), (5, 3, 2), (2, 2, 0)])
def test_stamps_add_up_to_torchs_conv_transpose2d(kernel_size, stride, padding):
    ramp = lambda shape: np.arange(1.0, 1 + np.prod(shape)).reshape(shape)  # noqa: E731 - distinct weights
    stamps = uviz.TransposedConvStamps(IMAGE, kernel=ramp)
    stamps.draw(IMAGE.size - 1, kernel_size, stride, padding)
    expected = torch_transposed(IMAGE, ramp((kernel_size, kernel_size)), stride, padding)
    assert stamps.last["done"]
    np.testing.assert_allclose(stamps.last["output"], expected)
    np.testing.assert_allclose(stamps.last["trimmed"], expected)


def test_stamp_of_one_pixel_is_the_weighted_kernel_at_stride_spacing():
    stamps = uviz.TransposedConvStamps(IMAGE)
    fig = stamps.draw(step=5, kernel_size=3, stride=2, padding=0)  # pixel (1, 2), value 3
    assert stamps.last["pixel"] == (1, 2)
    stamp = stamps.last["stamp"]
    np.testing.assert_array_equal(stamp[2:5, 4:7], np.full((3, 3), 3.0))
    assert np.isnan(stamp[:2]).all() and np.isnan(stamp[:, :4]).all()
    drawn = fig.axes[1].images[0].get_array()
    np.testing.assert_array_equal(np.ma.filled(drawn, np.nan)[2:5, 4:7], 3.0)
    # after 6 stamps of ones: output so far is the sum of pixels 0..5, e.g. (2, 2) gets pixels 0, 1, 3, 4
    assert stamps.last["so_far"][2, 2] == 1 + 2 + 2 - 1


def test_overlap_count_shows_the_checkerboard_of_kernel_3_stride_2_and_not_of_kernel_4():
    stamps = uviz.TransposedConvStamps(np.ones((4, 4)))
    stamps.draw(0, kernel_size=3, stride=2, padding=0)
    row = stamps.last["count"][0]
    np.testing.assert_array_equal(row, [1, 1, 2, 1, 2, 1, 2, 1, 1])  # by hand: windows [0,3), [2,5), ...
    assert stamps.last["count"].max() == 4
    stamps.draw(0, kernel_size=4, stride=2, padding=1)
    inside = stamps.last["count"][1:-1, 1:-1]  # what padding 1 keeps
    np.testing.assert_array_equal(inside[1:-1, 1:-1], 4)  # even everywhere away from the border
    assert stamps.last["output"].shape == (8, 8)  # (4 - 1) 2 - 2 + 4


def test_padding_that_trims_everything_says_so():
    fig = uviz.TransposedConvStamps(np.ones((1, 1))).draw(0, kernel_size=1, stride=1, padding=1)
    assert "no output" in fig.axes[0].texts[0].get_text()


def test_stamps_widget_redraws_on_every_control():
    widget = uviz.TransposedConvStamps(IMAGE).widget()
    assert widget.controls["step"].max == IMAGE.size - 1
    shapes = []
    for name, value in (("kernel_size", 4), ("stride", 3), ("padding", 1), ("step", 8)):
        widget.controls[name].value = value
        shapes.append(widget.figure.axes[2].images[0].get_array().shape)
    assert shapes[0] == (8, 8) and shapes[1] == (10, 10)  # (3 - 1) s + k, the untrimmed grid
    assert "k=4, s=3, p=1: output 8x8" in widget.figure.axes[3].get_xlabel()


@pytest.mark.parametrize("mode", uviz.MODES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("scale", [1.5, 2.0, 3.0])
def test_weight_matrix_is_torchs_interpolate(mode, align_corners, scale):
    signal = np.random.default_rng(0).normal(size=5)
    weights = uviz.weight_matrix(5, scale, mode, align_corners)
    corners = None if mode == "nearest" else align_corners
    expected = torch.nn.functional.interpolate(torch.tensor(signal[None, None, None]), scale_factor=(1.0, scale),
                                               mode=mode, align_corners=corners).numpy()[0, 0, 0]
    np.testing.assert_allclose(weights @ signal, expected, atol=1e-12)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-12)  # every mode reproduces constants


def test_sample_positions_by_hand():
    np.testing.assert_allclose(uviz.sample_positions(2, 4, 2.0, False), [-0.25, 0.25, 0.75, 1.25])
    np.testing.assert_allclose(uviz.sample_positions(2, 4, 2.0, True), [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(uviz.sample_positions(4, 6, 1.5, False), [-1 / 6, 0.5, 7 / 6, 11 / 6, 2.5, 19 / 6])


def test_interpolation_explorer_reproduces_the_slide_row_and_draws_it():
    explorer = uviz.InterpolationExplorer([1.0, 2.0])
    fig = explorer.draw("bilinear", False, 2.0, sample=1)
    np.testing.assert_allclose(explorer.last["values"], [1.0, 1.25, 1.75, 2.0])  # the slides' first row
    line, w_ax = fig.axes
    samples = [ln for ln in line.lines if ln.get_label() == "output samples"][0]
    np.testing.assert_allclose(samples.get_xdata(), [-0.25, 0.25, 0.75, 1.25])
    np.testing.assert_allclose(samples.get_ydata(), [1.0, 1.25, 1.75, 2.0])
    labels = sorted(t.get_text() for t in line.texts)
    assert labels == ["+0.25", "+0.75"]  # sample 1 at x = 0.25: 0.75 of pixel 0, 0.25 of pixel 1
    np.testing.assert_allclose(np.ma.filled(w_ax.images[0].get_array(), 0), [[1, 0], [0.75, 0.25], [0.25, 0.75],
                                                                              [0, 1]])
    explorer.draw("bicubic", False, 2.0, sample=0)
    assert explorer.last["values"][0] == pytest.approx(0.8945, abs=1e-4)  # overshoots below the input's 1


def test_interpolation_widget_follows_the_scale_and_mode():
    widget = uviz.InterpolationExplorer([1.0, 2.0, 4.0, 3.0]).widget()
    assert widget.controls["sample"].max == 7
    widget.controls["scale_factor"].value = 3.0
    assert widget.controls["sample"].max == 11
    assert widget.figure.axes[1].images[0].get_array().shape == (12, 4)
    widget.controls["mode"].value = "nearest"
    widget.controls["align_corners"].value = True  # ignored by nearest
    assert "nearest" in widget.figure.axes[0].get_title() and "align" not in widget.figure.axes[0].get_title()
    widget.controls["mode"].value = "bicubic"
    widget.controls["sample"].value = 11
    assert "sample 11 at x = 3 " in widget.figure.axes[0].get_title()  # align_corners: last sample on the last pixel


def test_static_figures_draw():
    fig = uviz.TransposedConvStamps(IMAGE).static_figure(settings=((3, 2), (4, 2)))
    assert len(fig.axes) == 8
    assert bytes(fig._repr_png_()[:8]) == b"\x89PNG\r\n\x1a\n"
    fig = uviz.InterpolationExplorer([1.0, 2.0, 4.0, 3.0]).static_figure()
    assert [ax.get_title().split(",")[0] for ax in fig.axes[:3]] == list(uviz.MODES)
