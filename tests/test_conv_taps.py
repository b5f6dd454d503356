"""conv2d's forward without the kernel taps that read only zero padding (conv/taps.py, conv/bands.py:
conv_forward_by_taps), used where at least TAP_SKIP_SHARE of the column matrix would be padding. The
segments are checked against numbers worked out by hand (DeepLab's ASPP on a 65x65 map); with the share
set to 0 every convolution runs by blocks of taps and must agree with torch (forward and backward), the
loop reference and finite differences, dilations beyond the input, strides, groups and bias-only
blocks included."""
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
from minseg.functional.conv.taps import Segment, padding_tap_share, tap_blocks, tap_segments
from minseg.testing import check_op
from tests.op_table import check_row, row_named
from tests.support import examples

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:Using padding='same'")]

TF = torch.nn.functional


@contextlib.contextmanager
def skip_share(share: float, budget: int | None = None):
    """TAP_SKIP_SHARE (0: every convolution with padding taps by blocks of taps), with no minimum size
    (TAP_SKIP_MIN_MACS 0), and optionally COLUMN_BUDGET_BYTES inside."""
    previous = conv_bands.TAP_SKIP_SHARE, conv_bands.TAP_SKIP_MIN_MACS, conv_bands.COLUMN_BUDGET_BYTES
    conv_bands.TAP_SKIP_SHARE, conv_bands.TAP_SKIP_MIN_MACS = share, 0
    if budget is not None:
        conv_bands.COLUMN_BUDGET_BYTES = budget
    try:
        yield
    finally:
        conv_bands.TAP_SKIP_SHARE, conv_bands.TAP_SKIP_MIN_MACS, conv_bands.COLUMN_BUDGET_BYTES = previous


def test_aspp_rate_36_segments_by_hand():
    # 3x3, dilation = padding = 36, 65 rows: kernel row 0 reads row oy - 36 (inside for oy >= 36),
    # row 1 reads oy (always), row 2 reads oy + 36 (inside for oy < 29)
    assert tap_segments(3, 1, 36, 36, 65, 65) == [Segment(0, 29, 1, 3), Segment(29, 36, 1, 2), Segment(36, 65, 0, 2)]
    # rate 12: row 0 inside from oy = 12 on, row 2 up to oy = 52
    assert tap_segments(3, 1, 12, 12, 65, 65) == [Segment(0, 12, 1, 3), Segment(12, 53, 0, 3), Segment(53, 65, 0, 2)]
    # padding share: per axis the taps read (29 + 65 + 29) of 3 * 65 rows, squared for 2-D
    geom = conv_geometry("conv2d", (65, 65), (3, 3), 1, 36, 36)
    assert padding_tap_share(geom) == pytest.approx(1 - (123 / 195) ** 2)
    centre = [b for b in tap_blocks(geom) if b.rows.start == 29 and b.cols.start == 29]
    # the centre tap alone; its first output row (29) reads input row 29: leading padding -29
    assert centre[0].geom[:8] == (1, 1, 1, 1, -29, -29, 36, 36) and (centre[0].geom.oh, centre[0].geom.ow) == (7, 7)


def test_stride_2_segments_by_hand():
    # 3x3, dilation 3, padding 3, stride 2 over 8 rows: 4 output rows read rows 2*oy - 3 + 3*i;
    # i = 0 reads -3, -1, 1, 3 (inside for oy >= 2), i = 2 reads 3, 5, 7, 9 (inside for oy < 3)
    assert tap_segments(3, 2, 3, 3, 4, 8) == [Segment(0, 2, 1, 3), Segment(2, 3, 0, 3), Segment(3, 4, 0, 2)]


def test_a_dilation_beyond_the_input_is_the_centre_tap_as_a_1x1_convolution():
    geom = conv_geometry("conv2d", (9, 7), (3, 3), 1, 10, 10)  # every off-centre tap lands in the padding
    (block,) = tap_blocks(geom)
    assert (block.rows.first_tap, block.cols.first_tap) == (1, 1)
    assert (block.geom.kh, block.geom.kw, block.geom.ph, block.geom.pw, block.geom.oh, block.geom.ow) == (1, 1, 0, 0, 9, 7)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 9, 7)), rng.standard_normal((5, 4, 3, 3))
    centre_only = np.einsum("oc,nchw->nohw", w[:, :, 1, 1], x)  # the identity, written out
    with ms.no_grad():
        np.testing.assert_allclose(F.conv2d(ms.tensor(x), ms.tensor(w), padding=10, dilation=10).numpy(),
                                   centre_only, rtol=1e-12, atol=1e-12)


