# %% [markdown]
# # Lecture 02 — Convolution is a matrix multiplication
#
# A segmentation network must give an answer at every pixel, and each answer needs context: a pixel
# alone cannot tell a '1' from a '7'. This lecture shows why we do not classify one window at a time,
# how a convolution computes all windows at once, and that every convolution is, underneath, a single
# matrix multiplication — the fact that the fast implementations (and transposed convolutions, later)
# are built on.
#
# **You will be able to**
# - explain what a sliding-window classifier recomputes, and what a fully convolutional one saves;
# - write the matrix of a 1-D and a 2-D convolution, and lay out windows as columns (im2col);
# - compute the output size for any kernel, stride, padding and dilation;
# - compute a convolution as `unfold` + one matrix product, with gradients;
# - state the receptive field of a stack of 3×3 layers ($1 + 2L$) and of a dilated stack;
# - turn a fully connected classifier into a convolution that outputs a heat map.
#
# The four **Exercise** cells are graded as in lecture 01, each on its own: the last three need
# `conv_output_size`, so their checks lend your functions the course's own output size while they run
# (`course.checks.lend`), and one mistake costs one exercise. Each check compares your function with
# minseg's `F.unfold`, `F.conv2d` or `F.conv_matrix` and with PyTorch, and makes the minseg function
# you are rebuilding unavailable (calling it raises) while your code runs.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minseg as ms
import minseg.functional as F
from minseg.data import digit_samples
from minseg.viz import convolution as cviz

# %% [markdown]
# ## 1. Sliding window versus fully convolutional
#
# The first idea for dense prediction: cut a patch around every pixel and run a classifier on it.
# For an $H\times W$ image that is $H\cdot W$ patches, and neighbouring patches overlap almost
# entirely — yet every patch recomputes its features from scratch.
#
# Take a tiny two-layer "network" (two 3×3 convolutions with a ReLU) that scores the centre of a 5×5
# patch. The sliding window runs it on all patches; the fully convolutional version runs it once on
# the whole (zero-padded) image. The answers are identical:

# %%
rng = np.random.default_rng(0)
w1, b1 = ms.tensor(rng.normal(size=(4, 1, 3, 3))), ms.tensor(rng.normal(size=4))
w2 = ms.tensor(rng.normal(size=(1, 4, 3, 3)))


def tiny_net(x):
    """Two valid 3x3 convolutions: a 5x5 input gives one score, an (H+4)x(W+4) input gives HxW."""
    return F.conv2d(F.relu(F.conv2d(x, w1, b1)), w2)


digits, labels = digit_samples("val")
digits = digits.astype(np.float64)  # float64 throughout this notebook, so the checks can be exact
image = np.kron(digits[0], np.ones((4, 4)))  # one digit, 32x32
H, W = image.shape
padded = ms.tensor(np.pad(image, 2)[None, None])

patches = F.unfold(padded, 5).data[0].T.reshape(H * W, 1, 5, 5)  # every 5x5 window: H*W patches
sliding = tiny_net(ms.tensor(patches)).data.reshape(H, W)
dense = tiny_net(padded).data[0, 0]
print("same answer:", np.allclose(sliding, dense))
print(f"first-layer 3x3 windows computed: sliding {H * W * 9}, fully convolutional {(H + 2) * (W + 2)}")

# %% [markdown]
# Each first-layer feature is shared by the 9 patches that overlap it: the sliding window computes it
# 9 times. With deeper networks and bigger patches the waste grows with the patch area. A network made
# only of convolutions (a *fully convolutional* network) makes predictions for all pixels at once.
#
# ## 2. A convolution is a matrix
#
# The slides' 1-D example: kernel $[x, y, z]$, input $[a, b, c, d]$, stride 1, padding 1. Every output
# is a dot product of the kernel with a window, so the whole output is one matrix times the input —
# the kernel copied along the diagonal (deep-learning "convolution" does not flip the kernel):
#
# $$\begin{bmatrix} y & z & 0 & 0\\ x & y & z & 0\\ 0 & x & y & z\\ 0 & 0 & x & y\end{bmatrix}
# \begin{bmatrix}a\\b\\c\\d\end{bmatrix} = \begin{bmatrix}ay+bz\\ax+by+cz\\bx+cy+dz\\cx+dy\end{bmatrix}$$
#
# (the slides also show the padding zeros as two extra columns; they multiply zeros, so we drop them).
# With $x, y, z = 1, 2, 3$ and $a, b, c, d = 1, 10, 100, 1000$ every digit of the result tells which
# kernel weight met which input:

