"""RoIAlign / RoIPool: 256 boxes on a 1/16-scale 256-channel map, forward + backward, vs torchvision."""
from __future__ import annotations

import numpy as np

import minseg as ms
import minseg.functional as F
from benchmarks.harness import Case

IMAGE = 800  # an 800x800 image -> a 50x50 map at 1/16
SCALE = 1 / 16


def _inputs(n_boxes=256, channels=256, batch=2, seed=0):
    """A (batch, channels, 50, 50) map; boxes of 32-400 px (like Mask R-CNN proposals), some off the edge."""
    rng = np.random.default_rng(seed)
    side = IMAGE // 16
    x = rng.standard_normal((batch, channels, side, side), dtype=np.float32)
    size = rng.uniform(32, 400, (n_boxes, 2))
    corner = rng.uniform(-32, IMAGE - 32, (n_boxes, 2))
    index = rng.integers(0, batch, (n_boxes, 1))
    boxes = np.concatenate([index, corner, corner + size], axis=1).astype(np.float32)
    return x, boxes


def _pair(op: str, output_size: int, **kwargs):
    import torch
    import torchvision

    x, boxes = _inputs()
    ours_op, theirs_op = getattr(F, op), getattr(torchvision.ops, op)
    grad = np.random.default_rng(1).standard_normal((len(boxes), x.shape[1], output_size, output_size),
                                                    dtype=np.float32)
    torch_boxes, torch_grad = torch.from_numpy(boxes), torch.from_numpy(grad)

    def ours():
        t = ms.tensor(x, requires_grad=True)
        ours_op(t, boxes, output_size, SCALE, **kwargs).backward(grad)

    def theirs():
        t = torch.tensor(x, requires_grad=True)
        theirs_op(t, torch_boxes, output_size, SCALE, **kwargs).backward(torch_grad)

    return ours, theirs


def cases():
    out = []
    for size in (7, 14):
        for aligned in (False, True):
            out.append(Case("roi", f"roi_align 256 boxes {size}x{size} aligned={aligned} fwd+bwd",
                            *_pair("roi_align", size, sampling_ratio=-1, aligned=aligned), target=1.5))
        out.append(Case("roi", f"roi_align 256 boxes {size}x{size} sampling_ratio=2 fwd+bwd",
                        *_pair("roi_align", size, sampling_ratio=2, aligned=True), target=1.5))
    out.append(Case("roi", "roi_pool 256 boxes 7x7 fwd+bwd", *_pair("roi_pool", 7), target=1.5))
    return out
