"""``threads_for`` runs small jobs' Numba kernels on one thread and restores the count after."""
import numba
import numpy as np
from minseg.threads import threads_for

def test_threads_for_uses_one_thread_for_small_jobs_and_restores():
    before = numba.get_num_threads()
    with threads_for(10, grain=100):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with threads_for(1000, grain=100):
        assert numba.get_num_threads() == before


def test_in_two_threads_gives_the_ufuncs_own_result():
    """The halves of a large array computed on two threads are NumPy's own values, bit for bit; small
    arrays (and non-contiguous ones) take the plain call."""
    import numba

    from minseg.threads import GRAIN, in_two_threads

    previous = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        for size in (GRAIN + 7, 1000):
            a = np.random.default_rng(size).standard_normal(size).astype(np.float32).reshape(-1, 1)
            np.testing.assert_array_equal(in_two_threads(np.exp, a), np.exp(a))
            out = np.empty_like(a)
            assert in_two_threads(np.exp, a, out=out) is out
        strided = np.random.default_rng(1).standard_normal((GRAIN, 2))[:, 0]
        np.testing.assert_array_equal(in_two_threads(np.exp, strided), np.exp(strided))
    finally:
        numba.set_num_threads(previous)
