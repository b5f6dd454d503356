# %% [markdown]
# # Lecture 03 — Upsampling: unpooling, interpolation and transposed convolution
#
# A classification network shrinks its input: strides and poolings turn a 224×224 image into a 13×13
# grid of features. A segmentation network must give an answer at *every* pixel, so after shrinking
# it has to grow the features back. This lecture builds every way of doing that: unpooling (no
# weights), interpolation (no weights, but smooth) and the transposed convolution (learned), and
# shows how they are related — a transposed convolution is the transpose of a convolution's matrix,
# the gradient of a strided convolution, and, with the right weights, bilinear interpolation.
#
# **You will be able to**
# - upsample by nearest neighbour, bed of nails and max unpooling (with the pooling switches);
# - compute bilinear and bicubic interpolation from the formula, and say which pixel-centre
#   convention (`align_corners`) a table was made with;
# - compute a transposed convolution by hand as stamped copies of its kernel, and its output size;
# - write its matrix as the transpose of a convolution's matrix, and explain when it is (and is not)
#   an ordinary convolution;
# - explain the checkerboard artefacts of stride 2 with kernel 3, and why kernel 4 avoids them;
# - build FCN's fixed bilinear upsampling as a transposed convolution, and say where it differs from
#   `F.interpolate`.
#
# The five **Exercise** cells are graded as in the earlier lectures (see the grading note above and
# the last cell). Where an exercise rebuilds something minseg has, its check switches the library
# function off while it runs, so write it from the formula.

# %%
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg.receptive_field import receptive_field
from minseg.testing import check_op
from minseg.viz import upsampling as uviz


def show(array, digits=2):
    """Print a small array with a fixed number of decimals (and no '-0.00')."""
    print(np.array2string(np.round(np.asarray(array), digits) + 0.0, precision=digits, floatmode="fixed"))


# %% [markdown]
# ## 1. Why a segmentation network must upsample
#
# Run AlexNet's first five layers (as in torchvision: the first convolution pads by 2) over a
# 224×224 image and follow the size of the feature map:

# %% tags=["nbval-check-output"]
alexnet = [dict(name="conv1", kernel=11, stride=4, padding=2), dict(name="pool1", kernel=3, stride=2),
           dict(name="conv2", kernel=5, padding=2), dict(name="pool2", kernel=3, stride=2),
           dict(name="conv3", kernel=3, padding=1), dict(name="conv4", kernel=3, padding=1),
           dict(name="conv5", kernel=3, padding=1)]
print("input 224 -> " + " -> ".join(f"{row.name} {row.output}" for row in receptive_field(alexnet, 224)))
# Expected output:
# input 224 -> conv1 55 -> pool1 27 -> conv2 27 -> pool2 13 -> conv3 13 -> conv4 13 -> conv5 13

# %% [markdown]
# Computing everything at full resolution instead would be slow, and the receptive field of 3×3
# layers grows only by 2 per layer (lecture 02). So segmentation networks are **encoder–decoder**
# networks: the encoder downsamples (pooling, strided convolution) to see a large context cheaply,
# and the decoder upsamples — from 13×13 back to 224×224 — so that the last layer can classify each
# pixel. This lecture is about the decoder's tools.
#
# ## 2. Unpooling: upsampling without weights
#
# The simplest ideas copy each value into a 2×2 block:
# - **nearest neighbour** repeats it in all four cells (`F.interpolate(mode='nearest')`);
# - **bed of nails** puts it in the top-left cell and zeros elsewhere (`F.bed_of_nails_unpool2d`).
#
# **Max unpooling** (SegNet, DeconvNet) does better: the max pooling of the encoder remembers *where*
# each maximum was (the *switches*, `return_indices=True`), and the matching unpooling layer of the
# decoder puts each value back at that position. Here are the slides' three tables:

# %% tags=["nbval-check-output"]
small = ms.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
print("nearest neighbour:")
show(F.interpolate(small, scale_factor=2, mode="nearest").data[0, 0], 0)
print("bed of nails:")
show(F.bed_of_nails_unpool2d(small, 2).data[0, 0], 0)

encoder_input = ms.tensor(np.array([[[[1.0, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]]]))
pooled, switches = F.max_pool2d(encoder_input, 2, return_indices=True)
print("max pool:")
show(pooled.data[0, 0], 0)
print("switches (flat index of each maximum in its 4x4 plane):", switches.data[0, 0].tolist())
print("max unpooling of [[1, 2], [3, 4]] at the switches:")
show(F.max_unpool2d(small, switches, 2).data[0, 0], 0)
# Expected output:
# nearest neighbour:
# [[1. 1. 2. 2.]
#  [1. 1. 2. 2.]
#  [3. 3. 4. 4.]
#  [3. 3. 4. 4.]]
# bed of nails:
# [[1. 0. 2. 0.]
#  [0. 0. 0. 0.]
#  [3. 0. 4. 0.]
#  [0. 0. 0. 0.]]
# max pool:
# [[5. 6.]
#  [7. 8.]]
# switches (flat index of each maximum in its 4x4 plane): [[5, 2], [12, 15]]
# max unpooling of [[1, 2], [3, 4]] at the switches:
# [[0. 0. 2. 0.]
#  [0. 1. 0. 0.]
#  [0. 0. 0. 0.]
#  [3. 0. 0. 4.]]

# %% [markdown]
# The switches are flat indices into each output plane: 5 is row 1, column 1 (5 = 1·4 + 1). Bed of
# nails is max unpooling with every switch at its block's top-left corner. None of these layers has
# a weight to learn; max unpooling puts detail back where the encoder found it, which SegNet credits
# for its clean object boundaries (and it stores only the indices, not the encoder's features).
#
# **Exercise (max_unpool).** Write `max_unpool(x, indices, output_size)` in NumPy: `x` and `indices`
# have shape `(N, C, h, w)` (indices as `F.max_pool2d(..., return_indices=True)` gives them: flat
# positions in an `H × W` plane), `output_size = (H, W)`; return the `(N, C, H, W)` array with every
# value at its index and zeros elsewhere. The check switches `F.max_unpool2d` off.

# %%
def max_unpool(x, indices, output_size):
    """Place every x[n, c, i, j] at flat position indices[n, c, i, j] of a zero (H, W) plane."""
    x, indices = np.asarray(x), np.asarray(indices)
    n, c = x.shape[:2]
    height, width = output_size
    ### BEGIN SOLUTION hint: a zero array (N, C, H*W); np.put_along_axis with the indices flattened to (N, C, h*w)
    out = np.zeros((n, c, height * width), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(n, c, -1), x.reshape(n, c, -1), axis=2)
    return out.reshape(n, c, height, width)
    ### END SOLUTION


# %% grade_id="max_unpool"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable


def _torch_unpool(x, kernel):
    pooled, idx = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, return_indices=True)
    return pooled.numpy(), idx.numpy(), torch.nn.functional.max_unpool2d(pooled, idx, kernel,
                                                                          output_size=x.shape[-2:]).numpy()


