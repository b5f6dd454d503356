"""The benchmark harness: time minseg against torch in one process, same threads, median of runs.

A benchmark module ``benchmarks/bench_*.py`` defines ``cases()`` returning a list of ``Case``;
``python -m benchmarks`` (or ``make bench``) finds them all and prints one table of ratios.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
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


def seconds(fn: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call (JIT compile, caches); a case's two
    sides are timed by ``interleaved_medians`` instead."""
    fn()
    return statistics.median(seconds(fn) for _ in range(repeats))


# A side's timed calls add up to at least this many seconds (more repeats for a fast case): a median of
# five 2-ms calls on a shared 2-core machine moved by 2x between runs.
MIN_TIMED_S = 0.5
MAX_REPEATS = 200


def interleaved_medians(ours: Callable[[], object], theirs: Callable[[], object] | None,
                        repeats: int) -> tuple[float, float | None]:
    """Median wall times of ``ours`` and ``theirs`` (None: not timed), each warmed up once, timed in
    alternation (ours, theirs, ours, ...) so that a slow spell of the machine falls on both sides alike;
    at least ``repeats`` rounds, more for fast calls (MIN_TIMED_S per side, at most MAX_REPEATS)."""
    sides = [fn for fn in (ours, theirs) if fn is not None]
    first = [seconds(fn) for fn in sides]
    rounds = max(repeats, min(MAX_REPEATS, int(MIN_TIMED_S / max(min(first), 1e-6))))
    times = [[] for _ in sides]
    for _ in range(rounds):
        for fn, record in zip(sides, times):
            record.append(seconds(fn))
    medians = [statistics.median(record) for record in times]
    return medians[0], (medians[1] if theirs is not None else None)


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


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def added_peak_mb(run: Callable[[], object]) -> float:
    """The resident memory (MB) ``run()`` adds at its peak, on top of what the process already holds:
    the kernel's high-water mark (VmHWM) is reset to the current RSS (``/proc/self/clear_refs``) just
    before the call. Linux only; call it in a fresh process, where freed memory has not been reused."""
    before = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    run()
    return (_rss_kb("VmHWM") - before) / 1024


def fresh_process_peak_mb(module: str, *args: str) -> float | None:
    """``python -m module --peak ARGS...`` in a fresh interpreter: the number it prints last (a peak
    measured with ``added_peak_mb``), or None where /proc is not Linux's."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    result = subprocess.run([sys.executable, "-m", module, "--peak", *args], capture_output=True, text=True,
                            check=True)
    return float(result.stdout.split()[-1])


def built_on_first_call(build: Callable[[str], tuple], name: str) -> tuple[Callable, Callable]:
    """(minseg callable, torch callable) that run the pair ``build(name)`` returns; with a cached
    ``build``, a case that ``--only`` filters out builds nothing."""
    return (lambda: build(name)[0]()), (lambda: build(name)[1]())


def peak_main(measure_peak_mb: Callable[[str, str], float], usage: str) -> None:
    """The ``__main__`` of a module with memory columns: ``--peak minseg|torch NAME`` prints
    ``measure_peak_mb(side, NAME)`` (what fresh_process_peak_mb reads); anything else exits with ``usage``."""
    if len(sys.argv) == 4 and sys.argv[1] == "--peak":
        print(f"{measure_peak_mb(sys.argv[2], sys.argv[3]):.1f}")
    else:
        sys.exit(usage)


def memory_columns(module: str, *args: str) -> Callable[[float, float | None], dict]:
    """A Case's ``extra``: each side's peak (``python -m module --peak minseg|torch ARGS...``, each in a
    fresh process) and their ratio."""
    def extra(ours_s, theirs_s):
        ours, theirs = (fresh_process_peak_mb(module, side, *args) for side in ("minseg", "torch"))
        ratio = None if not (ours and theirs) else ours / theirs
        return {"minseg_peak_MB": ours, "torch_peak_MB": theirs, "memory_ratio": ratio}
    return extra


def run_case(case: Case) -> dict:
    ours, theirs = interleaved_medians(case.minseg, case.torch, case.repeats)
    row = {"group": case.group, "name": case.name, "minseg_ms": ours * 1e3,
           "torch_ms": None if theirs is None else theirs * 1e3,
           "ratio": None if theirs is None else ours / theirs, "target": case.target}
    if case.extra is not None:
        row.update(case.extra(ours, theirs))
    row.update(case.info)
    return row


def format_number(value: float) -> str:
    """Three significant digits, whole numbers from 1000 on (the tables' number format)."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def format_table(rows: list[dict]) -> str:
    """A plain-text table; the ratio column is minseg time / torch time (lower is better)."""
    base = ["group", "name", "minseg_ms", "torch_ms", "ratio", "target"]
    extra = sorted({k for r in rows for k in r} - set(base))
    columns = base + extra

    def cell(value):
        if value is None:
            return "-"
        return format_number(value) if isinstance(value, float) else str(value)

    table = [columns] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
