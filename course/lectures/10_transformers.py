# %% [markdown]
# # Lecture 10 — Segmentation with transformers: SETR, SegFormer's idea, promptable masks
#
# Every network so far was built from convolutions: each layer looks at a small window, and context
# comes from stacking, striding and dilating. SETR (CVPR 2021) asked what happens if we "treat
# semantic segmentation as a sequence-to-sequence prediction task": cut the image into patches, turn
# each patch into a token, and let a stack of *self-attention* layers mix every token with every
# other — a purely transformer encoder, with no resolution downsampling. This lecture builds that
# network from its parts, trains it on DigitScenes, compares it with the CNNs of lectures 04–06, and
# ends with the two ideas that came next: SegFormer's efficient hierarchical transformer and Segment
# Anything's promptable masks.
#
# **You will be able to**
# - turn an image into a sequence of patch tokens (a convolution with stride = patch size) and add
#   positions, also for an input larger than the one trained on;
# - compute self-attention $\mathrm{softmax}(QK^\top/\sqrt d)\,V$ from the formula, single- and
#   multi-head, and count its cost in tokens²;
# - measure the receptive field of one attention layer with autograd, against the $1 + 2L$ of
#   convolutions;
# - describe SETR's naive and progressive-upsampling decoders and where the trained SETR fails;
# - explain SegFormer's efficient attention and a promptable mask decoder (a point in, a mask out).
#
# The four **Exercise** cells are graded as in the earlier lectures (see the grading note above and
# the last cell). Where an exercise rebuilds something minseg has, its check switches the library
# function off while it runs, so write it from the formula.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg import models
from minseg.data import DigitScenes
from minseg.testing import check_op
from minseg.viz import attention as aviz

scenes = DigitScenes(8, size=64, split="val", seed=0)

# %% [markdown]
# ## 1. An image is a sequence of patches
#
# A transformer reads a sequence of vectors. SETR makes one from an image by cutting it into
# $p\times p$ patches in reading order, flattening each into a vector of $3p^2$ numbers, and mapping it
# linearly to an embedding $e_i \in \mathbb{R}^C$ (the slides' $f: p \in \mathbb{R}^{p \cdot p \cdot 3}
# \rightarrow e \in \mathbb{R}^C$). A 64×64 scene with 8×8 patches becomes $8 \cdot 8 = 64$ tokens:

# %%
image = scenes.images[0]
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained")
axes[0].imshow(image.transpose(1, 2, 0))
for edge in range(0, 65, 8):
    axes[0].axhline(edge - 0.5, color="white", lw=0.8)
    axes[0].axvline(edge - 0.5, color="white", lw=0.8)
axes[0].set_title("a 64x64 scene cut into 8x8 patches")
patches = image.reshape(3, 8, 8, 8, 8).transpose(1, 3, 0, 2, 4).reshape(64, 3 * 64)
axes[1].imshow(patches.T, aspect="auto", cmap="gray")
axes[1].set_xlabel("token (patch in reading order)")
axes[1].set_ylabel("the patch's 3*8*8 = 192 values")
axes[1].set_title("the same image as a sequence of 64 vectors")
plt.show()

# %% [markdown]
# Mapping every flattened patch by the same matrix $W \in \mathbb{R}^{C\times 3p^2}$ is exactly a
# convolution with a $p\times p$ kernel and stride $p$: each output position sees one patch, and the
# windows do not overlap. That is how `models.SETR` embeds patches (`nn.Conv2d(3, C, p, stride=p)`).
#
# **Exercise (patch_embedding).** Write `patch_embed(x, weight, bias, patch_size)` for minseg tensors
# `x` `(N, 3, H, W)`, `weight` `(C, 3, p, p)`, `bias` `(C,)`: return the `(N, L, C)` tokens, $L =
# (H/p)(W/p)$ in reading order, using only `reshape`, `permute` and `@` (so gradients reach all
# three). `F.conv2d` and `F.unfold` are unavailable while the check runs your function.

# %%
def patch_embed(x, weight, bias, patch_size):
    """(N, C_in, H, W) -> (N, L, C) tokens: every p x p patch flattened and mapped by weight."""
    n, c_in, h, w = x.shape
    p = patch_size
    ### BEGIN SOLUTION hint: reshape to (N, C_in, H/p, p, W/p, p), permute to (N, H/p, W/p, C_in, p, p)
    gh, gw = h // p, w // p
    flat = x.reshape(n, c_in, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c_in * p * p)
    return flat @ weight.reshape(weight.shape[0], -1).T + bias
    ### END SOLUTION


# %% grade_id="patch_embedding"
import numpy as np
import torch

import minseg.functional as F
from minseg.testing import check_op, unavailable


