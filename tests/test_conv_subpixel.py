"""conv_transpose2d by sub-pixel decomposition (conv/subpixel.py): the phases and their taps checked
against numbers worked out by hand (kernel 4, stride 2, padding 1: the module doc's example; a kernel
the stride does not divide; empty phases; dilation), then, with the path forced on, every drawn
configuration against torch (float32 and float64, forward and backward), the loop reference and finite
differences; and the dispatcher's choice for the benchmark's shapes."""
import contextlib

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.conv import ops as conv_ops
from minseg.functional.conv import subpixel
from minseg.functional.conv.geometry import transpose_geometry
from minseg.functional.conv.subpixel import PhaseAxis, axis_plan, phase_axis, plan, use_subpixel
from minseg.testing import check_op
from tests.support import examples

pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional


@contextlib.contextmanager
def force_subpixel(enabled: bool | None):
    """subpixel.FORCE inside: True sends every conv_transpose2d down the sub-pixel path, False down
    the column path, None lets use_subpixel choose."""
    previous = subpixel.FORCE
    subpixel.FORCE = enabled
    try:
        yield
    finally:
        subpixel.FORCE = previous


def test_worked_example_kernel_4_stride_2_padding_1_by_hand():
    # o + 1 = 2q + i: even outputs (o = 0, 2, 4) get taps 1, 3; odd ones (1, 3, 5) taps 0, 2.
    # Phase 0: y[2m] = w3 x[m-1] + w1 x[m] (leading padding 1); phase 1: y[2m+1] = w2 x[m] + w0 x[m+1] (0)
    assert phase_axis(0, 4, 2, 1, 1, 6) == PhaseAxis(residue=0, count=3, taps=(1, 3), padding=1)
    assert phase_axis(1, 4, 2, 1, 1, 6) == PhaseAxis(residue=1, count=3, taps=(0, 2), padding=0)
    axis = axis_plan(4, 2, 1, 1, 6)
    # one window grid for both: 2 taps, windows start at u - 1; phase 0 at u = m, phase 1 at u = m + 1
    assert (axis.taps, axis.padding, axis.dilation, axis.windows) == (2, 1, 1, 4)
    assert [axis.offset(p) for p in axis.phases] == [0, 1]
    # the 2-D plan: four 2x2 phases, one im2col of the 3x3 input over a 4x4 grid of 2x2 windows
    geom = transpose_geometry("conv_transpose2d", (3, 3), (4, 4), 2, 1, 0, 1)
    assert (geom.height, geom.width) == (6, 6)
    the_plan = plan(geom)
    assert len(the_plan.phases()) == 4 and the_plan.geom[:10] == (2, 2, 1, 1, 1, 1, 1, 1, 4, 4)


def test_worked_example_values_by_hand():
    # x = (1, 10, 100), w = (1, 2, 3, 4): y0 = w1 x0, y1 = w2 x0 + w0 x1, y2 = w3 x0 + w1 x1,
    # y3 = w2 x1 + w0 x2, y4 = w3 x1 + w1 x2, y5 = w2 x2
    expected = [2, 3 + 10, 4 + 20, 30 + 100, 40 + 200, 300]
    x, w = ms.tensor(np.array([[[[1.0, 10.0, 100.0]]]])), ms.tensor(np.array([[[[1.0, 2.0, 3.0, 4.0]]]]))
    with force_subpixel(True), ms.no_grad():
        y = F.conv_transpose2d(x, w, stride=(1, 2), padding=(0, 1))
    np.testing.assert_array_equal(y.numpy().ravel(), expected)


def test_kernel_the_stride_does_not_divide_has_phases_of_different_sizes():
    # kernel 3, stride 2, input 3 -> output 7: o = 2q + i, even outputs get taps 0 and 2 (4 of them,
    # y[2m] = w2 x[m-1] + w0 x[m]), odd outputs tap 1 only (3 of them, y[2m+1] = w1 x[m])
    assert phase_axis(0, 3, 2, 0, 1, 7) == PhaseAxis(0, 4, (0, 2), 1)
    assert phase_axis(1, 3, 2, 0, 1, 7) == PhaseAxis(1, 3, (1,), 0)
    axis = axis_plan(3, 2, 0, 1, 7)
    assert (axis.taps, axis.padding, axis.windows) == (2, 1, 4)  # odd phase: one real tap, one padded


