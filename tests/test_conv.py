"""conv2d and conv_transpose2d: the references against torch on a fixed case, gradcheck in float64,
unbatched input, scratch buffers, and bad input. (Random configurations against torch and the loop
references are rows of tests/op_table.py.)"""
import numpy as np
import pytest
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import check_op, gradcheck

pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional


def test_references_match_torch_on_a_fixed_case():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    expected = TF.conv2d(*map(torch.tensor, (x, w, b)), **kw).numpy()
    np.testing.assert_allclose(F.conv2d_reference(x, w, b, **kw), expected, rtol=1e-12, atol=1e-12)
    wt = rng.standard_normal((4, 3, 2, 3))
    kw = dict(stride=(3, 2), padding=(1, 0), output_padding=(2, 1), groups=2, dilation=(1, 2))
    expected = TF.conv_transpose2d(*map(torch.tensor, (x, wt, b)), **kw).numpy()
    np.testing.assert_allclose(F.conv_transpose2d_reference(x, wt, b, **kw), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                dict(groups=2, dilation=(2, 1), padding=(1, 0))])
def test_conv2d_gradcheck(kw):
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 2 // kw.get("groups", 1), 3, 2)),
              rng.standard_normal(2)]
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), inputs)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(groups=2, dilation=2, stride=(1, 3), output_padding=(1, 2))])
def test_conv_transpose2d_gradcheck(kw):
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 4 // kw.get("groups", 1), 3, 2)),
              rng.standard_normal(4)]
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), inputs)


def test_unbatched_input_and_dtype_are_kept():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(ms.tensor(x), ms.tensor(w), padding=1)
    assert y.shape == (4, 6, 5) and y.dtype == np.float64
    np.testing.assert_allclose(y.data, TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy())
    z = F.conv_transpose2d(ms.tensor(x.astype(np.float32)), ms.tensor(w[:3].astype(np.float32)), stride=2)
    assert z.shape == (3, 13, 11) and z.dtype == np.float32


def test_only_needed_gradients_are_computed():
    x = ms.tensor(np.ones((1, 2, 4, 4), np.float32))  # an image: no gradient wanted
    w = ms.tensor(np.ones((3, 2, 3, 3), np.float32), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.full((3, 2, 3, 3), 4.0))  # each tap sees 2x2 ones


def test_float32_fast_path_on_a_network_sized_case():
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((2, 16, 20, 18)).astype(np.float32),
              rng.standard_normal((24, 16, 3, 3)).astype(np.float32), rng.standard_normal(24).astype(np.float32)]
    for kw in (dict(padding=2, dilation=2), dict(stride=2, padding=1)):
        check_op(F.conv2d, arrays, TF.conv2d, kwargs=kw, gradcheck_inputs=False)


def test_results_never_alias_the_reused_scratch_buffers():
    # the fast paths reuse scratch memory between calls; earlier results must stay intact
    rng = np.random.default_rng(5)
    w = ms.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
    for n in (1, 2):
        x1, x2 = (ms.tensor(rng.standard_normal((n, 2, 6, 6)).astype(np.float32)) for _ in range(2))
        outs = [F.conv2d(x1, w, padding=1), F.unfold(x1, 3), F.conv_transpose2d(F.conv2d(x1, w), w)]
        saved = [o.data.copy() for o in outs]
        F.conv2d(x2, w, padding=1), F.unfold(x2, 3), F.conv_transpose2d(F.conv2d(x2, w), w)
        for o, s in zip(outs, saved):
            np.testing.assert_array_equal(o.data, s)


def test_non_contiguous_input():
    x = np.random.default_rng(6).standard_normal((5, 6, 3, 2)).transpose(3, 2, 1, 0)  # (2, 3, 6, 5) view
    w = np.random.default_rng(7).standard_normal((4, 3, 2, 2))
    np.testing.assert_allclose(F.conv2d(ms.tensor(x), ms.tensor(w), stride=2).data,
                               TF.conv2d(torch.tensor(x.copy()), torch.tensor(w), stride=2).numpy(), rtol=1e-12)


# ----- bad input -------------------------------------------------------------------------------------
X4, W4, WT4 = (np.ones(shape, np.float32) for shape in [(1, 4, 5, 5), (2, 4, 3, 3), (4, 2, 3, 3)])


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(X4, np.ones((3, 3), np.float32)), r"conv2d: weight must be 4-D \(out, in/groups, kH, kW\)"),
    (lambda: F.conv2d(X4, np.ones((3, 4, 3, 3), np.float32), groups=3), "input channels .* divisible by groups"),
    (lambda: F.conv2d(X4, np.ones((3, 2, 3, 3), np.float32), groups=2), "out channels .* divisible by groups"),
    (lambda: F.conv2d(X4, np.ones((2, 3, 3, 3), np.float32)), "expects 3 input channels"),
    (lambda: F.conv2d(X4, W4, groups=0), "groups must be a positive int"),
    (lambda: F.conv2d(X4, W4, stride=0), "conv2d: stride must be >= 1"),
    (lambda: F.conv2d(X4, W4, dilation=(1, 0)), "conv2d: dilation must be >= 1"),
    (lambda: F.conv2d(X4, W4, padding=-1), "conv2d: padding must be >= 0"),
    (lambda: F.conv2d(X4, W4, padding="full"), "padding must be an int, a pair of ints, 'same' or 'valid'"),
    (lambda: F.conv2d(X4, W4, padding="same", stride=2), "padding='same' needs stride 1"),
    (lambda: F.conv2d(X4, W4, dilation=3), r"conv2d: kernel_size \(3, 3\) .* larger than the padded input"),
    (lambda: F.conv2d(X4, np.ones((2, 4, 7, 1), np.float32), padding=0), "larger than the padded input"),
    (lambda: F.conv2d(X4[0, 0], W4), r"conv2d: input must be 4-D \(N, C, H, W\) or 3-D"),
    (lambda: F.conv2d(X4, W4, np.ones(3, np.float32)), r"conv2d: bias must have shape \(2,\)"),
    (lambda: F.conv2d(X4, np.ones((0, 4, 3, 3), np.float32)), r"conv2d: weight must not be empty"),
    (lambda: F.conv_transpose2d(X4, np.ones((4, 0, 3, 3), np.float32)), r"conv_transpose2d: weight must not be empty"),
    (lambda: F.conv_transpose2d(X4, WT4, stride=2, output_padding=2), "output_padding must be smaller than stride"),
    (lambda: F.conv_transpose2d(X4, WT4, stride=1, dilation=1, output_padding=1), "output_padding"),
    (lambda: F.conv_transpose2d(X4, np.ones((3, 2, 3, 3), np.float32)), r"weight must be \(in, out/groups"),
    (lambda: F.conv_transpose2d(X4, WT4, padding=4), "conv_transpose2d: padding .* too large"),
    (lambda: F.conv_transpose2d(X4, WT4, stride=0), "conv_transpose2d: stride must be >= 1"),
])
def test_bad_input_raises_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mixed_dtypes_and_non_arrays_raise_type_error():
    with pytest.raises(TypeError, match="conv2d: weight has dtype float64 but input has dtype float32"):
        F.conv2d(X4, W4.astype(np.float64))
    with pytest.raises(TypeError, match="conv2d: input must be a Tensor or an ndarray"):
        F.conv2d("image", W4)
