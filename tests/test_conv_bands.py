"""conv2d's forward in bands of output rows (conv/bands.py: conv_forward_into), used when the column
matrix would exceed COLUMN_BUDGET_BYTES. The budget is shrunk here so that the table's small random
convolutions are cut into bands of one or a few rows; each must still agree with torch (forward and
backward), the loop reference and finite differences."""
import contextlib

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minseg as ms
import minseg.functional as F
from minseg.functional.conv import bands as conv_bands
from minseg.functional.conv.geometry import conv_geometry
from tests.op_table import check_row, row_named
from tests.support import examples

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Using padding='same'")]


@contextlib.contextmanager
def budget(size: int):
    """conv2d's column-matrix budget set to ``size`` bytes inside the block (64: most convolutions run in bands)."""
    previous = conv_bands.COLUMN_BUDGET_BYTES
    conv_bands.COLUMN_BUDGET_BYTES = size
    try:
        yield
    finally:
        conv_bands.COLUMN_BUDGET_BYTES = previous


def test_a_large_budget_runs_one_band_and_a_small_one_several():
    geom = conv_geometry("conv2d", (9, 7), (3, 3), 1, 1, 1)
    for size, rows in [(64, 1), (2 * 504, 2), (2**30, geom.oh)]:  # one row: 2*9*7*4 = 504 bytes
        with budget(size):
            assert conv_bands.band_rows(geom, channels=2, n=1, itemsize=4) == rows, size


@examples(120)
@given(data=st.data())
def test_banded_conv2d_matches_torch_reference_and_finite_differences(data):
    conv2d = row_named("conv2d")
    with budget(64):
        check_row(conv2d, data.draw(conv2d.cases, label="case"))


@budget(64)
def test_a_strided_dilated_convolution_in_one_row_bands_matches_torch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 11, 10)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    kwargs = dict(stride=2, padding=3, dilation=2)
    ours = F.conv2d(ms.tensor(x), ms.tensor(w), ms.tensor(b), **kwargs).numpy()
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kwargs).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
