"""Metrics against hand-worked cases (the slides' Jaccard and Dice), scikit-learn's confusion
matrix, the loop reference, empty classes, ignored pixels and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
from minseg.metrics import SegmentationMetrics, confusion_matrix_reference
from tests.support import examples

M = ms.metrics


def two_sets():
    """A (target, class 1) has 6 pixels, B (prediction, class 1) has 4, |A ∩ B| = 3, |A ∪ B| = 7."""
    target = np.zeros((4, 4), np.int64)
    pred = np.zeros((4, 4), np.int64)
    target[0, 0:3] = 1
    target[1, 0:3] = 1
    pred[1, 0:3] = 1
    pred[2, 0] = 1
    return pred, target


def test_slide_jaccard_and_dice_of_two_sets():
    pred, target = two_sets()
    # class 1: J = |A∩B| / |A∪B| = 3/7, D = 2|A∩B| / (|A|+|B|) = 6/10
    # class 0: |A0| = 10, |B0| = 12, |A0∩B0| = 9 -> J = 9/13, D = 18/22
    np.testing.assert_allclose(M.iou(pred, target, 2), [9 / 13, 3 / 7])
    np.testing.assert_allclose(M.dice(pred, target, 2), [18 / 22, 6 / 10])
    assert M.mean_iou(pred, target, 2) == pytest.approx((9 / 13 + 3 / 7) / 2)
    assert M.pixel_accuracy(pred, target, 2) == pytest.approx(12 / 16)
    # class accuracy: class 0 finds 9 of 10, class 1 finds 3 of 6
    assert M.class_accuracy(pred, target, 2) == pytest.approx((0.9 + 0.5) / 2)
    np.testing.assert_array_equal(M.confusion_matrix(pred, target, 2), [[9, 1], [3, 3]])


def test_slide_limits_equal_and_disjoint():
    a = np.array([[0, 1], [1, 0]])
    np.testing.assert_allclose(M.iou(a, a, 2), [1, 1])
    np.testing.assert_allclose(M.dice(a, a, 2), [1, 1])
    np.testing.assert_allclose(M.iou(1 - a, a, 2), [0, 0])
    np.testing.assert_allclose(M.dice(1 - a, a, 2), [0, 0])


def test_empty_class_is_nan_and_skipped_by_means():
    target = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    scores = M.iou(pred, target, 4)
    assert np.isnan(scores[2]) and np.isnan(scores[3])
    assert M.mean_iou(pred, target, 4) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert np.isnan(M.dice(pred, target, 4)[3])
    # a class predicted but absent from the target has IoU 0 (not nan) and lowers the mean
    assert M.iou(np.array([[2, 0, 1, 1]]), target, 3)[2] == 0.0


def test_ignored_pixels_are_not_counted():
    target = np.array([[0, 255, 1, 1]])
    pred = np.array([[0, 1, 0, 1]])
    np.testing.assert_array_equal(M.confusion_matrix(pred, target, 2, ignore_index=255), [[1, 0], [1, 1]])
    assert M.pixel_accuracy(pred, target, 2, ignore_index=255) == pytest.approx(2 / 3)


def test_scores_are_accepted_and_argmaxed():
    target = np.array([[[0, 1], [2, 2]]])
    scores = np.eye(3)[target].transpose(0, 3, 1, 2)  # (1, 3, 2, 2) one-hot "logits"
    assert M.pixel_accuracy(scores, target, 3) == 1.0
    assert M.pixel_accuracy(scores[0], target[0], 3) == 1.0
    assert M.pixel_accuracy(ms.tensor(scores), target, 3) == 1.0


@st.composite
def label_maps(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    k = draw(st.integers(2, 6))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    target, pred = rng.integers(0, k, shape), rng.integers(0, k, shape)
    ignore = draw(st.sampled_from([None, 255, -1]))
    if ignore is not None:
        target = np.where(rng.uniform(size=shape) < 0.2, ignore, target)
    return pred, target, k, ignore


@examples(150)
@given(label_maps())
def test_confusion_matrix_matches_loop_and_sklearn(case):
    from sklearn.metrics import confusion_matrix as sk_confusion

    pred, target, k, ignore = case
    ours = M.confusion_matrix(pred, target, k, ignore_index=ignore)
    np.testing.assert_array_equal(ours, confusion_matrix_reference(pred, target, k, ignore))
    keep = np.ones(target.shape, bool) if ignore is None else target != ignore
    if keep.any():
        np.testing.assert_array_equal(ours, sk_confusion(target[keep], pred[keep], labels=list(range(k))))
    assert ours.sum() == keep.sum()


@examples(150)
@given(label_maps())
def test_dice_equals_two_iou_over_one_plus_iou_per_class(case):
    pred, target, k, ignore = case
    j, d = M.iou(pred, target, k, ignore), M.dice(pred, target, k, ignore)
    np.testing.assert_allclose(d, 2 * j / (1 + j))
    np.testing.assert_array_equal(np.isnan(j), np.isnan(d))


def test_boundary_f1_hand_worked_shifted_square():
    target = np.zeros((8, 8), np.int64)
    target[2:6, 2:6] = 1
    pred = np.roll(target, 1, axis=1)  # the square moved one column right
    # tolerance 1: every boundary pixel of one map is within 1 px of the other's -> BF = 1
    assert M.boundary_f1(pred, target, 2, tolerance=1) == pytest.approx(1.0)
    # tolerance 0: class 1 rings (12 px each) share 6 pixels -> P = R = 1/2;
    # background rings (16 px each, 4-neighbours of the square) share 6 -> P = R = 3/8
    np.testing.assert_allclose(M.boundary_f1(pred, target, 2, tolerance=0, per_class=True), [0.375, 0.5])
    assert M.boundary_f1(pred, target, 2, tolerance=0) == pytest.approx((0.375 + 0.5) / 2)
    assert M.boundary_f1(target, target, 2, tolerance=0) == 1.0


def test_boundary_f1_absent_class_nan_and_missed_class_zero():
    target = np.zeros((1, 6, 6), np.int64)
    target[0, 1:3, 1:3] = 1
    pred = np.zeros_like(target)
    per_class = M.boundary_f1(pred, target, 3, tolerance=2, per_class=True)
    assert per_class[1] == 0.0 and np.isnan(per_class[2])
    # ignoring the whole square removes class 1 from the score
    ignored = np.where(target == 1, 255, target)
    assert M.boundary_f1(pred, ignored, 3, ignore_index=255) == 1.0


def test_segmentation_metrics_accumulates_like_one_big_batch():
    rng = np.random.default_rng(0)
    target, pred = rng.integers(0, 4, (6, 5, 5)), rng.integers(0, 4, (6, 5, 5))
    acc = SegmentationMetrics(4, class_names=["bg", "a", "b", "c"], boundary_tolerance=1)
    for i in range(0, 6, 2):
        acc.update(pred[i:i + 2], target[i:i + 2])
    result = acc.compute()
    assert result["mean_iou"] == pytest.approx(M.mean_iou(pred, target, 4))
    assert result["pixel_accuracy"] == pytest.approx(M.pixel_accuracy(pred, target, 4))
    assert result["class_accuracy"] == pytest.approx(M.class_accuracy(pred, target, 4))
    assert result["boundary_f1"] == pytest.approx(M.boundary_f1(pred, target, 4, tolerance=1))
    table = acc.summary()
    assert "mean" in table and "pixel accuracy" in table and table.count("\n") >= 8
    assert "bg" in table.splitlines()[2]
    acc.reset()
    assert acc.confusion.sum() == 0


@pytest.mark.parametrize("call, message", [
    (lambda: M.iou(np.zeros((2, 2), int), np.zeros((2, 3), int), 2), "iou: pred must have the target"),
    (lambda: M.iou(np.zeros((2, 2), int), np.full((2, 2), 5), 3), "iou: target labels must lie in"),
    (lambda: M.dice(np.full((2, 2), 7), np.zeros((2, 2), int), 3), "dice: pred labels must lie in"),
    (lambda: M.mean_iou(np.zeros(3, int), np.zeros(3, int), 1), "mean_iou: num_classes must be"),
    (lambda: M.confusion_matrix(np.zeros(3), np.zeros(3, int), 2), "pred must hold integer"),
    (lambda: M.boundary_f1(np.zeros(3, int), np.zeros(3, int), 2), "boundary_f1: target must be"),
    (lambda: SegmentationMetrics(3, class_names=["a"]), "class_names must have"),
])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def brute_force_boundary_f1(pred, target, num_classes, tolerance, ignore_index):
    """Per-class BF of one image written independently: explicit neighbour loops and distances."""
    h, w = target.shape
    valid = target != ignore_index if ignore_index is not None else np.ones(target.shape, bool)

    def boundary(labels, c):
        points = []
        for y in range(h):
            for x in range(w):
                if labels[y, x] != c or not valid[y, x]:
                    continue
                for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and valid[yy, xx] and labels[yy, xx] != c:
                        points.append((y, x))
                        break
        return np.array(points, float).reshape(-1, 2)

    def share_near(a, b):
        if len(b) == 0:
            return 0.0
        return float(np.mean([np.sqrt(((b - p) ** 2).sum(1)).min() <= tolerance for p in a]))

    scores = []
    for c in range(num_classes):
        if not (((pred == c) & valid).any() or ((target == c) & valid).any()):
            scores.append(np.nan)
            continue
        bp, bt = boundary(pred, c), boundary(target, c)
        if len(bp) == 0 and len(bt) == 0:
            scores.append(float(np.array_equal((pred == c) & valid, (target == c) & valid)))
            continue
        precision = share_near(bp, bt) if len(bp) else 0.0
        recall = share_near(bt, bp) if len(bt) else 0.0
        scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return np.array(scores)


@examples(60)
@given(st.integers(0, 2**31), st.sampled_from([0, 1, 1.5, 3]), st.sampled_from([None, 9]))
def test_boundary_f1_matches_brute_force(seed, tolerance, ignore_index):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 4))
    # blocky maps: upsampled random labels, so there are regions and boundaries
    target = np.kron(rng.integers(0, k, (3, 3)), np.ones((3, 3), np.int64))
    pred = np.where(rng.uniform(size=target.shape) < 0.15, rng.integers(0, k, target.shape), target)
    pred = np.roll(pred, int(rng.integers(-1, 2)), axis=int(rng.integers(0, 2)))
    if ignore_index is not None:
        target = np.where(rng.uniform(size=target.shape) < 0.1, ignore_index, target)
    ours = M.boundary_f1(pred, target, k, tolerance=tolerance, ignore_index=ignore_index, per_class=True)
    np.testing.assert_allclose(ours, brute_force_boundary_f1(pred, target, k, tolerance, ignore_index))
