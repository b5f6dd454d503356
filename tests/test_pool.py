"""max_pool2d, avg_pool2d and adaptive_avg_pool2d: gradcheck without ties, ties and NaN, the lecture's
max-pooling example, modules, and bad arguments. (Random cases against torch and the loop references
are rows of tests/op_table.py.)"""
import numpy as np
import pytest

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg.testing import gradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional

SLIDE_INPUT = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], np.float32)[None, None]


def test_slide_max_pooling_example():
    values, indices = F.max_pool2d(ms.tensor(SLIDE_INPUT), 2, return_indices=True)
    np.testing.assert_array_equal(values.data[0, 0], [[5, 6], [7, 8]])
    np.testing.assert_array_equal(indices.data[0, 0], [[5, 2], [12, 15]])  # row * 4 + col
    assert indices.dtype == np.int64


def test_max_pool2d_ties_and_nan_follow_torch():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, np.nan, np.nan], [2.0, 2.0, 2.0]]]], np.float32)
    _, ours = F.max_pool2d(ms.tensor(x), 2, 1, return_indices=True)
    _, theirs = TF.max_pool2d(torch.tensor(x), 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("op", [
    lambda t: F.max_pool2d(t, (2, 3), (1, 2), (1, 1), (2, 1), True),
    lambda t: F.avg_pool2d(t, 3, 2, 1, True, False),
    lambda t: F.avg_pool2d(t, 2, 1, 1, False, True, 3),
    lambda t: F.adaptive_avg_pool2d(t, (3, 2)),
])
def test_gradcheck(op):
    x = np.random.default_rng(0).permutation(2 * 5 * 6).reshape(1, 2, 5, 6) / 7.0  # no ties
    assert gradcheck(op, [x])


def test_three_d_input_and_modules():
    x = np.random.default_rng(1).standard_normal((3, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(F.max_pool2d(ms.tensor(x), 2).data, TF.max_pool2d(torch.tensor(x), 2).numpy())
    pooled, where = nn.MaxPool2d(2, return_indices=True)(ms.tensor(x[None]))
    assert pooled.shape == (1, 3, 3, 3) and where.shape == (1, 3, 3, 3)
    np.testing.assert_allclose(nn.AvgPool2d(3, 1, 1, count_include_pad=False)(ms.tensor(x[None])).data,
                               TF.avg_pool2d(torch.tensor(x[None]), 3, 1, 1, count_include_pad=False).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((1, None))(ms.tensor(x[None])).data,
                               TF.adaptive_avg_pool2d(torch.tensor(x[None]), (1, None)).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert "kernel_size=2" in repr(nn.MaxPool2d(2))


@pytest.mark.parametrize("call, words", [
    (lambda x: F.max_pool2d(x, 3, padding=2), "padding"),
    (lambda x: F.max_pool2d(x, 0), "kernel_size"),
    (lambda x: F.max_pool2d(x, 2, stride=0), "stride"),
    (lambda x: F.max_pool2d(x, 2, dilation=(1, 0)), "dilation"),
    (lambda x: F.max_pool2d(x, 9), "kernel_size"),
    (lambda x: F.max_pool2d(x[0, 0], 2), "input"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: F.avg_pool2d(x, (2, 2, 2)), "kernel_size"),
    (lambda x: F.adaptive_avg_pool2d(x, (1, 2, 3)), "output_size"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), "output_size"),
])
def test_bad_arguments_name_the_argument(call, words):
    with pytest.raises(ValueError, match=words):
        call(ms.tensor(np.zeros((1, 1, 4, 4), np.float32)))
