"""minseg's global random generator: every random thing takes a seed or uses this one."""
from __future__ import annotations

import numpy as np

_GENERATOR = [np.random.default_rng(0)]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (as torch.manual_seed) and return it."""
    _GENERATOR[0] = np.random.default_rng(seed)
    return _GENERATOR[0]


def default_generator() -> np.random.Generator:
    return _GENERATOR[0]
