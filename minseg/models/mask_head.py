"""A Mask R-CNN-style mask head: given boxes, predict each object's binary mask.

A small convolutional backbone turns the image into a feature map of stride ``feature_stride``;
each box is pooled to ``resolution`` x ``resolution`` features by RoIAlign (bilinear samples, no
rounding) or RoIPool (box and bins rounded to the feature grid, max inside each bin); four 3x3
convs, a 2x2 stride-2 transposed conv and a 1x1 conv give K class-specific mask logits of size
2 * resolution. The loss is the per-pixel binary cross-entropy of the mask of the box's own class
only (no competition between classes). Comparing ``pooler='align'`` with ``'pool'`` shows what the
quantisation of RoIPool costs in mask quality.

Helpers (NumPy in, NumPy out, minseg ops inside): ``mask_targets`` resamples ground-truth instance
masks into their boxes (RoIAlign, then threshold 0.5, as Mask R-CNN builds its targets),
``paste_masks`` puts predicted masks back into the image, ``mask_iou`` scores them.
"""
from __future__ import annotations

import numpy as np

from .. import functional as MF
from ..autograd import Tensor, no_grad
from .backend import MINSEG, cached_build, namespace

POOLERS = ("align", "pool")


@cached_build
def build(B):
    """The mask head model on backend ``B``."""
    nn, F = B.nn, B.F

    class MaskHeadModel(nn.Module):
        """``MaskHeadModel(num_classes=10, pooler='align')``; ``forward(images, rois)`` with rois
        (R, 5) rows [batch_index, x1, y1, x2, y2] in image pixels -> (R, K, 2m, 2m) mask logits."""

        def __init__(self, num_classes=10, in_channels=3, width=64, feature_stride=4, resolution=14,
                     head_convs=4, pooler="align", sampling_ratio=2):
            super().__init__()
            if pooler not in POOLERS:
                raise ValueError(f"MaskHeadModel: pooler must be one of {POOLERS}, got {pooler!r}")
            if feature_stride not in (1, 2, 4, 8, 16):
                raise ValueError(f"MaskHeadModel: feature_stride must be a power of 2 up to 16, "
                                 f"got {feature_stride}")
            self.config = dict(num_classes=num_classes, in_channels=in_channels, width=width,
                               feature_stride=feature_stride, resolution=resolution, head_convs=head_convs,
                               pooler=pooler, sampling_ratio=sampling_ratio)
            self.pooler, self.resolution, self.sampling_ratio = pooler, resolution, sampling_ratio
            self.spatial_scale = 1.0 / feature_stride
            layers = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU()]
            for _ in range(int(np.log2(feature_stride))):
                layers += [nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU()]
            self.backbone = nn.Sequential(*layers)
            head = []
            for _ in range(head_convs):
                head += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
            self.head = nn.Sequential(*head, nn.ConvTranspose2d(width, width, 2, stride=2), nn.ReLU())
            self.predictor = nn.Conv2d(width, num_classes, 1)

        def pool(self, features, rois):
            """Each RoI's (resolution x resolution) features by RoIAlign or RoIPool."""
            if self.pooler == "align":
                return F.roi_align(features, rois, self.resolution, self.spatial_scale, self.sampling_ratio,
                                   aligned=True)
            return F.roi_pool(features, rois, self.resolution, self.spatial_scale)

        def forward(self, images, rois):
            return self.predictor(self.head(self.pool(self.backbone(images), rois)))

    def mask_loss(logits, classes, targets):
        """Mean binary cross-entropy of each RoI's own-class mask: logits (R, K, M, M), classes (R,)
        ints in [0, K), targets (R, M, M) in {0, 1}."""
        rows = np.arange(logits.shape[0])
        chosen = logits[B.as_tensor(rows), B.as_tensor(np.asarray(classes, np.int64))]
        return F.binary_cross_entropy_with_logits(chosen, B.as_tensor(np.asarray(targets, np.float32)))

    return namespace(MaskHeadModel=MaskHeadModel, mask_loss=mask_loss)


_MODELS = build(MINSEG)
MaskHeadModel, mask_loss = _MODELS.MaskHeadModel, _MODELS.mask_loss


def instance_rois(instances):
    """Stack the boxes of a batch's instance dicts into (R, 5) rois [b, x1, y1, x2, y2] (b: the dict's
    place in the batch), with the (R,) labels and the (R, H, W) boolean masks in the same order."""
    rois, labels, masks = [], [], []
    for b, inst in enumerate(instances):
        k = len(inst["boxes"])
        rois.append(np.concatenate([np.full((k, 1), b, np.float32), inst["boxes"].astype(np.float32)], 1))
        labels.append(inst["labels"])
        masks.append(inst["masks"])
    size = masks[0].shape[-2:] if masks else (0, 0)
    return (np.concatenate(rois).reshape(-1, 5), np.concatenate(labels).astype(np.int64),
            np.concatenate(masks).reshape(-1, *size))


def mask_targets(masks, rois, size):
    """(R, size, size) float32 in {0, 1}: each instance mask (R, H, W) resampled into its own box by
    RoIAlign (aligned, 2x2 samples per bin) and thresholded at 0.5."""
    if len(rois) == 0:
        return np.zeros((0, size, size), np.float32)
    boxes = np.asarray(rois, np.float32).copy()
    boxes[:, 0] = np.arange(len(boxes))  # roi r samples its own mask, stacked as batch entry r
    with no_grad():
        planes = Tensor(np.asarray(masks, np.float32)[:, None])
        sampled = MF.roi_align(planes, boxes, size, 1.0, 2, aligned=True)
    return (sampled.data[:, 0] >= 0.5).astype(np.float32)


def paste_masks(probabilities, rois, image_size, threshold=0.5):
    """(R, H, W) bool: each (M, M) probability map resized bilinearly onto its box and thresholded."""
    height, width = image_size
    out = np.zeros((len(rois), height, width), bool)
    for r, (prob, roi) in enumerate(zip(probabilities, rois)):
        x1, y1 = max(int(np.floor(roi[1])), 0), max(int(np.floor(roi[2])), 0)
        x2, y2 = min(int(np.ceil(roi[3])), width), min(int(np.ceil(roi[4])), height)
        if x2 <= x1 or y2 <= y1:
            continue
        resized = MF.interpolate(Tensor(np.asarray(prob, np.float32)[None, None]), size=(y2 - y1, x2 - x1),
                                 mode="bilinear", align_corners=False)
        out[r, y1:y2, x1:x2] = resized.data[0, 0] >= threshold
    return out


def mask_iou(predicted, truth):
    """(R,) IoU of each predicted boolean mask with its ground-truth mask (both (R, H, W))."""
    predicted, truth = np.asarray(predicted, bool), np.asarray(truth, bool)
    inter = (predicted & truth).sum(axis=(1, 2))
    union = (predicted | truth).sum(axis=(1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