_slide_in = np.array([[[[1.0, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]]]])
_, _slide_idx, _ = _torch_unpool(_slide_in, 2)
_cases = [(np.array([[[[1.0, 2], [3, 4]]]]), _slide_idx, (4, 4),
           np.array([[[[0.0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]]]]))]
_rng = np.random.default_rng(7)
for _shape, _k in (((2, 3, 6, 8), 2), ((1, 2, 9, 6), 3)):
    _pooled, _idx, _expected = _torch_unpool(_rng.normal(size=_shape), _k)
    _cases.append((_pooled, _idx, _shape[-2:], _expected))
### BEGIN HIDDEN TESTS
for _shape, _k in (((3, 1, 10, 4), 2), ((2, 2, 7, 7), 3), ((1, 1, 5, 5), 5)):
    _pooled, _idx, _expected = _torch_unpool(_rng.normal(size=_shape), _k)
    _cases.append((_pooled, _idx, _shape[-2:], _expected))
### END HIDDEN TESTS
with unavailable(F.max_unpool2d):
    for _x, _idx, _size, _expected in _cases:
        _got = np.asarray(max_unpool(_x, _idx, _size))
        assert _got.shape == _expected.shape, f"max_unpool: input {_x.shape}, output_size {_size}: expected " \
                                              f"shape {_expected.shape}, got {_got.shape}"
        np.testing.assert_allclose(_got, _expected, err_msg=f"max_unpool of x {_x.shape} at indices "
                                   f"{_idx.reshape(-1)[:6]}... (output_size {_size}) vs torch's max_unpool2d")
print("max_unpool agrees with the slide and with torch's max_unpool2d")

# %% [markdown]
# minseg's own `F.max_unpool2d` against PyTorch on a random batch, forward and gradient. The helper
# `check_op(op, inputs, torch_op, kwargs=...)` runs both libraries on the same arrays, compares the
# output and the gradient of every float input, and checks that gradient by finite differences:

# %%
rng = np.random.default_rng(0)
features = rng.normal(size=(2, 3, 8, 8))
pooled, switches = F.max_pool2d(ms.tensor(features), 2, return_indices=True)
check_op(F.max_unpool2d, [pooled.data, switches.data], torch.nn.functional.max_unpool2d,
         kwargs=dict(kernel_size=2))
print("F.max_unpool2d == torch, forward and backward")

# %% [markdown]
# ## 3. Interpolation: bilinear and bicubic
#
# Interpolation treats the input as samples of a smooth function and reads that function at the
# new pixels. **Bilinear** interpolation at a real position $(x, y)$ (pixel $(i, j)$ centred at the
# integer point $(i, j)$) weighs the neighbours with a tent that falls from 1 to 0 over one pixel:
#
# $$f(x,y) = \sum_{i,j} f(i,j)\,\max(0, 1-|x-i|)\,\max(0, 1-|y-j|)$$
#
# Only the two nearest pixels on each axis get a weight. The slides' RoI Align example reads
# $f(6.5, 5.8)$: the weights are $0.5\cdot0.2$ for the two pixels at $y = 5$ and $0.5\cdot0.8$ for the
# two at $y = 6$:

# %% tags=["nbval-check-output"]
x, y = 6.5, 5.8
for i, j in ((6, 5), (7, 5), (6, 6), (7, 6)):
    print(f"f({i},{j}) weight {max(0, 1 - abs(x - i)) * max(0, 1 - abs(y - j)):.2f}")
# Expected output:
# f(6,5) weight 0.10
# f(7,5) weight 0.10
# f(6,6) weight 0.40
# f(7,6) weight 0.40

# %% [markdown]
# To upsample we must decide *where* each output pixel sits on the input grid. Two conventions:
# - `align_corners=False` (torch's default): pixels are little squares; the centre of output pixel
#   $o$ maps to $x = (o + \tfrac12)/s - \tfrac12$ for scale $s$. For 2 → 4 that is −0.25, 0.25, 0.75,
#   1.25: the outer samples fall *outside* the first and last centres, and are clamped to the border;
# - `align_corners=True`: the corner pixels' centres coincide, $x = o\,(n_\text{in}-1)/(n_\text{out}-1)$
#   — for 2 → 4: 0, ⅓, ⅔, 1.

# %% tags=["nbval-check-output"]
print("align_corners=False:", uviz.sample_positions(2, 4, 2.0, False).round(3))
print("align_corners=True: ", uviz.sample_positions(2, 4, 2.0, True).round(3))
for corners in (False, True):
    print(f"bilinear, align_corners={corners}:")
    show(F.interpolate(small, scale_factor=2, mode="bilinear", align_corners=corners).data[0, 0])
# Expected output:
# align_corners=False: [-0.25  0.25  0.75  1.25]
# align_corners=True:  [0.    0.333 0.667 1.   ]
# bilinear, align_corners=False:
# [[1.00 1.25 1.75 2.00]
#  [1.50 1.75 2.25 2.50]
#  [2.50 2.75 3.25 3.50]
#  [3.00 3.25 3.75 4.00]]
# bilinear, align_corners=True:
# [[1.00 1.33 1.67 2.00]
#  [1.67 2.00 2.33 2.67]
#  [2.33 2.67 3.00 3.33]
#  [3.00 3.33 3.67 4.00]]

