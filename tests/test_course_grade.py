"""`python -m course grade` with a kernel, on the tiny demo course (and twice on the real lectures).

Full points for the solution, zero for the student version; the course's checks restored (edited,
deleted, hidden, pasted and copied ones); results the notebook cannot forge; the check's own message
in the feedback; a crashing, a hanging, a too-slow and a too-hungry notebook each scored on what they
reached; an instructor's class folder graded in parallel into a CSV gradebook; the files never modified.
"""
import csv
import hashlib
import io
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
COURSE = load_course()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    build(load_course(DEMO), root / "student", solutions_dir=root / "solution")
    return root


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def new_cell(source, cell_id="inserted", **metadata):
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell.id = cell_id
    return cell


def with_cell(src, dst, index, source):
    """A copy of notebook ``src`` with a code cell inserted before ``index``, written to ``dst``."""
    nb = nbformat.read(src, as_version=4)
    nb.cells.insert(index, new_cell(source))
    nbformat.write(nb, dst)
    return dst


def index_of(nb, prefix):
    return next(i for i, cell in enumerate(nb.cells) if cell.source.startswith(prefix))


def test_solution_full_points_student_zero_and_files_unchanged(built, capsys):
    paths = [built / "solution" / "01_demo.ipynb", built / "student" / "01_demo.ipynb"]
    before = [digest(p) for p in paths]
    assert main(["--course", str(DEMO), "grade", "--json", "--jobs", "2", "--cell-timeout", "30",
                 *map(str, paths)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert [digest(p) for p in paths] == before
    solution, student = record["notebooks"]
    assert (solution["earned"], solution["possible"], solution["status"]) == (4, 4, "complete")
    assert solution["warnings"] == []
    assert (student["earned"], student["possible"]) == (0, 4)
    assert [ex["message"] for ex in student["exercises"]] == [
        "NotImplementedError: pi times r squared",
        "NotImplementedError: replace this line with your solution (see the text above)",
        "NotImplementedError: replace this line with your solution (see the text above)"]
    assert student["exercises"][0]["where"] == 'line 1: assert abs(area(1.0) - math.pi) < 1e-12, "area(1) should be pi"'
    assert record["earned"] == 4 and record["possible"] == 8


def test_pasted_copied_and_forged_checks_score_nothing(built, tmp_path):
    """Nothing solved: a check pasted above its original (the copy keeps nbgrader metadata and the
    raises-exception tag), a check's source in a tagged cell of the learner, an exception handler that
    hides every error, and a cell that appends 'passed' records wherever it can find a record file."""
    student = nbformat.read(built / "student" / "01_demo.ipynb", as_version=4)
    area_check = next(c for c in student.cells if c.id == "check-area")
    pasted = nbformat.read(built / "student" / "01_demo.ipynb", as_version=4)
    pasted.cells.insert(index_of(pasted, "def area"), new_cell(area_check.source, "pasted", **area_check.metadata))
    pasted.cells.insert(index_of(pasted, "def double"), new_cell('assert double(3) == 6, "double(3) should be 6"',
                                                              "mine", tags=["raises-exception"]))
    nbformat.write(pasted, tmp_path / "pasted.ipynb")
    forge = "\n".join([
        "import glob, json, os",
        "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)",
        "import numpy as np",
        "np.testing.assert_allclose = lambda *args, **kwargs: None",
        "assert not [k for k, v in os.environ.items() if 'jsonl' in v or 'RECORD' in k], 'a record path leaks'",
        "for path in [os.environ.get('COURSE_GRADE_RECORD', 'cells.jsonl')] + glob.glob('*.jsonl'):",
        "    with open(path, 'a') as fh:",
        "        for n in range(20):",
        "            fh.write(json.dumps({'cell': n, 'id': f'check-{n}', 'grade_id': 'area',",
        "                                 'outcome': 'passed', 'message': ''}) + '\\n')",
        "for fd in os.listdir('/proc/self/fd'):  # and through every pipe the kernel holds",
        "    try:",
        "        if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):",
        "            os.write(int(fd), b''.join(json.dumps({'cell': n, 'outcome': 'passed', 'message': '',",
        "                                                   'where': ''}).encode() + b'\\n' for n in range(20)))",
        "    except OSError:",
        "        pass",
    ])
    forged = with_cell(built / "student" / "01_demo.ipynb", tmp_path / "forged.ipynb", 1, forge)
    paths = [tmp_path / "pasted.ipynb", forged]
    before = [digest(p) for p in paths]
    pasted_grade, forged_grade = grade(paths, load_course(DEMO), cell_timeout=30, jobs=2)
    assert [digest(p) for p in paths] == before
    assert (pasted_grade.earned, pasted_grade.possible) == (0, 4)
    assert all(ex.message.startswith("NotImplementedError") for ex in pasted_grade.exercises)
    assert (forged_grade.earned, forged_grade.possible) == (0, 4), forged_grade.exercises
    assert [c["outcome"] for c in forged_grade.cells if c["id"] == "inserted"] == ["passed"]  # no path leaked
    assert any("installs an IPython exception handler" in w for w in forged_grade.warnings)
    assert any("patches np.testing.assert_allclose" in w for w in forged_grade.warnings)
    assert forged_grade.exercises[0].message.startswith("NotImplementedError: pi times r squared")


def test_feedback_is_the_checks_own_message(built, tmp_path):
    nb = nbformat.read(built / "solution" / "01_demo.ipynb", as_version=4)
    nb.cells[index_of(nb, "def scale")].source = "def scale(values, factor):\n    return [v + factor for v in values]"
    wrong = tmp_path / "wrong.ipynb"
    nbformat.write(nb, wrong)
    (result,) = grade([wrong], load_course(DEMO), cell_timeout=30)
    scale = result.exercises[2]
    assert scale.earned == 0
    lines = scale.message.split("\n")
    assert lines[0] == "AssertionError:" and "scale([1.0, 2.0], 3)" in scale.message
    assert any("ACTUAL: array([4., 5.])" in line for line in lines), scale.message
    assert any("DESIRED: array([3., 6.])" in line for line in lines), scale.message
    assert scale.where.startswith("line 3: np.testing.assert_allclose(scale([1.0, 2.0], 3)")


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
    crash = with_cell(solution, tmp_path / "crash.ipynb", 6, "import os\nos._exit(1)")
    hang = with_cell(solution, tmp_path / "hang.ipynb", 6,
                     "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    slow = with_cell(solution, tmp_path / "slow.ipynb", 6, "import time\ntime.sleep(60)")
    hungry = with_cell(solution, tmp_path / "hungry.ipynb", 6, "block = bytearray(3 * 2 ** 30)")
    paths = [crash, hang, slow, tampered, hungry]
    before = [digest(p) for p in paths]
    results = grade(paths, load_course(DEMO), cell_timeout=3, notebook_timeout=40, memory_limit_gb=1, jobs=2)
    assert [digest(p) for p in paths] == before
    crashed, hung, slowed, edited, hungered = results
    assert crashed.status == "the kernel died" and (crashed.earned, crashed.possible) == (2, 4)
    assert crashed.exercises[1].message == "not reached (the kernel died)"
    assert hung.status.startswith("a cell timed out") and hung.earned == 2
    assert slowed.status.startswith("a cell timed out") and slowed.earned == 4  # interrupted, then went on
    assert edited.status == "complete" and edited.earned == 2  # hidden test fails area; double restored
    assert "area(2) should be 4 pi" in edited.exercises[0].message
    assert hungered.status == "a cell ran out of memory (the limit is 1 GB per notebook, --memory-limit)"
    assert hungered.earned == 4  # the allocation failed with MemoryError; the kernel lived on
    assert [c["message"] for c in hungered.cells if c["id"] == "inserted"] == ["MemoryError:"]


def test_a_notebook_that_runs_too_long_is_killed(built, tmp_path):
    solution = built / "solution" / "01_demo.ipynb"
    slow = with_cell(solution, tmp_path / "slow.ipynb", 6, "import time\ntime.sleep(60)")
    (result,) = grade([slow], load_course(DEMO), cell_timeout=100, notebook_timeout=8)
    assert result.status == "notebook timed out after 8 s"
    assert result.exercises[1].earned == 0 and result.exercises[1].message.startswith("not reached")


def test_a_class_folder_becomes_a_csv_gradebook(built, tmp_path, capsys):
    """One folder per student; any file names. Missing and unreadable notebooks are rows with 0 points
    and a status, a notebook whose metadata is gone is found by its file name, and the exit status says
    that not every file could be graded."""
    solution, student = built / "solution" / "01_demo.ipynb", built / "student" / "01_demo.ipynb"
    folder = tmp_path / "class"
    for name in ("ann", "bob", "cem", "dee", "eve"):
        (folder / name).mkdir(parents=True)
    (folder / "ann" / "01_demo.ipynb").write_bytes(solution.read_bytes())
    (folder / "bob" / "my work (copy).ipynb").write_bytes(student.read_bytes())  # found by its metadata
    (folder / "cem" / "01_demo.ipynb").write_text('{"cells": [')  # unreadable
    nb = nbformat.read(solution, as_version=4)
    del nb.metadata["course"]
    nbformat.write(nb, folder / "eve" / "01_demo-Copy1.ipynb")  # metadata gone: the file name says
    gradebook = tmp_path / "gradebook.csv"
    assert main(["--course", str(DEMO), "grade", "--class", str(folder), "--csv", str(gradebook),
                 "--jobs", "2", "--cell-timeout", "30"]) == 1
    captured = capsys.readouterr()
    assert "could not grade" in captured.err and str(folder / "cem" / "01_demo.ipynb") in captured.err
    rows = list(csv.DictReader(io.StringIO(gradebook.read_text())))
    assert [(r["student"], r["lecture"], r["total"], r["possible"]) for r in rows] == [
        ("ann", "01_demo", "4", "4"), ("bob", "01_demo", "0", "4"), ("cem", "01_demo", "0", "4"),
        ("dee", "01_demo", "0", "4"), ("eve", "01_demo", "4", "4")]
    assert [r["status"] for r in rows][:2] == ["complete", "complete"]
    assert rows[2]["status"].startswith("unreadable") and rows[3]["status"] == "missing"
    assert (rows[0]["01_demo.area"], rows[0]["01_demo.double"], rows[0]["01_demo.scale"]) == ("2", "1", "1")
    assert rows[3]["01_demo.area"] == "0"
    assert "course metadata is gone" in rows[4]["warnings"]


def test_the_lectures_grade_each_exercise_on_its_own_and_block_shortcuts(tmp_path):
    """Lecture 01 without `from minseg import metrics` and the toy data cell, with two one-line library
    shortcuts; lecture 02 with an off-by-one output size (which only costs its own exercise) and
    `F.conv2d` as the 'unfold' convolution."""
    build(COURSE, tmp_path / "student", solutions_dir=tmp_path / "solution")
    one = nbformat.read(tmp_path / "solution" / "01_scoring.ipynb", as_version=4)
    imports = next(c for c in one.cells if "from minseg import metrics" in c.source)
    imports.source = imports.source.replace("from minseg import metrics\n", "")
    one.cells = [c for c in one.cells if not c.source.startswith("toy_pred =")]
    one.cells[index_of(one, "def confusion")].source = (
        "def confusion(pred, target, num_classes):\n    from minseg import metrics\n"
        "    return metrics.confusion_matrix(pred, target, num_classes)")
    one.cells[index_of(one, "def soft_dice_loss")].source = (
        "def soft_dice_loss(logits, target, eps=1.0):\n    return F.dice_loss(logits, target, eps=eps)")
    nbformat.write(one, tmp_path / "01.ipynb")
    two = nbformat.read(tmp_path / "solution" / "02_convolution.ipynb", as_version=4)
    size = two.cells[index_of(two, "def conv_output_size")]
    size.source = size.source.replace("// stride + 1", "// stride + 2")
    two.cells[index_of(two, "def conv2d_unfold")].source = (
        "def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"
        "    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)")
    nbformat.write(two, tmp_path / "02.ipynb")
    first, second = grade([tmp_path / "01.ipynb", tmp_path / "02.ipynb"], COURSE, cell_timeout=100,
                          notebook_timeout=300, jobs=2)
    assert [(ex.grade_id, ex.earned) for ex in first.exercises] == [
        ("iou", 2), ("dice", 2), ("confusion_matrix", 0), ("soft_dice_loss", 0)], first.exercises
    assert "minseg.metrics.confusion_matrix is unavailable" in first.exercises[2].message
    assert "dice_loss is unavailable" in first.exercises[3].message
    assert [(ex.grade_id, ex.earned) for ex in second.exercises] == [
        ("output_size", 0), ("im2col", 3), ("conv2d_unfold", 0), ("conv_matrix", 3)], second.exercises
    assert "conv_output_size(227, 11, stride=4) should be 55" in second.exercises[0].message
    assert "got 56" in second.exercises[0].message
    assert "conv2d is unavailable" in second.exercises[2].message
    assert first.warnings == [] and second.warnings == []