def test_phases_no_tap_reaches_and_phases_with_no_outputs():
    # kernel 1, stride 2: odd outputs get no tap (0 + bias)
    assert phase_axis(1, 1, 2, 0, 1, 5) == PhaseAxis(1, 2, (), 0)
    # kernel 1, stride 3, input 1: a single output pixel, the phases 1 and 2 hold no outputs at all
    assert [p.residue for p in axis_plan(1, 3, 0, 1, 1).phases] == [0]


def test_dilation_by_hand():
    # kernel 3, dilation 2, stride 2: o = 2q + 2i is always even, so phase 0 has every tap, read at
    # spacing d / gcd(d, s) = 1: y[2m] = w0 x[m] + w1 x[m-1] + w2 x[m-2] (leading padding 2); phase 1 none
    assert phase_axis(0, 3, 2, 0, 2, 9) == PhaseAxis(0, 5, (0, 1, 2), 2)
    assert phase_axis(1, 3, 2, 0, 2, 9).taps == ()
    assert axis_plan(3, 2, 0, 2, 9).dilation == 1
    # dilation 3, stride 2: taps alternate between the phases, 2*3 / 2 = 3 apart in the input
    assert phase_axis(0, 4, 2, 0, 3, 12).taps == (0, 2) and axis_plan(4, 2, 0, 3, 12).dilation == 3


def test_fcn_kernel_16_stride_8_padding_4():
    # o + 4 = 8q + i: phase r has taps r + 4 and r + 12 (r < 4) or r - 4 and r + 4 (r >= 4)
    axis = axis_plan(16, 8, 4, 1, 64)
    assert [p.taps for p in axis.phases] == [(4, 12), (5, 13), (6, 14), (7, 15),
                                             (0, 8), (1, 9), (2, 10), (3, 11)]
    assert [p.padding for p in axis.phases] == [1, 1, 1, 1, 0, 0, 0, 0] and axis.windows == 9