def _torch_patch_embed(x, weight, bias, patch_size):
    """The expected tokens: torch's p x p convolution at stride p, flattened to (N, L, C)."""
    return torch.nn.functional.conv2d(x, weight, bias, stride=patch_size).flatten(2).transpose(1, 2)


_rng = np.random.default_rng(10)
_cases = [((1, 3, 8, 8), 4, 5), ((2, 3, 16, 8), 8, 3), ((2, 1, 6, 9), 3, 4)]
### BEGIN HIDDEN TESTS
_cases += [((1, 2, 10, 5), 5, 6), ((3, 3, 4, 4), 1, 2)]
### END HIDDEN TESTS
with unavailable(F.conv2d, F.unfold):
    for _shape, _p, _c in _cases:  # the tokens, then the gradients of x, weight and bias, against torch
        _inputs = [_rng.normal(size=shape) for shape in (_shape, (_c, _shape[1], _p, _p), (_c,))]
        check_op(patch_embed, _inputs, _torch_patch_embed, kwargs=dict(patch_size=_p), gradcheck_inputs=False)
print("patch_embed equals a strided convolution, forward and every gradient")

# %% [markdown]
# ## 2. Positions
#
# Attention (below) treats its input as a *set*: shuffle the tokens and the outputs shuffle with
# them. Where a patch was must therefore be added to it: SETR learns one vector $p_i$ per position
# and feeds $E = \{e_1 + p_1, e_2 + p_2, \dots, e_L + p_L\}$ to the encoder. The table is learned
# for the training size (8×8 positions for 64×64 scenes); for a larger image we resample it on its
# grid, bilinearly, as ViT does when it is fine-tuned at a higher resolution.
#
# **Exercise (positions).** Write `interpolate_positions(table, new_grid)` in NumPy: `table` is
# `(g*g, C)` (a square `g x g` grid of position vectors in reading order), `new_grid` is `(gh, gw)`;
# return the `(gh*gw, C)` table resampled by bilinear interpolation with `align_corners=False` (the
# centre of new cell $o$ sits at $(o + \frac12)\,g/n - \frac12$ on the old grid, clamped at the border,
# lecture 03). `F.interpolate` and `torch.nn.functional.interpolate` are unavailable while the check
# runs it.

# %%
def interpolate_positions(table, new_grid):
    """Bilinear (align_corners=False) resampling of a (g*g, C) position table to (gh*gw, C)."""
    table = np.asarray(table, dtype=float)
    g = int(round(np.sqrt(table.shape[0])))
    grid = table.reshape(g, g, -1)
    gh, gw = new_grid
    ### BEGIN SOLUTION hint: per axis, source positions, their floor i0, i0 + 1 (clamped) and weights
    def axis(n_out):
        src = np.clip((np.arange(n_out) + 0.5) * g / n_out - 0.5, 0, g - 1)
        low = np.floor(src).astype(int)
        high = np.minimum(low + 1, g - 1)
        return low, high, src - low

    r0, r1, fr = axis(gh)
    c0, c1, fc = axis(gw)
    top = grid[r0][:, c0] * (1 - fc)[None, :, None] + grid[r0][:, c1] * fc[None, :, None]
    bottom = grid[r1][:, c0] * (1 - fc)[None, :, None] + grid[r1][:, c1] * fc[None, :, None]
    out = top * (1 - fr)[:, None, None] + bottom * fr[:, None, None]
    return out.reshape(gh * gw, -1)
    ### END SOLUTION


# %% grade_id="positions"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg import models
from minseg.testing import unavailable

_rng = np.random.default_rng(11)
_cases = []
for _g, _new, _c in [(2, (4, 4), 1), (4, (6, 6), 3), (4, (4, 4), 2), (3, (5, 7), 2), (4, (2, 3), 2)]:
    _table = _rng.normal(size=(_g * _g, _c))
    _grid = torch.tensor(_table.reshape(1, _g, _g, _c)).permute(0, 3, 1, 2)
    _expected = torch.nn.functional.interpolate(_grid, size=_new, mode="bilinear", align_corners=False)
    _cases.append((_table, _new, _expected[0].permute(1, 2, 0).reshape(-1, _c).numpy()))
_model = models.SETR(num_classes=3, image_size=16, patch_size=4, embed_dim=8, depth=1, num_heads=2)
_cases.append((_model.pos_embed.data[0].astype(float), (6, 6), _model.position_embedding((6, 6)).data[0]))
### BEGIN HIDDEN TESTS
_table = _rng.normal(size=(25, 2))
_grid = torch.tensor(_table.reshape(1, 5, 5, 2)).permute(0, 3, 1, 2)
_cases.append((_table, (9, 3), torch.nn.functional.interpolate(_grid, size=(9, 3), mode="bilinear",
                                                                 align_corners=False)[0].permute(1, 2, 0)
               .reshape(-1, 2).numpy()))
