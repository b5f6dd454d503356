# %% [markdown]
# # Lecture 04 — Fully convolutional networks: FCN-32s, 16s and 8s
#
# Long, Shelhamer and Darrell's FCN (CVPR 2015) was the first network trained end to end, pixels in
# and pixels out, for semantic segmentation — no pre- or post-processing, no fully connected layers,
# inference in under a fifth of a second — and it set the state of the art on PASCAL VOC (62.2 mean
# IoU, a 20 % relative improvement). It takes a classification network, turns its fully connected
# layers into convolutions, upsamples the coarse class scores back to the image with a transposed
# convolution, and adds finer *skip* predictions from earlier layers. This lecture builds each of
# those pieces, trains the network, and reads the results of FCN-32s, 16s and 8s trained on
# DigitScenes.
#
# **You will be able to**
# - turn `fc6`, `fc7` and `score_fr` into convolutions (a 6×6 one over `pool5`, then 1×1 ones) so a
#   larger image gives a map of class scores, and state the network's output stride (32);
# - build FCN's `upscore` layer: a transposed convolution with a fixed bilinear kernel (size $2s$,
#   stride $s$), its output size and the crop that aligns it with the input;
# - fuse the stride-32 scores with scores from `pool4` and `pool3` (FCN-16s, FCN-8s) and see what each
#   skip adds;
# - compute median-frequency class weights for the per-pixel cross-entropy when the background fills
#   ~88 % of the pixels, and see what goes wrong without them;
# - write SGD with momentum and weight decay as update equations, and check `minseg.optim.SGD`
#   against `torch.optim.SGD`;
# - read a results table of mean IoU, per-class IoU and pixel accuracy.
#
# The five **Exercise** cells are graded (`python -m course grade notebooks/04_fcn.ipynb`).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg import nn
from minseg.data import CLASSES, NUM_CLASSES, DigitScenes
from minseg.models import pretrained
from minseg.testing import check_op
from minseg.viz import fcn as fviz

# %% [markdown]
# ## 1. From a classifier to a fully convolutional network
#
# AlexNet, as the slides list it, ends with `[6x6x256] MAX POOL3` (Caffe calls it `pool5`) and three
# fully connected layers: `FC6` (4096 neurons), `FC7` (4096) and `FC8` (1000 class scores). A fully
# connected layer on a $256\times6\times6$ input is a convolution whose kernel covers that whole
# input: each of the 4096 neurons becomes one filter of shape $256\times6\times6$, so on exactly a
# $6\times6$ `pool5` it gives a $1\times1$ output — the same 4096 numbers. That is what the FCN
# prototxt on the slides says:
#
# ```
# layer { name: "fc6"  type: "Convolution"  bottom: "pool5"  top: "fc6"
#         convolution_param { num_output: 4096  pad: 0  kernel_size: 6  stride: 1 } }
# layer { name: "fc7"  type: "Convolution"  bottom: "fc6"  top: "fc7"
#         convolution_param { num_output: 4096  pad: 0  kernel_size: 1  stride: 1 } }
# layer { name: "score_fr"  type: "Convolution"  bottom: "fc7"  top: "score_fr"
#         convolution_param { num_output: 21  pad: 0  kernel_size: 1 } }
# ```
#
# `fc7` and the classifier, which read one 4096-vector each, become $1\times1$ convolutions;
# `score_fr` outputs 21 scores (PASCAL VOC's 20 classes and the background) instead of ImageNet's
# 1000. The weights are the same numbers, only reshaped:

# %% tags=["nbval-check-output"]
layers = {"fc6": (4096, 256, 6, 6), "fc7": (4096, 4096, 1, 1), "score_fr": (21, 4096, 1, 1)}
for name, (out_ch, in_ch, kh, kw) in layers.items():
    print(f"{name:8s} Linear({in_ch * kh * kw:5d} -> {out_ch:4d}) == Conv2d({in_ch:4d}, {out_ch:4d}, "
          f"kernel {kh}x{kw}): {out_ch * in_ch * kh * kw + out_ch:>10,d} parameters")
# Expected output:
# fc6      Linear( 9216 -> 4096) == Conv2d( 256, 4096, kernel 6x6): 37,752,832 parameters
# fc7      Linear( 4096 -> 4096) == Conv2d(4096, 4096, kernel 1x1): 16,781,312 parameters
# score_fr Linear( 4096 ->   21) == Conv2d(4096,   21, kernel 1x1):     86,037 parameters

# %% [markdown]
# What changes is what happens on a *bigger* image. A fully connected layer refuses any input but
# $256\times6\times6$; the convolution slides, and the classifier becomes a map of class scores.
# How big a map? Follow the sizes through AlexNet's layers with the output-size formula of lecture 02
# (227 is the input size that gives the slides' 55 after `conv1`). Every extra 32 pixels of input add
# one row of scores: the product of the strides ($4\cdot2\cdot2\cdot2$) is the network's **output
# stride**, 32 — neighbouring scores are 32 input pixels apart. (Each score's receptive field,
# 355 pixels wide, is larger than the 227-pixel input itself: its outer part lies beyond the image.)

# %% tags=["nbval-check-output"]
from minseg.receptive_field import receptive_field

alexnet_fc6 = [dict(name="conv1", kernel=11, stride=4), dict(name="pool1", kernel=3, stride=2),
               dict(name="conv2", kernel=5, padding=2), dict(name="pool2", kernel=3, stride=2),
               dict(name="conv3", kernel=3, padding=1), dict(name="conv4", kernel=3, padding=1),
               dict(name="conv5", kernel=3, padding=1), dict(name="pool5", kernel=3, stride=2),
               dict(name="fc6", kernel=6)]
for size in (227, 259, 291, 355, 500):
    rows = receptive_field(alexnet_fc6, input_size=size)
    print(f"input {size}x{size}: pool5 {rows[-2].output}x{rows[-2].output}, fc6 scores "
          f"{rows[-1].output}x{rows[-1].output}, output stride {rows[-1].jump}, "
          f"each score sees {rows[-1].size}x{rows[-1].size} pixels")
# Expected output:
# input 227x227: pool5 6x6, fc6 scores 1x1, output stride 32, each score sees 355x355 pixels
# input 259x259: pool5 7x7, fc6 scores 2x2, output stride 32, each score sees 355x355 pixels
# input 291x291: pool5 8x8, fc6 scores 3x3, output stride 32, each score sees 355x355 pixels
# input 355x355: pool5 10x10, fc6 scores 5x5, output stride 32, each score sees 355x355 pixels
# input 500x500: pool5 14x14, fc6 scores 9x9, output stride 32, each score sees 355x355 pixels

