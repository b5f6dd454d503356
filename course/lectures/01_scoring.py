# %% [markdown]
# # Lecture 01 — What segmentation is, and how it is scored
#
# Segmentation asks for an answer at every pixel. Before building networks that give such answers we
# need two things: a clear idea of *which* question is asked (there are four common ones), and a way
# to say how good an answer is. This notebook covers both.
#
# **You will be able to**
# - tell classification, semantic, instance and panoptic segmentation apart, and *things* from *stuff*;
# - compute the Jaccard index (IoU) and the Dice coefficient of two sets, of two masks, per class and
#   averaged over classes;
# - build a confusion matrix and read every metric off it;
# - write the soft Dice loss, and explain why it reacts differently from per-pixel cross-entropy.
#
# Cells headed **Exercise** are graded: replace the `raise NotImplementedError(...)` line with your
# code (its message is a hint). The locked cell after each exercise checks your answer; when it fails,
# its message says on which input, what was expected and what your function returned. Each check makes
# its own data and imports, so every exercise is graded on its own. The exercises ask you to build what
# `minseg.metrics` and `minseg.functional` already have: while a check runs, those library functions are
# unavailable (calling them raises), so your function must compute the answer itself.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minseg as ms
import minseg.functional as F
from minseg import metrics
from minseg.data import CLASSES, DigitScenes
from minseg.viz import scoring

# %% [markdown]
# ## 1. Four questions about one image
#
# Our data set is **DigitScenes**: handwritten digits (from scikit-learn's 8×8 digit images, scaled
# up and coloured) placed on a textured background. Every scene comes with an image `(3, H, W)` in
# [0, 1] and a mask `(H, W)` of class indices: 0 is the background, 1 … 10 are the digits 0 … 9.
# Training data for segmentation is exactly this: *pairs of image and mask*.

# %%
scenes = DigitScenes(16, size=64, seed=2)
# a scene in which two digits share a class (so semantic and instance segmentation differ)
pick = next(i for i, inst in enumerate(scenes.instances) if len(set(inst["labels"])) < len(inst["labels"]))
image, mask, instances = scenes.images[pick], scenes.masks[pick], scenes.instances[pick]
print("image", image.shape, image.dtype, "mask", mask.shape, mask.dtype)
print("classes:", CLASSES)

# %% [markdown]
# The same scene answers four different questions:
#
# | task | the answer | here |
# |---|---|---|
# | classification | one label (or a set of labels) per image | which digits appear |
# | semantic segmentation | a class for every pixel; two objects of one class merge | the mask |
# | instance segmentation | a separate mask per object, but only for countable objects | one mask per digit |
# | panoptic segmentation | a class for every pixel *and* an object id for the countable ones | both |
#
# The countable objects are called **things** (a cat, a car, a digit); the regions that have no
# natural instances — sky, grass, road, our textured background — are **stuff**. Detection and
# instance segmentation only deal with things, semantic segmentation gives every pixel a class but
# cannot tell two touching cats apart, and panoptic segmentation does both.

# %% tags=["nbval-ignore-output"]
scoring.tasks_figure(image, mask, instances, CLASSES)

# %% [markdown]
# Look at the two digits of the same class: the semantic mask paints them in one colour, the
# instance masks keep them apart. In numbers:

# %%
present = [CLASSES[c] for c in np.unique(mask) if c != 0]
print("classification:", present)
print("semantic: pixels per class", {CLASSES[c]: int((mask == c).sum()) for c in np.unique(mask)})
print("instance:", [(CLASSES[c], int(m.sum())) for c, m in zip(instances["labels"], instances["masks"])])

# %% [markdown]
# ## 2. Comparing two sets: Jaccard and Dice
#
# A mask is a set of pixels. For two finite sets $A$ (the prediction) and $B$ (the truth), not both
# empty, two scores measure how well they agree:
#
# $$J(A,B) = \frac{|A\cap B|}{|A\cup B|} \qquad\qquad D(A,B) = \frac{2\,|A\cap B|}{|A|+|B|}$$
#
# The Jaccard index is better known in segmentation as **IoU**, *intersection over union*. Both are 1
# when $A = B$ and 0 when the sets do not meet. They always rank predictions in the same order,
# because $D = 2J/(1+J)$ (try to prove it: $|A|+|B| = |A\cup B| + |A\cap B|$). Dice is never smaller
# than IoU.

