"""Reductions over axes (sum, mean, max) and matrix multiplication, with their backward passes."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor, as_array


def normalize_dims(op: str, dim, ndim: int) -> tuple:
    """torch's ``dim`` argument (None, int or tuple, negatives allowed) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(
                f"{op}: dim must be an int in [{-ndim}, {ndim - 1}] for a {ndim}-D tensor, got {d!r}"
            )
        out.append(int(d) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim contains a repeated axis: {dim!r}")
    return tuple(sorted(out))


def _expand_back(g: np.ndarray, shape: tuple, dims: tuple, keepdim: bool) -> np.ndarray:
    """Re-insert the reduced axes of ``g`` (as size 1) so it broadcasts against the input."""
    if not keepdim:
        g = np.expand_dims(g, dims) if dims else g
    return np.broadcast_to(g, shape)


class SumFunction(Function):
    @staticmethod
    def forward(ctx, a, dims=(), keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return np.asarray(a.sum(axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        # every input element contributes once to its sum: the gradient is copied back
        return (np.array(_expand_back(g, ctx.shape, ctx.dims, ctx.keepdim)),)


class MeanFunction(Function):
    @staticmethod
    def forward(ctx, a, dims=(), keepdim=False):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.count = math.prod([a.shape[d] for d in dims]) if dims else 1
        return np.asarray(a.mean(axis=dims, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        # the division already makes a new, writable array: no copy of the broadcast view first
        return (_expand_back(g, ctx.shape, ctx.dims, ctx.keepdim) / ctx.count,)


class AmaxFunction(Function):
    """Maximum over axes. Ties share the gradient equally, as torch.amax does."""

    @staticmethod
    def forward(ctx, a, dims=(), keepdim=False):
        out = a.max(axis=dims, keepdims=True)
        ctx.save_for_backward(a == out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return np.asarray(out if keepdim else np.squeeze(out, axis=dims))

    @staticmethod
    def backward(ctx, g):
        (is_max,) = ctx.saved_tensors
        share = is_max / is_max.sum(axis=ctx.dims, keepdims=True)
        return (_expand_back(g, is_max.shape, ctx.dims, ctx.keepdim) * share.astype(g.dtype),)


class MatMulFunction(Function):
    """Batched matrix product with NumPy's broadcasting rules (as torch.matmul)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        # C = A B  =>  dA = G B^T, dB = A^T G (vectors are treated as 1-row / 1-column matrices)
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))
        grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)
        if a.ndim == 1:
            grad_a = grad_a.reshape(grad_a.shape[:-2] + (a.shape[0],))
        if b.ndim == 1:
            grad_b = grad_b.reshape(grad_b.shape[:-2] + (b.shape[0],))
        return grad_a, grad_b


def _reduce(function, op, input: Tensor, dim, keepdim) -> Tensor:
    dims = normalize_dims(op, dim, input.ndim)
    return function.apply(input, dims=dims, keepdim=keepdim)


def sum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001 - torch's name
    """Sum over ``dim`` (all axes when None)."""
    return _reduce(SumFunction, "sum", input, dim, keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all axes when None)."""
    return _reduce(MeanFunction, "mean", input, dim, keepdim)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all axes when None); the values only, like torch.amax."""
    return _reduce(AmaxFunction, "amax", input, dim, keepdim)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product, batched over leading axes (torch.matmul)."""
    from .elementwise import check_operand

    other = check_operand("matmul", input, other)
    a, b = input.shape, as_array(other).shape
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"matmul: both arguments must be at least 1-D, got shapes {a} and {b}")
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: input's last dim ({k_a}) must equal other's "
            f"{'only' if len(b) == 1 else 'second-to-last'} dim ({k_b}); shapes {a} and {b}"
        )
    try:
        np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dims of {a} and {b} cannot be broadcast") from None
    return MatMulFunction.apply(input, other)