# %% [markdown]
# The FCN paper builds on VGG-16, whose five stages each end in a 2×2 max-pooling: stride
# $2^5 = 32$ again, and a $7\times7$ `fc6`. minseg's `FCN` is the same architecture with narrower
# layers, so that it trains on a CPU: five VGG stages (widths 16 … 64, batch norm), `fc6` a 3×3
# convolution with padding 1 (so a $64\times64$ DigitScenes image gives a $2\times2$ map of
# scores, not nothing), `fc7` and `score_fr` $1\times1$, 11 classes (background and the digits 0–9).
# Inputs must be multiples of 32:

# %%
from minseg.training import presets

class_name, fcn_config, fit_settings = presets.preset("fcn32s")
ms.random.manual_seed(0)
fcn32 = ms.models.create(class_name, num_classes=NUM_CLASSES, **fcn_config)
print(fcn32.fc6, fcn32.fc7, fcn32.score_fr, fcn32.upscore, sep="\n")
for size in (64, 96, 128):
    maps = fcn32.score_maps(ms.tensor(np.zeros((1, 3, size, size), np.float32)))
    print(f"input {size}x{size} -> score_fr {tuple(maps['score_fr'].shape[-2:])} -> "
          f"upscore {tuple(maps['out'].shape[-2:])}")

# %% [markdown]
# **Exercise (linear_to_conv).** Write `linear_to_conv(weight, bias, in_shape)`: given a fully
# connected layer's `weight` `(out_features, C*h*w)` and `bias` `(out_features,)` that reads a
# flattened `(C, h, w)` input (`in_shape`), return the `(conv_weight, conv_bias)` of the equivalent
# convolution: `conv_weight` of shape `(out_features, C, h, w)`. On an input of exactly $h\times w$
# the convolution gives the Linear layer's outputs; on a larger one, a heat map whose entry $(i, j)$
# is the Linear layer applied to the window at $(i, j)$. (Flattening is row-major: channel, then
# row, then column, as `x.reshape(N, -1)`.)

# %%
def linear_to_conv(weight, bias, in_shape):
    """The (conv_weight, conv_bias) ndarrays of the convolution equal to a Linear layer on (C, h, w)."""
    weight, bias = np.asarray(weight), np.asarray(bias)
    ### BEGIN SOLUTION hint: every output neuron's weight row, read back in the order it was flattened
    return weight.reshape((weight.shape[0],) + tuple(in_shape)), bias.copy()
    ### END SOLUTION


# %% grade_id="linear_to_conv"
import numpy as np

import minseg as ms
import minseg.functional as F


def _check_linear_to_conv(out_features, in_shape, extra, seed):
    _rng = np.random.default_rng(seed)
    _w = _rng.normal(size=(out_features, int(np.prod(in_shape))))
    _b = _rng.normal(size=out_features)
    _cw, _cb = linear_to_conv(_w, _b, in_shape)
    _cw, _cb = np.asarray(_cw), np.asarray(_cb)
    assert _cw.shape == (out_features,) + tuple(in_shape), \
        f"in_shape {in_shape}: conv weight shape expected {(out_features,) + tuple(in_shape)}, " \
        f"got {_cw.shape}"
    assert _cb.shape == (out_features,), f"conv bias shape expected {(out_features,)}, got {_cb.shape}"
    _c, _h, _w_in = in_shape
    _x = _rng.normal(size=(2, _c, _h, _w_in))
    _linear = _x.reshape(2, -1) @ _w.T + _b
    _conv = F.conv2d(ms.tensor(_x), ms.tensor(_cw), ms.tensor(_cb)).data
    np.testing.assert_allclose(_conv[:, :, 0, 0], _linear, rtol=1e-9, atol=1e-9,
                               err_msg=f"in_shape {in_shape}: the conv on one {_h}x{_w_in} input (actual) "
                                       f"vs the Linear layer (desired)")
    _big = _rng.normal(size=(1, _c, _h + extra, _w_in + extra))
    _heat = F.conv2d(ms.tensor(_big), ms.tensor(_cw), ms.tensor(_cb)).data[0]
    _expected = np.array([[_w @ _big[0, :, i:i + _h, j:j + _w_in].ravel() + _b for j in range(extra + 1)]
                          for i in range(extra + 1)]).transpose(2, 0, 1)
    np.testing.assert_allclose(_heat, _expected, rtol=1e-9, atol=1e-9,
                               err_msg=f"in_shape {in_shape}: heat map on a {_h + extra}x{_w_in + extra} "
                                       f"input (actual) vs the Linear layer on every window (desired)")


_cw, _ = linear_to_conv(np.zeros((21, 4096)), np.zeros(21), (4096, 1, 1))
assert np.shape(_cw) == (21, 4096, 1, 1), f"score_fr: expected (21, 4096, 1, 1), got {np.shape(_cw)}"
_check_linear_to_conv(5, (3, 6, 6), extra=4, seed=0)   # fc6-like: a 6x6 kernel, a 5x5 heat map
_check_linear_to_conv(4, (7, 1, 1), extra=3, seed=1)   # fc7-like: a 1x1 convolution
### BEGIN HIDDEN TESTS
_rng_cases = np.random.default_rng(11)
for _case in range(6):
    _o, _c, _h, _wd = (int(v) for v in _rng_cases.integers([1, 1, 1, 1], [6, 4, 5, 5]))
    _check_linear_to_conv(_o, (_c, _h, _wd), extra=int(_rng_cases.integers(0, 3)), seed=20 + _case)
### END HIDDEN TESTS
print("linear_to_conv: the convolution equals the Linear layer, and slides into a heat map")

# %% [markdown]
# The convolution that replaces the Linear layer is minseg's `F.conv2d`; with an `fc6`-like kernel
# (covering a whole $6\times6$ input, here on a $9\times9$ one) it agrees with PyTorch's, output and
# gradients:

# %%
rng = np.random.default_rng(1)
check_op(F.conv2d, [rng.normal(size=(2, 3, 9, 9)), rng.normal(size=(5, 3, 6, 6)), rng.normal(size=5)],
         torch.nn.functional.conv2d)
print("F.conv2d with a 6x6 kernel agrees with torch (a 4x4 heat map per filter, and every gradient)")