# %% tags=["nbval-check-output"]
A, B = {1, 2, 3, 4}, {3, 4, 5}
J = len(A & B) / len(A | B)
D = 2 * len(A & B) / (len(A) + len(B))
print(f"J = {J:.4f}  D = {D:.4f}  2J/(1+J) = {2 * J / (1 + J):.4f}")
# Expected output:
# J = 0.4000  D = 0.5714  2J/(1+J) = 0.5714

# %% [markdown]
# ### From sets to label maps, class by class
#
# A predicted label map and a true one give, for every class $c$, two sets: the pixels predicted as
# $c$ and the pixels that are $c$. IoU and Dice are computed per class. A class that appears in
# neither map has no score at all (0/0): we return `nan` for it, and averages skip it.
#
# A 3×3 toy case to work by hand (classes 0, 1, 2; class 3 appears nowhere). Class 1 is predicted
# at 3 pixels and true at 4, and they share 3: its IoU is 3/4 and its Dice 6/7.

# %%
toy_pred = np.array([[0, 1, 1], [0, 1, 2], [2, 2, 2]])
toy_target = np.array([[0, 1, 1], [1, 1, 2], [0, 2, 2]])
print("toy prediction:\n", toy_pred, "\ntoy truth:\n", toy_target)

# %% [markdown]
# **Exercise (iou).** Write `iou_per_class(pred, target, num_classes)` returning a float array of
# length `num_classes` with the IoU of every class, `nan` where the class is absent from both. Build it
# from NumPy: `minseg.metrics`' scores (`iou`, `dice`, `confusion_matrix`, ...) are unavailable while
# the check runs.

# %%
def iou_per_class(pred, target, num_classes):
    """IoU of every class c between two integer label maps of the same shape (nan: class absent)."""
    pred, target = np.asarray(pred), np.asarray(target)
    ### BEGIN SOLUTION hint: for each class c, count np.logical_and / np.logical_or of pred == c, target == c
    scores = np.full(num_classes, np.nan)
    for c in range(num_classes):
        a, b = pred == c, target == c
        union = np.logical_or(a, b).sum()
        if union:
            scores[c] = np.logical_and(a, b).sum() / union
    return scores
    ### END SOLUTION


# %% grade_id="iou"
import numpy as np
from minseg import metrics
from minseg.testing import unavailable

_toy_pred = np.array([[0, 1, 1], [0, 1, 2], [2, 2, 2]])
_toy_target = np.array([[0, 1, 1], [1, 1, 2], [0, 2, 2]])
_rng = np.random.default_rng(1)
_cases = [(_p, _t, metrics.iou(_p, _t, 5)) for _p, _t in _rng.integers(0, 4, size=(20, 2, 3, 4))]
### BEGIN HIDDEN TESTS
_cases += [(_p, _t, metrics.iou(_p, _t, 6)) for _p, _t in _rng.integers(0, 5, size=(10, 2, 1, 9))]
### END HIDDEN TESTS
with unavailable(metrics.iou, metrics.dice, metrics.mean_iou, metrics.confusion_matrix,
                 metrics.confusion_matrix_reference, metrics.iou_from_confusion, metrics.dice_from_confusion):
    np.testing.assert_allclose(iou_per_class(_toy_pred, _toy_target, 4), [1 / 3, 3 / 4, 3 / 4, np.nan],
                               err_msg="iou_per_class(toy_pred, toy_target, 4), the 3x3 toy case above")
    # the sets A = {1, 2, 3, 4} and B = {3, 4, 5} as masks over the elements 0 ... 5
    np.testing.assert_allclose(iou_per_class([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], 2)[1], 0.4,
                               err_msg="class 1 of iou_per_class([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], 2)")
    for _p, _t, _expected in _cases:
        np.testing.assert_allclose(iou_per_class(_p, _t, len(_expected)), _expected,
                                   err_msg=f"iou_per_class(pred, target, {len(_expected)}) with\n"
                                           f"pred={_p.tolist()}\ntarget={_t.tolist()}")
print("iou_per_class agrees with the hand-worked cases and with minseg.metrics.iou")

# %% [markdown]
# **Exercise (dice).** The same for the Dice coefficient: `dice_per_class(pred, target, num_classes)`
# (again without `minseg.metrics`, which is unavailable while the check runs).

