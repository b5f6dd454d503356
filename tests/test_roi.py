"""roi_align and roi_pool vs torchvision.ops (forward and gradient), gradcheck, and the loop reference."""
import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.roi import roi_align_sampling_points
from minseg.testing import compare_with_torch, gradcheck
from tests.support import examples

SCALES = [1.0, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32]


def _floats(low: float, high: float):
    """Floats in [low, high] that float32 holds exactly (so float32 and float64 runs see one box)."""
    return st.floats(low, high).map(lambda v: float(np.float32(v)))


def _coordinate(extent: float):
    """An image coordinate: sometimes whole or half (rounding edges), sometimes well outside the image."""
    return st.one_of(_floats(-0.5 * extent, 1.5 * extent),
                     st.integers(int(-0.3 * extent) - 2, int(1.3 * extent) + 2).map(float),
                     st.integers(-4 * int(extent), 4 * int(extent)).map(lambda v: v / 4 + 0.5))


@st.composite
def problems(draw, max_side=12, max_out=14):
    """A feature map, boxes (K, 5) in image coordinates and the op's arguments (drawn like real use)."""
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float64]))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    scale = draw(st.sampled_from(SCALES))
    image_h, image_w = h / scale, w / scale
    rows = []
    for _ in range(draw(st.integers(0, 5))):
        x1, y1 = draw(_coordinate(image_w)), draw(_coordinate(image_h))
        kind = draw(st.sampled_from(["box", "box", "degenerate", "thin"]))
        width = 0.0 if kind == "degenerate" else draw(_floats(0, 1.2 * image_w))
        height = draw(_floats(0, 3.0 / scale)) if kind == "thin" else (
            0.0 if kind == "degenerate" else draw(_floats(0, 1.2 * image_h)))
        rows.append([draw(st.integers(0, n - 1)), x1, y1, x1 + width, y1 + height])
    boxes = np.array(rows, dtype=dtype).reshape(-1, 5)
    boxes[:, 3:] = np.maximum(boxes[:, 3:], boxes[:, 1:3])  # float32 rounding must not flip a box
    out = (draw(st.integers(1, max_out)), draw(st.integers(1, max_out)))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal((n, c, h, w)).astype(dtype)
    return x, boxes, out, scale


def _tolerance(dtype):
    return dict(rtol=1e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)


@examples(350)
@given(problems(), st.sampled_from([-1, 0, 1, 2, 3, 4]), st.booleans())
def test_roi_align_matches_torchvision(problem, sampling_ratio, aligned):
    x, boxes, out, scale = problem
    compare_with_torch(
        lambda t: F.roi_align(t, boxes, out, scale, sampling_ratio, aligned),
        lambda t: torchvision.ops.roi_align(t, torch.from_numpy(boxes), out, scale, sampling_ratio, aligned),
        [x], **_tolerance(x.dtype))


@examples(350)
@given(problems())
def test_roi_pool_matches_torchvision(problem):
    x, boxes, out, scale = problem
    compare_with_torch(
        lambda t: F.roi_pool(t, boxes, out, scale),
        lambda t: torchvision.ops.roi_pool(t, torch.from_numpy(boxes), out, scale),
        [x], **_tolerance(x.dtype))


@examples(60)
@given(problems(max_side=7, max_out=4), st.sampled_from([-1, 1, 2]), st.booleans())
def test_roi_align_fast_path_equals_reference(problem, sampling_ratio, aligned):
    x, boxes, out, scale = problem
    args = (scale, sampling_ratio, aligned)
    tensor = ms.tensor(x, requires_grad=True)
    y = F.roi_align(tensor, boxes, out, *args)
    grad = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    y.backward(grad)
    tol = _tolerance(x.dtype)
    np.testing.assert_allclose(y.data, F.roi_align_reference(x, boxes, out, *args), **tol)
    expected_grad = F.roi_align_reference_backward(grad, x, boxes, out, *args)
    np.testing.assert_allclose(tensor.grad, expected_grad, **tol)


@examples(60)
@given(problems(max_side=7, max_out=4))
def test_roi_pool_fast_path_equals_reference(problem):
    x, boxes, out, scale = problem
    tensor = ms.tensor(x, requires_grad=True)
    y = F.roi_pool(tensor, boxes, out, scale)
    grad = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    y.backward(grad)
    np.testing.assert_array_equal(y.data, F.roi_pool_reference(x, boxes, out, scale))
    np.testing.assert_allclose(tensor.grad, F.roi_pool_reference_backward(grad, x, boxes, out, scale),
                               **_tolerance(x.dtype))