# %% [markdown]
# ## 2. `upscore`: a transposed convolution with a bilinear kernel
#
# A score map with stride 32 has one score per $32\times32$ block of pixels; the loss and the
# prediction need one per pixel. FCN upsamples *inside* the network with a transposed convolution
# (Caffe's `Deconvolution` layer, seed 000) — the learnable upsampling of lecture 03, which derived
# its output size and its matrix; here is how FCN sets it up:
#
# ```
# layer { name: "upscore"  type: "Deconvolution"  bottom: "score_fr"  top: "upscore"
#         param { lr_mult: 0 }
#         convolution_param { num_output: 21  bias_term: false  kernel_size: 64  stride: 32 } }
# ```
#
# The kernel is $2s = 64$ for a stride $s = 32$, there is no bias, and `lr_mult: 0` freezes the layer:
# it is fixed to **bilinear interpolation**, applied to each of the 21 class channels separately
# (channel $c$ feeds only output channel $c$). The bilinear kernel is the outer product of a
# "tent" that falls off linearly from the centre:
#
# $$f(u) = 1 - \frac{|u - m|}{s},\qquad m = s - \tfrac12,\qquad u = 0, 1, \dots, 2s - 1,
# \qquad K(u, v) = f(u)\,f(v).$$
#
# For $s = 2$ the tent is $\tfrac14, \tfrac34, \tfrac34, \tfrac14$:

# %% tags=["nbval-check-output"]
print(nn.bilinear_kernel(4))
# Expected output:
# [[0.0625 0.1875 0.1875 0.0625]
#  [0.1875 0.5625 0.5625 0.1875]
#  [0.1875 0.5625 0.5625 0.1875]
#  [0.0625 0.1875 0.1875 0.0625]]

# %% [markdown]
# **Output size and crop.** A transposed convolution with kernel $k$, stride $s$ and padding $p$
# maps $n$ inputs to $(n - 1)s - 2p + k$ outputs. With $k = 2s$ and no padding that is $(n + 1)s$:
# $s$ pixels too many, half a block hanging over each border. Cropping $s/2$ on each side leaves
# exactly $ns$, aligned with the input — and that crop is just what `padding` $= s/2$ does in
# `nn.ConvTranspose2d`, which is how minseg's FCN writes it. (The Caffe reference pads `conv1` by 100
# pixels so that any input size works, and then crops by the offset its `Crop` layer works out.)

# %% tags=["nbval-check-output"]
def transposed_size(n, kernel, stride, padding=0):
    """Output length of a transposed convolution: (n - 1) * stride - 2 * padding + kernel."""
    return (n - 1) * stride - 2 * padding + kernel


for n, s in ((2, 32), (7, 32), (4, 16), (8, 8), (3, 2)):
    full = transposed_size(n, 2 * s, s)
    print(f"{n} scores, stride {s:2d}, kernel {2 * s:2d}: {full:3d} outputs, crop {s // 2:2d} per side -> "
          f"{full - s:3d} = {n} x {s}; with padding {s // 2}: {transposed_size(n, 2 * s, s, s // 2)}")
# Expected output:
# 2 scores, stride 32, kernel 64:  96 outputs, crop 16 per side ->  64 = 2 x 32; with padding 16: 64
# 7 scores, stride 32, kernel 64: 256 outputs, crop 16 per side -> 224 = 7 x 32; with padding 16: 224
# 4 scores, stride 16, kernel 32:  80 outputs, crop  8 per side ->  64 = 4 x 16; with padding 8: 64
# 8 scores, stride  8, kernel 16:  72 outputs, crop  4 per side ->  64 = 8 x 8; with padding 4: 64
# 3 scores, stride  2, kernel  4:   8 outputs, crop  1 per side ->   6 = 3 x 2; with padding 1: 6

# %% [markdown]
# Away from the borders this transposed convolution *is* bilinear interpolation — the same numbers
# as `F.interpolate(..., mode='bilinear', align_corners=False)`. Only in the outer $s/2$ pixels do
# they differ: the transposed convolution fades towards the zeros beyond the map, interpolation
# repeats the edge value. The figure shows a 1-D slice: 4 scores upsampled by 8.

# %%
factor = 8
upsampler = nn.bilinear_init_(nn.ConvTranspose2d(1, 1, 2 * factor, stride=factor, padding=factor // 2,
                                                  bias=False))
scores = ms.tensor(np.tile(np.array([1.0, 3.0, 2.0, 4.0], np.float32), (1, 1, 4, 1)))  # 4 equal rows
middle = 2 * factor  # an output row away from the top and bottom borders
with ms.no_grad():
    by_transposed = upsampler(scores).data[0, 0, middle]
    by_interpolation = F.interpolate(scores, scale_factor=factor, mode="bilinear",
                                     align_corners=False).data[0, 0, middle]
