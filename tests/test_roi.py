"""roi_align and roi_pool: the widget's sampling points, gradcheck, many boxes, float32 geometry edge
cases. (Random cases against torchvision and the loop reference are rows of tests/op_table.py.)"""
import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.roi import roi_align_sampling_points
from minseg.testing import check_op, gradcheck, tolerance
from tests.support import examples
from tests.strategies import problems


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
        np.testing.assert_allclose(by_hand, expected[k], **tolerance(x.dtype))


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
    for out in [(7, 7), (14, 14)]:
        check_op(F.roi_align, [x, boxes], torchvision.ops.roi_align,
                 kwargs=dict(output_size=out, spatial_scale=1 / 16, sampling_ratio=-1, aligned=True),
                 differentiable=(0,), gradcheck_inputs=False, atol=2e-5)


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
    settings = dict(output_size=out, spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned)
    check_op(F.roi_align, [x, boxes], torchvision.ops.roi_align, kwargs=settings, differentiable=(0,),
             gradcheck_inputs=False, rtol=1e-5, atol=1e-6)


def test_roi_pool_rounds_in_float32():
    """45 * float32(0.7) is exactly 31.5 in float32 (-> 32) but 31.4999... in float64 (-> 31)."""
    x = np.arange(40, dtype=np.float32).reshape(1, 1, 1, 40)
    boxes = np.array([[0, 45, 0, 45, 0]], dtype=np.float32)
    out = F.roi_pool(ms.tensor(x), boxes, 1, 0.7)
    theirs = torchvision.ops.roi_pool(torch.from_numpy(x), torch.from_numpy(boxes), 1, 0.7)
    assert out.item() == 32 == theirs.item()
