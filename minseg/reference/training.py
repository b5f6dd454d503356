"""Training the PyTorch twins: the same loop as minseg.training, on torch, on a GPU when present.

Full scale (the papers' widths, larger and more scenes, many steps) is switched on by a GPU being
present or by ``full_scale=True``; without a GPU the CPU presets train a small twin, so a lecture
notebook runs the same cell everywhere and never needs editing.

    model, history, scores = train_reference('fcn8s')          # full scale iff CUDA is available
"""
from __future__ import annotations

from ..data import DigitScenes
from ..training import evaluate, evaluate_masks, fit, presets
from . import require_torch
from .backend import torch_backend
from .models import create

# data and schedule per scale: (train scenes, val scenes, image size, steps, batch size)
DATA = {"cpu": dict(train=512, val=128, size=64, steps=300, batch_size=16),
        "full": dict(train=8000, val=1000, size=128, steps=20000, batch_size=32)}


def default_device() -> str:
    """'cuda' when a GPU is visible to torch, else 'cpu'."""
    return "cuda" if require_torch().cuda.is_available() else "cpu"


def use_full_scale(full_scale: bool | None = None) -> bool:
    """The explicit choice, or else: full scale exactly when a GPU is present."""
    return default_device() == "cuda" if full_scale is None else bool(full_scale)


def train_reference(name: str, full_scale: bool | None = None, device: str | None = None, seed: int = 0,
                    progress: bool = True, **overrides):
    """Train preset ``name`` (see minseg.training.presets) as a torch model; returns
    (model, history, scores). ``overrides`` replace data/schedule settings (train, val, size,
    steps, batch_size) or fit settings (lr, optimizer, ...)."""
    torch = require_torch()
    scale = "full" if use_full_scale(full_scale) else "cpu"
    device = device or default_device()
    class_name, config, settings = presets.preset(name, scale)
    data = dict(DATA[scale])
    for key in list(overrides):
        if key in data:
            data[key] = overrides.pop(key)
    settings.update(overrides)
    torch.manual_seed(seed)
    model = create(class_name, device=device, num_classes=presets.preset_classes(class_name), **config)
    backend = torch_backend(device)
    train = DigitScenes(data["train"], size=data["size"], split="train", seed=seed)
    val = DigitScenes(data["val"], size=data["size"], split="val", seed=seed)
    source, loss_fn, settings = presets.preset_task(model, train, settings)
    history = fit(model, source, data["steps"], batch_size=data["batch_size"], seed=seed, backend=backend,
                  progress=progress, loss_fn=loss_fn, **settings)
    scores = evaluate(model, val, backend) if loss_fn is None else evaluate_masks(model, val, backend)
    return model, history, scores


__all__ = ["train_reference", "default_device", "use_full_scale", "DATA"]
