"""Lecture 06's receptive-field explorer and sparse/dense picture, without a browser. Expected values
are worked by hand (the slides' 3x3 rate-2 kernel, the gridding of equal rates), counted by brute force
over every choice of taps, or read off minseg's autograd (the gradient of one output pixel of a stack
of all-ones convolutions counts the paths to each input pixel)."""
import itertools

import numpy as np
import pytest

import minseg as ms
import minseg.functional as F
from minseg.viz import dilation


def _brute_force_1d(rates, strides):
    """{input offset: paths} by enumerating every choice of one tap per layer (top layer first)."""
    counts = {}
    for taps in itertools.product((-1, 0, 1), repeat=len(rates)):
        position = 0
        for tap, rate, stride in zip(taps, rates[::-1], strides[::-1]):
            position = position * stride + tap * rate
        counts[position] = counts.get(position, 0) + 1
    return counts


def _autograd_counts(rates, strides, size=61):
    """Gradient of one output pixel of a stack of all-ones 3x3 convolutions (padding = rate)."""
    x = ms.tensor(np.zeros((1, 1, size, size)), requires_grad=True)
    y = x
    for rate, stride in zip(rates, strides):
        y = F.conv2d(y, ms.tensor(np.ones((1, 1, 3, 3))), stride=stride, padding=rate, dilation=rate)
    jump = int(np.prod(strides))
    out = (size // 2) // jump
    y[0, 0, out, out].backward()
    return x.grad[0, 0], out * jump


def test_hand_worked_fields():
    one = dilation.field_counts([2])
    assert one.size == 5 and np.count_nonzero(one.counts) == 9 and one.holes == 16  # 5x5 seen, 9 weights
    np.testing.assert_array_equal(one.counts_1d, [1, 0, 1, 0, 1])
    equal = dilation.field_counts((2, 2, 2))
    np.testing.assert_array_equal(equal.counts_1d, [1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1])  # trinomial
    assert equal.size == 13 and equal.holes == 169 - 49 and equal.counts.max() == 49
    hybrid = dilation.field_counts((1, 2, 3))
    assert hybrid.size == 13 and hybrid.holes == 0 and hybrid.counts.sum() == 27 ** 2
    plain = dilation.field_counts((1, 1, 1))
    np.testing.assert_array_equal(plain.counts_1d, [1, 3, 6, 7, 6, 3, 1])


@pytest.mark.parametrize("seed", range(6))
def test_counts_agree_with_brute_force_and_autograd(seed):
    rng = np.random.default_rng(seed)
    layers = int(rng.integers(1, 5))
    rates = [int(r) for r in rng.integers(1, 4, layers)]
    strides = [int(s) for s in rng.integers(1, 3, layers)]
    field = dilation.field_counts(rates, strides)
    brute = _brute_force_1d(rates, strides)
    assert field.offsets[0] == min(brute) and field.offsets[-1] == max(brute)
    for offset, count in zip(field.offsets, field.counts_1d):
        assert count == brute.get(int(offset), 0), (rates, strides, offset)
    grad, centre = _autograd_counts(rates, strides)
    low, high = centre + field.offsets[0], centre + field.offsets[-1] + 1
    np.testing.assert_array_equal(grad[low:high, low:high], field.counts, err_msg=f"{rates}, {strides}")
    assert grad.sum() == field.counts.sum()  # nothing outside the field


def test_bad_stacks_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="same length"):
        dilation.field_counts((1, 2), (1,))
    with pytest.raises(ValueError, match=">= 1"):
        dilation.field_counts((0,))
    with pytest.raises(ValueError, match="1 to 4"):
        dilation.field_counts((1,) * 5)


def test_draw_field_shows_the_counts_it_computed():
    fig = dilation.draw_field((2, 2, 2))
    ax_grid, ax_paths = fig.axes[0], fig.axes[-1]
    picture = np.ma.filled(ax_grid.images[0].get_array(), 0)
    np.testing.assert_array_equal(picture, np.outer([1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1],
                                                    [1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1]))
    assert "13x13" in ax_grid.get_title() and "120 holes" in ax_grid.get_title()
    assert sorted(int(t.get_text()) for t in ax_grid.texts)[-1] == 49
    # one line per tap of every unit above the input: 1 unit at the top, then 3, then 5 along one axis
    assert len(ax_paths.collections[0].get_segments()) == 3 * (1 + 3 + 5)
    assert ax_paths.get_yticklabels()[3].get_text() == "layer 3: r=2, s=1"


def test_strides_spread_the_field_and_set_the_jump():
    fig = dilation.draw_field((1, 1), (2, 1))
    assert fig.field.size == 7 and "jump 2" in fig.axes[0].get_title()  # 3 + 2 * 2
    np.testing.assert_array_equal(fig.field.counts_1d, [1, 1, 2, 1, 2, 1, 1])


