"""conv2d's forward in bands of output rows (conv/ops.py: conv_forward_in_bands), used when the column
matrix would exceed COLUMN_BUDGET_BYTES. The budget is shrunk here so that the table's small random
convolutions are cut into bands of one or a few rows; each must still agree with torch (forward and
backward), the loop reference and finite differences."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.conv import ops as conv_ops
from minseg.testing import check_op
from tests import strategies as S
from tests.conftest import HEALTH, scaled
from tests.op_table import _conv_case

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Using padding='same'")]


@pytest.fixture
def small_budget(monkeypatch):
    """A budget of a few column-matrix rows' worth of bytes, so most convolutions run in bands."""
    monkeypatch.setattr(conv_ops, "COLUMN_BUDGET_BYTES", 64)


def test_a_large_budget_runs_one_band_and_a_small_one_several(small_budget, monkeypatch):
    geom = conv_ops.conv_geometry("conv2d", (9, 7), (3, 3), 1, 1, 1)
    assert conv_ops.band_rows(geom, channels=2, n=1, itemsize=4) == 1  # one row: 2*9*7*4 = 504 bytes
    monkeypatch.setattr(conv_ops, "COLUMN_BUDGET_BYTES", 2 * 504)
    assert conv_ops.band_rows(geom, channels=2, n=1, itemsize=4) == 2
    monkeypatch.setattr(conv_ops, "COLUMN_BUDGET_BYTES", 2**30)
    assert conv_ops.band_rows(geom, channels=2, n=1, itemsize=4) == geom.oh


# the budget fixture is constant over the examples: nothing to reset between them
@settings(max_examples=scaled(120), deadline=None,
          suppress_health_check=[*HEALTH, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_banded_conv2d_matches_torch_reference_and_finite_differences(small_budget, data):
    case = _conv_case(data.draw(S.conv_config(), label="config"))
    size = sum(a.size for a in case.inputs)
    check_op(F.conv2d, case.inputs, torch.nn.functional.conv2d, F.conv2d_reference, kwargs=case.kwargs,
             gradcheck_inputs=size <= 400)


def test_a_strided_dilated_convolution_in_one_row_bands_matches_torch(small_budget):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    kwargs = dict(stride=2, padding=3, dilation=2)
    ours = F.conv2d(ms.tensor(x), ms.tensor(w), ms.tensor(b), **kwargs).numpy()
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kwargs).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
