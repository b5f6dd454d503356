"""The lectures themselves, run under nbval through `course grade` — each built notebook exactly once.

- the solution build passes nbval end to end (`--nbval-lax`, output checked on the marked cells) and
  scores full points, within the per-notebook time limit (2 minutes);
- the student build fails every graded check (no check is vacuous), passes every other cell, scores 0;
- grading never changes the file it grades.
"""
import hashlib
from pathlib import Path

import pytest

from course.build import build
from course.grade import grade_notebook
from course.syllabus import load_course

pytestmark = pytest.mark.notebooks
COURSE = load_course()
LECTURES = [lecture.id for lecture in COURSE.lectures]
CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 100, 120


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Grade results by (edition, lecture id), computed on first use and kept for the module."""
    root = tmp_path_factory.mktemp("lectures")
    build(COURSE, root / "student", solutions_dir=root / "solution")
    cache = {}

    def run(edition: str, lecture_id: str):
        if (edition, lecture_id) not in cache:
            path = root / edition / f"{lecture_id}.ipynb"
            before = hashlib.sha256(path.read_bytes()).hexdigest()
            result = grade_notebook(path, COURSE, cell_timeout=CELL_TIMEOUT,
                                    notebook_timeout=NOTEBOOK_TIMEOUT)
            cache[edition, lecture_id] = (result, before == hashlib.sha256(path.read_bytes()).hexdigest())
        return cache[edition, lecture_id]
    return run


def code_cells(lecture_id):
    from course.build import render

    return [cell for cell in render(COURSE.find(lecture_id), student=False).cells if cell.cell_type == "code"]


def failures(result, graded: bool | None = None):
    return [f"cell {c['cell']} ({c['id']}): {c['message']}" for c in result.cells
            if c["outcome"] != "passed" and (graded is None or bool(c["grade_id"]) == graded)]


@pytest.mark.parametrize("lecture_id", LECTURES)
def test_solution_passes_nbval_end_to_end_with_full_points(runs, lecture_id):
    result, unchanged = runs("solution", lecture_id)
    assert result.status == "complete", result.status
    assert failures(result) == []
    assert len(result.cells) == len(code_cells(lecture_id)), "every code cell ran"
    assert result.earned == result.possible == COURSE.find(lecture_id).possible
    assert unchanged


@pytest.mark.parametrize("lecture_id", LECTURES)
def test_solution_checks_the_marked_outputs(lecture_id):
    """At least one cell per lecture has its printed output compared by nbval (and stored for it)."""
    checked = [cell for cell in code_cells(lecture_id)
               if "nbval-check-output" in cell.metadata.get("tags", [])]
    assert checked and all(cell.outputs and cell.execution_count for cell in checked)


@pytest.mark.parametrize("lecture_id", LECTURES)
def test_student_fails_every_check_and_passes_everything_else(runs, lecture_id):
    result, unchanged = runs("student", lecture_id)
    assert result.status == "complete", result.status
    assert failures(result, graded=False) == [], "ungraded cells must not depend on the exercises"
    graded = [c for c in result.cells if c["grade_id"]]
    assert sorted(c["grade_id"] for c in graded) == sorted(COURSE.find(lecture_id).points)
    assert all(c["outcome"] == "failed" and c["message"].startswith("NotImplementedError")
               for c in graded), graded
    assert result.earned == 0
    assert unchanged