interior = slice(factor // 2, -factor // 2)
print("largest difference in the interior:", float(np.abs(by_transposed - by_interpolation)[interior].max()),
      "  at the borders:", float(np.abs(by_transposed - by_interpolation).max()))

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
ax.plot(np.arange(32), by_interpolation, "o-", ms=4, label="F.interpolate (bilinear)")
ax.plot(np.arange(32), by_transposed, "s--", ms=3,
        label="ConvTranspose2d, bilinear kernel 16, stride 8, padding 4")
ax.plot(np.arange(4) * factor + (factor - 1) / 2, scores.data[0, 0, 0], "k^", ms=9, label="the 4 scores")
ax.axvspan(-0.5, factor // 2 - 0.5, color="0.9")
ax.axvspan(32 - factor // 2 - 0.5, 31.5, color="0.9")
ax.set_xlabel("output pixel (grey: the s/2 border where the two differ)")
ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# minseg's `F.conv_transpose2d` with such a weight agrees with PyTorch's, forward and backward
# (random scores, 3 classes, stride 4):

# %%
bilinear_3 = nn.bilinear_weight((3, 3, 8, 8), 8)
random_scores = np.random.default_rng(0).normal(size=(2, 3, 5, 4))
check_op(F.conv_transpose2d, [random_scores, bilinear_3.astype(np.float64)],
         torch.nn.functional.conv_transpose2d, kwargs=dict(stride=4, padding=2))
print("F.conv_transpose2d agrees with torch (output and both gradients)")

# %% [markdown]
# FCN initialises every upsampling layer this way. In FCN-32s the final `upscore` stays fixed; the
# $2\times$ layers inside FCN-16s and 8s (`upscore2`, `upscore_pool4`) start bilinear and are learned
# (minseg's FCN learns all of them, the final one included).
#
# **Exercise (bilinear_kernel).** Write `upsampling_kernel(factor)`, the $(2s)\times(2s)$ bilinear
# kernel above for $s$ = `factor`, as an ndarray. The check compares it with the weight
# `nn.bilinear_init_` gives an `nn.ConvTranspose2d(C, C, 2s, stride=s, padding=s//2)`, and upsamples
# random scores with it, comparing the interior with `torch.nn.functional.interpolate`. While it runs,
# `nn.bilinear_kernel`, `nn.bilinear_weight` and `nn.bilinear_init_` are unavailable: build it from
# the formula.

# %%
def upsampling_kernel(factor):
    """The (2 factor, 2 factor) bilinear kernel of FCN's stride-``factor`` upsampling."""
    ### BEGIN SOLUTION hint: tent f(u) = 1 - |u - (factor - 0.5)| / factor, u = 0 .. 2 factor - 1; np.outer
    u = np.arange(2 * factor)
    tent = 1 - np.abs(u - (factor - 0.5)) / factor
    return np.outer(tent, tent)
    ### END SOLUTION


# %% grade_id="bilinear_kernel"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg import nn
from minseg.testing import unavailable

_factors = (1, 2, 3, 4, 8, 16, 32)
_expected = {}
for _s in _factors:  # what nn.ConvTranspose2d + bilinear_init_ holds, computed before the block
    _layer = nn.bilinear_init_(nn.ConvTranspose2d(3, 3, 2 * _s, stride=_s, padding=_s // 2, bias=False))
    _expected[_s] = _layer.weight.data.astype(np.float64)
_rng = np.random.default_rng(4)
_inputs = {_s: _rng.normal(size=(1, 3, 5, 6)) for _s in (2, 4, 8)}
_interpolated = {_s: torch.nn.functional.interpolate(torch.tensor(_x), scale_factor=_s, mode="bilinear",
                                                     align_corners=False).numpy()
                 for _s, _x in _inputs.items()}
with unavailable(nn.bilinear_kernel, nn.bilinear_weight, nn.bilinear_init_):
    _kernels = {_s: np.asarray(upsampling_kernel(_s), dtype=np.float64) for _s in _factors}
np.testing.assert_allclose(_kernels[2], np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]),
                           err_msg="factor 2: the tent 1/4, 3/4, 3/4, 1/4 (desired) vs yours (actual)")
for _s in _factors:
    assert _kernels[_s].shape == (2 * _s, 2 * _s), \
        f"factor {_s}: shape expected {(2 * _s, 2 * _s)}, got {_kernels[_s].shape}"
    for _c in range(3):
        np.testing.assert_allclose(_kernels[_s], _expected[_s][_c, _c], atol=1e-6,
                                   err_msg=f"factor {_s}: yours (actual) vs bilinear_init_'s "
                                           f"weight[{_c}, {_c}] (desired)")
for _s, _x in _inputs.items():
    _w = np.zeros((3, 3, 2 * _s, 2 * _s))
    for _c in range(3):
        _w[_c, _c] = _kernels[_s]
    _up = F.conv_transpose2d(ms.tensor(_x), ms.tensor(_w), stride=_s, padding=_s // 2).data
    _b = _s // 2
    np.testing.assert_allclose(_up[..., _b:-_b, _b:-_b], _interpolated[_s][..., _b:-_b, _b:-_b], atol=1e-9,
                               err_msg=f"factor {_s}: interior of the transposed conv with your kernel "
                                       f"(actual) vs torch's bilinear interpolation (desired)")
print("upsampling_kernel: equal to bilinear_init_, and to bilinear interpolation away from the borders")

# %% [markdown]
# ## 3. Skip fusion: FCN-32s, 16s and 8s
#
# Upsampling by 32 in one step gives what seed 004 calls a **coarse and blurry output**: all the
# detail must come through the $2\times2$ bottleneck of `score_fr`, and a 32-pixel block cannot
# draw a digit's outline. Yet earlier layers see the image at finer strides — `pool4` at 16,
# `pool3` at 8 — with less semantics but more *where*. FCN "learns to combine coarse, high layer
# information with fine, low layer information":
#
# - **FCN-32s**: `score_fr` (stride 32) → `upscore` ×32.
# - **FCN-16s**: `upscore2` (×2, bilinear-initialised, learned) of `score_fr`, plus `score_pool4`
#   (a $1\times1$ convolution scoring `pool4`): the sum `fuse_pool4` has stride 16 → `upscore16` ×16.
# - **FCN-8s**: `upscore_pool4` (×2) of `fuse_pool4`, plus `score_pool3`: `fuse_pool3` at stride 8
#   → `upscore8` ×8.
#
# The two maps must have the same size before the sum. Without padding a $2\times$ upsampling
# (kernel 4, stride 2) turns $h$ rows into $2h + 2$, one too many on each side; padding 1 trims them,
# leaving exactly the skip's $2h$. (The Caffe reference, whose `conv1` pads by 100 pixels, has skip
# maps larger than the upsampled ones and crops the *skip* scores instead.) The skip scorers start
# at zero, so an untrained 16s or 8s predicts exactly what the 32s inside it does, and training only
# adds detail. `FCN.score_maps` returns every map on the way (a $64\times64$ input):

# %% tags=["nbval-check-output"]
ms.random.manual_seed(0)
fcn8 = ms.models.create("FCN", num_classes=NUM_CLASSES, **presets.preset("fcn8s")[1])
with ms.no_grad():
    stages = fcn8.score_maps(ms.tensor(np.zeros((1, 3, 64, 64), np.float32)))
for name, scores in stages.items():
    print(f"{name:14s} {tuple(scores.shape)}  stride {64 // scores.shape[-1]}")
# Expected output:
# score_fr       (1, 11, 2, 2)  stride 32
# upscore2       (1, 11, 4, 4)  stride 16
# score_pool4    (1, 11, 4, 4)  stride 16
# fuse_pool4     (1, 11, 4, 4)  stride 16
# upscore_pool4  (1, 11, 8, 8)  stride 8
# score_pool3    (1, 11, 8, 8)  stride 8
# fuse_pool3     (1, 11, 8, 8)  stride 8
# out            (1, 11, 64, 64)  stride 1

# %% [markdown]
# **Exercise (skip_fusion).** Write `fuse(coarse, skip, weight)`, one fusion step written out:
# upsample the `(N, K, h, w)` Tensor `coarse` by 2 with `F.conv_transpose2d(coarse, weight, stride=2)`
# (the `(K, K, 4, 4)` `weight`, **no padding**: $2h + 2$ rows), crop the centre to the skip's size
# (the top-left offset is `(H_up - H_skip) // 2`, likewise for columns), and add the
# `(N, K, H, W)` Tensor `skip`. Gradients must flow to all three inputs. The check compares it with
# the fusion inside an FCN-16s and with PyTorch.

# %%
def fuse(coarse, skip, weight):
    """One FCN skip step: 2x transposed-conv upsampling of ``coarse``, centre crop, + ``skip``."""
    ### BEGIN SOLUTION hint: up = F.conv_transpose2d(...); top = (up.shape[-2] - skip.shape[-2]) // 2; add
    up = F.conv_transpose2d(coarse, weight, stride=2)
    top, left = (up.shape[-2] - skip.shape[-2]) // 2, (up.shape[-1] - skip.shape[-1]) // 2
    return up[:, :, top:top + skip.shape[-2], left:left + skip.shape[-1]] + skip
    ### END SOLUTION


# %% grade_id="skip_fusion"
import numpy as np
import torch

import minseg as ms
from minseg.models import FCN
from minseg.testing import check_op


def _torch_fuse(coarse, skip, weight):
    """The same fusion step in PyTorch: the expected values and gradients."""
    _up = torch.nn.functional.conv_transpose2d(coarse, weight, stride=2)
    _top, _left = (_up.shape[-2] - skip.shape[-2]) // 2, (_up.shape[-1] - skip.shape[-1]) // 2
    return _up[:, :, _top:_top + skip.shape[-2], _left:_left + skip.shape[-1]] + skip


def _check_fuse(coarse_hw, skip_hw, seed, k=3):
    """fuse against _torch_fuse on random (coarse, skip, weight): the output, then all three gradients."""
    _rng = np.random.default_rng(seed)
    _inputs = [_rng.normal(size=shape) for shape in ((2, k) + coarse_hw, (2, k) + skip_hw, (k, k, 4, 4))]
    check_op(fuse, _inputs, _torch_fuse, gradcheck_inputs=False)


# inside an FCN-16s: fuse(score_fr, score_pool4, upscore2.weight) is its fuse_pool4
ms.random.manual_seed(3)
_net = FCN(4, variant="16s", widths=(4, 4, 4, 4, 4), convs=(1, 1, 1, 1, 1), fc_width=8, fc_kernel=3,
           dropout=0.0)
for _layer in (_net.score_pool4, _net.upscore2):  # non-zero skip scores and a non-bilinear upsampling
    _layer.weight.data = np.random.default_rng(5).normal(size=_layer.weight.shape).astype(np.float32)
_net.eval()
with ms.no_grad():
    _maps = _net.score_maps(ms.tensor(np.random.default_rng(6).random((1, 3, 64, 64), np.float32)))
    _fused = fuse(_maps["score_fr"], _maps["score_pool4"], _net.upscore2.weight)
np.testing.assert_allclose(_fused.data, _maps["fuse_pool4"].data, rtol=1e-5, atol=1e-5,
                           err_msg="FCN-16s: fuse(score_fr, score_pool4, upscore2.weight) (actual) vs "
                                   "its fuse_pool4 (desired)")
_check_fuse((2, 2), (4, 4), seed=0)
_check_fuse((3, 5), (6, 10), seed=1)
### BEGIN HIDDEN TESTS
_check_fuse((4, 3), (7, 5), seed=2)   # odd skip sizes: the offset rounds down
_check_fuse((1, 1), (2, 2), seed=3, k=2)
_check_fuse((5, 2), (9, 4), seed=4, k=1)
### END HIDDEN TESTS
print("fuse: equal to FCN-16s's fuse_pool4 and to torch, forward and backward")

# %% [markdown]
# The fusion step in minseg (padding 1 doing the crop) against the same in PyTorch, forward and
# backward:

# %%
rng = np.random.default_rng(2)
check_op(lambda c, s, w: F.conv_transpose2d(c, w, stride=2, padding=1) + s,
         [rng.normal(size=(2, 4, 3, 3)), rng.normal(size=(2, 4, 6, 6)), rng.normal(size=(4, 4, 4, 4))],
         lambda c, s, w: torch.nn.functional.conv_transpose2d(c, w, stride=2, padding=1) + s)
print("upsample x2, crop, add: minseg agrees with torch (output and the three gradients)")

# %% [markdown]
# ### What each skip adds, on trained networks
#
# minseg ships FCN-32s, 16s and 8s trained on DigitScenes ($64\times64$ scenes, with the settings of
# `minseg.training.presets`; the command that trained them is in `pretrained.available()`).
# `pretrained.load(name)` gives the model in eval mode. The viewer shows one validation scene through
# a variant's stages: each score map drawn as its winning class (colour) faded towards white where
# the model is unsure, then the prediction and its errors. Step from 32s to 8s on the same scene:
# FCN-32s can only paint 32-pixel blocks (its output is the $2\times2$ score map, smoothly upsampled);
# each skip brings a map with twice the resolution, and the output's outlines follow it.

# %%
trained = {variant: pretrained.load(f"fcn{variant}") for variant in fviz.VARIANTS}
val_scenes = DigitScenes(8, split="val", seed=1)
viewer = fviz.SkipFusionViewer(trained, val_scenes.images, val_scenes.masks)

# %% tags=["nbval-ignore-output"]
viewer.widget()

# %% tags=["nbval-ignore-output"]
viewer.static_figure(scenes=(0, 1, 2), variant="8s")

# %% [markdown]
# ## 4. Training: per-pixel cross-entropy and the background
#
# FCN is trained with the cross-entropy summed over every pixel. On DigitScenes most pixels are
# background:

# %%
train_scenes = DigitScenes(256, split="train", seed=0)
pixels = np.bincount(train_scenes.masks.ravel(), minlength=NUM_CLASSES)
frequency = pixels / pixels.sum()
print(f"background: {frequency[0]:.1%} of the pixels; each digit class: "
      f"{frequency[1:].min():.1%} to {frequency[1:].max():.1%}")

# %% [markdown]
# A network that answers "background" everywhere is right on ~88 % of the pixels, and scores a mean
# IoU of about $0.88/11 \approx 0.08$ (IoU $\approx 0.88$ for the background, 0 for every digit). Worse,
# it is what unweighted training drifts to first: the best *constant* prediction is the class
# frequencies themselves, whose cross-entropy is their entropy $-\sum_c f_c \log f_c$ — a small
# number, reached in a few steps without looking at a single digit.
#
# **Median frequency balancing** (Eigen & Fergus, used by SegNet and minseg's presets) weights the
# loss of a pixel of class $c$ by
#
# $$w_c = \frac{\operatorname{median}_k f_k}{f_c},$$
#
# where $f_c$ is the number of pixels of class $c$ divided by the number of pixels of the images that
# contain $c$. The weighted loss is $\sum_i w_{y_i} \ell_i / \sum_i w_{y_i}$. A worked example: two
# $2\times2$ masks, `[[0, 0], [0, 1]]` and `[[0, 0], [2, 2]]`. Class 0 has 5 of the 8 pixels of the
# two images it is in ($f_0 = 0.625$), class 1 has 1 of 4 ($0.25$), class 2 has 2 of 4 ($0.5$); the
# median is 0.5:

# %% tags=["nbval-check-output"]
from minseg.training import median_frequency_weights

tiny_masks = np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]])
print(np.round(median_frequency_weights(tiny_masks, 3), 4))
# Expected output:
# [0.8 2.  1. ]

# %% [markdown]
# **Exercise (median_frequency).** Write `median_frequency(masks, num_classes)` for an `(N, H, W)`
# integer array of label maps: the `(num_classes,)` weights $w_c = \operatorname{median}_k f_k / f_c$,
# the median taken over the classes that occur; a class that occurs nowhere gets weight 1. While the
# check runs, `minseg.training.median_frequency_weights` is unavailable.

# %%
def median_frequency(masks, num_classes):
    """Median frequency balancing weights (K,) of the label maps ``masks`` (N, H, W)."""
    masks = np.asarray(masks).reshape(len(masks), -1)
    ### BEGIN SOLUTION hint: count pixels per image and class; f_c = pixels of c / pixels of images with c
    counts = np.stack([(masks == c).sum(axis=1) for c in range(num_classes)], axis=1)  # (N, K)
    image_pixels = ((counts > 0) * masks.shape[1]).sum(axis=0)
    occurs = image_pixels > 0
    freq = np.where(occurs, counts.sum(axis=0) / np.maximum(image_pixels, 1), 0.0)
    return np.where(occurs, np.median(freq[occurs]) / np.where(occurs, freq, 1.0), 1.0)
    ### END SOLUTION


# %% grade_id="median_frequency"
import numpy as np

from minseg.testing import unavailable
from minseg.training import median_frequency_weights


def _check_median_frequency(masks, num_classes, label):
    _expected = median_frequency_weights(masks, num_classes).astype(np.float64)
    with unavailable(median_frequency_weights):
        _got = np.asarray(median_frequency(masks, num_classes), dtype=np.float64)
    assert _got.shape == (num_classes,), f"{label}: shape expected {(num_classes,)}, got {_got.shape}"
    np.testing.assert_allclose(_got, _expected, rtol=1e-5,
                               err_msg=f"{label}: weights of masks with {num_classes} classes (actual) vs "
                                       f"median_frequency_weights (desired)")


_tiny = np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]])
_got_tiny = np.asarray(median_frequency(_tiny, 3), dtype=np.float64)
np.testing.assert_allclose(_got_tiny, [0.8, 2.0, 1.0], rtol=1e-6,
                           err_msg="the worked example [[0, 0], [0, 1]], [[0, 0], [2, 2]] "
                                   "(desired 0.8, 2, 1)")
