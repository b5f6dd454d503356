# %% [markdown]
# # Lecture 08 — RoIAlign, Mask R-CNN's mask head, and panoptic segmentation
#
# Semantic segmentation gives every pixel a class, but it cannot tell two touching '3's apart: both
# are just "3" pixels. **Instance segmentation** finds every object and its own mask. The recipe
# that has worked best for years is simple: detect the objects (boxes), then predict a mask inside
# each box. This lecture follows that recipe from R-CNN to Mask R-CNN, builds the one operation it
# hinges on — cropping a box out of a feature map, RoIPool versus RoIAlign — trains a mask head on
# DigitScenes, repeats Mask R-CNN's RoIPool-versus-RoIAlign experiment in miniature, and ends with
# **panoptic segmentation**, which labels every pixel *and* separates the objects.
#
# **You will be able to**
# - say what R-CNN, Fast R-CNN and Faster R-CNN each changed, and label anchors positive, negative or
#   neutral from their IoU with the ground-truth boxes;
# - compute box IoU, and crop a box from a feature map with RoIPool (two roundings, max) and RoIAlign
#   (bilinear samples, average), including `aligned=True`'s half-pixel shift;
# - write bilinear interpolation $f(x, y)$ by hand (the slide's $f(6.5, 5.8)$ and its four weights);
# - explain Mask R-CNN's mask head: per-class $m\times m$ sigmoid masks, the binary cross-entropy of the
#   ground-truth class only, targets made by RoIAlign, masks pasted back into the image;
# - measure what RoIPool's rounding costs in mask quality, and where;
# - merge instance masks and a semantic prediction into a panoptic map and score it with
#   $PQ = SQ \times RQ$.
#
# The six **Exercise** cells are graded as in the earlier lectures (see the grading note above and
# the last cell). Where an exercise rebuilds something minseg has, its check switches the library
# function off while it runs, so write it from the formula.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision

import minseg as ms
import minseg.functional as F
from minseg import metrics
from minseg.data import DigitScenes
from minseg.models import MaskHeadModel, mask_iou, mask_loss, mask_targets, paste_masks
from minseg.testing import check_op
from minseg.training import InstanceBatches, evaluate_masks, fit, instance_loss
from minseg.viz import roi as rviz

# %% [markdown]
# ## 1. Instance segmentation = detection + a mask per box
#
# The four tasks of lecture 01 again: classification (one label, no place), semantic segmentation
# (a class per pixel, no objects), detection (a box and a class per object, no pixels) and instance
# segmentation (a mask per object — *things* only). DigitScenes carries all the labels at once:
# besides the semantic map `masks`, every scene has an instance dict with one box, one label and one
# boolean mask per digit. Boxes are `[x1, y1, x2, y2]` in *pixel-edge* coordinates: the digit covers
# the columns `x1 <= x < x2` and the rows `y1 <= y < y2`.

# %%
scenes = DigitScenes(48, split="val", seed=0)
scene = scenes.instances[0]
print("boxes [x1, y1, x2, y2]:", scene["boxes"].astype(int).tolist())
print("labels (digit + 1):    ", scene["labels"].tolist(), "  masks:", scene["masks"].shape)
union_is_semantic = all(np.array_equal(np.any(inst["masks"][inst["labels"] == c], axis=0), scenes.masks[n] == c)
                        for n, inst in enumerate(scenes.instances) for c in range(1, 11))
print("the union of the instance masks of class c is the semantic mask of class c:", union_is_semantic)


# %%
def show_instances(ax, image, instances, title=""):
    """An image with each instance's mask tinted and its box drawn, labelled with its digit."""
    ax.imshow(image.transpose(1, 2, 0))
    for k, (box, label, mask) in enumerate(zip(instances["boxes"], instances["labels"], instances["masks"])):
        colour = plt.cm.tab10(k % 10)
        ax.imshow(np.where(mask[..., None], np.array(colour), 0.0), alpha=0.45 * mask)
        x1, y1, x2, y2 = box
        ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=colour, lw=2))
        ax.text(x1 - 0.5, y1 - 1.5, str(label - 1), color=colour, fontsize=10, weight="bold")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3), layout="constrained")
for ax, n in zip(axes, range(4)):
    show_instances(ax, scenes.images[n], scenes.instances[n], f"scene {n}: {len(scenes.instances[n]['boxes'])} "
                   "instances")
plt.show()

# %% [markdown]
# (The box is drawn around the pixel *cells*: a pixel index $i$ is the centre of the cell
# $[i - \tfrac12, i + \tfrac12]$ in matplotlib's picture, which is why the rectangle starts at
# $x_1 - 0.5$.) An instance segmenter must output exactly this: for each object a box, a class and a
# mask. Mask R-CNN does it in two steps: a detector proposes boxes, and a small *mask head* predicts
# the mask inside each box.
#
# ## 2. From R-CNN to Faster R-CNN, in brief
#
# - **"Slow" R-CNN** (2014): take ~2000 region proposals from a hand-made algorithm (selective search),
#   crop each from the *image*, resize it to 224×224 and run the whole CNN on it — 2000 forward passes
#   per image. Each proposal is labelled by its overlap with the ground truth: *positive* (classify it
#   as the object, regress the box offset), *negative* (background), or *neutral* (ignored).
# - **Fast R-CNN** (2015): run the backbone *once* and crop the proposals from the shared *feature map*
#   instead ("crop features, not pixels"), with a differentiable crop that resizes every region to a
#   fixed grid (RoIPool, §3). The per-region head is small.
# - **Faster R-CNN** (2015): the proposals come from the network too. A *region proposal network* (RPN)
#   slides over the feature map; at each position it scores a fixed set of **anchor** boxes (several
#   sizes and aspect ratios) as object / not object and regresses each towards an object. Training has
#   four losses: RPN classification and regression, then the final classification and box regression.
#
# Every one of these labels its boxes the same way: by the **intersection over union** of a box with
# the ground-truth boxes,
#
# $$\mathrm{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|}, \qquad |A\cap B| = \max(0, \min(x_2^A, x_2^B) -
# \max(x_1^A, x_1^B)) \cdot \max(0, \min(y_2^A, y_2^B) - \max(y_1^A, y_1^B)).$$
#
# Two 4×4 boxes offset by 2 pixels in both directions share a 2×2 square: IoU = 4 / (16 + 16 − 4).

# %% tags=["nbval-check-output"]
a, b = np.array([[0.0, 0, 4, 4]]), np.array([[2.0, 2, 6, 6], [4.0, 0, 8, 4], [1.0, 1, 3, 3]])
print("IoU by hand:", round(4 / (16 + 16 - 4), 4), "  metrics.box_iou:", np.round(metrics.box_iou(a, b), 4))
# Expected output:
# IoU by hand: 0.1429   metrics.box_iou: [[0.1429 0.     0.25  ]]

# %% [markdown]
# (Boxes that only touch, like the second, have IoU 0; a box inside another has IoU = the ratio of
# their areas.)
#
# **Exercise (box_iou).** Write `box_iou(boxes1, boxes2)` for two arrays of boxes `(K1, 4)` and
# `(K2, 4)` (rows `[x1, y1, x2, y2]`), returning the `(K1, K2)` matrix of IoUs, without loops over
# boxes (broadcast `boxes1[:, None]` against `boxes2[None, :]`). The check compares it with
# `torchvision.ops.box_iou` and switches `metrics.box_iou` off while it runs.

# %%
def box_iou(boxes1, boxes2):
    """(K1, K2) IoU of every box of boxes1 (K1, 4) with every box of boxes2 (K2, 4), [x1, y1, x2, y2]."""
    boxes1, boxes2 = np.asarray(boxes1, np.float64), np.asarray(boxes2, np.float64)
    ### BEGIN SOLUTION hint: widths = clip(min(x2, x2') - max(x1, x1'), 0); areas (x2 - x1) * (y2 - y1)
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=-1)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    return inter / (area1[:, None] + area2[None, :] - inter)
    ### END SOLUTION


# %% grade_id="box_iou"
import numpy as np
import torch
import torchvision

from minseg import metrics
from minseg.testing import unavailable


def _random_boxes(rng, k, size=40.0):
    corners = np.sort(rng.uniform(0, size, size=(k, 2, 2)), axis=1)  # [[x1, y1], [x2, y2]] with x1 <= x2
    return corners.reshape(k, 4)


_cases = [(np.array([[0.0, 0, 4, 4]]), np.array([[2.0, 2, 6, 6], [4.0, 0, 8, 4], [1.0, 1, 3, 3]]),
           np.array([[4 / 28, 0.0, 0.25]]))]
_rng = np.random.default_rng(11)
for _k1, _k2 in ((3, 5), (7, 2)):
    _b1, _b2 = _random_boxes(_rng, _k1), _random_boxes(_rng, _k2)
    _cases.append((_b1, _b2, torchvision.ops.box_iou(torch.tensor(_b1), torch.tensor(_b2)).numpy()))
