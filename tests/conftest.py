"""Shared test set-up. Matplotlib draws off-screen here only (never via MPLBACKEND, which would
leak into notebook kernels), and hypothesis runs without deadlines (Numba compiles on first call)."""
import os

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile(
    "minseg", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",
)
settings.load_profile("minseg")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
