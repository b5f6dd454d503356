"""F.pad (by hand, gradcheck, bad input), batch_norm (train and eval, running statistics), dropout.
(F.pad's random cases against torch are a row of tests/op_table.py.)"""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.norm import batch_norm_reference
from minseg.testing import check_op, gradcheck
from tests.support import examples


def test_pad_reflect_by_hand():
    # reflect mirrors about the edge sample without repeating it: [1 2 3] padded (2, 1) -> 3 2 | 1 2 3 | 2
    out = F.pad(ms.tensor([[[1.0, 2.0, 3.0]]]), (2, 1), mode="reflect")
    np.testing.assert_array_equal(out.data[0, 0], [3, 2, 1, 2, 3, 2])
    out = F.pad(ms.tensor([[[1.0, 2.0, 3.0]]]), (2, 1), mode="replicate")
    np.testing.assert_array_equal(out.data[0, 0], [1, 1, 1, 2, 3, 3])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate"])
def test_pad_gradcheck(mode):
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    assert gradcheck(lambda t: F.pad(t, (2, 1, 1, 2), mode=mode), [x])


def test_pad_bad_input():
    x = ms.tensor(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="pad: pad must be an even-length tuple"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="pad: reflect padding \\(3, 0\\) must be smaller than the size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="circle")


@pytest.mark.parametrize("training", [True, False])
@examples(60)
@given(n=st.integers(2, 3), c=st.integers(1, 4), h=st.integers(1, 4), w=st.integers(1, 4),
       affine=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_vs_torch(training, n, c, h, w, affine, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32) * 3 + 1
    weight, bias = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    mean0, var0 = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    ours_rm, ours_rv = mean0.copy(), var0.copy()
    torch_rm, torch_rv = torch.tensor(mean0), torch.tensor(var0)
    # one call each (no gradcheck: every call would move the running statistics again)
    kw = dict(training=training, momentum=0.3)
    if affine:
        check_op(lambda t, wt, b: F.batch_norm(t, ours_rm, ours_rv, wt, b, **kw), [x, weight, bias],
                 lambda t, wt, b: torch.nn.functional.batch_norm(t, torch_rm, torch_rv, wt, b, **kw),
                 gradcheck_inputs=False)
    else:
        check_op(lambda t: F.batch_norm(t, ours_rm, ours_rv, **kw), [x],
                 lambda t: torch.nn.functional.batch_norm(t, torch_rm, torch_rv, **kw),
                 gradcheck_inputs=False)
    np.testing.assert_allclose(ours_rm, torch_rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours_rv, torch_rv.numpy(), rtol=1e-5, atol=1e-6)


@examples(40)
@given(n=st.integers(1, 3), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 5), max_size=2),
       affine=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_kernels_vs_loop_reference(n, c, spatial, affine, seed):
    """The Numba kernels (statistics, normalise) against the plain loop, in float64, for (N, C), (N, C, L)
    and (N, C, H, W) inputs; the batch statistics against NumPy's mean and var (ddof 0)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *spatial)) * 2 + 0.5
    weight, bias = (rng.standard_normal(c), rng.standard_normal(c)) if affine else (None, None)
    axes = tuple(i for i in range(x.ndim) if i != 1)
    if x.size // c > 1:
        rm, rv = np.zeros(c), np.ones(c)
        y = F.batch_norm(ms.tensor(x), rm, rv, weight, bias, training=True, momentum=1.0).data
        np.testing.assert_allclose(y, batch_norm_reference(x, x.mean(axis=axes), x.var(axis=axes), weight, bias),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rv, x.var(axis=axes, ddof=1), rtol=1e-12)  # momentum 1: the unbiased var
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    y = F.batch_norm(ms.tensor(x), mean, var, weight, bias, training=False).data
    np.testing.assert_allclose(y, batch_norm_reference(x, mean, var, weight, bias), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    rng = np.random.default_rng(1)
    rm, rv = np.zeros(3), np.ones(3) * 2
    inputs = [rng.standard_normal((2, 3, 2, 2)), rng.standard_normal(3), rng.standard_normal(3)]
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=training), inputs)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("params", ["affine", "weight only", "bias only", "none", "float64 affine"])
def test_batch_norm_without_a_graph_computes_in_place_the_same_values(training, params):
    """Not recorded (no_grad, or nothing requires grad), batch_norm writes only its output (no x_hat
    for backward); the values must be bit-for-bit the recorded ones, and torch's."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 3, 4, 5)) * 3 + 1).astype(np.float32)
    dtype = np.float64 if params.startswith("float64") else np.float32  # wider parameters: the plain formula
    weight = rng.standard_normal(3).astype(dtype) if params in ("affine", "weight only", "float64 affine") else None
    bias = rng.standard_normal(3).astype(dtype) if params in ("affine", "bias only", "float64 affine") else None
    stats = rng.standard_normal(3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)

    def run(requires_grad):
        rm, rv = (s.copy() for s in stats)
        wt, b = (None if p is None else ms.tensor(p, requires_grad=requires_grad) for p in (weight, bias))
        return F.batch_norm(ms.tensor(x, requires_grad=requires_grad), rm, rv, wt, b, training=training)

    recorded = run(True)
    with ms.no_grad():
        in_place = run(True)
    assert recorded.requires_grad and not in_place.requires_grad
    np.testing.assert_array_equal(in_place.data, recorded.data)
    np.testing.assert_array_equal(run(False).data, recorded.data)
    torch_params = [None if p is None else torch.tensor(p.astype(np.float32)) for p in (weight, bias)]
    expected = torch.nn.functional.batch_norm(torch.tensor(x), *map(torch.tensor, stats), *torch_params,
                                              training=training).numpy()
    np.testing.assert_allclose(in_place.data, expected, rtol=1e-5, atol=1e-5)


def test_batch_norm_bad_input():
    with pytest.raises(ValueError, match="batch_norm: weight must have shape \\(3,\\)"):
        F.batch_norm(ms.tensor(np.ones((2, 3, 2, 2))), np.zeros(3), np.ones(3), weight=np.ones(2), training=True)
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel"):
        F.batch_norm(ms.tensor(np.ones((1, 3))), np.zeros(3), np.ones(3), training=True)


def test_dropout_is_seeded_scaled_and_identity_in_eval():
    x = ms.tensor(np.ones((100, 100), np.float32), requires_grad=True)
    ms.manual_seed(7)
    a = F.dropout(x, 0.25)
    ms.manual_seed(7)
    b = F.dropout(x, 0.25)
    np.testing.assert_array_equal(a.data, b.data)
    kept = a.data != 0
    np.testing.assert_allclose(a.data[kept], 1 / 0.75)
    assert 0.7 < kept.mean() < 0.8
    a.sum().backward()
    np.testing.assert_allclose(x.grad, a.data)  # d(mask * x)/dx = mask
    assert F.dropout(x, 0.25, training=False) is x
    with pytest.raises(ValueError, match="dropout: p must be a probability"):
        F.dropout(x, 1.5)
