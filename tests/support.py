"""Helpers for the tests: how many hypothesis examples to run, small array strategies, float64 models."""
import os

import numpy as np

from hypothesis import HealthCheck, settings

# The NUMBA_DISABLE_JIT smoke run sets MINSEG_HYPOTHESIS_SCALE=0.02 (pure-Python kernels are slow).
SCALE = float(os.environ.get("MINSEG_HYPOTHESIS_SCALE", "1"))


def examples(n: int):
    """``@examples(500)``: hypothesis settings for n examples (scaled down in the smoke run)."""
    return settings(max_examples=max(2, int(n * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def float64_model(model):
    """Turn a minseg model's float32 parameters and buffers into float64 (in place)."""
    for _, p in model.named_parameters():
        p.data = p.data.astype(np.float64)
    for module in model.modules():
        for key, value in list(module._buffers.items()):
            if np.asarray(value).dtype == np.float32:
                setattr(module, key, np.asarray(value, np.float64))
    return model