# %%
def dice_per_class(pred, target, num_classes):
    """Dice of every class c between two integer label maps (nan where the class is absent)."""
    pred, target = np.asarray(pred), np.asarray(target)
    ### BEGIN SOLUTION hint: 2 * |A and B| / (|A| + |B|) with A = (pred == c), B = (target == c)
    scores = np.full(num_classes, np.nan)
    for c in range(num_classes):
        a, b = pred == c, target == c
        total = a.sum() + b.sum()
        if total:
            scores[c] = 2 * np.logical_and(a, b).sum() / total
    return scores
    ### END SOLUTION


# %% grade_id="dice"
import numpy as np
from minseg import metrics
from minseg.testing import unavailable

_toy_pred = np.array([[0, 1, 1], [0, 1, 2], [2, 2, 2]])
_toy_target = np.array([[0, 1, 1], [1, 1, 2], [0, 2, 2]])
_rng = np.random.default_rng(2)
_cases = [(_p, _t, metrics.dice(_p, _t, 5)) for _p, _t in _rng.integers(0, 4, size=(20, 2, 3, 4))]
### BEGIN HIDDEN TESTS
_cases += [(_p, _t, metrics.dice(_p, _t, 6)) for _p, _t in _rng.integers(0, 5, size=(10, 2, 1, 9))]
### END HIDDEN TESTS
with unavailable(metrics.iou, metrics.dice, metrics.mean_iou, metrics.confusion_matrix,
                 metrics.confusion_matrix_reference, metrics.iou_from_confusion, metrics.dice_from_confusion):
    np.testing.assert_allclose(dice_per_class(_toy_pred, _toy_target, 4), [1 / 2, 6 / 7, 6 / 7, np.nan],
                               err_msg="dice_per_class(toy_pred, toy_target, 4), the 3x3 toy case above")
    np.testing.assert_allclose(dice_per_class([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], 2)[1], 4 / 7,
                               err_msg="class 1 of dice_per_class([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], 2)")
    for _p, _t, _expected in _cases:
        np.testing.assert_allclose(dice_per_class(_p, _t, len(_expected)), _expected,
                                   err_msg=f"dice_per_class(pred, target, {len(_expected)}) with\n"
                                           f"pred={_p.tolist()}\ntarget={_t.tolist()}")
print("dice_per_class agrees with the hand-worked cases and with minseg.metrics.dice")

# %% [markdown]
# ## 3. The confusion matrix: one table, every metric
#
# Counting pixels class by class for every metric is wasteful. Count once instead: the **confusion
# matrix** $C$ has a row per true class and a column per predicted class, and $C_{ij}$ is the number
# of pixels of class $i$ that were predicted as $j$. Then, for class $c$,
#
# - $|A\cap B| = C_{cc}$ (the diagonal), $|B|$ = row sum, $|A|$ = column sum;
# - $\mathrm{IoU}_c = C_{cc} / (\text{row}_c + \text{col}_c - C_{cc})$,
#   $\;\mathrm{Dice}_c = 2C_{cc} / (\text{row}_c + \text{col}_c)$;
# - pixel accuracy $= \operatorname{trace}(C) / \sum C$.
#
# Confusion matrices of many images simply add up, which is how a whole validation set is scored.
#
# **Exercise (confusion_matrix).** Write `confusion(pred, target, num_classes)`: an integer array
# `(num_classes, num_classes)`, rows = target. Try to do it without a Python loop over pixels.
# `minseg.metrics.confusion_matrix` and scikit-learn's `confusion_matrix` are unavailable while the
# check runs.

# %%
def confusion(pred, target, num_classes):
    """Confusion matrix of two integer label maps: C[i, j] = #pixels with target i predicted as j."""
    pred, target = np.asarray(pred).ravel(), np.asarray(target).ravel()
    ### BEGIN SOLUTION hint: number each (target, pred) pair as target * num_classes + pred; np.bincount
    counts = np.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
    ### END SOLUTION


# %% grade_id="confusion_matrix"
import inspect

import numpy as np
from sklearn.metrics import confusion_matrix as sklearn_confusion
from minseg import metrics
from minseg.testing import unavailable

