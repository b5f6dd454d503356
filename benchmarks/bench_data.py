"""DigitScenes generation speed (the issue asks for 1,000 scenes of 64x64 in under 2 s) and the
metrics over a validation-sized batch (confusion matrix vs torch.bincount, boundary F1)."""
from __future__ import annotations

import numpy as np

import minseg as ms
from benchmarks.harness import Case


def _scenes(n, size):
    def run():
        ms.data.make_digit_scenes(n, size=size, seed=0)

    return run


def _confusion(shape, num_classes):
    import torch

    rng = np.random.default_rng(0)
    pred, target = rng.integers(0, num_classes, shape), rng.integers(0, num_classes, shape)
    tp, tt = torch.from_numpy(pred), torch.from_numpy(target)

    def ours():
        ms.metrics.mean_iou(pred, target, num_classes)

    def theirs():
        cm = torch.bincount(tt.reshape(-1) * num_classes + tp.reshape(-1), minlength=num_classes ** 2)
        cm = cm.reshape(num_classes, num_classes).double()
        tp_ = cm.diag()
        (tp_ / (cm.sum(0) + cm.sum(1) - tp_)).nanmean()

    return ours, theirs


def _boundary(n, size):
    images, masks, _ = ms.data.make_digit_scenes(n, size=size, seed=0)
    shifted = np.roll(masks, 1, axis=2)

    def run():
        ms.metrics.boundary_f1(shifted, masks, 11, tolerance=2)

    return run


def cases():
    seconds = lambda ours, theirs: {"seconds": ours}  # noqa: E731 - a column for absolute targets
    return [
        Case("data", "DigitScenes 1000 x 64x64 (target < 2 s)", _scenes(1000, 64), repeats=3, extra=seconds),
        Case("data", "DigitScenes 100 x 256x256", _scenes(100, 256), repeats=3, extra=seconds),
        Case("data", "mean_iou (32,128,128) K=21 vs torch.bincount", *_confusion((32, 128, 128), 21)),
        Case("data", "boundary_f1 100 x 64x64 K=11, tol 2", _boundary(100, 64), repeats=3, extra=seconds),
    ]
