"""The table of ops: one row per op (or per size regime of an op), each naming the op, its torch twin,
its loop reference (and reference backward) and a hypothesis strategy of ``Case``s. tests/test_op_table.py
runs ``minseg.testing.check_op`` on every row, so adding a row gives a new op every check:

    Row("conv2d", F.conv2d, TF.conv2d, F.conv2d_reference, S.conv_config().map(_conv_case), examples=120)

A case's ``inputs`` are ndarrays (the differentiable ones first by convention), its ``kwargs`` the
op's other arguments by torch's names; ``differentiable`` lists the inputs to differentiate
(default: every float input).
"""
from typing import Callable, NamedTuple

import numpy as np
import torch
import torchvision
from hypothesis import strategies as st

import minseg.functional as F
from tests import strategies as S

TF = torch.nn.functional


class Case(NamedTuple):
    inputs: list
    kwargs: dict


class Row(NamedTuple):
    name: str
    op: Callable
    torch_op: Callable | None
    reference: Callable | None
    cases: st.SearchStrategy
    examples: int = 100
    reference_backward: Callable | None = None
    differentiable: tuple | None = None
    slow_examples: int = 0  # more examples in the slow run (pytest -m slow), for the costly rows
    atol: float | None = None  # a tighter absolute tolerance than TOLERANCES' (roi and interpolate: 2e-5)


# ----- cases: the shared strategies as (inputs, kwargs) ----------------------------------------------
def _conv_case(cfg, transposed=False):
    names = ("stride", "padding", "output_padding", "groups", "dilation") if transposed else \
        ("stride", "padding", "dilation", "groups")
    return Case(S.conv_arrays(cfg, transposed), {k: cfg[k] for k in names})


def _fold_case(config):
    """fold's input: unfold's output shape for a drawn image (so the column count always fits)."""
    x, kwargs = config
    columns = TF.unfold(torch.tensor(x), **kwargs).numpy() if x.shape[0] else \
        np.zeros((0,) + TF.unfold(torch.tensor(x[:1]), **kwargs).shape[1:], x.dtype)
    noise = np.random.default_rng(x.size).standard_normal(columns.shape).astype(x.dtype)
    return Case([noise], dict(kwargs, output_size=x.shape[-2:]))


def _no_padding_only_window(case):
    """True when every max-pooling window sees the input (torch's index is garbage otherwise)."""
    _, indices = F.max_pool2d(*case.inputs, **case.kwargs)
    return bool((indices.data >= 0).all())


def _max_pool_case(config):
    x, k, s, p, d, ceil = config
    return Case([x], dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True))


@st.composite
def _avg_pool_cases(draw):
    x, k, s, p, _, ceil = draw(S.pool_configs(dilation=False))
    return Case([x], dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil,
                          count_include_pad=draw(st.booleans()), divisor_override=draw(st.sampled_from([None, None, 1, 3]))))


