"""The lectures' widgets without a browser: call the update functions, read the figures' data, and
drive the sliders from Python (which fires the observers). Expected values are worked by hand or
computed independently (scipy's correlate2d, plain NumPy), never by the widget code itself."""
import numpy as np
import pytest
from scipy.signal import correlate2d

import minseg as ms
import minseg.functional as F
from minseg.viz import convolution as cviz
from minseg.viz import scoring
from minseg.viz._figure import LectureFigure


@pytest.fixture
def square():
    truth = np.zeros((32, 32), bool)
    truth[8:20, 8:20] = True  # 12 x 12
    return truth


def test_shift_mask_moves_and_drops_what_leaves_the_frame():
    m = np.arange(1, 10).reshape(3, 3)
    np.testing.assert_array_equal(scoring.shift_mask(m, 1, 0), [[0, 1, 2], [0, 4, 5], [0, 7, 8]])
    np.testing.assert_array_equal(scoring.shift_mask(m, -1, -1), [[5, 6, 0], [8, 9, 0], [0, 0, 0]])
    assert not scoring.shift_mask(m, 3, 0).any()


def test_overlap_scores_by_hand(square):
    moved = scoring.shift_mask(square, 4, 0)
    s = scoring.overlap_scores(moved, square, confidence=3.0)
    assert s["IoU"] == pytest.approx(96 / 192) and s["Dice"] == pytest.approx(2 * 96 / 288)
    wrong = np.count_nonzero(moved != square)
    ce = (wrong * np.log1p(np.exp(3.0)) + (square.size - wrong) * np.log1p(np.exp(-3.0))) / square.size
    assert s["cross-entropy"] == pytest.approx(ce)
    p = np.where(moved, 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(3.0)))  # probability of the foreground
    dice = [1 - (2 * (q * y).sum() + 1) / (q.sum() + y.sum() + 1) for q, y in ((1 - p, ~square), (p, square))]
    assert s["soft Dice loss"] == pytest.approx(np.mean(dice))


def test_mask_overlap_draw_shows_the_scores_it_computed(square):
    explorer = scoring.MaskOverlap(square)
    fig = explorer.draw(dx=4, dy=0, confidence=3.0)
    ax_img, ax_bar = fig.axes
    picture = ax_img.images[0].get_array()
    assert picture.shape == (32, 32, 3)
    np.testing.assert_allclose(picture[10, 9], scoring._TRUTH)  # truth only
    np.testing.assert_allclose(picture[10, 21], scoring._PRED)  # prediction only
    np.testing.assert_allclose(picture[10, 15], scoring._BOTH)
    widths = [bar.get_width() for bar in ax_bar.patches]
    assert widths[:2] == pytest.approx([0.5, 2 / 3])
    assert explorer.last_scores["IoU"] == pytest.approx(0.5)
    assert "(4, 0)" in ax_img.get_title()


def test_mask_overlap_widget_redraws_when_a_slider_moves(square):
    widget = scoring.MaskOverlap(square).widget()
    assert widget.figure.axes[1].patches[0].get_width() == pytest.approx(1.0)
    widget.controls["dx"].value = 6
    assert widget.figure.axes[1].patches[0].get_width() == pytest.approx(72 / 216)


def test_static_figures_draw(square):
    fig = scoring.overlap_static_figure(square, shifts=(0, 6))
    assert len(fig.axes) == 3
    curves = {line.get_label(): line.get_ydata() for line in fig.axes[-1].lines}
    assert curves["IoU"][0] == 1.0 and curves["IoU"][12] == 0.0
    assert curves["IoU"][6] == pytest.approx(72 / 216)
    assert bytes(fig._repr_png_()[:8]) == b"\x89PNG\r\n\x1a\n"
    image = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    mask = np.zeros((16, 16), np.int64)
    mask[2:6, 2:6], mask[9:13, 9:13] = 3, 3
    instances = {"labels": np.array([3, 3]), "masks": np.stack([mask == 3, mask == 3])}
    instances["masks"][0, 9:] = False
    instances["masks"][1, :9] = False
    fig = scoring.tasks_figure(image, mask, instances, ["background", "0", "1", "2"])
    assert "classification: 2" in fig.axes[0].get_title()
    semantic, instance = fig.axes[1].images[0].get_array(), fig.axes[2].images[0].get_array()
    assert (semantic[3, 3] == semantic[10, 10]).all() and not (instance[3, 3] == instance[10, 10]).all()


