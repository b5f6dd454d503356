"""RoIAlign / RoIPool by hand: the slide's worked numbers, the widget's helper, box forms, bad input."""
import numpy as np
import pytest

import minseg as ms
import minseg.functional as F
from minseg.functional.roi import roi_align_sampling_points
from minseg.functional.roi.reference import bilinear_taps


def _feature_map():
    return np.random.default_rng(7).standard_normal((1, 2, 10, 12)).astype(np.float64)


def _slide_value(f):
    """The slide: f(6.5, 5.8) = f(6,5)*.5*.2 + f(7,5)*.5*.2 + f(6,6)*.5*.8 + f(7,6)*.5*.8.

    f(i, j) is column i, row j: map[j, i].
    """
    return f[..., 5, 6] * .5 * .2 + f[..., 5, 7] * .5 * .2 + f[..., 6, 6] * .5 * .8 + f[..., 6, 7] * .5 * .8


def test_slide_bilinear_formula():
    taps = {(i, j): w for i, j, w in bilinear_taps(6.5, 5.8, 10, 12)}
    assert taps.keys() == {(6, 5), (7, 5), (6, 6), (7, 6)}
    np.testing.assert_allclose([taps[6, 5], taps[7, 5], taps[6, 6], taps[7, 6]], [.1, .1, .4, .4])


def test_slide_example_through_roi_align():
    """One bin, one sample: the box [6, 5.3, 7, 6.3] is sampled exactly at its centre (6.5, 5.8)."""
    f = _feature_map()
    out = F.roi_align(ms.tensor(f), np.array([[0, 6.0, 5.3, 7.0, 6.3]]), 1, 1.0, sampling_ratio=1)
    np.testing.assert_allclose(out.data[0, :, 0, 0], _slide_value(f[0]), rtol=1e-12)


def test_slide_example_gradient_goes_to_the_four_neighbours():
    x = ms.tensor(_feature_map(), requires_grad=True)
    F.roi_align(x, np.array([[0, 6.0, 5.3, 7.0, 6.3]]), 1, 1.0, 1).sum().backward()
    expected = np.zeros((10, 12))
    expected[5, 6], expected[5, 7], expected[6, 6], expected[6, 7] = .1, .1, .4, .4
    np.testing.assert_allclose(x.grad[0, 0], expected, atol=1e-12)
    np.testing.assert_allclose(x.grad[0, 1], expected, atol=1e-12)


def test_sampling_points_helper_on_the_slide_example():
    samples = roi_align_sampling_points([6.0, 5.3, 7.0, 6.3], 1, sampling_ratio=1, feature_size=(10, 12))
    np.testing.assert_allclose(samples.points[0, 0, 0, 0], [6.5, 5.8])
    np.testing.assert_array_equal(samples.neighbours[0, 0, 0, 0], [[6, 5], [7, 5], [6, 6], [7, 6]])
    np.testing.assert_allclose(samples.weights[0, 0, 0, 0], [.1, .1, .4, .4])
    assert samples.count == 1


def test_sampling_points_helper_grid_and_borders():
    """x: -2..6 at 1/2 -> -1..3 on the map, 2 bins of 2 px -> 2 samples per bin at -0.5, 0.5 | 1.5, 2.5."""
    samples = roi_align_sampling_points([-2.0, 0.0, 6.0, 4.0], 2, spatial_scale=0.5, feature_size=(3, 3))
    assert samples.points.shape == (2, 2, 1, 2, 2) and samples.count == 2
    np.testing.assert_allclose(samples.points[0, :, 0, :, 0], [[-0.5, 0.5], [1.5, 2.5]])
    np.testing.assert_allclose(samples.bin_edges_x, [-1, 1, 3])
    # (x, y) = (-0.5, 0.5): x is clamped to 0 (no weight on column 1), y splits rows 0 and 1 half-half
    np.testing.assert_array_equal(samples.neighbours[0, 0, 0, 0, :, 0], [0, 1, 0, 1])
    np.testing.assert_allclose(samples.weights[0, 0, 0, 0], [.5, 0, .5, 0])
    # x = 2.5 is clamped to the last column, 2, which then takes all the x-weight
    np.testing.assert_array_equal(samples.neighbours[0, 1, 0, 1, :, 0], [2, 2, 2, 2])
    np.testing.assert_allclose(samples.weights.sum(axis=-1)[0], 1.0)
    far = roi_align_sampling_points([10.0, 0.0, 14.0, 2.0], 1, 0.5, 1, feature_size=(3, 3))  # x = 6 > W
    np.testing.assert_array_equal(far.weights, 0.0)


def test_sampling_points_helper_matches_roi_align():
    """The widget's weights, applied to the map by hand, give roi_align's output."""
    f = _feature_map()
    box = [1.5, 2.0, 17.0, 11.0]
    samples = roi_align_sampling_points(box, (2, 3), 0.5, -1, True, feature_size=f.shape[2:])
    i, j = samples.neighbours[..., 0], samples.neighbours[..., 1]
    by_hand = (f[0][:, j, i] * samples.weights).sum(axis=(-1, -2, -3)) / samples.count
    out = F.roi_align(ms.tensor(f), np.array([[0.0] + box]), (2, 3), 0.5, -1, True)
    np.testing.assert_allclose(out.data[0], by_hand, rtol=1e-12)


