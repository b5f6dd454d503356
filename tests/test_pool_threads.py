"""Shared by the pooling and interpolation tests: the one-thread fixture; and a test of
``threads_for``, which runs small jobs' Numba kernels on one thread."""
import numba
import pytest

from minseg.threads import threads_for

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: thread pools only add wake-up latency on a busy machine. (Numba's OpenMP layer
    and torch share OpenMP's thread count, so both are set.)"""
    previous = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(previous[1])
    torch.set_num_threads(previous[0])


def test_threads_for_uses_one_thread_for_small_jobs_and_restores():
    before = numba.get_num_threads()
    with threads_for(10, grain=100):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with threads_for(1000, grain=100):
        assert numba.get_num_threads() == before