# %% [markdown]
# The slides' table (1.00 1.25 1.75 2.00 / 1.50 … / 3.00 3.25 3.75 4.00) is the `align_corners=False`
# one: its first and last rows equal the input's rows (the clamped samples) and the steps are 0.25
# and 0.5 — quarter-pixel positions. With `align_corners=True` the steps would be thirds.
#
# **Exercise (bilinear).** Write `bilinear_resize(image, size, align_corners=False)` for a 2-D array
# `image` `(h, w)` and `size = (H, W)`: place every output sample with the convention above (per
# axis, scale $s = $ output size / input size), clamp the position into $[0, n-1]$, and apply the
# formula. The check compares with the slide's table and with `F.interpolate(mode='bilinear')` on
# random inputs, with `F.interpolate` switched off.

# %%
def bilinear_resize(image, size, align_corners=False):
    """Bilinear interpolation of a 2-D array to size (H, W), as F.interpolate(mode='bilinear')."""
    image = np.asarray(image, dtype=float)
    ### BEGIN SOLUTION hint: per axis: positions, np.clip(..., 0, n - 1), tent weights max(0, 1 - |x - i|) as an (out, in) matrix W; then W_rows @ image @ W_cols.T
    def tent_matrix(n_in, n_out):
        o = np.arange(n_out)
        if align_corners:
            x = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0 * o
        else:
            x = (o + 0.5) * n_in / n_out - 0.5
        x = np.clip(x, 0, n_in - 1)
        return np.maximum(0, 1 - np.abs(x[:, None] - np.arange(n_in)[None, :]))

    rows, cols = tent_matrix(image.shape[0], size[0]), tent_matrix(image.shape[1], size[1])
    return rows @ image @ cols.T
    ### END SOLUTION


# %% grade_id="bilinear"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable


def _torch_bilinear(a, size, corners):
    return torch.nn.functional.interpolate(torch.tensor(a[None, None]), size=size, mode="bilinear",
                                           align_corners=corners).numpy()[0, 0]


_slide = np.array([[1.00, 1.25, 1.75, 2.00], [1.50, 1.75, 2.25, 2.50], [2.50, 2.75, 3.25, 3.50],
                   [3.00, 3.25, 3.75, 4.00]])
_cases = [(np.array([[1.0, 2.0], [3.0, 4.0]]), (4, 4), False, _slide)]
_rng = np.random.default_rng(8)
for _h, _w, _out_h, _out_w, _corners in ((3, 5, 6, 10, False), (4, 4, 9, 7, True), (5, 3, 5, 8, False)):
    _a = _rng.normal(size=(_h, _w))
    _cases.append((_a, (_out_h, _out_w), _corners, _torch_bilinear(_a, (_out_h, _out_w), _corners)))
### BEGIN HIDDEN TESTS
for _ in range(8):
    _h, _w, _out_h, _out_w = (int(v) for v in _rng.integers([1, 2, 1, 2], [7, 7, 15, 15]))
    _corners = bool(_rng.integers(2))
    _a = _rng.normal(size=(_h, _w))
    _cases.append((_a, (_out_h, _out_w), _corners, _torch_bilinear(_a, (_out_h, _out_w), _corners)))
### END HIDDEN TESTS
_ms_check = F.interpolate(ms.tensor(_cases[1][0][None, None]), size=(6, 10), mode="bilinear",
                          align_corners=False).data[0, 0]
np.testing.assert_allclose(_ms_check, _cases[1][3], atol=1e-12)  # the reference itself agrees with minseg
with unavailable(F.interpolate):
    for _a, _size, _corners, _expected in _cases:
        _got = np.asarray(bilinear_resize(_a, _size, align_corners=_corners))
        assert _got.shape == _expected.shape, f"bilinear_resize({_a.shape} -> {_size}): expected shape " \
                                              f"{_expected.shape}, got {_got.shape}"
        np.testing.assert_allclose(_got, _expected, atol=1e-10, err_msg=f"bilinear_resize of a {_a.shape} "
                                   f"input to {_size}, align_corners={_corners}:\ninput {np.round(_a, 3)}")
print("bilinear_resize reproduces the slide's table and F.interpolate(mode='bilinear')")

# %% [markdown]
# **Bicubic** interpolation uses four pixels per axis instead of two, weighted by the Keys cubic
# kernel with $a = -0.75$ (torch's and OpenCV's choice): $k(t) = (a+2)|t|^3-(a+3)|t|^2+1$ for
# $|t|\le 1$, $a|t|^3-5a|t|^2+8a|t|-4a$ for $1<|t|<2$, else 0. Out-of-range pixels are clamped to the
# border. The slides' table:

# %% tags=["nbval-check-output"]
show(F.interpolate(small, scale_factor=2, mode="bicubic", align_corners=False).data[0, 0])
print("weights of the first sample (x = -0.25) on the pixels of [1, 2]:", uviz.weight_matrix(2, 2.0, "bicubic", False)[0])
# Expected output:
# [[0.68 1.02 1.56 1.89]
#  [1.35 1.68 2.23 2.56]
#  [2.44 2.77 3.32 3.65]
#  [3.11 3.44 3.98 4.32]]
# weights of the first sample (x = -0.25) on the pixels of [1, 2]: [ 1.10546875 -0.10546875]

# %% [markdown]
# Why 0.68 when no input is below 1? The Keys kernel is negative for $1 < |t| < 2$: the sample at
# $x = -0.25$ gives the pixel *1.25 away* (value 2) the weight −0.105, and the three clamped copies
# of pixel 0 together +1.105. So along one axis the result is $1.105 - 0.21 = 0.895$, continuing the
# slope *past* the border, and along both axes $0.68$. Same at the other corner: 4.32 > 4. Bicubic
# is sharper than bilinear but overshoots (rings) near edges; bilinear never leaves the input's range.
#
# The widget below shows one row of an image being resized: the input pixels (squares) at their
# centres, the output samples (dots) where the chosen convention puts them, the curve they all lie
# on, and, for the chosen sample, the weights it gives to each input pixel (the matrix below: output
# = W @ input, one row per sample). Try bicubic near the border, `align_corners` (the samples move,
# the curve does not), and a scale of 1.5.

# %% tags=["nbval-ignore-output"]
explorer = uviz.InterpolationExplorer([1.0, 2.0, 4.0, 3.0])
explorer.widget()

