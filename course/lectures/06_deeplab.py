# %% [markdown]
# # Lecture 06 — Dilated convolution and DeepLab (LargeFOV, ASPP, v3, v3+)
#
# A classification network shrinks its input 32 times before it decides; a segmentation network
# must answer at every pixel. FCN and U-Net shrink and then grow the maps back. DeepLab takes a
# different road: it stops shrinking. It removes the last strides and spreads the kernels' taps
# apart instead (*atrous*, or *dilated*, convolution), so the maps stay dense while each unit still
# sees a large window. This lecture builds that idea from a 1-D signal up to DeepLab v3+.
#
# **You will be able to**
# - compare sparse (downsample, convolve, upsample) and dense (dilated) feature extraction;
# - compute the field of view of a dilated kernel, $k + (k-1)(r-1)$, and of a stack of layers, and
#   find the holes (gridding) that equal rates leave;
# - trade strides for dilation (output stride 32 → 16 → 8) and count what it costs;
# - describe DeepLab v1 LargeFOV, v2's ASPP-S and ASPP-L, v3's image-level pooling and batch norm,
#   v3+'s decoder and atrous depthwise-separable convolutions, with their parameter counts;
# - build spatial pyramid pooling (SPP, PSPNet) from adaptive pooling and say how it differs from ASPP;
# - read the scores of trained LargeFOV, v3 and v3+ models on DigitScenes beside the paper's table.
#
# The five **Exercise** cells are graded as in the earlier lectures (`python -m course grade
# notebooks/06_deeplab.ipynb`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import minseg as ms
import minseg.functional as F
from minseg import models
from minseg.receptive_field import format_table, receptive_field
from minseg.testing import check_op
from minseg.viz import dilation as dviz

# %% [markdown]
# ## 1. Sparse versus dense feature extraction
#
# Take a 1-D signal and a 3-tap kernel. A network that has already downsampled by 2 sees only every
# other sample: it convolves those and, to get an answer at every position, upsamples the result.
# That is **sparse** feature extraction: half of the outputs are copies.
#
# The **dense** alternative keeps the full signal and spreads the kernel's taps 2 apart (rate
# $r = 2$): output $i$ reads inputs $i - 2, i, i + 2$. On the positions the sparse path computed it
# gives exactly the same numbers (it reads the same inputs with the same weights), and in between it
# gives real answers instead of copies:

