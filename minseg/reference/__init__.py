"""The PyTorch side of minseg: twins of the models and ops, weight interop, GPU training.

This package is the only place that imports torch, and it does so lazily (``require_torch``), so
``import minseg`` works on a machine without torch.
"""
from __future__ import annotations

import importlib


def require_torch():
    """Import and return torch, or raise an ImportError that says how to get it."""
    try:
        return importlib.import_module("torch")
    except ImportError as error:  # pragma: no cover - torch is a pinned dependency
        raise ImportError("this feature needs PyTorch: pip install torch==2.14.1 torchvision==0.29.1") from error


def require_torchvision():
    """Import and return torchvision (for roi_pool / roi_align comparisons)."""
    require_torch()
    try:
        return importlib.import_module("torchvision")
    except ImportError as error:  # pragma: no cover
        raise ImportError("this feature needs torchvision: pip install torchvision==0.29.1") from error