# %% tags=["nbval-check-output"]
kernel_1d = np.array([1.0, 2.0, 3.0])
signal = np.array([1.0, 10.0, 100.0, 1000.0])
M = F.conv_matrix(kernel_1d, 4, stride=1, padding=1)
print(M.astype(int))
print("M @ input =", (M @ signal).astype(int))
M2 = F.conv_matrix(kernel_1d, 4, stride=2, padding=1)
print("stride 2 keeps every other row:", (M2 @ signal).astype(int))
# Expected output:
# [[2 3 0 0]
#  [1 2 3 0]
#  [0 1 2 3]
#  [0 0 1 2]]
# M @ input = [  32  321 3210 2100]
# stride 2 keeps every other row: [  32 3210]

# %% [markdown]
# The matrix is mostly zeros (a band), so nobody multiplies by it in practice; but it is the right
# mental model: a convolution is a *linear map with shared, local weights*. Its transpose, $M^\top$,
# is the transposed convolution used for upsampling in a later lecture.
#
# ## 3. Stride, padding, dilation, and the size of the output
#
# - **padding** $p$ adds $p$ zeros on each side;
# - **stride** $s$ moves the window $s$ pixels at a time (a learnable downsampling);
# - **dilation** $d$ spreads the kernel's taps $d$ pixels apart (atrous convolution: a $k$-tap
#   kernel then spans $d(k-1)+1$ pixels without more weights).
#
# Counting the window positions that fit gives the output size along one axis:
#
# $$n_\text{out} = \left\lfloor \frac{n + 2p - d(k-1) - 1}{s} \right\rfloor + 1$$
#
# **Exercise (output_size).** Write `conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1)`
# from the formula (minseg's own output-size helpers are unavailable while the check runs).

# %%
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """Length of a convolution's output along one axis of length n."""
    ### BEGIN SOLUTION hint: the formula above; the dilated kernel spans dilation * (kernel_size - 1) + 1
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    ### END SOLUTION


# %% grade_id="output_size"
import numpy as np

import minseg as ms
import minseg.functional as F
from minseg.functional.conv import geometry as _conv_geometry
from minseg.functional.pool import geometry as _pool_geometry
from minseg.testing import unavailable
from minseg.viz import convolution as _cviz

_table = [  # AlexNet, as listed on the slides (the 224x224 input only gives 55 if read as 227, see below)
    ((227, 11), dict(stride=4), 55, "CONV1: 96 11x11 filters at stride 4, pad 0"),
    ((55, 3), dict(stride=2), 27, "POOL1: 3x3 at stride 2"),
    ((27, 5), dict(padding=2), 27, "CONV2: 5x5 at stride 1, pad 2"),
    ((27, 3), dict(stride=2), 13, "POOL2"),
    ((13, 3), dict(padding=1), 13, "CONV3-5: 3x3, pad 1"),
    ((13, 3), dict(stride=2), 6, "POOL3"),
    ((7, 3), dict(dilation=2), 3, "a 3-tap kernel with dilation 2 spans 5"),
    ((5, 3), dict(stride=2, padding=1), 3, "stride 2 and padding 1"),
]
_rng = np.random.default_rng(1)
for _ in range(50):
    _n, _k, _s, _p, _d = (int(v) for v in _rng.integers([1, 1, 1, 0, 1], [12, 5, 4, 3, 4]))
    if _n + 2 * _p >= _d * (_k - 1) + 1:
        _cols = F.unfold(ms.tensor(np.zeros((1, 1, _n, 1))), (_k, 1), dilation=(_d, 1), padding=(_p, 0),
                         stride=(_s, 1))
        _table.append(((_n, _k, _s, _p, _d), {}, _cols.shape[2], "as many windows as F.unfold finds"))
### BEGIN HIDDEN TESTS
_table += [((1000, 7), dict(stride=3, padding=3, dilation=2), 332, "hidden"),
           ((10, 10), {}, 1, "hidden: the kernel fills the input"), ((9, 2), dict(stride=8), 1, "hidden")]
