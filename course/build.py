"""Build the notebooks from the lecture sources (jupytext percent format), byte for byte deterministically.

A lecture source marks, inside code cells:

* ``### BEGIN SOLUTION [hint]`` ... ``### END SOLUTION``: the student version replaces the region with
  ``raise NotImplementedError(hint)`` at the marker's indentation;
* ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` (graded cells only): removed from the student
  version, put back by ``grade``;
* a graded check cell by its header ``# %% grade_id="iou"`` (its points are in syllabus.toml);
* a cell whose printed output nbval must compare by the tag ``nbval-check-output`` and a trailing
  ``# Expected output:`` comment block (the solution version stores it as the cell's output).

Every lecture also gets a note on grading after its title cell and a final, locked cell that grades the
saved notebook from inside JupyterLab (``course.grade_this_notebook``).

Every cell gets a stable id (graded cells ``check-<grade id>``), outputs are cleared and the notebook
metadata is fixed, so the same sources always give the same bytes and ``check`` can compare files.
"""
from __future__ import annotations

import copy
import json
import platform
import re
from pathlib import Path

import jupytext
import nbformat
from nbformat import v4

from ._nbval_record import grade_id
from .syllabus import Course, CourseError, Lecture

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
EXPECTED = "# Expected output:"
CHECK_OUTPUT_TAG = "nbval-check-output"
# JupyterLab's Run All stops at the first cell that raises unless the cell carries this tag; a student's
# checks fail until the exercises are done, so they carry it and the rest of the lecture still runs.
# (nbval reads the same tag as "may raise": grading puts the solution build's untagged checks back.)
RUN_ON_TAG = "raises-exception"
DEFAULT_HINT = "replace this line with your solution (see the text above)"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# What ipykernel reports and JupyterLab writes into the metadata when a notebook opens: a notebook that
# lacks any of it is marked unsaved ("changed") the moment it is opened. ``version`` is the Python that
# builds (a kernel of another patch version still changes it; ``check`` and ``build`` ignore it).
LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3", "version": platform.python_version()}
_HINT_PREFIX = re.compile(r"^[\s:\-—]*(hint\s*:)?\s*", re.IGNORECASE)
# Cells every lecture gets from the build (so no lecture can forget them): a note on grading after the
# title cell, and at the end a locked cell that grades the saved notebook from inside JupyterLab.
GRADING_NOTE_ID, GRADE_HEADING_ID, GRADE_CELL_ID = "course-grading", "course-grade-heading", "course-grade"
GRADING_NOTE = """\
**Grading.** Each cell headed **Exercise** is graded by the locked check cell after it, which gives its
points only when it runs without an error. To score your work, save the notebook (Ctrl+S) and press
the button in the last cell of this notebook; or, in a terminal at the repository root, run
`make grade` (every lecture) or `.venv/bin/python -m course grade notebooks/{notebook}` (this one).
Use the course's interpreter (`.venv/bin/python`): a plain `python` may lack the course's packages."""
GRADE_HEADING = """\
## Grade this notebook

Save first (Ctrl+S), then press the button below: the grader reads the saved file, runs a copy of it
with the course's own checks (hidden tests included), and prints your points for every exercise, with
the reason for each point lost. It takes about as long as running the whole notebook."""
GRADE_CELL = "import course\n\ncourse.grade_this_notebook()"


def _strip_regions(lines: list[str], where: str, student: bool) -> tuple[list[str], int, int]:
    """Apply the solution / hidden-test markers to one cell; return (lines, #solutions, #hidden)."""
    out, region, n_sol, n_hid = [], None, 0, 0
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION) or stripped.startswith(BEGIN_HIDDEN):
            if region is not None:
                raise CourseError(f"{where}: {stripped!r} inside an open {region!r} region")
            region = BEGIN_SOLUTION if stripped.startswith(BEGIN_SOLUTION) else BEGIN_HIDDEN
            if region == BEGIN_SOLUTION:
                n_sol += 1
                hint = _HINT_PREFIX.sub("", stripped[len(BEGIN_SOLUTION):]) or DEFAULT_HINT
                indent = line[: len(line) - len(line.lstrip())]
                if student:
                    out.append(f"{indent}raise NotImplementedError({hint!r})")
            else:
                n_hid += 1
            continue
        if stripped in (END_SOLUTION, END_HIDDEN):
            expected = END_SOLUTION if region == BEGIN_SOLUTION else END_HIDDEN
            if stripped != expected:
                raise CourseError(f"{where}: {stripped!r} without a matching begin marker")
            region = None
            continue
        if region is None or not student:
            out.append(line)
    if region is not None:
        raise CourseError(f"{where}: {region!r} is never closed")
    return out, n_sol, n_hid


def expected_output(source: str) -> str | None:
    """The text of a trailing ``# Expected output:`` comment block (``# `` stripped), or None."""
    lines = source.rstrip("\n").split("\n")
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].strip() == EXPECTED:
            body = lines[start + 1:]
            if not all(line.startswith("#") for line in body):
                return None
            return "".join(line[2:] + "\n" if line.startswith("# ") else line[1:] + "\n" for line in body)
    return None


