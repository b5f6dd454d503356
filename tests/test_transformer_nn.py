"""nn.LayerNorm, nn.GELU, nn.MultiheadAttention and nn.TransformerEncoderLayer against torch.nn:
torch's state_dict loads unchanged, outputs, attention weights and every parameter's gradient agree
(batch_first both ways, masks, norm_first both ways); gradcheck in float64."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
from minseg import nn
from minseg.testing import gradcheck
from tests.support import examples


def _load_from_torch(ours, theirs):
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict()), "state_dict keys differ from torch's"
    ours.load_state_dict(state)


def _check_param_grads(ours, theirs, atol=1e-4):
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name].grad.numpy(), rtol=1e-4, atol=atol, err_msg=name)


def _run_both(ours, theirs, inputs, call_ours, call_theirs):
    """Forward both on the same arrays, backward a fixed random weighting; returns the outputs."""
    ms_in = [ms.tensor(x, requires_grad=True) for x in inputs]
    t_in = [torch.tensor(x, requires_grad=True) for x in inputs]
    out_ms, out_t = call_ours(*ms_in), call_theirs(*t_in)
    weights = np.random.default_rng(0).standard_normal(out_ms.shape).astype(np.float32)
    out_ms.backward(weights)
    out_t.backward(torch.from_numpy(weights))
    np.testing.assert_allclose(out_ms.data, out_t.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg="forward")
    for a, b in zip(ms_in, t_in):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg="input grad")
    _check_param_grads(ours, theirs)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_module_vs_torch(affine):
    torch.manual_seed(0)
    theirs = torch.nn.LayerNorm((3, 4), elementwise_affine=affine)
    if affine:
        torch.nn.init.normal_(theirs.weight)
        torch.nn.init.normal_(theirs.bias)
    ours = nn.LayerNorm((3, 4), elementwise_affine=affine)
    _load_from_torch(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    _run_both(ours, theirs, [x], ours, theirs)


def test_gelu_module():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    for approximate in ("none", "tanh"):
        np.testing.assert_allclose(nn.GELU(approximate)(ms.tensor(x)).data,
                                   torch.nn.GELU(approximate)(torch.from_numpy(x)).numpy(), atol=1e-6)


@examples(30)
@given(heads=st.sampled_from([1, 2, 4]), head_dim=st.integers(1, 3), batch=st.integers(1, 3),
       length=st.integers(1, 5), source=st.integers(1, 5), batch_first=st.booleans(), bias=st.booleans(),
       mask=st.sampled_from(["none", "bool", "float", "padding"]), average=st.booleans(),
       seed=st.integers(0, 2**16))
def test_multihead_attention_vs_torch(heads, head_dim, batch, length, source, batch_first, bias, mask, average,
                                      seed):
    rng = np.random.default_rng(seed)
    embed = heads * head_dim
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(embed, heads, bias=bias, batch_first=batch_first)
    if bias:
        torch.nn.init.normal_(theirs.in_proj_bias)
        torch.nn.init.normal_(theirs.out_proj.bias)
    ours = nn.MultiheadAttention(embed, heads, bias=bias, batch_first=batch_first)
    _load_from_torch(ours, theirs)
    lead = (batch, length) if batch_first else (length, batch)
    lead_kv = (batch, source) if batch_first else (source, batch)
    q = rng.standard_normal(lead + (embed,)).astype(np.float32)
    kv = rng.standard_normal(lead_kv + (embed,)).astype(np.float32)
    kwargs = {}
    if mask == "bool":
        blocked = rng.random((length, source)) > 0.6
        blocked[:, 0] = False
        kwargs["attn_mask"] = blocked
    elif mask == "float":
        kwargs["attn_mask"] = rng.standard_normal((batch * heads, length, source)).astype(np.float32)
    elif mask == "padding":
        padded = rng.random((batch, source)) > 0.6
        padded[:, 0] = False
        kwargs["key_padding_mask"] = padded
    torch_kwargs = {k: torch.from_numpy(v) for k, v in kwargs.items()}
    weights = {}

    def call_ours(a, b):
        out, weights["ours"] = ours(a, b, b, average_attn_weights=average, **kwargs)
        return out

    def call_theirs(a, b):
        out, weights["theirs"] = theirs(a, b, b, average_attn_weights=average, **torch_kwargs)
        return out

    _run_both(ours, theirs, [q, kv], call_ours, call_theirs)
    np.testing.assert_allclose(weights["ours"].data, weights["theirs"].detach().numpy(), rtol=1e-4, atol=1e-6)


def test_multihead_attention_unbatched_and_no_weights():
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(6, 3)
    ours = nn.MultiheadAttention(6, 3)
    _load_from_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    out, weights = ours(ms.tensor(x), ms.tensor(x), ms.tensor(x), need_weights=False)
    expected, _ = theirs(*(torch.from_numpy(x),) * 3)
    assert weights is None
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_multihead_attention_gradcheck():
    ms.manual_seed(0)
    layer = nn.MultiheadAttention(4, 2, batch_first=True).double()
    layer.in_proj_bias.data[:] = np.random.default_rng(1).standard_normal(12)
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    assert gradcheck(lambda t: layer(t, t, t)[0], [x])
    assert gradcheck(lambda w: _with_weight(layer, w, x), [layer.in_proj_weight.data.copy()])


def _with_weight(layer, weight, x):
    saved = layer.in_proj_weight
    layer.in_proj_weight = nn.Parameter(weight) if not isinstance(weight, ms.Tensor) else weight
    try:
        return layer(ms.tensor(x), ms.tensor(x), ms.tensor(x))[0]
    finally:
        layer.in_proj_weight = saved


def test_multihead_attention_bad_input():
    with pytest.raises(ValueError, match=r"embed_dim \(5\) must be divisible by num_heads \(2\)"):
        nn.MultiheadAttention(5, 2)
    layer = nn.MultiheadAttention(4, 2)
    x = ms.tensor(np.zeros((3, 1, 4), np.float32))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(3, 3\)"):
        layer(x, x, x, attn_mask=np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="query must be"):
        layer(ms.tensor(np.zeros((3, 1, 5), np.float32)), x, x)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_vs_torch(norm_first, activation, batch_first):
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                              batch_first=batch_first, norm_first=norm_first)
    for p in (theirs.norm1.weight, theirs.norm2.bias, theirs.self_attn.in_proj_bias):
        torch.nn.init.normal_(p)
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation=activation,
                                      batch_first=batch_first, norm_first=norm_first)
    _load_from_torch(ours, theirs)
    x = np.random.default_rng(3).standard_normal((2, 5, 8) if batch_first else (5, 2, 8)).astype(np.float32)
    mask = np.triu(np.ones((5, 5), bool), 1)  # causal, in torch's "True = blocked" convention
    _run_both(ours, theirs, [x], lambda t: ours(t, src_mask=mask),
              lambda t: theirs(t, src_mask=torch.from_numpy(mask)))


def test_encoder_layer_gradcheck_and_dropout():
    ms.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu", batch_first=True,
                                       norm_first=True).double()
    x = np.random.default_rng(4).standard_normal((1, 3, 4))
    assert gradcheck(layer, [x])
    noisy = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.5, batch_first=True)
    t = ms.tensor(x.astype(np.float32))
    noisy.eval()
    np.testing.assert_array_equal(noisy(t).data, noisy(t).data)
    noisy.train()
    assert not np.allclose(noisy(t).data, noisy.eval()(t).data)
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(4, 2, activation="swish")
