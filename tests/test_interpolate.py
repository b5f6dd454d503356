"""F.interpolate: bicubic's same-size gradient, gradcheck, the lecture's 2x2 -> 4x4 tables, the
module, and bad arguments. (Random cases of every mode against torch and the loop reference are rows
of tests/op_table.py.)"""
import numpy as np
import pytest

import minseg as ms
import minseg.functional as F
import minseg.nn as nn
from minseg.testing import gradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")

TF = torch.nn.functional

SLIDE = np.array([[[[1, 2], [3, 4]]]], np.float32)
SLIDE_TABLES = {  # the lecture's 2x2 -> 4x4 upsampling tables, printed to two decimals
    "nearest": [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]],
    "bilinear": [[1.00, 1.25, 1.75, 2.00], [1.50, 1.75, 2.25, 2.50],
                 [2.50, 2.75, 3.25, 3.50], [3.00, 3.25, 3.75, 4.00]],
    "bicubic": [[0.68, 1.02, 1.56, 1.89], [1.35, 1.68, 2.23, 2.56],
                [2.44, 2.77, 3.32, 3.65], [3.11, 3.44, 3.98, 4.32]],
}
def test_bicubic_same_size_gradient_is_the_true_adjoint():
    """5 -> 5 pixels with scale_factor 1.1 resamples (forward equals torch), so the gradient is not
    the identity that torch's backward returns there; ours passes gradcheck."""
    x = np.random.default_rng(3).standard_normal((1, 1, 5, 5))
    forward = F.interpolate(ms.tensor(x), scale_factor=1.1, mode="bicubic").data
    theirs = TF.interpolate(torch.tensor(x), scale_factor=1.1, mode="bicubic").numpy()
    np.testing.assert_allclose(forward, theirs, atol=1e-12)
    assert not np.allclose(forward, x)
    assert gradcheck(lambda t: F.interpolate(t, scale_factor=1.1, mode="bicubic"), [x])


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_slide_tables(mode):
    out = F.interpolate(ms.tensor(SLIDE), scale_factor=2, mode=mode).data[0, 0]
    assert np.all(np.abs(out - np.array(SLIDE_TABLES[mode])) <= 0.005 + 1e-6), out
    loops = F.interpolate_reference(SLIDE, size=(4, 4), mode=mode)[0, 0]
    assert np.all(np.abs(loops - np.array(SLIDE_TABLES[mode])) <= 0.005 + 1e-6), loops


def test_bilinear_worked_point_from_the_roi_slide():
    """f(6.5, 5.8) = 0.5 * 0.2 (f65 + f75) + 0.5 * 0.8 (f66 + f76), read with align_corners=True
    (input pixel i at coordinate i): a 2x2 resize of the 4 neighbours at the right fractions."""
    f = np.zeros((1, 1, 8, 8))
    f[0, 0, 5, 6], f[0, 0, 5, 7], f[0, 0, 6, 6], f[0, 0, 6, 7] = 1.0, 2.0, 3.0, 4.0  # f[y, x]
    want = 0.5 * 0.2 * (1.0 + 2.0) + 0.5 * 0.8 * (3.0 + 4.0)
    # y = 5.8 and x = 6.5 are output (29, 13) of 8 -> 36 rows and 8 -> 15 columns with align_corners
    out = F.interpolate(ms.tensor(f), size=(36, 15), mode="bilinear", align_corners=True).data
    assert abs(out[0, 0, 29, 13] - want) < 1e-12


@pytest.mark.parametrize("mode, corners", [("nearest", None), ("bilinear", False), ("bilinear", True),
                                           ("bicubic", False), ("bicubic", True)])
def test_gradcheck(mode, corners):
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    assert gradcheck(lambda t: F.interpolate(t, size=(5, 3), mode=mode, align_corners=corners), [x])
    assert gradcheck(lambda t: F.interpolate(t, scale_factor=1.7, mode=mode, align_corners=corners), [x])


def test_upsample_module():
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 5)).astype(np.float32)
    layer = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    theirs = TF.interpolate(torch.tensor(x), scale_factor=2, mode="bilinear").numpy()
    np.testing.assert_allclose(layer(ms.tensor(x)).data, theirs, atol=1e-6)
    assert "bilinear" in repr(layer)


@pytest.mark.parametrize("kwargs, words", [
    ({"size": 4, "scale_factor": 2}, "exactly one of size or scale_factor"),
    ({}, "exactly one of size or scale_factor"),
    ({"size": 4, "align_corners": True}, "align_corners"),
    ({"size": 4, "mode": "linear"}, "mode"),
    ({"size": (4, 4, 4)}, "size"),
    ({"size": 0}, "size"),
    ({"scale_factor": -1.0}, "scale_factor"),
    ({"scale_factor": 0.1}, "scale_factor"),
    ({"scale_factor": (2, 2, 2)}, "scale_factor"),
    ({"size": 4, "recompute_scale_factor": True}, "recompute_scale_factor"),
])
def test_bad_arguments_name_the_argument(kwargs, words):
    with pytest.raises(ValueError, match=words):
        F.interpolate(ms.tensor(np.zeros((1, 1, 3, 3), np.float32)), **kwargs)


def test_bad_input():
    with pytest.raises(ValueError, match="input must be 4-D"):
        F.interpolate(ms.tensor(np.zeros((3, 3), np.float32)), size=4)
    with pytest.raises(TypeError, match="floating-point"):
        F.interpolate(ms.tensor(np.zeros((1, 1, 3, 3), np.int64)), size=4)
