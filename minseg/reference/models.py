"""PyTorch twins of the minseg models: the same architecture source built on torch.nn, so module
names, shapes and forward passes match :mod:`minseg.models` one to one.

    from minseg.reference.models import FCN      # a torch.nn.Module class (torch imported here)
    net = FCN(11, variant='8s')

Classes: FCN, UNet, SegNet, DeepLabV3, DeepLabV3Plus, DeepLabLargeFOV, MaskHeadModel, SETR; also
``mask_loss``. ``torch_models(device)`` gives them all in one namespace.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

from ..models import MODEL_CLASSES, deeplab, fcn, mask_head, segnet, setr, unet
from .backend import torch_backend

_BUILDERS = (fcn, unet, segnet, deeplab, mask_head, setr)


@functools.lru_cache(maxsize=None)
def torch_models(device: str = "cpu") -> SimpleNamespace:
    """Every architecture built on torch (tensors made by the backend's helpers go to ``device``)."""
    backend = torch_backend(device)
    merged = {}
    for module in _BUILDERS:
        merged.update(vars(module.build(backend)))
    return SimpleNamespace(**merged)


def create(name: str, device: str = "cpu", **config):
    """A torch model by class name, e.g. ``create('UNet', width=16)``, moved to ``device``."""
    if name not in MODEL_CLASSES:
        raise ValueError(f"reference.models.create: name must be one of {MODEL_CLASSES}, got {name!r}")
    return getattr(torch_models(device), name)(**config).to(device)


def __getattr__(name):
    if name in MODEL_CLASSES or name == "mask_loss":
        return getattr(torch_models(), name)
    raise AttributeError(f"module 'minseg.reference.models' has no attribute {name!r}")
