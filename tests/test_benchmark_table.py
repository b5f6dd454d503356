"""The README's benchmark block: written from a run's rows between its markers, nothing else touched."""
import datetime

import pytest

from benchmarks import readme_table as T

ROWS = [{"group": "conv", "name": "conv2d 3x3", "minseg_ms": 12.34, "torch_ms": 10.0, "ratio": 1.234, "target": 1.0},
        {"group": "train step", "name": "unet", "minseg_ms": 200.0, "torch_ms": 100.0, "ratio": 2.0, "target": 1.2,
         "memory_ratio": 1.8},
        {"group": "core", "name": "import minseg", "minseg_ms": 150.0, "torch_ms": None, "ratio": None,
         "target": None, "import_s": 0.15}]


def test_markdown_table_rows_and_header():
    table = T.markdown_table(ROWS, threads=2, when=datetime.datetime(2026, 12, 2, 11, 5))
    lines = table.splitlines()
    assert lines[0].startswith("Measured 2026-12-02 11:05 UTC on ") and "2 threads" in lines[0]
    assert lines[4] == "| conv | conv2d 3x3 | 12.3 | 10 | 1.23 | 1 |  |"
    assert lines[5] == "| train step | unet | 200 | 100 | 2.00 | 1.2 | peak memory 1.80x torch's |"
    assert lines[6] == "| core | import minseg | 150 | – | – | – | import 0.15 s |"


def test_replace_block_keeps_the_rest_and_reports_missing_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\nbefore\n{T.START}\nold\n{T.END}\nafter\n")
    assert T.readme_problem(readme) is None
    T.write_readme(readme, ROWS[:1], threads=1)
    text = readme.read_text()
    assert text.startswith("# x\nbefore\n" + T.START + "\nMeasured ") and text.endswith(T.END + "\nafter\n")
    assert "old" not in text and "| conv | conv2d 3x3 |" in text and "1 thread for" in text
    readme.write_text("no block")
    assert "has no" in T.readme_problem(readme)
    with pytest.raises(ValueError, match="has no"):
        T.write_readme(readme, ROWS, threads=2)
    assert "no such file" in T.readme_problem(tmp_path / "missing.md")


def test_the_project_readme_has_the_block():
    from pathlib import Path

    assert T.readme_problem(Path(__file__).resolve().parents[1] / "README.md") is None


def test_interleaved_medians_alternate_the_sides_and_repeat_fast_calls():
    from benchmarks import harness

    calls = []
    ours, theirs = harness.interleaved_medians(lambda: calls.append("m"), lambda: calls.append("t"), repeats=3)
    assert calls[:4] == ["m", "t", "m", "t"] and len(calls) == 2 * (harness.MAX_REPEATS + 1)  # fast: many rounds
    assert ours >= 0 and theirs >= 0
    calls.clear()
    _, none = harness.interleaved_medians(lambda: calls.append("m"), None, repeats=3)
    assert none is None and set(calls) == {"m"}
