"""Weights across the two libraries: minseg models and their torch twins share state_dict keys.

- ``load_torch_state_dict(model, state_dict)``: a minseg model <- a torch state_dict (tensors).
- ``to_torch_state_dict(model)``: a minseg model -> a torch state_dict (an OrderedDict of tensors).
- ``load_minseg_state_dict(torch_model, state_dict)``: a torch model <- a minseg state_dict (ndarrays).
- ``torch_twin(model)`` / ``minseg_twin(torch_model)``: the other library's model, same config and weights.
- ``from_torchvision(source)`` / ``to_torchvision(model)``: torchvision's segmentation models
  (fcn_resnet50/101, deeplabv3_resnet50/101) <-> their minseg builds (:mod:`minseg.models.tv_segmentation`);
  ``source`` is a torchvision model, its state_dict, or a file saved with ``torch.save(state_dict)``.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import models
from . import require_torch


def _to_numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def load_torch_state_dict(model, state_dict, strict: bool = True) -> None:
    """Copy a torch state_dict (tensors on any device, or ndarrays) into minseg ``model``."""
    model.load_state_dict(OrderedDict((k, _to_numpy(v)) for k, v in state_dict.items()), strict=strict)


def to_torch_state_dict(model) -> "OrderedDict":
    """The minseg ``model``'s parameters and buffers as a torch state_dict (CPU tensors)."""
    torch = require_torch()
    return OrderedDict((k, torch.from_numpy(np.array(v, copy=True))) for k, v in model.state_dict().items())


def load_minseg_state_dict(torch_model, state_dict, strict: bool = True):
    """Copy a minseg state_dict (ndarrays; or a minseg model) into ``torch_model``; returns torch's
    load result. Tensors keep ``torch_model``'s device and dtype."""
    torch = require_torch()
    if hasattr(state_dict, "state_dict"):
        state_dict = state_dict.state_dict()
    own = torch_model.state_dict()
    converted = OrderedDict()
    for key, value in state_dict.items():
        value = torch.from_numpy(np.array(value, copy=True))
        converted[key] = value.to(own[key].device, own[key].dtype) if key in own else value
    return torch_model.load_state_dict(converted, strict=strict)


def torch_twin(model, device: str = "cpu"):
    """The torch twin of minseg ``model`` (same class name and config), with its weights, on ``device``,
    in the model's floating dtype (float64 minseg weights give a float64 twin)."""
    from .models import create

    torch = require_torch()
    twin = create(type(model).__name__, device=device, **model.config)
    if model.parameters()[0].dtype == np.float64:
        twin = twin.to(torch.float64)
    load_minseg_state_dict(twin, model)
    twin.train(model.training)
    return twin


def minseg_twin(torch_model):
    """The minseg model matching ``torch_model`` (same class name and config), with its weights."""
    twin = models.create(type(torch_model).__name__, **torch_model.config)
    load_torch_state_dict(twin, torch_model.state_dict())
    twin.train(torch_model.training)
    return twin


def torchvision_config(state_dict) -> dict:
    """{architecture, num_classes, aux_loss} of a torchvision segmentation state_dict, read off its keys
    (DeepLab's classifier starts with ASPP ``convs``; layer3 has 6 blocks in ResNet-50, 23 in 101)."""
    keys = set(state_dict)
    if "classifier.4.weight" not in keys or "backbone.conv1.weight" not in keys:
        raise ValueError("from_torchvision: expected the state_dict of torchvision's fcn_resnet50/101 or "
                         "deeplabv3_resnet50/101 (keys backbone.conv1.weight ... classifier.4.weight)")
    head = "deeplabv3" if "classifier.0.convs.0.0.weight" in keys else "fcn"
    depth = 101 if "backbone.layer3.6.conv1.weight" in keys else 50
    return dict(architecture=f"{head}_resnet{depth}", num_classes=int(state_dict["classifier.4.weight"].shape[0]),
                aux_loss="aux_classifier.4.weight" in keys)


def from_torchvision(source, dtype=np.float32):
    """The minseg build of a torchvision segmentation model, with its weights, in ``dtype``
    (float32 or float64).

    ``source``: a torchvision model (its train/eval mode is kept), its ``state_dict()``, or the path of
    a state_dict saved with ``torch.save`` (loaded with ``weights_only=True``: no pickled code runs).
    """
    from ..models import tv_segmentation

    torch = require_torch()
    training = False
    if isinstance(source, torch.nn.Module):
        training, state_dict = source.training, source.state_dict()
    elif isinstance(source, dict):
        state_dict = source
    else:
        state_dict = torch.load(source, map_location="cpu", weights_only=True)
    config = torchvision_config(state_dict)
    model = tv_segmentation.ARCHITECTURES[config["architecture"]](config["num_classes"], config["aux_loss"])
    model.double() if np.dtype(dtype) == np.float64 else model.float()
    load_torch_state_dict(model, state_dict)
    return model.train(training)


def to_torchvision(model):
    """The torchvision model (weights=None: nothing downloads) with the minseg ``model``'s weights and
    mode, in its floating dtype."""
    from . import require_torchvision

    segmentation = require_torchvision().models.segmentation
    config = dict(model.config)
    build = getattr(segmentation, config.pop("architecture"))
    twin = build(weights=None, weights_backbone=None, **config)
    if model.parameters()[0].dtype == np.float64:
        twin = twin.double()
    load_minseg_state_dict(twin, model)
    return twin.train(model.training)
