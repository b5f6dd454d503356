"""max_pool2d, avg_pool2d and adaptive_avg_pool2d: vs torch (hypothesis), vs the loop references,
gradcheck, the lecture's max-pooling example, and bad arguments."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg.testing import compare_with_torch, gradcheck
from tests.support import examples
from tests.test_pool_threads import one_thread, torch  # noqa: F401 - one_thread: autouse fixture

TF = torch.nn.functional

SLIDE_INPUT = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], np.float32)[None, None]


@st.composite
def pool_configs(draw, dilation=True):
    """A random valid pooling geometry and an input big enough for at least one window."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    low = [max(1, dd * (kk - 1) + 1 - 2 * pp) for kk, pp, dd in zip(k, p, d)]
    size = (draw(st.integers(low[0], low[0] + 6)), draw(st.integers(low[1], low[1] + 6)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal(shape).astype(dtype)
    return x, k, s, p, d, draw(st.booleans())


@examples(300)
@given(pool_configs())
def test_max_pool2d_matches_torch(config):
    x, k, s, p, d, ceil = config
    _, ours = F.max_pool2d(ms.tensor(x), k, s, p, d, ceil, return_indices=True)
    assume((ours.data >= 0).all())  # no window made of padding only (torch's index is garbage there)
    compare_with_torch(lambda t: F.max_pool2d(t, k, s, p, d, ceil),
                       lambda t: TF.max_pool2d(t, k, s, p, d, ceil), [x])
    _, theirs = TF.max_pool2d(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@examples(300)
@given(pool_configs(dilation=False), st.booleans(), st.sampled_from([None, None, 1, 3]))
def test_avg_pool2d_matches_torch(config, include_pad, divisor):
    x, k, s, p, _, ceil = config
    compare_with_torch(lambda t: F.avg_pool2d(t, k, s, p, ceil, include_pad, divisor),
                       lambda t: TF.avg_pool2d(t, k, s, p, ceil, include_pad, divisor), [x])


@examples(300)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.one_of(st.none(), st.integers(1, 9)),
       st.integers(0, 2**31))
def test_adaptive_avg_pool2d_matches_torch(h, w, out_h, out_w, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, h, w)).astype(np.float32)
    compare_with_torch(lambda t: F.adaptive_avg_pool2d(t, (out_h, out_w)),
                       lambda t: TF.adaptive_avg_pool2d(t, (out_h, out_w)), [x])


@examples(60)
@given(pool_configs())
def test_max_pool2d_fast_path_equals_loops(config):
    x, k, s, p, d, ceil = config
    values, indices = F.max_pool2d(ms.tensor(x), k, s, p, d, ceil, return_indices=True)
    want_values, want_indices = F.max_pool2d_reference(x, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(values.data, want_values)
    np.testing.assert_array_equal(indices.data, want_indices)


@examples(60)
@given(pool_configs(dilation=False), st.booleans(), st.sampled_from([None, 2]))
def test_avg_pool2d_fast_path_equals_loops(config, include_pad, divisor):
    x, k, s, p, _, ceil = config
    ours = F.avg_pool2d(ms.tensor(x), k, s, p, ceil, include_pad, divisor).data
    np.testing.assert_allclose(ours, F.avg_pool2d_reference(x, k, s, p, ceil, include_pad, divisor),
                               rtol=1e-5, atol=1e-6)


@examples(60)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 9))
def test_adaptive_avg_pool2d_fast_path_equals_loops(h, w, out_h, out_w):
    x = np.random.default_rng(h * 100 + w).standard_normal((1, 2, h, w))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(ms.tensor(x), (out_h, out_w)).data,
                               F.adaptive_avg_pool2d_reference(x, (out_h, out_w)), rtol=1e-12)


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
