"""Helpers for the tests: how many hypothesis examples to run, and small array strategies."""
import os

from hypothesis import HealthCheck, settings

# The NUMBA_DISABLE_JIT smoke run sets MINSEG_HYPOTHESIS_SCALE=0.02 (pure-Python kernels are slow).
SCALE = float(os.environ.get("MINSEG_HYPOTHESIS_SCALE", "1"))


def examples(n: int):
    """``@examples(500)``: hypothesis settings for n examples (scaled down in the smoke run)."""
    return settings(max_examples=max(2, int(n * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