def _code_cell(lecture: Lecture, index: int, cell, student: bool, seen: set[str]):
    """One code cell of the built notebook (source transformed, metadata set, outputs cleared)."""
    where = f"{lecture.source.name} cell {index}"
    grade_id = cell.metadata.get("grade_id")
    tags = list(cell.metadata.get("tags", []))
    lines, n_sol, n_hid = _strip_regions(cell.source.split("\n"), where, student)
    new = v4.new_code_cell("\n".join(lines))
    new.id = f"c{index:03d}"
    if tags:
        new.metadata["tags"] = tags
    if grade_id is not None:
        if n_sol:
            raise CourseError(f"{where}: a graded check cell ({grade_id!r}) must not hold a solution")
        if grade_id not in lecture.points:
            raise CourseError(f"{where}: grade id {grade_id!r} has no points in syllabus.toml")
        if grade_id in seen:
            raise CourseError(f"{where}: grade id {grade_id!r} is used twice")
        seen.add(grade_id)
        new.id = f"check-{grade_id}"
        new.metadata.update(editable=False, deletable=False)
        if student:
            new.metadata["tags"] = tags + [RUN_ON_TAG]
        new.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                    "points": lecture.points[grade_id], "schema_version": 3}
    elif n_hid:
        raise CourseError(f"{where}: hidden tests belong in a graded check cell (add grade_id=...)")
    elif n_sol:
        new.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False,
                                    "grade_id": f"solution_{index:03d}", "schema_version": 3}
    checked = CHECK_OUTPUT_TAG in tags or "# NBVAL_CHECK_OUTPUT" in cell.source
    text = expected_output(cell.source)
    if checked and text is None:
        raise CourseError(f"{where}: an output-checked cell needs a trailing '{EXPECTED}' comment block")
    if checked and not student:
        new.execution_count = index
        new.outputs = [v4.new_output("stream", name="stdout", text=text)]
    return new


def is_protected(cell) -> bool:
    """A cell grading restores from the course's copy: a graded check, or the grade-this-notebook cell."""
    return cell.get("cell_type") == "code" and (grade_id(cell) is not None or cell.get("id") == GRADE_CELL_ID)


def _grading_cells(lecture: Lecture):
    """(the note that goes after the title, the two cells that end every lecture)."""
    note = v4.new_markdown_cell(GRADING_NOTE.format(notebook=lecture.notebook_name))
    note.id = GRADING_NOTE_ID
    heading = v4.new_markdown_cell(GRADE_HEADING)
    heading.id = GRADE_HEADING_ID
    cell = v4.new_code_cell(GRADE_CELL, metadata={"editable": False, "deletable": False,
                                                  "tags": ["nbval-ignore-output"]})
    cell.id = GRADE_CELL_ID
    return note, [heading, cell]


def render(lecture: Lecture, student: bool = True) -> nbformat.NotebookNode:
    """The notebook for ``lecture``: the student version (default) or the full solution version."""
    source = jupytext.read(lecture.source, fmt="py:percent")
    nb = v4.new_notebook()
    seen: set[str] = set()
    for index, cell in enumerate(source.cells):
        if cell.cell_type == "code":
            nb.cells.append(_code_cell(lecture, index, cell, student, seen))
            continue
        if any(marker in cell.source for marker in (BEGIN_SOLUTION, BEGIN_HIDDEN)):
            raise CourseError(f"{lecture.source.name} cell {index}: markers only work in code cells")
        make = v4.new_markdown_cell if cell.cell_type == "markdown" else v4.new_raw_cell
        new = make(cell.source)
        new.id = f"c{index:03d}"
        nb.cells.append(new)
    note, ending = _grading_cells(lecture)
    nb.cells = nb.cells[:1] + [note] + nb.cells[1:] + ending
    missing = sorted(set(lecture.points) - seen)
    if missing:
        raise CourseError(f"{lecture.source.name}: syllabus.toml gives points to {missing} but no cell has "
                          "that grade_id")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": copy.deepcopy(LANGUAGE_INFO),
                   "course": {"lecture": lecture.id, "title": lecture.title,
                              "edition": "student" if student else "solution"}}
    return nb


def to_bytes(nb: nbformat.NotebookNode) -> bytes:
    """Serialise a notebook the one way this course does it (sorted keys, indent 1, final newline)."""
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _same_but_python_version(old: bytes, new: bytes) -> bool:
    """Equal notebooks, or equal but for the builder's Python version in ``language_info``."""
    if old == new:
        return True
    try:
        old_nb, new_nb = json.loads(old), json.loads(new)
    except ValueError:
        return False
    for nb in (old_nb, new_nb):
        nb.get("metadata", {}).get("language_info", {}).pop("version", None)
    return old_nb == new_nb


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and _same_but_python_version(path.read_bytes(), data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def build(course: Course, out_dir: Path, solutions_dir: Path | None = None) -> list[Path]:
    """Write the student notebooks to ``out_dir`` (and full versions to ``solutions_dir``).

    Returns the paths whose bytes changed. Files are only rewritten when their content differs.
    """
    written = []
    for lecture in course.lectures:
        targets = [(Path(out_dir), True)] + ([(Path(solutions_dir), False)] if solutions_dir else [])
        for directory, student in targets:
            path = directory / lecture.notebook_name
            if _write_if_changed(path, to_bytes(render(lecture, student=student))):
                written.append(path)
    return written


def stale(course: Course, out_dir: Path) -> list[str]:
    """What is out of date in ``out_dir`` (missing, different or extra notebooks); empty when current."""
    out_dir = Path(out_dir)
    problems = []
    for lecture in course.lectures:
        path = out_dir / lecture.notebook_name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif not _same_but_python_version(path.read_bytes(), to_bytes(render(lecture, student=True))):
            problems.append(f"{path}: differs from {lecture.source.relative_to(course.root.parent)}")
    known = {lecture.notebook_name for lecture in course.lectures}
    problems += [f"{path}: not in syllabus.toml" for path in sorted(out_dir.glob("*.ipynb"))
                 if path.name not in known]
    return problems
