"""Pooling, unpooling and interpolation: forward + backward time against torch (target <= 1.5x)."""
from __future__ import annotations

import numpy as np

import minseg as ms
import minseg.functional as F
from benchmarks.harness import Case


def _fwd_bwd(shape, ours_fn, torch_fn):
    """Callables timing one forward and one backward (with a fixed upstream gradient) in each library."""
    import torch

    a = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    with ms.no_grad():
        g = np.random.default_rng(1).standard_normal(ours_fn(ms.tensor(a)).shape, dtype=np.float32)

    def ours():
        x = ms.tensor(a, requires_grad=True)
        ours_fn(x).backward(g)

    def theirs():
        x = torch.tensor(a, requires_grad=True)
        torch_fn(x).backward(torch.from_numpy(g))

    return ours, theirs


def _interpolate(mode, factor):
    import torch

    def theirs(x):
        return torch.nn.functional.interpolate(x, scale_factor=factor, mode=mode, align_corners=False)

    return _fwd_bwd((8, 21, 32, 32), lambda x: F.interpolate(x, scale_factor=factor, mode=mode,
                                                              align_corners=False), theirs)


def _max_pool(shape, k, s, p):
    import torch

    return _fwd_bwd(shape, lambda x: F.max_pool2d(x, k, s, p),
                    lambda x: torch.nn.functional.max_pool2d(x, k, s, p))


def _max_unpool(shape):
    """Unpool (N, C, H, W) -> (N, C, 2H, 2W) with the indices of a 2x2 max pooling of a random input."""
    import torch

    big = np.random.default_rng(2).standard_normal(shape[:2] + (2 * shape[2], 2 * shape[3]), dtype=np.float32)
    _, where = torch.nn.functional.max_pool2d(torch.from_numpy(big), 2, return_indices=True)
    indices = where.numpy()
    return _fwd_bwd(shape, lambda x: F.max_unpool2d(x, indices, 2),
                    lambda x: torch.nn.functional.max_unpool2d(x, where, 2))


def cases():
    out = []
    for mode in ("bilinear", "bicubic"):
        for factor in (2, 8):
            out.append(Case("pool", f"interpolate {mode} x{factor} (8,21,32,32) fwd+bwd",
                            *_interpolate(mode, factor), target=1.5))
    out.append(Case("pool", "max_pool2d k2 s2 (8,64,64,64) fwd+bwd", *_max_pool((8, 64, 64, 64), 2, 2, 0),
                    target=1.5))
    out.append(Case("pool", "max_pool2d k3 s2 p1 (8,64,64,64) fwd+bwd", *_max_pool((8, 64, 64, 64), 3, 2, 1),
                    target=1.0))  # issue #24's target for this one
    out.append(Case("pool", "max_unpool2d x2 (8,64,32,32) fwd+bwd", *_max_unpool((8, 64, 32, 32)),
                    target=1.5))
    return out
