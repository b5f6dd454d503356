# %% [markdown]
# # Lecture 07 — The fully connected CRF
#
# A segmentation network decides every pixel on its own. Its label maps therefore have ragged
# boundaries and stray islands, even where the image itself shows a clean edge. DeepLab v1 and v2
# clean them up afterwards with a *fully connected conditional random field* (CRF): an energy that
# charges for disagreeing with the network and for giving different labels to nearby pixels of
# similar colour. The label map we want is the one with the lowest energy. This lecture builds that
# energy, minimises it exactly on a 3×3 toy image, approximates it with mean-field inference, makes
# mean-field fast with the permutohedral lattice, and runs it on a photo and on the predictions of
# the DeepLab models shipped with minseg.
#
# **You will be able to**
# - explain why pixel-wise predictions come out ragged, and what a pairwise term adds;
# - write the unary and the Potts pairwise potentials (appearance and smoothness kernels) and the energy;
# - reproduce the slides' 3×3 example to the last digit, and find its exact minimiser among all 2⁹
#   labelings;
# - derive the mean-field update and compute it naively in O(N²);
# - explain how the permutohedral lattice (splat, blur, slice) makes it O(N), and at what error;
# - say what the CRF gains on real predictions, and why its five parameters are hard to tune.
#
# The four **Exercise** cells are graded (see the grading note above and the last cell). Where an
# exercise rebuilds something minseg has, its check switches the library function off while it runs.
# The library's own CRF is `minseg.crf.DenseCRF`: `energy`, `minimize_exact`, `mean_field` (naive or
# permutohedral) and `predict`.

# %%
import itertools
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage

import minseg as ms
from minseg.crf import DenseCRF, softmax_labels, unary_from_probabilities
from minseg.data import DigitScenes, sample_photo
from minseg.metrics import mean_iou
from minseg.viz import crf as crfviz
from minseg.viz import lattice as latviz

# %% [markdown]
# ## 1. Why per-pixel predictions are ragged
#
# A network's last layer gives, at every pixel $i$, a probability $P(y_i = l)$ for every label $l$;
# the prediction is the most probable label, pixel by pixel. Nothing in that rule looks at the
# neighbours: the labels are treated as independent. Yet they are not: a pixel is very likely to
# have the label of the pixels around it, especially of those with the same colour.
#
# To see what independence costs, take a DigitScenes image and a stand-in for a network's output:
# the true labels, blurred (as after a coarse layer and upsampling), plus independent noise at every
# pixel. Its argmax has blobby, frayed digit boundaries and islands of wrong labels:

# %%
scenes = DigitScenes(1, size=64, split="val", seed=3)
scene_image, scene_truth = scenes[0]
num_classes = DigitScenes.num_classes
_noise = np.random.default_rng(0)
one_hot = np.eye(num_classes)[scene_truth].transpose(2, 0, 1)  # (K, H, W)
scene_logits = 8 * ndimage.gaussian_filter(one_hot, (0, 2, 2)) + _noise.normal(0, 1.0, one_hot.shape)
scene_pred = scene_logits.argmax(axis=0)


def count_regions(labels):
    """Connected regions (4-neighbourhood), summed over the labels present."""
    return sum(ndimage.label(labels == value)[1] for value in np.unique(labels))


scene_rgb = scene_image.transpose(1, 2, 0).astype(np.float64) * 255  # (H, W, 3), colours 0..255
scene_crf = DenseCRF(10.0, 80.0, 13.0, 3.0, 3.0, normalization="symmetric")
scene_after = scene_crf.predict(-np.log(softmax_labels(scene_logits)), scene_rgb, n_iter=5)

# %% tags=["nbval-ignore-output"]
print(f"connected regions: truth {count_regions(scene_truth)}, per-pixel argmax {count_regions(scene_pred)}, "
      f"after the CRF {count_regions(scene_after)}")
