"""``threads_for(work)``: run Numba's parallel kernels on one thread when the job is small; and
``quiet_workers()``: idle worker threads of OpenBLAS and OpenMP sleep instead of spinning.

Waking a second thread costs microseconds on an idle machine and milliseconds on a busy one, far
more than a small pooling or resize takes, so below ``grain`` elements the kernels run serially.
"""
from __future__ import annotations

import contextlib
import os

# elements (~1 ms of work): below this a second thread saves little on an idle machine and, on a
# busy shared one (Binder, a class server), waiting for it to be scheduled can cost 10-100 ms
GRAIN = 1 << 20


@contextlib.contextmanager
def threads_for(work: int, grain: int = GRAIN):
    """Context manager: one Numba thread inside it if ``work`` < ``grain``, else leave as is."""
    if work >= grain:
        yield
        return
    import numba  # here, not at the top: `import minseg` does not load Numba (see minseg/lazy.py)

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


# Worker threads that busy-wait for their next job steal a core from the other pool's threads: on
# 2 cores, a Numba kernel right after an OpenBLAS GEMM took 8x longer (OpenBLAS's worker spins ~0.1 s,
# 2^28 cycles, after each GEMM) and a GEMM right after a Numba kernel 3x longer (OpenMP's workers
# spin too); a U-Net training step took 3x longer on 2 threads than on 1. Told to sleep at once,
# each pool wakes its threads in microseconds when it has work. (torch runs one pool for both.)
QUIET_WORKERS = {"OPENBLAS_THREAD_TIMEOUT": "4",  # 2^4 cycles of spinning (the least OpenBLAS allows)
                 "OMP_WAIT_POLICY": "PASSIVE"}     # OpenMP (Numba's parallel kernels): sleep when idle


def quiet_workers(environ=os.environ) -> None:
    """Set QUIET_WORKERS in ``environ`` where not set already (a value the user chose stays). Each
    library reads its variable when it loads: OpenBLAS with NumPy, OpenMP with Numba's first
    parallel kernel. ``import minseg`` calls this before it imports NumPy, so it takes effect where
    minseg comes first; ``make lab`` / ``make grade`` set the same variables for the kernels they start."""
    for name, value in QUIET_WORKERS.items():
        environ.setdefault(name, value)
