"""Receptive-field calculator: the slides' numbers, a brute-force check through conv2d, bad input."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg.receptive_field import format_table, receptive_field
from tests.support import examples


@pytest.mark.parametrize("depth", range(1, 7))
def test_l_stacked_3x3_convs_see_1_plus_2l(depth):
    rows = receptive_field([(3, 1, 1)] * depth)
    assert [r.size for r in rows] == [1 + 2 * (i + 1) for i in range(depth)]
    assert rows[-1].jump == 1 and rows[-1].start == 0.0  # padding 1 keeps the grid aligned


def test_dilated_3x3_rate_2_has_the_field_of_a_5x5():
    assert receptive_field([(3, 1, 0, 2)])[-1].size == receptive_field([(5, 1, 0)])[-1].size == 5


def test_dilated_stack_rates_1_2_4_grows_exponentially():
    rows = receptive_field([dict(kernel_size=3, padding=d, dilation=d) for d in (1, 2, 4)])
    assert [r.size for r in rows] == [3, 7, 15]


def test_strides_multiply_the_jump_and_shift_the_start():
    # conv 3x3 s1 p0, pool 2x2 s2, conv 3x3 s1 p0 (a VGG-like block, no padding)
    rows = receptive_field([(3, 1, 0), dict(kernel=2, stride=2), (3, 1, 0)], input_size=16)
    assert [(r.size, r.jump, r.start, r.output) for r in rows] == [
        (3, 1, 1.0, 14), (4, 2, 1.5, 7), (8, 2, 3.5, 5)]


def test_layers_and_containers_are_read_with_pairs():
    net = nn.Sequential(nn.Conv2d(1, 2, (3, 5), padding=(1, 2)), nn.ReLU(),
                        nn.Sequential(nn.Conv2d(2, 2, 3, stride=2, dilation=2)))
    rows = receptive_field(net, input_size=(9, 12))
    assert len(rows) == 2 and rows[-1].size == (7, 9) and rows[-1].jump == (2, 2)
    assert rows[-1].output == (3, 4)
    assert receptive_field([nn.Conv2d(1, 1, 3, padding="same", dilation=2)])[-1].start == 0.0
    assert "field" in format_table(rows) and "output" in format_table(rows)


@examples(100)
@given(layers=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(0, 1), st.integers(1, 2)),
                       min_size=1, max_size=3))
def test_field_matches_the_gradient_footprint(layers):
    # brute force: the input pixels that reach one output unit are where its gradient is non-zero
    rows = receptive_field(layers)
    size = 4 * rows[-1].size + 8
    x = ms.tensor(np.ones((1, 1, 1, size)), requires_grad=True)
    y = x
    for k, s, p, d in layers:
        y = F.conv2d(y, ms.tensor(np.ones((1, 1, 1, k))), stride=(1, s), padding=(0, p), dilation=(1, d))
    unit = y.shape[-1] // 2
    seed = np.zeros(y.shape)
    seed[..., unit] = 1.0
    y.backward(seed)
    touched = np.nonzero(x.grad[0, 0, 0])[0]
    # unit u's field is centred on start + u * jump and spans size pixels
    centre, half = rows[-1].start + unit * rows[-1].jump, (rows[-1].size - 1) / 2
    assume(0 <= centre - half and centre + half <= size - 1)
    assert (touched.min(), touched.max()) == (centre - half, centre + half)


@pytest.mark.parametrize("layers, message", [
    ([(0, 1)], "kernel must be >= 1"),
    ([(3, 0)], "stride must be >= 1"),
    ([(3, 1, -1)], "padding must be >= 0"),
    ([(3, 1, 0, 1, 5)], r"must be \(kernel, stride, padding, dilation\)"),
    ([dict(stride=2)], "needs a kernel"),
    ([(3.5,)], "kernel must be an int or a pair"),
    (["conv"], "must be a tuple, a dict or a layer"),
    ([nn.ConvTranspose2d(1, 1, 2)], "transposed convolution"),
])
def test_bad_input(layers, message):
    with pytest.raises(ValueError, match=message):
        receptive_field(layers)


def test_too_small_input():
    with pytest.raises(ValueError, match="input_size 2 is too small"):
        receptive_field([(3, 1, 0), (3, 1, 0)], input_size=2)