def test_blocks_no_tap_reaches_are_the_bias():
    # padding 4 around 3 rows with a 3x3 kernel: output rows 0, 1 and 7, 8 read only padding
    geom = conv_geometry("conv2d", (3, 3), (3, 3), 1, 4, 1)
    assert [s[:2] for s in tap_segments(3, 1, 4, 1, 9, 3) if s.first_tap == s.stop_tap] == [(0, 2), (7, 9)]
    assert sum(b.geom is None for b in tap_blocks(geom)) > 0
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)]
    with skip_share(0.0):
        check_op(F.conv2d, arrays, TF.conv2d, F.conv2d_reference, kwargs=dict(padding=4))


def test_which_convolutions_skip_their_padding_taps():
    # bands.skips_padding_taps, the measured rule: one block left (here the centre tap alone) always; several
    # blocks only for a large convolution with at least 40% padding products (DeepLab's ASPP at 65x65)
    def skips(n, channels, out_channels, size, rate):
        geom = conv_geometry("conv2d", (size, size), (3, 3), 1, rate, rate)
        return conv_bands.skips_padding_taps(geom, n, channels, out_channels, 1)

    assert skips(16, 64, 64, 8, 8) and skips(1, 3, 2, 7, 10)  # dilation beyond the input: the centre tap
    assert skips(1, 256, 256, 65, 24) and skips(1, 256, 256, 65, 36)  # 43% and 60% padding, 277M MACs a tap
    assert not skips(1, 256, 256, 65, 12)  # 23% padding
    assert not skips(2, 64, 64, 33, 18) and not skips(16, 64, 64, 8, 4)  # 60%, 56%, but small
    assert not skips(16, 64, 64, 8, 1)  # 16% padding in 9 blocks, most a pixel or a row
    unpadded = conv_geometry("conv2d", (64, 64), (3, 3), 1, 0, 1)  # one block with every tap
    assert not conv_bands.skips_padding_taps(unpadded, 16, 64, 64, 1)
    assert conv_bands.TAP_SKIP_SHARE == 0.4 and conv_bands.TAP_SKIP_MIN_MACS == 10**8


EXAMPLES = [  # (input shape, weight shape, conv2d kwargs): the ASPP's kinds of convolution, small
    ((1, 3, 7, 6), (2, 3, 3, 3), dict(padding=8, dilation=8)),  # dilation beyond the input: centre tap
    ((2, 2, 7, 6), (3, 2, 3, 3), dict(padding=4, dilation=4)),  # padding = dilation, partial overlap
    ((1, 3, 9, 8), (2, 3, 3, 3), dict(padding=5, dilation=5, stride=2)),
    ((2, 2, 7, 6), (3, 2, 3, 3), dict(padding=8, dilation=8, stride=2)),  # strided, centre tap only
    ((1, 4, 7, 6), (4, 2, 3, 3), dict(padding=3, dilation=3, groups=2)),
    ((2, 2, 8, 7), (3, 2, 3, 2), dict(padding=(3, 1), dilation=(3, 2), stride=(2, 1))),
    ((1, 2, 4, 5), (2, 2, 3, 3), dict(padding=5, dilation=2)),  # blocks no tap reaches
]


@pytest.mark.parametrize("budget", [None, 64])  # 64 bytes: every block is built in one-row bands too
@pytest.mark.parametrize("shapes", EXAMPLES, ids=lambda s: str(s[2]))
def test_examples_by_taps_match_torch_reference_and_finite_differences(shapes, budget):
    x_shape, w_shape, kwargs = shapes
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    with skip_share(0.0, budget):
        check_op(F.conv2d, arrays, TF.conv2d, F.conv2d_reference, kwargs=kwargs, gradcheck_inputs=budget is None)
        check_op(F.conv2d, [a.astype(np.float32) for a in arrays], TF.conv2d, kwargs=kwargs, gradcheck_inputs=False)


@pytest.mark.parametrize("shapes", EXAMPLES[:4], ids=lambda s: str(s[2]))
def test_by_taps_equals_the_full_column_matrix_in_float32_under_no_grad(shapes):
    x_shape, w_shape, kwargs = shapes
    rng = np.random.default_rng(3)
    x_shape, w_shape = (2, 16) + x_shape[2:], (8, 16 // kwargs.get("groups", 1)) + w_shape[2:]  # wider: real GEMMs
    x, w = (ms.tensor(rng.standard_normal(s).astype(np.float32)) for s in (x_shape, w_shape))
    with ms.no_grad():
        with skip_share(2.0):  # never by taps
            full = F.conv2d(x, w, **kwargs).numpy().copy()
        with skip_share(0.0):
            by_taps = F.conv2d(x, w, **kwargs).numpy()
    np.testing.assert_allclose(by_taps, full, rtol=1e-5, atol=1e-5 * np.abs(full).max())


@examples(120)
@given(data=st.data())
def test_by_taps_matches_torch_reference_and_finite_differences(data):
    conv2d = row_named("conv2d")
    with skip_share(0.0):
        check_row(conv2d, data.draw(conv2d.cases, label="case"))