_check_median_frequency(np.array([[[0, 0], [0, 1]], [[0, 0], [2, 2]]]), 4, "class 3 occurs nowhere")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(7)
for _case in range(5):
    _k = int(_rng.integers(2, 7))
    _masks = _rng.integers(0, _k, size=(int(_rng.integers(1, 5)), 5, 6)) * (_rng.random((1, 5, 6)) < 0.7)
    _check_median_frequency(_masks, _k + int(_rng.integers(0, 2)), f"random case {_case}")
### END HIDDEN TESTS
print("median_frequency: the worked example and minseg's median_frequency_weights")

# %% [markdown]
# On DigitScenes the background's weight drops to about 1/17 and the digits' stay near 1. What share
# of the loss (and of its gradient) do the digit pixels carry?

# %%
class_weight = median_frequency_weights(train_scenes.masks, NUM_CLASSES)
print("weights:", np.round(class_weight, 3))
digit_share = {"unweighted": frequency[1:].sum(),
               "median frequency": (class_weight * pixels)[1:].sum() / (class_weight * pixels).sum()}
for name, share in digit_share.items():
    print(f"{name:>16s}: the digit pixels carry {share:.0%} of the loss")


def constant_loss(weight):
    """Cross-entropy of the best constant prediction, p_c proportional to weight_c * pixels_c."""
    q = weight * pixels / (weight * pixels).sum()
    return float(-(q * np.log(q)).sum())


