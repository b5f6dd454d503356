"""The transformer's layers with torch.nn's names, arguments and state_dict keys: LayerNorm, GELU,
MultiheadAttention (in_proj_weight / in_proj_bias / out_proj, so a torch state_dict loads
unchanged) and TransformerEncoderLayer (post-norm or, with norm_first=True, pre-norm)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd import Tensor, as_array
from ..functional.attention import attention_weights
from ..functional.layer_norm import gelu, layer_norm
from . import init
from .layers import Dropout, Linear
from .module import Module, Parameter


class LayerNorm(Module):
    """Normalise each vector over the trailing ``normalized_shape`` dims (torch.nn.LayerNorm)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, np.float32)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GELU(Module):
    """x Phi(x), or its tanh approximation with approximate='tanh' (torch.nn.GELU)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def _additive_mask(attn_mask, key_padding_mask, batch: int, heads: int, length: int, source: int, dtype):
    """torch's MHA masks (bool True = may NOT attend, or float added) as one float array that
    broadcasts to (N, heads, L, S); None when there is no mask."""
    bias = None
    if attn_mask is not None:
        mask = as_array(attn_mask)
        if mask.shape == (length, source):
            mask = mask[None, None]
        elif mask.shape == (batch * heads, length, source):
            mask = mask.reshape(batch, heads, length, source)
        else:
            raise ValueError(f"MultiheadAttention: attn_mask must have shape (L, S) = ({length}, {source}) "
                             f"or (N*num_heads, L, S) = ({batch * heads}, {length}, {source}), got {mask.shape}")
        bias = np.where(mask, -np.inf, 0).astype(dtype) if mask.dtype == bool else mask.astype(dtype)
    if key_padding_mask is not None:
        pad = as_array(key_padding_mask)
        if pad.shape != (batch, source):
            raise ValueError(f"MultiheadAttention: key_padding_mask must have shape (N, S) = "
                             f"({batch}, {source}), got {pad.shape}")
        pad = np.where(pad, -np.inf, 0) if pad.dtype == bool else pad
        pad = pad.astype(dtype)[:, None, None, :]
        bias = pad if bias is None else bias + pad
    return bias


class MultiheadAttention(Module):
    """Multi-head attention (torch.nn.MultiheadAttention): project Q, K, V with in_proj_weight,
    split E into num_heads heads of E/num_heads, attend per head, concatenate, out_proj.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None); inputs (L, N, E),
    or (N, L, E) with batch_first, or unbatched (L, E); weights (N, L, S), per head (N, heads, L, S)
    with average_attn_weights=False. Masks follow torch: a bool True means "may not attend".
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn or kdim not in (None, embed_dim) or vdim not in (None, embed_dim):
            raise ValueError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim other than "
                             "embed_dim are not supported")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        # torch: xavier_uniform_ on the (3E, E) stack, zero biases
        bound = math.sqrt(6.0 / (embed_dim + 3 * embed_dim))
        self.in_proj_weight = Parameter(init.uniform((3 * embed_dim, embed_dim), bound))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            self.out_proj.bias.data[:] = 0

    def _project(self, x: Tensor, which: int) -> Tensor:
        """(N, L, E) -> (N, heads, L, head_dim) through the ``which``-th third of in_proj."""
        rows = slice(which * self.embed_dim, (which + 1) * self.embed_dim)
        y = x @ self.in_proj_weight[rows].T
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[rows]
        n, length, _ = y.shape
        return y.reshape(n, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def _batched(self, x: Tensor, name: str) -> Tensor:
        if x.ndim not in (2, 3) or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: {name} must be (L, N, E), (N, L, E) with batch_first, "
                             f"or (L, E), with E = {self.embed_dim}; got shape {x.shape}")
        if x.ndim == 2:
            return x.reshape(1, *x.shape)
        return x if self.batch_first else x.permute(1, 0, 2)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal is a hint about attn_mask; give attn_mask too")
        unbatched = query.ndim == 2
        q, k, v = (self._batched(t, name) for t, name in ((query, "query"), (key, "key"), (value, "value")))
        batch, length, source = q.shape[0], q.shape[1], k.shape[1]
        if unbatched and key_padding_mask is not None:
            key_padding_mask = as_array(key_padding_mask)[None]
        mask = _additive_mask(attn_mask, key_padding_mask, batch, self.num_heads, length, source, q.dtype)
        weights = attention_weights(self._project(q, 0), self._project(k, 1), attn_mask=mask)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout, training=True)
        heads = weights @ self._project(v, 2)  # (N, heads, L, head_dim)
        out = self.out_proj(heads.permute(0, 2, 1, 3).reshape(batch, length, self.embed_dim))
        out = out.reshape(length, self.embed_dim) if unbatched else (
            out if self.batch_first else out.permute(1, 0, 2))
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        return out, (weights.reshape(*weights.shape[1:]) if unbatched else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


_ACTIVATIONS = {"relu": F.relu, "gelu": gelu}


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and LayerNorm
    (torch.nn.TransformerEncoderLayer, same module names).

    norm_first=False (the original post-norm): x = norm1(x + sa(x)); x = norm2(x + ff(x)).
    norm_first=True (pre-norm, ViT/SETR):       x = x + sa(norm1(x)); x = x + ff(norm2(x)).
    ff(x) = linear2(dropout(activation(linear1(x)))).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, "
                                 f"got {activation!r}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))