### BEGIN HIDDEN TESTS
for _k1, _k2 in ((1, 1), (12, 9), (4, 30)):
    _b1, _b2 = _random_boxes(_rng, _k1, 10.0), _random_boxes(_rng, _k2, 10.0)
    _cases.append((_b1, _b2, torchvision.ops.box_iou(torch.tensor(_b1), torch.tensor(_b2)).numpy()))
### END HIDDEN TESTS
with unavailable(metrics.box_iou):
    for _b1, _b2, _expected in _cases:
        _got = np.asarray(box_iou(_b1, _b2))
        assert _got.shape == _expected.shape, f"box_iou of {len(_b1)} and {len(_b2)} boxes: expected shape " \
                                              f"{_expected.shape}, got {_got.shape}"
        np.testing.assert_allclose(_got, _expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"box_iou({_b1.round(2).tolist()}, {_b2.round(2).tolist()}) "
                                           "vs torchvision.ops.box_iou")
print("box_iou agrees with the worked example and with torchvision.ops.box_iou")

# %% [markdown]
# ### Anchors: positive, negative, neutral
#
# An RPN's anchors are fixed boxes: at every position of the feature map (here every 4 image pixels)
# a few sizes and aspect ratios, all centred there. Faster R-CNN labels an anchor **positive** when
# its best IoU with a ground-truth box is at least 0.7, **negative** when it is below 0.3, and
# **neutral** (left out of the loss) in between. Here are the anchors of one DigitScenes image:

# %%
def make_anchors(image_size=64, stride=4, sizes=(12, 20, 28), ratios=(0.5, 0.75, 1.0)):
    """(A, 4) anchors [x1, y1, x2, y2]: for each grid centre, each size s (area s^2) and ratio w/h."""
    centres = np.arange(stride / 2, image_size, stride)
    cy, cx = (c.ravel() for c in np.meshgrid(centres, centres, indexing="ij"))
    shapes = [(s * np.sqrt(r), s / np.sqrt(r)) for s in sizes for r in ratios]
    return np.concatenate([np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) for w, h in shapes])


anchors = make_anchors()
truth_boxes = scene["boxes"]
anchor_iou = metrics.box_iou(anchors, truth_boxes)  # (A, number of objects)
best = anchor_iou.max(axis=1)
anchor_labels = np.where(best >= 0.7, 1, np.where(best < 0.3, 0, -1))  # 1 positive, 0 negative, -1 neutral
print(f"{len(anchors)} anchors for {len(truth_boxes)} objects: {np.sum(anchor_labels == 1)} positive, "
      f"{np.sum(anchor_labels == 0)} negative, {np.sum(anchor_labels == -1)} neutral")
print("best anchor IoU per object:", np.round(anchor_iou.max(axis=0), 3))

# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
for ax, (value, name, colour) in zip(axes, ((1, "positive (IoU >= 0.7)", "lime"), (-1, "neutral", "gold"),
                                             (0, "negative (IoU < 0.3), every 40th", "red"))):
    ax.imshow(scenes.images[0].transpose(1, 2, 0))
    chosen = np.flatnonzero(anchor_labels == value)
    for x1, y1, x2, y2 in anchors[chosen[:: 40 if value == 0 else max(1, len(chosen) // 60)]]:
        ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=colour, lw=0.8))
    for x1, y1, x2, y2 in truth_boxes:
        ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="white", lw=2, ls="--"))
    ax.set_title(f"{len(chosen)} {name}", fontsize=10)
    ax.set_xlim(-0.5, 63.5), ax.set_ylim(63.5, -0.5), ax.axis("off")
plt.show()

# %% [markdown]
# The thresholds alone can leave an object without any positive anchor (a small or oddly shaped
# digit whose best anchor reaches only 0.6, say). Faster R-CNN therefore also makes each
# ground-truth box's best anchor positive. Mask R-CNN's second stage uses a simpler rule for its
# RoIs: positive when IoU > 0.5 with a ground-truth box, negative otherwise; only the positive RoIs
# train the mask head.
#
# **Exercise (label_anchors).** Write `label_anchors(iou, positive=0.7, negative=0.3)` for an
# `(A, G)` IoU matrix (anchors × ground-truth boxes), returning `(A,)` ints: `1` where the anchor's
# best IoU is `>= positive`, `0` where it is `< negative`, `-1` otherwise — and then `1` also for
# every anchor whose IoU with some ground-truth box equals that box's largest IoU over all anchors
# (ties included), when that largest IoU is above 0.

# %%
def label_anchors(iou, positive=0.7, negative=0.3):
    """(A,) labels of A anchors from their (A, G) IoU with G ground-truth boxes: 1 / 0 / -1."""
    iou = np.asarray(iou, np.float64)
    ### BEGIN SOLUTION hint: best = iou.max(1); np.where twice; then iou == iou.max(0) (per column) and > 0
    best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(iou))
    labels = np.where(best >= positive, 1, np.where(best < negative, 0, -1))
    if iou.size:
        best_for_box = iou.max(axis=0)
        labels[np.any((iou == best_for_box) & (best_for_box > 0), axis=1)] = 1
    return labels
    ### END SOLUTION


# %% grade_id="label_anchors"
import numpy as np


def _reference_labels(iou, positive, negative):
    """Anchor by anchor, box by box, as the rule reads."""
    labels = []
    for a in range(iou.shape[0]):
        best_iou = max(iou[a]) if iou.shape[1] else 0.0
        label = 1 if best_iou >= positive else (0 if best_iou < negative else -1)
        for g in range(iou.shape[1]):
            if iou[:, g].max() > 0 and iou[a, g] == iou[:, g].max():
                label = 1
        labels.append(label)
    return np.array(labels)


_iou = np.array([[0.75, 0.0], [0.5, 0.1], [0.2, 0.6], [0.1, 0.25], [0.0, 0.0]])
_cases = [(_iou, 0.7, 0.3, np.array([1, -1, 1, 0, 0])),  # anchor 2 is box 1's best (0.6): positive
          (np.array([[0.3, 0.29], [0.29, 0.29]]), 0.7, 0.3, np.array([1, 1])),  # ties for box 1: both
          (np.array([[0.0], [0.0]]), 0.7, 0.3, np.array([0, 0]))]  # a box no anchor touches makes none positive
_rng = np.random.default_rng(12)
for _shape, _pos, _neg in (((30, 3), 0.7, 0.3), ((8, 2), 0.5, 0.5)):
    _m = np.round(_rng.random(_shape) * 0.9, 1)  # rounded: ties happen
    _cases.append((_m, _pos, _neg, _reference_labels(_m, _pos, _neg)))
### BEGIN HIDDEN TESTS
for _shape, _pos, _neg in (((50, 4), 0.6, 0.4), ((5, 7), 0.7, 0.3), ((20, 1), 0.8, 0.1)):
    _m = np.round(_rng.random(_shape), 1)
    _cases.append((_m, _pos, _neg, _reference_labels(_m, _pos, _neg)))
### END HIDDEN TESTS
for _m, _pos, _neg, _expected in _cases:
    _got = np.asarray(label_anchors(_m, _pos, _neg))
    assert _got.shape == _expected.shape and np.array_equal(_got, _expected), \
        f"label_anchors(iou={_m.tolist()}, positive={_pos}, negative={_neg}): expected {_expected.tolist()}, " \
        f"got {_got.tolist()}"
print("label_anchors follows the thresholds and makes every box's best anchor(s) positive")

# %% [markdown]
# ## 3. Cropping features: RoIPool and RoIAlign
#
# Fast R-CNN's key step: from an image of e.g. 3×640×480 the backbone makes features of 512×20×15
# (stride 32); a proposal box is projected onto that map (multiplied by `spatial_scale` = 1/32) and
# its features are resized to a fixed grid (the slides draw 512×2×2; in practice 512×7×7), in a
# differentiable way, so the head gets the same input size for every box.
#
# ### RoIPool: round, round again, take the max
#
# RoIPool (Fast R-CNN) *quantises twice*: it rounds the projected box to whole feature pixels, then
# cuts it into bins whose edges are rounded again (start down, end up), and keeps each bin's
# maximum. On a 12×12 feature map holding a handwritten 3 (values 0…16), the box
# (1.3, 2.2)–(8.6, 9.4) with a 2×2 output:

# %% tags=["nbval-check-output"]
features = rviz.example_features()
explorer = rviz.RoIExplorer(features)
crop = explorer.crop(1.3, 2.2, 8.6, 9.4, output_size=2)
print("box rounded to (x1, y1, x2, y2) =", crop["rounded"], "-> columns 1..9, rows 2..9")
print("bins, columns [start, end):", [tuple(map(int, c)) for c in crop["cols"]],
      " rows:", [tuple(map(int, r)) for r in crop["rows"]])
