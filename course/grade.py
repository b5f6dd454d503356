"""Grade notebooks: restore the course's check cells, run nbval on a copy, and score every exercise.

The learner's file is only read. Its graded check cells are replaced by the course's own (matched by
grade id, then by cell id; deleted ones are put back), the result is written to a temporary directory
and run there by nbval (``--nbval-lax``, the current environment, a per-cell timeout) in a subprocess
that is killed if the whole notebook takes too long. A check scores its points when its cell passes.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ._nbval_record import RECORD_ENV, grade_id as _grade_id
from .build import render
from .syllabus import REPO_DIR, Course, Lecture

CELL_TIMEOUT = 120.0
NOTEBOOK_TIMEOUT = 600.0


@dataclass
class Exercise:
    """One graded check cell's result: points earned of those possible, and why (if not all)."""

    grade_id: str
    possible: int
    earned: int
    message: str = ""


@dataclass
class NotebookGrade:
    """The grade of one notebook; ``cells`` holds nbval's outcome for every code cell that ran."""

    path: str
    lecture: str | None
    status: str
    exercises: list[Exercise] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)

    @property
    def earned(self) -> int:
        """Points earned over all exercises."""
        return sum(ex.earned for ex in self.exercises)

    @property
    def possible(self) -> int:
        """Points possible over all exercises."""
        return sum(ex.possible for ex in self.exercises)


def restore_checks(nb, reference):
    """A copy of ``nb`` whose graded check cells are exactly those of ``reference`` (the course's copy)."""
    nb = copy.deepcopy(nb)
    for ref_index, ref in enumerate(reference.cells):
        grade_id = _grade_id(ref)
        if grade_id is None:
            continue
        found = [i for i, cell in enumerate(nb.cells) if _grade_id(cell) == grade_id]
        found = found or [i for i, cell in enumerate(nb.cells) if cell.get("id") == ref.id]
        if found:
            nb.cells[found[0]] = copy.deepcopy(ref)
            continue
        before = {cell.id for cell in reference.cells[:ref_index]}
        anchors = [i for i, cell in enumerate(nb.cells) if cell.get("id") in before]
        nb.cells.insert(anchors[-1] + 1 if anchors else min(ref_index, len(nb.cells)), copy.deepcopy(ref))
    ours = {_grade_id(ref): ref.id for ref in reference.cells if _grade_id(ref)}
    for i, cell in enumerate(nb.cells):  # copies of check cells made by the learner do not count
        is_ours = _grade_id(cell) in ours and cell.get("id") == ours[_grade_id(cell)]
        if not is_ours and (_grade_id(cell) or cell.get("id") in ours.values()):
            cell.get("metadata", {}).pop("nbgrader", None)
            cell["id"] = f"learner-{i:03d}"
    return nb


def _child_env(record: Path) -> dict:
    """The grading subprocess's environment: the repo importable, no leaked MPLBACKEND or pytest options."""
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_DIR), env.get("PYTHONPATH")) if p)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env[RECORD_ENV] = str(record)
    return env


