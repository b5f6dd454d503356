"""torch's default initialisations (torch.nn.init), drawn from a seedable numpy Generator."""
from __future__ import annotations

import math

import numpy as np

from .. import random as _random


def fan_in(shape) -> int:
    """Inputs feeding one output: shape[1] * prod(kernel dims) for (out, in, *kernel) weights."""
    return int(shape[1] * np.prod(shape[2:])) if len(shape) > 1 else int(shape[0])


def uniform(shape, bound: float, dtype=np.float32, generator=None) -> np.ndarray:
    """An array of ``shape`` drawn from U(-bound, bound) (the default generator unless one is given)."""
    rng = generator if generator is not None else _random.default_generator()
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def kaiming_uniform(shape, a: float = math.sqrt(5), dtype=np.float32, generator=None) -> np.ndarray:
    """U(-b, b) with b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)); torch's layer default
    (a = sqrt 5) makes b = 1 / sqrt(fan_in)."""
    gain = math.sqrt(2.0 / (1 + a * a))
    return uniform(shape, gain * math.sqrt(3.0 / fan_in(shape)), dtype, generator)


def default_bias(n: int, weight_shape, dtype=np.float32, generator=None) -> np.ndarray:
    """torch's bias default for Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan = fan_in(weight_shape)
    return uniform((n,), 1 / math.sqrt(fan) if fan > 0 else 0.0, dtype, generator)
