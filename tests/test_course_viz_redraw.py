"""The widgets' fast redraw paths show what their slow paths show.

Each widget's figure keeps its titles at the default place (``fixed_titles``: no per-render search
for a free spot above the axes): the pixels must be those of matplotlib's search. A widget with an
``update`` that changes the shown figure in place must end up showing what a fresh ``draw`` of the
same values shows (the data of every image, line, collection, patch and text, the axes' limits)."""
import io

import numpy as np
import pytest
from PIL import Image

import minseg as ms
from minseg import models
from minseg.viz import attention, convolution, crf, dilation, encoder_decoder, roi, upsampling


def pixels(fig) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(fig._repr_png_())))


def searched_title_pixels(fig) -> np.ndarray:
    """The figure rendered with matplotlib's automatic title placement (then fixed again)."""
    fig.background_changed()  # a full render: titles are placed by their axes' draw
    for ax in fig.axes:
        ax._autotitlepos = True
    try:
        return pixels(fig)
    finally:
        for ax in fig.axes:
            ax._autotitlepos = False


def _tile_explorer():
    ms.manual_seed(2)
    net = models.UNet(3, width=2, depth=2, padding=False).eval()
    image = np.random.default_rng(0).random((3, 20, 13), dtype=np.float32)
    return encoder_decoder.TileExplorer(net, image, 8)


def _instances():
    ids = np.zeros((24, 30), int)
    ids[3:10, 4:12], ids[3:10, 13:20], ids[14:21, 6:26] = 1, 2, 3
    return ids


def _weight_maps():
    return encoder_decoder.WeightMapExplorer(np.zeros((3, 24, 30)), _instances())


def _attention_maps():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 16, 16))
    weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return rng.random((3, 32, 32)), list(weights)


def _mean_field():
    """A 5x6 two-colour image and noisy unary costs for three labels."""
    rng = np.random.default_rng(5)
    image = np.zeros((5, 6, 3))
    image[:, 3:] = 200.0
    image += rng.normal(0, 5, image.shape)
    logits = 2.0 * np.eye(3)[(np.arange(6) >= 3).astype(int)].T[:, None, :] + rng.normal(0, 1.2, (3, 5, 6))
    return crf.MeanFieldExplorer(image, -np.log(ms.crf.softmax_labels(logits)), max_iter=4)


STEPPER = convolution.ConvStepper(np.arange(36.0).reshape(6, 6) % 7,
                                  np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))
STAMPS = upsampling.TransposedConvStamps(np.array([[1.0, 2.0, 1.0], [2.0, -1.0, 3.0], [1.0, 0.0, 2.0]]))
INTERPOLATION = upsampling.InterpolationExplorer([1.0, 2.0, 4.0, 3.0])

FIGURES = {
    "stepper": lambda: STEPPER.draw(step=1, stride=2, padding=1, dilation=1),
    "stamps": lambda: STAMPS.draw(step=1, kernel_size=4, stride=3, padding=1),
    "interpolation": lambda: INTERPOLATION.draw("nearest", True, 2.5, 1),
    "tiles": lambda: _tile_explorer().draw(step=1),
    "weight map": lambda: _weight_maps().draw(11.0, 5.5),
    "field": lambda: dilation.draw_field((1, 2, 3, 1), (1, 1, 1, 1)),
    "attention": lambda: attention.draw(*_attention_maps(), layer=1, head=1, row=2, col=1),
    "roi": lambda: roi.RoIExplorer(roi.example_features()).draw(1.4, 2.3, 8.7, 9.5, 3, 3, True),
    "mean field": lambda: _mean_field().draw(2, w1=5.0, theta_alpha=4.0, theta_beta=30.0, w2=1.0,
                                             theta_gamma=1.5),
    "roi on the edges": lambda: roi.RoIExplorer(roi.example_features()).draw(0.0, 0.0, 11.0, 11.0, 1, 0),
}


@pytest.mark.parametrize("name", FIGURES)
def test_fixed_titles_are_where_matplotlib_would_put_them(name):
    fig = FIGURES[name]()
    assert all(not ax._autotitlepos for ax in fig.axes)
    pixels(fig)
    fig.set_layout_engine("none")  # a constrained layout moves the axes by 1e-10 from render to render
    np.testing.assert_array_equal(pixels(fig), searched_title_pixels(fig))


def _value(x):
    """A comparable, plain form of an artist property (arrays as nested lists, nan as None)."""
    if isinstance(x, (list, tuple)):
        return [_value(v) for v in x]
    array = np.ma.filled(np.asarray(x, dtype=float), np.nan) if not isinstance(x, str) else x
    if isinstance(array, str):
        return array
    return np.where(np.isfinite(array), np.round(array, 9), -1e300).tolist()


