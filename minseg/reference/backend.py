"""The PyTorch backend: the same architectures as :mod:`minseg.models`, built on torch.nn."""
from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np

from ..models.backend import Backend
from . import require_torch, require_torchvision


def _functional(torch, torchvision):
    """torch.nn.functional plus torchvision's roi_align / roi_pool: one namespace, like minseg.functional."""
    functional = torch.nn.functional
    names = {name: getattr(functional, name) for name in dir(functional) if not name.startswith("_")}
    return SimpleNamespace(**names, roi_align=torchvision.ops.roi_align, roi_pool=torchvision.ops.roi_pool,
                           cat=torch.cat)


@functools.lru_cache(maxsize=None)
def torch_backend(device: str = "cpu") -> Backend:
    """The torch Backend whose tensors live on ``device`` ('cpu', 'cuda', 'cuda:1', ...)."""
    torch, torchvision = require_torch(), require_torchvision()
    from ..nn.conv import bilinear_weight

    def assign(param, array):
        with torch.no_grad():
            param.copy_(torch.as_tensor(np.asarray(array)).reshape(param.shape))

    def bilinear_init_(layer):
        assign(layer.weight, bilinear_weight(tuple(layer.weight.shape), layer.kernel_size))
        if layer.bias is not None:
            assign(layer.bias, np.zeros(tuple(layer.bias.shape), np.float32))
        return layer

    def as_tensor(array, dtype=None):
        return torch.from_numpy(np.ascontiguousarray(array, dtype=dtype)).to(device)

    return Backend("torch", nn=torch.nn, F=_functional(torch, torchvision), cat=torch.cat, optim=torch.optim,
                   no_grad=torch.no_grad, as_tensor=as_tensor, as_array=lambda t: t.detach().cpu().numpy(),
                   assign=assign, bilinear_init_=bilinear_init_, device=device)