# %% tags=["nbval-ignore-output"]
explorer.static_figure(scale_factor=2.0, sample=0)

# %% [markdown]
# minseg's `F.interpolate` against torch (both modes, both conventions, forward and backward):

# %%
images = rng.normal(size=(2, 3, 5, 7))
for mode in ("bilinear", "bicubic"):
    for corners in (False, True):
        check_op(F.interpolate, [images], torch.nn.functional.interpolate,
                 kwargs=dict(scale_factor=2.5, mode=mode, align_corners=corners))
print("F.interpolate == torch for bilinear and bicubic, forward and backward")

# %% [markdown]
# ## 4. Transposed convolution: learned upsampling
#
# A convolution with stride 2 is a *learnable downsampling*: each output is a dot product of the
# kernel with a window, and the window moves 2 input pixels per output pixel. The **transposed
# convolution** turns this around: each *input* pixel multiplies a copy of the kernel, the copy is
# added into the output, and the copies move 2 *output* pixels per input pixel, summing where they
# overlap. The slides' 1-D example, input $[a, b]$, filter $[x, y, z]$, stride 2:
# $[ax,\ ay,\ az + bx,\ by,\ bz]$. With $a, b = 1, 100$ and $x, y, z = 1, 2, 3$ every number shows
# which product it holds:

# %% tags=["nbval-check-output"]
a_b = ms.tensor(np.array([1.0, 100.0]).reshape(1, 1, 1, 2))
x_y_z = ms.tensor(np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3))  # weight (in, out, kH, kW)
print(F.conv_transpose2d(a_b, x_y_z, stride=2).data.ravel())
# Expected output:
# [  1.   2. 103. 200. 300.]

# %% [markdown]
# In 2-D (seed 004's example, stride 1) the input $[[0, 1], [2, 3]]$ and kernel $[[0, 1], [2, 3]]$
# give four stamps — $0\cdot K$, $1\cdot K$, $2\cdot K$, $3\cdot K$, each shifted by its input
# pixel's position — that add up to a 3×3 output:

# %% tags=["nbval-check-output"]
k2 = np.array([[0.0, 1.0], [2.0, 3.0]])
stamps = [v * np.pad(k2, ((i, 1 - i), (j, 1 - j))) for (i, j), v in np.ndenumerate(k2)]
for stamp in stamps:
    print(stamp.astype(int).tolist())
print("sum:", sum(stamps).astype(int).tolist())
print("F.conv_transpose2d:", F.conv_transpose2d(ms.tensor(k2[None, None]), ms.tensor(k2[None, None])).data[0, 0]
      .astype(int).tolist())
# Expected output:
# [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
# [[0, 0, 1], [0, 2, 3], [0, 0, 0]]
# [[0, 0, 0], [0, 2, 0], [4, 6, 0]]
# [[0, 0, 0], [0, 0, 3], [0, 6, 9]]
# sum: [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
# F.conv_transpose2d: [[0, 0, 1], [0, 4, 6], [4, 12, 9]]

# %% [markdown]
# The widget stamps a 3×3 input one pixel at a time (press ▶ to play) with an all-ones kernel, so the
# output simply adds up the input values that reach each pixel. Left to right: the input (current
# pixel framed), its stamp (value × kernel), the output so far, and the **overlap count** — how many
# stamps cover each output pixel. Padding $p$ trims $p$ rows and columns from every side of the full
# output (the dashed box is what `F.conv_transpose2d` returns). Try kernel 3 with stride 2 and watch
# the overlap count: a grid of 1s, 2s and 4s.

# %% tags=["nbval-ignore-output"]
stamper = uviz.TransposedConvStamps(np.array([[1.0, 2.0, 1.0], [2.0, -1.0, 3.0], [1.0, 0.0, 2.0]]))
stamper.widget()

# %% tags=["nbval-ignore-output"]
stamper.static_figure(settings=((3, 2), (4, 2)))

# %% [markdown]
# ### The output size
#
# Each of the $n$ input pixels moves the stamp by $s$, and the stamp spans $d(k-1)+1$ pixels, so the
# full output has $(n-1)s + d(k-1) + 1$ pixels; padding trims $2p$, and `output_padding` adds pixels
# back on the bottom/right:
#
# $$n_\text{out} = (n - 1)\,s - 2p + d\,(k - 1) + \text{output\_padding} + 1$$
#
# Seed 002's four pictures (all kernel 3), and seed 003's stride-2 example: 2×2 → 5×5, "trim one
# pixel from top and left to give 4×4" — that is `padding=1` (one pixel off every side) with
# `output_padding=1` (one back on the bottom and right):

# %% tags=["nbval-check-output"]
kernel3 = ms.tensor(np.ones((1, 1, 3, 3)))
for n, p, s in ((2, 0, 1), (5, 1, 1), (2, 0, 2), (3, 1, 2)):
    out = F.conv_transpose2d(ms.tensor(np.ones((1, 1, n, n))), kernel3, stride=s, padding=p)
    print(f"k3 p{p} s{s}: {n}x{n} -> {out.shape[2]}x{out.shape[3]}")
two = ms.tensor(np.arange(1.0, 5.0).reshape(1, 1, 2, 2))
full = F.conv_transpose2d(two, kernel3, stride=2).data[0, 0]
trimmed = F.conv_transpose2d(two, kernel3, stride=2, padding=1, output_padding=1).data[0, 0]
print("full", full.shape, "-> padding 1 + output_padding 1:", trimmed.shape,
      "= the full output without its top row and left column:", np.array_equal(trimmed, full[1:, 1:]))
# Expected output:
# k3 p0 s1: 2x2 -> 4x4
# k3 p1 s1: 5x5 -> 5x5
# k3 p0 s2: 2x2 -> 5x5
# k3 p1 s2: 3x3 -> 5x5
# full (5, 5) -> padding 1 + output_padding 1: (4, 4) = the full output without its top row and left column: True

# %% [markdown]
# Why `output_padding`? With stride 2 a convolution maps *both* 5 and 6 pixels (kernel 3, padding 1)
# to 3; its transpose cannot know which size you came from, returns the smaller one, and
# `output_padding` (less than the stride) picks the larger.
#
# **Exercise (transposed_size).** Write `conv_transpose_output_size(n, kernel_size, stride=1,
# padding=0, output_padding=0, dilation=1)`.

