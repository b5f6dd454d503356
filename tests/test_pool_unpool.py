"""max_unpool2d (SegNet) and bed-of-nails unpooling: bed of nails vs torch, gradcheck, the lecture's
unpooling tables, and bad arguments. (max_unpool2d's random cases against torch and the loop
reference are rows of tests/op_table.py.)"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg.testing import check_op, gradcheck
from tests.support import examples

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional


@examples(300)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31))
def test_bed_of_nails_equals_torch_unpool_with_corner_indices(h, w, sh, sw, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w)).astype(np.float32)
    rows, cols = np.meshgrid(np.arange(h) * sh, np.arange(w) * sw, indexing="ij")
    corners = torch.from_numpy(np.broadcast_to(rows * (w * sw) + cols, x.shape).copy())
    check_op(lambda t: F.bed_of_nails_unpool2d(t, (sh, sw)), [x],
             lambda t: TF.max_unpool2d(t, corners, (sh, sw), output_size=(h * sh, w * sw)),
             gradcheck_inputs=False, atol=1e-5)


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