### END HIDDEN TESTS
with unavailable(_conv_geometry.conv_out_size, _pool_geometry.pool_output_size, _cviz.out_size):
    for _args, _kwargs, _expected, _what in _table:
        _call = ", ".join([str(a) for a in _args] + [f"{k}={v}" for k, v in _kwargs.items()])
        _got = conv_output_size(*_args, **_kwargs)
        assert _got == _expected, f"conv_output_size({_call}) should be {_expected} ({_what}), got {_got!r}"
print("conv_output_size agrees with the AlexNet table and with F.unfold")

# %% [markdown]
# A puzzle from the slides: AlexNet's table says `[224x224x3] INPUT`, then `[55x55x96] CONV1` with
# 11×11 filters at stride 4 and no padding. The formula disagrees:

# %% tags=["nbval-check-output"]
print("224 ->", cviz.out_size(224, 11, 4, 0, 1), "  227 ->", cviz.out_size(227, 11, 4, 0, 1))
# Expected output:
# 224 -> 54   227 -> 55

# %% [markdown]
# The original network was in fact fed 227×227 crops (or, equivalently, padded): always check sizes
# with the formula rather than trusting a table.
#
# ## 4. im2col: every window becomes a column
#
# In 2-D (and with channels) the trick is the same. Lay out the input values under the window of
# output pixel $\ell$ as column $\ell$ of a matrix — the **im2col** (`unfold`) matrix, of shape
# $(C\,k_h k_w) \times (h_\text{out} w_\text{out})$, rows ordered by channel, then kernel row, then
# kernel column. A 4×4 image and a 3×3 window give 4 columns of 9:

# %%
x_small = np.arange(16.0).reshape(1, 1, 4, 4)
print(x_small[0, 0])
print(F.unfold(ms.tensor(x_small), 3).data[0])

# %% [markdown]
# **Exercise (im2col).** Write `im2col(x, kernel_size, stride=1, padding=0, dilation=1)` for one image
# `x` of shape `(C, H, W)` (an ndarray) and a square kernel, returning the
# `(C * k * k, h_out * w_out)` matrix with the rows and columns in the order of `F.unfold`.
# `F.unfold` and `torch.nn.functional.unfold` are unavailable while the check runs your function.