# %%
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Length of a transposed convolution's output along one axis of length n."""
    ### BEGIN SOLUTION hint: the formula above
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    ### END SOLUTION


# %% grade_id="transposed_size"
import numpy as np
import torch

for _n, _p, _s, _expected in ((2, 0, 1, 4), (5, 1, 1, 5), (2, 0, 2, 5), (3, 1, 2, 5)):
    _got = conv_transpose_output_size(_n, 3, stride=_s, padding=_p)
    assert _got == _expected, f"seed 002: kernel 3, padding {_p}, stride {_s}, input {_n}: expected {_expected}, got {_got}"
_got = conv_transpose_output_size(2, 3, stride=2, padding=1, output_padding=1)
assert _got == 4, f"seed 003: 2 -> 5, trimmed top/left (padding 1, output_padding 1): expected 4, got {_got}"
_rng = np.random.default_rng(9)
_trials = 6
### BEGIN HIDDEN TESTS
_trials = 40
### END HIDDEN TESTS
for _ in range(_trials):
    _n, _k, _s, _p, _d = (int(v) for v in _rng.integers([1, 1, 1, 0, 1], [9, 6, 4, 3, 4]))
    _op = int(_rng.integers(0, _s))
    if (_n - 1) * _s - 2 * _p + _d * (_k - 1) + _op + 1 < 1:
        continue
    _expected = torch.nn.functional.conv_transpose2d(torch.zeros(1, 1, _n, 1), torch.zeros(1, 1, _k, 1),
                                                     stride=(_s, 1), padding=(_p, 0), output_padding=(_op, 0),
                                                     dilation=(_d, 1)).shape[2]
    _got = conv_transpose_output_size(_n, _k, _s, _p, _op, _d)
    assert _got == _expected, f"n={_n}, kernel_size={_k}, stride={_s}, padding={_p}, output_padding={_op}, " \
                              f"dilation={_d}: expected {_expected} (torch), got {_got}"
print("conv_transpose_output_size agrees with the slides and with torch")

# %% [markdown]
# **Exercise (conv_transpose_scatter).** Write `conv_transpose2d_scatter(x, weight, stride=1,
# padding=0, output_padding=0)` in NumPy by stamping: `x` is `(N, C_in, h, w)`, `weight` is
# `(C_in, C_out, kH, kW)` (torch's layout for transposed convolutions). Input pixel $(i, j)$ of
# channel $c$ adds `x[n, c, i, j] * weight[c]` (a `(C_out, kH, kW)` block) into the full output at
# rows $is \ldots is + k_H - 1$ and columns $js \ldots js + k_W - 1$; then drop $p$ rows/columns
# from the top/left and keep the output size of the formula. The check switches off
# `F.conv_transpose2d`, `F.conv2d`, `F.fold` and `F.conv_matrix`.

# %%
def conv_transpose2d_scatter(x, weight, stride=1, padding=0, output_padding=0):
    """Transposed convolution (no bias) of (N, C_in, h, w) with weight (C_in, C_out, kH, kW)."""
    x, weight = np.asarray(x, dtype=float), np.asarray(weight, dtype=float)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    s, p, op = stride, padding, output_padding
    ### BEGIN SOLUTION hint: full = zeros (N, C_out, (h-1)s + kH + op, (w-1)s + kW + op); add np.einsum('nc,cokl->nokl', x[:, :, i, j], weight) at each (i, j); crop [p : p + size]
    full = np.zeros((n, c_out, (h - 1) * s + kh + op, (w - 1) * s + kw + op))
    for i in range(h):
        for j in range(w):
            # out[n, o, i*s + a, j*s + b] += sum_c x[n, c, i, j] * weight[c, o, a, b]
            full[:, :, i * s:i * s + kh, j * s:j * s + kw] += np.einsum("nc,cokl->nokl", x[:, :, i, j], weight)
    out_h, out_w = (h - 1) * s - 2 * p + kh + op, (w - 1) * s - 2 * p + kw + op
    return full[:, :, p:p + out_h, p:p + out_w]
    ### END SOLUTION


# %% grade_id="conv_transpose_scatter"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable


def _torch_transposed(x, w, s, p, op):
    return torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=s, padding=p,
                                                output_padding=op).numpy()


_k2 = np.array([[[[0.0, 1.0], [2.0, 3.0]]]])
_cases = [(_k2, _k2, 1, 0, 0, np.array([[[[0.0, 0, 1], [0, 4, 6], [4, 12, 9]]]])),  # seed 004
          (np.array([[[[1.0, 100.0]]]]), np.array([[[[1.0, 2.0, 3.0]]]]), 2, 0, 0,
           np.array([[[[1.0, 2.0, 103.0, 200.0, 300.0]]]]))]  # the 1-D slide, [a, b] * [x, y, z]
_rng = np.random.default_rng(10)
for _s, _p, _op, _kh, _kw in ((2, 0, 0, 3, 3), (2, 1, 1, 3, 3), (3, 1, 0, 4, 2)):
    _x, _w = _rng.normal(size=(2, 3, 4, 5)), _rng.normal(size=(3, 2, _kh, _kw))
    _cases.append((_x, _w, _s, _p, _op, _torch_transposed(_x, _w, _s, _p, _op)))
### BEGIN HIDDEN TESTS
for _ in range(8):
    _s, _p, _kh, _kw = (int(v) for v in _rng.integers([1, 0, 1, 1], [4, 3, 5, 5]))
    _op = int(_rng.integers(0, _s))
    _x, _w = _rng.normal(size=(1, 2, 3, 4)), _rng.normal(size=(2, 3, _kh, _kw))
    if min(2 * _s - 2 * _p + _kh + _op, 3 * _s - 2 * _p + _kw + _op) >= 1:
        _cases.append((_x, _w, _s, _p, _op, _torch_transposed(_x, _w, _s, _p, _op)))