print(f"mIoU: per-pixel argmax {mean_iou(scene_pred, scene_truth, num_classes):.3f}, "
      f"after the CRF {mean_iou(scene_after, scene_truth, num_classes):.3f}")
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3), layout="constrained")
for ax, shown, title in zip(axes, [scene_image.transpose(1, 2, 0), scene_truth, scene_pred, scene_after],
                            ["image", "truth", "per-pixel argmax (no CRF)", "after the CRF (section 7)"]):
    ax.imshow(shown, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
plt.show()

# %% [markdown]
# The right-hand panel is what the rest of the lecture builds: each pixel's label chosen jointly
# with all the others, pulled towards the labels of pixels that are near and look alike.
#
# ## 2. The model: unary and pairwise potentials
#
# Number the pixels $i = 1, \dots, N$ (the slides' $MN$ pixels of an $M \times N$ image) and let
# $\mathbf{x} = (x_1, \dots, x_N)$, $x_i \in \{1, \dots, K\}$, be a labeling: the CRF's job is to
# choose it. Two kinds of terms make up its cost.
#
# **Unary potential**: the penalty for disregarding the network,
# $$\theta_i(x_i) = -\log P(y_i = x_i)$$
# (0 for a label the network is sure of, large for one it rules out).
#
# **Pairwise potential**, for every pair of pixels $i \ne j$ (*fully connected*: all pairs, not only
# neighbours):
# $$\theta_{ij}(x_i, x_j) = \mu(x_i, x_j)\Big[w_1 \exp\Big(-\frac{\|p_i - p_j\|^2}{2\theta_\alpha^2}
#   - \frac{\|I_i - I_j\|^2}{2\theta_\beta^2}\Big)
#   + w_2 \exp\Big(-\frac{\|p_i - p_j\|^2}{2\theta_\gamma^2}\Big)\Big]$$
# with the Potts compatibility $\mu(x_i, x_j) = 1$ if $x_i \ne x_j$ and 0 otherwise: a pair pays only
# when its labels differ. $p_i$ is the pixel's position (row, column), $I_i$ its colour.
# - The **appearance kernel** ($w_1$, $\theta_\alpha$, $\theta_\beta$) is large for pixels that are
#   near *and* alike in colour: cutting between them is expensive, cutting along a colour edge cheap.
# - The **smoothness kernel** ($w_2$, $\theta_\gamma$) looks at position only and removes small
#   isolated regions.
#
# The slides call the ranges $\sigma_\alpha, \sigma_\beta, \sigma_\gamma$; they are the same
# $\theta$s. Together the weights form an $N \times N$ matrix
# $W_{ij} = w_1 k^{(1)}_{ij} + w_2 k^{(2)}_{ij}$ ($W_{ii} = 0$), and $\theta_{ij} = \mu(x_i, x_j) W_{ij}$.
# For two neighbouring pixels of a photo:

# %%
def kernel_pair(p_i, p_j, colour_i, colour_j, w1=10.0, theta_alpha=80.0, theta_beta=13.0, w2=3.0,
                theta_gamma=3.0):
    """W_ij for one pair (Euclidean distances), as the formula above."""
    dp = np.sum((np.subtract(p_i, p_j)) ** 2)
    dc = np.sum((np.subtract(colour_i, colour_j)) ** 2)
    return (w1 * np.exp(-dp / (2 * theta_alpha ** 2) - dc / (2 * theta_beta ** 2))
            + w2 * np.exp(-dp / (2 * theta_gamma ** 2)))


print(f"same colour, 1 pixel apart:      {kernel_pair((0, 0), (0, 1), (200, 40, 40), (200, 40, 40)):.3f}")
print(f"colour edge (60 apart), 1 pixel: {kernel_pair((0, 0), (0, 1), (200, 40, 40), (140, 40, 40)):.3f}")
print(f"same colour, 40 pixels apart:    {kernel_pair((0, 0), (0, 40), (200, 40, 40), (200, 40, 40)):.3f}")

# %% [markdown]
# With pydensecrf's usual parameters (colours 0…255) the appearance kernel reaches far
# ($\theta_\alpha = 80$ pixels) but only between similar colours; the smoothness kernel reaches only
# a few pixels ($\theta_\gamma = 3$), whatever the colours.

# %% [markdown]
# **Exercise (kernel_matrix).** Write `pairwise_kernel_matrix(image, w1, theta_alpha, theta_beta, w2,
# theta_gamma, distance="euclidean")`: the $N \times N$ matrix $W$ of an image `(H, W)` or
# `(H, W, C)`, pixels in raster order (row by row), positions $p_i = (\text{row}, \text{column})$,
# zero diagonal. With `distance="chebyshev"` both $\|p_i - p_j\|$ and $\|I_i - I_j\|$ are
# $\max_k |v_k - w_k|$ (the slides' example uses it). minseg's own kernel matrices
# (`ms.crf.dense.pairwise_matrix`, `ms.crf.dense.kernel_matrices`) are unavailable while the check runs.

# %%
def pairwise_kernel_matrix(image, w1, theta_alpha, theta_beta, w2, theta_gamma, distance="euclidean"):
    """W (N, N): w1 exp(-|dp|^2/2θα^2 - |dI|^2/2θβ^2) + w2 exp(-|dp|^2/2θγ^2), zero diagonal."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[:, :, None]
    h, w, c = image.shape
    ### BEGIN SOLUTION hint: positions from np.indices((h, w)); differences: broadcast (N, 1, d) - (1, N, d)
    rows, cols = np.indices((h, w))
    positions = np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.float64)
    colours = image.reshape(h * w, c)

    def squared(v):
        diff = np.abs(v[:, None, :] - v[None, :, :])
        return diff.max(axis=-1) ** 2 if distance == "chebyshev" else (diff ** 2).sum(axis=-1)

    dp, dc = squared(positions), squared(colours)
    weights = (w1 * np.exp(-dp / (2 * theta_alpha ** 2) - dc / (2 * theta_beta ** 2))
               + w2 * np.exp(-dp / (2 * theta_gamma ** 2)))
    np.fill_diagonal(weights, 0.0)
    return weights
    ### END SOLUTION


# %% grade_id="kernel_matrix"
import numpy as np
import torch

import minseg as ms


def _torch_kernels(image, w1, ta, tb, w2, tg, distance):
    """The same matrix through torch.cdist (p = 2 or p = inf), an independent computation."""
    image = np.asarray(image, dtype=np.float64)
    image = image[:, :, None] if image.ndim == 2 else image
    h, w, c = image.shape
    rows, cols = np.indices((h, w))
    pos = torch.tensor(np.stack([rows.ravel(), cols.ravel()], 1), dtype=torch.float64)
    col = torch.tensor(image.reshape(h * w, c))
    p = float("inf") if distance == "chebyshev" else 2.0
    dp, dc = torch.cdist(pos, pos, p=p) ** 2, torch.cdist(col, col, p=p) ** 2
    out = w1 * torch.exp(-dp / (2 * ta ** 2) - dc / (2 * tb ** 2)) + w2 * torch.exp(-dp / (2 * tg ** 2))
    return out.fill_diagonal_(0.0).numpy()


_by_hand = 2 * np.exp(-1.0) + np.exp(-1 / 8)  # one pair: dp = 1, dI = 3: 2 e^(-1/2 - 9/18) + e^(-1/8)
_slide = np.full((3, 3), 255.0)
_slide[1, 1] = 0.0
with ms.testing.unavailable(ms.crf.dense.pairwise_matrix, ms.crf.dense.kernel_matrices):
    _got = pairwise_kernel_matrix(np.array([[0.0, 3.0]]), 2.0, 1.0, 3.0, 1.0, 2.0)
    np.testing.assert_allclose(_got, [[0, _by_hand], [_by_hand, 0]], rtol=1e-12,
                               err_msg="1x2 image [[0, 3]], w1=2, θα=1, θβ=3, w2=1, θγ=2: expected "
                                       "W_01 = 2 exp(-1) + exp(-1/8) = 1.6183 and a zero diagonal")
    _got = pairwise_kernel_matrix(_slide, 1, 1, 1, 1, 1, distance="chebyshev")
    np.testing.assert_allclose(_got[4], [np.exp(-0.5)] * 4 + [0] + [np.exp(-0.5)] * 4, rtol=1e-12,
                               err_msg="the slides' 3x3 image, Chebyshev, all parameters 1: the centre's row "
                                       "should be exp(-1/2) = 0.6065 for each of its 8 neighbours")
    assert abs(_got[0, 8] - 2 * np.exp(-2)) < 1e-12, \
        (f"corner to opposite corner (Chebyshev distance 2, same colour): expected 2 e^-2 = 0.2707, "
         f"got {_got[0, 8]}")
    _got = pairwise_kernel_matrix(_slide, 1, 1, 1, 1, 1)
    assert abs(_got[0, 8] - 2 * np.exp(-4)) < 1e-12, \
        f"corner to opposite corner (Euclidean |dp|^2 = 8): expected 2 e^-4 = 0.0366, got {_got[0, 8]}"
    _rng = np.random.default_rng(7)
    for _ in range(6):
        _shape = tuple(int(v) for v in _rng.integers(1, 5, 2)) + ((3,) if _rng.random() < 0.5 else ())
        _image = _rng.uniform(0, 255, _shape)
        _params = (_rng.uniform(0, 5), _rng.uniform(0.5, 4), _rng.uniform(5, 100), _rng.uniform(0, 5),
                   _rng.uniform(0.5, 4))
        for _distance in ("euclidean", "chebyshev"):
            np.testing.assert_allclose(pairwise_kernel_matrix(_image, *_params, distance=_distance),
                                       _torch_kernels(_image, *_params, _distance), rtol=1e-9, atol=1e-12,
                                       err_msg=f"image of shape {_shape}, parameters {_params}, {_distance}")
    ### BEGIN HIDDEN TESTS
    _image = _rng.uniform(0, 1, (5, 3))
    np.testing.assert_allclose(pairwise_kernel_matrix(_image, 0.7, 2.0, 0.3, 1.3, 1.5),
                               _torch_kernels(_image, 0.7, 2.0, 0.3, 1.3, 1.5, "euclidean"), rtol=1e-9,
                               atol=1e-12, err_msg="a 5x3 grey image")
    ### END HIDDEN TESTS
print("pairwise_kernel_matrix agrees with the hand-worked values and with torch.cdist")

# %% [markdown]
# ## 3. The energy, and the slides' 3×3 example
#
# The CRF's labeling minimises the energy
# $$E(\mathbf{x}) = \sum_i \theta_i(x_i) + \sum_{i<j} \theta_{ij}(x_i, x_j), \qquad
#   \mathbf{x}^\star = \arg\min_{\mathbf{x}} E(\mathbf{x}),$$
# each unordered pair counted once. The slides work one out by hand: a white 3×3 image with a black
# centre; the network is fairly sure that everything is the object (label 1), except the centre,
# which it calls background:
#
# | image | $P(y_i = 1)$ | argmax |
# |---|---|---|
# | 255 255 255 / 255 0 255 / 255 255 255 | 0.8 0.8 0.8 / 0.9 0.1 0.8 / 0.9 0.9 0.9 | 1 1 1 / 1 0 1 / 1 1 1 |
#
# All five parameters are 1. Compare the network's answer $x_A$ (the hole kept) with $x_B$ (all 1).
# To get the slides' numbers, read them in their own units:
# - the logarithm is **base 10**: $4(-\log_{10} 0.8) + 4(-\log_{10} 0.9) - \log_{10} 0.9 = 0.62$
#   (the natural logarithm would give 1.42);
# - the distance is **Chebyshev**, $\|v - w\| = \max_k |v_k - w_k|$, for positions and grey values:
#   all 8 neighbours of the centre, diagonal ones too, are at distance 1;
# - grey values are the raw 0…255, so a black–white pair has $\|I_i - I_j\| = 255$.

# %% tags=["nbval-check-output"]
slide_image = np.full((3, 3), 255.0)
slide_image[1, 1] = 0.0
slide_p1 = np.array([[0.8, 0.8, 0.8], [0.9, 0.1, 0.8], [0.9, 0.9, 0.9]])
slide_prob = np.stack([1 - slide_p1, slide_p1])  # (K=2, 3, 3): background, object
slide_unary = unary_from_probabilities(slide_prob, base=10)  # -log10 P
x_a = np.ones((3, 3), dtype=np.int64)
x_a[1, 1] = 0
x_b = np.ones((3, 3), dtype=np.int64)
slide_crf = DenseCRF(w1=1.0, theta_alpha=1.0, theta_beta=1.0, w2=1.0, theta_gamma=1.0)


def unary_sum(unary, labels):
    """sum_i θ_i(x_i)."""
    rows, cols = np.indices(labels.shape)
    return float(unary[labels, rows, cols].sum())


for name, x in (("x_A", x_a), ("x_B", x_b)):
    total = slide_crf.energy(x, slide_unary, slide_image, distance="chebyshev")
    unary = unary_sum(slide_unary, x)
    print(f"{name}: unary {unary:.2f} + pairwise {total - unary:.2f} = E {total:.2f}")
print(f"slide's formula for x_A's pairwise: 8 [exp(-1/2 - 255^2/2) + exp(-1/2)] = "
      f"{8 * (np.exp(-0.5 - 255 ** 2 / 2) + np.exp(-0.5)):.2f}")
print(f"with the natural log the unaries would be {unary_sum(-np.log(slide_prob), x_a):.2f} and "
      f"{unary_sum(-np.log(slide_prob), x_b):.2f}")
euclid = slide_crf.energy(x_a, slide_unary, slide_image) - unary_sum(slide_unary, x_a)
print(f"with Euclidean distances x_A's pairwise would be 4 e^-1/2 + 4 e^-1 = {euclid:.2f}")
# Expected output:
# x_A: unary 0.62 + pairwise 4.85 = E 5.47
# x_B: unary 1.57 + pairwise 0.00 = E 1.57
# slide's formula for x_A's pairwise: 8 [exp(-1/2 - 255^2/2) + exp(-1/2)] = 4.85
# with the natural log the unaries would be 1.42 and 3.62
# with Euclidean distances x_A's pairwise would be 4 e^-1/2 + 4 e^-1 = 3.90

# %% [markdown]
# **Why 8?** $\mu$ is 1 only for pairs with different labels. In $x_A$ only the centre is 0, so the
# pairs that pay are the centre with each of the other 8 pixels: 8 pairs (counted once each), all at
# Chebyshev distance 1 from the centre, all 255 grey levels away. The appearance term
# $\exp(-\tfrac12 - \tfrac{255^2}{2})$ is about $e^{-32513}$, zero for any computer: across a
# black–white edge the appearance kernel charges nothing. All of the 4.85 is the smoothness kernel,
# $8 e^{-1/2}$. (The slide's formula only lists distance-1 pairs. That is right here: every pair at
# distance 2 is a pair of white pixels with the same label, which pays nothing.)
#
# **Why 0?** In $x_B$ all labels are equal, so $\mu = 0$ for every pair. The energy is the unary
# alone, and $E(x_B) = 1.57 < E(x_A) = 5.47$: the CRF fills the hole. Here are the pairs that pay in
# $x_A$, found by brute force:

# %% tags=["nbval-check-output"]
paying = [(i, j) for i in range(9) for j in range(i + 1, 9) if x_a.ravel()[i] != x_a.ravel()[j]]
print(len(paying), "pairs pay in x_A:", paying)
# Expected output:
# 8 pairs pay in x_A: [(0, 4), (1, 4), (2, 4), (3, 4), (4, 5), (4, 6), (4, 7), (4, 8)]

# %% [markdown]
# **Exercise (energy).** Write `crf_energy(labels, unary, weights)`: $E(\mathbf{x})$ for labels
# `(H, W)`, unary costs `(K, H, W)` and the pairwise matrix `weights` $W$ `(N, N)` (symmetric,
# zero diagonal, raster order), each unordered pair counted once. `DenseCRF.energy` (and
# `ms.crf.dense.energy_reference`) are unavailable while the check runs.

# %%
def crf_energy(labels, unary, weights):
    """E(x) = sum_i unary[x_i, i] + sum_{i<j} W_ij [x_i != x_j]."""
    labels = np.asarray(labels).ravel()
    unary = np.asarray(unary, dtype=np.float64)
    ### BEGIN SOLUTION hint: index the unary with (labels, pixel); differing pairs: labels[:, None] != labels
    flat_unary = unary.reshape(unary.shape[0], -1)
    unary_part = flat_unary[labels, np.arange(labels.size)].sum()
    differ = labels[:, None] != labels[None, :]
    return float(unary_part + 0.5 * np.sum(weights * differ))  # each pair appears twice in W
    ### END SOLUTION


# %% grade_id="energy"
import numpy as np

import minseg as ms


def _weights(image, w1, ta, tb, w2, tg, chebyshev=False):
    """The pairwise matrix W (N, N) from minseg (exercise kernel_matrix is not needed here)."""
    image = np.asarray(image, dtype=np.float64)
    image = image[:, :, None] if image.ndim == 2 else image
    return ms.crf.dense.pairwise_matrix(ms.crf.DenseCRF(w1, ta, tb, w2, tg), image,
                                        "chebyshev" if chebyshev else "euclidean")


_image = np.full((3, 3), 255.0)
_image[1, 1] = 0.0
_p1 = np.array([[0.8, 0.8, 0.8], [0.9, 0.1, 0.8], [0.9, 0.9, 0.9]])
_unary = -np.log10(np.stack([1 - _p1, _p1]))
_x_a, _x_b = np.ones((3, 3), int), np.ones((3, 3), int)
_x_a[1, 1] = 0
_slide_w = _weights(_image, 1, 1, 1, 1, 1, chebyshev=True)
_rng = np.random.default_rng(11)
_cases = []
for _ in range(8):
    _h, _w, _k = (int(v) for v in _rng.integers([1, 1, 2], [5, 5, 4]))
    _img = _rng.uniform(0, 255, (_h, _w, 3))
    _params = (_rng.uniform(0, 5), _rng.uniform(0.5, 4), _rng.uniform(5, 100), _rng.uniform(0, 5),
               _rng.uniform(0.5, 4))
    _u, _x = _rng.uniform(0, 3, (_k, _h, _w)), _rng.integers(0, _k, (_h, _w))
    _cases.append((_x, _u, _weights(_img, *_params), ms.crf.DenseCRF(*_params).energy(_x, _u, _img)))
with ms.testing.unavailable(ms.crf.DenseCRF.energy, ms.crf.dense.energy_reference):
    _got = crf_energy(_x_a, _unary, _slide_w)
    assert round(_got, 2) == 5.47, f"the slides' x_A: expected 0.62 + 4.85 = 5.47, got {_got:.4f}"
    _got = crf_energy(_x_b, _unary, _slide_w)
    assert round(_got, 2) == 1.57, f"the slides' x_B: expected 1.57 + 0 = 1.57, got {_got:.4f}"
    for _x, _u, _wm, _expected in _cases:
        _got = crf_energy(_x, _u, _wm)
        assert abs(_got - _expected) < 1e-9 * max(1.0, abs(_expected)), \
            (f"labels {_x.tolist()} with K = {_u.shape[0]}: expected DenseCRF.energy = {_expected:.6f}, "
             f"got {_got:.6f}")
    ### BEGIN HIDDEN TESTS
    _x = np.zeros((2, 2), int)
    _x[0, 0] = 1
    _wm = np.array([[0, 1, 2, 3], [1, 0, 4, 5], [2, 4, 0, 6], [3, 5, 6, 0]], float)
    _got = crf_energy(_x, np.zeros((2, 2, 2)), _wm)
    assert _got == 6.0, f"pixel 0 alone labelled 1, W_01 + W_02 + W_03 = 6: got {_got}"
    ### END HIDDEN TESTS
print("crf_energy reproduces the slides' 5.47 and 1.57 and agrees with DenseCRF.energy")

# %% [markdown]
# ## 4. The exact minimiser: all 2⁹ labelings
#
# The slides compare two candidates; the CRF compares *all* of them. With $K$ labels and $N$ pixels
# there are $K^N$ labelings: $2^9 = 512$ here, which a computer checks in a blink
# (`DenseCRF.minimize_exact`). On a 64×64 image with 11 labels it would be $11^{4096}$: enumeration
# is for toys, which is why the rest of the lecture approximates.

# %% tags=["nbval-check-output"]
best, best_energy = slide_crf.minimize_exact(slide_unary, slide_image, distance="chebyshev")
print("exact minimiser:", best.tolist(), f"E = {best_energy:.2f}")
all_labelings = np.array(np.meshgrid(*[[0, 1]] * 9, indexing="ij")).reshape(9, -1).T.reshape(-1, 3, 3)
all_energies = np.array([slide_crf.energy(x, slide_unary, slide_image, distance="chebyshev")
                         for x in all_labelings])
print(f"{len(all_energies)} labelings; fewer than E(x_A) = 5.47: "
      f"{int((all_energies < slide_crf.energy(x_a, slide_unary, slide_image, distance='chebyshev')).sum())}")
# Expected output:
# exact minimiser: [[1, 1, 1], [1, 1, 1], [1, 1, 1]] E = 1.57
# 512 labelings; fewer than E(x_A) = 5.47: 1

# %% [markdown]
# So $x_B$ is the best of all 512, and $x_A$, the network's own answer, is the second best. How
# strong must the smoothness term be to fill the hole? Relabelling the centre costs
# $\theta_5(1) - \theta_5(0) = 1 - 0.046 = 0.954$ in the unary and saves $8 w_2 e^{-1/2} = 4.85\,w_2$
# in the pairwise term, so the hole is filled once $w_2 > 0.954 / 4.85 = 0.197$:

# %% tags=["nbval-check-output"]
for w2 in (0.0, 0.1, 0.19, 0.2, 0.5):
    crf = DenseCRF(1.0, 1.0, 1.0, w2, 1.0)
    labels, energy = crf.minimize_exact(slide_unary, slide_image, distance="chebyshev")
    print(f"w2 = {w2:<4}: centre label {labels[1, 1]}, E = {energy:.3f}")
# Expected output:
# w2 = 0.0 : centre label 0, E = 0.616
# w2 = 0.1 : centre label 0, E = 1.102
# w2 = 0.19: centre label 0, E = 1.538
# w2 = 0.2 : centre label 1, E = 1.571
# w2 = 0.5 : centre label 1, E = 1.571

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
order = np.sort(all_energies)
ax.plot(order, ".", ms=3)
for name, x, colour in (("x_B", x_b, "C2"), ("x_A", x_a, "C3")):
    e = slide_crf.energy(x, slide_unary, slide_image, distance="chebyshev")
    ax.axhline(e, color=colour, lw=1, ls="--", label=f"{name}: E = {e:.2f}")
ax.set_xlabel("the 512 labelings, sorted by energy")
ax.set_ylabel("E(x)")
ax.set_title("every labeling of the slides' 3x3 example", fontsize=10)
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# **Exercise (exact_minimiser).** Write `exact_minimiser(unary, weights)`: try every one of the
# $K^N$ labelings of unary costs `(K, H, W)` with the pairwise matrix `weights` `(N, N)` and return
# `(labels (H, W), energy)` of the best (ties: the first in the order of `itertools.product`).
# You may call your `crf_energy` (the check swaps in a correct one while it runs, so a mistake there
# costs nothing here), though one matrix product over all labelings at once is much faster.
# `DenseCRF.minimize_exact` and `DenseCRF.energy` are unavailable while the check runs.

# %%
def exact_minimiser(unary, weights):
    """The labeling (H, W) with the lowest energy among all K^N, and that energy."""
    unary = np.asarray(unary, dtype=np.float64)
    k, h, w = unary.shape
    n = h * w
    ### BEGIN SOLUTION hint: all labelings, (K^N, N): np.array(list(itertools.product(range(k), repeat=n)))
    labelings = np.array(list(itertools.product(range(k), repeat=n)))
    energies = unary.reshape(k, n)[labelings, np.arange(n)].sum(axis=1)
    for label in range(k):  # sum_{i<j} W_ij [x_i = l != x_j], counted from both ends, halved
        a = (labelings == label).astype(np.float64)
        energies += 0.5 * ((a @ weights) * (1.0 - a)).sum(axis=1)
    best = int(np.argmin(energies))
    return labelings[best].reshape(h, w), float(energies[best])
    ### END SOLUTION


# %% grade_id="exact_minimiser"
import numpy as np

import minseg as ms
from course.checks import lend


def _weights(image, w1, ta, tb, w2, tg, chebyshev=False):
    """The pairwise matrix W (N, N) from minseg (exercise kernel_matrix is not needed here)."""
    image = np.asarray(image, dtype=np.float64)
    image = image[:, :, None] if image.ndim == 2 else image
    return ms.crf.dense.pairwise_matrix(ms.crf.DenseCRF(w1, ta, tb, w2, tg), image,
                                        "chebyshev" if chebyshev else "euclidean")


def _energy(labels, unary, weights):
    """A correct crf_energy, lent to the learner's exact_minimiser while this check runs."""
    labels = np.asarray(labels).ravel()
    flat = np.asarray(unary).reshape(np.shape(unary)[0], -1)
    return float(flat[labels, np.arange(labels.size)].sum()
                 + 0.5 * np.sum(weights * (labels[:, None] != labels[None, :])))


_image = np.full((3, 3), 255.0)
_image[1, 1] = 0.0
_p1 = np.array([[0.8, 0.8, 0.8], [0.9, 0.1, 0.8], [0.9, 0.9, 0.9]])
_unary = -np.log10(np.stack([1 - _p1, _p1]))
_rng = np.random.default_rng(12)
_cases = []
for _shape, _k, _strength in (((3, 3), 2, 1.0), ((2, 3), 3, 2.0), ((2, 2), 4, 0.5), ((1, 5), 3, 3.0)):
    _img = _rng.uniform(0, 255, _shape + (3,))
    _params = (_strength, _rng.uniform(1, 3), _rng.uniform(20, 100), _strength, _rng.uniform(1, 3))
    _u = _rng.uniform(0, 3, (_k,) + _shape)
    _cases.append((_u, _weights(_img, *_params), ms.crf.DenseCRF(*_params).minimize_exact(_u, _img)))
with lend(globals(), crf_energy=_energy), \
        ms.testing.unavailable(ms.crf.DenseCRF.minimize_exact, ms.crf.DenseCRF.energy,
                               ms.crf.dense.energy_reference):
    _labels, _e = exact_minimiser(_unary, _weights(_image, 1, 1, 1, 1, 1, chebyshev=True))
    assert np.array_equal(_labels, np.ones((3, 3))) and round(_e, 2) == 1.57, \
        (f"the slides' example: expected x_B (all 1) with E = 1.57, got {np.asarray(_labels).tolist()}, "
         f"E = {_e:.4f}")
    for _u, _wm, (_expected, _expected_e) in _cases:
        _labels, _e = exact_minimiser(_u, _wm)
        assert np.array_equal(_labels, _expected) and abs(_e - _expected_e) < 1e-9, \
            (f"unary of shape {_u.shape}: expected the minimiser {_expected.tolist()} "
             f"with E = {_expected_e:.6f}, "
             f"got {np.asarray(_labels).tolist()} with E = {_e:.6f}")
    ### BEGIN HIDDEN TESTS
    _u = _rng.uniform(0, 3, (2, 2, 3))
    _labels, _e = exact_minimiser(_u, np.zeros((6, 6)))
    assert np.array_equal(_labels, _u.argmin(0)), \
        "with no pairwise term the minimiser is the unary's argmin"
    ### END HIDDEN TESTS
print("exact_minimiser finds x_B and agrees with DenseCRF.minimize_exact")

# %% [markdown]
# ## 5. Mean-field inference
#
# Minimising $E$ exactly is hopeless beyond toys, so DeepLab approximates. Read the energy as a
# probability, $P(\mathbf{x}) = \exp(-E(\mathbf{x}))/Z$, and look for the closest distribution in
# which the pixels are independent, $Q(\mathbf{x}) = \prod_i Q_i(x_i)$, by minimising
# $\mathrm{KL}(Q \,\|\, P) = \mathbb{E}_Q[E] - H(Q) + \log Z$. With Potts pairwise terms,
# $$\mathbb{E}_Q[E] = \sum_i \sum_l Q_i(l)\,\theta_i(l) + \sum_{i<j} W_{ij}\Big(1 - \sum_l Q_i(l) Q_j(l)\Big),
#   \qquad H(Q) = -\sum_i \sum_l Q_i(l) \log Q_i(l).$$
# Set the derivative with respect to one $Q_i(l)$ to zero, with a multiplier for $\sum_l Q_i(l) = 1$:
# $\theta_i(l) - \sum_{j \ne i} W_{ij} Q_j(l) + \log Q_i(l) + \text{const} = 0$, so
# $$Q_i(l) \;\propto\; \exp\Big(-\theta_i(l) + \sum_{j \ne i} W_{ij}\, Q_j(l)\Big)
#   \;=\; \exp\Big(-\theta_i(l) - \sum_{j \ne i} W_{ij} \big(1 - Q_j(l)\big)\Big)\cdot\text{const}.$$
# Mean-field starts from $Q_i = \mathrm{softmax}(-\theta_i)$ (the network's own probabilities when
# $\theta = -\ln P$) and updates every pixel at once, a few times. Each update has three steps:
# 1. **message passing**: $m_i(l) = \sum_{j \ne i} W_{ij} Q_j(l)$, which is
#    $w_1$ times a Gaussian filter of each label's $Q$ image in (position, colour) space plus $w_2$
#    times one in position space;
# 2. **add the unary**: $-\theta_i(l) + m_i(l)$;
# 3. **normalise**: a softmax over the labels at every pixel.
#
# Done naively, step 1 is a sum over all $N^2$ pairs, for each of the $K$ labels. Note that the
# exponential is natural, so from here the unary is $-\ln P$ (the slides' base 10 only rescales it).
#
# **Exercise (mean_field_step).** Write `mean_field_step(q, unary, weights)`: one parallel update of
# all pixels, for `q` and `unary` `(K, N)` and `weights` `(N, N)` (zero diagonal), returning the new
# `(K, N)` (each column sums to 1). `DenseCRF.mean_field`, `DenseCRF.predict` and
# `ms.crf.dense.mean_field_step_reference` are unavailable while the check runs.

# %%
def mean_field_step(q, unary, weights):
    """Q_i(l) <- softmax_l(-unary[l, i] + sum_j W_ij Q_j(l)), all pixels at once."""
    q, unary = np.asarray(q, dtype=np.float64), np.asarray(unary, dtype=np.float64)
    ### BEGIN SOLUTION hint: the message of all labels and pixels is one matrix product; subtract the max
    logits = -unary + q @ weights.T  # m[l, i] = sum_j Q_j(l) W_ij
    logits -= logits.max(axis=0, keepdims=True)
    new = np.exp(logits)
    return new / new.sum(axis=0, keepdims=True)
    ### END SOLUTION


# %% grade_id="mean_field_step"
import numpy as np

import minseg as ms


def _weights(image, w1, ta, tb, w2, tg, chebyshev=False):
    """The pairwise matrix W (N, N) from minseg (exercise kernel_matrix is not needed here)."""
    image = np.asarray(image, dtype=np.float64)
    image = image[:, :, None] if image.ndim == 2 else image
    return ms.crf.dense.pairwise_matrix(ms.crf.DenseCRF(w1, ta, tb, w2, tg), image,
                                        "chebyshev" if chebyshev else "euclidean")


# by hand: two pixels, W_01 = 1, no unary: pixel 0 gets exp(Q_1): 1 / (1 + e^-0.8) = 0.68997;
# pixel 1 stays 1/2
_hand = np.array([[1 / (1 + np.exp(-0.8)), 0.5], [1 - 1 / (1 + np.exp(-0.8)), 0.5]])
_rng = np.random.default_rng(13)
_cases = []
for _ in range(5):
    _h, _w, _k = (int(v) for v in _rng.integers([2, 2, 2], [6, 6, 4]))
    _img = _rng.uniform(0, 255, (_h, _w, 3))
    _params = (_rng.uniform(0, 3), _rng.uniform(1, 4), _rng.uniform(20, 100), _rng.uniform(0, 3),
               _rng.uniform(0.5, 3))
    _u = _rng.uniform(0, 3, (_k, _h, _w))
    _crf = ms.crf.DenseCRF(*_params)
    _cases.append((_u.reshape(_k, -1), _weights(_img, *_params),
                   _crf.mean_field(_u, _img, n_iter=1, method="naive").reshape(_k, -1),
                   _crf.mean_field(_u, _img, n_iter=3, method="naive").reshape(_k, -1)))
with ms.testing.unavailable(ms.crf.DenseCRF.mean_field, ms.crf.DenseCRF.predict,
                            ms.crf.dense.mean_field_step_reference):
    _got = mean_field_step(np.array([[0.5, 0.9], [0.5, 0.1]]), np.zeros((2, 2)), np.array([[0.0, 1], [1, 0]]))
    np.testing.assert_allclose(_got, _hand, rtol=1e-9, err_msg="two pixels, W_01 = 1, no unary, "
                               "Q = [[0.5, 0.9], [0.5, 0.1]]: expected [[0.690, 0.5], [0.310, 0.5]]")
    for _u, _wm, _one, _three in _cases:
        _q0 = np.exp(-_u) / np.exp(-_u).sum(0)
        np.testing.assert_allclose(mean_field_step(_q0, _u, _wm), _one, rtol=1e-9, atol=1e-12,
                                   err_msg=f"one update from softmax(-unary), unary of shape {_u.shape}, "
                                           "against DenseCRF.mean_field(n_iter=1, method='naive')")
        _q = _q0
        for _ in range(3):
            _q = mean_field_step(_q, _u, _wm)
        np.testing.assert_allclose(_q, _three, rtol=1e-9, atol=1e-12,
                                   err_msg=f"three updates, unary of shape {_u.shape}, against n_iter=3")
    ### BEGIN HIDDEN TESTS
    _big = mean_field_step(np.full((2, 3), 0.5), np.array([[0.0, 800.0, 0.0], [800.0, 0.0, 0.0]]),
                           np.zeros((3, 3)))
    np.testing.assert_allclose(_big, [[1, 0, 0.5], [0, 1, 0.5]], atol=1e-12,
                               err_msg="unary costs of 800 must not overflow: subtract the max before exp")
    ### END HIDDEN TESTS
print("mean_field_step agrees with the hand-worked update and with DenseCRF.mean_field (naive)")

# %% [markdown]
# minseg's own update (`DenseCRF.mean_field`, exact filter) against the same three steps written in
# PyTorch, on a random image and unary:

# %%
import torch

mf_image, mf_crf = np.random.default_rng(4).uniform(0, 255, (5, 6, 3)), DenseCRF(1.0, 3.0, 50.0, 1.0, 1.5)
mf_weights = torch.tensor(ms.crf.dense.pairwise_matrix(mf_crf, mf_image))  # W (N, N)
ms.testing.check_op(
    lambda u: ms.tensor(mf_crf.mean_field(u.data, mf_image, n_iter=1, method="naive")),
    [np.random.default_rng(5).uniform(0, 3, (3, 5, 6))],
    lambda u: torch.softmax(-u + (torch.softmax(-u, 0).reshape(3, -1) @ mf_weights.T).reshape(u.shape), 0),
    differentiable=(), rtol=1e-10, atol=1e-12)  # forward only: mean_field works on arrays
print("one mean-field update: minseg == torch")

# %% [markdown]
# minseg's naive mean-field on the slides' example (natural log, Euclidean distance, all parameters
# 1): the centre's probability of being the object grows from the network's 0.1, and the
# mean-field objective $\mathrm{KL}(Q\|P) - \log Z$ falls at each step:

# %% tags=["nbval-check-output"]
ln_unary = unary_from_probabilities(slide_prob)  # natural log
labels, history = slide_crf.predict(ln_unary, slide_image, n_iter=4, method="naive", return_history=True)
for step, q in enumerate(history):
    print(f"iteration {step}: Q_centre(object) = {q[1, 1, 1]:.3f}, "
          f"KL objective = {slide_crf.kl_objective(q, ln_unary, slide_image):.3f}")
print("labels:", labels.tolist())
# Expected output:
# iteration 0: Q_centre(object) = 0.100, KL objective = 7.015
# iteration 1: Q_centre(object) = 0.630, KL objective = 3.672
# iteration 2: Q_centre(object) = 0.827, KL objective = 3.425
# iteration 3: Q_centre(object) = 0.842, KL objective = 3.423
# iteration 4: Q_centre(object) = 0.843, KL objective = 3.423
# labels: [[1, 1, 1], [1, 1, 1], [1, 1, 1]]

# %% [markdown]
# ## 6. The permutohedral lattice: from O(N²) to O(N)
#
# The message $\sum_j k(f_i, f_j)\, Q_j(l)$ is a Gaussian filter over *feature* vectors
# $f_i = (p_i/\theta_\alpha, I_i/\theta_\beta)$: five numbers for a colour pixel. The smoothness
# kernel alone would be an ordinary Gaussian blur of the image grid; the appearance kernel is not,
# because colour is part of the distance: in (position, colour) space the pixels are scattered points. Adams,
# Baek and Davis (2010) filter them on the **permutohedral lattice**, a tiling of $d$-dimensional
# space by simplices (triangles for $d = 2$) whose vertices can be found and hashed cheaply:
# 1. **splat**: each point spreads its value onto the $d + 1$ vertices of its simplex, with its
#    barycentric weights;
# 2. **blur**: along each of the $d + 1$ lattice directions, every vertex takes
#    $\tfrac12$ of each neighbour (the kernel $[\tfrac12, 1, \tfrac12]$): together about a Gaussian;
# 3. **slice**: each point reads back the barycentric mix of its $d + 1$ vertices.
#
# Every step is linear in the number of points (times $d^2$), whatever the kernel's width. Below,
# a 1-D signal with a step, whose features are (position / $\theta_x$, value / $\theta_I$), so that
# the lattice is the triangular one in the plane (drawn flat: the lattice lives in the plane
# $x+y+z=0$ of $\mathbb{R}^3$). The two plateaus are far apart in feature space: the blur never mixes
# them, and the filter smooths the noise without blurring the step (a bilateral filter: the
# appearance kernel's job).

# %% tags=["nbval-ignore-output"]
step_signal = np.where(np.arange(24) < 12, 0.2, 0.8) + np.random.default_rng(0).normal(0, 0.05, 24)
lattice_fig = latviz.draw_lattice(step_signal, theta_x=4.0, theta_i=0.15)
lattice_fig

# %% [markdown]
# minseg's lattice (`method="permutohedral"`, Numba, any dimension) runs the same three steps; the
# picture's NumPy version (`minseg.viz.lattice.splat_blur_slice`) is checked against it in the test
# suite. The lattice is an approximation: its blurred tent is not exactly a Gaussian. How far off is it
# on a real image? Compare one message (the filter of a random $Q$) and five mean-field iterations
# with the naive, exact filter on a 40×60 photo, with the noisy unary of the next section:

# %%
def noisy_unary(image, factor, noise, seed):
    """A blocky three-label unary for ``image`` (H, W, 3), plus independent noise at every pixel."""
    unary, _, _ = ms.crf.coarse_unary(image, num_labels=3, factor=factor, confidence=0.6, seed=0)
    logits = -unary + np.random.default_rng(seed).normal(0, noise, unary.shape)
    return -np.log(softmax_labels(logits))


# %% tags=["nbval-ignore-output"]
from minseg.crf.filters import DenseFilter, LatticeFilter, kernel_features

small_photo = sample_photo("coffee", size=(40, 60)).transpose(1, 2, 0).astype(np.float64) * 255
appearance_features, smoothness_features = kernel_features(small_photo, 80.0, 13.0, 3.0)
random_q = np.random.default_rng(1).dirichlet(np.ones(3), size=40 * 60)  # (N, K)
for name, features in (("appearance", appearance_features), ("smoothness", smoothness_features)):
    exact, approx = DenseFilter(features)(random_q), LatticeFilter(features)(random_q)
    print(f"{name} message: relative error {np.linalg.norm(approx - exact) / np.linalg.norm(exact):.3f}")
photo_unary = noisy_unary(small_photo, factor=4, noise=0.8, seed=0)
photo_crf = DenseCRF(10.0, 80.0, 13.0, 3.0, 3.0, normalization="symmetric")
q_naive = photo_crf.mean_field(photo_unary, small_photo, n_iter=5, method="naive")
q_lattice = photo_crf.mean_field(photo_unary, small_photo, n_iter=5, method="permutohedral")
print(f"after 5 iterations: |Q_naive - Q_lattice| is {np.abs(q_naive - q_lattice).mean():.3f} on average, "
      f"{np.abs(q_naive - q_lattice).max():.3f} at most; "
      f"labels agree on {np.mean(q_naive.argmax(0) == q_lattice.argmax(0)):.1%} of the pixels")

# %% [markdown]
# A few percent on each message, and nearly the same labels. What it buys: time. One mean-field
# iteration, naive against lattice, on growing images (the naive one only up to about 1,500
# pixels; printed times depend on the machine):

# %% tags=["nbval-ignore-output"]
def seconds_per_iteration(height, method, repeats=2):
    """Best of ``repeats`` runs of one mean-field iteration (lattice building included) on the photo."""
    image = sample_photo("coffee", size=(height, height * 3 // 2)).transpose(1, 2, 0).astype(np.float64) * 255
    unary = np.random.default_rng(3).uniform(0, 2, (3,) + image.shape[:2])
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        photo_crf.mean_field(unary, image, n_iter=1, method=method)
        best = min(best, time.perf_counter() - start)
    return image.shape[0] * image.shape[1], best


seconds_per_iteration(8, "naive"), seconds_per_iteration(8, "permutohedral")  # warm up (JIT caches)
timings = {"naive": [seconds_per_iteration(h, "naive") for h in (8, 16, 24, 32)],
           "permutohedral": [seconds_per_iteration(h, "permutohedral") for h in (8, 16, 32, 64, 128, 192)]}
fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
for method, points in timings.items():
    pixels, secs = np.array(points).T
    ax.loglog(pixels, secs, "o-", label=method)
    print(method, ", ".join(f"{int(n)} px: {s * 1e3:.1f} ms" for n, s in points))
ax.set_xlabel("pixels N")
ax.set_ylabel("seconds per mean-field iteration")
ax.set_title("naive grows like N², the lattice like N", fontsize=10)
ax.legend()
plt.show()

# %% [markdown]
# ## 7. A photo: the coffee cup, iteration by iteration
#
# scikit-image's coffee photo, with a noisy unary: a blocky three-label guess (the photo's colours
# clustered on 8×8 blocks, as if from a coarse network, `ms.crf.coarse_unary`), plus independent noise
# at every pixel. On a whole photo, with $\theta_\alpha = 80$ pixels, a pixel has thousands of
# neighbours within reach, so $\sum_j k_{ij}$ grows with the image and the plain formula's weights
# would have to shrink with it. minseg (with `normalization="symmetric"`) does as pydensecrf:
# each kernel is divided by $\sqrt{d_i d_j}$, $d_i = \sum_{j\ne i} k_{ij}$, and then the usual
# $w_1 = 10$, $\theta_\alpha = 80$, $\theta_\beta = 13$, $w_2 = 3$, $\theta_\gamma = 3$ (colours
# 0…255) work.

# %%
coffee = sample_photo("coffee", size=(120, 180)).transpose(1, 2, 0).astype(np.float64) * 255
coffee_unary = noisy_unary(coffee, factor=8, noise=0.8, seed=0)
coffee_labels, coffee_history = photo_crf.predict(coffee_unary, coffee, n_iter=10, return_history=True)
coffee_steps = coffee_history.argmax(axis=1)

# %% tags=["nbval-ignore-output"]
shown_steps = (0, 1, 2, 3, 5, 10)
fig, axes = plt.subplots(1, len(shown_steps) + 1, figsize=(13, 2.4), layout="constrained")
axes[0].imshow(coffee.astype(np.uint8))
axes[0].set_title("coffee", fontsize=10)
for ax, step in zip(axes[1:], shown_steps):
    crfviz.show_labels(ax, coffee_steps[step], 3, "unary's labels" if step == 0 else f"after {step}")
axes[0].axis("off")
plt.show()
print("pixels changed by each iteration:",
      [int(np.count_nonzero(coffee_steps[t] != coffee_steps[t - 1])) for t in range(1, 11)])

# %% [markdown]
# The first iteration does most of the work; then fewer and fewer pixels change. The islands go,
# and the boundaries follow the cup's rim and the saucer, because cutting along a colour edge is
# cheap.
#
# ### The mean-field explorer
#
# Move the iteration slider and the five parameters (on a 32×48 copy of the photo, so that each
# redraw is quick). The right panel is the exact energy $E(\mathbf{x})$ of Q's labels after each
# iteration. Try $w_1 = w_2 = 0$ (nothing changes), a tiny $\theta_\beta$ (colour differences
# forbid almost every smoothing), a large one (the appearance kernel ignores colour and smears across
# edges), or a large $w_2$ with a large $\theta_\gamma$.

# %%
explorer_image = sample_photo("coffee", size=(32, 48)).transpose(1, 2, 0).astype(np.float64) * 255
explorer = crfviz.MeanFieldExplorer(explorer_image, noisy_unary(explorer_image, factor=4, noise=0.8, seed=0))

# %% tags=["nbval-ignore-output"]
explorer.widget()

# %% tags=["nbval-ignore-output"]
explorer.static_figure(iterations=(0, 1, 2, 5))

# %% [markdown]
# ## 8. DeepLab's predictions, before and after the CRF
#
# DeepLab v1 and v2 run this CRF on their outputs (no training: a post-processing step). The paper's
# table (PASCAL VOC 2012 val, mean IoU, VGG-16; LargeFOV: one branch, rate 12; ASPP-S and ASPP-L:
# four branches with rates {2, 4, 8, 12} and {6, 12, 18, 24}):

# %% tags=["nbval-check-output"]
paper = {"LargeFOV": (65.76, 69.84), "ASPP-S": (66.98, 69.73), "ASPP-L": (68.96, 71.57)}
print(f"{'method':10} {'before CRF':>10} {'after CRF':>10} {'gain':>6}")
for method, (before, after) in paper.items():
    print(f"{method:10} {before:10.2f} {after:10.2f} {after - before:+6.2f}")
# Expected output:
# method     before CRF  after CRF   gain
# LargeFOV        65.76      69.84  +4.08
# ASPP-S          66.98      69.73  +2.75
# ASPP-L          68.96      71.57  +2.61

# %% [markdown]
# minseg ships small DeepLab models trained on DigitScenes (`minseg.models.pretrained`): LargeFOV
# (v1), DeepLabv3 (ASPP) and DeepLabv3+. Their probabilities give the unary, $\theta = -\ln P$.
# The CRF's parameters are chosen by a small grid search on a **held-out tuning set**: fresh scenes
# (seed 2026, never used for training) drawn from the training digits. The validation scenes are
# used once, at the end, to report the scores, as one should (the paper cross-validated on a subset
# of its val set).

# %%
from minseg.models import pretrained
from minseg.training import predict

DEEPLABS = {"deeplab_largefov": "LargeFOV (v1)", "deeplabv3": "DeepLabv3 (ASPP)",
            "deeplabv3plus": "DeepLabv3+"}
tuning = DigitScenes(8, size=64, split="train", seed=2026)
validation = DigitScenes(32, size=64, split="val", seed=0)


def crf_labels(crf, probabilities, images):
    """The CRF's labels for every image: probabilities (B, K, H, W), images (B, 3, H, W) in [0, 1].

    Each label costs a filter per iteration, so the labels the network gives less than 0.001
    everywhere in an image are left out (they cannot win: their Q stays near 0).
    """
    out = []
    for prob, image in zip(probabilities, images):
        kept = np.flatnonzero(prob.max(axis=(1, 2)) > 1e-3)
        if len(kept) == 1:  # the network is sure of one label everywhere: nothing to decide
            out.append(np.full(prob.shape[1:], kept[0]))
            continue
        unary = -np.log(np.clip(prob[kept], 1e-8, None))
        out.append(kept[crf.predict(unary, image.transpose(1, 2, 0).astype(np.float64) * 255, n_iter=5)])
    return np.stack(out)


def probabilities_of(model, data):
    """softmax of the model's scores (B, K, H, W)."""
    return softmax_labels(predict(model, data.images).transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


GRID = {"w1": (3.0, 10.0), "theta_alpha": (20.0,), "theta_beta": (8.0, 20.0, 40.0)}  # w2 = 3, θγ = 1


def grid_search(probabilities, data):
    """mIoU on ``data`` for every CRF of the grid: {(w1, θα, θβ): mIoU}."""
    scores = {}
    for w1, theta_alpha, theta_beta in itertools.product(*GRID.values()):
        crf = DenseCRF(w1, theta_alpha, theta_beta, 3.0, 1.0, normalization="symmetric")
        labels = crf_labels(crf, probabilities, data.images)
        scores[w1, theta_alpha, theta_beta] = mean_iou(labels, data.masks, num_classes)
    return scores

# %% tags=["nbval-ignore-output"]
results = {}
for name, title in DEEPLABS.items():
    model = pretrained.load(name)
    tuning_probabilities = probabilities_of(model, tuning)
    scores = grid_search(tuning_probabilities, tuning)
    best = max(scores, key=scores.get)
    val_probabilities = probabilities_of(model, validation)
    val_before = val_probabilities.argmax(1)
    val_after = crf_labels(DenseCRF(*best, 3.0, 1.0, normalization="symmetric"), val_probabilities,
                           validation.images)
    results[name] = dict(before=mean_iou(val_before, validation.masks, num_classes), val_before=val_before,
                         after=mean_iou(val_after, validation.masks, num_classes), val_after=val_after,
                         best=best, scores=scores,
                         tuning_before=mean_iou(tuning_probabilities.argmax(1), tuning.masks, num_classes))
print(f"{'model':18} {'val mIoU before':>15} {'after CRF':>10} {'gain':>6}   "
      "CRF (w1, θα, θβ) from the tuning set")
for name, r in results.items():
    print(f"{DEEPLABS[name]:18} {100 * r['before']:15.2f} {100 * r['after']:10.2f} "
          f"{100 * (r['after'] - r['before']):+6.2f}   {r['best']}")

# %% [markdown]
# Three validation scenes, with the last model's labels before and after its CRF:

# %% tags=["nbval-ignore-output"]
last = results["deeplabv3plus"]
fig, axes = plt.subplots(3, 4, figsize=(9, 7), layout="constrained")
for row, index in zip(axes, (0, 1, 2)):
    shown = [validation.images[index].transpose(1, 2, 0), validation.masks[index], last["val_before"][index],
             last["val_after"][index]]
    for ax, picture, title in zip(row, shown, ["image", "truth", "DeepLabv3+ (no CRF)", "after the CRF"]):
        ax.imshow(picture, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
plt.show()

# %% [markdown]
# The CRF can only move labels the network already considers: it straightens boundaries along the
# digits' colour edges and removes islands, but a digit the network calls by the wrong class stays
# wrong, and a digit it misses entirely stays missed. How much it adds depends on how many of the
# network's errors are of the first kind, which is also why the paper's gain shrinks as the network
# gets better.

# %% [markdown]
# ## 9. Why the parameters are hard to tune
#
# The slides end with a warning: tuning $\theta_\alpha, \theta_\beta, \theta_\gamma$ (and the
# weights) "may be a difficult task in practice". The grid search shows why. Here is what the CRF
# adds to the tuning set's mIoU (in points) at every point of the grid ($\theta_\alpha = 20$,
# $w_2 = 3$, $\theta_\gamma = 1$), for each model:

# %% tags=["nbval-ignore-output"]
theta_alpha = GRID["theta_alpha"][0]
gains = {name: 100 * np.array([[r["scores"][w1, theta_alpha, tb] - r["tuning_before"]
                                for tb in GRID["theta_beta"]] for w1 in GRID["w1"]])
         for name, r in results.items()}
limit = 1.5 * max(np.abs(g).max() for g in gains.values()) + 1e-9  # one colour scale, light enough for text
fig, axes = plt.subplots(1, len(results), figsize=(12, 3.0), layout="constrained")
for ax, (name, gain) in zip(axes, gains.items()):
    ax.imshow(gain, cmap="RdBu", vmin=-limit, vmax=limit)
    for (row, col), v in np.ndenumerate(gain):
        ax.text(col, row, f"{v:+.1f}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(len(GRID["theta_beta"])), GRID["theta_beta"])
    ax.set_yticks(range(len(GRID["w1"])), GRID["w1"])
    ax.set_xlabel("θβ (colour)")
    ax.set_ylabel("w1")
    ax.set_title(f"{DEEPLABS[name]}: tuning mIoU gain\n(no CRF: {100 * results[name]['tuning_before']:.1f})",
                 fontsize=10)
plt.show()

# %% [markdown]
# - **No gradient.** mIoU is a step function of the parameters (labels flip), so the search is a
#   grid or random search, each point a full run of the CRF over a data set: 6 points here, on 8
#   small images, already take seconds, and five parameters would need far more.
# - **They interact.** $w_1$ trades against the unary's scale (a more confident network needs a
#   stronger pairwise term), and $\theta_\alpha$ against $\theta_\beta$ (how far to reach versus how
#   alike the colours must be). One-at-a-time tuning misses the ridge.
# - **They belong to the data and the network.** $\theta_\beta$ is in colour units, $\theta_\alpha$
#   in pixels: a different resolution, camera or data set moves the optimum, and so does a better
#   network, whose errors are of a different kind (the paper's gain shrinks from +4.1 to +2.6 as the
#   network improves).
# - **Small held-out sets overfit.** Differences of a few tenths of a point between grid cells are
#   often noise; the chosen setting must be checked on data it was not chosen on. (CRF-as-RNN later
#   unrolled mean-field into the network to *learn* the parameters with back-propagation.)
#
# ## What to remember
#
# - Networks label pixels independently; the fully connected CRF adds the dependence: a unary
#   $-\log P$ (trust the network) and a Potts pairwise term that charges $w_1 k^{(1)} + w_2 k^{(2)}$
#   for every pair with different labels, large for near pixels of similar colour.
# - $E(\mathbf{x}) = \sum_i \theta_i(x_i) + \sum_{i<j} \mu(x_i,x_j) W_{ij}$; the slides' example
#   (log base 10, Chebyshev distance) gives $0.62 + 4.85$ for the hole against $1.57 + 0$ without
#   it, and $x_B$ is the exact minimiser of all 512 labelings.
# - Mean-field: $Q_i(l) \propto \exp(-\theta_i(l) + \sum_{j\ne i} W_{ij} Q_j(l))$, all pixels at once,
#   a few iterations; the message is a Gaussian filter.
# - The permutohedral lattice (splat, blur, slice) makes that filter O(N), for a few percent error.
# - The CRF is post-processing without training; its five parameters are tuned on held-out data,
#   and tuning them is hard.
#
# ## Questions to think about
#
# 1. The unary of $x_B$ was computed with $\log_{10}$, but mean-field exponentiates with $e$. What
#    changes if you feed the base-10 unary to mean-field, and which parameter could make up for it?
# 2. The appearance kernel can never smooth across a colour edge. When would that be wrong (think of
#    a striped shirt, or shadows), and which kernel still helps there?
# 3. Mean-field updates all pixels in parallel. Can $E$ of Q's labels go *up* from one iteration to
#    the next? (Try a large $w_2$ in the explorer.)
# 4. Why does the CRF help DigitScenes' models more, or less, than VOC's? Think about how DigitScenes
#    is drawn: is a colour edge always a label edge there?