by_hand = [[float(features[r0:r1, c0:c1].max()) for c0, c1 in crop["cols"]] for r0, r1 in crop["rows"]]
print("max over each bin:", by_hand)
box = np.array([[0, 1.3, 2.2, 8.6, 9.4]])  # rows [batch index, x1, y1, x2, y2]
print("F.roi_pool:       ", F.roi_pool(ms.tensor(features[None, None]), box, 2).data[0, 0].tolist())
# Expected output:
# box rounded to (x1, y1, x2, y2) = (1, 2, 9, 9) -> columns 1..9, rows 2..9
# bins, columns [start, end): [(1, 6), (5, 10)]  rows: [(2, 6), (6, 10)]
# max over each bin: [[16.0, 16.0], [16.0, 16.0]]
# F.roi_pool:        [[16.0, 16.0], [16.0, 16.0]]

# %% [markdown]
# The rounded box spans 9 columns, which do not split into two equal bins: the bins are
# $[\lfloor 0 \cdot 4.5 \rfloor, \lceil 4.5 \rceil) = [0, 5)$ and $[\lfloor 4.5 \rfloor, \lceil 9 \rceil) = [4, 9)$
# columns from the box's start — they *overlap* in one column. Both roundings move information by up
# to half a feature pixel; at stride 16 that is 8 image pixels, a lot for a mask that should follow
# an object's outline. The features of the box (1.3, 2.2)–(8.6, 9.4) and of (0.6, 1.6)–(9.4, 9.4)
# are identical for RoIPool: it cannot see such shifts at all.
#
# ### RoIAlign: no rounding, bilinear samples, average
#
# RoIAlign (Mask R-CNN) keeps the box where it is. Each output bin gets a regular grid of sample
# points (`sampling_ratio` × `sampling_ratio`, at the centres of equal sub-cells), each sample is
# read from the four nearest feature pixels by **bilinear interpolation**, and the samples are
# averaged. With pixel $(i, j)$ (column $i$, row $j$) centred on the integer point $(i, j)$,
#
# $$f(x, y) = \sum_{i, j} f(i, j)\,\max(0, 1 - |x - i|)\,\max(0, 1 - |y - j|).$$
#
# Only the four pixels around $(x, y)$ have a nonzero weight. The slide's example:
# $f(6.5, 5.8) = f(6,5)\cdot 0.5\cdot 0.2 + f(7,5)\cdot 0.5\cdot 0.2 + f(6,6)\cdot 0.5\cdot 0.8 +
# f(7,6)\cdot 0.5\cdot 0.8$. With a test map $f(i, j) = 10j + i$ (so the value names its pixel):

# %% tags=["nbval-check-output"]
grid = np.add.outer(10.0 * np.arange(10), np.arange(10.0))  # grid[j, i] = 10 j + i: row j, column i
x, y = 6.5, 5.8
total = 0.0
for i, j in ((6, 5), (7, 5), (6, 6), (7, 6)):
    wx, wy = max(0, 1 - abs(x - i)), max(0, 1 - abs(y - j))
    total += grid[j, i] * wx * wy
    print(f"f({i},{j}) = {grid[j, i]:.0f}  weight {wx:.1f} * {wy:.1f} = {wx * wy:.2f}")
print(f"f(6.5, 5.8) = {total:.2f}")
one_sample = F.roi_align(ms.tensor(grid[None, None]), np.array([[0, 6.0, 5.3, 7.0, 6.3]]), 1, sampling_ratio=1)
print(f"RoIAlign of the 1x1 box centred on (6.5, 5.8), one sample: {one_sample.data.item():.2f}")
# Expected output:
# f(6,5) = 56  weight 0.5 * 0.2 = 0.10
# f(7,5) = 57  weight 0.5 * 0.2 = 0.10
# f(6,6) = 66  weight 0.5 * 0.8 = 0.40
# f(7,6) = 67  weight 0.5 * 0.8 = 0.40
# f(6.5, 5.8) = 64.50
# RoIAlign of the 1x1 box centred on (6.5, 5.8), one sample: 64.50

# %% [markdown]
# **Exercise (bilinear).** Write `bilinear(feature, x, y)` for a feature map of shape `(..., H, W)`
# (one channel or several) and a point with $0 \le x \le W - 1$, $0 \le y \le H - 1$, returning
# $f(x, y)$ (shape `(...)`) from the formula: find the four neighbours, weigh them. Mind the last
# row and column: at $x = W - 1$ there is no pixel $W$ (its weight is 0 anyway). The check compares
# it with the slide and with RoIAlign's own samples, and switches `F.roi_align` and `F.interpolate`
# off while it runs.

# %%
def bilinear(feature, x, y):
    """f(x, y) of a (..., H, W) map, pixel (i, j) = column i, row j centred on the point (i, j)."""
    feature = np.asarray(feature, np.float64)
    height, width = feature.shape[-2:]
    ### BEGIN SOLUTION hint: i0 = floor(x) (at most W - 2, so i0 + 1 exists), wx = x - i0; the same for y
    i0, j0 = min(int(np.floor(x)), max(width - 2, 0)), min(int(np.floor(y)), max(height - 2, 0))
    i1, j1 = min(i0 + 1, width - 1), min(j0 + 1, height - 1)
    wx, wy = x - i0, y - j0
    return ((1 - wx) * (1 - wy) * feature[..., j0, i0] + wx * (1 - wy) * feature[..., j0, i1]
            + (1 - wx) * wy * feature[..., j1, i0] + wx * wy * feature[..., j1, i1])
    ### END SOLUTION


# %% grade_id="bilinear"
import numpy as np

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable


def _sampled(feature, x, y):
    """RoIAlign reading exactly one sample, at the centre of the 1x1 box around (x, y)."""
    box = np.array([[0, x - 0.5, y - 0.5, x + 0.5, y + 0.5]])
    return F.roi_align(ms.tensor(feature.reshape(1, -1, *feature.shape[-2:])), box, 1,
                       sampling_ratio=1).data.reshape(feature.shape[:-2])


_grid = np.add.outer(10.0 * np.arange(10), np.arange(10.0))
_cases = [(_grid, 6.5, 5.8, 64.5), (_grid, 6.0, 5.0, 56.0), (_grid, 9.0, 9.0, 99.0), (_grid, 0.0, 8.25, 82.5)]
_rng = np.random.default_rng(13)
for _shape in ((7, 9), (3, 6, 5), (2, 3, 4, 4)):
    _f = _rng.normal(size=_shape)
    for _ in range(4):
        _x, _y = _rng.uniform(0, _shape[-1] - 1), _rng.uniform(0, _shape[-2] - 1)
        _cases.append((_f, _x, _y, _sampled(_f, _x, _y)))
### BEGIN HIDDEN TESTS
_f = _rng.normal(size=(2, 5, 8))
for _x, _y in ((7.0, 4.0), (7.0, 0.3), (0.0, 0.0), (3.999, 2.001)) + tuple(_rng.uniform(0, [7, 4], (6, 2))):
    _cases.append((_f, float(_x), float(_y), _sampled(_f, float(_x), float(_y))))
### END HIDDEN TESTS
with unavailable(F.roi_align, F.interpolate):
    for _f, _x, _y, _expected in _cases:
        _got = np.asarray(bilinear(_f, _x, _y))
        np.testing.assert_allclose(_got, _expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"bilinear(feature of shape {_f.shape}, x={_x:.4g}, y={_y:.4g})")
print("bilinear agrees with the slide's f(6.5, 5.8) and with RoIAlign's samples")

# %% [markdown]
# ### `aligned=True`: the half-pixel shift
#
# Mask R-CNN's first RoIAlign had one more, subtler misalignment. Box coordinates live on pixel
# *edges* (a box from 0 to 4 covers pixels 0, 1, 2, 3), but the interpolation formula puts pixel
# $i$'s *centre* at $i$. Pixel $i$ of a map at scale $s$ covers $[i/s, (i+1)/s)$ in the image, so its
# centre sits at image coordinate $(i + \tfrac12)/s$: an edge coordinate $x$ maps to
# $x\cdot s - \tfrac12$ in the formula's coordinates. `aligned=False` (the original, and torchvision's
# default) forgets the $-\tfrac12$ and reads everything half a feature pixel too far right and
# down; `aligned=True` subtracts it. A ramp $f(i, j) = i$ shows it: crop the whole 6-pixel row into
# 6 bins, and each bin should return its own pixel.

# %% tags=["nbval-check-output"]
ramp = np.tile(np.arange(6.0), (6, 1))[None, None]  # value = column index
for aligned in (False, True):
    out = F.roi_align(ms.tensor(ramp), np.array([[0, 0.0, 0.0, 6.0, 6.0]]), (1, 6), sampling_ratio=1, aligned=aligned)
    print(f"aligned={aligned!s:5}:", out.data[0, 0, 0].tolist())
# Expected output:
# aligned=False: [0.5, 1.5, 2.5, 3.5, 4.5, 5.0]
# aligned=True : [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]