@st.composite
def _adaptive_cases(draw):
    h, w, out_h = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    out_w = draw(st.one_of(st.none(), st.integers(1, 9)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal((draw(st.integers(0, 2)), 3, h, w))
    return Case([x.astype(dtype)], dict(output_size=(out_h, out_w)))


def _unpool_case(config):
    values, indices, k, s, p, size = config
    return Case([values, indices], dict(kernel_size=k, stride=s, padding=p, output_size=size))


def _resize_case(config):
    x, kwargs = config
    return Case([x], kwargs)


def _torch_grad_differs(case):
    """torch's bicubic backward copies the gradient when the size is unchanged, even where its forward
    resamples (see test_interpolate.test_bicubic_same_size_gradient_is_the_true_adjoint)."""
    x, kwargs = case.inputs[0], case.kwargs
    if kwargs["mode"] != "bicubic":
        return False
    return tuple(TF.interpolate(torch.tensor(x[:1, :1] if x.shape[0] else x), **kwargs).shape[-2:]) == x.shape[-2:]


def _resize_cases(*modes):
    return st.one_of(*[S.resize_configs(mode) for mode in modes]).map(_resize_case).filter(
        lambda case: not _torch_grad_differs(case))


@st.composite
def _roi_align_cases(draw, **sizes):
    x, boxes, out, scale = draw(S.problems(**sizes))
    return Case([x, boxes], dict(output_size=out, spatial_scale=scale,
                                 sampling_ratio=draw(st.sampled_from([-1, 0, 1, 2, 3, 4])), aligned=draw(st.booleans())))


@st.composite
def _roi_pool_cases(draw, **sizes):
    x, boxes, out, scale = draw(S.problems(**sizes))
    return Case([x, boxes], dict(output_size=out, spatial_scale=scale))


def _ce_case(case):
    x, t, weight, ignore_index, reduction = case
    return Case([x, t], dict(weight=weight, ignore_index=ignore_index, reduction=reduction))


def _bce_case(case):
    x, y, weight, pos_weight, reduction = case
    return Case([x, y], dict(weight=weight, reduction=reduction, pos_weight=pos_weight))


def _overlap_case(case):
    x, t, eps, ignore_index, _ = case
    return Case([x, t], dict(eps=eps, ignore_index=ignore_index))


# ----- torch twins whose arguments are not all tensors ----------------------------------------------
def _as_torch(a):
    return None if a is None else torch.from_numpy(a)


def _pad_torch(input, pad, mode="constant", value=0.0):
    """torch's F.pad; its reflect / replicate modes pad only the last axis of a 2-D / 3-D input, so a
    4-D input with two pads goes through as a stack of planes."""
    if mode == "constant":
        return TF.pad(input, pad, mode=mode, value=value)
    if len(pad) == 2:
        n, c, h, w = input.shape
        return TF.pad(input.reshape(n * c, h, w), pad, mode=mode).reshape(n, c, h, w + pad[0] + pad[1])
    return TF.pad(input, pad, mode=mode)


def _roi_align_torch(input, boxes, **kwargs):
    return torchvision.ops.roi_align(input, boxes, **kwargs)


def _roi_pool_torch(input, boxes, **kwargs):
    return torchvision.ops.roi_pool(input, boxes, **kwargs)


def _cross_entropy_torch(input, target, weight=None, **kwargs):
    return TF.cross_entropy(input, target, weight=_as_torch(weight), **kwargs)


def _bce_torch(input, target, weight=None, pos_weight=None, **kwargs):
    return TF.binary_cross_entropy_with_logits(input, target, weight=_as_torch(weight),
                                               pos_weight=_as_torch(pos_weight), **kwargs)


def overlap_torch(kind, logits, target, eps=1.0, ignore_index=None):
    """The slides' soft Dice / Jaccard formula written directly in torch (autograd does the backward)."""
    k = logits.shape[1]
    p = torch.softmax(logits, dim=1)
    t = torch.as_tensor(target)
    valid = torch.ones_like(t, dtype=p.dtype) if ignore_index is None else (t != ignore_index).to(p.dtype)
    safe = torch.where(t == ignore_index, 0, t) if ignore_index is not None else t
    y = torch.nn.functional.one_hot(safe, k)
    y = y.movedim(-1, 1).to(p.dtype) * valid.unsqueeze(1)
    p = p * valid.unsqueeze(1)
    dims = (0,) + tuple(range(2, p.ndim))
    inter, total = (p * y).sum(dims), p.sum(dims) + y.sum(dims)
    if kind == "dice":
        return (1 - (2 * inter + eps) / (total + eps)).mean()
    return (1 - (inter + eps) / (total - inter + eps)).mean()


ROWS = [
    Row("pad", F.pad, _pad_torch, None, S.pad_configs().map(_resize_case), 300),
    Row("conv2d", F.conv2d, TF.conv2d, F.conv2d_reference, S.conv_config().map(_conv_case), 120, slow_examples=500),
    Row("conv2d 1x1", F.conv2d, TF.conv2d, F.conv2d_reference, S.pointwise_conv_config().map(_conv_case), 120),
    Row("conv_transpose2d", F.conv_transpose2d, TF.conv_transpose2d, F.conv_transpose2d_reference,
        S.transpose_config().map(lambda cfg: _conv_case(cfg, transposed=True)), 120, slow_examples=500),
    Row("unfold", F.unfold, TF.unfold, F.unfold_reference, S.unfold_configs().map(_resize_case), 80,
        slow_examples=500),
    Row("fold", F.fold, TF.fold, F.fold_reference, S.unfold_configs().map(_fold_case), 80, slow_examples=500),
    Row("max_pool2d", F.max_pool2d, TF.max_pool2d, F.max_pool2d_reference,
        S.pool_configs().map(_max_pool_case).filter(_no_padding_only_window), 300),
    Row("avg_pool2d", F.avg_pool2d, TF.avg_pool2d, F.avg_pool2d_reference, _avg_pool_cases(), 300),
    Row("adaptive_avg_pool2d", F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, F.adaptive_avg_pool2d_reference,
        _adaptive_cases(), 300),
    Row("max_unpool2d", F.max_unpool2d, TF.max_unpool2d, F.max_unpool2d_reference,
        S.unpool_configs().map(_unpool_case), 300, differentiable=(0,)),
    *[Row(f"interpolate {modes[0]}", F.interpolate, TF.interpolate, F.interpolate_reference, _resize_cases(*modes),
          examples, atol=2e-5) for modes, examples in [(("nearest",), 300), (("bilinear",), 300), (("bicubic",), 300),
                                            (("nearest-exact", "area"), 100)]],
    Row("roi_align", F.roi_align, _roi_align_torch, None, _roi_align_cases(), 350, differentiable=(0,), atol=2e-5),
    Row("roi_align small", F.roi_align, _roi_align_torch, F.roi_align_reference,
        _roi_align_cases(max_side=7, max_out=4), 60, F.roi_align_reference_backward, differentiable=(0,),
        atol=2e-5),
    Row("roi_pool", F.roi_pool, _roi_pool_torch, None, _roi_pool_cases(), 350, differentiable=(0,), atol=2e-5),
    Row("roi_pool small", F.roi_pool, _roi_pool_torch, F.roi_pool_reference, _roi_pool_cases(max_side=7, max_out=4),
        60, F.roi_pool_reference_backward, differentiable=(0,), atol=2e-5),
    *[Row(name, getattr(F, name), getattr(TF, name), getattr(F, f"{name}_reference"),
          S.softmax_config().map(lambda config: Case([config[0]], {"dim": config[1]})), 100)
      for name in ("softmax", "log_softmax")],
    Row("cross_entropy", F.cross_entropy, _cross_entropy_torch, F.cross_entropy_reference,
        S.ce_case().map(_ce_case), 300),
    # the loop reference takes log(1 - sigmoid(x)) literally, which is -inf past x ~ 37: small logits only
    Row("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, _bce_torch, None,
        S.bce_case().map(_bce_case), 200),
    Row("binary_cross_entropy_with_logits small", F.binary_cross_entropy_with_logits, _bce_torch,
        F.binary_cross_entropy_with_logits_reference, S.bce_case(scales=(1.0, 4.0)).map(_bce_case), 60),
    Row("dice_loss", F.dice_loss, lambda *a, **k: overlap_torch("dice", *a, **k), F.dice_loss_reference,
        S.overlap_case().map(_overlap_case), 100),
    Row("jaccard_loss", F.jaccard_loss, lambda *a, **k: overlap_torch("jaccard", *a, **k), F.jaccard_loss_reference,
        S.overlap_case().map(_overlap_case), 100),
]


def row_named(name: str) -> Row:
    """The op table's row called ``name`` (e.g. to run its cases under a forced fast path)."""
    return next(row for row in ROWS if row.name == name)


# finite differences cost two forward passes per element: only cases up to this size are gradchecked
GRADCHECK_MAX_ELEMENTS = 400


def check_row(row: Row, case: Case) -> None:
    """One case of ``row`` through minseg.testing.check_op: torch, the loop reference (and its backward),
    and gradcheck in float64 where the differentiable inputs have at most GRADCHECK_MAX_ELEMENTS elements."""
    from minseg.testing import check_op

    wanted = row.differentiable or [i for i, a in enumerate(case.inputs) if np.asarray(a).dtype.kind == "f"]
    size = sum(np.asarray(case.inputs[i]).size for i in wanted)
    check_op(row.op, case.inputs, row.torch_op, row.reference, row.reference_backward, kwargs=case.kwargs,
             differentiable=row.differentiable, gradcheck_inputs=size <= GRADCHECK_MAX_ELEMENTS, atol=row.atol)
