"""box_iou against torchvision and by hand; panoptic_quality against hand-worked segment matchings and
a brute-force matcher (every pair of segments, IoU from their masks), and bad input."""
import numpy as np
import pytest
import torch
import torchvision

from minseg.metrics import box_iou, panoptic_quality


def test_box_iou_by_hand_and_against_torchvision():
    a = np.array([[0, 0, 4, 4], [2, 2, 6, 6]], np.float32)
    b = np.array([[0, 0, 4, 4], [4, 4, 8, 8], [1, 0, 3, 2]], np.float32)
    # [2,2,6,6] meets [0,0,4,4] and [4,4,8,8] in a 2x2 square: 4 / (16 + 16 - 4); [1,0,3,2] only touches it: 0
    np.testing.assert_allclose(box_iou(a, b), [[1, 0, 4 / 16], [4 / 28, 4 / 28, 0]])
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 20, size=(2, 30, 2, 2))
    x, y = np.sort(corners, axis=-1)[..., 0], np.sort(corners, axis=-1)[..., 1]
    boxes = np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1)
    expected = torchvision.ops.box_iou(torch.tensor(boxes[0]), torch.tensor(boxes[1])).numpy()
    np.testing.assert_allclose(box_iou(boxes[0], boxes[1]), expected, rtol=1e-12)
    assert box_iou(np.zeros((0, 4)), boxes[1]).shape == (0, 30)
    with pytest.raises(ValueError, match=r"box_iou: boxes2 must be a \(K, 4\) array"):
        box_iou(boxes[0], boxes[1][:, :3])


def _two_digit_scene():
    """Stuff class 0 (instance 0) and two things of class 3 in a 6x6 map (ids class*1000 + instance)."""
    truth = np.zeros((6, 6), np.int64)
    truth[0:2, 0:2] = 3001  # 4 pixels
    truth[3:6, 3:6] = 3002  # 9 pixels
    return truth


def test_panoptic_quality_by_hand():
    truth = _two_digit_scene()
    pred = np.zeros_like(truth)
    pred[0:2, 0:3] = 3007  # 6 pixels, 4 shared with 3001: IoU 4/6 > 0.5 (ids need not agree)
    pred[5, 0] = 3008  # a false positive, 1 pixel
    # 3002 missed entirely: FN. Stuff: truth 36-4-9 = 23 px, pred 36-6-1 = 29 px, shared 36-6-1-9 = 20 px
    # -> IoU 20 / (23 + 29 - 20) = 20 / 32
    s = panoptic_quality(pred, truth)
    np.testing.assert_array_equal(s["classes"], [0, 3])
    np.testing.assert_array_equal(s["tp"], [1, 1])
    np.testing.assert_array_equal(s["fp"], [0, 1])
    np.testing.assert_array_equal(s["fn"], [0, 1])
    np.testing.assert_allclose(s["per_class_sq"], [20 / 32, 4 / 6])
    np.testing.assert_allclose(s["per_class_rq"], [1, 1 / (1 + 0.5 + 0.5)])
    np.testing.assert_allclose(s["per_class_pq"], [20 / 32, 4 / 6 / 2])
    assert s["pq"] == pytest.approx((20 / 32 + 1 / 3) / 2)
    assert s["sq"] == pytest.approx((20 / 32 + 4 / 6) / 2) and s["rq"] == pytest.approx(0.75)


def test_panoptic_quality_perfect_and_wrong_class():
    truth = _two_digit_scene()
    perfect = panoptic_quality(truth + 5 * (truth > 0), truth)  # other instance numbers, same segments
    assert perfect["pq"] == perfect["sq"] == perfect["rq"] == 1.0
    wrong = np.where(truth == 3001, 4001, truth)  # right pixels, wrong class: an FN of 3 and an FP of 4
    s = panoptic_quality(wrong, truth)
    np.testing.assert_array_equal(s["classes"], [0, 3, 4])
    np.testing.assert_array_equal(s["tp"], [1, 1, 0])
    np.testing.assert_allclose(s["per_class_pq"], [1, 1 / 1.5, 0])


def _brute_force(pred, target, d=1000):
    counts = {}
    for p_map, t_map in zip(pred, target):
        t_ids, p_ids = np.unique(t_map), np.unique(p_map)
        hit_t, hit_p = set(), set()
        for t in t_ids:
            for p in p_ids:
                a, b = t_map == t, p_map == p
                iou = (a & b).sum() / (a | b).sum()
                if t // d == p // d and iou > 0.5:
                    c = counts.setdefault(t // d, [0, 0, 0, 0.0])
                    c[0] += 1
                    c[3] += iou
                    hit_t.add(t)
                    hit_p.add(p)
        for ids, hits, column in ((t_ids, hit_t, 2), (p_ids, hit_p, 1)):
            for s in ids:
                if s not in hits:
                    counts.setdefault(s // d, [0, 0, 0, 0.0])[column] += 1
    pq = [c[3] / (c[0] + 0.5 * c[1] + 0.5 * c[2]) for _, c in sorted(counts.items())]
    return np.array(pq)


@pytest.mark.parametrize("seed", range(5))
def test_panoptic_quality_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 3, size=(3, 9, 9)) * 1000 + rng.integers(0, 2, size=(3, 9, 9))
    pred = target.copy()
    flip = rng.random(target.shape) < 0.25
    pred[flip] = rng.integers(0, 3, size=flip.sum()) * 1000 + rng.integers(0, 3, size=flip.sum())
    target[:, :4, :4] = 2005  # one large segment, so some pairs match
    pred[:, :4, :3] = 2009
    np.testing.assert_allclose(panoptic_quality(pred, target)["per_class_pq"], _brute_force(pred, target))


def test_panoptic_quality_bad_input():
    with pytest.raises(ValueError, match="panoptic_quality: pred and target must be"):
        panoptic_quality(np.zeros((4, 4), int), np.zeros((4, 5), int))
    with pytest.raises(ValueError, match="pred must hold segment ids"):
        panoptic_quality(np.zeros((4, 4)), np.zeros((4, 4), int))
    with pytest.raises(ValueError, match="label_divisor must be an int"):
        panoptic_quality(np.zeros((4, 4), int), np.zeros((4, 4), int), label_divisor=0)