_toy_pred = np.array([[0, 1, 1], [0, 1, 2], [2, 2, 2]])
_toy_target = np.array([[0, 1, 1], [1, 1, 2], [0, 2, 2]])
_rng = np.random.default_rng(3)
_cases = []
for _p, _t in _rng.integers(0, 4, size=(20, 2, 3, 4)):
    _theirs = sklearn_confusion(_t.ravel(), _p.ravel(), labels=range(5))
    np.testing.assert_array_equal(_theirs, metrics.confusion_matrix(_p, _t, 5))  # the two references agree
    _cases.append((_p, _t, _theirs))
### BEGIN HIDDEN TESTS
_cases += [(_p, _t, metrics.confusion_matrix(_p, _t, 6)) for _p, _t in _rng.integers(0, 6, size=(10, 2, 2, 7))]
### END HIDDEN TESTS
with unavailable(metrics.confusion_matrix, metrics.confusion_matrix_reference, inspect.unwrap(sklearn_confusion)):
    _cm = confusion(_toy_pred, _toy_target, 4)
    assert np.issubdtype(np.asarray(_cm).dtype, np.integer), f"counts should be integers, got dtype {_cm.dtype}"
    np.testing.assert_array_equal(_cm, [[1, 0, 1, 0], [1, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0]],
                                  err_msg="confusion(toy_pred, toy_target, 4), the 3x3 toy case above")
    for _p, _t, _expected in _cases:
        np.testing.assert_array_equal(confusion(_p, _t, len(_expected)), _expected,
                                      err_msg=f"confusion(pred, target, {len(_expected)}) with\n"
                                              f"pred={_p.tolist()}\ntarget={_t.tolist()}")
print("confusion agrees with the hand-worked case, minseg.metrics and scikit-learn")

# %% [markdown]
# ### Scoring a prediction of a scene
#
# Let us fake a prediction of our scene: shift the true mask two pixels to the right, and give the
# first digit a class that is not in the scene at all (a typical confusion). `minseg.metrics`
# computes everything from the confusion matrix, exactly as above.

# %%
K = len(CLASSES)
wrong_class = next(c for c in range(1, K) if c not in np.unique(mask))
prediction = scoring.shift_mask(mask, 2, 0)
prediction[scoring.shift_mask(instances["masks"][0], 2, 0)] = wrong_class
print("the first digit, a", CLASSES[instances["labels"][0]], "is predicted as a", CLASSES[wrong_class])
per_class = metrics.iou(prediction, mask, K)
print("class      IoU    Dice")
for c in range(K):
    if not np.isnan(per_class[c]):
        print(f"{CLASSES[c]:<10} {per_class[c]:.3f}  {metrics.dice(prediction, mask, K)[c]:.3f}")
print(f"mean IoU over the {np.count_nonzero(~np.isnan(per_class))} classes present: "
      f"{metrics.mean_iou(prediction, mask, K):.3f}")
print(f"pixel accuracy: {metrics.pixel_accuracy(prediction, mask, K):.3f}")

# %% [markdown]
# Two lessons hide in this table. The pixel accuracy is high because the background, the largest
# class by far, is nearly perfect; the mean IoU gives every class one vote and drops sharply. And the
# class that does not exist in the truth still gets an IoU of 0 (it was predicted), which pulls the
# mean down: predicting a class that is not there is an error too. This is why segmentation papers
# report **mean IoU** (on benchmarks such as PASCAL VOC, Cityscapes and ADE20K, models are compared
# by it).

# %% [markdown]
# ## 4. Losses: soft Dice and Jaccard versus cross-entropy
#
# IoU and Dice need hard masks, that is an argmax, which has no useful gradient. To train on them, the
# slides replace the sets by vectors in $[0,1]^n$: the truth $y$ (one-hot) and the predicted
# probabilities $\hat y$. The intersection becomes $y\cdot\hat y$ and the sizes become sums:
#
# $$L_{\text{Jaccard}} = 1 - \frac{y\cdot\hat y + \varepsilon}
#   {\sum y + \sum \hat y - y\cdot\hat y + \varepsilon}
# \qquad L_{\text{Dice}} = 1 - \frac{2\,y\cdot\hat y + \varepsilon}{\sum y + \sum \hat y + \varepsilon}$$
#
# The small $\varepsilon$ (1 in minseg, as often) keeps a class that is absent from both $y$ and
# $\hat y$ from dividing 0 by 0. For $K$ classes, the loss is computed per class (sums over every
# pixel of the batch) and averaged over the classes. A worked binary example:

