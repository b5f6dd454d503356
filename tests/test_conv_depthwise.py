"""Depthwise conv2d's nine-tap loop (kernels._depthwise_plane_3x3, 3x3 at stride 1) against torch (forward
and backward), the loop reference and finite differences over hypothesis configurations, against the
per-tap loop kernel by kernel, on an array large enough for the parallel kernel; and the rule that
chooses it (ops.fused_depthwise_pays)."""
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minseg.functional as F
from minseg.functional.conv import kernels as K
from minseg.functional.conv import ops as conv_ops
from minseg.functional.conv.geometry import conv_geometry
from minseg.testing import check_op
from tests.support import examples

pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional


def fused(enabled: bool | None = True):
    """ops.FUSED_DEPTHWISE inside: True, every 3x3 stride-1 depthwise pass by the nine-tap loop; False, none."""
    return mock.patch.object(conv_ops, "FUSED_DEPTHWISE", enabled)


def recording_fused_choices(answers: list):
    """fused_depthwise_pays inside, its answers appended to ``answers`` call by call."""
    original = conv_ops.fused_depthwise_pays
    return mock.patch.object(conv_ops, "fused_depthwise_pays", lambda geom: answers.append(original(geom)) or answers[-1])


@st.composite
def depthwise_config(draw):
    """Depthwise 3x3 stride-1 conv2d arguments (2-4 channels: one channel is an ordinary conv2d): dilations 1-3, paddings up to beyond the kernel's reach
    (every tap of an output in the padding), channel multipliers 1-3, small and odd sizes."""
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 7)), draw(st.integers(0, 7)))
    size = tuple(max(1, 2 * d + 1 - 2 * p) + draw(st.integers(0, 6)) for d, p in zip(dilation, padding))
    return dict(n=draw(st.integers(1, 2)), channels=draw(st.integers(2, 4)), multiplier=draw(st.integers(1, 3)),
                size=size, padding=padding, dilation=dilation, bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float32, np.float64])), seed=draw(st.integers(0, 2**16)))


def _arrays(cfg):
    rng = np.random.default_rng(cfg["seed"])
    out = cfg["channels"] * cfg["multiplier"]
    arrays = [rng.standard_normal((cfg["n"], cfg["channels"]) + cfg["size"]), rng.standard_normal((out, 1, 3, 3))]
    if cfg["bias"]:
        arrays.append(rng.standard_normal(out))
    return [a.astype(cfg["dtype"]) for a in arrays]


@examples(120)
@given(cfg=depthwise_config())
def test_the_nine_tap_loop_matches_torch_reference_and_finite_differences(cfg):
    arrays = _arrays(cfg)
    kwargs = dict(padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["channels"])
    answers = []
    with fused(), recording_fused_choices(answers):
        check_op(F.conv2d, arrays, TF.conv2d, F.conv2d_reference, kwargs=kwargs,
                 gradcheck_inputs=sum(a.size for a in arrays) <= 300)
    assert answers and all(answers), "a depthwise pass did not take the nine-tap loop"


@pytest.mark.parametrize("pass_kind", [K.FORWARD, K.INPUT_GRAD, K.WEIGHT_GRAD], ids=["forward", "input", "weight"])
@pytest.mark.parametrize("size, padding, dilation, multiplier", [((9, 7), (1, 1), (1, 1), 1), ((6, 11), (3, 0), (2, 1), 2),
                                                                 ((5, 5), (6, 6), (1, 2), 1), ((8, 8), (6, 6), (6, 6), 3)])
def test_the_nine_tap_loop_is_the_per_tap_loop(pass_kind, size, padding, dilation, multiplier):
    # both kernels on the same arrays: the output plane of FORWARD / INPUT_GRAD is overwritten (garbage
    # in it first), the taps of WEIGHT_GRAD are summed into
    geom = conv_geometry("conv2d", size, (3, 3), 1, padding, dilation)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 3) + size), rng.standard_normal((3 * multiplier, 1, 3, 3))
    g = rng.standard_normal((2, 3 * multiplier, geom.oh, geom.ow))
    results = []
    for nine_taps in (True, False):
        image, grid, taps = x.copy(), g.copy(), w.copy()
        if pass_kind == K.INPUT_GRAD:
            image[:] = np.nan
        elif pass_kind == K.FORWARD:
            grid[:] = np.nan
        K.depthwise_serial(image, grid, taps, pass_kind, *geom.kernel_args(), nine_taps)
        results.append({K.FORWARD: grid, K.INPUT_GRAD: image, K.WEIGHT_GRAD: taps}[pass_kind])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12)


def test_the_parallel_kernel_matches_torch():
    # 2 x 16 x 128 x 128 floats: above threads.GRAIN, so the prange kernel runs (on one thread here)
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((2, 16, 128, 128)).astype(np.float32),
              rng.standard_normal((16, 1, 3, 3)).astype(np.float32), rng.standard_normal(16).astype(np.float32)]
    with fused():
        check_op(F.conv2d, arrays, TF.conv2d, kwargs=dict(padding=1, groups=16), gradcheck_inputs=False)


@pytest.mark.parametrize("size, padding, dilation, stride, kernel, expected", [
    (64, 1, 1, 1, 3, True),  # 2% of the reads in the padding
    (32, 6, 6, 1, 3, True),  # 23%
    (16, 1, 1, 1, 3, True),  # 8%
    (16, 4, 4, 1, 3, False),  # 31%: the per-tap loop skips them
    (8, 2, 2, 1, 3, False),  # 31%
    (8, 6, 6, 1, 3, False),  # 75%
    (64, 1, 1, 2, 3, False),  # stride 2: the per-tap loop only
    (64, 2, 1, 1, 5, False),  # 5x5: the per-tap loop only
])
def test_which_depthwise_passes_take_the_nine_tap_loop(size, padding, dilation, stride, kernel, expected):
    geom = conv_geometry("conv2d", (size, size), (kernel, kernel), stride, padding, dilation)
    assert conv_ops.FUSED_DEPTHWISE is None
    assert conv_ops.fused_depthwise_pays(geom) is expected
    with fused(True):
        assert conv_ops.fused_depthwise_pays(geom) is (kernel == 3 and stride == 1)
    with fused(False):
        assert conv_ops.fused_depthwise_pays(geom) is False