def dilated(kernel, d):
    out = np.zeros(((kernel.shape[0] - 1) * d + 1, (kernel.shape[1] - 1) * d + 1))
    out[::d, ::d] = kernel
    return out


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 2)])
def test_conv_stepper_walks_the_windows(stride, padding, dilation):
    rng = np.random.default_rng(stride + 10 * padding + 100 * dilation)
    image = rng.integers(0, 9, size=(7, 6)).astype(float)
    kernel = rng.integers(-2, 3, size=(3, 3)).astype(float)
    full = correlate2d(np.pad(image, padding), dilated(kernel, dilation), mode="valid")
    expected = full[::stride, ::stride]
    stepper = cviz.ConvStepper(image, kernel)
    last_step = expected.size - 1
    fig = stepper.draw(last_step, stride, padding, dilation)
    np.testing.assert_allclose(stepper.last["output"], expected)
    r, c = divmod(2 if expected.size > 2 else 0, expected.shape[1])
    stepper.draw(r * expected.shape[1] + c, stride, padding, dilation)
    top, left = r * stride, c * stride
    assert stepper.last["window"][0] == (top, left)
    assert stepper.last["window"][-1] == (top + 2 * dilation, left + 2 * dilation)
    span = 2 * dilation + 1
    window = np.pad(image, padding)[top:top + span:dilation, left:left + span:dilation]
    np.testing.assert_allclose(stepper.last["column"], window.ravel())
    assert stepper.last["value"] == pytest.approx(expected[r, c])
    shown = stepper.last["output"]
    assert np.isnan(shown.ravel()[r * expected.shape[1] + c + 1:]).all()
    assert len(fig.axes) == 3 and fig.axes[1].images[0].get_array().shape == (9, expected.size)
    last_fig = stepper.draw(last_step, stride, padding, dilation)
    assert last_fig.axes[1].get_xlabel().endswith(f"kernel = {expected.ravel()[-1]:g}")


def test_conv_stepper_explains_a_kernel_that_does_not_fit():
    stepper = cviz.ConvStepper(np.ones((3, 3)), np.ones((3, 3)))
    fig = stepper.draw(0, 1, 0, 2)
    assert stepper.last["output"].size == 0
    assert "larger than the padded input" in fig.axes[0].texts[0].get_text()


def test_conv_stepper_widget_fits_the_step_slider():
    widget = cviz.ConvStepper(np.ones((5, 5)), np.ones((3, 3))).widget()
    assert widget.controls["step"].max == 8
    widget.controls["stride"].value = 2
    assert widget.controls["step"].max == 3
    widget.controls["padding"].value = 1
    assert widget.controls["step"].max == 8
    assert widget.figure.axes[2].images[0].get_array().shape == (3, 3)


def test_conv_stepper_static_figure():
    fig = cviz.ConvStepper(np.arange(16.0).reshape(4, 4), np.ones((2, 2))).static_figure(steps=(0, 3))
    assert len(fig.axes) == 6


def test_conv_matrix_drawing_is_the_slides_matrix():
    fig = cviz.draw_conv_matrix(np.array([1.0, 2.0, 3.0]), 4, stride=1, padding=1)
    expected = np.array([[2, 3, 0, 0], [1, 2, 3, 0], [0, 1, 2, 3], [0, 0, 1, 2]], float)
    np.testing.assert_array_equal(fig.matrix, expected)
    drawn = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.nan_to_num(drawn.filled(np.nan)), expected)
    assert "4x4" in fig.axes[0].get_title()
    assert cviz.draw_conv_matrix(np.ones(5), 2).matrix.size == 0


def test_conv_matrix_widget_follows_the_sliders():
    widget = cviz.conv_matrix_widget(np.ones((3, 3)), max_size=6)
    assert widget.figure.matrix.shape == (16, 16)  # 4x4, padding 1
    widget.controls["stride"].value = 2
    assert widget.figure.matrix.shape == (4, 16)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = F.conv2d(ms.tensor(x), ms.tensor(np.ones((1, 1, 3, 3))), stride=2, padding=1).numpy().ravel()
    np.testing.assert_allclose(widget.figure.matrix @ x.ravel(), y)


def test_lecture_figures_render_as_png():
    fig = LectureFigure()
    fig.subplots().plot([0, 1])
    assert fig._repr_png_().startswith(b"\x89PNG")


