"""cross_entropy and binary_cross_entropy_with_logits: gradcheck, hand-worked values, the reference on
fixed cases, and bad input. (Random cases against torch and the loop references are rows of
tests/op_table.py.)"""
import math

import numpy as np
import pytest

import minseg as ms
import minseg.functional as F
from minseg.functional.loss import binary_cross_entropy_with_logits_reference
from minseg.testing import check_op, gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def test_cross_entropy_gradcheck_with_weight_and_ignore():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 2, 3))
    t = rng.integers(0, 3, (2, 2, 3))
    t[0, 0, 0] = 255
    w = np.array([0.5, 2.0, 1.0])
    for reduction in ("mean", "sum", "none"):
        gradcheck(lambda a: F.cross_entropy(a, t, weight=w, ignore_index=255, reduction=reduction), [x])


def test_cross_entropy_hand_worked_two_classes():
    # logits (0, ln 3): softmax = (1/4, 3/4); target 1 -> -ln(3/4); target 0 -> ln 4
    x = ms.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]], requires_grad=True, dtype=np.float64)
    loss = F.cross_entropy(x, np.array([1, 0]))
    assert loss.item() == pytest.approx((-math.log(0.75) + math.log(4.0)) / 2)
    loss.backward()
    # d/dx = (softmax - onehot) / N
    np.testing.assert_allclose(x.grad, [[0.25 / 2, -0.25 / 2], [-0.75 / 2, 0.75 / 2]])


def test_cross_entropy_none_gives_per_pixel_map_for_a_weight_map():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    t = rng.integers(0, 4, (2, 5, 6))
    pixel_weight = rng.uniform(0, 3, (2, 5, 6)).astype(np.float32)
    check_op(lambda a: (F.cross_entropy(a, t, reduction="none") * pixel_weight).mean(), [x],
             lambda a: (TF.cross_entropy(a, torch.from_numpy(t), reduction="none")
                        * torch.from_numpy(pixel_weight)).mean(), gradcheck_inputs=False, atol=1e-5)
    assert F.cross_entropy(x, t, reduction="none").shape == (2, 5, 6)


def test_cross_entropy_single_sample_and_all_ignored_like_torch():
    x = np.array([0.3, -1.2, 2.0], np.float32)
    assert F.cross_entropy(x, np.array(2)).item() == pytest.approx(
        TF.cross_entropy(torch.from_numpy(x), torch.tensor(2)).item(), rel=1e-6)
    logits = np.zeros((1, 3, 2, 2), np.float32)
    t = np.full((1, 2, 2), -100)
    assert np.isnan(F.cross_entropy(logits, t).item())
    assert np.isnan(TF.cross_entropy(torch.from_numpy(logits), torch.from_numpy(t)).item())
    assert F.cross_entropy(logits, t, reduction="sum").item() == 0.0


@pytest.mark.parametrize("call, message", [
    (lambda x, t: F.cross_entropy(x, np.full((2, 3, 3), 4)), "target values must lie in"),
    (lambda x, t: F.cross_entropy(x, t[:, :2]), "target must have shape"),
    (lambda x, t: F.cross_entropy(x, t.astype(np.float32)), "target must hold integer"),
    (lambda x, t: F.cross_entropy(x, t, weight=np.ones(3)), "weight must have shape"),
    (lambda x, t: F.cross_entropy(x, t, reduction="avg"), "reduction must be"),
    (lambda x, t: F.cross_entropy(x, -t - 1, ignore_index=-100), "target values must lie in"),
])
def test_cross_entropy_bad_input_names_the_argument(call, message):
    x = np.zeros((2, 4, 3, 3), np.float32)
    t = np.zeros((2, 3, 3), np.int64)
    with pytest.raises((ValueError, TypeError), match=f"cross_entropy: {message}"):
        call(x, t)


# ----- binary cross-entropy -------------------------------------------------------------------
def test_bce_with_logits_equals_reference_and_gradcheck():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 3, 4)), rng.uniform(0, 1, (2, 3, 4))
    w, p = rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 3, (4,))
    for reduction in ("mean", "sum", "none"):
        ours = F.binary_cross_entropy_with_logits(x, y, weight=w, reduction=reduction, pos_weight=p).data
        np.testing.assert_allclose(ours, binary_cross_entropy_with_logits_reference(x, y, w, reduction, p))
        gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, reduction=reduction,
                                                                  pos_weight=p), [x, y])


@pytest.mark.parametrize("full_weights", [False, True])
def test_bce_in_two_halves_matches_torch(full_weights):
    # from BCE_SPLIT_ELEMENTS on, the pass runs in two halves at once: the halves' slices of x, y, the
    # weights (full-size ones too) and both gradients must meet in the right places
    import torch

    from minseg.functional.loss import ops as loss_ops

    rng = np.random.default_rng(4)
    shape = (2, 3, 150, 160)
    assert np.prod(shape) >= loss_ops.BCE_SPLIT_ELEMENTS
    x, y = rng.standard_normal(shape).astype(np.float32), rng.uniform(0, 1, shape).astype(np.float32)
    w = rng.uniform(0.5, 2, shape if full_weights else (3, 1, 1)).astype(np.float32)
    p = rng.uniform(0.5, 3, shape if full_weights else (160,)).astype(np.float32)
    xt, yt = ms.tensor(x, requires_grad=True), ms.tensor(y, requires_grad=True)
    F.binary_cross_entropy_with_logits(xt, yt, weight=w, pos_weight=p, reduction="sum").backward()
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(tx, ty, weight=torch.tensor(w), pos_weight=torch.tensor(p),
                                                         reduction="sum").backward()
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(yt.grad, ty.grad.numpy(), rtol=1e-5, atol=1e-6)
    losses = F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p, reduction="none").data
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), weight=torch.tensor(w), pos_weight=torch.tensor(p), reduction="none")
    np.testing.assert_allclose(losses, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_bce_with_logits_hand_value_and_large_logits_stay_finite():
    # x = 0: sigmoid = 1/2, loss = ln 2 whatever the target
    loss = F.binary_cross_entropy_with_logits(np.zeros(3), np.array([0.0, 0.5, 1.0]))
    assert loss.item() == pytest.approx(math.log(2))
    big = F.binary_cross_entropy_with_logits(np.array([200.0, -200.0]), np.array([0.0, 1.0]),
                                             reduction="none")
    np.testing.assert_allclose(big.data, [200.0, 200.0])


def test_bce_with_logits_bad_input():
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: target must have the input"):
        F.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: pos_weight must broadcast"):
        F.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=np.ones(2))


def test_bce_with_logits_of_no_elements_is_nan_like_torch():
    empty = np.zeros((0, 3), np.float32)
    ours = F.binary_cross_entropy_with_logits(empty, empty).item()
    theirs = TF.binary_cross_entropy_with_logits(torch.from_numpy(empty), torch.from_numpy(empty)).item()
    assert np.isnan(ours) and np.isnan(theirs)
    assert F.binary_cross_entropy_with_logits(empty, empty, reduction="sum").item() == 0.0
