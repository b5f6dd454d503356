"""`python -m course grade` on the tiny demo course: full points for the solution, zero for the student
version, the course's checks restored (edited, deleted and hidden ones), a crashing, a hanging and a
too-slow notebook each scored on what they reached, and the given files never modified."""
import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from course.__main__ import main
from course.build import build
from course.grade import grade
from course.syllabus import load_course

pytestmark = pytest.mark.notebooks
DEMO = Path(__file__).parent / "course_demo"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    build(load_course(DEMO), root / "student", solutions_dir=root / "solution")
    return root


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def with_cell(src, dst, index, source):
    """A copy of notebook ``src`` with a code cell inserted before ``index``, written to ``dst``."""
    nb = nbformat.read(src, as_version=4)
    cell = nbformat.v4.new_code_cell(source)
    cell.id = "inserted"
    nb.cells.insert(index, cell)
    nbformat.write(nb, dst)
    return dst


def test_solution_full_points_student_zero_and_files_unchanged(built, capsys):
    paths = [built / "solution" / "01_demo.ipynb", built / "student" / "01_demo.ipynb"]
    before = [digest(p) for p in paths]
    assert main(["--course", str(DEMO), "grade", "--json", "--cell-timeout", "30", *map(str, paths)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [digest(p) for p in paths] == before
    solution, student = record["notebooks"]
    assert (solution["earned"], solution["possible"], solution["status"]) == (3, 3, "complete")
    assert (student["earned"], student["possible"]) == (0, 3)
    assert [ex["message"] for ex in student["exercises"]] == [
        "NotImplementedError: pi times r squared",
        "NotImplementedError: replace this line with your solution (see the text above)"]
    assert record["earned"] == 3 and record["possible"] == 6


def test_checks_are_restored_and_broken_notebooks_do_not_stop_grading(built, tmp_path):
    solution = built / "solution" / "01_demo.ipynb"
    nb = nbformat.read(solution, as_version=4)
    for cell in nb.cells:
        if cell.source.startswith("def area"):
            cell.source = "def area(r):\n    return 3.141592653589793 * r"  # passes area(1) only
        if cell.id == "check-double":
            cell.source = "pass"
    nb.cells = [cell for cell in nb.cells if cell.id != "check-area"]  # and the visible check deleted
    nb.cells.append(nbformat.v4.new_code_cell("def double(x):\n    return 0"))  # after its check: harmless
    tampered = tmp_path / "tampered.ipynb"
    nbformat.write(nb, tampered)
    crash = with_cell(solution, tmp_path / "crash.ipynb", 5, "import os\nos._exit(1)")
    hang = with_cell(solution, tmp_path / "hang.ipynb", 5,
                     "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    slow = with_cell(solution, tmp_path / "slow.ipynb", 5, "import time\ntime.sleep(60)")
    paths = [crash, hang, slow, tampered]
    before = [digest(p) for p in paths]
    results = grade(paths, load_course(DEMO), cell_timeout=3, notebook_timeout=40)
    assert [digest(p) for p in paths] == before
    crashed, hung, slowed, edited = results
    assert crashed.status == "the kernel died" and (crashed.earned, crashed.possible) == (2, 3)
    assert crashed.exercises[1].message == "not reached (the kernel died)"
    assert hung.status.startswith("a cell timed out") and hung.earned == 2
    assert slowed.status.startswith("a cell timed out") and slowed.earned == 3  # interrupted, then went on
    assert edited.status == "complete" and edited.earned == 1  # hidden test fails area; double restored
    assert "area(2) should be 4 pi" in edited.exercises[0].message


def test_a_notebook_that_runs_too_long_is_killed(built, tmp_path):
    solution = built / "solution" / "01_demo.ipynb"
    slow = with_cell(solution, tmp_path / "slow.ipynb", 5, "import time\ntime.sleep(60)")
    (result,) = grade([slow], load_course(DEMO), cell_timeout=100, notebook_timeout=8)
    assert result.status == "notebook timed out after 8 s"
    assert result.exercises[1].earned == 0 and result.exercises[1].message.startswith("not reached")