def _renderer(fig):
    """Lay the figure out as savefig would (constrained layout included) and return its renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _inside(inner, outer):
    return inner.x0 >= outer.x0 - 1 and inner.x1 <= outer.x1 + 1 and inner.y0 >= outer.y0 - 1 and \
        inner.y1 <= outer.y1 + 1


def test_text_stays_readable_and_inside_the_figures(square):
    """What the browser check found: a title wider than the figure, a legend over the curves, black
    numbers on dark-red cells."""
    fig = scoring.MaskOverlap(square).draw(dx=3, confidence=10.0)
    renderer = _renderer(fig)
    for ax in fig.axes:
        assert _inside(ax.title.get_window_extent(renderer), fig.bbox), ax.get_title()
    fig = scoring.overlap_static_figure(square, shifts=(0, 6))
    renderer = _renderer(fig)
    curves = fig.axes[-1]
    legend = curves.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(curves.get_window_extent(renderer)) and _inside(legend, fig.bbox)
    fig = cviz.draw_conv_matrix(np.arange(1.0, 10.0).reshape(3, 3), (4, 4), padding=1)
    colours = {text.get_text(): text.get_color() for text in fig.axes[0].texts}
    assert colours["9"] == "white" and colours["1"] == "black"  # 9 is the darkest red, 1 nearly white


def test_conv_stepper_ticks_are_whole_cells():
    """With stride 2 the im2col panel has only 4 columns: matplotlib would tick it at -0.5, 0.0, 0.5, ..."""
    fig = cviz.ConvStepper(np.ones((6, 6)), np.ones((3, 3))).draw(3, stride=2)
    _renderer(fig)
    for ax in fig.axes[:2]:
        ticks = np.concatenate([ax.get_xticks(), ax.get_yticks()])
        np.testing.assert_array_equal(ticks, np.round(ticks))


def _texts(fig):
    """Every piece of text a figure draws (titles, labels, tick labels, annotations) after a draw."""
    _renderer(fig)
    return [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontsize"))
            if t.get_text().strip() and t.get_visible()]


def test_lecture_02_widgets_text_is_at_least_10_px_and_the_matrix_fits_one_screen():
    """8 pt at the figures' 90 dpi is 10 px; the conv matrix (with its sliders) must fit ~900 px."""
    stepper = cviz.ConvStepper(np.arange(36.0).reshape(6, 6), np.ones((3, 3)))
    for fig in (stepper.draw(4, 1, 2, 1), cviz.draw_conv_matrix(np.ones((3, 3)), (6, 6), padding=2),
                cviz.draw_conv_matrix(np.ones((3, 3)), (4, 4), padding=1)):
        sizes = {t.get_text(): t.get_fontsize() for t in _texts(fig)}
        assert min(sizes.values()) >= 8, sorted(sizes.items(), key=lambda kv: kv[1])[:3]
        assert fig.get_size_inches()[1] * fig.dpi <= 540 and fig.dpi == 90


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 2)])
def test_conv_stepper_update_moves_the_step_on_the_same_figure_like_a_fresh_draw(stride, padding, dilation):
    rng = np.random.default_rng(7)
    stepper = cviz.ConvStepper(rng.integers(0, 9, size=(7, 6)).astype(float), rng.normal(size=(3, 3)))
    fig = stepper.draw(0, stride, padding, dilation)
    for step in (1, 3):
        assert stepper.update(fig, step, stride, padding, dilation)
        moved = dict(stepper.last)
        fresh = stepper.draw(step, stride, padding, dilation)
        assert moved["window"] == stepper.last["window"] and moved["value"] == stepper.last["value"]
        np.testing.assert_array_equal(fig.axes[2].images[0].get_array().filled(np.nan),
                                      fresh.axes[2].images[0].get_array().filled(np.nan))
        assert [t.get_text() for t in fig.axes[2].texts] == [t.get_text() for t in fresh.axes[2].texts]
        assert fig.axes[1].get_xlabel() == fresh.axes[1].get_xlabel()
        assert [p.get_xy() for p in fig.axes[0].patches] == [p.get_xy() for p in fresh.axes[0].patches]
    assert not stepper.update(fig, 0, 1, 0, 9)  # no output (the dilated kernel does not fit): a message figure


def test_widget_uses_update_for_the_step_and_for_the_layout():
    widget = cviz.ConvStepper(np.ones((5, 5)), np.ones((3, 3))).widget()
    first = widget.figure
    widget.controls["step"].value = 2
    assert widget.figure is first and widget.seconds > 0
    widget.controls["stride"].value = 2  # update() redraws the layout on the same figure
    assert widget.figure is first and widget.figure.axes[2].images[0].get_array().shape == (2, 2)