@st.composite
def transpose_cases(draw):
    """(arrays in float64, kwargs): kernel 1-5, stride 1-4, padding < kernel, output_padding < max(stride,
    dilation), dilation 1-2, groups 1 or 2, batch 1-3, channels 1-5, sizes 1-7, with or without bias."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, k - 1)) for k in kernel)
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    for n, k, s, p, e, d in zip(size, kernel, stride, padding, output_padding, dilation):
        assume((n - 1) * s - 2 * p + d * (k - 1) + e + 1 >= 1)
    groups = draw(st.sampled_from([1, 2]))
    top = 5 if groups == 1 else 2
    cin, cout = groups * draw(st.integers(1, top)), groups * draw(st.integers(1, top))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    batch = draw(st.integers(1, 3))
    arrays = [rng.standard_normal((batch, cin) + size), rng.standard_normal((cin, cout // groups) + kernel)]
    if draw(st.booleans()):
        arrays.append(rng.standard_normal(cout))
    return arrays, dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                        dilation=dilation)


@examples(150)
@given(case=transpose_cases())
def test_subpixel_matches_torch_reference_and_finite_differences(case):
    arrays, kwargs = case
    with force_subpixel(True):
        check_op(F.conv_transpose2d, arrays, TF.conv_transpose2d, F.conv_transpose2d_reference,
                 kwargs=kwargs, gradcheck_inputs=sum(a.size for a in arrays) <= 300)
        singles = [a.astype(np.float32) for a in arrays]
        check_op(F.conv_transpose2d, singles, TF.conv_transpose2d, kwargs=kwargs, gradcheck_inputs=False)


EXAMPLES = [  # (input shape, weight shape, kwargs): the shapes segmentation nets use, small
    ((2, 16, 5, 6), (16, 8, 4, 4), dict(stride=2, padding=1)),  # FCN / the benchmark's kind
    ((1, 6, 3, 3), (6, 6, 16, 16), dict(stride=8, padding=4)),  # FCN-8s' last upsampling
    ((2, 16, 4, 5), (16, 8, 2, 2), dict(stride=2)),  # U-Net's up-convolution: 1x1 phases
    ((2, 8, 5, 4), (8, 6, 3, 3), dict(stride=2, padding=1, output_padding=1)),  # kernel 3: padded taps
    ((2, 8, 5, 4), (8, 3, 4, 4), dict(stride=2, padding=1, groups=2)),
    ((1, 4, 4, 5), (4, 4, 4, 6), dict(stride=(2, 3), padding=(1, 2), dilation=(1, 2), output_padding=(1, 0))),
]


@pytest.mark.parametrize("shapes", EXAMPLES, ids=lambda s: str(s[2]))
@pytest.mark.parametrize("path", [True, False], ids=["subpixel", "column"])
def test_examples_on_both_paths_match_torch_in_float32(shapes, path):
    x_shape, w_shape, kwargs = shapes
    rng = np.random.default_rng(4)
    groups = kwargs.get("groups", 1)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, (w_shape[1] * groups,))]
    with force_subpixel(path):
        check_op(F.conv_transpose2d, arrays, TF.conv_transpose2d, kwargs=kwargs, gradcheck_inputs=False)


@pytest.mark.parametrize("differentiable", [(0,), (1,), (2,)], ids=["input", "weight", "bias"])
def test_only_the_gradients_asked_for_are_computed(differentiable, monkeypatch):
    calls = []
    for name in ("unstack_weight_grad", "col2im"):  # dW's last step, dx's last step
        original = getattr(subpixel, name)
        monkeypatch.setattr(subpixel, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in ((2, 3, 4, 4), (3, 2, 4, 4), (2,))]
    with force_subpixel(True):
        check_op(F.conv_transpose2d, arrays, TF.conv_transpose2d, kwargs=dict(stride=2, padding=1),
                 differentiable=differentiable, gradcheck_inputs=False)
    wanted = {(0,): {"col2im"}, (1,): {"unstack_weight_grad"}, (2,): set()}[differentiable]
    assert set(calls) == wanted


@pytest.mark.parametrize("kernel, stride, padding, expected", [
    (4, 2, 1, True),  # the benchmark's conv_transpose2d (and FCN's 2x upsampling)
    (16, 8, 4, True),  # FCN-8s' 8x upsampling
    ((4, 3), (2, 1), (1, 1), True),  # strided on one axis only
    (2, 2, 0, False),  # U-Net's up-convolution: no overlap, the column path measured as fast
    (3, 2, 1, False),  # the stride does not divide the kernel: padded taps, the column path
    (3, 1, 1, False),  # stride 1: one phase, nothing to decompose
])
def test_dispatch(kernel, stride, padding, expected):
    geom = transpose_geometry("conv_transpose2d", (32, 32), kernel, stride, padding, 0, 1)
    with force_subpixel(None):
        assert use_subpixel(geom) is expected


def test_the_benchmark_shape_runs_the_subpixel_path(monkeypatch):
    calls = []
    original = conv_ops.subpixel_forward
    monkeypatch.setattr(conv_ops, "subpixel_forward", lambda *a: calls.append(a[3]) or original(*a))
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 64, 8, 8), dtype=np.float32)
    w = rng.standard_normal((64, 64, 4, 4), dtype=np.float32)
    with force_subpixel(None), ms.no_grad():
        y = F.conv_transpose2d(ms.tensor(x), ms.tensor(w), stride=2, padding=1)
    assert len(calls) == 1 and (calls[0].height, calls[0].width) == (16, 16)
    expected = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_an_empty_batch_and_a_single_image():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3, 4, 4))
    with force_subpixel(True):
        for x in (np.zeros((0, 4, 3, 3)), rng.standard_normal((4, 3, 5))):  # (N=0, C, H, W) and (C, H, W)
            check_op(F.conv_transpose2d, [x, w], TF.conv_transpose2d, kwargs=dict(stride=2, padding=1, groups=2),
                     gradcheck_inputs=x.size > 0)
