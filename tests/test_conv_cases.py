"""Shared strategies for the convolution tests (random but always valid configurations), and the
slides' hand-worked cases: the 1-D transposed convolution, the 1-D convolution matrices and the
transposed-convolution output sizes."""
import warnings

import numpy as np
import pytest
from hypothesis import assume
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F


@pytest.fixture(autouse=True)
def torch_one_thread():
    """torch on one thread and without oneDNN during each conv test: on tiny tensors its
    thread pool only waits for a busy machine, and oneDNN compiles a kernel for every new shape
    (~10 ms each). Import this fixture into each conv test module."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TF32 acceleration")
        context = torch.backends.mkldnn.flags(enabled=False)
        context.__enter__()
    try:
        yield
    finally:
        context.__exit__(None, None, None)
    torch.set_num_threads(previous)

INT_OR_PAIR = lambda lo, hi: st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))  # noqa: E731


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


@st.composite
def channels(draw):
    """(groups, in_channels, out_channels): groups 1, 2 or depthwise (groups = in_channels)."""
    kind = draw(st.sampled_from(["one", "two", "depthwise"]))
    if kind == "one":
        return 1, draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if kind == "two":
        return 2, 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    c = draw(st.integers(1, 4))
    return c, c, c * draw(st.integers(1, 2))


@st.composite
def conv_config(draw, max_side=4):
    """Arguments of a conv2d call whose output is at least 1x1."""
    groups, cin, cout = draw(channels())
    kernel = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    stride, dilation = draw(INT_OR_PAIR(1, 3)), draw(INT_OR_PAIR(1, 3))
    choices = [INT_OR_PAIR(0, 3), st.just("valid")] + ([st.just("same")] if as_pair(stride) == (1, 1) else [])
    padding = draw(st.one_of(*choices))
    pads = (0, 0) if isinstance(padding, str) else as_pair(padding)
    size = []
    for k, d, p in zip(kernel, as_pair(dilation), pads):
        span = d * (k - 1) + 1
        size.append(max(1, span - 2 * p) + draw(st.integers(0, 4)))
    return dict(n=draw(st.integers(1, 3)), cin=cin, cout=cout, groups=groups, kernel=kernel, size=tuple(size),
                stride=stride, padding=padding, dilation=dilation, bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])), seed=draw(st.integers(0, 2**16)))


@st.composite
def transpose_config(draw):
    """Arguments of a conv_transpose2d call with a valid output_padding and output >= 1x1."""
    groups, cin, cout = draw(channels())
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride, dilation = as_pair(draw(INT_OR_PAIR(1, 3))), as_pair(draw(INT_OR_PAIR(1, 3)))
    padding = as_pair(draw(INT_OR_PAIR(0, 3)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    for n, k, s, p, e, d in zip(size, kernel, stride, padding, output_padding, dilation):
        assume((n - 1) * s - 2 * p + d * (k - 1) + e + 1 >= 1)
    return dict(n=draw(st.integers(1, 3)), cin=cin, cout=cout, groups=groups, kernel=kernel, size=size,
                stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
                bias=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**16)))


def conv_arrays(cfg, transposed=False):
    """Input, weight and (optional) bias arrays for a config."""
    rng = np.random.default_rng(cfg["seed"])
    g = cfg["groups"]
    wshape = (cfg["cin"], cfg["cout"] // g) if transposed else (cfg["cout"], cfg["cin"] // g)
    arrays = [rng.standard_normal((cfg["n"], cfg["cin"]) + cfg["size"]).astype(cfg["dtype"]),
              rng.standard_normal(wshape + cfg["kernel"]).astype(cfg["dtype"])]
    if cfg["bias"]:
        arrays.append(rng.standard_normal(cfg["cout"]).astype(cfg["dtype"]))
    return arrays


def tolerances(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)


# ----- the slides' cases, worked by hand -----------------------------------------------------------
A, B, C, D = 2.0, 3.0, 5.0, 7.0  # input values a, b, c, d
X, Y, Z = 1.0, 10.0, 100.0  # filter [x, y, z]


def conv1d_as_2d(fn, values, kernel, **kwargs):
    """Run a 2-D op on a 1-D signal (one row) and return the row."""
    x = ms.tensor(np.array(values, np.float64).reshape(1, 1, 1, -1))
    w = ms.tensor(np.array(kernel, np.float64).reshape(1, 1, 1, -1))
    neutral = {"stride": 1, "padding": 0, "output_padding": 0}
    return fn(x, w, **{k: (neutral[k], v) for k, v in kwargs.items()}).data.ravel()


def test_transposed_1d_stride2_copies_weighted_filters():
    # input [a, b], filter [x, y, z], stride 2 -> [ax, ay, az + bx, by, bz]
    got = conv1d_as_2d(F.conv_transpose2d, [A, B], [X, Y, Z], stride=2)
    np.testing.assert_allclose(got, [A * X, A * Y, A * Z + B * X, B * Y, B * Z])


def test_conv_matrix_1d_kernel3_stride1_pad1():
    # the slide's 4x6 matrix acts on [0, a, b, c, d, 0]; without the padding columns it is 4x4
    m = F.conv_matrix(np.array([X, Y, Z]), 4, stride=1, padding=1)
    np.testing.assert_array_equal(m, [[Y, Z, 0, 0], [X, Y, Z, 0], [0, X, Y, Z], [0, 0, X, Y]])
    np.testing.assert_allclose(m @ [A, B, C, D], [A * Y + B * Z, A * X + B * Y + C * Z,
                                                 B * X + C * Y + D * Z, C * X + D * Y])
    # transposed: M^T @ [a, b, c, d] = the slide's column without its first and last (padding) rows
    np.testing.assert_allclose(m.T @ [A, B, C, D], [A * Y + B * X, A * Z + B * Y + C * X,
                                                   B * Z + C * Y + D * X, C * Z + D * Y])
    got = conv1d_as_2d(F.conv_transpose2d, [A, B, C, D], [X, Y, Z], stride=1, padding=1)
    np.testing.assert_allclose(got, m.T @ [A, B, C, D])


def test_conv_matrix_1d_kernel3_stride2_pad1():
    m = F.conv_matrix(np.array([X, Y, Z]), 4, stride=2, padding=1)
    np.testing.assert_array_equal(m, [[Y, Z, 0, 0], [0, X, Y, Z]])
    np.testing.assert_allclose(m @ [A, B, C, D], [A * Y + B * Z, B * X + C * Y + D * Z])
    # slide: M^T [a, b] = [ax, ay, az + bx, by, bz, 0] on the padded signal; unpadded, rows 1..4
    np.testing.assert_allclose(m.T @ [A, B], [A * Y, A * Z + B * X, B * Y, B * Z])
    got = conv1d_as_2d(F.conv_transpose2d, [A, B], [X, Y, Z], stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(got, m.T @ [A, B])


@pytest.mark.parametrize("padding, stride, size_in, size_out",
                         [(0, 1, 2, 4), (1, 1, 5, 5), (0, 2, 2, 5), (1, 2, 3, 5)])
def test_transposed_output_sizes_from_the_slides(padding, stride, size_in, size_out):
    x = ms.tensor(np.ones((1, 1, size_in, size_in), np.float32))
    w = ms.tensor(np.ones((1, 1, 3, 3), np.float32))
    assert F.conv_transpose2d(x, w, stride=stride, padding=padding).shape == (1, 1, size_out, size_out)