### END HIDDEN TESTS
with unavailable(F.interpolate, torch.nn.functional.interpolate):
    for _table, _new, _expected in _cases:
        _call = f"interpolate_positions(table of shape {_table.shape}, {_new})"
        _got = np.asarray(interpolate_positions(_table, _new))
        assert _got.shape == _expected.shape, f"{_call}: shape should be {_expected.shape}, got {_got.shape}"
        np.testing.assert_allclose(_got, _expected, rtol=1e-5, atol=1e-6, err_msg=_call)
print("interpolate_positions agrees with torch's bilinear interpolation and SETR.position_embedding")

# %% [markdown]
# ## 3. Self-attention from the formula
#
# Each token $x_i$ is mapped to a *query* $q_i = W_Q x_i$, a *key* $k_i = W_K x_i$ and a *value*
# $v_i = W_V x_i$. Token $i$ scores every token $j$ by $q_i\cdot k_j/\sqrt d$, turns the scores into
# weights with a softmax, and outputs the weighted mean of the values:
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt d}\right) V .$$
#
# The $\sqrt d$ keeps the scores' spread independent of the width $d$, so the softmax does not
# saturate. A worked example: one query $(1, 0)$, two keys $(1, 0)$ and $(-1, 0)$, values 2 and 4. The
# scores are $\pm 1/\sqrt2$, the weights $e^{\pm 0.707}/(e^{0.707} + e^{-0.707}) = 0.80, 0.20$ and the
# output $0.80\cdot 2 + 0.20 \cdot 4 = 2.39$; two equal keys would give the plain mean, 3.

# %% tags=["nbval-check-output"]
q = ms.tensor([[[1.0, 0.0]]])
k = ms.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
v = ms.tensor([[[2.0], [4.0]]])
print("weights:", np.round(F.softmax(q @ k.transpose(-2, -1) / np.sqrt(2), dim=-1).data.ravel(), 2))
print("output: %.2f" % F.scaled_dot_product_attention(q, k, v).item())
print("equal keys: %.2f" % F.scaled_dot_product_attention(q, ms.tensor([[[0.0, 1.0], [0.0, -1.0]]]), v).item())
# Expected output:
# weights: [0.8 0.2]
# output: 2.39
# equal keys: 3.00

# %% [markdown]
# **Exercise (attention).** Write `attention(q, k, v)` for minseg tensors `(..., L, E)`, `(..., S, E)`,
# `(..., S, Ev)`: the formula above with `@`, `transpose` and `F.softmax`, differentiable.
# `F.scaled_dot_product_attention` (and minseg's `attention_weights`) are unavailable while the
# check runs it.

# %%
def attention(q, k, v):
    """softmax(q k^T / sqrt(E)) v over the last two axes."""
    ### BEGIN SOLUTION hint: scores (..., L, S) = q @ k.transpose(-2, -1) / sqrt(E); softmax over dim=-1
    scores = q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1])
    return F.softmax(scores, dim=-1) @ v
    ### END SOLUTION


# %% grade_id="attention"
import numpy as np
import torch

import minseg.functional as F
from minseg.functional.attention import attention_weights
from minseg.testing import check_op, unavailable

_rng = np.random.default_rng(12)
_cases = [((1, 2), (2, 2), (2, 1)), ((3, 4), (5, 4), (5, 2)), ((2, 3, 4), (2, 6, 4), (2, 6, 3))]
### BEGIN HIDDEN TESTS
_cases += [((2, 2, 5, 3), (2, 2, 4, 3), (2, 2, 4, 6))]
### END HIDDEN TESTS
with unavailable(F.scaled_dot_product_attention, attention_weights):
    for _shapes in _cases:  # yours and torch's on the same q, k, v: the output, then the three gradients
        check_op(attention, [_rng.normal(size=shape) * 2 for shape in _shapes],
                 torch.nn.functional.scaled_dot_product_attention, gradcheck_inputs=False)
print("attention agrees with torch's scaled_dot_product_attention, forward and gradients")

# %% [markdown]
# minseg's own `F.scaled_dot_product_attention` (with boolean or additive masks and `is_causal`)
# against PyTorch's, forward and every gradient, in one line:

# %%
_q, _k, _v = (np.random.default_rng(1).normal(size=(2, 4, 6, 8)) for _ in range(3))
check_op(F.scaled_dot_product_attention, [_q, _k, _v], torch.nn.functional.scaled_dot_product_attention)
check_op(F.scaled_dot_product_attention, [_q, _k, _v], torch.nn.functional.scaled_dot_product_attention,
         kwargs=dict(is_causal=True))
