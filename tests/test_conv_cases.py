"""The slides' hand-worked convolution cases: the 1-D transposed convolution, the 1-D convolution matrices and the
transposed-convolution output sizes."""
import numpy as np
import pytest

import minseg as ms
import minseg.functional as F

pytestmark = pytest.mark.usefixtures("one_thread")


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