@examples(40)
@given(problems(max_side=8, max_out=5), st.sampled_from([-1, 1, 3]), st.booleans())
def test_sampling_points_helper_reproduces_roi_align(problem, sampling_ratio, aligned):
    """The widget's points and weights, summed by hand over each box, give roi_align's output."""
    x, boxes, out, scale = problem
    expected = F.roi_align(ms.tensor(x), boxes, out, scale, sampling_ratio, aligned).data
    for k, row in enumerate(boxes):
        samples = roi_align_sampling_points(row[1:], out, scale, sampling_ratio, aligned, x.shape[2:],
                                            dtype=x.dtype)
        i, j = samples.neighbours[..., 0], samples.neighbours[..., 1]
        by_hand = (x[int(row[0])][:, j, i] * samples.weights).sum(axis=(-1, -2, -3)) / samples.count
        np.testing.assert_allclose(by_hand, expected[k], **_tolerance(x.dtype))


BOXES = np.array([[0, 1.3, 0.7, 7.2, 6.1],    # inside
                  [1, -3.0, -2.0, 4.5, 3.0],  # over the top-left border
                  [1, 5.0, 2.5, 12.0, 9.0],   # over the bottom-right border
                  [0, 2.0, 2.0, 2.0, 2.0]])   # degenerate: a point


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_roi_align_gradcheck(aligned, sampling_ratio):
    x = np.random.default_rng(3).standard_normal((2, 1, 4, 5))
    gradcheck(lambda t: F.roi_align(t, BOXES, (2, 3), 0.5, sampling_ratio, aligned), [x])


def test_roi_pool_gradcheck():
    x = np.random.default_rng(4).standard_normal((2, 1, 4, 5))
    gradcheck(lambda t: F.roi_pool(t, BOXES, (2, 3), 0.5), [x])


@pytest.mark.slow
def test_many_boxes_many_channels_match_torchvision():
    """A Mask R-CNN-like shape (more channels and boxes than the hypothesis cases) on a 1/16 map."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 16, 20, 24)).astype(np.float32)
    corner = rng.uniform(-40, 380, (40, 2))
    size = rng.uniform(0, 200, (40, 2))
    boxes = np.concatenate([rng.integers(0, 2, (40, 1)), corner, corner + size], axis=1).astype(np.float32)
    theirs = torch.from_numpy(boxes)
    for out in [(7, 7), (14, 14)]:
        compare_with_torch(lambda t: F.roi_align(t, boxes, out, 1 / 16, -1, True),
                           lambda t: torchvision.ops.roi_align(t, theirs, out, 1 / 16, -1, True),
                           [x], rtol=1e-4, atol=2e-5)


# Found by searching random float32 boxes: computing the box geometry in float64 instead of the map's
# float32 (as torchvision does) changes the answer here, by up to 0.44.
FLOAT32_EDGES = [
    ([15.6, 18.3, 17.7, 24.3], 1, 1 / 3, -1, False),
    ([-0.9, -1.5, 29.1, 7.5], 3, 0.1, -1, True),
    ([-1.6, 1.0, 6.4, 9.4], 1, 1 / 8, -1, True),
    ([-3.9, 5.1, 0.9, 25.8], 4, 1 / 3, 2, False),
    ([6.9, -3.9, 8.1, 8.7], 7, 1 / 3, -1, False),
]


@pytest.mark.parametrize("box, out, scale, sampling_ratio, aligned", FLOAT32_EDGES)
def test_roi_align_float32_geometry_edge_cases(box, out, scale, sampling_ratio, aligned):
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8)).astype(np.float32)
    boxes = np.array([[0] + box], dtype=np.float32)
    compare_with_torch(
        lambda t: F.roi_align(t, boxes, out, scale, sampling_ratio, aligned),
        lambda t: torchvision.ops.roi_align(t, torch.from_numpy(boxes), out, scale, sampling_ratio, aligned),
        [x], rtol=1e-5, atol=1e-6)


def test_roi_pool_rounds_in_float32():
    """45 * float32(0.7) is exactly 31.5 in float32 (-> 32) but 31.4999... in float64 (-> 31)."""
    x = np.arange(40, dtype=np.float32).reshape(1, 1, 1, 40)
    boxes = np.array([[0, 45, 0, 45, 0]], dtype=np.float32)
    out = F.roi_pool(ms.tensor(x), boxes, 1, 0.7)
    theirs = torchvision.ops.roi_pool(torch.from_numpy(x), torch.from_numpy(boxes), 1, 0.7)
    assert out.item() == 32 == theirs.item()
