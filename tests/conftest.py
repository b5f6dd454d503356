"""Shared test set-up: the hypothesis profile, the one-thread fixture, the ``rng`` fixture. (Per-test
example counts: ``tests.support.examples``.)

Matplotlib draws off-screen here only (never via MPLBACKEND, which would leak into notebook
kernels), and hypothesis runs without deadlines (Numba compiles on first call).
"""
import os
import warnings

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


@pytest.fixture
def one_thread():
    """torch and Numba on one thread, torch without oneDNN, during an op test: on tiny tensors thread
    pools only wait for a busy machine, and oneDNN compiles a kernel for every new shape (~10 ms
    each). (Numba's OpenMP layer and torch share OpenMP's thread count, so both are set.) A module
    opts in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import numba
    import torch

    previous = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="TF32 acceleration")
        context = torch.backends.mkldnn.flags(enabled=False)
        context.__enter__()
    try:
        yield
    finally:
        context.__exit__(None, None, None)
        numba.set_num_threads(previous[1])
        torch.set_num_threads(previous[0])
