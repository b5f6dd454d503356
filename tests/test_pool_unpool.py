"""max_unpool2d (SegNet) and bed-of-nails unpooling: vs torch, vs the loop reference, gradcheck,
the lecture's unpooling tables, and bad arguments."""
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


@st.composite
def unpool_configs(draw):
    """Indices from a real max pooling (torch's), and an output_size inside torch's allowed range."""
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    h, w = draw(st.integers(max(1, k - 2 * p), 8)), draw(st.integers(max(1, k - 2 * p), 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = rng.standard_normal((draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)).astype(np.float32)
    pooled, indices = TF.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    default = [(n - 1) * s - 2 * p + k for n in pooled.shape[-2:]]
    size = (h, w) if draw(st.booleans()) else None  # the pooled input's own size, or torch's default
    valid = all(d - s < n < d + s for n, d in zip((h, w), default)) if size else min(default) > 0
    assume(valid and indices.max() < np.prod(size or default))
    planes = indices.numpy().reshape(-1, indices.shape[-2] * indices.shape[-1])
    # overlapping windows can pick one position twice; torch's threads then race for it
    assume(all(len(np.unique(plane)) == plane.size for plane in planes))
    values = rng.standard_normal(pooled.shape).astype(np.float32)
    return values, indices.numpy(), k, s, p, size


@examples(300)
@given(unpool_configs())
def test_max_unpool2d_matches_torch(config):
    values, indices, k, s, p, size = config
    compare_with_torch(lambda t: F.max_unpool2d(t, indices, k, s, p, size),
                       lambda t: TF.max_unpool2d(t, torch.from_numpy(indices), k, s, p, size), [values])


@examples(300)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31))
def test_bed_of_nails_equals_torch_unpool_with_corner_indices(h, w, sh, sw, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w)).astype(np.float32)
    rows, cols = np.meshgrid(np.arange(h) * sh, np.arange(w) * sw, indexing="ij")
    corners = torch.from_numpy(np.broadcast_to(rows * (w * sw) + cols, x.shape).copy())
    compare_with_torch(lambda t: F.bed_of_nails_unpool2d(t, (sh, sw)),
                       lambda t: TF.max_unpool2d(t, corners, (sh, sw), output_size=(h * sh, w * sw)), [x])


@examples(60)
@given(unpool_configs())
def test_max_unpool2d_fast_path_equals_loops(config):
    values, indices, k, s, p, size = config
    out = F.max_unpool2d(ms.tensor(values), indices, k, s, p, size)
    np.testing.assert_array_equal(out.data, F.max_unpool2d_reference(values, indices, k, s, p, size))


def test_slide_unpooling_tables():
    pooled_from = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], np.float32)[None, None]
    _, indices = F.max_pool2d(ms.tensor(pooled_from), 2, return_indices=True)
    small = ms.tensor(np.array([[[[1, 2], [3, 4]]]], np.float32))
    np.testing.assert_array_equal(F.max_unpool2d(small, indices, 2).data[0, 0],
                                  [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])
    np.testing.assert_array_equal(F.bed_of_nails_unpool2d(small, 2).data[0, 0],
                                  [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(nn.MaxUnpool2d(2)(small, indices).data[0, 0],
                                  F.max_unpool2d(small, indices, 2).data[0, 0])


def test_gradcheck_unpooling():
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    _, indices = TF.max_pool2d(torch.randn(1, 2, 6, 7), 2, return_indices=True, ceil_mode=True)
    assert gradcheck(lambda t: F.max_unpool2d(t, indices.numpy(), 2, output_size=(6, 7)), [x])
    assert gradcheck(lambda t: F.bed_of_nails_unpool2d(t, (2, 3)), [x])
    assert gradcheck(lambda t: F.max_unpool2d(*F.max_pool2d(t, 2, return_indices=True), 2),
                     [np.random.default_rng(1).permutation(32).reshape(1, 2, 4, 4) / 3.0])


@pytest.mark.parametrize("call, words", [
    (lambda x, i: F.max_unpool2d(x, i[..., :1], 2), "indices must have the input's shape"),
    (lambda x, i: F.max_unpool2d(x, i.astype(np.float32), 2), "indices must be integers"),
    (lambda x, i: F.max_unpool2d(x, i + 100, 2), "indices must lie in"),
    (lambda x, i: F.max_unpool2d(x, i, 2, output_size=(9, 4)), "output_size"),
    (lambda x, i: F.max_unpool2d(x, i, 2, output_size=(4,)), "output_size"),
    (lambda x, i: F.max_unpool2d(x, i, 0), "kernel_size"),
    (lambda x, i: F.bed_of_nails_unpool2d(x, 0), "scale_factor"),
])
def test_bad_arguments_name_the_argument(call, words):
    x = ms.tensor(np.ones((1, 1, 2, 2), np.float32))
    indices = np.zeros((1, 1, 2, 2), np.int64)
    with pytest.raises((ValueError, TypeError), match=words):
        call(x, indices)