def shown(fig) -> list:
    """Everything a reader can see on every axes of ``fig``, as plain data: images (data, extent,
    colour range), lines, collections (paths, offsets), patches, visible texts, titles, labels, limits."""
    out = []
    for ax in fig.axes:
        out.append({
            "images": [(_value(im.get_array()), _value(im.get_extent()),  # colour range: of scalar data only
                        _value(im.get_clim()) if im.get_array().ndim == 2 else None) for im in ax.images],
            "lines": [(_value(line.get_xydata()), line.get_visible()) for line in ax.lines],
            "collections": [([_value(p.vertices) for p in c.get_paths()], _value(c.get_offsets()))
                            for c in ax.collections],
            "patches": [(_value(p.get_path().vertices), _value(p.get_patch_transform().get_matrix()))
                        for p in ax.patches],
            "texts": sorted((t.get_text(), _value(t.get_position()), str(t.get_color()))
                            for t in ax.texts if t.get_visible() and t.get_text()),
            "titles": (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()),
            "legend": [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else None,
            "limits": (_value(ax.get_xlim()), _value(ax.get_ylim())),
            "ticks": (_value(ax.get_xticks()), _value(ax.get_yticks()),
                      [t.get_text() for t in ax.get_yticklabels()]),
        })
    return out


def assert_update_equals_draw(draw, update, first: dict, then: list):
    """A figure drawn for ``first`` and updated to each of ``then`` shows what a fresh draw shows: the
    same data, and (without a layout engine, which may move axes by a pixel) the same pixels."""
    fig = draw(**first)
    for values in then:
        assert update(fig, **values), f"update refused {values}"
        seen = pixels(fig)  # a render after each move, as the widget makes one
        fresh = draw(**values)
        assert shown(fig) == shown(fresh), f"update to {values} differs from a fresh draw"
        if fresh.get_layout_engine() is None:
            np.testing.assert_array_equal(seen, pixels(fresh), err_msg=f"update to {values}: other pixels")


def test_tile_update_equals_draw():
    explorer = _tile_explorer()
    assert_update_equals_draw(explorer.draw, explorer.update, {"step": 0},
                              [{"step": 1}, {"step": 5}, {"step": 2}, {"step": 0}])
    assert not explorer.update(ms.viz._figure.LectureFigure(), step=1)


def test_weight_map_update_equals_draw():
    explorer = _weight_maps()
    assert_update_equals_draw(explorer.draw, explorer.update, {"w0": 10.0, "sigma": 5.0},
                              [{"w0": 11.0, "sigma": 5.0}, {"w0": 11.0, "sigma": 1.5},
                               {"w0": 0.0, "sigma": 9.0}])


def test_field_update_equals_draw():
    stacks = [{"rates": (1, 2, 3, 1), "strides": (1, 1, 1, 1)}, {"rates": (2, 2), "strides": (1, 2)},
              {"rates": (4, 4, 4, 4), "strides": (2, 2, 2, 2)}, {"rates": (1,), "strides": (1,)},
              {"rates": (2, 2, 2), "strides": (1, 1, 1)}]
    assert_update_equals_draw(dilation.draw_field, dilation.update_field,
                              {"rates": (1, 2, 3), "strides": None}, stacks)
    assert not dilation.update_field(ms.viz._figure.LectureFigure(), (1, 2))


def test_attention_update_equals_draw():
    image, maps = _attention_maps()
    draw = lambda **values: attention.draw(image, maps, **values)  # noqa: E731
    update = lambda fig, **values: attention.update(fig, image, maps, **values)  # noqa: E731
    assert_update_equals_draw(draw, update, {"layer": 0, "head": 0, "row": 2, "col": 2},
                              [{"layer": 1, "head": 0, "row": 2, "col": 2},
                               {"layer": 1, "head": 3, "row": 0, "col": 3},
                               {"layer": 0, "head": 2, "row": 3, "col": 1}])
    assert not attention.update(ms.viz._figure.LectureFigure(), image, maps)


def test_stamps_update_equals_draw():
    first = {"step": 0, "kernel_size": 3, "stride": 2, "padding": 0}
    assert_update_equals_draw(STAMPS.draw, STAMPS.update, first,
                              [{"step": 1, "kernel_size": 3, "stride": 2, "padding": 0},
                               {"step": 1, "kernel_size": 4, "stride": 2, "padding": 0},
                               {"step": 1, "kernel_size": 4, "stride": 3, "padding": 0},
                               {"step": 8, "kernel_size": 4, "stride": 3, "padding": 1},
                               {"step": 4, "kernel_size": 1, "stride": 1, "padding": 0},
                               {"step": 2, "kernel_size": 2, "stride": 1, "padding": 1}])
    assert not STAMPS.update(STAMPS.draw(), step=0, kernel_size=1, stride=1, padding=2)  # nothing survives


def test_interpolation_update_equals_draw():
    settings = [dict(mode=mode, align_corners=corners, scale_factor=scale, sample=sample)
                for mode, corners, scale, sample in [("nearest", False, 2.0, 0), ("nearest", True, 2.5, 0),
                                                     ("nearest", True, 2.5, 1), ("bicubic", True, 3.0, 11),
                                                     ("bilinear", False, 1.5, 2), ("bicubic", False, 4.0, 0)]]
    first = {"mode": "bilinear", "align_corners": False, "scale_factor": 2.0, "sample": 0}
    assert_update_equals_draw(INTERPOLATION.draw, INTERPOLATION.update, first, settings)
    legend = INTERPOLATION.draw(**settings[3]).axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()][0] == "bicubic through the input"


