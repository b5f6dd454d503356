"""Training and scoring the mask head on DigitScenes' instances, with ground-truth boxes."""
from __future__ import annotations

import numpy as np

from ..data.digits import batch_indices
from ..models import mask_head
from ..models.backend import MINSEG
from .loop import eval_forward


def _instance_batches(scenes, batch_size, shuffle, seed, drop_last, op):
    """(images, rois (R, 5), classes (R,) in 0..9, instance masks (R, H, W)); empty batches skipped."""
    for chosen in batch_indices(len(scenes), batch_size, shuffle, seed, drop_last, op):
        rois, labels, masks = mask_head.instance_rois([scenes.instances[i] for i in chosen])
        if len(rois):
            yield scenes.images[chosen], rois, labels - 1, masks


class InstanceBatches:
    """DigitScenes as mask-head training batches: (images, rois, classes, targets (R, M, M)).

    Labels 1..10 (digits 0..9) become classes 0..9; targets are the instance masks resampled into
    their boxes at the head's output size ``mask_size`` (2 x resolution).
    """

    def __init__(self, scenes, mask_size=28):
        self.scenes, self.mask_size = scenes, mask_size

    def __len__(self) -> int:
        return len(self.scenes)

    def batches(self, batch_size, shuffle=True, seed=0, drop_last=False):
        """Yield (images, rois, classes, targets) batches, as DigitScenes.batches orders the scenes."""
        for images, rois, classes, masks in _instance_batches(self.scenes, batch_size, shuffle, seed,
                                                               drop_last, "InstanceBatches.batches"):
            yield images, rois, classes, mask_head.mask_targets(masks, rois, self.mask_size)


def instance_loss(model, batch, backend):
    """The mask head's loss on one InstanceBatches batch."""
    images, rois, classes, targets = batch
    logits = model(backend.as_tensor(images), backend.as_tensor(rois))
    return mask_head.build(backend).mask_loss(logits, classes, targets)


def evaluate_masks(model, scenes, backend=None, batch_size=16) -> dict:
    """Mask quality with ground-truth boxes: each instance's predicted mask (its own class's
    sigmoid, pasted into the box, > 0.5) against the true mask. Returns 'mask_iou' (mean over
    instances), 'iou_50' / 'iou_75' (fraction of instances at or above that IoU) and 'ious'."""
    backend = backend or MINSEG
    ious = []
    batches = _instance_batches(scenes, batch_size, False, 0, False, "evaluate_masks")
    for images, rois, classes, masks in batches:
        logits = eval_forward(model, backend, images, rois)
        probabilities = 1.0 / (1.0 + np.exp(-logits[np.arange(len(rois)), classes]))
        ious.append(mask_head.mask_iou(mask_head.paste_masks(probabilities, rois, images.shape[-2:]), masks))
    ious = np.concatenate(ious) if ious else np.zeros(0)
    if not len(ious):
        return {"mask_iou": float("nan"), "iou_50": float("nan"), "iou_75": float("nan"), "ious": ious}
    return {"mask_iou": float(ious.mean()), "iou_50": float((ious >= 0.5).mean()),
            "iou_75": float((ious >= 0.75).mean()), "ious": ious}