# %% tags=["nbval-check-output"]
y = np.array([1.0, 1.0, 0.0, 0.0])
y_hat = np.array([0.9, 0.6, 0.2, 0.1])
eps = 1.0
dice_loss = 1 - (2 * y @ y_hat + eps) / (y.sum() + y_hat.sum() + eps)
jaccard_loss = 1 - (y @ y_hat + eps) / (y.sum() + y_hat.sum() - y @ y_hat + eps)
print(f"y.y_hat = {y @ y_hat:.1f}, sum y = {y.sum():.0f}, sum y_hat = {y_hat.sum():.1f}")
print(f"Dice loss = {dice_loss:.4f}, Jaccard loss = {jaccard_loss:.4f}")
# Expected output:
# y.y_hat = 1.5, sum y = 2, sum y_hat = 1.8
# Dice loss = 0.1667, Jaccard loss = 0.2424

# %% [markdown]
# **Exercise (soft_dice_loss).** Write the multi-class soft Dice loss with minseg tensors, so that
# `backward()` works: `logits` is a Tensor `(N, K, H, W)`, `target` an integer array `(N, H, W)`.
# Take the softmax over the class axis, compare with the one-hot target, sum over the batch and all
# pixels per class, and average $1 - (2I_k + \varepsilon)/(P_k + Y_k + \varepsilon)$ over the $K$
# classes. The check compares values and gradients with `F.dice_loss` and with the same formula in
# PyTorch; `F.dice_loss` and `F.jaccard_loss` themselves are unavailable while it runs your function.

# %%
def soft_dice_loss(logits, target, eps=1.0):
    """Soft multi-class Dice loss of (N, K, H, W) logits against (N, H, W) class indices (a scalar Tensor)."""
    ### BEGIN SOLUTION hint: p = F.softmax(logits, dim=1); one-hot y as a constant tensor; .sum(dim=(0, 2, 3))
    num_classes = logits.shape[1]
    p = F.softmax(logits, dim=1)
    one_hot = np.arange(num_classes)[None, :, None, None] == np.asarray(target)[:, None]
    y = ms.tensor(one_hot.astype(logits.dtype))
    intersection = (p * y).sum(dim=(0, 2, 3))
    sizes = p.sum(dim=(0, 2, 3)) + y.sum(dim=(0, 2, 3))
    return (1 - (2 * intersection + eps) / (sizes + eps)).mean()
    ### END SOLUTION


# %% grade_id="soft_dice_loss"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable


def _torch_soft_dice(x, t, eps):
    """The formula above in PyTorch: (value, gradient with respect to the logits x)."""
    tx = torch.tensor(x, requires_grad=True)
    p = torch.softmax(tx, dim=1)
    y = torch.nn.functional.one_hot(torch.tensor(t), x.shape[1]).permute(0, 3, 1, 2).double()
    loss = (1 - (2 * (p * y).sum((0, 2, 3)) + eps) / (p.sum((0, 2, 3)) + y.sum((0, 2, 3)) + eps)).mean()
    loss.backward()
    return loss.item(), tx.grad.numpy()


_rng = np.random.default_rng(4)
_cases = [(_rng.normal(size=(2, 4, 5, 6)), _rng.integers(0, 4, size=(2, 5, 6)), 1.0)]
_cases.append((_rng.normal(size=(1, 3, 2, 3)), _rng.integers(0, 3, size=(1, 2, 3)), 0.5))
### BEGIN HIDDEN TESTS
_cases.append((3 * _rng.normal(size=(3, 5, 4, 2)), _rng.integers(0, 2, size=(3, 4, 2)), 1.0))  # absent classes
### END HIDDEN TESTS
for _x, _t, _eps in _cases:
    _ref = ms.tensor(_x, requires_grad=True)
    F.dice_loss(_ref, _t, eps=_eps).backward()
    _torch_value, _torch_grad = _torch_soft_dice(_x, _t, _eps)
    np.testing.assert_allclose(_ref.grad, _torch_grad, rtol=1e-8, atol=1e-12)  # the two references agree
    _mine = ms.tensor(_x, requires_grad=True)
    _where = f"soft_dice_loss(logits, target, eps={_eps}) with logits of shape {_x.shape}, target={_t.tolist()}"
    with unavailable(F.dice_loss, F.jaccard_loss):
        _loss = soft_dice_loss(_mine, _t, eps=_eps)
        assert isinstance(_loss, ms.Tensor), f"{_where}: should return a minseg Tensor, got {type(_loss)}"
        _loss.backward()
    np.testing.assert_allclose(_loss.item(), _torch_value, rtol=1e-10, err_msg=f"the value of {_where}")
    assert _mine.grad is not None, f"{_where}: no gradient reached the logits (use minseg operations)"
    np.testing.assert_allclose(_mine.grad, _torch_grad, rtol=1e-8, atol=1e-12,
                               err_msg=f"the gradient of {_where} with respect to the logits")