# %% [markdown]
# (The last bin of `aligned=False` reads past the last pixel and is clamped to it.) DigitScenes'
# boxes are in pixel-edge coordinates, so minseg's mask head uses `aligned=True`.
#
# **Exercise (roi_align_box).** Write `roi_align_box(feature, box, output_size, sampling_ratio=2,
# spatial_scale=1.0, aligned=False)` for one feature map `(C, H, W)` and one box `(x1, y1, x2, y2)`
# in image coordinates, returning the `(C, output_size, output_size)` RoIAlign crop:
#
# 1. scale the box by `spatial_scale`, and subtract 0.5 when `aligned`;
# 2. without `aligned`, make the box at least 1×1 (`width = max(x2 - x1, 1)`, likewise the height);
# 3. bin $(p, q)$ is `bin_h = height / output_size` tall and `bin_w = width / output_size` wide; its
#    samples sit at $y = y_1 + p \cdot b_h + (s + \tfrac12)\, b_h / r$, $x = x_1 + q \cdot b_w + (t +
#    \tfrac12)\, b_w / r$ for $s, t = 0 \dots r - 1$ ($r$ = `sampling_ratio`);
# 4. the bin's value is the mean of `bilinear(feature, x, y)` over its $r^2$ samples.
#
# You may call your `bilinear` (the check gives you a correct one while it runs, so a mistake there
# costs points only once). The checks use boxes whose samples stay inside the map. They compare with
# `torchvision.ops.roi_align` and switch `F.roi_align` off while they run.

# %%
def roi_align_box(feature, box, output_size, sampling_ratio=2, spatial_scale=1.0, aligned=False):
    """RoIAlign of one box (x1, y1, x2, y2) from one (C, H, W) map -> (C, output_size, output_size)."""
    feature = np.asarray(feature, np.float64)
    ### BEGIN SOLUTION hint: two loops over bins, two over samples, bilinear(feature, x, y) gives (C,)
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (float(v) * spatial_scale - offset for v in box)
    width, height = x2 - x1, y2 - y1
    if not aligned:
        width, height = max(width, 1.0), max(height, 1.0)
    bin_w, bin_h, r = width / output_size, height / output_size, sampling_ratio
    out = np.zeros((feature.shape[0], output_size, output_size))
    for p in range(output_size):
        for q in range(output_size):
            for s in range(r):
                for t in range(r):
                    y = y1 + p * bin_h + (s + 0.5) * bin_h / r
                    x = x1 + q * bin_w + (t + 0.5) * bin_w / r
                    out[:, p, q] += bilinear(feature, x, y) / r ** 2
    return out
    ### END SOLUTION


# %% grade_id="roi_align_box"
import numpy as np
import torch
import torchvision

import minseg.functional as F
from minseg.testing import unavailable


def _reference_bilinear(feature, x, y):
    """A correct bilinear f(x, y) for (..., H, W) maps (used while this check runs)."""
    height, width = feature.shape[-2:]
    i0, j0 = min(int(np.floor(x)), width - 2), min(int(np.floor(y)), height - 2)
    wx, wy = x - i0, y - j0
    return ((1 - wx) * (1 - wy) * feature[..., j0, i0] + wx * (1 - wy) * feature[..., j0, i0 + 1]
            + (1 - wx) * wy * feature[..., j0 + 1, i0] + wx * wy * feature[..., j0 + 1, i0 + 1])


def _torchvision_crop(feature, box, size, ratio, scale, aligned):
    return torchvision.ops.roi_align(torch.tensor(feature[None]), torch.tensor([[0.0, *box]], dtype=torch.float64), size,
                                     spatial_scale=scale, sampling_ratio=ratio, aligned=aligned)[0].numpy()


_grid = np.add.outer(10.0 * np.arange(10), np.arange(10.0))[None]
_cases = [(_grid, (6.0, 5.3, 7.0, 6.3), 1, 1, 1.0, False, np.array([[[64.5]]]))]  # the slide's sample
_rng = np.random.default_rng(14)
_settings = [((1.2, 2.6, 7.3, 6.1), 2, 2, 1.0, False), ((1.2, 2.6, 7.3, 6.1), 3, 2, 1.0, True),
             ((4.0, 6.0, 30.0, 22.0), 2, 2, 0.25, True), ((2.5, 2.0, 2.9, 2.2), 2, 2, 1.0, False)]
### BEGIN HIDDEN TESTS
_settings += [((3.1, 0.9, 8.7, 7.9), 4, 2, 1.0, False), ((5.0, 5.0, 17.0, 15.0), 3, 3, 0.5, True),
              ((1.0, 1.0, 8.0, 8.0), 7, 1, 1.0, True)]
### END HIDDEN TESTS
for _box, _size, _ratio, _scale, _aligned in _settings:
    _f = _rng.normal(size=(3, 10, 10))
    _cases.append((_f, _box, _size, _ratio, _scale, _aligned,
                   _torchvision_crop(_f, _box, _size, _ratio, _scale, _aligned)))
_learners_bilinear = globals().get("bilinear")
bilinear = _reference_bilinear
try:
    with unavailable(F.roi_align):
        for _f, _box, _size, _ratio, _scale, _aligned, _expected in _cases:
            _got = np.asarray(roi_align_box(_f, _box, _size, sampling_ratio=_ratio, spatial_scale=_scale,
                                            aligned=_aligned))
            _call = (f"roi_align_box(feature {_f.shape}, box={_box}, output_size={_size}, sampling_ratio={_ratio}, "
                     f"spatial_scale={_scale}, aligned={_aligned})")
            assert _got.shape == _expected.shape, f"{_call}: expected shape {_expected.shape}, got {_got.shape}"
            np.testing.assert_allclose(_got, _expected, rtol=1e-9, atol=1e-12, err_msg=f"{_call} vs torchvision")
finally:
    if _learners_bilinear is None:
        del bilinear
    else:
        bilinear = _learners_bilinear
print("roi_align_box agrees with torchvision.ops.roi_align")

# %% [markdown]
# minseg's own `F.roi_align` and `F.roi_pool` against torchvision on random maps and boxes, forward
# and backward (the gradient flows to the feature map: RoIAlign spreads each bin's gradient over its
# samples' four neighbours, RoIPool gives it all to the bin's maximum):

# %%
rng = np.random.default_rng(0)
feature_maps = rng.normal(size=(2, 3, 12, 10))
corners = np.sort(rng.uniform(0, 40, size=(6, 2, 2)), axis=1).reshape(6, 4)
rois = np.concatenate([rng.integers(0, 2, size=(6, 1)).astype(float), corners], axis=1)  # [batch, x1, y1, x2, y2]
for aligned in (False, True):  # the boxes are an input, but only the feature map is differentiated
    check_op(F.roi_align, [feature_maps, rois], torchvision.ops.roi_align, differentiable=[0],
             kwargs=dict(output_size=3, spatial_scale=0.25, sampling_ratio=2, aligned=aligned))
check_op(F.roi_pool, [feature_maps, rois], torchvision.ops.roi_pool, differentiable=[0],
         kwargs=dict(output_size=3, spatial_scale=0.25))
print("F.roi_align (aligned False / True) and F.roi_pool == torchvision.ops, forward and backward")

# %% [markdown]
# ### The RoI quantisation explorer
#
# Move the box's corners over the feature map and watch the two crops. Left, RoIPool: the dashed
# box as given, the red frame it is rounded to, the coloured bins rounded again (they may overlap,
# or leave a row out), and each bin's maximum (×). Middle, RoIAlign: the exact bins and their
# sample points. Right: both outputs. Things to try: move `x1` by 0.3 — RoIPool's output does not
# change, RoIAlign's does; make the box small (2×2 pixels) with a 4×4 output — RoIPool repeats
# pixels; tick `aligned` — every sample moves half a pixel up and left; set `samples` to 0 —
# adaptive sampling, $\lceil$ bin size $\rceil$ samples per axis.

# %% tags=["nbval-ignore-output"]
explorer.widget()

# %% tags=["nbval-ignore-output"]
explorer.static_figure()

# %% [markdown]
# ## 4. The mask head
#
# Mask R-CNN adds a third branch to Faster R-CNN's per-RoI head: besides the class scores ($C$)
# and the box offsets ($4C$), a small fully convolutional network predicts **a mask for each of the
# $C$ classes**, $C \times 28 \times 28$ (a $14\times 14$ RoIAlign crop, four 3×3 convolutions, a 2×2
# transposed convolution, a 1×1 convolution to $C$ channels). Each of the $28 \times 28$ outputs is a
# sigmoid — a binary "object or not" per pixel — and the loss is the mean binary cross-entropy of
# the mask of the **ground-truth class only**. The classes do not compete for a pixel (no softmax
# across classes): the classification branch decides *what* the object is, the mask branch only
# *where* it is. Mask R-CNN's paper found this decoupling worth several AP points over a softmax.
#
# minseg's `MaskHeadModel` is that head on top of a small backbone (stride 4). We give it the true
# boxes (we do not train a detector), so it is the mask branch alone; its RoIs are DigitScenes'
# instances, its classes the 10 digits.

# %%
batch = next(InstanceBatches(scenes, mask_size=28).batches(4, shuffle=False))
images, rois, classes, targets = batch  # rois (R, 5) [image, x1, y1, x2, y2]; classes 0..9; targets (R, 28, 28)
head = MaskHeadModel(num_classes=10, width=32, feature_stride=4, resolution=14, pooler="align")
with ms.no_grad():
    logits = head(ms.tensor(images), ms.tensor(rois))