# %%
def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """The columns of every (dilated) k x k window of a (C, H, W) array, as F.unfold lays them out."""
    x = np.asarray(x)
    c, h, w = x.shape
    k = kernel_size
    ### BEGIN SOLUTION hint: np.pad, then for each kernel tap (i, j) one strided slice covers all windows
    oh = conv_output_size(h, k, stride, padding, dilation)
    ow = conv_output_size(w, k, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((c, k, k, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            top, left = i * dilation, j * dilation
            bottom, right = top + stride * (oh - 1) + 1, left + stride * (ow - 1) + 1
            cols[:, i, j] = xp[:, top:bottom:stride, left:right:stride]
    return cols.reshape(c * k * k, oh * ow)
    ### END SOLUTION


# %% grade_id="im2col"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable

from course.checks import lend
from minseg.viz import convolution as _cviz


def _reference_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """The course's output size: lent to your function below, so this exercise is graded on its own."""
    return _cviz.out_size(n, kernel_size, stride, padding, dilation)


_x_small = np.arange(16.0).reshape(1, 4, 4)
_cases = [(_x_small, 3, 1, 0, 1, F.unfold(ms.tensor(_x_small[None]), 3).data[0])]
_rng = np.random.default_rng(2)
for _ in range(30):
    _k, _s, _p, _d = (int(v) for v in _rng.integers([1, 1, 0, 1], [4, 4, 3, 3]))
    _x = _rng.normal(size=(int(_rng.integers(1, 4)), 9, 8))
    _expected = torch.nn.functional.unfold(torch.tensor(_x[None]), _k, dilation=_d, padding=_p, stride=_s)
    _ours = F.unfold(ms.tensor(_x[None]), _k, dilation=_d, padding=_p, stride=_s).data[0]
    np.testing.assert_allclose(_ours, _expected[0].numpy())  # the two references agree
    _cases.append((_x, _k, _s, _p, _d, _ours))
### BEGIN HIDDEN TESTS
_x = _rng.normal(size=(2, 5, 11))
_cases.append((_x, 3, 2, 2, 2, F.unfold(ms.tensor(_x[None]), 3, dilation=2, padding=2, stride=2).data[0]))
### END HIDDEN TESTS
with lend(globals(), conv_output_size=_reference_output_size):
    with unavailable(F.unfold, torch.nn.functional.unfold):
        for _x, _k, _s, _p, _d, _expected in _cases:
            _call = f"im2col(x, {_k}, stride={_s}, padding={_p}, dilation={_d}) with x of shape {_x.shape}"
            _got = np.asarray(im2col(_x, _k, _s, _p, _d))
            assert _got.shape == _expected.shape, f"{_call}: shape should be {_expected.shape}, got {_got.shape}"
            np.testing.assert_allclose(_got, _expected, err_msg=_call)
print("im2col agrees with F.unfold and torch.nn.functional.unfold")

# %% [markdown]
# ## 5. Convolution = unfold + one matrix product
#
# With the windows as columns, a convolution with $O$ filters of shape $(C, k, k)$ is the product of
# the filters flattened to an $O \times (Ck^2)$ matrix with the im2col matrix, plus the bias: an
# $O \times (h_\text{out} w_\text{out})$ result, reshaped to $(O, h_\text{out}, w_\text{out})$.
# This is one large matrix multiplication (GEMM), which BLAS runs at full speed: it is how minseg's
# `F.conv2d` works.
#
# **Exercise (conv2d_unfold).** Write `conv2d_unfold(x, weight, bias=None, stride=1, padding=0,
# dilation=1)` for minseg tensors (`x`: `(N, C, H, W)`, `weight`: `(O, C, k, k)`, `bias`: `(O,)`) using
# `F.unfold`, `@` and `reshape`, so that gradients flow to all three (`F.conv2d` is unavailable while
# the check runs your function).

# %%
def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution as F.unfold + a matrix product (Tensors in, Tensor out, differentiable)."""
    n, _, h, w = x.shape
    out_channels, _, k, _ = weight.shape
    ### BEGIN SOLUTION hint: cols = F.unfold(...) is (N, C*k*k, L); weight.reshape(O, -1) @ cols is (N, O, L)
    oh = conv_output_size(h, k, stride, padding, dilation)
    ow = conv_output_size(w, k, stride, padding, dilation)
    cols = F.unfold(x, k, dilation=dilation, padding=padding, stride=stride)
    out = weight.reshape(out_channels, -1) @ cols
    if bias is not None:
        out = out + bias.reshape(1, out_channels, 1)
    return out.reshape(n, out_channels, oh, ow)
    ### END SOLUTION


# %% grade_id="conv2d_unfold"
import numpy as np
import torch

import minseg.functional as F
from minseg.testing import check_op, unavailable

from course.checks import lend
from minseg.viz import convolution as _cviz


def _reference_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """The course's output size: lent to your function below, so this exercise is graded on its own."""
    return _cviz.out_size(n, kernel_size, stride, padding, dilation)


_rng = np.random.default_rng(3)
_cases = [(_rng.integers([1, 1, 0, 1], [4, 3, 3, 3]), (2, 3, 8, 7), True) for _ in range(10)]
_cases.append((np.array([2, 1, 0, 1]), (2, 3, 8, 7), False))  # no bias
### BEGIN HIDDEN TESTS
_cases.append((np.array([3, 2, 1, 2]), (1, 2, 9, 10), True))
### END HIDDEN TESTS
with lend(globals(), conv_output_size=_reference_output_size), unavailable(F.conv2d):
    for (_k, _s, _p, _d), (_n, _c, _h, _w), _with_bias in _cases:
        _inputs = [_rng.normal(size=shape) for shape in ((_n, _c, _h, _w), (4, _c, _k, _k), (4,))]
        # your function and torch's on the same inputs: the outputs, then every input's gradient
        check_op(conv2d_unfold, _inputs if _with_bias else _inputs[:2], torch.nn.functional.conv2d,
                 kwargs=dict(stride=int(_s), padding=int(_p), dilation=int(_d)), gradcheck_inputs=False)
print("conv2d_unfold agrees with torch.nn.functional.conv2d, forward and every gradient")

# %% [markdown]
# ## 6. The matrix of a 2-D convolution
#
# For one channel and a $k_h \times k_w$ kernel over an $H\times W$ image, the convolution matrix has
# a row per output pixel and a column per input pixel: row $r$ holds the kernel weights in the
# columns of the input pixels under window $r$ (taps that land in the padding drop out), zeros
# elsewhere. Then `conv(x).ravel() == M @ x.ravel()`.
#
# **Exercise (conv_matrix).** Write `conv_matrix_2d(kernel, input_size, stride=1, padding=0)` for a
# 2-D ndarray `kernel` and `input_size = (H, W)`; `stride` and `padding` are ints or `(rows, cols)`
# pairs (use `pair`). `F.conv_matrix`, `F.conv2d` and `F.unfold` are unavailable while the check runs
# your function.

# %%
def pair(v):
    """An int or a pair as a pair."""
    return (v, v) if np.ndim(v) == 0 else tuple(v)


def conv_matrix_2d(kernel, input_size, stride=1, padding=0):
    """The (oh*ow, H*W) matrix M with conv2d(x).ravel() == M @ x.ravel() for one channel."""
    kernel = np.asarray(kernel, dtype=float)
    (kh, kw), (h, w) = kernel.shape, input_size
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    ### BEGIN SOLUTION hint: output (r, c), tap (i, j) reads input pixel (r*sh + i - ph, c*sw + j - pw)
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    m = np.zeros((oh * ow, h * w))
    for r in range(oh):
        for c in range(ow):
            for i in range(kh):
                for j in range(kw):
                    row, col = r * sh + i - ph, c * sw + j - pw
                    if 0 <= row < h and 0 <= col < w:
                        m[r * ow + c, row * w + col] += kernel[i, j]
    return m
    ### END SOLUTION


# %% grade_id="conv_matrix"
import numpy as np

import minseg as ms
import minseg.functional as F
from minseg.testing import unavailable

from course.checks import lend
from minseg.viz import convolution as _cviz


def _reference_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """The course's output size: lent to your function below, so this exercise is graded on its own."""
    return _cviz.out_size(n, kernel_size, stride, padding, dilation)


_row = np.array([[1.0, 2.0, 3.0]])
_cases = [(_row, (1, 4), (1, 1), (0, 1), [[2, 3, 0, 0], [1, 2, 3, 0], [0, 1, 2, 3], [0, 0, 1, 2]]),
          (_row, (1, 4), (1, 2), (0, 1), [[2, 3, 0, 0], [0, 1, 2, 3]])]  # the slides' matrices
_rng = np.random.default_rng(4)
for _ in range(20):
    _kh, _kw, _s, _p = (int(v) for v in _rng.integers([1, 1, 1, 0], [4, 4, 3, 3]))
    _kern, _x = _rng.normal(size=(_kh, _kw)), _rng.normal(size=(5, 6))
    _m = F.conv_matrix(_kern, (5, 6), stride=_s, padding=_p)
    _y = F.conv2d(ms.tensor(_x[None, None]), ms.tensor(_kern[None, None]), stride=_s, padding=_p).data.ravel()
    np.testing.assert_allclose(_m @ _x.ravel(), _y, rtol=1e-10, atol=1e-10)  # the two references agree
    _cases.append((_kern, (5, 6), _s, _p, _m))
### BEGIN HIDDEN TESTS
_kern = _rng.normal(size=(2, 3))
_cases.append((_kern, (4, 7), (2, 1), (1, 2), F.conv_matrix(_kern, (4, 7), stride=(2, 1), padding=(1, 2))))
### END HIDDEN TESTS
with lend(globals(), conv_output_size=_reference_output_size):
    with unavailable(F.conv_matrix, F.conv2d, F.unfold):
        for _kern, _size, _s, _p, _expected in _cases:
            _call = f"conv_matrix_2d(kernel of shape {_kern.shape}, {_size}, stride={_s}, padding={_p})"
            _got = np.asarray(conv_matrix_2d(_kern, _size, _s, _p))
            _expected = np.asarray(_expected, dtype=float)
            assert _got.shape == _expected.shape, f"{_call}: shape should be {_expected.shape}, got {_got.shape}"
            np.testing.assert_allclose(_got, _expected, atol=1e-12, err_msg=_call)
print("conv_matrix_2d agrees with the slides, F.conv_matrix and F.conv2d")

# %% [markdown]
# Here is a 3×3 kernel with the weights 1 … 9 over a 4×4 image with padding 1, drawn: each row is one
# placement of the kernel, and each of the nine weights runs along its own diagonal. Change the
# settings in the widget below and watch the band: stride deletes rows, padding adds the rows whose
# windows hang over the border (their taps in the padding drop out), dilation pulls the diagonals
# apart.

# %% tags=["nbval-ignore-output"]
taps = np.arange(1.0, 10.0).reshape(3, 3)
cviz.draw_conv_matrix(taps, (4, 4), stride=1, padding=1)

# %% tags=["nbval-ignore-output"]
cviz.conv_matrix_widget(taps, max_size=6)

# %% [markdown]
# ### Step by step
#
# The next widget walks the kernel over a digit (press ▶ to play). Left: the padded input with the
# window (each tap labelled with its weight); middle: the im2col matrix, the current window's column
# framed; right: the output filled so far. Try stride 2 (fewer columns), padding 1 (more), and
# dilation 2 (the taps spread out, the output shrinks).

# %%
edge = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])  # responds to vertical edges
stepper = cviz.ConvStepper(digits[0][1:7, 1:7] * 16, edge)

# %% tags=["nbval-ignore-output"]
stepper.widget()

# %% tags=["nbval-ignore-output"]
stepper.static_figure(steps=(0, 1, 5), stride=2, padding=1)

# %% [markdown]
# ## 7. Receptive field: $1 + 2L$
#
# An output pixel of one 3×3 layer sees 3×3 input pixels; each further 3×3 layer adds one pixel on
# every side. With $L$ layers the **receptive field** is $1 + 2L$ pixels wide: it grows only
# linearly with depth. A dilated 3×3 layer with rate $d$ adds $d$ on every side instead.
#
# We can *measure* it with autograd: the gradient of one output pixel with respect to the input is
# nonzero exactly on the pixels that pixel depends on.

# %% tags=["nbval-check-output"]
def measured_field(dilations):
    """Width of the input region that the centre output of a stack of 3x3 convolutions depends on."""
    x = ms.tensor(np.zeros((1, 1, 41, 41)), requires_grad=True)
    y = x
    for d in dilations:
        y = F.conv2d(y, ms.tensor(np.ones((1, 1, 3, 3))), padding=d, dilation=d)
    y[0, 0, 20, 20].backward()
    return int(np.any(x.grad[0, 0] != 0, axis=0).sum())


for L in range(1, 6):
    print(f"L = {L}: receptive field {measured_field([1] * L)} (1 + 2L = {1 + 2 * L})")
print("dilations 1, 2, 4:", measured_field([1, 2, 4]), "= 1 + 2(1 + 2 + 4)")
# Expected output:
# L = 1: receptive field 3 (1 + 2L = 3)
# L = 2: receptive field 5 (1 + 2L = 5)
# L = 3: receptive field 7 (1 + 2L = 7)
# L = 4: receptive field 9 (1 + 2L = 9)
# L = 5: receptive field 11 (1 + 2L = 11)
# dilations 1, 2, 4: 15 = 1 + 2(1 + 2 + 4)

# %% [markdown]
# `minseg.receptive_field` does the same bookkeeping without running anything: every layer adds
# (effective kernel − 1) × *jump* pixels, where the jump — the product of the strides so far — is the
# input distance between neighbouring units. Strides make the field grow quickly. Here is AlexNet's
# chain up to `pool5`, the 6×6 grid of features that its `fc6` reads:

# %% tags=["nbval-ignore-output"]
from minseg.receptive_field import format_table, receptive_field

print("3x3 stacks:", [receptive_field([(3, 1, 1)] * L)[-1].size for L in range(1, 6)],
      " dilations 1, 2, 4:", receptive_field([(3, 1, 1, 1), (3, 1, 2, 2), (3, 1, 4, 4)])[-1].size)
alexnet = [dict(name="conv1", kernel=11, stride=4), dict(name="pool1", kernel=3, stride=2),
           dict(name="conv2", kernel=5, padding=2), dict(name="pool2", kernel=3, stride=2),
           dict(name="conv3", kernel=3, padding=1), dict(name="conv4", kernel=3, padding=1),
           dict(name="conv5", kernel=3, padding=1), dict(name="pool5", kernel=3, stride=2)]
print(format_table(receptive_field(alexnet, input_size=227)))

# %% [markdown]
# To see a whole 64-pixel object with plain 3×3 layers you would need over 30 of them at full
# resolution, which is slow and hard to train. Segmentation networks therefore *downsample* (stride,
# pooling) and upsample again, or *dilate* — the topics of the coming lectures.
#
# ## 8. A fully connected layer is a convolution
#
# A fully connected layer on a $C\times h\times w$ input is a convolution with an $h\times w$ kernel
# and one output channel per neuron: on an input of exactly $h \times w$ it gives a $1\times 1$
# output, the same numbers. On a *larger* input the convolution slides, and the classifier becomes a
# map of class scores — a heat map. That is how the FCN paper turned AlexNet into a segmentation
# network: `fc6` becomes a 6×6 convolution over the 256×6×6 `pool5` features, `fc7` and `fc8` become
# 1×1 convolutions.
#
# Let us do it with a tiny classifier for 8×8 digits: score every class by the dot product with the
# class's mean image, minus half its squared norm (the nearest-class-mean rule).

# %%
train_digits, train_labels = digit_samples("train")
means = np.stack([train_digits[train_labels == c].mean(0) for c in range(10)]).astype(np.float64)  # 10x8x8
fc_weight = means.reshape(10, 64)
fc_bias = -0.5 * (fc_weight ** 2).sum(1)
val_scores = digits.reshape(len(digits), 64) @ fc_weight.T + fc_bias
print(f"nearest-class-mean accuracy on the validation digits: {(val_scores.argmax(1) == labels).mean():.3f}")

conv_weight = ms.tensor(means[:, None])  # (10, 1, 8, 8): the same numbers, now a convolution
one = F.conv2d(ms.tensor(digits[:1, None]), conv_weight, ms.tensor(fc_bias))
print("conv on one 8x8 digit == fully connected:", np.allclose(one.data[0, :, 0, 0], val_scores[0]))

# %% [markdown]
# Now slide it over a strip with three digits:

# %%
strip = np.zeros((12, 40))
picked = [int(np.flatnonzero(labels == d)[0]) for d in (3, 1, 7)]
for slot, index in enumerate(picked):
    strip[2:10, 2 + 13 * slot:10 + 13 * slot] = digits[index]
heat = F.conv2d(ms.tensor(strip[None, None]), conv_weight, ms.tensor(fc_bias)).data[0]  # (10, 5, 33)
print("score map", heat.shape, "-> best class at the three digit positions:",
      [int(heat[:, 2, 2 + 13 * slot].argmax()) for slot in range(3)])

# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(2, 1, figsize=(8, 4.2), layout="constrained", sharex=True)
axes[0].imshow(strip[2:10], cmap="gray_r", extent=(-0.5, 39.5, 7.5, -0.5))
axes[0].set_title("input: a strip of three digits")
axes[0].set_yticks([])
for digit in (3, 1, 7):
    axes[1].plot(np.arange(33) + 3.5, heat[digit, 2], label=f"score of class {digit}")
axes[1].set_xlabel("centre of the 8x8 window (pixels)")
axes[1].set_title("the classifier, now a convolution, slides along the strip: a heat map per class")
axes[1].set_ylim(bottom=-11)  # room for the legend below the curves
axes[1].legend(loc="lower center", ncols=3)
plt.show()

# %% [markdown]
# ## 9. minseg against PyTorch
#
# Everything above runs on minseg's `F.conv2d`, `F.unfold` and `F.conv_matrix`. A last sanity check
# against PyTorch on random settings (the test suite does this thousands of times):

# %% tags=["nbval-ignore-output"]
import torch

rng = np.random.default_rng(5)
worst = 0.0
for _ in range(20):
    k, s, p, d = (int(v) for v in rng.integers([1, 1, 0, 1], [4, 3, 3, 3]))
    x, w, b = rng.normal(size=(2, 3, 9, 8)), rng.normal(size=(5, 3, k, k)), rng.normal(size=5)
    ours = F.conv2d(ms.tensor(x), ms.tensor(w), ms.tensor(b), stride=s, padding=p, dilation=d).data
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=s,
                                        padding=p, dilation=d).numpy()
    worst = max(worst, float(np.abs(ours - theirs).max()))
print(f"largest difference over 20 random convolutions (float64): {worst:.2e}")

# %% [markdown]
# ## What to remember
#
# - Sliding windows recompute shared features; a fully convolutional network computes each once.
# - A convolution is a linear map: a banded matrix with the kernel on its diagonals. Stride removes
#   rows, padding trims them, dilation spreads the diagonals. Its transpose is the transposed
#   convolution.
# - $n_\text{out} = \lfloor (n + 2p - d(k-1) - 1)/s \rfloor + 1$.
# - im2col turns all windows into columns, so a convolution is one matrix product (plus bias): fast,
#   and differentiable through `unfold`.
# - $L$ stacked 3×3 layers see $1 + 2L$ pixels; dilation grows the field without more weights.
# - A fully connected layer is a convolution with a kernel the size of its input; on a larger input
#   it outputs a heat map.