floor = {"unweighted": constant_loss(np.ones(NUM_CLASSES)), "median frequency": constant_loss(class_weight)}
print("loss of the best constant prediction:", {k: round(v, 3) for k, v in floor.items()})

# %% [markdown]
# `F.cross_entropy` takes the weights as torch's does (`weight=`), and agrees with it:

# %%
rng = np.random.default_rng(0)
target = rng.integers(0, NUM_CLASSES, size=(2, 5, 6))
weight64 = class_weight.astype(np.float64)
random_logits = rng.normal(size=(2, NUM_CLASSES, 5, 6))
check_op(F.cross_entropy, [random_logits, target, weight64], torch.nn.functional.cross_entropy,
         differentiable=[0])  # (input, target, weight): the gradient of the scores only
print("weighted F.cross_entropy agrees with torch (value and gradient)")

# %% [markdown]
# A short live run (a few seconds each, on the CPU): FCN-8s from scratch, the same seed and batches,
# once without and once with the weights. The unweighted loss falls fast, within a few steps, to
# about the loss of the best constant prediction (dashed) — "background everywhere, with the class
# frequencies as confidence" — and gets little further; the weighted loss starts near its own,
# much higher, constant level, and can only go below it by telling digits from background.

# %%
from minseg.training import fit

live = {}
for name, weight in (("unweighted", None), ("median frequency", class_weight)):
    ms.random.manual_seed(0)
    model = ms.models.create(class_name, num_classes=NUM_CLASSES, **presets.preset("fcn8s")[1])
    live[name] = fit(model, train_scenes, steps=25, batch_size=8, class_weight=weight, seed=0, **fit_settings)

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
for (name, history), colour in zip(live.items(), ("C0", "C1")):
    ax.plot(history["loss"], colour, label=f"{name} (live, {history['steps']} steps)")
    ax.axhline(floor[name], color=colour, ls="--", lw=1, label=f"{name}: best constant prediction")
ax.set_xlabel("step (batches of 8 scenes)")
ax.set_ylabel("cross-entropy")
ax.legend(fontsize=8, ncols=2)
plt.show()

