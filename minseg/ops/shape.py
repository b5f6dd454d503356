"""Operations that move values around without changing them: reshape, permute, index, cat, stack.

Their backward passes move the gradient back to where each value came from.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor


class ReshapeFunction(Function):
    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),)


class PermuteFunction(Function):
    @staticmethod
    def forward(ctx, a, dims=()):
        ctx.inverse = tuple(np.argsort(dims))
        return np.transpose(a, dims)

    @staticmethod
    def backward(ctx, g):
        return (np.transpose(g, ctx.inverse),)


class GetItemFunction(Function):
    """x[index]; the gradient is scattered back (added, so repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return np.array(a[index])

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.shape, dtype=g.dtype)
        if is_basic_index(ctx.index):
            grad[ctx.index] = g  # slices and ints reach each element at most once: a plain copy
        else:
            np.add.at(grad, ctx.index, g)  # an index array may repeat an element: add every copy
        return (grad,)


def is_basic_index(index) -> bool:
    """True for NumPy's basic indexing (ints, slices, ..., None, or a tuple of them): a view that names
    each element at most once. Index arrays and boolean masks are advanced indexing."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


class ConcatenateFunction(Function):
    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.splits = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        ctx.dim = dim
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.splits, axis=ctx.dim))


class StackFunction(Function):
    @staticmethod
    def forward(ctx, *arrays, dim=0):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.dim, 0))


def _axis(op: str, dim: int, ndim: int) -> int:
    if not isinstance(dim, (int, np.integer)) or not -ndim <= dim < ndim:
        raise ValueError(f"{op}: dim must be an int in [{-ndim}, {ndim - 1}], got {dim!r}")
    return int(dim) % ndim


def reshape(input: Tensor, *shape) -> Tensor:
    """The same values in a new shape (one entry may be -1), like torch.reshape."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        np.empty(input.shape, dtype=np.bool_).reshape(shape)  # validates without copying data
    except (ValueError, TypeError):
        raise ValueError(
            f"reshape: shape {shape} is invalid for input of shape {input.shape} "
            f"({input.size} elements)"
        ) from None
    return ReshapeFunction.apply(input, shape=tuple(shape))


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the axes (torch.permute)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = tuple(_axis("permute", d, input.ndim) for d in dims)
    if sorted(axes) != list(range(input.ndim)):
        raise ValueError(f"permute: dims must be a permutation of 0..{input.ndim - 1}, got {dims}")
    return PermuteFunction.apply(input, dims=axes)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two axes (torch.transpose)."""
    dims = list(range(input.ndim))
    a, b = _axis("transpose", dim0, input.ndim), _axis("transpose", dim1, input.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return PermuteFunction.apply(input, dims=tuple(dims))


def getitem(input: Tensor, index) -> Tensor:
    """Basic and advanced indexing, as NumPy defines it."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    try:
        input.data[index]
    except IndexError as error:
        raise IndexError(f"index: {error} (tensor of shape {input.shape})") from None
    return GetItemFunction.apply(input, index=index)


def _check_same(op: str, tensors) -> list:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: tensors must be a non-empty sequence")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: all tensors must have one dtype, got {sorted(map(str, dtypes))}")
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing axis (torch.cat)."""
    tensors = _check_same("cat", tensors)
    axis = _axis("cat", dim, tensors[0].ndim)
    for i, t in enumerate(tensors):
        rest = t.shape[:axis] + t.shape[axis + 1:]
        first = tensors[0].shape[:axis] + tensors[0].shape[axis + 1:]
        if t.ndim != tensors[0].ndim or rest != first:
            raise ValueError(
                f"cat: tensors[{i}] has shape {t.shape}, expected {tensors[0].shape} "
                f"except along dim {axis}"
            )
    return ConcatenateFunction.apply(*tensors, dim=axis)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis (torch.stack)."""
    tensors = _check_same("stack", tensors)
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensors[{i}] has shape {t.shape}, expected {tensors[0].shape}")
    axis = _axis("stack", dim, tensors[0].ndim + 1)
    return StackFunction.apply(*tensors, dim=axis)