### END HIDDEN TESTS
with unavailable(F.conv_transpose2d, F.conv2d, F.fold, F.conv_matrix):
    for _x, _w, _s, _p, _op, _expected in _cases:
        _got = np.asarray(conv_transpose2d_scatter(_x, _w, stride=_s, padding=_p, output_padding=_op))
        _setting = f"x {_x.shape}, weight {_w.shape}, stride {_s}, padding {_p}, output_padding {_op}"
        assert _got.shape == _expected.shape, f"{_setting}: expected shape {_expected.shape}, got {_got.shape}"
        np.testing.assert_allclose(_got, _expected, atol=1e-10, err_msg=f"{_setting} vs torch's conv_transpose2d")
print("conv_transpose2d_scatter agrees with the slides and with torch's conv_transpose2d")

# %% [markdown]
# minseg's `F.conv_transpose2d` (which computes the stamps as one matrix product and a `fold`) against
# torch, with bias, stride, padding and output padding, forward and all three gradients:

# %%
inputs, weights, bias = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(3, 4, 3, 3)), rng.normal(size=4)
check_op(F.conv_transpose2d, [inputs, weights, bias], torch.nn.functional.conv_transpose2d,
         kwargs=dict(stride=2, padding=1, output_padding=1))
print("F.conv_transpose2d == torch, forward and backward")

# %% [markdown]
# ## 5. Why "transposed": the transpose of the convolution's matrix
#
# Lecture 02 wrote a convolution as a matrix: `conv(x).ravel() == M @ x.ravel()`. The transposed
# convolution with the same kernel multiplies by $M^\top$: it maps the convolution's *output* space
# back to its *input* space. The slides' 1-D kernel $[x, y, z] = [1, 2, 3]$ over 4 pixels with
# padding 1, at stride 1 and stride 2:

# %% tags=["nbval-check-output"]
xyz = np.array([1.0, 2.0, 3.0])
M1 = F.conv_matrix(xyz, 4, stride=1, padding=1)
M2 = F.conv_matrix(xyz, 4, stride=2, padding=1)
print("stride 1, M.T:")
print(M1.T.astype(int))
print("stride 2, M.T:")
print(M2.T.astype(int))
signal = np.array([1.0, 100.0])
same = F.conv_transpose2d(ms.tensor(signal.reshape(1, 1, 1, 2)), ms.tensor(xyz.reshape(1, 1, 1, 3)),
                          stride=2, padding=(0, 1), output_padding=(0, 1)).data.ravel()
print("M.T @ [1, 100] =", M2.T @ signal, "  conv_transpose2d:", same)
# Expected output:
# stride 1, M.T:
# [[2 1 0 0]
#  [3 2 1 0]
#  [0 3 2 1]
#  [0 0 3 2]]
# stride 2, M.T:
# [[2 0]
#  [3 1]
#  [0 2]
#  [0 3]]
# M.T @ [1, 100] = [  2. 103. 200. 300.]   conv_transpose2d: [  2. 103. 200. 300.]

# %% [markdown]
# (The slides write the padding zeros as extra entries of the input; they multiply zeros, so here
# they are dropped: the rows are the slides' $ay,\ az + bx,\ by,\ bz$.)
#
# At **stride 1**, $M^\top$ is again a band with the same kernel on every row, only *flipped*
# ($[3, 2, 1]$ instead of $[1, 2, 3]$): the transposed convolution is an ordinary convolution with
# the flipped kernel (and padding $k - 1 - p$). At **stride 2** it is not: the rows alternate between
# two patterns ($[2, 0]$, then $[3, 1]$) instead of shifting one kernel along — no single
# convolution has that matrix. It *is* an ordinary convolution on a different input: insert $s - 1$
# zeros between the input pixels (bed of nails, without the trailing zeros), pad by $k - 1 - p$, and
# convolve with the flipped kernel (in and out channels swapped). Shown equal on random data:

# %%
def transposed_by_zero_insertion(x, weight, stride, padding):
    """conv_transpose2d as an ordinary conv2d: zeros between the pixels, pad k-1-p, flipped kernel."""
    n, c, h, w = x.shape
    k = weight.shape[-1]
    spread = F.bed_of_nails_unpool2d(ms.tensor(x), stride).data[..., :(h - 1) * stride + 1, :(w - 1) * stride + 1]
    border = k - 1 - padding
    padded = np.pad(spread, ((0, 0), (0, 0), (border, border), (border, border)))
    flipped = np.flip(weight, axis=(2, 3)).transpose(1, 0, 2, 3).copy()  # (out, in, k, k) for conv2d
    return F.conv2d(ms.tensor(padded), ms.tensor(flipped)).data


for stride, padding in ((1, 0), (2, 0), (2, 1), (3, 2)):
    a, w = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(3, 5, 3, 3))
    direct = F.conv_transpose2d(ms.tensor(a), ms.tensor(w), stride=stride, padding=padding).data
    print(f"stride {stride}, padding {padding}: zero insertion + conv2d equal:",
          np.allclose(transposed_by_zero_insertion(a, w, stride, padding), direct))

# %% [markdown]
# That is where the names *fractionally strided convolution* (a stride of 1/2 over the input) and
# *backward strided convolution* come from. "Deconvolution" is a bad name: it does not undo a
# convolution ($M^\top$ is not $M^{-1}$).
#
# **Exercise (transposed_matrix).** Write `conv_transpose_matrix(kernel, input_size, stride=1,
# padding=0, output_padding=0)` for a 2-D `kernel` `(kH, kW)` and `input_size = (h, w)` (the
# transposed convolution's input); `stride`, `padding` and `output_padding` are ints or `(rows, cols)`
# pairs (use `pair`). Return the matrix $T$ with `conv_transpose2d(x).ravel() == T @ x.ravel()`, built
# from `F.conv_matrix` of the convolution that goes the other way (from the output size back to
# `(h, w)`; compute that size inside your function). The check switches `F.conv_transpose2d` off.

# %%
def pair(v):
    """An int or a pair as a pair."""
    return (v, v) if np.ndim(v) == 0 else tuple(v)


def conv_transpose_matrix(kernel, input_size, stride=1, padding=0, output_padding=0):
    """The (H*W, h*w) matrix T of the transposed convolution of an (h, w) input with ``kernel``."""
    kernel = np.asarray(kernel, dtype=float)
    (kh, kw), (h, w) = kernel.shape, input_size
    (sh, sw), (ph, pw), (oph, opw) = pair(stride), pair(padding), pair(output_padding)
    ### BEGIN SOLUTION hint: H = (h - 1) sh - 2 ph + kh + oph (same for W); then F.conv_matrix(kernel, (H, W), ...).T
    out_h, out_w = (h - 1) * sh - 2 * ph + kh + oph, (w - 1) * sw - 2 * pw + kw + opw
    return F.conv_matrix(kernel, (out_h, out_w), stride=(sh, sw), padding=(ph, pw)).T
    ### END SOLUTION


