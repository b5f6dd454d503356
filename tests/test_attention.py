"""F.layer_norm, F.gelu (exact and tanh) and F.scaled_dot_product_attention (bool/float masks,
is_causal, scale): against torch forward and backward on random shapes, against their loop
references, and gradcheck in float64."""
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.attention import attention_reference
from minseg.functional.layer_norm import gelu_reference, layer_norm_reference
from minseg.testing import check_op, gradcheck
from tests.support import examples

TF = torch.nn.functional


@examples(100)
@example(lead=[3, 3], trail=[1], affine=True, seed=148)  # a size-1 group (found by hypothesis)
@example(lead=[3], trail=[2], affine=False, seed=71)  # a group of two nearly equal values (found by hypothesis)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2), trail=st.lists(st.integers(1, 5), min_size=1,
       max_size=2), affine=st.booleans(), seed=st.integers(0, 2**16))
def test_layer_norm_vs_torch_and_reference(lead, trail, affine, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(lead + trail) * 3 + 1
    # float64 where float32 cannot settle the comparison: one element per group (x - mean is 0 exactly,
    # and torch's float32 rounding of it, divided by sqrt(eps), leaves weight gradients of about 1e-4
    # where minseg's are exactly 0), or a group whose values nearly agree (its gradient divides by the
    # group's spread: for seed 71's group (2.5075, 2.5317), spread 0.012, float64 gives -2.2906, minseg's
    # float32 -2.2910 and torch's -2.2915, both further apart from each other than 1e-4 allows)
    groups = x.reshape(-1, int(np.prod(trail)))
    dtype = np.float64 if groups.shape[1] == 1 or groups.std(axis=1).min() < 0.1 else np.float32
    x = x.astype(dtype)
    w, b = (rng.standard_normal(trail).astype(dtype) for _ in range(2))
    if affine:
        check_op(lambda t, w_, b_: F.layer_norm(t, trail, w_, b_), [x, w, b],
                 lambda t, w_, b_: TF.layer_norm(t, trail, w_, b_), gradcheck_inputs=False)
    else:
        check_op(F.layer_norm, [x], TF.layer_norm, kwargs=dict(normalized_shape=trail),
                 gradcheck_inputs=False)
    np.testing.assert_allclose(F.layer_norm(ms.tensor(x.astype(np.float64)), trail, w, b).data,
                               layer_norm_reference(x, trail, w, b), atol=1e-10)


def test_layer_norm_by_hand():
    # [1, 2, 3]: mean 2, biased var 2/3 -> (x - 2) / sqrt(2/3 + eps)
    out = F.layer_norm(ms.tensor([[1.0, 2.0, 3.0]]), (3,), eps=0.0).data
    np.testing.assert_allclose(out, [[-math.sqrt(1.5), 0.0, math.sqrt(1.5)]], rtol=1e-6)


def test_layer_norm_gradcheck():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    assert gradcheck(lambda t, w_, b_: F.layer_norm(t, 4, w_, b_), [x, w, b])
    assert gradcheck(lambda t: F.layer_norm(t, (3, 4)), [x])


def test_layer_norm_bad_input():
    x = ms.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\) must be the trailing dims"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape \(3,\)"):
        F.layer_norm(x, 3, weight=np.ones(2, np.float32))


@examples(60)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), approximate=st.sampled_from(["none", "tanh"]),
       seed=st.integers(0, 2**16))