def test_widget_redraws_when_a_slider_moves():
    widget = dilation.field_widget()
    assert widget.figure.field.size == 13 and widget.figure.field.holes == 0  # rates 1, 2, 3
    widget.controls["rate1"].value = 2
    widget.controls["rate3"].value = 2
    assert widget.figure.field.holes == 120
    widget.controls["layers"].value = 4
    assert widget.figure.field.size == 15  # rate 4 of layer 4 is 1: 13 + 2
    widget.controls["stride1"].value = 2
    assert widget.figure.field.size == 1 + 2 * (2 + 2 * (2 + 2 + 1))
    assert len(widget.ui.children) == 4  # layers / rates / strides / figure: fits one screen


def test_numbers_up_to_thirteen_wide_then_colours_only():
    """Rates 1, 2, 3 give a 13x13 field with every count written; one more layer (15x15) only colours."""
    widget = dilation.field_widget(rates=(1, 2, 3, 1), layers=3)
    grid = widget.figure.axes[0]
    counts = widget.figure.field.counts
    shown = sorted(int(t.get_text()) for t in grid.texts if t.get_visible() and t.get_text())
    assert shown == sorted(int(v) for v in counts.ravel() if v) and len(shown) == 169
    widget.controls["layers"].value = 4
    assert widget.figure.field.size == 15
    assert not [t for t in widget.figure.axes[0].texts if t.get_visible() and t.get_text()]


def test_static_figures():
    fig = dilation.field_static_figure(((2, 2, 2), (1, 2, 3)))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["rates (2, 2, 2): 13x13, 120 holes", "rates (1, 2, 3): 13x13, 0 holes"]
    assert bytes(fig._repr_png_()[:4]) == b"\x89PNG"
    signal = np.arange(12.0) ** 2 % 7
    fig = dilation.draw_sparse_dense(signal, [1.0, 2.0, 1.0], rate=2)
    padded = np.pad(signal, 2)
    dense = np.array([padded[i] + 2 * padded[i + 2] + padded[i + 4] for i in range(12)])
    np.testing.assert_allclose(fig.dense, dense)
    low = np.pad(signal[::2], 1)
    sparse_low = np.array([low[i] + 2 * low[i + 1] + low[i + 2] for i in range(6)])
    np.testing.assert_allclose(fig.sparse, np.repeat(sparse_low, 2))
    np.testing.assert_allclose(fig.dense[::2], sparse_low)  # dense keeps the sparse samples, and fills in


def test_path_diagram_is_drawn_in_input_pixels():
    fig = dilation.draw_field((3, 1), (2, 1))  # layer 2's units sit 2 input pixels apart
    ax_paths = fig.axes[-1]
    rows = [np.sort(points.get_offsets()[:, 0]) for points in ax_paths.collections[1:]]
    np.testing.assert_array_equal(rows[0], [-5, -3, -2, -1, 0, 1, 2, 3, 5])  # input: offsets with a path
    np.testing.assert_array_equal(rows[1], [-2, 0, 2])  # layer 1: positions -1, 0, 1 times the jump 2
    np.testing.assert_array_equal(rows[2], [0])
    used = fig.field.offsets[fig.field.counts_1d > 0]
    np.testing.assert_array_equal(rows[0], used)
    for start, end in ax_paths.collections[0].get_segments():  # every line joins two drawn units
        assert start[0] in rows[int(start[1])] and end[0] in rows[int(end[1])]


def test_text_is_readable_and_inside_the_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for fig in (dilation.draw_field((3, 3, 3, 3), (2, 1, 2, 1)), dilation.draw_field((1, 2, 3)),
                dilation.field_static_figure(), dilation.draw_sparse_dense(np.arange(20.0) % 5, [1, 2, 1])):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        texts = [t for ax in fig.axes for t in [ax.title, ax.xaxis.label, ax.yaxis.label,
                                                *ax.get_yticklabels(), *ax.texts] if t.get_text()]
        for text in texts:
            assert text.get_fontsize() >= 8, text.get_text()
            box = text.get_window_extent(renderer)
            assert box.x0 >= -1 and box.x1 <= fig.bbox.x1 + 1, text.get_text()
    fig = dilation.draw_field((3, 3, 3, 3), (2, 1, 2, 1))  # the longest layer labels
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax_bar, ax_paths = fig.axes[1], fig.axes[2]
    left_of_labels = min(t.get_window_extent(renderer).x0 for t in ax_paths.get_yticklabels())
    assert left_of_labels > ax_bar.yaxis.label.get_window_extent(renderer).x1  # no overlap with "paths"
