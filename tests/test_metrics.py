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
    (lambda: M.iou(np.zeros((2, 2), int), np.zeros((2, 3), int), 2), "iou: pred must have the target's shape"),
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