print(f"{len(rois)} RoIs from {len(images)} images -> logits {logits.shape}: one 28x28 mask per RoI and class")
loss = mask_loss(logits, classes, targets)
own = logits.data[np.arange(len(rois)), classes]  # (R, 28, 28): only the ground-truth class's mask
by_hand = np.mean(np.maximum(own, 0) - own * targets + np.log1p(np.exp(-np.abs(own))))
print(f"mask_loss {float(loss.data):.6f}; mean BCE of the own-class masks by hand {by_hand:.6f}")
others = logits.data.copy()
others[np.arange(len(rois)), (classes + 1) % 10] = 50.0  # change another class's mask completely
print("changing another class's mask changes the loss by",
      float(mask_loss(ms.tensor(others), classes, targets).data - loss.data))

# %% [markdown]
# The binary cross-entropy of a logit $z$ with target $t\in\{0,1\}$ is
# $-t\log\sigma(z) - (1-t)\log(1-\sigma(z))$, written stably as $\max(z, 0) - zt + \log(1 + e^{-|z|})$
# (it never takes $\log$ of a 0 or $e$ of a large number).
#
# **Exercise (mask_bce).** Write `mask_bce(logits, classes, targets)` in NumPy: `logits` `(R, K, M, M)`,
# `classes` `(R,)` ints, `targets` `(R, M, M)` in {0, 1}; return the mean binary cross-entropy of
# each RoI's own-class mask (a float). It must stay finite for logits of ±1000. The check compares
# it with `torch.nn.functional.binary_cross_entropy_with_logits` and switches minseg's
# `F.binary_cross_entropy_with_logits` (which `mask_loss` uses) off while it runs.

# %%
def mask_bce(logits, classes, targets):
    """Mean binary cross-entropy of each RoI's ground-truth-class mask logits against its target."""
    logits, targets = np.asarray(logits, np.float64), np.asarray(targets, np.float64)
    classes = np.asarray(classes, np.int64)
    ### BEGIN SOLUTION hint: chosen = logits[np.arange(R), classes]; then the stable formula, mean
    chosen = logits[np.arange(len(classes)), classes]
    return float(np.mean(np.maximum(chosen, 0) - chosen * targets + np.log1p(np.exp(-np.abs(chosen)))))
    ### END SOLUTION


# %% grade_id="mask_bce"
import numpy as np
import torch

import minseg.functional as F
from minseg.testing import unavailable


def _torch_own_class_bce(logits, classes, targets):
    chosen = torch.tensor(logits)[torch.arange(len(classes)), torch.tensor(classes)]
    return float(torch.nn.functional.binary_cross_entropy_with_logits(chosen, torch.tensor(targets)))


_rng = np.random.default_rng(15)
_cases = [(np.zeros((1, 2, 2, 2)), np.array([1]), np.ones((1, 2, 2)), float(np.log(2)))]  # sigma(0) = 1/2
_big = np.zeros((2, 2, 1, 2))
_big[0, 0], _big[1, 1] = [[1000.0, -1000.0]], [[-1000.0, 1000.0]]
_cases.append((_big, np.array([0, 1]), np.array([[[1.0, 0.0]], [[1.0, 1.0]]]), 1000.0 / 4))  # one pixel off by 1000
for _r, _k, _m in ((3, 4, 5), (6, 10, 7)):
    _logits = _rng.normal(scale=3, size=(_r, _k, _m, _m))
    _classes, _targets = _rng.integers(0, _k, _r), (_rng.random((_r, _m, _m)) < 0.4).astype(float)
    _cases.append((_logits, _classes, _targets, _torch_own_class_bce(_logits, _classes, _targets)))
### BEGIN HIDDEN TESTS
for _r, _k, _m in ((1, 1, 3), (5, 3, 4)):
    _logits = _rng.normal(scale=30, size=(_r, _k, _m, _m))
    _classes, _targets = _rng.integers(0, _k, _r), (_rng.random((_r, _m, _m)) < 0.5).astype(float)
    _cases.append((_logits, _classes, _targets, _torch_own_class_bce(_logits, _classes, _targets)))
### END HIDDEN TESTS
with unavailable(F.binary_cross_entropy_with_logits):
    for _logits, _classes, _targets, _expected in _cases:
        _got = mask_bce(_logits, _classes, _targets)
        assert np.isfinite(_got) and abs(_got - _expected) <= 1e-9 * max(1.0, abs(_expected)), \
            f"mask_bce(logits {_logits.shape} in [{_logits.min():.3g}, {_logits.max():.3g}], classes " \
            f"{_classes.tolist()}): expected {_expected:.10g}, got {_got}"
print("mask_bce agrees with torch's binary_cross_entropy_with_logits on the own-class masks")

# %% [markdown]
# ### Targets: RoIAlign of the ground-truth mask
#
# The target of a RoI is its ground-truth mask *as seen through the box*: Mask R-CNN crops the
# instance's full-image mask with the same RoIAlign, at the head's output size ($28 \times 28$), and
# thresholds at 0.5 (`mask_targets`). At test time the predicted $28\times 28$ probabilities go the
# other way: resized bilinearly onto the box and thresholded (`paste_masks`). Even a *perfect*
# prediction loses a little in this round trip; that is the ceiling of any 28×28 mask head:

# %%
def instance_arrays(data):
    """All instances of a DigitScenes set: rois (R, 5) [scene, x1, y1, x2, y2], labels (R,), masks (R, H, W)."""
    rois, labels, masks = [], [], []
    for n, inst in enumerate(data.instances):
        rois.append(np.concatenate([np.full((len(inst["boxes"]), 1), n, np.float32), inst["boxes"]], axis=1))
        labels.append(inst["labels"])
        masks.append(inst["masks"])
    return np.concatenate(rois), np.concatenate(labels), np.concatenate(masks)


rois_all, labels_all, masks_all = instance_arrays(scenes)
round_trip = paste_masks(mask_targets(masks_all, rois_all, 28), rois_all, (64, 64))
ceiling = mask_iou(round_trip, masks_all)
print(f"{len(rois_all)} instances in {len(scenes)} scenes; mask IoU after 64x64 -> 28x28 -> 64x64: "
      f"mean {ceiling.mean():.3f}, worst {ceiling.min():.3f}")

# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), layout="constrained")
r = 1
x1, y1, x2, y2 = rois_all[r, 1:]
axes[0].imshow(masks_all[r], cmap="Greys")
axes[0].add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="C3", lw=2))
axes[0].set_title("ground-truth mask and its box", fontsize=10)
axes[1].imshow(mask_targets(masks_all[r:r + 1], rois_all[r:r + 1], 28)[0], cmap="Greys")
axes[1].set_title("target: RoIAlign into 28x28, > 0.5", fontsize=10)
axes[2].imshow(round_trip[r], cmap="Greys")
axes[2].set_title("pasted back into the image", fontsize=10)
axes[3].imshow(round_trip[r].astype(int) - masks_all[r], cmap="coolwarm", vmin=-1, vmax=1)
axes[3].set_title(f"difference (IoU {ceiling[r]:.3f})", fontsize=10)
for ax in axes:
    ax.set_xlim(x1 - 3, x2 + 2), ax.set_ylim(y2 + 2, y1 - 3)
plt.show()

# %% [markdown]
# ### Training it, briefly
#
# A few live steps of the mask head on 64 training scenes (Adam), to see the loss fall; the real
# training takes minutes, and its result ships with the package (next section).

# %% tags=["nbval-ignore-output"]
train = DigitScenes(64, split="train", seed=0)
live = MaskHeadModel(num_classes=10, width=16, feature_stride=4, resolution=14, pooler="align")
history = fit(live, InstanceBatches(train, 28), steps=40, batch_size=8, optimizer="adam", lr=1e-2,
              loss_fn=instance_loss, seed=0)
print(f"loss: first 5 steps {np.mean(history['loss'][:5]):.3f} -> last 5 steps {np.mean(history['loss'][-5:]):.3f}")

# %% [markdown]
# ## 5. RoIPool versus RoIAlign: Mask R-CNN's ablation, in miniature
#
# Mask R-CNN's paper replaced RoIPool by RoIAlign and measured the masks on COCO (mask AP; ResNet-50
# C4 backbone, stride 16). RoIWarp (from an earlier paper) interpolates bilinearly but still rounds
# the box, so it gains almost nothing: the rounding, not the lack of interpolation, is what hurts.

# %% tags=["nbval-check-output"]
ablation = [("RoIPool", "", "", "max", 26.9, 48.8, 26.4), ("RoIWarp", "", "yes", "max", 27.2, 49.2, 27.1),
            ("RoIWarp", "", "yes", "ave", 27.1, 48.9, 27.1), ("RoIAlign", "yes", "yes", "max", 30.2, 51.0, 31.8),
            ("RoIAlign", "yes", "yes", "ave", 30.3, 51.2, 31.5)]