def test_gelu_vs_torch_and_reference(shape, approximate, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(np.float32)
    check_op(F.gelu, [x], TF.gelu, kwargs=dict(approximate=approximate), gradcheck_inputs=False, atol=1e-5)
    np.testing.assert_allclose(F.gelu(ms.tensor(x.astype(np.float64)), approximate).data,
                               gelu_reference(x, approximate), atol=1e-12)


def test_gelu_by_hand_and_gradcheck():
    # GELU(0) = 0; GELU(1) = Phi(1) = 0.8413447; GELU(-1) = -(1 - Phi(1))
    np.testing.assert_allclose(F.gelu(ms.tensor([0.0, 1.0, -1.0])).data, [0.0, 0.8413447, -0.1586553], atol=1e-6)
    x = np.random.default_rng(1).standard_normal((3, 4)) * 2
    for approximate in ("none", "tanh"):
        assert gradcheck(lambda t: F.gelu(t, approximate=approximate), [x])
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(ms.tensor([1.0]), approximate="fast")


def _mask(kind, rng, batch, length, source):
    if kind == "bool":
        mask = rng.random(batch + (length, source)) > 0.3
        mask[..., 0] = True  # every query sees at least one key (a fully masked row is NaN in torch too)
        return mask
    if kind == "float":
        return rng.standard_normal((length, source)).astype(np.float32)
    return None


@examples(80)
@given(batch=st.lists(st.integers(1, 3), min_size=0, max_size=2), length=st.integers(1, 6),
       source=st.integers(1, 6), e=st.integers(1, 5), ev=st.integers(1, 4),
       mask_kind=st.sampled_from(["none", "bool", "float", "causal"]), scale=st.sampled_from([None, 0.7]),
       seed=st.integers(0, 2**16))
def test_sdpa_vs_torch_and_reference(batch, length, source, e, ev, mask_kind, scale, seed):
    rng = np.random.default_rng(seed)
    batch = tuple(batch)
    if mask_kind == "causal":
        source = length
    q = rng.standard_normal(batch + (length, e)).astype(np.float32)
    k = rng.standard_normal(batch + (source, e)).astype(np.float32)
    v = rng.standard_normal(batch + (source, ev)).astype(np.float32)
    mask = _mask(mask_kind, rng, batch, length, source)
    causal = mask_kind == "causal"
    check_op(F.scaled_dot_product_attention, [q, k, v] + ([] if mask is None else [mask]),
             TF.scaled_dot_product_attention, kwargs=dict(is_causal=causal, scale=scale),
             differentiable=(0, 1, 2), gradcheck_inputs=False, atol=1e-5)
    ours = F.scaled_dot_product_attention(*(ms.tensor(a.astype(np.float64)) for a in (q, k, v)),
                                          attn_mask=mask, is_causal=causal, scale=scale).data
    np.testing.assert_allclose(ours, attention_reference(q, k, v, mask, causal, scale), atol=1e-10)


def test_sdpa_by_hand():
    # two keys with equal scores: the output is the mean of the values; a bool mask keeps one
    q = ms.tensor([[[1.0, 0.0]]])
    k = ms.tensor([[[0.0, 1.0], [0.0, -1.0]]])
    v = ms.tensor([[[2.0], [4.0]]])
    assert F.scaled_dot_product_attention(q, k, v).data.item() == pytest.approx(3.0)
    keep_first = np.array([[True, False]])
    assert F.scaled_dot_product_attention(q, k, v, attn_mask=keep_first).data.item() == pytest.approx(2.0)
    # scores 1/sqrt(2) * (1, -1): weights softmax -> e^{a}/(e^{a}+e^{-a}), a = 1/sqrt 2
    k2 = ms.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
    a = 1 / math.sqrt(2)
    expected = (2 * math.exp(a) + 4 * math.exp(-a)) / (math.exp(a) + math.exp(-a))
    assert F.scaled_dot_product_attention(q, k2, v).data.item() == pytest.approx(expected, rel=1e-6)


def test_sdpa_gradcheck_with_masks():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    bias = rng.standard_normal((3, 5))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c), [q, k, v])
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=bias), [q, k, v])
    q3 = rng.standard_normal((1, 4, 3))
    assert gradcheck(lambda a: F.scaled_dot_product_attention(a, a, a, is_causal=True), [q3])


def test_sdpa_dropout():
    rng = np.random.default_rng(3)
    q, k, v = (ms.tensor(rng.standard_normal((2, 4, 3)).astype(np.float32)) for _ in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).data
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).data, plain)
    ms.manual_seed(0)
    dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    assert not np.allclose(dropped, plain)
    # p = 1 drops every weight: the output is 0
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).data, 0)


def test_sdpa_bad_input():
    q = ms.tensor(np.zeros((1, 2, 3), np.float32))
    k = ms.tensor(np.zeros((1, 4, 2), np.float32))
    with pytest.raises(ValueError, match="query and key must share the last dim E"):
        F.scaled_dot_product_attention(q, k, k)
    with pytest.raises(ValueError, match=r"attn_mask must broadcast to \(..., L=2, S=2\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="give attn_mask or is_causal=True, not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), bool), is_causal=True)
