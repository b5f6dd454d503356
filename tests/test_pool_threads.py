"""``threads_for`` runs small jobs' Numba kernels on one thread and restores the count after."""
import numba
from minseg.threads import threads_for

def test_threads_for_uses_one_thread_for_small_jobs_and_restores():
    before = numba.get_num_threads()
    with threads_for(10, grain=100):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with threads_for(1000, grain=100):
        assert numba.get_num_threads() == before