print(f"{'':9}{'align?':>7}{'bilinear?':>10}{'agg.':>6}{'AP':>6}{'AP50':>6}{'AP75':>6}")
for name, align, bilin, agg, ap, ap50, ap75 in ablation:
    print(f"{name:9}{align:>7}{bilin:>10}{agg:>6}{ap:6.1f}{ap50:6.1f}{ap75:6.1f}")
print(f"RoIAlign (ave) - RoIPool: {30.3 - 26.9:+.1f} AP, {31.5 - 26.4:+.1f} AP75")
# Expected output:
#           align? bilinear?  agg.    AP  AP50  AP75
# RoIPool                      max  26.9  48.8  26.4
# RoIWarp                yes   max  27.2  49.2  27.1
# RoIWarp                yes   ave  27.1  48.9  27.1
# RoIAlign     yes       yes   max  30.2  51.0  31.8
# RoIAlign     yes       yes   ave  30.3  51.2  31.5
# RoIAlign (ave) - RoIPool: +3.4 AP, +5.1 AP75

# %% [markdown]
# The gain is largest at AP75, the strict threshold: RoIAlign's masks are not more often *roughly*
# right, they are more often *precisely* right. The same experiment on DigitScenes: two mask heads,
# identical except for the pooler (`mask_roipool`, `mask_roialign`), trained on the same data with
# the same settings (`python -m benchmarks.train_models --save-weights`; each record says how many
# steps it made), shipped with the package.
# We load both and score them on the 48 validation scenes from above (ground-truth boxes and
# classes, so the score is mask quality alone): mean mask IoU, and the share of instances whose IoU
# reaches 0.5 and 0.75.

# %% tags=["nbval-ignore-output"]
from minseg.models import pretrained

heads = {"RoIPool": pretrained.load("mask_roipool"), "RoIAlign": pretrained.load("mask_roialign")}
scores = {name: evaluate_masks(model, scenes) for name, model in heads.items()}
train_batch = next(InstanceBatches(train, 28).batches(8, shuffle=True, seed=0))
with ms.no_grad():
    trained_loss = mask_loss(heads["RoIAlign"](ms.tensor(train_batch[0]), ms.tensor(train_batch[1])), *train_batch[2:])
print(f"loss on a training batch: the shipped RoIAlign head {float(trained_loss.data):.3f}, "
      f"the live run after 40 steps {history['loss'][-1]:.3f}")
for name, result in scores.items():
    print(f"{name:8}: mask IoU {result['mask_iou']:.3f}   IoU >= 0.5: {result['iou_50']:.1%}   "
          f"IoU >= 0.75: {result['iou_75']:.1%}   ({len(result['ious'])} instances)")

# %% [markdown]
# One training run is one sample: a different seed (initialisation and batch order) gives a
# different score. The training command trains each head with every seed it is given
# (`--mask-seeds`) and records each seed's score on the full validation split (200 scenes) in the
# weights' record; the shipped weights are the first seed's. Mean ± standard deviation over the
# recorded seeds:

# %% tags=["nbval-ignore-output"]
for name, key in (("RoIPool", "mask_roipool"), ("RoIAlign", "mask_roialign")):
    record = pretrained.record(key)
    seed_scores = np.array([entry["val"]["mask_iou"] for entry in record["seeds"]])
    spread = f"± {seed_scores.std(ddof=1):.3f}" if len(seed_scores) > 1 else "(one seed recorded)"
    print(f"{name:8}: {record['steps']} steps; val mask IoU over seeds {[e['seed'] for e in record['seeds']]}: "
          f"{seed_scores.mean():.3f} {spread}  [min {seed_scores.min():.3f}, max {seed_scores.max():.3f}]")

# %% [markdown]
# Compare the difference between the two heads with the spread between seeds: a gap smaller than
# the seed-to-seed spread is not evidence of anything.
#
# ### Where RoIPool's masks go wrong
#
# First the mechanism, without any training. Look at each true mask through a stride-4 feature map
# (4×4 average pooling: the share of the digit in each feature pixel), crop it to 14×14 with RoIPool
# or RoIAlign exactly as the two heads do, paste it back and compare with the mask. Whatever a head
# learns, it starts from crops like these. To see the effect of size, we use scenes with digits
# from 8 to 40 pixels tall: at stride 4 an 8-pixel digit is 2 feature pixels tall, and RoIPool must
# spread 2 or 3 rounded pixels over 14 bins, shifted by up to half a feature pixel (2 image pixels).

# %% tags=["nbval-ignore-output"]
sized = DigitScenes(32, split="val", seed=1, digit_size=(8, 40))
rois_sized, labels_sized, masks_sized = instance_arrays(sized)
coarse = F.avg_pool2d(ms.tensor(masks_sized[:, None].astype(np.float32)), 4)  # (R, 1, 16, 16)
own_rois = rois_sized.copy()
own_rois[:, 0] = np.arange(len(own_rois))  # RoI r crops its own mask, stacked as batch entry r
crops = {"RoIPool": F.roi_pool(coarse, own_rois, 14, 0.25).data[:, 0],
         "RoIAlign": F.roi_align(coarse, own_rois, 14, 0.25, 2, aligned=True).data[:, 0]}
seen = {name: paste_masks(c, rois_sized, (64, 64)) for name, c in crops.items()}
heights_sized = rois_sized[:, 4] - rois_sized[:, 2]
outline_sized = metrics.label_boundaries(masks_sized.astype(np.int64))
print(f"{'digit height (pixels)':24}" + "".join(f"{name:>10}" for name in seen))
for low, high in ((8, 16), (16, 24), (24, 41)):
    chosen = (heights_sized >= low) & (heights_sized < high)
    print(f"{f'{low} to {high - 1} ({chosen.sum()} digits)':24}"
          + "".join(f"{mask_iou(m[chosen], masks_sized[chosen]).mean():10.3f}" for m in seen.values()))
print(f"{'errors on the outline':24}" + "".join(f"{(m != masks_sized)[outline_sized].sum() / (m != masks_sized).sum():10.0%}"
                                                for m in seen.values()))

