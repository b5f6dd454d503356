"""Lecture 04's skip-fusion viewer without a browser: FCN.score_maps against the torch twin's layers,
the pictures against values worked out by hand, and the viewer's figures read back pixel by pixel."""
import numpy as np
import pytest
import torch

import minseg as ms
from minseg.data import DigitScenes
from minseg.models import FCN
from minseg.reference.interop import torch_twin
from minseg.viz import fcn as fviz
from minseg.viz.masks import palette

TINY = dict(widths=(4, 4, 4, 4, 4), convs=(1, 1, 1, 1, 1), fc_width=8, fc_kernel=3, dropout=0.0)


def tiny_fcn(variant, seed=0):
    """A small FCN with random (non-zero) skip scorers, so the skips change the output."""
    ms.random.manual_seed(seed)
    model = FCN(11, variant=variant, **TINY)
    rng = np.random.default_rng(seed)
    for name in ("score_pool4", "score_pool3"):
        if hasattr(model, name):
            layer = getattr(model, name)
            layer.weight.data = rng.normal(size=layer.weight.shape).astype(np.float32)
    return model.eval()


@pytest.fixture(scope="module")
def scenes():
    return DigitScenes(3, split="val", seed=0)


@pytest.fixture(scope="module")
def viewer(scenes):
    return fviz.SkipFusionViewer({v: tiny_fcn(v) for v in fviz.VARIANTS}, scenes.images, scenes.masks)


def test_score_maps_match_the_torch_twin_layer_by_layer(scenes):
    model = tiny_fcn("8s", seed=1)
    x = scenes.images[:2]
    with ms.no_grad():
        maps = {k: v.data for k, v in model.score_maps(ms.tensor(x)).items()}
        forward = model(ms.tensor(x)).data
    twin = torch_twin(model)
    tx = torch.tensor(x)
    conv_t = torch.nn.functional.conv_transpose2d
    with torch.no_grad():
        *_, pool3, pool4, pool5 = twin.backbone(tx)
        score_fr = twin.score_fr(twin.fc7(twin.fc6(pool5)))
        fuse4 = conv_t(score_fr, twin.upscore2.weight, stride=2, padding=1) + twin.score_pool4(pool4)
        fuse3 = conv_t(fuse4, twin.upscore_pool4.weight, stride=2, padding=1) + twin.score_pool3(pool3)
        out = conv_t(fuse3, twin.upscore8.weight, stride=8, padding=4)
    expected_maps = {"score_fr": score_fr, "fuse_pool4": fuse4, "fuse_pool3": fuse3, "out": out}
    for name, expected in expected_maps.items():
        np.testing.assert_allclose(maps[name], expected.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(forward, maps["out"])
    assert [maps[n].shape[-1] for n in ("score_fr", "fuse_pool4", "fuse_pool3", "out")] == [2, 4, 8, 64]


@pytest.mark.parametrize("variant, names", [
    ("32s", {"score_fr", "out"}),
    ("16s", {"score_fr", "upscore2", "score_pool4", "fuse_pool4", "out"})])
def test_score_maps_of_the_shorter_variants(variant, names):
    with ms.no_grad():
        maps = tiny_fcn(variant).score_maps(ms.tensor(np.zeros((1, 3, 64, 64), np.float32)))
    assert set(maps) == names


def test_score_picture_by_hand():
    scores = np.zeros((11, 1, 2))
    scores[3, 0, 0] = 100.0  # certain of class 3; the other cell is uniform (chance level)
    picture = fviz.score_picture(scores)
    np.testing.assert_allclose(picture[0, 0], palette(11)[3], atol=1e-6)
    np.testing.assert_allclose(picture[0, 1], [1.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(fviz.softmax(np.zeros((4, 1, 1)))[:, 0, 0], [0.25] * 4)


def test_error_picture_marks_the_wrong_pixels_red():
    image = np.zeros((3, 2, 2), np.float32)
    truth = np.array([[0, 1], [2, 3]])
    prediction = np.array([[0, 1], [0, 3]])
    picture = fviz.error_picture(image, prediction, truth)
    np.testing.assert_allclose(picture[1, 0], [0.9, 0.1, 0.1])
    np.testing.assert_allclose(picture[0, 0], [0.4, 0.4, 0.4])  # a black pixel faded to 0.4 grey


def test_draw_shows_each_stage_the_prediction_and_its_errors(viewer, scenes):
    fig = viewer.draw(scene=1, variant="8s")
    axes = fig.axes
    assert len(axes) == 8
    model = tiny_fcn("8s")
    with ms.no_grad():
        maps = model.score_maps(ms.tensor(scenes.images[1:2]))
    for ax, name, size in zip(axes[2:5], ("score_fr", "fuse_pool4", "fuse_pool3"), (2, 4, 8)):
        drawn = ax.images[0].get_array()
        assert drawn.shape == (size, size, 3)
        np.testing.assert_allclose(drawn, fviz.score_picture(maps[name].data[0]), atol=1e-5)
        assert f"{size}x{size}" in ax.get_title()
    prediction = maps["out"].data[0].argmax(0)
    np.testing.assert_allclose(axes[5].images[0].get_array(), palette(11)[prediction])
    wrong = prediction != scenes.masks[1]
    errors = np.asarray(axes[6].images[0].get_array())
    assert np.all(np.isclose(errors, [0.9, 0.1, 0.1]).all(-1) == wrong)
    assert f"{int(wrong.sum())} px" in axes[6].get_title()
    assert viewer.last["pixel_accuracy"] == pytest.approx(1 - wrong.mean())


def test_draw_says_which_stages_a_variant_lacks(viewer):
    fig = viewer.draw(scene=0, variant="32s")
    texts = [t.get_text() for ax in fig.axes[3:5] for t in ax.texts]
    assert texts == ["FCN-32s has\nno fuse_pool4", "FCN-32s has\nno fuse_pool3"]
    assert [s["name"] for s in viewer.last["stages"]] == ["score_fr"]
    with pytest.raises(ValueError, match="variant must be one of"):
        viewer.draw(0, "4s")


def test_widget_redraws_when_the_controls_move(viewer):
    widget = viewer.widget()
    assert viewer.last["variant"] == "8s" and viewer.last["scene"] == 0
    widget.controls["variant"].value = "16s"
    assert viewer.last["variant"] == "16s"
    assert [s["stride"] for s in viewer.last["stages"]] == [32, 16]
    widget.controls["scene"].value = 2
    assert viewer.last["scene"] == 2 and widget.figure.axes[0].get_title() == "scene 2"


def test_static_figures_have_a_row_per_scene(viewer):
    stages = viewer.static_figure(scenes=(0, 2), variant="8s")
    assert len(stages.axes) == 2 * 6
    assert [ax.images[0].get_array().shape[0] for ax in stages.axes[1:4]] == [2, 4, 8]
    predictions = viewer.predictions_figure(scenes=(0, 1, 2))
    assert len(predictions.axes) == 3 * 5
    assert predictions.axes[2].get_title().startswith("FCN-32s: acc")


def test_viewer_rejects_unknown_variants(scenes):
    with pytest.raises(ValueError, match="SkipFusionViewer: models must map"):
        fviz.SkipFusionViewer({"4s": tiny_fcn("8s")}, scenes.images, scenes.masks)