print("soft_dice_loss matches F.dice_loss and PyTorch, value and gradient")

# %% [markdown]
# ### Why not just cross-entropy?
#
# Per-pixel cross-entropy averages over pixels, so a class that covers few pixels barely counts. The
# Dice and Jaccard losses are computed per class and then averaged, so every class weighs the same.
# Take a 64×64 image with one small 4×4 object, and a network that confidently answers "background"
# everywhere:

# %%
small = np.zeros((1, 64, 64), np.int64)
small[0, 30:34, 30:34] = 1


def confident(labels, margin=8.0):
    """Two-class logits that put probability sigmoid(margin) on the given labels."""
    logit = margin * (labels - 0.5)
    return ms.tensor(np.stack([-logit, logit], axis=1))


print(f"{'prediction':<22}{'cross-entropy':>15}{'Dice loss':>11}{'Jaccard loss':>14}")
for name, labels in [("all background", np.zeros_like(small)), ("the object, right", small),
                     ("object 2 px too far", np.roll(small, 2, axis=2))]:
    logits = confident(labels)
    ce, dice, jaccard = (f(logits, small).item() for f in (F.cross_entropy, F.dice_loss, F.jaccard_loss))
    print(f"{name:<22}{ce:>15.4f}{dice:>11.4f}{jaccard:>14.4f}")

# %% [markdown]
# Cross-entropy counts wrong pixels. Missing the object entirely and placing it two pixels off both
# make 16 pixels wrong, so both cost exactly the same — and very little (about 0.03), because those 16
# pixels are averaged with 4080 right ones. The Dice loss sees the object class on its own: missing it
# costs almost 1 for that class, half of the two-class average (about 0.47); the half-overlapping
# prediction gets partial credit (about 0.25); the right one almost none. The Jaccard loss behaves
# alike. In practice an overlap loss is often *added* to cross-entropy, whose gradients are smoother
# early in training.
#
# ## 5. Move the prediction yourself
#
# The widget slides a predicted mask (a copy of one digit of our scene) over the truth. Watch IoU and
# Dice fall as the overlap shrinks, and the losses rise; `confidence` scales the logits, so you can
# see that the soft losses, unlike IoU and Dice, also reward being sure when right.

# %% tags=["nbval-ignore-output"]
digit_mask = instances["masks"][int(np.argmax(instances["masks"].sum(axis=(1, 2))))]  # the largest digit
rows, cols = np.nonzero(digit_mask)
digit_mask = np.roll(digit_mask, (32 - int(rows.mean()), 32 - int(cols.mean())), axis=(0, 1))  # centred
explorer = scoring.MaskOverlap(digit_mask)
explorer.widget()

# %% [markdown]
# Without a running kernel the widget is not drawn; this is what it shows for a few shifts, and every
# score as a function of the shift:

# %% tags=["nbval-ignore-output"]
scoring.overlap_static_figure(digit_mask, shifts=(0, 2, 4, 8))

# %% [markdown]
# ## What to remember
#
# - Classification labels images, semantic segmentation labels pixels, instance segmentation
#   separates things, panoptic segmentation does both; stuff has no instances.
# - IoU $=|A\cap B|/|A\cup B|$, Dice $=2|A\cap B|/(|A|+|B|) = 2\,\text{IoU}/(1+\text{IoU})$; both per
#   class, then averaged over the classes present (mean IoU).
# - The confusion matrix holds every count you need; sum it over a data set, then score.
# - Soft Dice / Jaccard losses replace sets by probabilities; they weigh classes equally where
#   cross-entropy weighs pixels equally.
#
# Next lecture: the operation every segmentation network is made of — convolution — and why it is a
# matrix multiplication.