def test_roi_pool_by_hand():
    """The slide's max-pooling grid; a 3x3-pixel box in 2x2 bins gets overlapping bins (floor / ceil)."""
    grid = np.array([[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], dtype=np.float64)[None, None]
    whole = F.roi_pool(ms.tensor(grid), np.array([[0, 0, 0, 3, 3]]), 2)
    np.testing.assert_array_equal(whole.data[0, 0], [[5, 6], [7, 8]])
    corner = F.roi_pool(ms.tensor(grid), np.array([[0, 0, 0, 2, 2]]), 2)
    np.testing.assert_array_equal(corner.data[0, 0], [[5, 6], [5, 5]])
    x = ms.tensor(grid, requires_grad=True)
    F.roi_pool(x, np.array([[0, 0, 0, 2, 2]]), 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[1, 1], expected[0, 2] = 3, 1  # the 5 wins three bins, the 6 one
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_roi_pool_rounds_half_away_from_zero_and_empty_bins_are_zero():
    grid = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    # x1 = 2.5 rounds to 3 (np.round would give 2): the box covers column 3 only
    out = F.roi_pool(ms.tensor(grid), np.array([[0, 2.5, 0, 3, 0]]), 1)
    assert out.data[0, 0, 0, 0] == 3
    outside = F.roi_pool(ms.tensor(grid), np.array([[0, 9, 9, 12, 12]]), 2)
    np.testing.assert_array_equal(outside.data, 0)


def test_list_of_boxes_equals_batch_index_rows():
    x = ms.tensor(np.random.default_rng(8).standard_normal((2, 3, 6, 6)))
    per_image = [np.array([[0.0, 1, 4, 5]]), np.array([[1.0, 0, 3, 3], [2.0, 2, 6, 5]])]
    rows = np.array([[0, 0.0, 1, 4, 5], [1, 1.0, 0, 3, 3], [1, 2.0, 2, 6, 5]])
    for op in (F.roi_align, F.roi_pool):
        np.testing.assert_array_equal(op(x, per_image, 2).data, op(x, rows, 2).data)
        np.testing.assert_array_equal(op(x, ms.tensor(rows), (2, 2)).data, op(x, rows, 2).data)


def test_no_boxes_gives_an_empty_result():
    x = ms.tensor(np.zeros((1, 3, 5, 5)), requires_grad=True)
    out = F.roi_align(x, np.zeros((0, 5)), (2, 4))
    assert out.shape == (0, 3, 2, 4)
    assert F.roi_pool(x, [np.zeros((0, 4))], 3).shape == (0, 3, 3, 3)


def test_float32_stays_float32():
    x = ms.tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True)
    out = F.roi_align(x, np.array([[0, 0, 0, 3, 3]]), 2)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, 1.0)


X = np.zeros((2, 1, 5, 5))
GOOD = np.array([[0, 0, 0, 2, 2]], dtype=np.float64)


@pytest.mark.parametrize("op", [F.roi_align, F.roi_pool])
@pytest.mark.parametrize("kwargs, match", [
    (dict(boxes=np.zeros((3, 4))), r"boxes must be a \(K, 5\) array .* got shape \(3, 4\)"),
    (dict(boxes=np.zeros(5)), r"boxes must be a \(K, 5\) array"),
    (dict(boxes=[np.zeros((2, 5))]), r"boxes\[0\] must be a \(K_i, 4\) array"),
    (dict(boxes=np.array([[2, 0, 0, 1, 1]])),
     r"boxes\[:, 0\] \(batch index\) must be an integer in \[0, 2\)"),
    (dict(boxes=np.array([[-1, 0, 0, 1, 1]])), r"batch index"),
    (dict(boxes=np.array([[0.5, 0, 0, 1, 1]])), r"batch index"),
    (dict(boxes=[np.zeros((1, 4))] * 3), r"batch index\) must be an integer in \[0, 2\)"),
    (dict(boxes=np.array([[0, 3, 0, 1, 1]])), r"x2 >= x1 and y2 >= y1, row 0"),
    (dict(boxes=np.array([[0, 0, 3, 1, 1]])), r"x2 >= x1 and y2 >= y1"),
    (dict(boxes=np.array([[0, 0, 0, np.nan, 1]])), r"boxes must be finite"),
    (dict(output_size=0), r"output_size must be >= 1"),
    (dict(output_size=(2, -1)), r"output_size must be >= 1"),
    (dict(output_size=2.5), r"output_size must be an int or a pair"),
    (dict(spatial_scale=0.0), r"spatial_scale must be a positive number"),
    (dict(spatial_scale=-0.5), r"spatial_scale must be a positive number"),
    (dict(input=np.zeros((1, 5, 5))), r"input must be 4-D \(N, C, H, W\)"),
])
def test_bad_input_raises_value_error_naming_it(op, kwargs, match):
    args = dict(input=X, boxes=GOOD, output_size=2, spatial_scale=1.0) | kwargs
    name = op.__name__
    with pytest.raises(ValueError, match=f"^{name}: .*{match}"):
        op(**args)


def test_bad_sampling_ratio_and_dtypes():
    with pytest.raises(ValueError, match="roi_align: sampling_ratio must be an int"):
        F.roi_align(X, GOOD, 2, 1.0, sampling_ratio=1.5)
    with pytest.raises(TypeError, match="roi_pool: input must be float32 or float64"):
        F.roi_pool(np.zeros((1, 1, 3, 3), dtype=np.int64), GOOD, 2)
    with pytest.raises(TypeError, match="roi_align: input must be a Tensor or an ndarray"):
        F.roi_align("map", GOOD, 2)
    with pytest.raises(ValueError, match="roi_align_sampling_points: box must be 4 numbers"):
        roi_align_sampling_points([0, 0, 1], 2)
