"""``F.pad``: constant, reflect and replicate padding with torch's ``pad`` tuple order.

Each padded axis gets an index map: output position j reads input position src[j] (or the
constant where src[j] = -1). Forward gathers through the maps; backward scatter-adds the gradient
through the same maps, so a reflected value that appears twice receives both gradients.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .checks import check_channels

MODES = ("constant", "reflect", "replicate")


def source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For an axis of length n padded by (before, after): the input index of every output index."""
    # output j holds input i = j - before; outside [0, n) the mode decides
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "reflect":  # mirror about the edge samples: -1 -> 1, n -> n - 2
        period = 2 * (n - 1)
        i = np.abs(i) % period if period else np.zeros_like(i)
        return np.where(i >= n, period - i, i)
    return np.where((i >= 0) & (i < n), i, -1)


class PadFunction(Function):
    @staticmethod
    def forward(ctx, a, maps=(), value=0.0):
        ctx.shape, ctx.maps = a.shape, maps
        out = a
        for axis, src in maps:
            inside = src >= 0
            out = np.take(out, np.where(inside, src, 0), axis=axis)
            if not inside.all():
                shape = [1] * out.ndim
                shape[axis] = -1
                out = np.where(inside.reshape(shape), out, out.dtype.type(value))
        return out

    @staticmethod
    def backward(ctx, g):
        for axis, src in reversed(ctx.maps):
            inside = src >= 0
            moved = np.moveaxis(g, axis, 0)[inside]
            shape = list(np.moveaxis(g, axis, 0).shape)
            shape[0] = ctx.shape[axis]
            back = np.zeros(shape, dtype=g.dtype)
            np.add.at(back, src[inside], moved)
            g = np.moveaxis(back, 0, axis)
        return (g,)


def pad(input: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last len(pad)//2 axes; ``pad`` = (last_before, last_after, prev_before, ...) as torch.

    constant fills with ``value`` (negative amounts crop); reflect mirrors without repeating the
    edge (amounts must be < the axis length); replicate repeats the edge value.
    """
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise ValueError(
            f"pad: pad must be an even-length tuple of ints covering at most {input.ndim} dims "
            f"(last dim first: left, right, top, bottom, ...), got {pad}"
        )
    padded = len(pad) // 2
    if mode != "constant" and padded and input.ndim in (padded + 1, padded + 2):
        # torch's (N, C, *padded) or (C, *padded) layouts for these modes: only the batch may be empty
        check_channels("pad", input, axis=-padded - 1)
    maps = []
    for k in range(padded):
        axis = input.ndim - 1 - k
        before, after, n = int(pad[2 * k]), int(pad[2 * k + 1]), input.shape[axis]
        if mode != "constant" and min(before, after) < 0:
            raise ValueError(f"pad: {mode} padding must be non-negative, got {pad}")
        if mode == "reflect" and max(before, after) >= n:
            raise ValueError(
                f"pad: reflect padding ({before}, {after}) must be smaller than the size {n} of dim {axis}"
            )
        if mode == "replicate" and n == 0 and before + after > 0:
            raise ValueError(f"pad: replicate padding needs a non-empty dim {axis}")
        if n + before + after < 0:
            raise ValueError(f"pad: padding {pad} would make dim {axis} negative")
        if before or after:
            maps.append((axis, source_index(n, before, after, mode)))
    return PadFunction.apply(input, maps=tuple(maps), value=value)
