"""Soft Dice / Jaccard losses (gradcheck, hand values, bad input) and U-Net's weight map (vs brute
force and a hand-worked value). Random cases against the formula written in torch and the loop
references are rows of tests/op_table.py."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minseg.functional as F
from minseg.functional.loss import unet_weight_map_reference
from minseg.testing import gradcheck
from tests.support import examples

torch = pytest.importorskip("torch")


def test_overlap_losses_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 3, 2))
    t = rng.integers(0, 3, (2, 3, 2))
    t[1, 0, 0] = 255
    for loss in (F.dice_loss, F.jaccard_loss):
        for eps in (1.0, 1e-2):
            gradcheck(lambda a: loss(a, t, eps=eps, ignore_index=255), [x])


def test_overlap_losses_hand_worked():
    # two pixels, two classes; softmax (3/4, 1/4) on a pixel of class 0 and (1/4, 3/4) on one of class 1
    x = np.array([[[math.log(3.0), 0.0], [0.0, math.log(3.0)]]]).transpose(0, 2, 1)  # (1, K=2, 2 pixels)
    t = np.array([[0, 1]])
    # per class: I = 3/4, P = 1, Y = 1.  Dice: 1 - 1.5/2 = 1/4.  Jaccard: 1 - 0.75/1.25 = 2/5
    assert F.dice_loss(x, t, eps=0.0).item() == pytest.approx(0.25)
    assert F.jaccard_loss(x, t, eps=0.0).item() == pytest.approx(0.4)
    # with eps = 1: Dice 1 - 2.5/3 = 1/6, Jaccard 1 - 1.75/2.25 = 2/9
    assert F.dice_loss(x, t).item() == pytest.approx(1 / 6)
    assert F.jaccard_loss(x, t).item() == pytest.approx(2 / 9)


def test_overlap_losses_slide_limits_equal_and_disjoint_sets():
    t = np.array([[0, 1, 1, 0]])
    perfect = np.stack([(t == 0), (t == 1)], axis=1) * 60.0 - 30.0  # softmax is one-hot on the target
    wrong = -perfect
    for loss in (F.dice_loss, F.jaccard_loss):
        assert loss(perfect, t, eps=0.0).item() == pytest.approx(0.0, abs=1e-9)  # A = B: J = D = 1
        assert loss(wrong, t, eps=0.0).item() == pytest.approx(1.0, abs=1e-9)    # A ∩ B = ∅: J = D = 0


def test_overlap_losses_bad_input():
    x = np.zeros((1, 3, 2, 2), np.float32)
    with pytest.raises(ValueError, match="dice_loss: target values must lie in"):
        F.dice_loss(x, np.full((1, 2, 2), 3))
    with pytest.raises(ValueError, match="jaccard_loss: target must have shape"):
        F.jaccard_loss(x, np.zeros((1, 2, 3), np.int64))
    with pytest.raises(ValueError, match="dice_loss: input needs at least 2 classes"):
        F.dice_loss(np.zeros((1, 1, 2, 2)), np.zeros((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match="dice_loss: eps must be"):
        F.dice_loss(x, np.zeros((1, 2, 2), np.int64), eps=-1)


# ----- U-Net weight map -----------------------------------------------------------------------
def test_unet_weight_map_hand_worked():
    # a 1x5 strip: instance 1 at column 0, instance 2 at column 4; pixel 2 has d1 = d2 = 2
    labels = np.array([[1, 0, 0, 0, 2]])
    w = F.unet_weight_map(labels, w0=10, sigma=5, class_weights=(1.0, 1.0))
    expected_middle = 1 + 10 * math.exp(-(2 + 2) ** 2 / (2 * 25))
    expected_next = 1 + 10 * math.exp(-(1 + 3) ** 2 / (2 * 25))
    np.testing.assert_allclose(w[0], [1, expected_next, expected_middle, expected_next, 1], rtol=1e-6)


def test_unet_weight_map_class_balance_and_single_instance():
    labels = np.zeros((4, 4), np.int64)
    labels[0, 0] = 3  # one instance: no border term; 1 foreground pixel of 16
    w = F.unet_weight_map(labels)
    assert w[0, 0] == pytest.approx(16 / 2) and w[1, 1] == pytest.approx(16 / 30)
    assert float(w[labels == 0].sum()) == pytest.approx(8.0)
    assert float(w[labels > 0].sum()) == pytest.approx(8.0)


@examples(25)
@given(st.integers(0, 2**31), st.integers(0, 4))
def test_unet_weight_map_equals_brute_force(seed, count):
    rng = np.random.default_rng(seed)
    labels = np.zeros((7, 8), np.int64)
    for i in range(1, count + 1):
        y, x = rng.integers(0, 6), rng.integers(0, 7)
        labels[y:y + 2, x:x + rng.integers(1, 3)] = i
    stack = np.stack([labels == i for i in np.unique(labels) if i > 0]) if labels.any() else labels
    np.testing.assert_allclose(F.unet_weight_map(labels, w0=5, sigma=2),
                               unet_weight_map_reference(labels, w0=5, sigma=2), rtol=1e-5)
    if labels.any():
        np.testing.assert_allclose(F.unet_weight_map(stack, w0=5, sigma=2),
                                   F.unet_weight_map(labels, w0=5, sigma=2))


def test_unet_weight_map_bad_input():
    with pytest.raises(ValueError, match="unet_weight_map: instance_mask must be"):
        F.unet_weight_map(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="unet_weight_map: sigma must be"):
        F.unet_weight_map(np.zeros((2, 2), np.int64), sigma=0)
    with pytest.raises(ValueError, match="unet_weight_map: class_weights must be"):
        F.unet_weight_map(np.zeros((2, 2), np.int64), class_weights=(1, 2, 3))


def test_unet_weight_map_with_no_instances_is_uniform():
    np.testing.assert_array_equal(F.unet_weight_map(np.zeros((0, 3, 4), bool)), np.ones((3, 4), np.float32))
