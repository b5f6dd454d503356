"""Weights across the two libraries: minseg models and their torch twins share state_dict keys.

- ``load_torch_state_dict(model, state_dict)``: a minseg model <- a torch state_dict (tensors).
- ``to_torch_state_dict(model)``: a minseg model -> a torch state_dict (an OrderedDict of tensors).
- ``load_minseg_state_dict(torch_model, state_dict)``: a torch model <- a minseg state_dict (ndarrays).
- ``torch_twin(model)`` / ``minseg_twin(torch_model)``: the other library's model, same config and weights.
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
