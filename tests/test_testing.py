"""minseg.testing helpers: unavailable (check cells block a library shortcut) and check_op's tolerance
overrides."""
import numpy as np
import pytest

import minseg as ms
import minseg.functional as F
from minseg import metrics
from minseg.functional import conv2d as imported_early
from minseg.testing import unavailable


def test_blocks_every_reference_and_restores_on_exit():
    x, w = ms.tensor(np.ones((1, 1, 3, 3))), ms.tensor(np.ones((1, 1, 3, 3)))
    before = F.conv2d(x, w).data
    with unavailable(F.conv2d, metrics.iou, reason="write it from F.unfold"):
        with pytest.raises(RuntimeError, match=r"conv2d is unavailable while this check runs: write it"):
            F.conv2d(x, w)
        with pytest.raises(RuntimeError, match="conv2d is unavailable"):
            imported_early(x, w)  # a name bound before the block is blocked too
        with pytest.raises(RuntimeError, match="iou is unavailable"):
            metrics.iou(np.zeros(4, int), np.zeros(4, int), 2)
        assert F.unfold(x, 3).shape == (1, 9, 1)  # everything else still works
    np.testing.assert_array_equal(F.conv2d(x, w).data, before)
    np.testing.assert_array_equal(imported_early(x, w).data, before)


def test_restores_after_an_error_inside_the_block():
    with pytest.raises(ValueError):
        with unavailable(F.conv2d):
            raise ValueError("learner's bug")
    assert F.conv2d(ms.tensor(np.ones((1, 1, 2, 2))), ms.tensor(np.ones((1, 1, 1, 1)))).shape == (1, 1, 2, 2)


def test_rejects_what_it_cannot_block():
    with pytest.raises(TypeError, match="unavailable: expected plain Python functions, got <ufunc 'add'>"):
        unavailable(np.add)


def test_check_op_atol_tightens_the_float32_bound():
    """An op off by 5e-5 passes float32's default atol 1e-4 against torch, and fails a row's atol=2e-5."""
    import torch

    from minseg.testing import check_op

    x = np.zeros((3, 4), np.float32)
    check_op(lambda t: t + 5e-5, [x], lambda t: t, gradcheck_inputs=False)
    with pytest.raises(AssertionError):
        check_op(lambda t: t + 5e-5, [x], lambda t: t, gradcheck_inputs=False, atol=2e-5)
    check_op(lambda t: t * 1.0, [x], torch.clone, gradcheck_inputs=False, atol=2e-5)


def test_check_op_rtol_tightens_and_never_loosens():
    """A relative error of 5e-5 passes float32's rtol 1e-4, fails rtol=1e-5, and rtol=1 cannot admit 1e-2."""
    from minseg.testing import check_op

    x = np.full((2, 3), 100.0, np.float32)
    forward_only = dict(differentiable=(), gradcheck_inputs=False)
    check_op(lambda t: t * (1 + 5e-5), [x], lambda t: t, **forward_only)
    with pytest.raises(AssertionError):
        check_op(lambda t: t * (1 + 5e-5), [x], lambda t: t, rtol=1e-5, **forward_only)
    with pytest.raises(AssertionError):
        check_op(lambda t: t * (1 + 1e-2), [x], lambda t: t, rtol=1.0, **forward_only)


def test_check_op_failure_names_the_call_the_worst_element_and_a_missing_gradient():
    """What a lecture's check cell shows a learner: inputs' dtypes and shapes, the keyword arguments,
    the worst element (index, got, expected), a wrong shape, and an input that no gradient reached."""
    import torch

    from minseg.testing import check_op

    x = np.arange(6.0).reshape(2, 3)

    def off_at_one(t, scale=1.0):
        return t * scale + ms.tensor(np.where(np.arange(6).reshape(2, 3) == 4, 0.5, 0.0))

    with pytest.raises(AssertionError, match=r"output 0 of off_at_one\(float64 \(2, 3\), scale=2\.0\) vs torch; "
                                             r"worst at \(1, 1\): got 8\.5, expected 8\.0"):
        check_op(off_at_one, [x], lambda t, scale: t * scale, kwargs=dict(scale=2.0), gradcheck_inputs=False)

    def transposed(t):
        return t.transpose(0, 1)

    with pytest.raises(AssertionError, match=r"output 0 of transposed\(float64 \(2, 3\)\) vs torch: "
                                             r"shape \(3, 2\), expected \(2, 3\)"):
        check_op(transposed, [x], torch.clone, gradcheck_inputs=False)

    def detached_weight(t, w):
        return t * ms.tensor(w.data)

    with pytest.raises(AssertionError, match=r"gradient of input 1 of detached_weight\(float64 \(2, 3\), "
                                             r"float64 \(2, 3\)\) vs torch: no gradient reached input 1"):
        check_op(detached_weight, [x, x + 1], torch.mul, gradcheck_inputs=False)
    with pytest.raises(AssertionError, match=r"returned a ndarray, expected a Tensor"):
        check_op(lambda t: t.data, [x], torch.clone, gradcheck_inputs=False)