# %% [markdown]
# A few seconds are not enough to learn digits; the shipped networks trained for minutes, with the
# weights (section 6 shows what they reached).
#
# ## 5. SGD with momentum and weight decay
#
# FCN is trained by stochastic gradient descent with two additions (seed 001's prerequisites):
#
# - **weight decay** (L2 regularisation): minimise $L(w) + \frac{\lambda}{2} w^\top w$, which
#   penalises large weights; its gradient adds $\lambda w$ to the loss's gradient. (The slide writes
#   the penalty $\lambda w^\top w$, whose gradient is $2\lambda w$: the same thing with $\lambda$
#   halved. `weight_decay` in torch and minseg is the $\lambda$ of $g + \lambda w$.)
# - **momentum**: keep a running direction $b$ that builds inertia, so the steps coast across flat
#   spots and the oscillations of noisy gradients average out.
#
# With learning rate $\eta$, momentum $\mu$ and weight decay $\lambda$, one step is (torch's form,
# the buffer $b$ starts as the first $d$):
#
# $$d_t = \nabla L(w_t) + \lambda w_t, \qquad b_t = \mu\, b_{t-1} + d_t, \qquad w_{t+1} = w_t - \eta\, b_t .$$
#
# By hand, with $w_0 = 1$, gradients 2 then 1, $\eta = 0.1$, $\mu = 0.9$, $\lambda = 0.5$:
# $d_0 = 2.5$, $b_0 = 2.5$, $w_1 = 0.75$; $d_1 = 1 + 0.375 = 1.375$, $b_1 = 2.25 + 1.375 = 3.625$,
# $w_2 = 0.3875$. `minseg.optim.SGD` agrees:

# %% tags=["nbval-check-output"]
w = ms.tensor(np.array([1.0]), requires_grad=True)
sgd = ms.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.5)
for gradient in (2.0, 1.0):
    w.grad = np.array([gradient])
    sgd.step()
    print(f"w = {w.data[0]:.4f}, momentum buffer b = {sgd.state[id(w)]['momentum_buffer'][0]:.4f}")
# Expected output:
# w = 0.7500, momentum buffer b = 2.5000
# w = 0.3875, momentum buffer b = 3.6250

# %% [markdown]
# On a long narrow valley, $L(x, y) = \tfrac12(x^2 + 20y^2)$, plain gradient descent must take small
# steps (the steep $y$ direction would overshoot) and so crawls along $x$; momentum, with the same
# learning rate, adds up the consistent $x$ component and gets there far sooner:

# %%
def valley_path(momentum, steps=40, lr=0.03):
    """Points visited by minseg's SGD on L = (x^2 + 20 y^2) / 2 from (-4, 1)."""
    point = ms.tensor(np.array([-4.0, 1.0]), requires_grad=True)
    opt = ms.optim.SGD([point], lr=lr, momentum=momentum)
    path = [point.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (point[0] * point[0] + 20 * point[1] * point[1])
        loss.backward()
        opt.step()
        path.append(point.data.copy())
    return np.array(path)


paths = {"plain SGD": valley_path(0.0), "momentum 0.7": valley_path(0.7)}
for name, path in paths.items():
    print(f"{name}: distance to the minimum after 40 steps {np.linalg.norm(path[-1]):.4f}")

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
grid_x, grid_y = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.3, 1.3, 100))
ax.contour(grid_x, grid_y, 0.5 * (grid_x ** 2 + 20 * grid_y ** 2), levels=12, colors="0.8", linewidths=0.7)
for (name, path), style in zip(paths.items(), ("o-", "s-")):
    ax.plot(path[:, 0], path[:, 1], style, ms=3, lw=1, label=name)
ax.plot(0, 0, "k*", ms=12)
ax.set_title("40 steps, learning rate 0.03, on L = (x² + 20 y²) / 2", fontsize=10)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Exercise (sgd_step).** Write `sgd_step(params, grads, buffers, lr, momentum, weight_decay)` for
# lists of ndarrays: `buffers[i]` is parameter $i$'s momentum buffer, `None` before the first step.
# Return `(new_params, new_buffers)` (new lists; leave the inputs unchanged) following the three
# equations above. The check runs it for several steps beside `torch.optim.SGD`; while it runs,
# minseg's own SGD is unavailable.

# %%
def sgd_step(params, grads, buffers, lr, momentum, weight_decay):
    """One SGD step with momentum and weight decay (torch's equations) on lists of ndarrays."""
    new_params, new_buffers = [], []
    ### BEGIN SOLUTION hint: d = g + weight_decay * w; b = d (first step) or momentum * b + d; w - lr * b
    for w, g, b in zip(params, grads, buffers):
        d = g + weight_decay * w
        b = d.copy() if b is None else momentum * b + d
        new_params.append(w - lr * b)
        new_buffers.append(b)
    ### END SOLUTION
    return new_params, new_buffers


# %% grade_id="sgd_step"
import numpy as np
import torch

import minseg as ms
from minseg.testing import unavailable


def _check_sgd(shapes, steps, lr, momentum, weight_decay, seed):
    _rng = np.random.default_rng(seed)
    _start = [_rng.normal(size=s) for s in shapes]
    _grads = [[_rng.normal(size=s) for s in shapes] for _ in range(steps)]
    _theirs = [torch.tensor(a.copy(), requires_grad=True) for a in _start]
    _opt = torch.optim.SGD(_theirs, lr=lr, momentum=momentum, weight_decay=weight_decay)
    _expected = []
    for _g in _grads:
        for _p, _gi in zip(_theirs, _g):
            _p.grad = torch.tensor(_gi)
        _opt.step()
        _expected.append([_p.detach().numpy().copy() for _p in _theirs])
    _params, _buffers = [a.copy() for a in _start], [None] * len(shapes)
    with unavailable(ms.optim.SGD._update, ms.optim.Optimizer.step):
        for _t, _g in enumerate(_grads):
            _params, _buffers = sgd_step(_params, _g, _buffers, lr, momentum, weight_decay)
            for _i, (_mine, _ref) in enumerate(zip(_params, _expected[_t])):
                np.testing.assert_allclose(_mine, _ref, rtol=1e-10, atol=1e-12,
                                           err_msg=f"lr {lr}, momentum {momentum}, weight_decay "
                                                   f"{weight_decay}: parameter {_i} after step {_t + 1} "
                                                   f"(actual) vs torch.optim.SGD (desired)")


_p, _b = [np.array([1.0])], [None]
for _g, _w_expected, _b_expected in ((2.0, 0.75, 2.5), (1.0, 0.3875, 3.625)):  # the worked example
    _p, _b = sgd_step(_p, [np.array([_g])], _b, 0.1, 0.9, 0.5)
    assert np.allclose(_p[0], _w_expected) and np.allclose(_b[0], _b_expected), \
        f"worked example, gradient {_g}: expected w = {_w_expected}, b = {_b_expected}; " \
        f"got w = {_p[0]}, b = {_b[0]}"
