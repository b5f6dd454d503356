"""The library a model is built on: minseg here, PyTorch in :mod:`minseg.reference`.

Every architecture in :mod:`minseg.models` is written once, as ``build(B)`` where ``B`` is a
``Backend``: inside, ``nn = B.nn`` and ``F = B.F`` read exactly like torch code. Building it on
``MINSEG`` gives the minseg models; ``minseg.reference`` builds the very same source on torch, so a
model and its PyTorch twin cannot drift apart (same layers, same module names, same forward), and
comparing their outputs tests the minseg ops and layers in composition.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np


class Backend:
    """What an architecture needs from a library (hashable by identity, so builds can be cached).

    nn, F: the torch.nn / torch.nn.functional-shaped namespaces (F also holds roi_align/roi_pool);
    cat: torch.cat; optim: SGD/Adam; no_grad: a context manager;
    as_tensor(ndarray, dtype=None) -> tensor; as_array(tensor) -> ndarray;
    assign(param, ndarray): overwrite a parameter's values (used by the initialisations);
    bilinear_init_(conv_transpose): FCN's bilinear initialisation of an upsampling layer.
    """

    def __init__(self, name: str, **parts):
        self.name = name
        for key, value in parts.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


def _minseg_backend() -> Backend:
    from .. import autograd, functional, nn, optim

    def assign(param, array):
        param.data = np.asarray(array, dtype=param.data.dtype).reshape(param.shape).copy()

    return Backend("minseg", nn=nn, F=functional, cat=functional.cat, optim=optim,
                   no_grad=autograd.no_grad,
                   as_tensor=lambda a, dtype=None: autograd.Tensor(np.asarray(a, dtype=dtype)),
                   as_array=lambda t: t.data, assign=assign, bilinear_init_=nn.bilinear_init_)


MINSEG = _minseg_backend()


def cached_build(build):
    """Decorator: ``build(B)`` runs once per backend and returns the same classes afterwards."""
    return functools.lru_cache(maxsize=None)(build)


def namespace(**classes) -> SimpleNamespace:
    """The result of a ``build``: the classes by name."""
    return SimpleNamespace(**classes)
