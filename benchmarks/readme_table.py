"""The benchmark table in README.md: ``python -m benchmarks --readme README.md`` writes the run's rows,
with the date, the machine's cores and the thread count, between the README's markers."""
from __future__ import annotations

import datetime
import os
import platform
import re
from pathlib import Path

from benchmarks.harness import format_number

START, END = "<!-- benchmarks-table:start -->", "<!-- benchmarks-table:end -->"

# extra columns worth a note in README (the rest stay in the printed table), and how to say them
NOTES = {
    "memory_ratio": "peak memory {:.2f}x torch's",
    "ratio_vs_pydensecrf": "{:.2f}x pydensecrf's time",
    "first_call_s": "first call {:.2f} s",
    "import_s": "import {:.2f} s",
    "speedup_vs_naive": "{:.0f}x the naive O(N^2) filter",
}


def replace_block(path: str | Path, start: str, end: str, body: str) -> None:
    """Replace what lies between the markers ``start`` and ``end`` of the file at ``path`` by ``body``."""
    text = Path(path).read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"replace_block: {path} has no {start} ... {end} block")
    Path(path).write_text(pattern.sub(lambda _: f"{start}\n{body}\n{end}", text))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cell(value, digits: str | None = None) -> str:
    """A table cell: '–' for no value, ``digits``' format if given, else format_number's."""
    if value is None:
        return "–"
    return format(value, digits) if digits else format_number(value)


def markdown_table(rows: list[dict], threads: int, when: datetime.datetime | None = None) -> str:
    """The run as a markdown table, headed by when and where it ran."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    lines = [f"Measured {when:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores ({cpu_model()}), {threads} "
             f"thread{'s' if threads != 1 else ''} for torch, BLAS and Numba alike; ratio = minseg time / torch "
             "time (median of the runs; lower is better).", "",
             "| group | case | minseg ms | torch ms | ratio | target | notes |", "|---|---|---:|---:|---:|---:|---|"]
    for row in rows:
        notes = "; ".join(text.format(row[key]) for key, text in NOTES.items() if row.get(key) is not None)
        lines.append(f"| {row['group']} | {row['name']} | {_cell(row['minseg_ms'])} | {_cell(row.get('torch_ms'))} "
                     f"| {_cell(row.get('ratio'), '.2f')} | {_cell(row.get('target'), 'g')} | {notes} |")
    return "\n".join(lines)


def readme_problem(path: str | Path) -> str | None:
    """Why the table cannot be written into ``path`` (no such file, no markers), or None: checked before
    a run of many minutes, not after it."""
    if not Path(path).is_file():
        return f"{path}: no such file"
    text = Path(path).read_text()
    return None if START in text and END in text else f"{path} has no {START} ... {END} block"


def write_readme(path: str | Path, rows: list[dict], threads: int) -> None:
    replace_block(path, START, END, markdown_table(rows, threads))
