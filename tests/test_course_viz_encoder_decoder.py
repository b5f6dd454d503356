"""Lecture 05's widgets without a browser: call the update functions, read the figures' data, drive
the sliders from Python. Expected values come from independent computations (a whole-image pass of
the network, brute-force distances), never from the widget code itself."""
import numpy as np
import pytest
from matplotlib.collections import LineCollection

import minseg as ms
from minseg import models
from minseg.viz import encoder_decoder as ed


@pytest.fixture(scope="module")
def explorer_and_truth():
    """A tiny unpadded U-Net (depth 2: margin 20, tile 8) on a 20 x 13 image, and the labels of one
    pass over the whole mirror-padded image (3 x 2 tiles of 8: padded to 20 + 24 + 20 by 20 + 16 + 20)."""
    ms.manual_seed(2)
    net = models.UNet(3, width=2, depth=2, padding=False).eval()
    image = np.random.default_rng(0).random((3, 20, 13), dtype=np.float32)
    padded = np.pad(image, ((0, 0), (20, 20 + 24 - 20), (20, 20 + 16 - 13)), mode="reflect")
    with ms.no_grad():
        whole = net(ms.tensor(padded[None])).data[0].argmax(0)[:20, :13]
    return ed.TileExplorer(net, image, 8), image, padded, whole


def test_tile_explorer_state_follows_the_tiles_in_raster_order(explorer_and_truth):
    explorer, image, padded, whole = explorer_and_truth
    assert explorer.steps == 6
    s = explorer.state(3)  # row 1, column 1
    assert (s["row"], s["col"]) == (1, 1)
    np.testing.assert_array_equal(s["input_tile"], padded[:, 8:56, 8:56])
    # the window starts at (8, 8) of the padded image, whose image part is rows 20..39, columns 20..32
    assert s["mirrored"][:12].all() and not s["mirrored"][12:32, 12:25].any()
    assert s["mirrored"][12:32, 25:].all() and s["mirrored"][32:].all()
    np.testing.assert_array_equal(s["output_tile"], whole[8:16, 8:13])
    np.testing.assert_array_equal(s["stitched"][:16], whole[:16])  # tiles 0..3 done
    assert (s["stitched"][16:] == 3).all()  # 3 classes: label 3 = not computed yet
    np.testing.assert_array_equal(explorer.state(5)["stitched"], whole)


def test_tile_explorer_draw_and_widget(explorer_and_truth):
    explorer = explorer_and_truth[0]
    fig = explorer.draw(step=1)
    assert "tile (0, 1) of 3x2" in fig.axes[0].get_title()
    stitched = fig.axes[3].images[0].get_array()
    np.testing.assert_allclose(stitched[12, 3], ed._NOT_YET)  # row 12 belongs to tile row 1
    assert "2 of 6 tiles" in fig.axes[3].get_title()
    assert fig.axes[1].images[0].get_array().shape == (48, 48, 3)
    widget = explorer.widget()
    widget.controls["step"].value = 5
    assert "6 of 6 tiles" in widget.figure.axes[3].get_title()
    assert len(explorer.static_figure().axes) == 12


def _brute_force_weight_map(labels, w0, sigma):
    """w_c = n / (2 n_class) plus, on background pixels, w0 exp(-(d1 + d2)^2 / 2 sigma^2) with d1, d2
    the distances to the nearest two instances, by looping over every pixel pair."""
    fg = labels > 0
    out = np.where(fg, labels.size / (2 * fg.sum()), labels.size / (2 * (~fg).sum())).astype(float)
    ids = [i for i in np.unique(labels) if i > 0]
    for (y, x), value in np.ndenumerate(labels):
        if value == 0:
            d = sorted(min(np.hypot(y - q, x - p) for q, p in zip(*np.nonzero(labels == i))) for i in ids)
            out[y, x] += w0 * np.exp(-(d[0] + d[1]) ** 2 / (2 * sigma ** 2))
    return out


@pytest.fixture
def three_instances():
    labels = np.zeros((9, 12), np.int64)
    labels[1:4, 1:5], labels[1:4, 6:9], labels[6:8, 2:10] = 1, 2, 3
    return labels


def test_weight_map_explorer_shows_the_border_weight_map(three_instances):
    image = np.random.default_rng(1).random((3, 9, 12), dtype=np.float32)
    explorer = ed.WeightMapExplorer(image, three_instances)
    fig = explorer.draw(w0=10.0, sigma=2.0)
    shown = np.asarray(fig.axes[1].images[0].get_array())
    np.testing.assert_allclose(shown, _brute_force_weight_map(three_instances, 10.0, 2.0), rtol=1e-5)
    assert explorer.last["row"] in (1, 2, 3)  # the 1-pixel gap at column 5 between instances 1 and 2
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), shown[explorer.last["row"]])
    widget = explorer.widget()
    widget.controls["w0"].value = 0.0  # only the class balance is left: 108 / (2 * 37), 108 / (2 * 71)
    balance = np.asarray(widget.figure.axes[1].images[0].get_array())
    np.testing.assert_allclose(np.unique(balance), sorted([108 / 74, 108 / 142]), rtol=1e-6)
    assert len(explorer.static_figure().axes) == 3 * 3 + 3  # three rows of three panels and colour bars


def test_predictions_highlight_matched_and_missed_boundaries():
    target = np.zeros((1, 20, 20), np.int64)
    target[0, 4:12, 4:12] = 2
    shifted = np.roll(target, 4, axis=2)  # 4 px right: its left and right edges miss by 3 > 2 px
    image = np.zeros((1, 3, 20, 20), np.float32)
    fig = ed.draw_predictions(image, target, {"same": target, "shifted": shifted}, num_classes=3,
                              tolerance=2.0)
    # boundary pixels (both sides of every edge) and those within 2 px of a true one, by brute force
    edges = np.zeros((20, 20), bool)
    truth_edges = np.zeros((20, 20), bool)
    for mask, out in ((shifted[0], edges), (target[0], truth_edges)):
        for (r, c), v in np.ndenumerate(mask):
            out[r, c] = any(0 <= r + dr < 20 and 0 <= c + dc < 20 and mask[r + dr, c + dc] != v
                            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)))
    def near(points, others):
        return [np.hypot(*(others - p).T).min() <= 2.0 for p in points]

    precision = np.mean(near(np.argwhere(edges), np.argwhere(truth_edges)))
    recall = np.mean(near(np.argwhere(truth_edges), np.argwhere(edges)))
    assert fig.boundary["same"] == [(1.0, 1.0)]
    assert fig.boundary["shifted"] == [(pytest.approx(precision), pytest.approx(recall))]
    assert 0 < precision < 1 and 0 < recall < 1
    assert f"precision {precision:.2f}, recall {recall:.2f}" in fig.axes[3].get_xlabel()
    nothing = ed.draw_predictions(image, target, {"empty": np.zeros_like(target)}, num_classes=3)
    assert nothing.boundary["empty"] == [(0.0, 0.0)]  # no boundary predicted: nothing matched, nothing found
    same, moved = fig.axes[2], fig.axes[3]
    red = [c for c in moved.collections
           if isinstance(c, LineCollection) and np.allclose(c.get_colors()[0][:3], ed._MISSED)]
    assert red and len(red[0].get_segments()) > 0
    assert all(len(c.get_segments()) == 0 for c in same.collections
               if np.allclose(c.get_colors()[0][:3], ed._MISSED))
