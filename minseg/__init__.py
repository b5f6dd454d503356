"""minseg: semantic segmentation from first principles, on NumPy and Numba.

    import minseg as ms
    import minseg.functional as F
    x = ms.tensor(array, requires_grad=True)

Public surface: Tensor, tensor, no_grad, manual_seed, functional, nn, optim, crf, metrics, data,
models, testing. The heavier subpackages (crf, data, models, viz, reference) load on first use so
that ``import minseg`` stays fast.
"""
from __future__ import annotations

import importlib

from .threads import quiet_workers

quiet_workers()  # before NumPy loads OpenBLAS (see minseg/threads.py)

from . import ops  # noqa: F401 - installs the Tensor operators
from .autograd import Function, Tensor, is_grad_enabled, no_grad, tensor  # noqa: F401
from .ops import amax, cat, clamp, exp, log, matmul, mean, permute, reshape, sqrt, stack, sum, transpose, where  # noqa: F401,A004,E501
from .random import manual_seed  # noqa: F401
from . import functional, nn, optim  # noqa: F401,E402

__version__ = "0.1.0"

_LAZY = ("crf", "metrics", "data", "models", "viz", "reference", "testing", "receptive_field",
         "training")


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'minseg' has no attribute {name!r}")
