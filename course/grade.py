"""Grade notebooks: restore the course's check cells, run nbval on a copy, and score every exercise.

The learner's file is only read. Its protected cells (graded checks, the grade-this-notebook cell) are
taken from the course's own build, and every cell of the learner that claims to be one of them (a grade
id, nbgrader grading metadata, a check's cell id, a check's source) is replaced or removed; no tag of
the learner is honoured (``raises-exception`` least of all). The result is written to a temporary
directory and run there by nbval (``--nbval-lax``, the current environment, a per-cell timeout, a memory
limit) in a subprocess that is killed if the whole notebook takes too long. Each cell's outcome comes
back through a pipe the kernel cannot name (see ``_nbval_record``); a check scores its points when its
cell passes. See course/README.md for what this can and cannot guarantee.
"""
from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import integrity
from ._nbval_record import grade_id as _grade_id
from .build import is_protected, render
from .here import GRADING_ENV
from .syllabus import REPO_DIR, Course, Lecture

CELL_TIMEOUT = 120.0
NOTEBOOK_TIMEOUT = 600.0
MEMORY_LIMIT_GB = 4.0
RAISES = "raises-exception"  # nbval passes a cell so tagged whatever it raises: never on a graded copy
_RAISES_COMMENT = re.compile(r"^(\s*#\s*)NBVAL_RAISES_EXCEPTION", re.MULTILINE)


@dataclass
class Exercise:
    """One graded check cell's result: points earned of those possible, and why (if not all)."""

    grade_id: str
    possible: int
    earned: int
    message: str = ""
    where: str = ""


@dataclass
class NotebookGrade:
    """The grade of one notebook; ``cells`` holds nbval's outcome for every code cell that ran.

    ``graded`` is False when the file could not be graded at all (missing, unreadable, not a lecture,
    nbval did not start): such a notebook scores 0 of its lecture's points (when its lecture is known).
    """

    path: str
    lecture: str | None
    status: str
    exercises: list[Exercise] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graded: bool = True

    @property
    def earned(self) -> int:
        """Points earned over all exercises."""
        return sum(ex.earned for ex in self.exercises)

    @property
    def possible(self) -> int:
        """Points possible over all exercises."""
        return sum(ex.possible for ex in self.exercises)


def _normalised(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().split("\n"))


def _claim(cell, ref, sources: dict[str, set[str]]) -> int:
    """How strongly a learner cell claims to be the protected cell ``ref`` (0: not at all)."""
    same_id, same_grade = cell.get("id") == ref.id, _grade_id(ref) and _grade_id(cell) == _grade_id(ref)
    if same_id and (same_grade or not _grade_id(ref)):
        return 4
    if same_id:
        return 3
    if same_grade:
        return 2
    return 1 if _normalised(cell.get("source", "")) in sources[ref.id] else 0


def _learner_cell(cell, number: int, protected_ids: set[str]):
    """A learner cell as it runs in the graded copy: no nbgrader metadata, no tags, an id of its own."""
    cell = copy.deepcopy(cell)
    meta = cell.setdefault("metadata", {})
    meta.pop("nbgrader", None)
    tags = [tag for tag in meta.pop("tags", []) if tag != RAISES]
    if tags:
        meta["tags"] = tags
    cell["source"] = _RAISES_COMMENT.sub(r"\1(marker not honoured when grading)", cell.get("source", ""))
    if cell.get("id") in protected_ids or not cell.get("id"):
        cell["id"] = f"learner-{number:03d}"
    return cell


def restore_checks(nb, reference, student=None):
    """A copy of ``nb`` whose protected cells are exactly those of ``reference`` (the course's solution
    build; ``student``, the student build, adds the visible source a learner's copy of a check has).

    Each protected cell takes the place of the learner's cell that claims it most strongly (same id and
    grade id, then same id, then same grade id, then same source); every other claiming cell and every
    learner cell with grading metadata is dropped; a protected cell with no claimant is put back after
    the cell that precedes it in the course.
    """
    refs = [cell for cell in reference.cells if is_protected(cell)]
    sources = {ref.id: {_normalised(ref.source)} for ref in refs}
    for cell in (student.cells if student is not None else []):
        if cell.id in sources:
            sources[cell.id].add(_normalised(cell.source))
    claims = {ref.id: [(_claim(cell, ref, sources), i) for i, cell in enumerate(nb.cells)
                       if cell.get("cell_type") == "code"] for ref in refs}
    place, taken = {}, set()
    for ref in refs:
        ranked = sorted((c for c in claims[ref.id] if c[0] and c[1] not in taken), reverse=True)
        if ranked:
            place[ranked[0][1]] = ref
            taken.add(ranked[0][1])
    dropped = {i for ranked in claims.values() for score, i in ranked if score} | {
        i for i, cell in enumerate(nb.cells) if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}
    protected_ids = set(sources)
    out = []
    for i, cell in enumerate(nb.cells):
        if i in place:
            out.append(copy.deepcopy(place[i]))
        elif i not in dropped:
            out.append(_learner_cell(cell, i, protected_ids))
    _put_back_missing(out, reference, {cell.id for cell in place.values()})
    graded = copy.deepcopy(nb)
    graded.cells = out
    return graded


