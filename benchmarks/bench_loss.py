"""Losses, forward + backward, against torch: cross-entropy (weighted, with ignored pixels), the
soft Dice loss (torch side: the same formula in torch ops), BCE with logits."""
from __future__ import annotations

import numpy as np

import minseg as ms
import minseg.functional as F
from benchmarks.harness import Case


def _inputs(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t[:, :4] = 255
    w = rng.uniform(0.5, 2, shape[1]).astype(np.float32)
    return x, t, w


def _cross_entropy(shape):
    import torch

    x, t, w = _inputs(shape)
    tt, tw = torch.from_numpy(t), torch.from_numpy(w)

    def ours():
        a = ms.tensor(x, requires_grad=True)
        F.cross_entropy(a, t, weight=w, ignore_index=255).backward()

    def theirs():
        a = torch.tensor(x, requires_grad=True)
        torch.nn.functional.cross_entropy(a, tt, weight=tw, ignore_index=255).backward()

    return ours, theirs


def _dice(shape):
    import torch

    x, t, _ = _inputs(shape)
    t = np.where(t == 255, 0, t)
    y = torch.nn.functional.one_hot(torch.from_numpy(t), shape[1]).movedim(-1, 1).float()

    def ours():
        a = ms.tensor(x, requires_grad=True)
        F.dice_loss(a, t).backward()

    def theirs():
        a = torch.tensor(x, requires_grad=True)
        p = torch.softmax(a, 1)
        inter, total = (p * y).sum((0, 2, 3)), p.sum((0, 2, 3)) + y.sum((0, 2, 3))
        (1 - (2 * inter + 1) / (total + 1)).mean().backward()

    return ours, theirs


def _bce(shape):
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = (rng.uniform(size=shape) > 0.5).astype(np.float32)
    ty = torch.from_numpy(y)

    def ours():
        a = ms.tensor(x, requires_grad=True)
        F.binary_cross_entropy_with_logits(a, y).backward()

    def theirs():
        a = torch.tensor(x, requires_grad=True)
        torch.nn.functional.binary_cross_entropy_with_logits(a, ty).backward()

    return ours, theirs


TARGET = 1.2  # issue #24's target for the losses and softmax


def cases():
    return [Case("loss", "cross_entropy (8,21,64,64) weight+ignore fwd+bwd",
                 *_cross_entropy((8, 21, 64, 64)), target=TARGET),
            Case("loss", "dice_loss (8,11,64,64) fwd+bwd", *_dice((8, 11, 64, 64)), target=TARGET),
            Case("loss", "bce_with_logits (8,1,128,128) fwd+bwd", *_bce((8, 1, 128, 128)), target=TARGET)]