print("minseg's scaled_dot_product_attention agrees with torch's")

# %% [markdown]
# ## 4. Multi-head attention
#
# One softmax per query can only put its weight in one kind of place. *Multi-head* attention
# splits the width $E$ into $h$ heads of $E/h$, runs attention in each head with its own slices of
# $W_Q, W_K, W_V$, concatenates the heads and mixes them with an output matrix $W_O$. PyTorch keeps
# the three input matrices stacked in one `in_proj_weight` of shape $(3E, E)$ (rows $0..E$: $W_Q$,
# then $W_K$, then $W_V$) and the output layer as `out_proj`; minseg's `nn.MultiheadAttention` uses the
# same names, so a torch state_dict loads unchanged.
#
# **Exercise (multi_head).** Write `multi_head_attention(x, in_proj_weight, in_proj_bias, out_weight,
# out_bias, num_heads)`: self-attention of `x` `(N, L, E)` (batch first) with those weights, returning
# `(N, L, E)`; you may call your `attention` (the check lends you the course's). minseg's
# `F.scaled_dot_product_attention`, `attention_weights` and `nn.MultiheadAttention` are unavailable
# while the check runs it.

# %%
def multi_head_attention(x, in_proj_weight, in_proj_bias, out_weight, out_bias, num_heads):
    """torch.nn.MultiheadAttention(E, num_heads, batch_first=True)(x, x, x)[0] from its weights."""
    n, length, e = x.shape
    d = e // num_heads
    ### BEGIN SOLUTION hint: qkv = x @ in_proj_weight.T + in_proj_bias, split in 3; heads: (N, h, L, d)
    qkv = x @ in_proj_weight.T + in_proj_bias
    q, k, v = (qkv[:, :, i * e:(i + 1) * e].reshape(n, length, num_heads, d).permute(0, 2, 1, 3)
               for i in range(3))
    heads = attention(q, k, v).permute(0, 2, 1, 3).reshape(n, length, e)
    return heads @ out_weight.T + out_bias
    ### END SOLUTION


# %% grade_id="multi_head"
import numpy as np
import torch

import minseg.functional as F
import minseg.nn as nn
from minseg.functional.attention import attention_weights
from minseg.testing import check_op, unavailable

from course.checks import lend


def _reference_attention(q, k, v):
    """The course's single-head attention, lent to your function so this exercise is graded alone."""
    return F.softmax(q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1]), dim=-1) @ v


def _torch_multi_head(x, in_proj_weight, in_proj_bias, out_weight, out_bias, num_heads):
    """The expected values: torch.nn.MultiheadAttention's forward (batch first) with these weights."""
    _tokens = x.transpose(0, 1)  # torch's functional form takes (L, N, E)
    _out, _ = torch.nn.functional.multi_head_attention_forward(
        _tokens, _tokens, _tokens, x.shape[-1], num_heads, in_proj_weight, in_proj_bias,
        None, None, False, 0.0, out_weight, out_bias, need_weights=False)
    return _out.transpose(0, 1)


_rng = np.random.default_rng(13)
_cases = [(1, 3, 4, 1), (2, 5, 6, 2), (2, 4, 8, 4)]
### BEGIN HIDDEN TESTS
_cases += [(3, 2, 6, 3)]
### END HIDDEN TESTS
with lend(globals(), attention=_reference_attention):
    with unavailable(F.scaled_dot_product_attention, attention_weights, nn.MultiheadAttention.forward):
        for _n, _l, _e, _h in _cases:  # weights scaled by 1 / sqrt(E), so the softmax does not saturate
            _shapes = [(3 * _e, _e), (3 * _e,), (_e, _e), (_e,)]  # in_proj weight, bias; out weight, bias
            _inputs = [_rng.normal(size=shape) / np.sqrt(_e) for shape in _shapes]
            check_op(multi_head_attention, [_rng.normal(size=(_n, _l, _e))] + _inputs, _torch_multi_head,
                     kwargs=dict(num_heads=_h), gradcheck_inputs=False)
print("multi_head_attention agrees with torch.nn.MultiheadAttention, forward and gradients")

# %% [markdown]
# minseg's `nn.MultiheadAttention` with torch's weights gives torch's outputs and attention weights;
# `nn.TransformerEncoderLayer` (attention + an MLP, each with a residual and a LayerNorm; SETR uses
# the pre-norm form, `norm_first=True`) likewise:

# %%
torch.manual_seed(0)
torch_layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True,
                                               norm_first=True)
ms_layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True,
                                      norm_first=True)