# %% grade_id="transposed_matrix"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable

_cases = [(np.array([[1.0, 2.0, 3.0]]), (1, 4), (1, 1), (0, 1), (0, 0),
           np.array([[2.0, 1, 0, 0], [3, 2, 1, 0], [0, 3, 2, 1], [0, 0, 3, 2]])),  # the slides, stride 1
          (np.array([[1.0, 2.0, 3.0]]), (1, 2), (1, 2), (0, 1), (0, 1),
           np.array([[2.0, 0], [3, 1], [0, 2], [0, 3]]))]  # the slides, stride 2
_rng = np.random.default_rng(11)
_settings = [((3, 3), (3, 4), 2, 1, 1), ((2, 3), (2, 3), 1, 0, 0), ((3, 2), (4, 3), (2, 3), (1, 0), (1, 2))]
### BEGIN HIDDEN TESTS
_settings += [((4, 4), (2, 2), 2, 1, 0), ((1, 3), (3, 3), 3, 0, 2), ((3, 3), (3, 3), (1, 2), (1, 1), (0, 1))]
### END HIDDEN TESTS
for _ksize, _size, _s, _p, _op in _settings:
    _kern = _rng.normal(size=_ksize)
    _x = _rng.normal(size=_size)
    _y = torch.nn.functional.conv_transpose2d(torch.tensor(_x[None, None]), torch.tensor(_kern[None, None]),
                                              stride=_s, padding=_p, output_padding=_op).numpy()[0, 0]
    _y_ms = F.conv_transpose2d(ms.tensor(_x[None, None]), ms.tensor(_kern[None, None]), stride=_s, padding=_p,
                               output_padding=_op).data[0, 0]
    np.testing.assert_allclose(_y_ms, _y, atol=1e-12)
    _cases.append((_kern, _size, _s, _p, _op, (_x, _y)))
with unavailable(F.conv_transpose2d):
    for _kern, _size, _s, _p, _op, _expected in _cases:
        _setting = f"kernel {_kern.shape}, input_size {_size}, stride {_s}, padding {_p}, output_padding {_op}"
        _got = np.asarray(conv_transpose_matrix(_kern, _size, stride=_s, padding=_p, output_padding=_op))
        if isinstance(_expected, tuple):  # random case: T @ x must be torch's conv_transpose2d(x)
            _x, _y = _expected
            assert _got.shape == (_y.size, _x.size), f"{_setting}: expected a {_y.size}x{_x.size} matrix " \
                                                     f"(output {_y.shape} x input {_x.shape}), got {_got.shape}"
            np.testing.assert_allclose(_got @ _x.ravel(), _y.ravel(), atol=1e-10,
                                       err_msg=f"{_setting}: T @ x vs torch's conv_transpose2d(x)")
        else:
            np.testing.assert_allclose(_got, _expected, err_msg=f"{_setting}: the slides' matrix")
print("conv_transpose_matrix reproduces the slides' matrices and torch's conv_transpose2d")

# %% [markdown]
# ## 6. Checkerboard artefacts
#
# Look again at the overlap count in the widget: with kernel 3 and stride 2, neighbouring stamps
# overlap by one pixel, so every other output pixel receives two stamps and the rest one. Even with
# a constant input and a constant kernel the output is uneven — a **checkerboard** that a trained
# network has to fight against. With kernel 4 and stride 2 (the kernel a multiple of the stride)
# every interior pixel gets exactly two stamps. One row of the count, six input pixels:

# %% tags=["nbval-check-output"]
for k in (3, 4):
    count = F.conv_transpose2d(ms.tensor(np.ones((1, 1, 1, 6))), ms.tensor(np.ones((1, 1, 1, k))), stride=2)
    print(f"kernel {k}, stride 2, stamps per output pixel:", count.data.ravel().astype(int))
# Expected output:
# kernel 3, stride 2, stamps per output pixel: [1 1 2 1 2 1 2 1 2 1 2 1 1]
# kernel 4, stride 2, stamps per output pixel: [1 1 2 2 2 2 2 2 2 2 2 2 1 1]

# %% [markdown]
# The same pattern appears in the **gradient** of a strided convolution, because that gradient *is*
# a transposed convolution: $y = Mx$ gives $\partial L/\partial x = M^\top\,\partial L/\partial y$.
# For the six windows of a stride-2 convolution with an all-ones kernel and $L = \sum y$, the gradient
# counts how many windows read each input pixel — kernel 3 again gives uneven 1s and 2s (some pixels
# influence the loss twice as much as their neighbours); kernel 4 does not:

# %% tags=["nbval-check-output"]
for k in (3, 4):
    line = ms.tensor(np.zeros((1, 1, 1, 10 + k)), requires_grad=True)  # exactly 6 windows at stride 2
    F.conv2d(line, ms.tensor(np.ones((1, 1, 1, k))), stride=2).sum().backward()
    print(f"kernel {k}, stride 2, gradient of the sum:", line.grad.ravel().astype(int))
# Expected output:
# kernel 3, stride 2, gradient of the sum: [1 1 2 1 2 1 2 1 2 1 2 1 1]
# kernel 4, stride 2, gradient of the sum: [1 1 2 2 2 2 2 2 2 2 2 2 1 1]

# %% [markdown]
# And with any upstream gradient $g$, autograd's gradient of a strided convolution equals the
# transposed convolution of $g$ with the same weight (`output_padding` recovers the input size):

# %%
a = ms.tensor(rng.normal(size=(1, 2, 9, 8)), requires_grad=True)
w = ms.tensor(rng.normal(size=(3, 2, 3, 3)))
out = F.conv2d(a, w, stride=2, padding=1)  # 9x8 -> 5x4
g = rng.normal(size=out.shape)
out.backward(g)
as_transposed = F.conv_transpose2d(ms.tensor(g), w, stride=2, padding=1, output_padding=(0, 1)).data
print("input gradient", a.grad.shape, "== conv_transpose2d(g, weight):", np.allclose(a.grad, as_transposed))

