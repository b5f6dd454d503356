"""unfold (im2col) and fold (col2im) on small and unbatched cases, conv_matrix against torch, and bad
input. (Random unfold / fold cases against torch and the loop references are rows of tests/op_table.py.)"""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.testing import check_op, gradcheck
from tests.support import examples
from tests.strategies import INT_OR_PAIR, as_pair

pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional


def test_unfold_and_fold_small_cases_and_gradcheck():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    kw = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    check_op(F.unfold, [x], TF.unfold, kwargs=kw)  # torch, then gradcheck in float64
    cols = F.unfold(ms.tensor(x), **kw).data
    check_op(F.fold, [cols], TF.fold, kwargs=dict(kw, output_size=(4, 5)))


def test_unfold_unbatched_and_fold_2d():
    x = np.random.default_rng(0).standard_normal((2, 4, 4))
    cols = F.unfold(ms.tensor(x), 3, padding=1)
    assert cols.shape == (18, 16)
    np.testing.assert_allclose(cols.data, TF.unfold(torch.tensor(x)[None], 3, padding=1)[0].numpy())
    back = F.fold(cols, 4, 3, padding=1)
    np.testing.assert_allclose(back.data, TF.fold(torch.tensor(cols.data), 4, 3, padding=1).numpy())


def test_fold_of_unfold_counts_window_overlaps():
    # every pixel comes back multiplied by the number of windows that contain it
    x = np.ones((1, 1, 4, 4))
    back = F.fold(F.unfold(ms.tensor(x), 3), (4, 4), 3).data[0, 0]
    np.testing.assert_array_equal(back, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


# ----- conv_matrix ------------------------------------------------------------------------------------
@st.composite
def matrix_config(draw):
    kernel, dilation, stride = draw(INT_OR_PAIR(1, 3)), draw(INT_OR_PAIR(1, 2)), draw(INT_OR_PAIR(1, 3))
    padding = draw(INT_OR_PAIR(0, 2))
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 3))
                 for k, d, p in zip(as_pair(kernel), as_pair(dilation), as_pair(padding)))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) + as_pair(kernel)
    return dict(stride=stride, padding=padding, dilation=dilation), size, shape


@examples(500)
@given(cfg=matrix_config(), seed=st.integers(0, 2**16))
def test_conv_matrix_2d_is_conv2d_and_its_transpose_is_conv_transpose2d(cfg, seed):
    kw, size, shape = cfg
    rng = np.random.default_rng(seed)
    w, x = rng.standard_normal(shape), rng.standard_normal((1, shape[1]) + size)
    m = F.conv_matrix(w, size, **kw)
    y = TF.conv2d(torch.tensor(x), torch.tensor(w), **kw)
    np.testing.assert_allclose(m @ x.ravel(), y.numpy().ravel(), rtol=1e-10, atol=1e-10)
    # M^T y is the transposed convolution whose output_padding restores the input size
    oh, ow = y.shape[2:]
    extra = tuple(n - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for n, o, s, p, d, k in
                  zip(size, (oh, ow), as_pair(kw["stride"]), as_pair(kw["padding"]), as_pair(kw["dilation"]),
                      shape[2:]))
    if all(e < max(s, d) for e, s, d in zip(extra, as_pair(kw["stride"]), as_pair(kw["dilation"]))):
        g = rng.standard_normal(y.shape)
        back = TF.conv_transpose2d(torch.tensor(g), torch.tensor(w), output_padding=extra, **kw)
        np.testing.assert_allclose(m.T @ g.ravel(), back.numpy().ravel(), rtol=1e-10, atol=1e-10)


@examples(200)
@given(k=st.integers(1, 4), extra=st.integers(0, 4), stride=st.integers(1, 3), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), out_ch=st.integers(1, 2), in_ch=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_conv_matrix_1d_matches_conv1d(k, extra, stride, padding, dilation, out_ch, in_ch, seed):
    length = max(1, dilation * (k - 1) + 1 - 2 * padding) + extra
    rng = np.random.default_rng(seed)
    w, x = rng.standard_normal((out_ch, in_ch, k)), rng.standard_normal((1, in_ch, length))
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    expected = TF.conv1d(torch.tensor(x), torch.tensor(w), **kw).numpy().ravel()
    np.testing.assert_allclose(F.conv_matrix(w, length, **kw) @ x.ravel(), expected, rtol=1e-10, atol=1e-10)
    plain = F.conv_matrix(w[0, 0], (length,), **kw)  # a bare kernel gives the single-channel matrix
    np.testing.assert_allclose(plain @ x[0, 0], TF.conv1d(torch.tensor(x[:, :1]), torch.tensor(w[:1, :1]),
                                                         **kw).numpy().ravel(), rtol=1e-10, atol=1e-10)


def test_conv_matrix_2d_plain_kernel_and_same_padding():
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    m = F.conv_matrix(ms.tensor(kernel, dtype=np.float64), (3, 3), padding="same")
    assert m.shape == (9, 9)
    # the centre output sees the whole kernel, in row-major order over the 3x3 input
    np.testing.assert_array_equal(m[4], kernel.ravel())


# ----- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: F.unfold(np.ones((4, 4), np.float32), 2), r"unfold: input must be 4-D \(N, C, H, W\)"),
    (lambda: F.unfold(np.ones((1, 1, 4, 4), np.float32), 0), "unfold: kernel_size must be >= 1"),
    (lambda: F.unfold(np.ones((1, 1, 4, 4), np.float32), 2, padding="same"), "unfold: padding must be an int"),
    (lambda: F.unfold(np.ones((1, 1, 2, 2), np.float32), 3), "unfold: kernel_size .* larger than the padded input"),
    (lambda: F.fold(np.ones((1, 5, 9), np.float32), 4, 2), r"fold: input's dim 1 \(5\) must be divisible by"),
    (lambda: F.fold(np.ones((1, 4, 8), np.float32), 4, 2), "fold: input has 8 columns but output_size"),
    (lambda: F.fold(np.ones((4,), np.float32), 4, 2), "fold: input must be 3-D"),
    (lambda: F.conv_matrix(np.ones((2, 2, 2)), (3, 3)), "conv_matrix: for a 2-D input_size, weight must be"),
    (lambda: F.conv_matrix(np.ones((2, 2)), 5), "conv_matrix: for a 1-D input_size, weight must be"),
    (lambda: F.conv_matrix(np.ones(3), 0), "conv_matrix: input_size must be"),
    (lambda: F.conv_matrix(np.ones(5), 3), "conv_matrix: kernel_size .* larger than the padded input"),
    (lambda: F.conv_matrix(np.ones((64, 64, 3, 3)), (64, 64)), "conv_matrix: M would have"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