def _put_back_missing(cells: list, reference, present: set[str]) -> None:
    """Insert every protected reference cell not in ``present`` after the cell that precedes it."""
    for ref_index, ref in enumerate(reference.cells):
        if not is_protected(ref) or ref.id in present:
            continue
        before = {cell.id for cell in reference.cells[:ref_index]}
        anchors = [i for i, cell in enumerate(cells) if cell.get("id") in before]
        cells.insert(anchors[-1] + 1 if anchors else min(ref_index, len(cells)), copy.deepcopy(ref))


def _child_env() -> dict:
    """The grading subprocess's environment: the repo importable; nothing that says where results go,
    no leaked MPLBACKEND, pytest options or JupyterLab session (the grade cell must not grade again)."""
    drop = ("MPLBACKEND", "PYTEST_ADDOPTS", "COURSE_GRADE_RECORD")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("JPY_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_DIR), env.get("PYTHONPATH")) if p)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env[GRADING_ENV] = "1"
    return env


def _read_records(fd: int, cells: list) -> threading.Thread:
    """Read the plugin's JSON lines from the pipe's read end in a thread (so the pipe never fills)."""
    def read():
        with os.fdopen(fd, "r", encoding="utf-8") as pipe:
            for line in pipe:
                try:
                    cells.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def _status(cells: list, output: str, memory_limit_gb: float) -> str:
    messages = " ".join(cell["message"] for cell in cells)
    died = "kernel died" in messages or "Kernel dead" in messages
    if re.search(r"MemoryError|Cannot allocate memory|can't allocate memory", messages):
        return (f"a cell ran out of memory (the limit is {memory_limit_gb:g} GB per notebook, "
                "--memory-limit)" + (", the kernel died" if died else ""))
    if "Timeout of" in messages:
        return "a cell timed out" + (", the kernel was stopped" if died else "")
    if died:
        return "the kernel died"
    if not cells:
        return "nbval did not run: " + (output.strip().splitlines() or ["no output"])[-1]
    return "complete"


def run_nbval(nb, workdir: Path, name: str, cell_timeout: float, notebook_timeout: float,
              memory_limit_gb: float = MEMORY_LIMIT_GB) -> tuple[list, str]:
    """Run ``nb`` (written to workdir/name) under nbval; return (one record per cell that ran, status)."""
    path = workdir / name
    nbformat.write(nb, path)
    (workdir / "pytest.ini").write_text("[pytest]\n")
    read_end, write_end = os.pipe()
    cmd = [sys.executable, "-m", "pytest", str(path), "-p", "nbval.plugin", "-p", "course._nbval_record",
           "-p", "no:python", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           f"--nbval-cell-timeout={cell_timeout:g}", "-c", str(workdir / "pytest.ini"),
           "--rootdir", str(workdir), "-q", "--no-header", "-rN", "--tb=no",
           f"--course-record-fd={write_end}", f"--course-memory-limit={int(memory_limit_gb * 2 ** 30)}"]
    cells: list = []
    try:
        proc = subprocess.Popen(cmd, cwd=workdir, env=_child_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, text=True,
                                pass_fds=(write_end,))
    finally:
        os.close(write_end)
    reader = _read_records(read_end, cells)
    status = None
    try:
        output, _ = proc.communicate(timeout=notebook_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        status = f"notebook timed out after {notebook_timeout:g} s"
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # a kernel left behind would keep the pipe open
    except ProcessLookupError:
        pass
    reader.join(timeout=10)
    return cells, status or _status(cells, output, memory_limit_gb)


def _name_lecture(path: Path, course: Course) -> Lecture | None:
    """The lecture a file name points at: its id in the name (``01_scoring-Copy1``), else its number."""
    stem = path.stem
    found = [lec for lec in course.lectures if lec.id in stem]
    found = found or [lec for lec in course.lectures if stem[:3] == lec.id[:3] and stem[:2].isdigit()]
    return max(found, key=lambda lec: len(lec.id)) if found else None


def lecture_of(nb, path: Path, course: Course) -> tuple[Lecture | None, list[str]]:
    """(the notebook's lecture: its metadata's, else its file name's; warnings about a mismatch)."""
    meta_id = (nb or {}).get("metadata", {}).get("course", {}).get("lecture")
    by_meta, by_name = course.find(meta_id) if isinstance(meta_id, str) else None, _name_lecture(path, course)
    warnings = []
    if by_meta and by_name and by_meta.id != by_name.id:
        warnings.append(f"the file name says {by_name.id} but the notebook's metadata says {by_meta.id}: "
                        f"graded as {by_meta.id}")
    elif meta_id and not by_meta and by_name:
        warnings.append(f"the metadata names {meta_id!r}, not a lecture of this course: graded as {by_name.id} "
                        "(from the file name)")
    elif nb is not None and not meta_id and by_name:
        warnings.append(f"the course metadata is gone: graded as {by_name.id} (from the file name)")
    return by_meta or by_name, warnings


def not_graded(path, lecture: Lecture | None, status: str, warnings=()) -> NotebookGrade:
    """The record of a file that could not be graded: 0 of its lecture's points (if its lecture is known)."""
    exercises = [Exercise(gid, points, 0, status) for gid, points in (lecture.points.items() if lecture else ())]
    return NotebookGrade(str(path), lecture.id if lecture else None, status, exercises, [], list(warnings),
                         graded=False)


def _label(graded_nb, cells: list) -> None:
    """Give every record the grade id of the cell the grader put at its position (None for the learner's)."""
    code = [cell for cell in graded_nb.cells if cell.cell_type == "code"]
    ours = {index: _grade_id(cell) for index, cell in enumerate(code) if _grade_id(cell)}
    for record in cells:
        record["grade_id"] = ours.get(record.get("cell"))


def _score(lecture: Lecture, cells: list, status: str) -> list[Exercise]:
    """Each exercise's points from the records of the check cells (labelled by ``_label``)."""
    by_grade = {record["grade_id"]: record for record in cells if record["grade_id"]}
    exercises = []
    for gid, points in lecture.points.items():
        record = by_grade.get(gid)
        if record is None or record["message"].startswith("Kernel dead"):
            exercises.append(Exercise(gid, points, 0, f"not reached ({status})"))
        else:
            passed = record["outcome"] == "passed"
            exercises.append(Exercise(gid, points, points if passed else 0, "" if passed else record["message"],
                                      "" if passed else record.get("where", "")))
    return exercises


def grade_notebook(path: Path | str, course: Course, cell_timeout: float = CELL_TIMEOUT,
                   notebook_timeout: float = NOTEBOOK_TIMEOUT,
                   memory_limit_gb: float = MEMORY_LIMIT_GB) -> NotebookGrade:
    """Grade one notebook file (never modified); problems become a status, never an exception."""
    path = Path(path)
    if not path.is_file():
        return not_graded(path, _name_lecture(path, course), "missing")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - a broken file scores 0 and grading goes on
        status = f"unreadable: {type(exc).__name__}: {exc}".split("\n")[0][:200]
        return not_graded(path, _name_lecture(path, course), status)
    lecture, warnings = lecture_of(nb, path, course)
    if lecture is None:
        return not_graded(path, None, "not a lecture of this course", warnings)
    graded = restore_checks(nb, render(lecture, student=False), render(lecture, student=True))
    code = [cell for cell in graded.cells if cell.cell_type == "code"]
    warnings += integrity.scan((n, cell) for n, cell in enumerate(code) if not is_protected(cell))
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        cells, status = run_nbval(graded, Path(tmp), path.name, cell_timeout, notebook_timeout, memory_limit_gb)
    _label(graded, cells)
    result = NotebookGrade(str(path), lecture.id, status, _score(lecture, cells, status), cells, warnings)
    result.graded = not status.startswith("nbval did not run")
    return result


def grade(paths, course: Course, cell_timeout: float = CELL_TIMEOUT, notebook_timeout: float = NOTEBOOK_TIMEOUT,
          memory_limit_gb: float = MEMORY_LIMIT_GB, jobs: int = 1) -> list[NotebookGrade]:
    """Grade several notebooks, ``jobs`` at a time, in the order given (one failing never stops the others)."""
    def one(path):
        return grade_notebook(path, course, cell_timeout, notebook_timeout, memory_limit_gb)
    if jobs <= 1:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, paths))