def test_stepper_update_equals_draw():
    first = {"step": 0, "stride": 1, "padding": 0, "dilation": 1}
    settings = [dict(step=step, stride=stride, padding=padding, dilation=dilation)
                for step, stride, padding, dilation in [(1, 1, 0, 1), (1, 2, 0, 1), (1, 2, 1, 1),
                                                        (3, 2, 1, 2), (5, 1, 2, 1), (0, 3, 0, 1)]]
    assert_update_equals_draw(STEPPER.draw, STEPPER.update, first, settings)


@pytest.mark.parametrize("name", FIGURES)
def test_widget_png_has_the_pixels_savefig_draws(name):
    """The widget's PNG, its second render (text layouts kept, only a foreground drawn over the
    background kept) equal to matplotlib's own Agg canvas drawing the whole figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = FIGURES[name]()
    fig._repr_png_()
    fig.set_layout_engine("none")  # a constrained layout moves the axes by 1e-10 from render to render
    png = fig._repr_png_()
    FigureCanvasAgg(fig)  # savefig with matplotlib's canvas and renderer, not the widget's
    saved = io.BytesIO()
    fig.savefig(saved, format="png", dpi=fig.dpi)
    ours, theirs = (np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")) for data in (png, saved.getvalue()))
    np.testing.assert_array_equal(ours, theirs)
    assert Image.open(io.BytesIO(png)).mode == "RGB"  # opaque: no alpha channel to compress and send


ROI = roi.RoIExplorer(roi.example_features())


def test_roi_update_equals_draw():
    first = {"x1": 1.3, "y1": 2.2, "x2": 8.6, "y2": 9.4, "output_size": 2, "sampling_ratio": 2,
             "aligned": False}
    settings = [dict(first, x1=1.4), dict(first, x1=1.4, y2=9.5), dict(first, output_size=3),
                dict(first, output_size=4, sampling_ratio=0),
                dict(first, output_size=3, sampling_ratio=3, aligned=True),
                dict(first, x1=0.0, y1=0.0, x2=11.0, y2=11.0, output_size=1),  # the box on the maps' edges
                dict(first, x1=5.2, y1=1.7, x2=5.4, y2=9.9, output_size=4, sampling_ratio=1)]
    assert_update_equals_draw(ROI.draw, ROI.update, first, settings)
    assert not ROI.update(ms.viz._figure.LectureFigure(), **first)


def test_mean_field_update_equals_draw():
    """A new iteration redraws the Q panel and the point over the cached background; a new parameter
    set renders everything (the curve and its axis change)."""
    explorer = _mean_field()
    first = dict(iteration=1, w1=5.0, theta_alpha=4.0, theta_beta=30.0, w2=1.0, theta_gamma=1.5)
    settings = [dict(first, iteration=3), dict(first, iteration=0), dict(first, iteration=0, w1=10.5),
                dict(first, iteration=4, w1=10.5), dict(first, iteration=4, w1=10.5, theta_alpha=2.0),
                dict(first, iteration=2, w1=0.0, w2=0.0), dict(first, iteration=1, w1=0.0, w2=0.0)]
    assert_update_equals_draw(explorer.draw, explorer.update, first, settings)


def test_roi_update_renders_the_maps_once():
    """Moving the box renders only the foreground: the background (maps, grids, ticks) is kept."""
    fig = ROI.draw()
    pixels(fig)
    kept = fig._backgrounds["foreground"]
    for x1 in (1.4, 2.0, 0.5):
        assert ROI.update(fig, x1=x1)
        pixels(fig)
    assert list(fig._backgrounds) == ["foreground"] and fig._backgrounds["foreground"] is kept


# ---- lecture 02's conv matrix, lecture 04's skip-fusion viewer, the widgets' PNG writer
def _skip_fusion_viewer():
    from minseg.data import DigitScenes
    from minseg.viz import fcn

    ms.manual_seed(0)
    tiny = dict(widths=(4, 4, 4, 4, 4), convs=(1, 1, 1, 1, 1), fc_width=8, fc_kernel=3, dropout=0.0)
    scenes = DigitScenes(3, split="val", seed=0)
    return fcn.SkipFusionViewer({v: models.FCN(11, variant=v, **tiny).eval() for v in fcn.VARIANTS},
                                scenes.images, scenes.masks)


TAPS = np.arange(1.0, 10.0).reshape(3, 3)
FIGURES.update({
    "conv matrix": lambda: convolution.draw_conv_matrix(TAPS, (4, 4), stride=1, padding=1),
    "skip fusion": lambda: _skip_fusion_viewer().draw(scene=1, variant="16s"),
})


def test_conv_matrix_update_equals_draw():
    draw = lambda **values: convolution.draw_conv_matrix(TAPS, **values)  # noqa: E731
    update = lambda fig, **values: convolution.update_conv_matrix(fig, TAPS, **values)  # noqa: E731
    settings = [dict(input_size=(size, size), stride=stride, padding=padding, dilation=dilation)
                for size, stride, padding, dilation in [(5, 1, 1, 1), (5, 2, 1, 1), (4, 1, 1, 1), (6, 1, 1, 1),
                                                        (5, 2, 2, 2), (3, 3, 0, 1), (5, 1, 1, 1)]]
    assert_update_equals_draw(draw, update, {"input_size": (4, 4), "stride": 1, "padding": 1, "dilation": 1},
                              settings)
    fig = draw(input_size=(5, 5), stride=1, padding=1, dilation=1)
    assert update(fig, input_size=(4, 4), stride=1, padding=1, dilation=1)
    assert update(fig, input_size=(5, 5), stride=1, padding=1, dilation=1)
    assert len(fig.axes[0].texts) == 169  # 25 rows, taps on 169 cells: the spare numbers came back
    assert not update(fig, input_size=(2, 2), stride=1, padding=0, dilation=1)  # no matrix: a message
    assert not update(ms.viz._figure.LectureFigure(), input_size=(4, 4))


def test_conv_matrix_widget_moves_on_the_same_figure():
    widget = convolution.conv_matrix_widget(TAPS, max_size=6)
    fig = widget.figure
    for name, value in [("size", 5), ("stride", 2), ("padding", 2), ("dilation", 2)]:
        widget.controls[name].value = value
        assert widget.figure is fig
    assert fig.matrix.shape == (9, 25)  # 5x5, padding 2, dilation 2: (5 + 4 - 5) // 2 + 1 = 3 per side


def test_skip_fusion_update_equals_draw():
    viewer = _skip_fusion_viewer()
    settings = [{"scene": 1, "variant": "8s"}, {"scene": 1, "variant": "32s"}, {"scene": 2, "variant": "32s"},
                {"scene": 2, "variant": "16s"}, {"scene": 0, "variant": "8s"}]
    assert_update_equals_draw(viewer.draw, viewer.update, {"scene": 0, "variant": "8s"}, settings)
    fig = viewer.draw(scene=0, variant="8s")
    assert viewer.update(fig, scene=2, variant="32s") and viewer.last["scene"] == 2
    assert [s["name"] for s in viewer.last["stages"]] == ["score_fr"]
    assert not viewer.update(fig, scene=0, variant="4s")
    assert not viewer.update(ms.viz._figure.LectureFigure(), scene=0)


@pytest.mark.parametrize("channels", [3, 4])
def test_png_bytes_decode_to_the_pixels(channels):
    """Pillow (another PNG implementation) reads back every pixel, random ones and flat ones."""
    pixels = np.random.default_rng(channels).integers(0, 256, size=(7, 5, channels), dtype=np.uint8)
    pixels[3:] = pixels[3]  # a few equal rows: zeros after the 'Up' filter
    decoded = np.asarray(Image.open(io.BytesIO(ms.viz._figure.png_bytes(pixels))))
    assert decoded.shape == pixels.shape and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, pixels)
