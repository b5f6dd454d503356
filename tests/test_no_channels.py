"""Inputs with no channels (C = 0), one or more cases per row of the op table, each against torch:
where torch computes an answer minseg gives the same (check_op: shapes, values, gradients), where
torch rejects the input minseg raises a ValueError naming the argument. (Empty batches and empty
spatial axes are drawn by the op table's own strategies.)"""
from typing import NamedTuple

import numpy as np
import pytest
import torch

from minseg.testing import check_op
from tests.op_table import ROWS

pytestmark = pytest.mark.usefixtures("one_thread")

ROW = {row.name: row for row in ROWS}
NO_CHANNELS = np.zeros((2, 0, 5, 6))
BOXES = np.array([[0, 0.0, 0.0, 3.0, 3.0], [1, 1.0, 1.0, 4.0, 5.0]])
NO_CHANNEL_ERROR = r"input must have at least one channel \(as in torch, only the batch may be empty\), " \
                   r"got shape \(2, 0, "


class Case(NamedTuple):
    row: str
    inputs: list
    kwargs: dict
    torch_does: str  # 'all' (forward and backward), 'forward' (its backward raises) or 'raise'
    error: str = NO_CHANNEL_ERROR  # what minseg's ValueError must say where torch raises


def _zeros(*shape, dtype=np.float64):
    return np.zeros(shape, dtype)


CASES = [
    Case("pad", [NO_CHANNELS], dict(pad=(1, 2, 1, 1)), "all"),
    Case("pad", [NO_CHANNELS], dict(pad=(1, 2, 1, 1), mode="reflect"), "raise"),
    Case("pad", [NO_CHANNELS], dict(pad=(1, 2, 1, 1), mode="replicate"), "raise"),
    # torch's conv2d answers an input with no channels with no output channels (not the bias)
    Case("conv2d", [NO_CHANNELS, _zeros(3, 0, 3, 3), np.arange(3.0)], dict(padding=1, stride=2), "all"),
    Case("conv2d", [NO_CHANNELS, _zeros(2, 0, 3, 3)], dict(groups=2), "all"),
    Case("conv2d", [NO_CHANNELS, _zeros(0, 0, 3, 3)], {}, "raise",
         r"weight must not be empty \(torch rejects it too\), got shape \(0, 0, 3, 3\)"),
    Case("conv2d 1x1", [NO_CHANNELS, _zeros(4, 0, 1, 1)], {}, "all"),
    Case("conv_transpose2d", [NO_CHANNELS, _zeros(0, 3, 3, 3)], {}, "raise",
         r"weight must not be empty \(torch rejects it too\), got shape \(0, 3, 3, 3\)"),
    Case("unfold", [NO_CHANNELS], dict(kernel_size=2), "raise"),
    Case("fold", [_zeros(2, 0, 20)], dict(output_size=(5, 6), kernel_size=2), "raise",
         NO_CHANNEL_ERROR.replace(r"\(2, 0, ", r"\(2, 0, 20\)")),
    Case("max_pool2d", [NO_CHANNELS], dict(kernel_size=2, return_indices=True), "raise"),
    Case("avg_pool2d", [NO_CHANNELS], dict(kernel_size=2), "raise"),
    Case("adaptive_avg_pool2d", [NO_CHANNELS], dict(output_size=3), "forward"),
    Case("max_unpool2d", [_zeros(2, 0, 2, 3), _zeros(2, 0, 2, 3, dtype=np.int64)], dict(kernel_size=2),
         "raise"),
    *[Case(f"interpolate {mode}", [NO_CHANNELS], dict(scale_factor=2, mode=mode), "raise")
      for mode in ("nearest", "bilinear", "bicubic")],
    Case("interpolate nearest-exact", [NO_CHANNELS], dict(scale_factor=2, mode="nearest-exact"), "raise"),
    Case("interpolate nearest-exact", [NO_CHANNELS], dict(size=(3, 7), mode="area"), "forward"),
    *[Case(name, [NO_CHANNELS, BOXES], dict(output_size=2, spatial_scale=0.5), "all")
      for name in ("roi_align", "roi_align small", "roi_pool", "roi_pool small")],
    Case("softmax", [NO_CHANNELS], dict(dim=1), "all"),
    Case("log_softmax", [NO_CHANNELS], dict(dim=1), "all"),
    *[Case("cross_entropy", [NO_CHANNELS, _zeros(2, 5, 6, dtype=np.int64)], dict(ignore_index=0, reduction=r),
           "all") for r in ("mean", "sum", "none")],
    Case("cross_entropy", [NO_CHANNELS, _zeros(2, 5, 6, dtype=np.int64)], {}, "raise",
         r"target values must lie in \[0, 0\) or equal ignore_index=-100, found 0"),
    *[Case(name, [NO_CHANNELS, _zeros(2, 0, 5, 6)], dict(reduction=r), "all")
      for name in ("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits small")
      for r in ("mean", "none")],
]


def _torch_outcome(row, case) -> str:
    """What torch does with the case: 'all', 'forward' (forward only) or 'raise'."""
    tensors = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in case.inputs]
    try:
        out = row.torch_op(*tensors, **case.kwargs)
    except (RuntimeError, IndexError, ValueError):
        return "raise"
    try:
        (out[0] if isinstance(out, tuple) else out).sum().backward()
    except RuntimeError:
        return "forward"
    return "all"


def test_every_row_with_channels_has_a_case():
    losses_without_a_torch_op = {"dice_loss", "jaccard_loss"}  # their twin is a formula, not torch's op
    assert set(ROW) - losses_without_a_torch_op == {case.row for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.row} {c.kwargs}" for c in CASES])
def test_no_channels_like_torch(case):
    row = ROW[case.row]
    assert _torch_outcome(row, case) == case.torch_does, "torch changed: update the case"
    if case.torch_does == "raise":
        with pytest.raises(ValueError, match=case.error):
            row.op(*case.inputs, **case.kwargs)
    elif case.torch_does == "all":
        check_op(row.op, case.inputs, row.torch_op, kwargs=case.kwargs, differentiable=row.differentiable)
    else:  # torch's forward only (its backward rejects the empty gradient); minseg's backward runs
        check_op(row.op, case.inputs, row.torch_op, kwargs=case.kwargs, differentiable=())
        check_op(row.op, case.inputs, kwargs=case.kwargs)  # backward (an empty gradient) and gradcheck
