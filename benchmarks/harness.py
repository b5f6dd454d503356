"""The benchmark harness: time minseg against torch in one process, same threads, median of runs.

A benchmark module ``benchmarks/bench_*.py`` defines ``cases()`` returning a list of ``Case``;
``python -m benchmarks`` (or ``make bench``) finds them all and prints one table of ratios.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Case:
    """One row of the table: a name, the minseg callable and (optionally) the torch callable.

    Each callable runs the whole measured work (e.g. forward + backward) once. ``setup`` runs
    once before timing (e.g. to build inputs or warm the JIT). ``target`` is the ratio the issue
    asks for (minseg time / torch time), shown next to the result. ``extra`` holds additional
    columns (e.g. GFLOP/s) computed by the case itself, as a callable returning a dict.
    """

    group: str
    name: str
    minseg: Callable[[], object]
    torch: Callable[[], object] | None = None
    target: float | None = None
    repeats: int = 5
    extra: Callable[[float, float | None], dict] | None = None
    info: dict = field(default_factory=dict)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call (JIT compile, caches)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def same_threads() -> int:
    """Give torch, NumPy's BLAS and Numba one thread count (the machine's cores)."""
    threads = int(os.environ.get("MINSEG_BENCH_THREADS", os.cpu_count() or 1))
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover
        pass
    return threads


def run_case(case: Case) -> dict:
    ours = median_time(case.minseg, case.repeats)
    theirs = median_time(case.torch, case.repeats) if case.torch is not None else None
    row = {"group": case.group, "name": case.name, "minseg_ms": ours * 1e3,
           "torch_ms": None if theirs is None else theirs * 1e3,
           "ratio": None if theirs is None else ours / theirs, "target": case.target}
    if case.extra is not None:
        row.update(case.extra(ours, theirs))
    row.update(case.info)
    return row


def format_table(rows: list[dict]) -> str:
    """A plain-text table; the ratio column is minseg time / torch time (lower is better)."""
    base = ["group", "name", "minseg_ms", "torch_ms", "ratio", "target"]
    extra = sorted({k for r in rows for k in r} - set(base))
    columns = base + extra

    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    table = [columns] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
