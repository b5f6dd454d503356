"""``threads_for(work)``: run Numba's parallel kernels on one thread when the job is small; and
``quiet_workers()``: idle worker threads of OpenBLAS and OpenMP sleep instead of spinning.

Waking a second thread costs microseconds on an idle machine and milliseconds on a busy one, far
more than a small pooling or resize takes, so below ``grain`` elements the kernels run serially.
"""
from __future__ import annotations

import contextlib
import os
import sys

# elements (~0.25 ms of work): below this a second thread saves little. Measured on the 2-core machine
# with one other process busy (2026-12-02): im2col of 0.15 M elements took 0.30 ms on
# one thread and 0.16 ms on two, of 0.59 M 1.24 and 0.64 ms. (It was 1 << 20 while idle OpenBLAS and
# OpenMP workers still spun and stole the second core; see QUIET_WORKERS.) On a busy shared machine
# (Binder, a class server) waiting for a second thread to be scheduled can cost milliseconds.
GRAIN = 1 << 18


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


_WORKER = []  # one worker thread, made on first use, for in_parallel


def _threads_allowed() -> int:
    """Numba's thread count (which threads_for lowers for small jobs) once Numba is loaded; before that
    (a relu ahead of the first kernel) the cores this process may use, without importing Numba."""
    numba = sys.modules.get("numba")
    if numba is not None:
        return numba.get_num_threads()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def in_parallel(calls, worth_it: bool = True) -> list:
    """[call() for call in calls], the first on the calling thread and the others at the same time on one
    worker thread, when ``worth_it`` (the caller's size rule) and Numba may use two threads (threads_for
    says one for small jobs); one after the other otherwise. The calls must release the GIL to gain
    anything: NumPy's ufunc loops do, and Numba kernels compiled with nogil=True."""
    if not worth_it or len(calls) < 2 or _threads_allowed() < 2:
        return [call() for call in calls]
    if not _WORKER:
        import concurrent.futures

        _WORKER.append(concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="minseg"))
    others = [_WORKER[0].submit(call) for call in calls[1:]]
    return [calls[0]()] + [future.result() for future in others]


def in_halves(work, arrays) -> None:
    """work(*first halves) and work(*second halves) at once (in_parallel) for C-contiguous ``arrays`` of
    one size from GRAIN elements on, else work(*arrays): for NumPy's one-thread passes over large
    arrays (an exponential, relu), whose ufunc loops release the GIL. ``work`` writes its results into
    its arguments' memory (its return value is dropped)."""
    size = arrays[0].size
    if not (size >= GRAIN and all(a.flags.c_contiguous and a.size == size for a in arrays)):
        work(*arrays)
        return
    flat, half = [a.reshape(-1) for a in arrays], size // 2
    in_parallel([lambda: work(*(f[:half] for f in flat)), lambda: work(*(f[half:] for f in flat))])


def in_two_threads(ufunc, a, out=None):
    """``ufunc(a, out=out)`` by in_halves: for the exponentials of softmax and cross-entropy, which
    NumPy's SIMD exp computes faster than Numba can, but on one thread only."""
    import numpy as np  # not at the top: quiet_workers must run before NumPy loads

    if out is None:
        out = np.empty_like(a)
    in_halves(lambda part, target: ufunc(part, out=target), [a, out])
    return out