# %% tags=["nbval-ignore-output"]
smallest = np.argsort(heights_sized)[[0, len(heights_sized) // 3, len(heights_sized) - 1]]
fig, axes = plt.subplots(3, 3, figsize=(7.5, 7.5), layout="constrained")
for row, r in zip(axes, smallest):
    x1, y1, x2, y2 = rois_sized[r, 1:].astype(int)
    view = (slice(max(y1 - 2, 0), y2 + 2), slice(max(x1 - 2, 0), x2 + 2))
    row[0].imshow(masks_sized[r][view], cmap="Greys")
    row[0].set_title(f"truth, {y2 - y1} px tall", fontsize=10)
    for ax, name in zip(row[1:], seen):
        picture = np.stack([seen[name][r] & masks_sized[r]] * 3, axis=-1).astype(float)
        picture[seen[name][r] != masks_sized[r]] = (0.85, 0.1, 0.1)
        ax.imshow(picture[view])
        ax.set_title(f"{name} crop: IoU {mask_iou(seen[name][r:r + 1], masks_sized[r:r + 1])[0]:.2f}", fontsize=10)
for ax in axes.ravel():
    ax.axis("off")
plt.show()

# %% [markdown]
# (Red: pixels the crop gets wrong.) RoIPool's crop is a shifted and thickened copy of the mask —
# the rounding moves it, and the maximum over each bin grows it — so its errors spread over the whole
# mask and it is worst for the small digits; RoIAlign's crop loses detail only where the mask has
# more of it than the 16×16 feature map can hold: on the outline, and in small digits.
#
# Now the trained heads on the validation scenes, split by box height (these digits are 16 to 32
# pixels tall): does their gap follow the same pattern?

# %% tags=["nbval-ignore-output"]
heights = rois_all[:, 4] - rois_all[:, 2]
edges = np.quantile(heights, [0, 1 / 3, 2 / 3, 1])
print(f"{'box height (pixels)':22}" + "".join(f"{name:>10}" for name in scores) + f"{'gap':>8}")
for low, high in zip(edges[:-1], edges[1:]):
    chosen = (heights >= low) & (heights <= high)
    means = [scores[name]["ious"][chosen].mean() for name in scores]
    print(f"{f'{low:.0f} to {high:.0f} ({chosen.sum()} boxes)':22}" + "".join(f"{m:10.3f}" for m in means)
          + f"{means[1] - means[0]:+8.3f}")

# %% [markdown]
# And *where* in a mask are the trained heads' errors? Compare the error rate on the outline (pixels
# with a 4-neighbour on the other side of the true mask's edge) with the rest of the box. We run both heads
# on the first 16 scenes and keep their pasted masks (the panoptic section uses them too):

# %% tags=["nbval-ignore-output"]
def own_class_probabilities(model, images, rois, classes):
    """(R, M, M) sigmoid of each RoI's own-class mask logits (rois' first column indexes images)."""
    with ms.no_grad():
        logits = model(ms.tensor(images), ms.tensor(rois)).data
    return 1.0 / (1.0 + np.exp(-logits[np.arange(len(rois)), classes]))


first = rois_all[:, 0] < 16
probabilities = {name: own_class_probabilities(model, scenes.images[:16], rois_all[first], labels_all[first] - 1)
                 for name, model in heads.items()}
pasted = {name: paste_masks(p, rois_all[first], (64, 64)) for name, p in probabilities.items()}
outline = metrics.label_boundaries(masks_all[first].astype(np.int64))
in_box = np.zeros_like(outline)
for r, (x1, y1, x2, y2) in enumerate(rois_all[first][:, 1:].astype(int)):
    in_box[r, y1:y2, x1:x2] = True
for name, predicted in pasted.items():
    wrong = predicted != masks_all[first]
    print(f"{name:8}: error rate on the outline {wrong[outline].mean():.1%}, "
          f"elsewhere in the box {wrong[in_box & ~outline].mean():.1%}")

# %% [markdown]
# The instances where RoIAlign's mask beats RoIPool's by the most (the image crop, the truth, and
# both predictions; red: wrong pixels):

# %% tags=["nbval-ignore-output"]
gain = mask_iou(pasted["RoIAlign"], masks_all[first]) - mask_iou(pasted["RoIPool"], masks_all[first])
fig, axes = plt.subplots(4, 4, figsize=(9, 9), layout="constrained")
for row, r in zip(axes, np.argsort(-gain)[:4]):
    x1, y1, x2, y2 = rois_all[first][r, 1:].astype(int)
    view = (slice(max(y1 - 2, 0), y2 + 2), slice(max(x1 - 2, 0), x2 + 2))
    row[0].imshow(scenes.images[int(rois_all[first][r, 0])].transpose(1, 2, 0)[view])
    row[0].set_title(f"box {x2 - x1}x{y2 - y1} px", fontsize=10)
    row[1].imshow(masks_all[first][r][view], cmap="Greys")
    row[1].set_title("truth", fontsize=10)
    for ax, name in zip(row[2:], ("RoIPool", "RoIAlign")):
        predicted, truth = pasted[name][r][view], masks_all[first][r][view]
        picture = np.stack([predicted & truth] * 3, axis=-1).astype(float)
        picture[predicted != truth] = (0.85, 0.1, 0.1)
        ax.imshow(picture)
        ax.set_title(f"{name}: IoU {mask_iou(pasted[name][r:r + 1], masks_all[first][r:r + 1])[0]:.2f}", fontsize=10)
for ax in axes.ravel():
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 6. Panoptic segmentation
#
# Semantic segmentation labels **things** (countable objects: the digits, people, cars) and
# **stuff** (amorphous regions: the background, sky, grass) but merges instances; instance
# segmentation separates the things but ignores the stuff. **Panoptic segmentation** (Kirillov et al.,
# 2019) does both: every pixel gets a class, and every thing pixel also an instance. A panoptic map
# is one integer per pixel, a *segment id*; here `class * 1000 + instance`, with the single stuff
# class (background, class 0) as one segment.

# %%
LABEL_DIVISOR = 1000


def panoptic_truth(instances, size=64):
    """The true panoptic map of one scene: background 0, instance k of class c -> c * 1000 + k + 1."""
    out = np.zeros((size, size), np.int64)
    for k, (label, mask) in enumerate(zip(instances["labels"], instances["masks"])):
        out[mask] = label * LABEL_DIVISOR + k + 1
    return out


truth_maps = np.stack([panoptic_truth(inst) for inst in scenes.instances[:16]])
print("segments of scene 0:", np.unique(truth_maps[0]).tolist())

# %% [markdown]
# A panoptic prediction can be assembled from the two kinds of output we have (Panoptic FPN's
# heuristic): the instance masks claim pixels first, most confident first, each pixel for at most
# one instance (an instance that finds most of its mask already taken is dropped); the semantic
# prediction fills the remaining pixels with its stuff classes. With one stuff class that is simple:
# whatever no instance claims is background. The confidence of an instance is the mean probability
# inside its mask. For the semantic prediction we use the shipped U-Net (lecture 05; the smallest
# of the shipped semantic models, so it runs in a moment).

# %%
def merge_panoptic(masks, labels, confidences, stuff, min_kept=0.5):
    """Panoptic ids (H, W) from instance masks (R, H, W) with labels (R,) and confidences (R,), and a
    stuff map (H, W) (class per pixel, used where no instance claims the pixel)."""
    out = np.asarray(stuff, np.int64) * LABEL_DIVISOR
    claimed = np.zeros(out.shape, bool)
    for k in np.argsort(-np.asarray(confidences), kind="stable"):
        free = masks[k] & ~claimed
        if free.sum() == 0 or free.sum() < min_kept * masks[k].sum():
            continue
        out[free] = labels[k] * LABEL_DIVISOR + k + 1
        claimed |= free
    return out


from minseg.training import predict

semantic = predict(pretrained.load("unet"), scenes.images[:16]).argmax(axis=1)  # (16, 64, 64) labels
stuff = np.zeros_like(semantic)  # the only stuff class is the background (0); digit classes are things
scene_of = rois_all[first, 0].astype(int)
panoptic = {}
for name in heads:
    maps = []
    for n in range(16):
        own = scene_of == n
        masks_n, probs_n = pasted[name][own], probabilities[name][own]
        confidence = [p[p >= 0.5].mean() if (p >= 0.5).any() else 0.0 for p in probs_n]
        maps.append(merge_panoptic(masks_n, labels_all[first][own], confidence, stuff[n]))
    panoptic[name] = np.stack(maps)

# %% [markdown]
# Semantic segmentation alone also gives a panoptic map when objects never touch: each connected
# region of a thing class is one instance. DigitScenes' digits never touch (its generator keeps a gap),
# so this works here — in a crowd of people or a car park it would merge neighbours into one.

# %%
from scipy import ndimage


def components_panoptic(semantic_map):
    """Panoptic ids from a semantic map alone: every 8-connected region of a thing class is an instance."""
    out = np.zeros(semantic_map.shape, np.int64)
    count = 0
    for c in range(1, 11):
        regions, n = ndimage.label(semantic_map == c, structure=np.ones((3, 3)))
        out[regions > 0] = c * LABEL_DIVISOR + count + regions[regions > 0]
        count += n
    return out


panoptic["semantic + components"] = np.stack([components_panoptic(s) for s in semantic])

# %% tags=["nbval-ignore-output"]
from minseg.data import CLASSES

fig, axes = plt.subplots(1, 5, figsize=(13, 3), layout="constrained")
shuffle_colours = np.random.default_rng(0).permutation(256)


def show_segments(ax, ids, title):
    """Each segment id in its own colour (background black)."""
    _, inverse = np.unique(ids, return_inverse=True)
    colours = plt.cm.tab20(shuffle_colours[inverse.reshape(ids.shape)] % 20)
    colours[ids == 0] = (0, 0, 0, 1)
    ax.imshow(colours)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


axes[0].imshow(scenes.images[3].transpose(1, 2, 0))
axes[0].set_title("image", fontsize=10), axes[0].axis("off")
show_segments(axes[1], truth_maps[3], "true panoptic map")
for ax, name in zip(axes[2:], ("RoIAlign", "RoIPool", "semantic + components")):
    show_segments(ax, panoptic[name][3], name)
plt.show()

# %% [markdown]
# ### Panoptic quality
#
# How to score a panoptic map? Match every predicted segment with a true segment of the same class
# when their IoU is above 0.5 — such a match is unique, because two segments of one map are disjoint,
# so only one of them can cover more than half of a third. Matched pairs are true positives (TP),
# unmatched predicted segments false positives (FP), unmatched true segments false negatives (FN).
# Per class,
#
# $$PQ = \frac{\sum_{(p, g) \in TP} \mathrm{IoU}(p, g)}{|TP| + \tfrac12 |FP| + \tfrac12 |FN|}
# = \underbrace{\frac{\sum_{TP} \mathrm{IoU}}{|TP|}}_{\text{segmentation quality } SQ} \times
# \underbrace{\frac{|TP|}{|TP| + \tfrac12 |FP| + \tfrac12 |FN|}}_{\text{recognition quality } RQ},$$
#
# and the reported PQ, SQ and RQ are averages over the classes. RQ is the F1 score of detection; SQ
# the mean IoU of what was found. A small worked example: one stuff segment and two digits of class 3
# in a 6×6 map; the prediction finds the first digit a little too wide, misses the second, and
# hallucinates a one-pixel 3.

# %% tags=["nbval-check-output"]
truth_small = np.zeros((6, 6), np.int64)
truth_small[0:2, 0:2] = 3001  # 4 pixels
truth_small[3:6, 3:6] = 3002  # 9 pixels
pred_small = np.zeros((6, 6), np.int64)
pred_small[0:2, 0:3] = 3007  # 6 pixels, 4 of them on 3001: IoU 4/6 (instance numbers need not agree)
pred_small[5, 0] = 3008  # a false positive
# stuff: 23 true pixels, 29 predicted, 20 shared -> IoU 20/32; class 3: TP 1 (IoU 4/6), FP 1, FN 1
pq_stuff, pq_three = 20 / 32 * 1.0, 4 / 6 * (1 / (1 + 0.5 + 0.5))
print(f"by hand: PQ(stuff) = {pq_stuff:.4f}, PQ(3) = {4 / 6:.4f} x {1 / 2:.4f} = {pq_three:.4f}, "
      f"PQ = {(pq_stuff + pq_three) / 2:.4f}")
small = metrics.panoptic_quality(pred_small, truth_small)
print("metrics.panoptic_quality:", {k: round(small[k], 4) for k in ("pq", "sq", "rq")},
      " per class:", np.round(small["per_class_pq"], 4).tolist())
# Expected output:
# by hand: PQ(stuff) = 0.6250, PQ(3) = 0.6667 x 0.5000 = 0.3333, PQ = 0.4792
# metrics.panoptic_quality: {'pq': 0.4792, 'sq': 0.6458, 'rq': 0.75}  per class: [0.625, 0.3333]

# %% [markdown]
# **Exercise (panoptic_quality).** Write `panoptic_quality(pred, target, label_divisor=1000)` for one
# pair of `(H, W)` panoptic maps, returning the tuple `(pq, sq, rq)` averaged over the classes that
# occur in either map (a class with no TP has SQ = 0). Count the pixels of every (true, predicted)
# pair of segments (e.g. `np.unique` of the stacked maps with `return_counts=True`), match pairs
# of one class with IoU > 0.5, then count TP, FP and FN per class. The check switches
# `metrics.panoptic_quality` off while it runs.

# %%
def panoptic_quality(pred, target, label_divisor=1000):
    """(PQ, SQ, RQ), means over classes, of one predicted panoptic map against the true one."""
    pred, target = np.asarray(pred, np.int64), np.asarray(target, np.int64)
    ### BEGIN SOLUTION hint: areas of every segment; for each (true, pred) pair of one class IoU > 0.5 is a TP
    pairs, inter = np.unique(np.stack([target.ravel(), pred.ravel()]), axis=1, return_counts=True)
    area_t = dict(zip(*np.unique(target, return_counts=True)))
    area_p = dict(zip(*np.unique(pred, return_counts=True)))
    stats = {}  # class -> [tp, fp, fn, iou sum]
    hit_t, hit_p = set(), set()
    for (t, p), overlap in zip(pairs.T, inter):
        iou = overlap / (area_t[t] + area_p[p] - overlap)
        if t // label_divisor == p // label_divisor and iou > 0.5:
            row = stats.setdefault(t // label_divisor, [0, 0, 0, 0.0])
            row[0] += 1
            row[3] += iou
            hit_t.add(t)
            hit_p.add(p)
    for segment in area_t:
        if segment not in hit_t:
            stats.setdefault(segment // label_divisor, [0, 0, 0, 0.0])[2] += 1
    for segment in area_p:
        if segment not in hit_p:
            stats.setdefault(segment // label_divisor, [0, 0, 0, 0.0])[1] += 1
    sq = [s[3] / s[0] if s[0] else 0.0 for s in stats.values()]
    rq = [s[0] / (s[0] + 0.5 * s[1] + 0.5 * s[2]) for s in stats.values()]
    return float(np.mean([a * b for a, b in zip(sq, rq)])), float(np.mean(sq)), float(np.mean(rq))
    ### END SOLUTION


# %% grade_id="panoptic_quality"
import numpy as np

from minseg import metrics
from minseg.testing import unavailable

_truth = np.zeros((6, 6), np.int64)
_truth[0:2, 0:2], _truth[3:6, 3:6] = 3001, 3002
_pred = np.zeros((6, 6), np.int64)
_pred[0:2, 0:3], _pred[5, 0] = 3007, 3008
_cases = [(_pred, _truth, 1000, ((20 / 32 + 1 / 3) / 2, (20 / 32 + 4 / 6) / 2, 0.75)),
          (_truth + 5 * (_truth > 0), _truth, 1000, (1.0, 1.0, 1.0)),  # same segments, other instance ids
          (np.where(_truth == 3001, 4001, _truth), _truth, 1000, ((1 + 1 / 1.5 + 0) / 3, 2 / 3, (1 + 1 / 1.5) / 3))]
_rng = np.random.default_rng(16)


def _random_pair(rng, size, divisor):
    target = rng.integers(0, 3, size=size) * divisor + rng.integers(0, 2, size=size)
    target[: size[0] // 2, : size[1] // 2] = 2 * divisor + 5  # one large segment, so that some pairs match
    pred = target.copy()
    flip = rng.random(size) < 0.2
    pred[flip] = rng.integers(0, 3, size=flip.sum()) * divisor + rng.integers(0, 3, size=flip.sum())
    return pred, target


for _size, _divisor in (((8, 8), 1000), ((10, 7), 100)):
    _p, _t = _random_pair(_rng, _size, _divisor)
    _s = metrics.panoptic_quality(_p, _t, label_divisor=_divisor)
    _cases.append((_p, _t, _divisor, (_s["pq"], _s["sq"], _s["rq"])))
### BEGIN HIDDEN TESTS
for _size, _divisor in (((12, 12), 1000), ((5, 9), 10), ((16, 16), 1000)):
    _p, _t = _random_pair(_rng, _size, _divisor)
    _s = metrics.panoptic_quality(_p, _t, label_divisor=_divisor)
    _cases.append((_p, _t, _divisor, (_s["pq"], _s["sq"], _s["rq"])))
### END HIDDEN TESTS
with unavailable(metrics.panoptic_quality):
    for _p, _t, _divisor, _expected in _cases:
        _got = tuple(float(v) for v in panoptic_quality(_p, _t, label_divisor=_divisor))
        np.testing.assert_allclose(_got, _expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"panoptic_quality (pq, sq, rq) of pred ids {np.unique(_p).tolist()} vs "
                                           f"target ids {np.unique(_t).tolist()} (label_divisor {_divisor})")
print("panoptic_quality agrees with the worked examples and with metrics.panoptic_quality")

# %% [markdown]
# PQ of the three panoptic predictions on the 16 scenes (the stuff class and the ten digits; PQ of
# the things alone in the last column):

# %% tags=["nbval-ignore-output"]
for name, maps in panoptic.items():
    result = metrics.panoptic_quality(maps, truth_maps)
    things = result["classes"] > 0
    print(f"{name:20}: PQ {result['pq']:.3f} = SQ {result['sq']:.3f} x RQ {result['rq']:.3f} (per class, averaged)"
          f"   PQ things {result['per_class_pq'][things].mean():.3f}, PQ stuff {result['per_class_pq'][~things].mean():.3f}")

# %% [markdown]
# (The mean PQ over classes is not exactly mean SQ × mean RQ; the product holds class by class.)
# The mask heads were given the true boxes and classes, so their RQ is near 1 and their PQ mostly
# measures SQ — mask quality; a real Mask R-CNN would lose RQ to missed and wrong detections. The
# semantic route has no boxes to lean on: it loses a segment whenever a digit is split or given the
# wrong class.
#
# ## What to remember
#
# - Instance segmentation = detection + a mask per box. R-CNN cropped pixels; Fast R-CNN crops
#   *features* of one shared backbone pass; Faster R-CNN proposes boxes from anchors, labelled
#   positive / negative / neutral by IoU (≥ 0.7 / < 0.3, plus each object's best anchor).
# - RoIPool quantises twice (box to pixels, bins to pixels) and takes the max; RoIAlign samples a
#   regular grid in each exact bin by bilinear interpolation and averages —
#   $f(6.5, 5.8) = 0.1 f_{6,5} + 0.1 f_{7,5} + 0.4 f_{6,6} + 0.4 f_{7,6}$. `aligned=True` shifts by
#   half a pixel so that box edges and pixel centres agree.
# - Mask R-CNN's mask head predicts $C$ sigmoid masks of $m \times m$ per RoI and trains only the
#   ground-truth class's one (binary cross-entropy), on targets cropped from the true mask by RoIAlign;
#   masks are pasted back by bilinear resizing.
# - RoIAlign's gain (+3.4 AP on COCO, more at AP75) comes from not rounding: it matters most for small
#   boxes and on object outlines. Judge a gap against the spread over seeds.
# - Panoptic segmentation labels every pixel with a class and every thing pixel with an instance;
#   $PQ = SQ \times RQ$ per class, from segments matched at IoU > 0.5.
#
# ## Questions to think about
#
# 1. RoIPool takes the max in each bin and RoIAlign the mean, yet the paper's table shows max and
#    average nearly equal for RoIAlign. What does that say about where RoIPool's error comes from?
# 2. Why does the mask loss use only the ground-truth class's mask? What would a softmax over the
#    classes at every pixel force the network to learn that the sigmoid version does not?
# 3. A 28×28 mask pasted onto a 200×200-pixel box is blurry at the edges. What would you change to get
#    sharper outlines for large objects, and what would it cost?
# 4. The match threshold IoU > 0.5 makes matches unique. What would go wrong with a threshold of 0.3?
