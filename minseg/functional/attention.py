"""Scaled dot-product attention, ``softmax(Q K^T / sqrt(d) + mask) V``, shaped like
``torch.nn.functional.scaled_dot_product_attention``; the loop reference (one query at a time) sits
below the fast path (batched matmuls).

The fast path is a composition of minseg ops (matmul, softmax, where, dropout), so its backward
is theirs: dL/dV = A^T G, dL/dA = G V^T, the softmax's Jacobian, then dL/dQ and dL/dK.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Tensor, as_array
from ..ops import matmul, transpose, where
from .activation import softmax
from .norm import dropout


def _check_qkv(query, key, value) -> None:
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor) or t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} must be a Tensor of at least 2-D "
                             f"(..., L, E), got {getattr(t, 'shape', type(t))}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query and key must share the last dim E, "
                         f"got query {query.shape} and key {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key and value must have the same number of "
                         f"positions S, got key {key.shape} and value {value.shape}")


def _mask_array(attn_mask, is_causal: bool, length: int, source: int):
    """The mask as (boolean 'may attend', float bias); either may be None."""
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
        return np.tril(np.ones((length, source), bool)), None
    if attn_mask is None:
        return None, None
    mask = as_array(attn_mask)
    if mask.ndim < 2 or any(m not in (1, n) for m, n in zip(mask.shape[-2:], (length, source))):
        raise ValueError(f"scaled_dot_product_attention: attn_mask must broadcast to (..., L={length}, "
                         f"S={source}), got shape {mask.shape}")
    if mask.dtype == bool:
        return mask, None
    return None, attn_mask


def attention_weights(query: Tensor, key: Tensor, attn_mask=None, is_causal: bool = False,
                      scale: float | None = None) -> Tensor:
    """A = softmax(Q K^T * scale + mask) over the keys: (..., L, S), each row sums to 1.

    A boolean mask says which keys a query may attend to (True = allowed, torch's convention for
    this function); a float mask is added to the scores (-inf forbids).
    """
    allowed, bias = _mask_array(attn_mask, is_causal, query.shape[-2], key.shape[-2])
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = matmul(query, transpose(key, -2, -1)) * scale
    if bias is not None:
        scores = scores + bias
    if allowed is not None:
        scores = where(allowed, scores, np.array(-np.inf, scores.dtype))
    return softmax(scores, dim=-1)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """torch.nn.functional.scaled_dot_product_attention: softmax(Q K^T / sqrt(E) + mask) V.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``attn_mask``: bool
    (True = may attend) or float (added), broadcastable to (..., L, S); ``is_causal``: query i
    sees keys 0..i; ``dropout_p``: dropout on the attention weights (as torch, always applied when
    > 0); ``scale`` replaces 1/sqrt(E).
    """
    if enable_gqa:
        raise ValueError("scaled_dot_product_attention: enable_gqa=True (grouped-query attention) is "
                         "not supported; repeat the key/value heads to the query's count instead")
    _check_qkv(query, key, value)
    weights = attention_weights(query, key, attn_mask, is_causal, scale)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, value)


def attention_reference(query, key, value, attn_mask=None, is_causal: bool = False,
                        scale: float | None = None) -> np.ndarray:
    """The loop version on ndarrays (..., L, E): for every query i,
    a_ij = exp(s_ij) / sum_k exp(s_ik) with s_ij = q_i . k_j * scale (+ mask), out_i = sum_j a_ij v_j."""
    q, k, v = (np.asarray(a, np.float64) for a in (query, key, value))
    length, source = q.shape[-2], k.shape[-2]
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q, k, v = (np.broadcast_to(a, batch + a.shape[-2:]).reshape(-1, *a.shape[-2:]) for a in (q, k, v))
    mask = None if attn_mask is None else np.asarray(attn_mask)
    if is_causal:
        mask = np.tril(np.ones((length, source), bool))
    if mask is not None:
        mask = np.broadcast_to(mask, batch + (length, source)).reshape(-1, length, source)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    out = np.zeros((q.shape[0], length, v.shape[-1]))
    for b in range(q.shape[0]):
        for i in range(length):
            scores = []
            for j in range(source):
                s = sum(q[b, i, e] * k[b, j, e] for e in range(q.shape[-1])) * scale
                if mask is not None and mask.dtype == bool and not mask[b, i, j]:
                    s = -math.inf
                elif mask is not None and mask.dtype != bool:
                    s += float(mask[b, i, j])
                scores.append(s)
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            total = sum(exps)
            for j in range(source):
                out[b, i] += exps[j] / total * v[b, j]
    return out.reshape(batch + (length, v.shape[-1]))
