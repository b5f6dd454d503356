"""Named model + training settings at two scales.

- ``'cpu'``: narrow networks with batch norm (Adam, lr 1e-2) that learn DigitScenes 64x64 within
  a few minutes on 2 CPU cores (used by benchmarks/train_models.py and the lectures); the
  semantic models are meant to be trained with median-frequency class weights, since the
  background covers ~88 % of the pixels;
- ``'full'``: the papers' widths (VGG-16 / ResNet-18-sized), for the PyTorch twins on a GPU
  (minseg.reference.training switches to it when a GPU is present).

``preset(name, scale)`` returns (class name, model config, fit settings); ``preset_classes`` and
``preset_task`` wire a preset's model to DigitScenes (both trainers, minseg's and torch's, use them).
"""
from __future__ import annotations

from ..data import NUM_CLASSES
from .instances import InstanceBatches, instance_loss
from .loop import median_frequency_weights

_VGG_CPU = dict(widths=(16, 32, 64, 64, 64), convs=(1, 1, 2, 2, 2), batch_norm=True)
_RESNET_CPU = dict(widths=(16, 32, 64, 64), blocks_per_stage=(1, 1, 1, 1), aspp_width=64, rates=(1, 2, 3),
                   dropout=0.1)
_MASK_CPU = dict(width=32, feature_stride=4, resolution=14)
_ADAM = dict(optimizer="adam", lr=1e-2, weight_decay=1e-4)

CPU = {
    "fcn32s": ("FCN", dict(variant="32s", fc_width=128, fc_kernel=3, dropout=0.1, **_VGG_CPU), _ADAM),
    "fcn16s": ("FCN", dict(variant="16s", fc_width=128, fc_kernel=3, dropout=0.1, **_VGG_CPU), _ADAM),
    "fcn8s": ("FCN", dict(variant="8s", fc_width=128, fc_kernel=3, dropout=0.1, **_VGG_CPU), _ADAM),
    "unet": ("UNet", dict(width=8, depth=3, batch_norm=True), _ADAM),
    "segnet": ("SegNet", dict(widths=(16, 32, 64, 64), convs=(1, 1, 2, 2)), _ADAM),
    "deeplabv3": ("DeepLabV3", dict(output_stride=8, **_RESNET_CPU), _ADAM),
    # output stride 8 (its 64x64 scenes give 8x8 encoder maps): on the choice split, 2,400 steps of
    # benchmarks/pretrained_weights.py's training reach mIoU 0.609 at stride 8 against 0.532 at 16
    "deeplabv3plus": ("DeepLabV3Plus", dict(output_stride=8, low_level_width=16, **_RESNET_CPU), _ADAM),
    "deeplab_largefov": ("DeepLabLargeFOV", dict(fc_width=128, fov_rate=4, dropout=0.1, **_VGG_CPU), _ADAM),
    "mask_roialign": ("MaskHeadModel", dict(_MASK_CPU, pooler="align"), dict(_ADAM, lr=5e-3)),
    "mask_roipool": ("MaskHeadModel", dict(_MASK_CPU, pooler="pool"), dict(_ADAM, lr=5e-3)),
    # SETR: 8x8 patches (64 tokens), 4 pre-norm layers of width 64, the progressive-upsampling decoder;
    # a transformer wants a smaller lr than the CNNs and a linear warm-up
    "setr": ("SETR", dict(image_size=64, patch_size=8, embed_dim=64, depth=4, num_heads=4, mlp_ratio=2,
                          decoder="pup", decoder_width=32, dropout=0.0),
             dict(_ADAM, lr=2e-3, warmup=30)),
}

_SGD = dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4)
FULL = {
    "fcn32s": ("FCN", dict(variant="32s"), dict(_SGD, lr=1e-3)),
    "fcn16s": ("FCN", dict(variant="16s"), dict(_SGD, lr=1e-3)),
    "fcn8s": ("FCN", dict(variant="8s"), dict(_SGD, lr=1e-3)),
    "unet": ("UNet", dict(width=64, depth=4, batch_norm=True), _SGD),
    "segnet": ("SegNet", dict(), _SGD),
    "deeplabv3": ("DeepLabV3", dict(output_stride=16), _SGD),
    "deeplabv3plus": ("DeepLabV3Plus", dict(output_stride=16), _SGD),
    "deeplab_largefov": ("DeepLabLargeFOV", dict(), dict(_SGD, lr=1e-3)),
    "mask_roialign": ("MaskHeadModel", dict(width=256, feature_stride=8, pooler="align"), _SGD),
    "mask_roipool": ("MaskHeadModel", dict(width=256, feature_stride=8, pooler="pool"), _SGD),
    # SETR with a ViT-Base encoder (SETR-L is embed_dim 1024, depth 24, 16 heads) for 128x128 scenes
    "setr": ("SETR", dict(image_size=128, patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4,
                          decoder="pup", decoder_width=256, dropout=0.1), dict(_SGD, lr=1e-3)),
}

SCALES = {"cpu": CPU, "full": FULL}


def preset(name: str, scale: str = "cpu"):
    """(class name, model config, fit settings) of preset ``name`` at ``scale`` ('cpu' or 'full')."""
    if scale not in SCALES:
        raise ValueError(f"preset: scale must be one of {tuple(SCALES)}, got {scale!r}")
    if name not in SCALES[scale]:
        raise ValueError(f"preset: name must be one of {tuple(SCALES[scale])}, got {name!r}")
    class_name, config, settings = SCALES[scale][name]
    return class_name, dict(config), dict(settings)


def preset_classes(class_name: str) -> int:
    """How many classes a model of ``class_name`` predicts on DigitScenes: the mask head the 10
    digits (its boxes are given), a semantic model the background too."""
    return NUM_CLASSES - 1 if class_name == "MaskHeadModel" else NUM_CLASSES


def preset_task(model, train, settings: dict):
    """(data source, loss_fn, fit settings) to train ``model`` on DigitScenes ``train`` with ``fit``:
    the mask head on instance batches (targets at twice its resolution) with its own loss; a semantic
    model on the scenes with the pixel loss, weighted by median frequency unless ``settings`` has a
    class_weight (None: unweighted)."""
    if type(model).__name__ == "MaskHeadModel":
        return InstanceBatches(train, 2 * model.resolution), instance_loss, dict(settings)
    settings = dict(settings)
    if "class_weight" not in settings:
        settings["class_weight"] = median_frequency_weights(train.masks, NUM_CLASSES)
    return train, None, settings