_check_sgd([(3,), (2, 2)], steps=4, lr=0.1, momentum=0.9, weight_decay=1e-2, seed=0)
_check_sgd([(5,)], steps=3, lr=0.05, momentum=0.0, weight_decay=0.0, seed=1)  # plain SGD
### BEGIN HIDDEN TESTS
_check_sgd([(2, 3), (4,)], steps=6, lr=0.01, momentum=0.99, weight_decay=5e-4, seed=2)
_check_sgd([(3,)], steps=5, lr=0.2, momentum=0.5, weight_decay=0.3, seed=3)
_inputs = [np.ones(2)]
sgd_step(_inputs, [np.ones(2)], [None], 0.1, 0.9, 0.1)
assert np.array_equal(_inputs[0], np.ones(2)), "sgd_step must not change the params it is given"
### END HIDDEN TESTS
print("sgd_step: the worked example and torch.optim.SGD's trajectory")

# %% [markdown]
# ### minseg.optim.SGD and torch.optim.SGD: the same trajectory
#
# The whole training step, on a small FCN-8s and its PyTorch twin (same architecture source, same
# weights, float64, no dropout): ten SGD steps with momentum 0.9 and weight decay $5\cdot10^{-4}$ on
# the same batch, the loss and every weight compared after each step.

# %%
from minseg.reference.interop import torch_twin

ms.random.manual_seed(1)
small = ms.models.create("FCN", num_classes=NUM_CLASSES, variant="8s", widths=(8, 8, 8, 8, 8),
                         convs=(1, 1, 1, 1, 1), fc_width=16, fc_kernel=3, dropout=0.0).double()
twin = torch_twin(small)
images, masks = train_scenes.images[:4].astype(np.float64), train_scenes.masks[:4]
ms_opt = ms.optim.SGD(small.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
torch_opt = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
losses = {"minseg": [], "torch": []}
for step in range(10):
    ms_opt.zero_grad()
    loss = F.cross_entropy(small(ms.tensor(images)), ms.tensor(masks))
    loss.backward()
    ms_opt.step()
    torch_opt.zero_grad()
    torch_loss = torch.nn.functional.cross_entropy(twin(torch.tensor(images)), torch.tensor(masks))
    torch_loss.backward()
    torch_opt.step()
    losses["minseg"].append(float(loss.data))
    losses["torch"].append(torch_loss.item())
weight_gap = max(float(np.abs(p.data - q.detach().numpy()).max())
                 for p, q in zip(small.parameters(), twin.parameters()))
print("losses, minseg:", np.round(losses["minseg"], 4))
print("losses, torch: ", np.round(losses["torch"], 4))
print(f"largest weight difference after 10 steps: {weight_gap:.1e}")

# %% [markdown]
# ## 6. Results: FCN-32s, 16s and 8s on DigitScenes
#
# The shipped networks were trained with the CPU presets of `minseg.training.presets` (with
# median-frequency weights), by the command each record names. Here they are scored on 96
# validation scenes (handwritten digits never seen in training): mean IoU, per-class IoU and pixel
# accuracy, computed from the loaded weights by `minseg.training.evaluate`.

# %% tags=["nbval-ignore-output"]
for variant in fviz.VARIANTS:
    made = pretrained.record(f"fcn{variant}")
    settings = {key: made["fit"][key] for key in ("optimizer", "lr") if key in made["fit"]}
    print(f"FCN-{variant}: {made['steps']} steps {settings}, {made['minutes']:.1f} min "
          f"({made.get('note', '')})")
print("made by:", made["command"])

# %%
from minseg.training import evaluate

val_eval = DigitScenes(96, split="val", seed=0)
results = {variant: evaluate(model, val_eval) for variant, model in trained.items()}

# %% tags=["nbval-ignore-output"]
header = f"{'model':8s} {'mIoU':>6s} {'pixel acc':>9s} " + " ".join(f"{name[:4]:>5s}" for name in CLASSES)
print(header)
print("-" * len(header))
for variant, result in results.items():
    per_class = " ".join(f"{v:5.3f}" for v in result["iou"])
    print(f"FCN-{variant:4s} {result['mean_iou']:6.3f} {result['pixel_accuracy']:9.4f} {per_class}")
ordering = sorted(results, key=lambda v: results[v]["mean_iou"])
print("\nour order by mIoU, worst to best:", " < ".join(f"FCN-{v}" for v in ordering))
print("the paper's order (PASCAL VOC):    FCN-32s < FCN-16s < FCN-8s (FCN-8s: 62.2 mIoU on VOC 2012 test)")

# %% [markdown]
# Predictions side by side with the truth, the three variants on the same validation scenes:

# %% tags=["nbval-ignore-output"]
viewer.predictions_figure(scenes=(0, 1, 2, 3))

# %% [markdown]
# ## What to remember
#
# - A fully connected layer is a convolution whose kernel covers its input: `fc6` a 6×6 (AlexNet) or
#   7×7 (VGG) convolution over `pool5`, `fc7` and `score_fr` 1×1. On a larger image the classifier
#   becomes a score map with the network's output stride, 32.
# - `upscore` is a transposed convolution with kernel $2s$, stride $s$ and a fixed bilinear kernel;
#   it outputs $(n+1)s$ pixels, and cropping $s/2$ per side (padding $s/2$) aligns it with the input.
#   In the interior it equals bilinear interpolation.
# - Skips fuse the coarse, semantic scores with finer ones: 16s adds `pool4`'s scores at stride 16,
#   8s `pool3`'s at stride 8; each step is a 2× upsampling, a crop and a sum.
# - With 88 % background, unweighted cross-entropy is content with "background everywhere" (88 %
#   pixel accuracy, 0.08 mIoU); median-frequency weights make every class count.
# - SGD: $d = g + \lambda w$, $b \leftarrow \mu b + d$, $w \leftarrow w - \eta b$; minseg's SGD follows
#   torch's step for step.
#
# ## Questions to think about
#
# 1. FCN-8s's `fuse_pool3` still has stride 8: what kind of mistake can no amount of training remove
#    at that stride, and what would a stride-4 skip cost?
# 2. The skip scorers start at zero. What would go wrong if they started at random values, as the
#    other layers do?
# 3. Median-frequency weights raise the digits' recall. What do they cost, and in which metric would
#    you see it?
# 4. The bilinear `upscore` of FCN-32s is fixed. Could a learned one recover detail that the
#    $2\times2$ score map does not contain?