ms_layer.load_state_dict({key: value.numpy() for key, value in torch_layer.state_dict().items()})
tokens = np.random.default_rng(2).normal(size=(2, 10, 16)).astype(np.float32)
check_op(ms_layer, [tokens], torch_layer, gradcheck_inputs=False, atol=1e-5)  # torch's gradient only
print("nn.TransformerEncoderLayer: torch's state_dict loads unchanged, outputs and gradients agree")

# %% [markdown]
# ## 5. The cost: tokens squared
#
# Attention compares every token with every token: $L^2$ scores per head and layer, and they must
# be stored for backward. With $L$ tokens that is quadratic in the number of patches, so
# *quartic* in the image side for a fixed patch size. Counting for our 64×64 scenes and for a
# 512×512 image (ADE20K's usual crop):

# %% tags=["nbval-check-output"]
print(f"{'image':>8} {'patch':>5} {'tokens L':>9} {'L^2 scores':>15} {'float32 per head':>17}")
for side in (64, 512):
    for patch in (16, 8, 1):
        tokens_count = (side // patch) ** 2
        scores = tokens_count ** 2
        print(f"{side:>5}^2 {patch:>5} {tokens_count:>9,} {scores:>15,} {scores * 4 / 2 ** 20:>13,.1f} MiB")
# Expected output:
#    image patch  tokens L      L^2 scores  float32 per head
#    64^2    16        16             256           0.0 MiB
#    64^2     8        64           4,096           0.0 MiB
#    64^2     1     4,096      16,777,216          64.0 MiB
#   512^2    16     1,024       1,048,576           4.0 MiB
#   512^2     8     4,096      16,777,216          64.0 MiB
#   512^2     1   262,144  68,719,476,736     262,144.0 MiB

# %% [markdown]
# One token per pixel of a 512×512 image would need 256 GiB per head and layer: attention needs
# patches. SETR uses 16×16 patches (1,024 tokens at 512²) and keeps that resolution through all 24
# layers of its ViT-Large encoder. A 3×3 convolution, by contrast, costs $9$ multiply-adds per pixel
# and channel pair whatever the image size.
#
# ## 6. Receptive field: everything after one layer
#
# In lecture 02 we measured, with autograd, that $L$ stacked 3×3 convolutions let one output pixel
# see $1 + 2L$ input pixels. Do the same for SETR: the gradient of one output token of the encoder
# with respect to the image is nonzero wherever that token looks. After a single layer it already
# reaches every pixel (the slides' figure, where each layer's attention spans the whole image):

# %% tags=["nbval-check-output"]
def conv_field(layers):
    """Width of the input region the centre output of ``layers`` 3x3 convolutions depends on."""
    x = ms.tensor(np.zeros((1, 1, 64, 64)), requires_grad=True)
    y = x
    for _ in range(layers):
        y = F.conv2d(y, ms.tensor(np.ones((1, 1, 3, 3))), padding=1)
    y[0, 0, 32, 32].backward()
    return int(np.any(x.grad[0, 0] != 0, axis=0).sum())


def setr_field(layers):
    """How many of the 64x64 input pixels the features of the top-left token depend on."""
    ms.manual_seed(0)
    net = models.SETR(num_classes=3, image_size=64, patch_size=8, embed_dim=16, depth=layers, num_heads=2)
    net.double()
    x = ms.tensor(np.random.default_rng(0).random((1, 3, 64, 64)), requires_grad=True)
    net.encode(x)[0, :, 0, 0].sum().backward()
    return int((np.abs(x.grad[0]).sum(0) > 0).sum())


for L in (1, 2, 3):
    print(f"L = {L}: 3x3 convolutions see {conv_field(L)} x {conv_field(L)} pixels (1 + 2L = {1 + 2 * L});"
          f" SETR's token sees {setr_field(L)} of {64 * 64} pixels")
# Expected output:
# L = 1: 3x3 convolutions see 3 x 3 pixels (1 + 2L = 3); SETR's token sees 4096 of 4096 pixels
# L = 2: 3x3 convolutions see 5 x 5 pixels (1 + 2L = 5); SETR's token sees 4096 of 4096 pixels
# L = 3: 3x3 convolutions see 7 x 7 pixels (1 + 2L = 7); SETR's token sees 4096 of 4096 pixels

# %% [markdown]
# The field is global from the first layer, but it is not uniform: how much each pixel matters is
# what the attention weights decide, and a trained network often attends mostly near the query in
# the early layers (see the attention explorer below).
#
# ## 7. SETR's decoders
#
# The encoder's output is a sequence again; folded back into its grid it is a $C \times H/p \times W/p$
# feature map, which a decoder turns into per-pixel scores:
# - **naive**: a 1×1 convolution + batch norm + ReLU, a 1×1 convolution to the classes, and one
#   bilinear upsampling by $p$;
# - **PUP** (progressive upsampling): $\log_2 p$ stages of 3×3 convolution + batch norm + ReLU +
#   bilinear ×2 (alternating, so no single step has to invent a factor of 16), then a 1×1
#   convolution to the classes (SETR also has a multi-level variant, MLA, that fuses several layers).

# %% tags=["nbval-check-output"]
for decoder in ("naive", "pup"):
    ms.manual_seed(0)
    net = models.SETR(num_classes=11, image_size=64, patch_size=8, embed_dim=64, depth=4, num_heads=4,
                      decoder=decoder)
    x = ms.tensor(np.zeros((1, 3, 64, 64), np.float32))
    with ms.no_grad():
        print(f"{decoder:>5}: features {net.encode(x).shape} -> scores {net(x).shape}, "
              f"decoder parameters {sum(p.data.size for n, p in net.named_parameters() if 'decoder' in n or 'classifier' in n):,}")
# Expected output:
# naive: features (1, 64, 8, 8) -> scores (1, 11, 64, 64), decoder parameters 2,507
#   pup: features (1, 64, 8, 8) -> scores (1, 11, 64, 64), decoder parameters 37,515

# %% [markdown]
# ## 8. Training SETR on DigitScenes
#
# The preset `setr` is the network above with the PUP decoder. A few live steps show the loss falling;
# then we load the weights trained by `python -m benchmarks.train_models --save-weights --only setr`
# (its record says how) and compare it with the CNNs of lectures 04–06.

# %% tags=["nbval-ignore-output"]
from minseg.models import pretrained
from minseg.training import evaluate, fit, presets

class_name, config, settings = presets.preset("setr")
ms.manual_seed(0)
live = models.create(class_name, num_classes=11, **config)
train_scenes = DigitScenes(64, size=64, split="train", seed=0)
history = fit(live, train_scenes, 12, batch_size=8, seed=0, progress=False,
              **dict(settings, warmup=0, lr=1e-3))
plt.figure(figsize=(5, 2.5))
plt.plot(history["loss"])
plt.xlabel("step")
plt.ylabel("training loss")
plt.title("SETR, the first 12 steps")
plt.show()

# %% tags=["nbval-ignore-output"]
val_scenes = DigitScenes(64, size=64, split="val", seed=0)
rows = {}
for name in ("setr", "fcn8s", "unet", "deeplabv3plus"):
    trained = pretrained.load(name)
    result = evaluate(trained, val_scenes, batch_size=32)
    rows[name] = (trained, result)
    print(f"{name:>14}: val mIoU {result['mean_iou']:.3f}, pixel accuracy {result['pixel_accuracy']:.3f}, "
          f"{sum(p.data.size for p in trained.parameters()):,} parameters")

# %% [markdown]
# Where each fails: predictions on a few validation scenes (colour = class, black = background).

# %% tags=["nbval-ignore-output"]
from minseg.training import predict

shown = slice(0, 4)
fig, axes = plt.subplots(len(rows) + 2, 4, figsize=(7.5, 2 * (len(rows) + 2)), layout="constrained")
for col in range(4):
    axes[0, col].imshow(val_scenes.images[col].transpose(1, 2, 0))
    axes[1, col].imshow(val_scenes.masks[col], cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
for row, (name, (trained, _)) in enumerate(rows.items(), start=2):
    labels = predict(trained, val_scenes.images[shown]).argmax(1)
    for col in range(4):
        axes[row, col].imshow(labels[col], cmap="tab20", vmin=0, vmax=19, interpolation="nearest")
for row, title in enumerate(["scene", "truth", *rows]):
    axes[row, 0].set_ylabel(title)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# Compare the rows. SETR at this scale sees the whole scene from its first layer but thinks in 8×8
# blocks: its masks can only change shape from one patch to the next (the PUP decoder smooths the
# blocks but has no finer information than the tokens), so thin strokes that cover part of a patch
# are the first thing it loses. The CNNs see little context per layer but keep (U-Net) or recover
# (FCN-8s, DeepLab v3+) fine detail through their skips. SETR's strength, global context, paid off
# with a large pre-trained encoder on large, ambiguous scenes (50.28 % mIoU on ADE20K, the state of
# the art in 2021), not on small digits learned from scratch in a few minutes on a CPU. (The numbers
# in the table come from the shipped weights, each model trained only briefly: read them as a
# snapshot, and see each model's record, `pretrained.available()[name]`, for how it was made.)
#
# ## 9. The attention explorer
#
# Move the query patch and see where the trained SETR's attention goes, per layer and head.

# %%
setr = rows["setr"][0]
scene = val_scenes.images[1]
with ms.no_grad():
    maps = [m[0] for m in setr.attention_maps(ms.tensor(scene[None]))]

# %% tags=["nbval-ignore-output"]
aviz.attention_widget(scene, maps)

# %% tags=["nbval-ignore-output"]
aviz.draw_heads(scene, maps, row=4, col=4)

# %% [markdown]
# ## 10. SegFormer's idea: hierarchical, efficient, with an MLP decoder
#
# SETR keeps one resolution and pays $L^2$. SegFormer (2021) changes three things:
# - **hierarchical features**: four stages at strides 4, 8, 16, 32 (overlapping strided
#   convolutions merge patches between stages), like a CNN backbone;
# - **efficient self-attention**: keys and values are computed from a copy of the token grid shrunk
#   by a reduction ratio $R$ (a strided convolution), so the cost is $L \cdot L/R^2$ instead of $L^2$;
# - **an all-MLP decoder**: each stage's features are mapped to a common width by a linear layer,
#   upsampled to stride 4, concatenated and fused by one more linear layer.
#
# The efficient attention in a few lines, on the 4,096 tokens of a 64×64 stride-1 grid with $R = 8$:

# %%
def efficient_attention(x, reduce_weight, reduction):
    """x (N, C, H, W): queries from every position, keys/values from the grid shrunk by ``reduction``."""
    n, c, h, w = x.shape
    queries = x.reshape(n, c, h * w).permute(0, 2, 1)  # (N, HW, C)
    shrunk = F.conv2d(x, reduce_weight, stride=reduction)  # (N, C, H/R, W/R)
    keys = shrunk.reshape(n, c, -1).permute(0, 2, 1)  # (N, HW/R^2, C)
    out = F.scaled_dot_product_attention(queries, keys, keys)
    return out.permute(0, 2, 1).reshape(n, c, h, w), keys.shape[1]


grid = ms.tensor(np.random.default_rng(3).normal(size=(1, 8, 64, 64)).astype(np.float32))
reduce_weight = ms.tensor(np.random.default_rng(4).normal(size=(8, 8, 8, 8)).astype(np.float32) / 8)
out, key_count = efficient_attention(grid, reduce_weight, 8)
print(f"output {out.shape}; scores per head: {64 * 64:,} x {key_count} = {64 * 64 * key_count:,} "
      f"instead of {(64 * 64) ** 2:,} ({(64 * 64) ** 2 // (64 * 64 * key_count)}x fewer)")

# %% [markdown]
# ## 11. Segment Anything's idea: a point in, a mask out
#
# Segment Anything (SAM, 2023) separates a heavy image encoder, run once per image, from a light
# *promptable* mask decoder: a prompt (a point, a box) becomes a token, the token reads the image
# embedding, and a dot product between the resulting token and every position of the embedding gives
# the mask logits. The mask belongs to *whatever object is under the point*: no class list.
#
# A tiny prompt-conditioned head on our data, in that spirit: the trained SETR's encoder (frozen) gives
# the image embedding; the prompt token is the embedding at the clicked patch. Two linear maps make a
# query from the token and keys from every position, and their dot products (upsampled) say which
# patches resemble the clicked one. DigitScenes paints each digit in one colour, so a second cue is
# how far each pixel's colour is from the clicked pixel's; a last linear layer mixes the two cues into
# the mask logits of the instance under the point. Only the head is trained, for a few seconds, with
# binary cross-entropy against DigitScenes' instance masks. (On these scenes the colour cue does most
# of the work; in SAM everything comes from the learned embedding.)

# %% tags=["nbval-ignore-output"]
def prompt_examples(data, seed):
    """(scene index, point row, point col, instance mask) for one random pixel of every digit."""
    rng = np.random.default_rng(seed)
    examples = []
    for index, inst in enumerate(data.instances):
        for mask in inst["masks"]:
            rows_, cols_ = np.nonzero(mask)
            pick = rng.integers(len(rows_))
            examples.append((index, rows_[pick], cols_[pick], mask.astype(np.float32)))
    index_, rows_, cols_, masks_ = (np.array(part) for part in zip(*examples))
    return index_, rows_, cols_, masks_


def embeddings(data):
    """The frozen SETR encoder's (N, C, 8, 8) image embeddings."""
    with ms.no_grad():
        return setr.encode(ms.tensor(data.images)).data


class PointPromptHead(nn.Module):
    """Mask logits (N, 64, 64) for a point prompt (row, col) on an image and its (N, C, 8, 8) embedding."""

    def __init__(self, width, inner=8, patch=8):
        super().__init__()
        self.patch = patch
        self.key, self.query = nn.Linear(width, inner), nn.Linear(width, inner)
        self.mix = nn.Linear(2, 1)

    def forward(self, embedding, images, rows_, cols_):
        n, c, gh, gw = embedding.shape
        tokens = embedding.reshape(n, c, gh * gw).permute(0, 2, 1)  # (N, L, C)
        prompt = tokens[np.arange(n), (rows_ // self.patch) * gw + cols_ // self.patch]  # (N, C)
        similar = (self.key(tokens) @ self.query(prompt).reshape(n, -1, 1)).reshape(n, 1, gh, gw)
        similar = F.interpolate(similar, scale_factor=self.patch, mode="bilinear", align_corners=False)
        colour = images[np.arange(n), :, rows_, cols_].reshape(n, 3, 1, 1)
        distance = ((images - colour) ** 2).sum(1, keepdim=True) * 25.0  # scaled to about [0, 10]
        return self.mix(ms.cat([similar, distance], 1).permute(0, 2, 3, 1))[..., 0]


prompt_train = DigitScenes(48, size=64, split="train", seed=3)
train_embed = embeddings(prompt_train)
index, rows_, cols_, targets = prompt_examples(prompt_train, 0)
ms.manual_seed(0)
head = PointPromptHead(setr.embed_dim)
opt = ms.optim.Adam(head.parameters(), lr=5e-2)
for step in range(40):
    opt.zero_grad()
    logits = head(ms.tensor(train_embed[index]), ms.tensor(prompt_train.images[index]), rows_, cols_)
    loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=np.float32(4.0))  # digits are small
    loss.backward()
    opt.step()
print(f"prompt head trained on {len(index)} points; final loss {loss.item():.3f}")

# %% tags=["nbval-ignore-output"]
prompt_val = DigitScenes(16, size=64, split="val", seed=4)
v_index, v_rows, v_cols, v_targets = prompt_examples(prompt_val, 1)
with ms.no_grad():
    v_logits = head(ms.tensor(embeddings(prompt_val)[v_index]), ms.tensor(prompt_val.images[v_index]),
                    v_rows, v_cols).data
v_masks, v_targets = v_logits > 0, v_targets > 0.5
iou = (v_masks & v_targets).sum((1, 2)) / np.maximum((v_masks | v_targets).sum((1, 2)), 1)
print(f"mean mask IoU over {len(v_index)} validation points: {iou.mean():.3f}")
fig, axes = plt.subplots(2, 4, figsize=(8, 4.2), layout="constrained")
for col in range(4):
    scene_index = v_index[col]
    axes[0, col].imshow(prompt_val.images[scene_index].transpose(1, 2, 0))
    axes[0, col].plot(v_cols[col], v_rows[col], "c*", markersize=12)
    axes[1, col].imshow(v_masks[col], cmap="gray")
    axes[1, col].set_title(f"IoU {iou[col]:.2f}", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("the point")
axes[1, 0].set_ylabel("the mask")
plt.show()

# %% [markdown]
# The same frozen embedding answers any point: a new prompt costs one dot product per position, not
# a new pass of the encoder — SAM's design, at toy scale. SAM's real decoder lets the prompt tokens
# and the image embedding attend to each other in two transformer layers and outputs three masks per
# point (whole, part, sub-part), because one point is ambiguous.
#
# ## What to remember
#
# - A patch embedding is a convolution with kernel = stride = patch size; the tokens are its output
#   read in order. Learned positions are added, and resampled bilinearly for another input size.
# - Attention: $\mathrm{softmax}(QK^\top/\sqrt d)V$; multi-head splits the width into heads with their
#   own projections, concatenated and mixed by $W_O$ (torch: `in_proj_weight`, `out_proj`).
# - Its cost is $L^2$ per head and layer: patches are not optional (a pixel per token at 512² would be
#   256 GiB of scores per head).
# - One attention layer already has a global receptive field; $L$ 3×3 convolutions see $1 + 2L$.
# - SETR: a ViT encoder at one resolution, then a naive or a progressive-upsampling decoder.
# - SegFormer: a hierarchy of stages, keys and values from a grid reduced by $R$ ($L^2/R^2$), an MLP
#   decoder. SAM: a heavy encoder once per image, a light decoder per prompt.
#
# ## Questions to think about
#
# 1. Without positional embeddings, what would SETR's output be for a scene and for the same scene with
#    its patches shuffled? Which parts of the network would still know where a patch was?
# 2. Interpolating the position table lets SETR run at 96×96 after training at 64×64. Why might it
#    still do worse there than at the training size?
# 3. SETR's receptive field is global after one layer, U-Net's only after many. Which one needs global
#    context on DigitScenes, and what would have to change (data, size, pre-training) for SETR to beat
#    the CNNs?
# 4. A point prompt on the stroke of a '0' could mean the stroke or the whole digit. How would you
#    train a head that answers both?
