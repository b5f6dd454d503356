"""Segmentation models built only from minseg ops (their PyTorch twins live in minseg.reference).

- FCN-32s / 16s / 8s (:mod:`.fcn`), U-Net padded and unpadded with overlap-tile inference
  (:mod:`.unet`), SegNet (:mod:`.segnet`), DeepLab v1 LargeFOV / v2 ASPP-L / v3 / v3+ (:mod:`.deeplab`),
  a mask head over RoIAlign or RoIPool (:mod:`.mask_head`), SETR (:mod:`.setr`).
- torchvision's own segmentation models with its module names, so its state_dicts load unchanged:
  ResNet-50/101 (:mod:`.resnet`), ``fcn_resnet50`` / ``deeplabv3_resnet50`` (and ``_resnet101``)
  (:mod:`.tv_segmentation`; ``minseg.reference.interop.from_torchvision`` converts).
- Every constructor takes widths/depths so the models train on a CPU at small scale; every model
  keeps its constructor arguments in ``model.config`` (``create(name, **config)`` rebuilds it).
"""
from __future__ import annotations

from .deeplab import DeepLabLargeFOV, DeepLabV3, DeepLabV3Plus
from .fcn import FCN, fcn8s, fcn16s, fcn32s
from .mask_head import MaskHeadModel, mask_iou, mask_loss, mask_targets, paste_masks
from .segnet import SegNet
from .setr import SETR
from .resnet import Bottleneck, ResNet, resnet50
from .tv_segmentation import deeplabv3_resnet50, deeplabv3_resnet101, fcn_resnet50, fcn_resnet101
from .unet import UNet

__all__ = ["FCN", "fcn8s", "fcn16s", "fcn32s", "UNet", "SegNet", "DeepLabV3", "DeepLabV3Plus",
           "DeepLabLargeFOV", "MaskHeadModel", "SETR", "mask_loss", "mask_targets", "paste_masks", "mask_iou",
           "ResNet", "Bottleneck", "resnet50", "fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50",
           "deeplabv3_resnet101", "MODEL_CLASSES", "create"]

MODEL_CLASSES = ("FCN", "UNet", "SegNet", "DeepLabV3", "DeepLabV3Plus", "DeepLabLargeFOV", "MaskHeadModel", "SETR")


def create(name: str, **config):
    """A minseg model by class name, e.g. ``create('FCN', num_classes=11, variant='16s')``."""
    if name not in MODEL_CLASSES:
        raise ValueError(f"models.create: name must be one of {MODEL_CLASSES}, got {name!r}")
    return globals()[name](**config)