# %% [markdown]
# So a transposed convolution is what the backward pass of a strided convolution computes; minseg's
# `F.conv_transpose2d` and `F.conv2d`'s backward share the same code.
#
# ## 7. FCN's upsampling: bilinear interpolation as a transposed convolution
#
# FCN upsamples its coarse class scores with transposed convolutions *initialised to bilinear
# interpolation* (and, in the final layer, kept fixed). For a factor $s$ the kernel has size $2s$,
# stride $s$ and padding $s/2$, and its taps fall off linearly from the centre —
# `nn.bilinear_kernel(4)` for $s = 2$ is the outer product of $[0.25, 0.75, 0.75, 0.25]$ with itself:

# %% tags=["nbval-check-output"]
print(nn.bilinear_kernel(4))
upsample = nn.bilinear_init_(nn.ConvTranspose2d(1, 1, kernel_size=4, stride=2, padding=1, bias=False))
print(upsample)
# Expected output:
# [[0.0625 0.1875 0.1875 0.0625]
#  [0.1875 0.5625 0.5625 0.1875]
#  [0.1875 0.5625 0.5625 0.1875]
#  [0.0625 0.1875 0.1875 0.0625]]
# ConvTranspose2d(1, 1, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)

# %% [markdown]
# Each output pixel gets two stamps per axis with weights 0.75 and 0.25 — exactly bilinear
# interpolation with `align_corners=False`, whose samples sit at quarter-pixel offsets. But compare
# the two on a random 5×5 map:

# %% tags=["nbval-check-output"]
coarse = ms.tensor(rng.normal(size=(1, 1, 5, 5)).astype(np.float32))  # the layer's weights are float32
by_transposed = upsample(coarse).data[0, 0]
by_interpolate = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False).data[0, 0]
differ = ~np.isclose(by_transposed, by_interpolate, atol=1e-6)
print("pixels that differ (1):")
print(differ.astype(int))
print("upsampling a constant 1 with the transposed convolution:")
print(upsample(ms.tensor(np.ones((1, 1, 3, 3), np.float32))).data[0, 0])
# Expected output:
# pixels that differ (1):
# [[1 1 1 1 1 1 1 1 1 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 0 0 0 0 0 0 0 0 1]
#  [1 1 1 1 1 1 1 1 1 1]]
# upsampling a constant 1 with the transposed convolution:
# [[0.5625 0.75   0.75   0.75   0.75   0.5625]
#  [0.75   1.     1.     1.     1.     0.75  ]
#  [0.75   1.     1.     1.     1.     0.75  ]
#  [0.75   1.     1.     1.     1.     0.75  ]
#  [0.75   1.     1.     1.     1.     0.75  ]
#  [0.5625 0.75   0.75   0.75   0.75   0.5625]]

# %% [markdown]
# A 3×3 input becomes 6×6; every interior pixel is right, but the outermost ring is not. At the border an output pixel should get its 0.25 share from a neighbour *outside* the
# image; the transposed convolution has none (the input is implicitly zero there), so it only collects
# 0.75 (0.75² = 0.5625 in the corners). `F.interpolate` instead clamps the position to the border,
# which amounts to repeating the edge pixel. Replicating the edge by one pixel first and trimming
# the extra output afterwards makes the two equal everywhere:

# %%
replicated = F.pad(coarse, (1, 1, 1, 1), mode="replicate")
fixed = upsample(replicated).data[0, 0, 2:-2, 2:-2]
print("replicate-pad, transposed conv, trim 2:", fixed.shape, "equal to F.interpolate everywhere:",
      np.allclose(fixed, by_interpolate, atol=1e-6))

# %% [markdown]
# In a network the border error is small and the learned layers compensate; but it is why a
# segmentation network's predictions are often slightly off along the image border, and why many
# decoders (DeepLab) simply call `F.interpolate`.
#
# As layers: `nn.ConvTranspose2d(in, out, kernel_size, stride, padding, output_padding)` holds a
# learnable weight `(in, out, k, k)`; `nn.Upsample(scale_factor, mode)` and `nn.MaxUnpool2d` have
# none.
#
# ## What to remember
#
# - Encoders shrink (224 → 13); decoders must grow back to one answer per pixel.
# - Unpooling has no weights: nearest copies, bed of nails puts the value in a corner, max unpooling
#   puts it back where the encoder's max pooling found it (the switches).
# - Bilinear: $f(x,y) = \sum f(i,j)\max(0,1-|x-i|)\max(0,1-|y-j|)$; where the samples sit depends on
#   `align_corners` (False: $(o+\frac12)/s-\frac12$, the slides' table). Bicubic uses 4 taps with
#   negative lobes and overshoots at edges.
# - A transposed convolution stamps a weighted copy of the kernel per input pixel, at stride
#   spacing; output size $(n-1)s - 2p + d(k-1) + \text{output\_padding} + 1$.
# - Its matrix is the convolution's matrix transposed; it is the gradient of a strided convolution.
#   At stride 1 it is a convolution with the flipped kernel; at stride $s>1$ a convolution of the
#   zero-inserted input.
# - Kernel size not divisible by the stride (3 with stride 2) gives uneven overlaps: checkerboards,
#   in the output and in the gradient.
# - FCN's bilinear transposed convolution equals `F.interpolate` inside the image, not on its border
#   ring (zeros outside vs clamping).
#
# ## Questions to think about
#
# 1. Max unpooling needs the encoder's switches. What does that imply for the memory of a SegNet-like
#    network, and what would happen if you unpooled with the switches of a *different* image?
# 2. A transposed convolution with kernel 4, stride 2 has no checkerboard in its overlap count. Can a
#    trained one still produce checkerboards? (Think of the four sub-kernels that feed the even/odd
#    output pixels.)
# 3. "Resize with `F.interpolate`, then an ordinary 3×3 convolution" is a popular alternative to a
#    transposed convolution. Write both as matrices: how do they differ?
# 4. Why might `align_corners=True` be preferred when a network's input size is $2^k + 1$ (e.g. 513 in
#    DeepLab)?