# %% tags=["nbval-check-output"]
signal = np.array([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
kernel = np.array([1.0, 2.0, 1.0])


def conv1d(x, w, dilation=1):
    """'Same' 1-D convolution through minseg's conv2d (a 1 x n image, a 1 x k kernel)."""
    pad = dilation * (len(w) // 2)
    out = F.conv2d(ms.tensor(x[None, None, None]), ms.tensor(w[None, None, None]), padding=(0, pad),
                   dilation=(1, dilation))
    return out.numpy()[0, 0, 0]


sparse = conv1d(signal[::2], kernel)  # downsample by 2, then an ordinary convolution
dense = conv1d(signal, kernel, dilation=2)  # the full signal, the kernel dilated by 2
print("sparse (every 2nd position):", sparse.astype(int))
print("sparse, upsampled          :", np.repeat(sparse, 2).astype(int))
print("dense (dilated, rate 2)    :", dense.astype(int))
print("dense at even positions == sparse:", np.array_equal(dense[::2], sparse))
# Expected output:
# sparse (every 2nd position): [10 16 16 14 17 15]
# sparse, upsampled          : [10 10 16 16 16 16 14 14 17 17 15 15]
# dense (dilated, rate 2)    : [10  3 16 12 16 25 14 24 17 20 15 19]
# dense at even positions == sparse: True

# %% [markdown]
# The same on a longer signal, drawn as in the slides: (a) the sparse path answers at every other
# position and holds the value, (b) the dilated kernel answers everywhere, for the same 3 weights.
# The narrow spikes at the odd positions 13 and 31 never reach the sparse path: subsampling dropped
# them before any weight saw them.

# %% tags=["nbval-ignore-output"]
positions = np.arange(48)
wiggly = np.sin(positions / 5) + 0.6 * (positions % 9 == 4)  # a smooth wave with a few narrow spikes
dviz.draw_sparse_dense(wiggly, kernel / 4, rate=2)

# %% [markdown]
# ## 2. Field of view: $k + (k-1)(r-1)$
#
# A $k$-tap kernel with rate $r$ has $r - 1$ zeros ("holes", *trous* in French) between neighbouring
# taps, so it spans
#
# $$k_\text{eff} = k + (k-1)(r-1)$$
#
# input positions with only $k$ weights. In 2-D, a 3×3 kernel with rate 2 spans a 5×5 window with 9
# weights, where an ordinary 5×5 kernel needs 25. That is the whole point: a larger **field of view**
# (larger objects in one glance) without more parameters or more multiplications.
#
# **Exercise (effective_kernel).** Write `effective_kernel_size(kernel_size, rate)`.

# %%
def effective_kernel_size(kernel_size, rate):
    """How many input positions a kernel of ``kernel_size`` taps with dilation ``rate`` spans."""
    ### BEGIN SOLUTION hint: kernel_size taps with (kernel_size - 1) gaps of rate - 1 zeros
    return kernel_size + (kernel_size - 1) * (rate - 1)
    ### END SOLUTION


# %% grade_id="effective_kernel"
_cases = {(3, 1): 3, (3, 2): 5, (3, 12): 25, (1, 7): 1, (7, 4): 25, (5, 3): 13}  # worked by hand
for (_k, _r), _want in _cases.items():
    _got = effective_kernel_size(_k, _r)
    assert _got == _want, f"effective_kernel_size({_k}, {_r}): expected {_want}, got {_got}"
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(11)
for _ in range(20):
    _k, _r = (int(v) for v in _rng.integers([1, 1], [8, 20]))
    _n = 120  # a 'valid' convolution of a length-n input has n - (span - 1) outputs: read the span off it
    _out = F.conv2d(ms.tensor(np.zeros((1, 1, 1, _n))), ms.tensor(np.ones((1, 1, 1, _k))), dilation=(1, _r))
    _want = _n + 1 - _out.shape[-1]
    _got = effective_kernel_size(_k, _r)
    assert _got == _want, f"effective_kernel_size({_k}, {_r}): expected {_want} (from F.conv2d), got {_got}"
### END HIDDEN TESTS
print("effective_kernel_size agrees with the hand-worked cases")

# %% [markdown]
# A dilated kernel is an ordinary kernel with zeros inserted between its taps: rate 2 turns the 3×3
# kernel with weights 1 … 9 into a sparse 5×5 kernel. An ordinary convolution with that 5×5 kernel
# gives the same output as the 3×3 one with `dilation=2` (the zeros multiply whatever lies in the
# holes). Only the dilated version skips the multiplications by zero.
#
# **Exercise (dilate_kernel).** Write `dilate_kernel(weight, rate)`: for an ndarray `weight` of shape
# `(out, in, kh, kw)` return the zero-inserted kernel of shape
# `(out, in, rate * (kh - 1) + 1, rate * (kw - 1) + 1)`, the weights at every `rate`-th position and
# zeros in between. The check convolves with it and compares with PyTorch's
# `conv2d(..., dilation=rate)`.

# %%
def dilate_kernel(weight, rate):
    """The kernel with rate - 1 zeros between neighbouring taps, along both spatial axes."""
    weight = np.asarray(weight)
    ### BEGIN SOLUTION hint: np.zeros of the larger shape, then one strided assignment [..., ::rate, ::rate]
    out, channels, kh, kw = weight.shape
    sparse = np.zeros((out, channels, rate * (kh - 1) + 1, rate * (kw - 1) + 1), dtype=weight.dtype)
    sparse[..., ::rate, ::rate] = weight
    return sparse
    ### END SOLUTION


# %% grade_id="dilate_kernel"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import check_op

_nine = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
_want = np.array([[1, 0, 2, 0, 3], [0] * 5, [4, 0, 5, 0, 6], [0] * 5, [7, 0, 8, 0, 9]], float)
_got = np.asarray(dilate_kernel(_nine, 2))
assert _got.shape == (1, 1, 5, 5), \
    f"dilate_kernel(3x3 weights 1..9, 2): expected shape (1, 1, 5, 5), got {_got.shape}"
np.testing.assert_array_equal(_got[0, 0], _want, err_msg="dilate_kernel(3x3 weights 1..9, rate 2)")
np.testing.assert_array_equal(np.asarray(dilate_kernel(_nine, 1)), _nine, err_msg="rate 1 changes nothing")


def _conv_with_dilated_kernel(x, weight, rate, padding):
    """An ordinary convolution with your zero-inserted kernel (an ndarray: x's gradient is compared)."""
    return F.conv2d(x, ms.tensor(np.asarray(dilate_kernel(weight.numpy(), rate))), padding=padding)


def _torch_dilated_conv(x, weight, rate, padding):
    """The expected values: torch's convolution with dilation=rate."""
    return torch.nn.functional.conv2d(x, weight, padding=padding, dilation=rate)


def _check_dilate_kernel(seed, trials, max_rate):
    """Random kernels: convolving with dilate_kernel(w, r) must equal torch's dilation=r."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        r, kh, kw, p, o, c = (int(v) for v in rng.integers([1, 1, 1, 0, 1, 1], [max_rate + 1, 4, 4, 4, 5, 4]))
        x, w = rng.normal(size=(2, c, 13, 14)), rng.normal(size=(o, c, kh, kw))
        sparse, shape = np.asarray(dilate_kernel(w, r)), (o, c, r * (kh - 1) + 1, r * (kw - 1) + 1)
        assert sparse.shape == shape, \
            f"dilate_kernel(weight of shape {w.shape}, {r}): expected shape {shape}, got {sparse.shape}"
        check_op(_conv_with_dilated_kernel, [x, w], _torch_dilated_conv, kwargs=dict(rate=r, padding=p),
                 differentiable=[0], gradcheck_inputs=False)


_check_dilate_kernel(12, 8, 3)
### BEGIN HIDDEN TESTS
_check_dilate_kernel(112, 10, 5)
### END HIDDEN TESTS
print("convolving with dilate_kernel(w, r) == torch's conv2d(dilation=r)")

# %% [markdown]
# minseg's own dilated convolution against PyTorch, forward and every gradient, on random inputs:

# %%
import torch

demo = np.random.default_rng(0)
inputs = [demo.normal(size=(2, 3, 12, 12)), demo.normal(size=(4, 3, 3, 3))]
check_op(F.conv2d, inputs, torch.nn.functional.conv2d, kwargs=dict(padding=3, dilation=3))
print("F.conv2d(dilation=3) == torch, forward and backward")

# %% [markdown]
# ## 3. Stacking dilated layers: fields, holes and hybrid rates
#
# Stack layers and the fields add up. Seen from the input, a layer with effective kernel $k_\text{eff}$
# adds $(k_\text{eff} - 1)\cdot j$ pixels to the field, where the **jump** $j$ (the product of the
# strides below it) is the input distance between neighbouring units of its input:
#
# $$\text{size}_\ell = \text{size}_{\ell-1} + (k_\text{eff} - 1)\, j_{\ell-1}, \qquad
#   j_\ell = j_{\ell-1}\, s_\ell, \qquad \text{size}_0 = j_0 = 1.$$
#
# Three 3×3 layers see 7 pixels; with rates 2, 2, 2 they see 13; with rates 1, 2, 4 they see 15 — the
# field grows exponentially with depth if the rates double.
#
# **Exercise (stack_field).** Write `stack_field(layers)` for a list of `(kernel_size, stride, rate)`
# tuples (the first layer reads the input) returning the pair `(size, jump)` after the last layer.
# `minseg.receptive_field.receptive_field` computes this too; the check makes it unavailable while
# your function runs.

# %%
def stack_field(layers):
    """(receptive field size, jump) in input pixels after a chain of (kernel_size, stride, rate) layers."""
    ### BEGIN SOLUTION hint: size = jump = 1; a layer adds (effective kernel - 1) * jump, then jump *= stride
    size, jump = 1, 1
    for kernel_size, stride, rate in layers:
        size += (kernel_size + (kernel_size - 1) * (rate - 1) - 1) * jump
        jump *= stride
    return size, jump
    ### END SOLUTION


# %% grade_id="stack_field"
from minseg.receptive_field import receptive_field as _library_field
from minseg.testing import unavailable

_cases = {((3, 1, 1),) * 3: (7, 1), ((3, 1, 2),) * 3: (13, 1), ((3, 1, 1), (3, 1, 2), (3, 1, 4)): (15, 1),
          ((3, 1, 1), (3, 1, 2), (3, 1, 3)): (13, 1), ((11, 4, 1), (3, 2, 1)): (19, 8),
          ((3, 2, 1), (3, 1, 2)): (11, 2)}  # worked by hand
_rng = np.random.default_rng(13)
_random = [[tuple(int(v) for v in _rng.integers([1, 1, 1], [6, 3, 4]))  # (kernel, stride, rate)
            for _ in range(int(_rng.integers(1, 7)))] for _ in range(25)]
_expected = [(_library_field([(k, s, 0, r) for k, s, r in _layers])[-1].size,
              _library_field([(k, s, 0, r) for k, s, r in _layers])[-1].jump) for _layers in _random]
with unavailable(_library_field):
    for _layers, _want in _cases.items():
        _got = tuple(stack_field(list(_layers)))
        assert _got == _want, f"stack_field({list(_layers)}): expected (size, jump) {_want}, got {_got}"
### BEGIN HIDDEN TESTS
    for _layers, _want in zip(_random, _expected):
        _got = tuple(stack_field(_layers))
        assert _got == _want, f"stack_field({_layers}): expected (size, jump) {_want}, got {_got}"
### END HIDDEN TESTS
print("stack_field agrees with the hand-worked stacks")

# %% [markdown]
# The size hides something. With equal rates every layer samples on the same grid: three 3×3 layers
# of rate 2 read only the pixels at even offsets, so their 13×13 field is a checkerboard of 7×7 used
# pixels and 120 **holes** that never reach the output (the *gridding* artefact). A hybrid choice of
# rates with no common factor — 1, 2, 3 — has the same 13×13 field and fills every pixel.
# `dviz.field_counts` walks down from one output pixel and counts, for every input pixel, the paths
# through the stack that reach it:

# %% tags=["nbval-check-output"]
for rates in [(1, 1, 1), (2, 2, 2), (1, 2, 3), (1, 2, 4)]:
    field = dviz.field_counts(rates)
    used = np.count_nonzero(field.counts)
    print(f"rates {rates}: {field.size}x{field.size}, {used} of {field.size ** 2} used, {field.holes} holes; "
          f"one axis {field.counts_1d.tolist()}")
# Expected output:
# rates (1, 1, 1): 7x7, 49 of 49 used, 0 holes; one axis [1, 3, 6, 7, 6, 3, 1]
# rates (2, 2, 2): 13x13, 49 of 169 used, 120 holes; one axis [1, 0, 3, 0, 6, 0, 7, 0, 6, 0, 3, 0, 1]
# rates (1, 2, 3): 13x13, 169 of 169 used, 0 holes; one axis [1, 1, 2, 2, 3, 3, 3, 3, 3, 2, 2, 1, 1]
# rates (1, 2, 4): 15x15, 225 of 225 used, 0 holes; one axis [1, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 1, 2, 1, 1]

# %% [markdown]
# The counts are what autograd sees too: for a stack of all-ones 3×3 kernels, the gradient of one
# output pixel with respect to the input *is* the number of paths. (A 3×3 kernel picks its row tap and
# its column tap independently, so the 2-D counts are the product of two 1-D counts: the centre row is
# 7 times the 1-D row.)

# %% tags=["nbval-check-output"]
x = ms.tensor(np.zeros((1, 1, 27, 27)), requires_grad=True)
y = x
for rate in (2, 2, 2):
    y = F.conv2d(y, ms.tensor(np.ones((1, 1, 3, 3))), padding=rate, dilation=rate)
y[0, 0, 13, 13].backward()
counts = dviz.field_counts((2, 2, 2)).counts
print("gradient == path counts:", np.array_equal(x.grad[0, 0, 7:20, 7:20], counts))
print("centre row of the gradient:", x.grad[0, 0, 13, 7:20].astype(int))
# Expected output:
# gradient == path counts: True
# centre row of the gradient: [ 7  0 21  0 42  0 49  0 42  0 21  0  7]

# %% [markdown]
# ### The receptive-field explorer
#
# Up to four 3×3 layers, each with a rate and a stride. Left: which input pixels feed the output pixel
# and along how many paths (white cells are holes); right: the same along one axis, one row of units
# per layer. Try rates 2, 2, 2 (a checkerboard), then 1, 2, 3 (filled), then a stride of 2 in layer 1
# followed by rate 2 (the stride multiplies every later rate: holes again).

# %% tags=["nbval-ignore-output"]
dviz.field_widget(rates=(1, 2, 3, 1), layers=3)

# %% tags=["nbval-ignore-output"]
dviz.field_static_figure([(2, 2, 2), (1, 2, 3), (1, 2, 5)])

# %% [markdown]
# The paths also show *how much* each pixel counts: the centre is reached along many paths, the
# corners along one. The effective field is much more peaked than its square.
#
# ## 4. Output stride: trading strides for dilation
#
# The **output stride** is the ratio of the input size to the final feature map's size: 32 for a
# classification ResNet. DeepLab removes the stride of the last stage (output stride 16) or of the last
# two (output stride 8) and dilates every later convolution by the stride it lost (2, then 4), so each
# layer reads the same input positions as before, on a finer grid. The weights do not change at all;
# the receptive field does not shrink; only the maps get larger.
#
# Here are the convolutions of a ResNet-18-shaped backbone (a 7×7 stride-2 stem, a stride-2 pool,
# four stages of two basic blocks of two 3×3 convolutions, widths 64 … 512; the 1×1 shortcut
# projections left out) on a 512×512 image, counted per output stride: multiply-adds (each output
# value of a $k\times k$ convolution costs $k^2 c_\text{in}$ of them), the floats of the feature maps
# the convolutions write (the memory a training step must keep for the backward pass), the weights,
# and the receptive field from `minseg.receptive_field`.

# %%
def resnet18_convs(output_stride):
    """ResNet-18's convolutions as (layer dict for receptive_field, in channels, out channels)."""
    stage_strides = {32: (1, 2, 2, 2), 16: (1, 2, 2, 1), 8: (1, 2, 1, 1)}[output_stride]
    convs = [(dict(name="stem", kernel=7, stride=2, padding=3), 3, 64),
             (dict(name="pool", kernel=3, stride=2, padding=1), 64, 0)]
    channels, dilation = 64, 1
    for stage, (width, stride) in enumerate(zip((64, 128, 256, 512), stage_strides), start=1):
        if stage > 1 and stride == 1:
            dilation *= 2  # the stride this stage lost becomes dilation
        for block in range(2):
            name = f"stage{stage}.{block + 1}"
            first = dict(name=name + "a", kernel=3, stride=stride if block == 0 else 1, padding=dilation,
                         dilation=dilation)
            convs.append((first, channels, width))
            convs.append((dict(name=name + "b", kernel=3, padding=dilation, dilation=dilation), width, width))
            channels = width
    return convs


def count_costs(output_stride, size=512):
    """(final map side, multiply-adds, feature-map floats, weights, receptive field) of the backbone."""
    convs = resnet18_convs(output_stride)
    rows = receptive_field([layer for layer, _, _ in convs], input_size=size)
    macs = floats = weights = 0
    for row, (_, c_in, c_out) in zip(rows, convs):
        if c_out:  # a convolution (the pool has no weights)
            macs += row.output ** 2 * c_out * row.kernel ** 2 * c_in
            floats += row.output ** 2 * c_out
            weights += c_out * c_in * row.kernel ** 2
    return rows[-1].output, macs, floats, weights, rows[-1].size


# %% tags=["nbval-check-output"]
base = count_costs(32)
print("output stride | final map | multiply-adds    | feature floats   | weights    | field")
for stride in (32, 16, 8):
    side, macs, floats, weights, field = count_costs(stride)
    print(f"{stride:13d} | {side:3d} x {side:<3d} | {macs / 1e9:5.1f} G (x{macs / base[1]:.2f}) | "
          f"{floats / 1e6:5.1f} M (x{floats / base[2]:.2f}) | {weights / 1e6:.2f} M | {field}")
# Expected output:
# output stride | final map | multiply-adds    | feature floats   | weights    | field
#            32 |  16 x 16  |   9.4 G (x1.00) |  12.1 M (x1.00) | 10.99 M | 435
#            16 |  32 x 32  |  15.7 G (x1.68) |  13.6 M (x1.13) | 10.99 M | 467
#             8 |  64 x 64  |  47.4 G (x5.06) |  23.1 M (x1.91) | 10.99 M | 483

# %% [markdown]
# A stage run at twice the resolution costs four times as much, and ResNet's stages cost about the
# same each (the width doubles when the map halves). So output stride 16 (the last stage at 4×
# the cost) takes 1.7 times the multiply-adds, and output stride 8 (the last stage at 16×, the one
# before at 4×) five times — with the same 11 M weights. The feature maps grow less (×1.1, ×1.9): the
# early high-resolution stages hold most of the memory anyway. What it buys: a 64×64 instead of a
# 16×16 map of predictions, so an object a few tens of pixels wide is described by many cells rather
# than one, and a field that does not shrink (here it even grows a little, because the first
# convolution of a dilated stage reads twice as far as the strided one it replaced). DeepLab v3 trains
# at output stride 16 (cheaper, larger batches for batch norm) and evaluates at 8.
#
# minseg's `ResNetBackbone` does exactly this: the same model, the same weights count, larger maps.

# %% tags=["nbval-check-output"]
counts = {}
for stride in (16, 8):
    net = models.DeepLabV3(num_classes=11, widths=(16, 32, 64, 64), blocks_per_stage=(1, 1, 1, 1),
                           aspp_width=32, output_stride=stride, rates=(1, 2, 3))
    with ms.no_grad():
        low_level, features = net.backbone(ms.tensor(np.zeros((1, 3, 64, 64), np.float32)))
    counts[stride] = sum(p.data.size for p in net.parameters())
    print(f"output stride {stride}: features {features.shape}, low-level {low_level.shape}")
print("same number of parameters:", counts[16] == counts[8])
# Expected output:
# output stride 16: features (1, 64, 4, 4), low-level (1, 16, 16, 16)
# output stride 8: features (1, 64, 8, 8), low-level (1, 16, 16, 16)
# same number of parameters: True

# %% [markdown]
# ## 5. DeepLab v1 LargeFOV and v2's ASPP
#
# **DeepLab v1** starts from VGG-16 and sets the strides of `pool4` and `pool5` to 1 (output stride 8),
# dilates `conv5` by 2, and replaces the huge fully connected `fc6` (a 7×7 convolution with 4096
# channels over `pool5`) by a 3×3 convolution with **rate 12** and 1024 channels — the *LargeFOV*
# variant: the same wide view for a fraction of the weights.
#
# **DeepLab v2** asks: which rate? All of them, in parallel. **Atrous spatial pyramid pooling (ASPP)**
# runs four `fc6`–`fc7`–`fc8` branches over the same `pool5` features with different rates and sums
# their class scores: objects of different sizes are picked up by the branch whose field fits them
# (the same idea as GoogLeNet's parallel kernels). ASPP-S uses rates 2, 4, 8, 12, ASPP-L 6, 12, 18, 24.
#
# The fields of view on a 320×320 input (`fc6` runs at output stride 8, so its kernel's span is
# multiplied by 8 in input pixels), and the parameters of each head:

# %% tags=["nbval-check-output"]
def deeplab_v1_chain(rate):
    """VGG-16 as DeepLab v1 runs it (pool4 and pool5 at stride 1, conv5 dilated by 2), then fc6."""
    layers = []
    stages = [(2, 1, 2), (2, 1, 2), (3, 1, 2), (3, 1, 1), (3, 2, 1)]  # (convs, dilation, pool stride)
    for stage, (convs, dil, pool_stride) in enumerate(stages, 1):
        layers += [dict(name=f"conv{stage}_{i + 1}", kernel=3, padding=dil, dilation=dil)
                   for i in range(convs)]
        layers.append(dict(name=f"pool{stage}", kernel=3, stride=pool_stride, padding=1))
    return layers + [dict(name="fc6", kernel=3, padding=rate, dilation=rate)]


def head_parameters(rates, in_channels=512, width=1024, classes=21):
    """Weights + biases of parallel fc6 (3x3, dilated) - fc7 (1x1) - fc8 (1x1) branches."""
    per_branch = (9 * in_channels * width + width) + (width * width + width) + (width * classes + classes)
    return len(rates) * per_branch


paper = {"LargeFOV": ((12,), 65.76), "ASPP-S": ((2, 4, 8, 12), 66.98), "ASPP-L": ((6, 12, 18, 24), 68.96)}
print("method    rates            fc6 span (features -> input px)   whole field   head params   paper mIoU")
for method, (rates, miou) in paper.items():
    spans = [3 + 2 * (r - 1) for r in rates]
    field = max(receptive_field(deeplab_v1_chain(r))[-1].size for r in rates)
    print(f"{method:9s} {str(rates):16s} {str(spans):16s} -> {str([8 * s for s in spans]):17s} {field:5d}"
          f"   {head_parameters(rates) / 1e6:6.2f} M     {miou:.2f}")
print(f"VGG-16's own fc6 (7x7, 512 -> 4096): {(49 * 512 * 4096 + 4096) / 1e6:.2f} M weights")
# Expected output:
# method    rates            fc6 span (features -> input px)   whole field   head params   paper mIoU
# LargeFOV  (12,)            [25]             -> [200]               419     5.79 M     65.76
# ASPP-S    (2, 4, 8, 12)    [5, 9, 17, 25]   -> [40, 72, 136, 200]   419    23.16 M     66.98
# ASPP-L    (6, 12, 18, 24)  [13, 25, 37, 49] -> [104, 200, 296, 392]   611    23.16 M     68.96
# VGG-16's own fc6 (7x7, 512 -> 4096): 102.76 M weights

# %% [markdown]
# LargeFOV's chain layer by layer, from `minseg.receptive_field` (on a 320×320 input): the jump stops at
# 8 after `pool3`, yet the field keeps growing, fastest at the dilated `conv5` and `fc6`.

# %%
print(format_table(receptive_field(deeplab_v1_chain(12), input_size=320)))

# %% [markdown]
# (mIoU on PASCAL VOC 2012 *val*, VGG-16, before the CRF of the next lecture — the table on the
# slides.) Wider rates help: ASPP-L beats ASPP-S by two points with the same number of weights, and
# LargeFOV's 5.8 M weights replace VGG's 103 M in `fc6` alone. minseg's `DeepLabLargeFOV` builds both
# heads (at the paper's widths), and its branches hold exactly the parameters counted above:

# %% tags=["nbval-check-output"]
for method, rates in [("LargeFOV", None), ("ASPP-L", (6, 12, 18, 24))]:
    net = models.DeepLabLargeFOV(num_classes=21, aspp_rates=rates)
    head = sum(p.data.size for p in net.branches.parameters())
    print(f"{method}: head == formula: {head == head_parameters(rates or (12,))};",
          "fc6 dilations", [branch[0].dilation for branch in net.branches])
del net
# Expected output:
# LargeFOV: head == formula: True; fc6 dilations [(12, 12)]
# ASPP-L: head == formula: True; fc6 dilations [(6, 6), (12, 12), (18, 18), (24, 24)]

# %% [markdown]
# ## 6. DeepLab v3: ASPP with image-level features and batch norm
#
# DeepLab v3 keeps ASPP but changes its branches: a 1×1 convolution, three 3×3 atrous convolutions
# (rates 6, 12, 18 at output stride 16, doubled at 8), and an **image-level** branch — global average
# pooling, a 1×1 convolution, and upsampling back to the map's size — each followed by **batch
# normalisation** and ReLU. The branches are concatenated along the channels and projected by a 1×1
# convolution. Batch norm makes this deep head trainable from scratch (and is why v3 trains at output
# stride 16, where batches are large enough).
#
# Why the image-level branch? Because a very dilated 3×3 kernel on a small map degenerates: most of its
# taps land in the zero padding. Here is the average fraction of the 9 taps that see the map, for a
# 33×33 map (a 513-pixel image at output stride 16) and for our 8×8 maps (64 pixels at output stride 8):

# %% tags=["nbval-check-output"]
def taps_inside(size, rate, kernel_size=3):
    """Average share of a dilated kernel's taps that fall inside a size x size map ('same' padding)."""
    offsets = rate * (np.arange(kernel_size) - kernel_size // 2)
    reads = np.arange(size)[:, None] + offsets[None]
    per_axis = ((reads >= 0) & (reads < size)).sum(1)  # taps inside, along one axis, per position
    return np.outer(per_axis, per_axis).mean() / kernel_size ** 2


for size in (33, 8):
    shares = [f"rate {r}: {taps_inside(size, r):.2f}" for r in (1, 6, 12, 18, 24, 33)]
    print(f"{size}x{size} map:", ", ".join(shares))
# Expected output:
# 33x33 map: rate 1: 0.96, rate 6: 0.77, rate 12: 0.57, rate 18: 0.40, rate 24: 0.27, rate 33: 0.11
# 8x8 map: rate 1: 0.84, rate 6: 0.25, rate 12: 0.11, rate 18: 0.11, rate 24: 0.11, rate 33: 0.11

# %% [markdown]
# At 0.11 = 1/9 only the centre tap is left: the "atrous" branch has become a 1×1 convolution and sees
# no context at all. The image-level branch supplies the context instead (the whole image, pooled).
# This is also why the small DeepLab models trained for this course use rates 1, 2, 3 (given at output
# stride 16, so 2, 4, 6 at output stride 8): on an 8×8 map, rate 12 would see nothing.
#
# **Exercise (aspp).** Write the forward pass of an ASPP head (without batch norm, which is the
# identity at initialisation): for a minseg Tensor `x` of shape `(N, C, H, W)`,
# - every `(weight, rate)` in `branches` gives `relu(conv2d(x, weight))` with dilation `rate` and the
#   padding that keeps H×W (`rate * (k // 2)` for a k×k weight);
# - the image-level branch is `relu(conv2d(global average of x, pool_weight))` (a 1×1 weight), spread
#   over H×W;
# - concatenate the branch outputs along the channels, in order, the image-level branch last, and
#   return `relu(conv2d(concatenation, project_weight))` (a 1×1 weight).
#
# Use minseg ops (`F.conv2d`, `F.relu`, `F.adaptive_avg_pool2d`, `F.interpolate`, `F.cat`) so
# gradients flow.

# %%
def aspp_forward(x, branches, pool_weight, project_weight):
    """Atrous spatial pyramid pooling: parallel dilated convolutions + image-level features, projected."""
    h, w = x.shape[-2:]
    ### BEGIN SOLUTION hint: a list of branch outputs; F.interpolate(pooled, size=(h, w)) spreads the 1x1 one
    outputs = [F.relu(F.conv2d(x, weight, padding=rate * (weight.shape[-1] // 2), dilation=rate))
               for weight, rate in branches]
    pooled = F.relu(F.conv2d(F.adaptive_avg_pool2d(x, 1), pool_weight))
    outputs.append(F.interpolate(pooled, size=(h, w), mode="nearest"))
    return F.relu(F.conv2d(F.cat(outputs, 1), project_weight))
    ### END SOLUTION


# %% grade_id="aspp"
import numpy as np
import torch

import minseg as ms
from minseg.testing import check_op


def _aspp_forward(x, *weights, rates):
    """Your aspp_forward with every weight a separate input (for check_op): the branches' (one per rate),
    then pool_weight, then project_weight."""
    return aspp_forward(x, list(zip(weights[:-2], rates)), weights[-2], weights[-1])


def _torch_aspp(x, *weights, rates):
    """The reference: the same head in PyTorch, the weights laid out as in _aspp_forward."""
    tf = torch.nn.functional
    outs = [tf.relu(tf.conv2d(x, w, padding=r * (w.shape[-1] // 2), dilation=r))
            for w, r in zip(weights[:-2], rates)]
    pooled = tf.relu(tf.conv2d(x.mean((2, 3), keepdim=True), weights[-2]))
    outs.append(pooled.expand(-1, -1, *x.shape[-2:]))
    return tf.relu(tf.conv2d(torch.cat(outs, 1), weights[-1]))


def _check_aspp(seed, trials):
    """Random ASPP heads: aspp_forward must match the PyTorch one above, forward and every gradient."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        c, o, h, w = (int(v) for v in rng.integers([1, 1, 5, 5], [4, 4, 12, 12]))
        rates = [1] + [int(r) for r in rng.integers(1, 5, int(rng.integers(1, 4)))]
        arrays = [rng.normal(size=(2, c, h, w))] + [rng.normal(size=(o, c, 1, 1) if i == 0 else (o, c, 3, 3))
                                                    for i in range(len(rates))]
        arrays += [rng.normal(size=(o, c, 1, 1)), rng.normal(size=(3, o * (len(rates) + 1), 1, 1))]
        check_op(_aspp_forward, arrays, _torch_aspp, kwargs=dict(rates=rates), gradcheck_inputs=False)


# by hand: a 3x3 map of ones; a 1x1 branch (1 everywhere), a 3x3 rate-2 branch of ones (taps inside: 2 x 2 at
# the corners, 1 at the centre), the image-level branch (mean 1) and a projection that adds the three
_shapes = [(1, 1, 3, 3), (1, 1, 1, 1), (1, 1, 3, 3), (1, 1, 1, 1), (1, 3, 1, 1)]  # x, branches, pool, project
_ones = [ms.tensor(np.ones(shape)) for shape in _shapes]
_got = aspp_forward(_ones[0], [(_ones[1], 1), (_ones[2], 2)], _ones[3], _ones[4]).data
np.testing.assert_allclose(np.asarray(_got).reshape(3, 3), [[6, 4, 6], [4, 3, 4], [6, 4, 6]],
                           err_msg="aspp_forward on a 3x3 map of ones, rates 1 and 2, all-ones weights")
_check_aspp(14, 4)
### BEGIN HIDDEN TESTS
_check_aspp(114, 4)
### END HIDDEN TESTS
print("aspp_forward agrees with a PyTorch ASPP, forward and every gradient")

# %% [markdown]
# minseg's `models.ASPP` is this head with batch norm after every convolution (and dropout after the
# projection); its branches, for the course's small DeepLab v3 at output stride 8 (rates 1, 2, 3
# doubled):

# %%
aspp = models.DeepLabV3(num_classes=11, widths=(16, 32, 64, 64), blocks_per_stage=(1, 1, 1, 1), aspp_width=32,
                        output_stride=8, rates=(1, 2, 3)).aspp
for index, branch in enumerate(aspp.branches):
    conv = branch[0]
    print(f"branch {index}: {conv.kernel_size[0]}x{conv.kernel_size[1]} conv, dilation {conv.dilation}, "
          f"{sum(p.data.size for p in branch.parameters())} parameters (with batch norm)")
print(f"image-level: {sum(p.data.size for p in aspp.image_pool.parameters())} parameters, "
      f"projection: {sum(p.data.size for p in aspp.project.parameters())} parameters")

# %% [markdown]
# ## 7. DeepLab v3+: a decoder and atrous separable convolutions
#
# v3's output is still at stride 8 or 16, upsampled bilinearly — thin structures and boundaries blur.
# **DeepLab v3+** adds a light **decoder**: the ASPP output (stride 16) is upsampled by 4, concatenated
# with the backbone's stride-4 features (reduced by a 1×1 convolution to 48 channels so they do not
# drown the context), refined by two 3×3 convolutions and upsampled by 4 again. Encoder–decoder with
# atrous convolution: the atrous encoder fixes how dense the context is (and the compute), the decoder
# recovers the boundaries.
#
# To pay for it, v3+ makes its 3×3 convolutions **depthwise separable**: a 3×3 (atrous) convolution of
# each channel on its own (`groups = channels`), then a 1×1 convolution that mixes the channels. For
# $c_\text{in} \to c_\text{out}$ channels and a $k \times k$ kernel:
#
# $$\underbrace{k^2 c_\text{in} c_\text{out}}_\text{standard} \quad\text{versus}\quad
#   \underbrace{k^2 c_\text{in}}_\text{depthwise} + \underbrace{c_\text{in} c_\text{out}}_\text{pointwise}.$$
#
# For 256 → 256 channels and 3×3: 589,824 weights against 2,304 + 65,536 = 67,840, 8.7 times fewer (and
# as many times fewer multiplications). The rate of the depthwise step is free: the same count at any
# dilation.
#
# **Exercise (separable).** Write `separable_conv2d(x, depthwise, pointwise, dilation=1)` for a minseg
# Tensor `x` `(N, C, H, W)`, `depthwise` `(C, 1, k, k)` and `pointwise` `(O, C, 1, 1)`: convolve every
# channel of `x` with its own k×k kernel (dilation `dilation`, padding `dilation * (k // 2)`), one channel
# at a time (no `groups` argument), then apply the 1×1 `pointwise` convolution. And write
# `separable_parameters(in_channels, out_channels, kernel_size)` returning the pair
# `(standard, separable)` of weight counts (no biases). The check compares your convolution with a
# grouped convolution followed by a 1×1 one, in PyTorch.

# %%
def separable_conv2d(x, depthwise, pointwise, dilation=1):
    """Depthwise (one k x k kernel per channel, dilated) then pointwise (1x1) convolution."""
    ### BEGIN SOLUTION hint: convolve x[:, c:c + 1] with depthwise[c:c + 1]; F.cat on axis 1; then a 1x1 conv
    k = depthwise.shape[-1]
    per_channel = [F.conv2d(x[:, c:c + 1], depthwise[c:c + 1], padding=dilation * (k // 2), dilation=dilation)
                   for c in range(x.shape[1])]
    return F.conv2d(F.cat(per_channel, 1), pointwise)
    ### END SOLUTION


def separable_parameters(in_channels, out_channels, kernel_size):
    """(weights of a standard k x k convolution, weights of its depthwise-separable replacement)."""
    ### BEGIN SOLUTION hint: the formula above
    standard = kernel_size ** 2 * in_channels * out_channels
    return standard, kernel_size ** 2 * in_channels + in_channels * out_channels
    ### END SOLUTION


# %% grade_id="separable"
import numpy as np
import torch

import minseg as ms
from minseg.testing import check_op


def _torch_separable(x, depthwise, pointwise, dilation=1):
    """The expected values: a grouped (depthwise) convolution, then the 1x1 one, in PyTorch."""
    _padding = dilation * (depthwise.shape[-1] // 2)
    _per_channel = torch.nn.functional.conv2d(x, depthwise, padding=_padding, dilation=dilation,
                                              groups=x.shape[1])
    return torch.nn.functional.conv2d(_per_channel, pointwise)


_by_hand = {(256, 256, 3): (589824, 67840), (3, 8, 3): (216, 51), (16, 32, 5): (12800, 912)}
for (_ci, _co, _k), _want in _by_hand.items():
    _got = tuple(separable_parameters(_ci, _co, _k))
    assert _got == _want, \
        f"separable_parameters({_ci}, {_co}, {_k}): expected (standard, separable) {_want}, got {_got}"
_rng = np.random.default_rng(15)
for _ in range(5):
    _c, _o, _k, _d = (int(v) for v in _rng.integers([1, 1, 1, 1], [5, 5, 4, 4]))
    _arrays = [_rng.normal(size=shape) for shape in [(2, _c, 9, 10), (_c, 1, _k, _k), (_o, _c, 1, 1)]]
    check_op(separable_conv2d, _arrays, _torch_separable, kwargs=dict(dilation=_d), gradcheck_inputs=False)
### BEGIN HIDDEN TESTS
for _ in range(10):
    _ci, _co, _k = (int(v) for v in _rng.integers([1, 1, 1], [300, 300, 8]))
    _want = (_k * _k * _ci * _co, _k * _k * _ci + _ci * _co)
    _layer = ms.nn.Conv2d(_ci, _ci, _k, groups=_ci, bias=False)  # the depthwise weights of a real layer
    assert _layer.weight.data.size + _ci * _co == _want[1]
    _got = tuple(separable_parameters(_ci, _co, _k))
    assert _got == _want, f"separable_parameters({_ci}, {_co}, {_k}): expected {_want}, got {_got}"
### END HIDDEN TESTS
print("separable_conv2d == torch's grouped + 1x1 convolution, forward and backward; parameter counts right")

# %% [markdown]
# minseg's grouped convolution against PyTorch, and the two small DeepLab heads side by side: v3+
# uses separable convolutions in its ASPP and decoder.

# %%
inputs = [demo.normal(size=(2, 4, 9, 9)), demo.normal(size=(4, 1, 3, 3))]
check_op(F.conv2d, inputs, torch.nn.functional.conv2d, kwargs=dict(padding=2, dilation=2, groups=4))
small = dict(num_classes=11, widths=(16, 32, 64, 64), blocks_per_stage=(1, 1, 1, 1), aspp_width=64,
             rates=(1, 2, 3))
for name, net in [("DeepLabV3", models.DeepLabV3(output_stride=8, **small)),
                  ("DeepLabV3Plus", models.DeepLabV3Plus(output_stride=16, low_level_width=16, **small))]:
    total = sum(p.data.size for p in net.parameters())
    print(f"{name:13s}: ASPP {sum(p.data.size for p in net.aspp.parameters()):6d} parameters, "
          f"whole model {total}")
decoder = sum(p.data.size for p in net.decoder.parameters() if p.data.ndim == 4)  # convolution weights only
print(f"v3+ decoder: two separable 3x3 convs (80 -> 64 -> 64 channels) hold {decoder} weights; "
      f"two standard 3x3 convs would hold {9 * 80 * 64 + 9 * 64 * 64}")

# %% [markdown]
# ## 8. Spatial pyramid pooling and PSPNet
#
# ASPP is named after **spatial pyramid pooling (SPP)** (He et al.), but works differently. SPP was
# invented so that a classification network could take images of any size: it max-pools the last
# feature map into fixed grids of bins — 1×1, 2×2 and 4×4 in the slides' figure — whatever the map's
# size (the pooling window and stride scale with the input, $\lceil n/b\rceil$ and
# $\lfloor n/b\rfloor$), and concatenates them into a vector of fixed length for the fully connected
# layers.

# %% tags=["nbval-check-output"]
def spp(x, bins=(1, 2, 4)):
    """He et al.'s spatial pyramid pooling: max over a b x b grid for every b, flattened and concatenated."""
    n = x.shape[-1]
    pooled = [F.max_pool2d(x, kernel_size=-(-n // b), stride=n // b) for b in bins]
    return F.cat([p.reshape(x.shape[0], -1) for p in pooled], 1)


for size in (13, 10, 9):
    features = ms.tensor(np.random.default_rng(size).normal(size=(1, 256, size, size)))
    print(f"{size}x{size} map -> vector of {spp(features).shape[1]} = 256 x (1 + 4 + 16)")
# Expected output:
# 13x13 map -> vector of 5376 = 256 x (1 + 4 + 16)
# 10x10 map -> vector of 5376 = 256 x (1 + 4 + 16)
# 9x9 map -> vector of 5376 = 256 x (1 + 4 + 16)

# %% [markdown]
# (The window-and-stride recipe gives exactly $b$ bins for most sizes, not all: on a 7×7 map, 4 bins
# would need windows of 2 at stride 1, which gives 6. Adaptive pooling, below, splits any size.)

# %% [markdown]
# **PSPNet**'s *pyramid pooling module* takes the same pyramid into segmentation: average-pool the
# feature map into 1×1, 2×2, 3×3 and 6×6 bins (adaptive pooling), reduce each by a 1×1 convolution,
# upsample each back to the map's size and concatenate them with the map itself. Every pixel then
# carries the average of its whole image, of its quarter, of its ninth, of its 1/36th.

# %%
def pyramid_pooling(x, reducers, bins=(1, 2, 3, 6)):
    """PSPNet: for each bin count b, average-pool to b x b, 1x1 conv + ReLU, upsample; concat with x."""
    size = tuple(x.shape[-2:])
    levels = [F.interpolate(F.relu(F.conv2d(F.adaptive_avg_pool2d(x, b), w)), size=size, mode="bilinear",
                            align_corners=False) for b, w in zip(bins, reducers)]
    return F.cat([x] + levels, 1)


rng = np.random.default_rng(6)
features = ms.tensor(rng.normal(size=(1, 64, 24, 24)).astype(np.float32))
reducers = [ms.tensor(rng.normal(size=(16, 64, 1, 1)).astype(np.float32)) for _ in range(4)]
print("PSP module:", features.shape, "->", pyramid_pooling(features, reducers).shape)
check_op(F.adaptive_avg_pool2d, [demo.normal(size=(2, 3, 12, 10))], torch.nn.functional.adaptive_avg_pool2d,
         kwargs=dict(output_size=3))
print("F.adaptive_avg_pool2d == torch, forward and backward")

# %% [markdown]
# Both add multi-scale context, in different ways:
#
# | | ASPP (DeepLab v2/v3) | pyramid pooling (SPP, PSPNet) |
# |---|---|---|
# | context from | a few *samples* at fixed offsets, learned 3×3 weights | the *average* (max) of regions |
# | the regions | the same pixel offsets everywhere (equivariant) | a fixed grid: bins grow with the image |
# | scale set by | the rates, in feature pixels | the number of bins, as a fraction of the image |
#
# DeepLab v3's image-level branch is PSPNet's 1×1 bin. The picture: the input positions that one
# output pixel (red) mixes in an ASPP with rates 2, 4, 6 (dots) and in a pyramid pooling module (the
# bins that contain it, outlined).

# %% tags=["nbval-ignore-output"]
fig, (ax_aspp, ax_psp) = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained")
here = (7, 9)
for ax in (ax_aspp, ax_psp):
    ax.set_xlim(-0.5, 23.5)
    ax.set_ylim(23.5, -0.5)
    ax.set_aspect("equal")
    ax.plot(here[1], here[0], "s", color="C3", ms=9, zorder=3)
for rate, colour in zip((2, 4, 6), ("C0", "C1", "C2")):
    taps = [(here[0] + rate * i, here[1] + rate * j) for i in (-1, 0, 1) for j in (-1, 0, 1)]
    ax_aspp.plot([t[1] for t in taps], [t[0] for t in taps], "o", color=colour, label=f"rate {rate}")
ax_aspp.legend(loc="lower right", fontsize=8)
ax_aspp.set_title("ASPP: 3x3 taps at each rate", fontsize=10)
for bins, colour in zip((1, 2, 3, 6), ("C0", "C1", "C2", "C4")):
    cell = 24 / bins
    row, col = int(here[0] // cell), int(here[1] // cell)
    ax_psp.add_patch(plt.Rectangle((col * cell - 0.5, row * cell - 0.5), cell, cell, fc=colour, alpha=0.15,
                                   ec=colour, lw=2, label=f"{bins}x{bins} bins"))
ax_psp.legend(loc="lower right", fontsize=8)
ax_psp.set_title("pyramid pooling: the bins containing the pixel", fontsize=10)
plt.show()

# %% [markdown]
# ## 9. DeepLab on DigitScenes
#
# Time to train. The course's DeepLab models are the small presets of `minseg.training.presets`:
# LargeFOV on a narrow VGG with batch norm (fc6 rate 4, since its maps are only 8×8), DeepLab v3 on a
# small ResNet at output stride 8, v3+ at output stride 8 too, with its decoder. A few seconds of training
# of the v3 model on 64×64 scenes show the loss falling:

# %% tags=["nbval-ignore-output"]
from minseg.data import DigitScenes
from minseg.training import evaluate, fit, presets

class_name, config, settings = presets.preset("deeplabv3")
print(class_name, config)
scratch = models.create(class_name, num_classes=DigitScenes.num_classes, **config)
train = DigitScenes(128, split="train", seed=0)
history = fit(scratch, train, steps=40, batch_size=8, time_limit=10, **settings)
print(f"{history['steps']} steps in {history['seconds']:.1f} s: loss {history['loss'][0]:.2f} -> "
      f"{history['loss'][-1]:.2f}")

# %% tags=["nbval-ignore-output"]
fig, ax = plt.subplots(figsize=(6, 2.8), layout="constrained")
ax.plot(history["loss"])
ax.set_xlabel("step")
ax.set_ylabel("training loss")
ax.set_title("DeepLab v3 (small), the first seconds of training", fontsize=10)
plt.show()

# %% [markdown]
# ### The trained models
#
# Properly trained, for minutes rather than seconds, these models ship with the package:
# `minseg.models.pretrained.load(name)` rebuilds the preset and loads its weights, and
# `pretrained.record(name)` says how it was trained (steps, data, the command that made it). Every
# score below is computed here, from the loaded weights, on held-out validation scenes:

# %% tags=["nbval-ignore-output"]
from minseg.models import pretrained

names = ("deeplab_largefov", "deeplabv3", "deeplabv3plus")
held_out = pretrained.record("deeplabv3")["data"]["val"]  # the validation scenes the records report on
val = DigitScenes(held_out["n"], size=64, split=held_out["split"], seed=held_out["seed"])
trained = {name: pretrained.load(name) for name in names}
scores = {name: evaluate(model, val) for name, model in trained.items()}
for name in names:
    record = pretrained.record(name)
    print(f"{name}: {record['steps']} steps of batch {record['batch_size']}, {record['minutes']} minutes; "
          f"{record.get('note') or ''}")
print("made by:", pretrained.record("deeplabv3")["command"])

# %% tags=["nbval-ignore-output"]
described = {"deeplab_largefov": "DeepLab v1 LargeFOV (VGG, fc6 rate 4)",
             "deeplabv3": "DeepLab v3 (ASPP + image pooling)",
             "deeplabv3plus": "DeepLab v3+ (separable ASPP + decoder)"}
print(f"{'model':40s} {'data':26s} {'stride':>6s} {'params':>8s} {'mIoU':>6s} {'pixel acc':>9s}")
for name, model in trained.items():
    stride = model.config.get("output_stride", getattr(model, "output_stride", None))  # LargeFOV: attribute
    print(f"{described[name]:40s} {'DigitScenes val, ' + str(len(val)) + ' scenes':26s} {stride:6d} "
          f"{sum(p.data.size for p in model.parameters()):8d} {100 * scores[name]['mean_iou']:6.2f} "
          f"{100 * scores[name]['pixel_accuracy']:9.2f}")
for method, (rates, miou) in paper.items():
    label = f"paper: {method} {rates}"
    print(f"{label:40s} {'PASCAL VOC 2012 val':26s} {8:6d} {'VGG-16':>8s} {miou:6.2f} {'-':>9s}")

# %% [markdown]
# (mIoU in percent, before any CRF: the after-CRF column is the next lecture's.) The two halves of the
# table measure different things — 21 PASCAL classes on photographs with VGG-16 trained for hours,
# against 11 classes of digits on textures with networks of a few hundred thousand weights trained for
# minutes on a CPU — so compare the *orderings* and their reasons rather than the numbers. Does the
# v3 family, with its image-level context and batch norm, beat LargeFOV here as it does in the papers?
# What does v3+'s decoder add to v3 at the same output stride? Look at the predictions
# (a colour per class, black the background): where do the thin strokes of the digits survive?

# %% tags=["nbval-ignore-output"]
from minseg.training import predict
from minseg.viz.masks import colorize

picked = [0, 1, 2]
fig, axes = plt.subplots(len(picked), 2 + len(trained), figsize=(11, 2.4 * len(picked)), layout="constrained")
predictions = {name: predict(model, val.images[picked]).argmax(1) for name, model in trained.items()}
for row, index in enumerate(picked):
    panels = [(val.images[index].transpose(1, 2, 0), "image"),
              (colorize(val.masks[index], 11), "ground truth")]
    panels += [(colorize(predictions[name][row], 11), described[name].split(" (")[0]) for name in trained]
    for ax, (picture, title) in zip(axes[row], panels):
        ax.imshow(picture)
        ax.set_axis_off()
        if row == 0:
            ax.set_title(title, fontsize=9)
plt.show()

# %% [markdown]
# ### What output stride buys, measured
#
# The weights of a DeepLab v3 do not depend on its output stride (section 4): the same trained weights
# run at output stride 16 if the last stage takes its stride back and the dilations and ASPP rates are
# halved — every tap then reads the same input pixels as before, on a grid half as fine. The course's
# v3 was trained at output stride 8; evaluated at 16, its maps are 4×4 instead of 8×8 (and a quarter
# of the last stage's compute). What does the finer map buy?

# %% tags=["nbval-ignore-output"]
v3 = trained["deeplabv3"]
coarse = models.create("DeepLabV3", **{**v3.config, "output_stride": 16})
coarse.load_state_dict(v3.state_dict())
coarse.eval()
for stride, model in ((v3.config["output_stride"], v3), (16, coarse)):
    result = evaluate(model, val)
    print(f"DeepLab v3 at output stride {stride:2d}: mIoU {100 * result['mean_iou']:.2f}, "
          f"pixel accuracy {100 * result['pixel_accuracy']:.2f}")

# %% [markdown]
# The same question chose the shipped v3+'s output stride, asked of training rather than of one
# trained model: trained exactly as shipped for 2,400 steps, the preset reached mIoU 0.609 at output
# stride 8 and 0.532 at 16 (`python -m benchmarks.choice_split deeplabv3plus output_stride=16
# output_stride=8`). Those scores are on the *choice* scenes, drawn apart from the validation scenes
# of the table above, so that choosing does not flatter the table.

# %% [markdown]
# ## What to remember
#
# - A dilated (atrous) convolution spreads a $k$-tap kernel over $k + (k-1)(r-1)$ positions with $k$
#   weights: 3×3 at rate 2 sees 5×5 with 9 weights. It equals an ordinary convolution with a
#   zero-inserted kernel, without the multiplications by zero.
# - Dense extraction (dilate at full resolution) gives the sparse path's answers and fills in between.
# - Fields add up, $(k_\text{eff}-1)$ times the jump per layer; equal rates leave holes (gridding),
#   rates like 1, 2, 3 fill them.
# - Trading strides for dilation keeps every weight and the field, and makes the maps 2× or 4× larger:
#   for ResNet-18, output stride 16 costs 1.7 times the multiply-adds of 32, output stride 8 five times.
# - LargeFOV: one fc6 at rate 12. ASPP: parallel rates (S: 2–12, L: 6–24; wider is better). v3: ASPP +
#   1×1 + image-level pooling + batch norm (large rates on small maps collapse to their centre tap).
#   v3+: a decoder with stride-4 features, and depthwise-separable convolutions (8.7× fewer weights).
# - Pyramid pooling averages fixed bins of the image; ASPP samples at fixed pixel distances.
#
# ## Questions to think about
#
# 1. Rates (1, 2, 3) fill the 13×13 field; which rate triples leave no holes, and is there a rule?
#    What happens with rates (1, 2, 5) at the corners?
# 2. Output stride 8 quadruples the compute of the last two stages. Where would you spend that compute
#    instead — a larger input, a deeper decoder — and what would each buy?
# 3. ASPP-L sums four branches' scores; v3 concatenates features and projects them. What can the
#    second do that the first cannot?
# 4. A separable convolution has 8.7× fewer weights. Does it also run 8.7× faster on your laptop? What
#    else, besides multiplications, does a convolution cost?
