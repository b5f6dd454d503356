"""``threads_for(work)``: run Numba's parallel kernels on one thread when the job is small.

Waking a second thread costs microseconds on an idle machine and milliseconds on a busy one, far
more than a small pooling or resize takes, so below ``grain`` elements the kernels run serially.
"""
from __future__ import annotations

import contextlib

import numba

# elements (~1 ms of work): below this a second thread saves little on an idle machine and, on a
# busy shared one (Binder, a class server), waiting for it to be scheduled can cost 10-100 ms
GRAIN = 1 << 20


@contextlib.contextmanager
def threads_for(work: int, grain: int = GRAIN):
    """Context manager: one Numba thread inside it if ``work`` < ``grain``, else leave as is."""
    if work >= grain:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