def run_nbval(nb, workdir: Path, name: str, cell_timeout: float, notebook_timeout: float) -> tuple[list, str]:
    """Run ``nb`` (written to workdir/name) under nbval; return (one record per cell that ran, status)."""
    path, record = workdir / name, workdir / "cells.jsonl"
    nbformat.write(nb, path)
    (workdir / "pytest.ini").write_text("[pytest]\n")
    cmd = [sys.executable, "-m", "pytest", str(path), "-p", "nbval.plugin", "-p", "course._nbval_record",
           "-p", "no:python", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           f"--nbval-cell-timeout={cell_timeout:g}", "-c", str(workdir / "pytest.ini"),
           "--rootdir", str(workdir), "-q", "--no-header", "-rN", "--tb=no"]
    proc = subprocess.Popen(cmd, cwd=workdir, env=_child_env(record), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
    status = "complete"
    try:
        output, _ = proc.communicate(timeout=notebook_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        status = f"notebook timed out after {notebook_timeout:g} s"
    lines = record.read_text(encoding="utf-8").splitlines() if record.exists() else []
    cells = [json.loads(line) for line in lines]
    messages = " ".join(cell["message"] for cell in cells)
    died = "kernel died" in messages or "Kernel dead" in messages
    if status == "complete" and "Timeout of" in messages:
        status = "a cell timed out" + (", the kernel was stopped" if died else "")
    elif status == "complete" and died:
        status = "the kernel died"
    elif status == "complete" and not cells:
        status = "nbval did not run: " + (output.strip().splitlines() or ["no output"])[-1]
    return cells, status


def _lecture_for(nb, path: Path, course: Course) -> Lecture | None:
    lecture_id = nb.get("metadata", {}).get("course", {}).get("lecture") or path.stem
    return course.find(lecture_id)


def grade_notebook(path: Path | str, course: Course, cell_timeout: float = CELL_TIMEOUT,
                   notebook_timeout: float = NOTEBOOK_TIMEOUT) -> NotebookGrade:
    """Grade one notebook file (never modified); problems become a status, never an exception."""
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - a broken file scores 0 and grading goes on
        return NotebookGrade(str(path), None, f"unreadable: {type(exc).__name__}: {exc}".split("\n")[0])
    lecture = _lecture_for(nb, path, course)
    if lecture is None:
        return NotebookGrade(str(path), None, "not a lecture of this course")
    reference = render(lecture, student=False)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        cells, status = run_nbval(restore_checks(nb, reference), Path(tmp), path.name, cell_timeout,
                                  notebook_timeout)
    by_grade = {cell["grade_id"]: cell for cell in cells if cell["grade_id"]}
    exercises = []
    for grade_id, points in lecture.points.items():
        cell = by_grade.get(grade_id)
        if cell is None:
            exercises.append(Exercise(grade_id, points, 0, f"not reached ({status})"))
        else:
            passed = cell["outcome"] == "passed"
            message = "" if passed else cell["message"]
            if message.startswith("Kernel dead"):
                message = f"not reached ({status})"
            exercises.append(Exercise(grade_id, points, points if passed else 0, message))
    return NotebookGrade(str(path), lecture.id, status, exercises, cells)


def grade(paths, course: Course, cell_timeout: float = CELL_TIMEOUT,
          notebook_timeout: float = NOTEBOOK_TIMEOUT) -> list[NotebookGrade]:
    """Grade several notebooks one after the other (a failure in one never stops the others)."""
    return [grade_notebook(p, course, cell_timeout, notebook_timeout) for p in paths]


def format_table(grades: list[NotebookGrade], width: int = 72) -> str:
    """The report a learner reads: per notebook one row per exercise, then the notebook and grand totals."""
    rows = []
    for g in grades:
        rows.append(f"{g.path}" + ("" if g.status == "complete" else f"  [{g.status}]"))
        rows.append(f"  {'exercise':<24} {'points':>7}  first failure")
        for ex in g.exercises:
            message = ex.message if len(ex.message) <= width else ex.message[: width - 1] + "…"
            rows.append(f"  {ex.grade_id:<24} {ex.earned:>3}/{ex.possible:<3}  {message}".rstrip())
        rows.append(f"  {'total':<24} {g.earned:>3}/{g.possible}")
        rows.append("")
    earned, possible = sum(g.earned for g in grades), sum(g.possible for g in grades)
    rows.append(f"TOTAL {earned}/{possible}")
    return "\n".join(rows)


def to_json(grades: list[NotebookGrade]) -> dict:
    """The gradebook record: every notebook's exercises, status and totals (cells left out)."""
    notebooks = []
    for g in grades:
        record = asdict(g)
        record.pop("cells")
        record.update(earned=g.earned, possible=g.possible)
        notebooks.append(record)
    return {"notebooks": notebooks, "earned": sum(g.earned for g in grades),
            "possible": sum(g.possible for g in grades)}
