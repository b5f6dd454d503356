"""The course tools without a kernel: build (student / solution versions, determinism), check, the
authoring rules, restoring check cells for grading, and the report formats. Runs on the tiny demo course
in tests/course_demo/ and on the real course's sources."""
import copy
import csv
import io
import json
import sys
from pathlib import Path

import nbformat
import pytest

from course.__main__ import main
from course import integrity
from course._nbval_record import explain, trim
from course.checks import lend
from course.build import build, is_protected, render, stale, to_bytes
from course.grade import Exercise, NotebookGrade, lecture_of, not_graded, restore_checks
from course.report import class_submissions, format_table, gradebook_csv, to_json
from course.syllabus import REPO_DIR, CourseError, load_course

DEMO = Path(__file__).parent / "course_demo"


@pytest.fixture
def demo():
    return load_course(DEMO)


def code(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_student_version_stubs_solutions_and_drops_hidden_tests(demo):
    nb = render(demo.lectures[0], student=True)
    text = to_bytes(nb).decode()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "math.pi * r ** 2" not in text and "return 2 * x" not in text
    assert "HIDDEN" not in text and "area(2.0)" not in text
    area = next(cell for cell in nb.cells if cell.source.startswith("def area"))
    assert area.source.splitlines()[-1] == "    raise NotImplementedError('pi times r squared')"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code(nb))
    title = demo.lectures[0].title
    assert nb.metadata["course"] == {"lecture": "01_demo", "title": title, "edition": "student"}


def test_solution_version_keeps_everything_and_stores_expected_output(demo):
    nb = render(demo.lectures[0], student=False)
    text = to_bytes(nb).decode()
    assert "math.pi * r ** 2" in text and "area(2.0)" in text and "BEGIN SOLUTION" not in text
    checked = next(cell for cell in code(nb) if "nbval-check-output" in cell.metadata.get("tags", []))
    assert checked.outputs == [nbformat.v4.new_output("stream", name="stdout", text="3.142\n")]
    assert checked.execution_count is not None


def test_graded_cells_carry_grade_id_points_and_stable_ids(demo):
    nb = render(demo.lectures[0])
    graded = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    assert [(c.id, c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]["points"]) for c in graded] == [
        ("check-area", "area", 2), ("check-double", "double", 1), ("check-scale", "scale", 1)]
    assert all(c.metadata["editable"] is False and c.metadata["deletable"] is False for c in graded)
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids) and ids[:3] == ["c000", "course-grading", "c001"]
    assert ids[-2:] == ["course-grade-heading", "course-grade"]  # every lecture ends with its grade cell



def test_student_checks_let_run_all_go_on_and_grading_uses_untagged_checks(demo):
    """JupyterLab's Run All stops at a raising cell unless it is tagged raises-exception: a student's
    failing checks carry the tag; nbval would then pass them, so the solution's checks (restored for
    grading) must not."""
    student, solution = render(demo.lectures[0], student=True), render(demo.lectures[0], student=False)

    def checks(nb):
        return [c for c in code(nb) if c.id.startswith("check-")]

    assert all("raises-exception" in c.metadata["tags"] for c in checks(student))
    assert not any("raises-exception" in c.metadata.get("tags", []) for c in code(solution))
    assert not any("raises-exception" in c.metadata.get("tags", []) for c in code(student)
                   if not c.id.startswith("check-"))
    restored = restore_checks(student, solution)
    assert not any("raises-exception" in c.metadata.get("tags", []) for c in checks(restored))

def test_build_is_byte_identical_and_check_sees_stale_files(demo, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert build(demo, first, solutions_dir=tmp_path / "sol") == [first / "01_demo.ipynb",
                                                                    tmp_path / "sol" / "01_demo.ipynb"]
    build(demo, second)
    assert (first / "01_demo.ipynb").read_bytes() == (second / "01_demo.ipynb").read_bytes()
    assert build(demo, first) == []  # nothing changed, nothing rewritten
    assert stale(demo, first) == []
    path = first / "01_demo.ipynb"
    path.write_bytes(path.read_bytes().replace(b"pi times", b"PI times"))
    (first / "99_extra.ipynb").write_text("{}")
    problems = stale(demo, first)
    assert len(problems) == 2 and "differs" in problems[0] and "not in syllabus" in problems[1]
    path.unlink()
    assert "missing" in stale(demo, first)[0]


def test_cli_build_and_check_exit_codes(tmp_path, capsys):
    out = tmp_path / "nb"
    assert main(["--course", str(DEMO), "check", "--out", str(out)]) == 1
    assert main(["--course", str(DEMO), "build", "--out", str(out)]) == 0
    assert main(["--course", str(DEMO), "check", "--out", str(out)]) == 0
    assert "out of date" in capsys.readouterr().err


def test_the_real_course_is_built_and_current():
    """`python -m course check` passes: notebooks/ matches course/lectures/ byte for byte."""
    course = load_course()
    assert [lec.id for lec in course.lectures][:2] == ["01_scoring", "02_convolution"]
    assert stale(course, REPO_DIR / "notebooks") == []
    assert main(["check"]) == 0


def _course_with(tmp_path, source, points="{ a = 1 }", lecture_id="01_x"):
    (tmp_path / "lectures").mkdir(exist_ok=True)
    syllabus = f'[[lecture]]\nid = "{lecture_id}"\ntitle = "X"\npoints = {points}\n'
    (tmp_path / "syllabus.toml").write_text(syllabus)
    (tmp_path / "lectures" / f"{lecture_id}.py").write_text(source)
    return load_course(tmp_path)


GOOD_CHECK = '# %% grade_id="a"\nassert True\n'


@pytest.mark.parametrize("source, points, message", [
    ("# %%\n### BEGIN SOLUTION\nx = 1\n" + GOOD_CHECK, "{ a = 1 }", "never closed"),
    ("# %%\nx = 1\n### END SOLUTION\n" + GOOD_CHECK, "{ a = 1 }", "without a matching"),
    ('# %% grade_id="a"\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n', "{ a = 1 }",
     "must not hold a solution"),
    ("# %%\n### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS\n" + GOOD_CHECK, "{ a = 1 }", "hidden tests"),
    (GOOD_CHECK, "{ a = 1, b = 2 }", "no cell has that grade_id"),
    ('# %% grade_id="c"\nassert True\n' + GOOD_CHECK, "{ a = 1 }", "has no points"),
    (GOOD_CHECK + GOOD_CHECK, "{ a = 1 }", "used twice"),
    ('# %% tags=["nbval-check-output"]\nprint(1)\n' + GOOD_CHECK, "{ a = 1 }", "Expected output"),
    ("# %% [markdown]\n# ### BEGIN SOLUTION\n" + GOOD_CHECK, "{ a = 1 }", "only work in code cells"),
])
def test_authoring_mistakes_are_named(tmp_path, source, points, message):
    course = _course_with(tmp_path, source, points)
    with pytest.raises(CourseError, match=message):
        render(course.lectures[0])


@pytest.mark.parametrize("lecture_id, points, message", [
    ("lecture_one", "{ a = 1 }", "must look like '01_slug'"),
    ("01_x", "{ a = 0 }", "positive int"),
    ("01_x", '{ Bad-Id = 1 }', "snake_case"),
])
def test_syllabus_mistakes_are_named(tmp_path, lecture_id, points, message):
    with pytest.raises(CourseError, match=message):
        _course_with(tmp_path, GOOD_CHECK, points, lecture_id)


def test_cli_reports_authoring_errors(tmp_path, capsys):
    course = _course_with(tmp_path, "# %%\n### BEGIN SOLUTION\n")
    assert main(["--course", str(course.root), "build", "--out", str(tmp_path / "nb")]) == 2
    assert "never closed" in capsys.readouterr().err


def test_restore_checks_undoes_edits_deletions_and_copies(demo):
    reference = render(demo.lectures[0], student=False)
    learner = render(demo.lectures[0], student=True)
    area = next(c for c in learner.cells if c.id == "check-area")
    area.source = "pass  # I changed the test"
    copied = nbformat.v4.new_code_cell(area.source, metadata=dict(area.metadata))
    copied.id = "mine"
    learner.cells = [c for c in learner.cells if c.id != "check-double"] + [copied]
    restored = restore_checks(learner, reference)
    by_id = {c.id: c for c in restored.cells}
    assert by_id["check-area"].source == next(c for c in reference.cells if c.id == "check-area").source
    assert "area(2.0)" in by_id["check-area"].source  # hidden tests are back
    assert [c.id for c in restored.cells].index("check-double") == [c.id for c in reference.cells].index(
        "check-double")
    assert "nbgrader" not in restored.cells[-1].metadata  # the learner's copy does not count
    assert learner.cells[-1].metadata.get("nbgrader")  # the given notebook object is untouched


def test_table_and_json_reports():
    message = "AssertionError:\nNot equal to tolerance rtol=1e-07, atol=0\nscale([1.0, 2.0], 3)\n ACTUAL: array([4., 5.])"
    grades = [NotebookGrade("a.ipynb", "01_demo", "complete",
                            [Exercise("area", 2, 2), Exercise("double", 1, 0, message, "line 3: scale(...)")],
                            warnings=["cell 1: patches np.testing.assert_allclose: `np.testing.x = 1`"]),
              NotebookGrade("b.ipynb", None, "not a lecture of this course", graded=False)]
    table = format_table(grades)
    assert "area" in table and "2/2" in table and "0/1" in table and "TOTAL 2/3" in table
    assert "[not a lecture of this course]" in table
    lines = table.split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("double"))
    assert lines[at].endswith("0/1    AssertionError:")
    assert [line.strip() for line in lines[at + 1:at + 5]] == [
        "Not equal to tolerance rtol=1e-07, atol=0", "scale([1.0, 2.0], 3)", "ACTUAL: array([4., 5.])",
        "(failed at line 3: scale(...))"]
    assert "  warning: cell 1: patches np.testing.assert_allclose" in table
    record = json.loads(json.dumps(to_json(grades)))
    assert record["earned"] == 2 and record["possible"] == 3
    assert record["notebooks"][0]["exercises"][1]["message"] == message
    assert record["notebooks"][0]["exercises"][1]["where"] == "line 3: scale(...)"
    assert record["notebooks"][0]["warnings"] and record["notebooks"][1]["graded"] is False
    assert "cells" not in record["notebooks"][0]


def test_messages_are_trimmed_and_explained():
    traceback = "\n".join([
        "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
        "\x1b[31mAssertionError\x1b[39m                            Traceback (most recent call last)",
        "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[3]\x1b[39m\x1b[32m, line 4\x1b[39m",
        "\x1b[32m      3\x1b[39m _x = 1",
        "\x1b[32m----> 4\x1b[39m np.testing.assert_allclose(f(1), 2, err_msg=\"f(1)\")",
        "\x1b[31mAssertionError\x1b[39m: ",
        "Not equal to tolerance rtol=1e-07, atol=0", "f(1)", "", " ACTUAL: array(3)", " DESIRED: array(2)"])
    message, where = explain(traceback)
    assert message.split("\n") == ["AssertionError:", "Not equal to tolerance rtol=1e-07, atol=0", "f(1)",
                                    " ACTUAL: array(3)", " DESIRED: array(2)"]
    assert where == 'line 4: np.testing.assert_allclose(f(1), 2, err_msg="f(1)")'
    long = trim("\n".join(["AssertionError: " + "x" * 500] + [f"line {i}" for i in range(40)]))
    assert len(long) <= 900 and long.split("\n")[0].endswith("…") and long.endswith("more lines)")


def _claimants(demo):
    """The student notebook of the demo, attacked: a pasted copy of a check above its original (same
    metadata, a new id, the raises-exception tag), a check's source in a new tagged cell, a cell that
    only borrows a check's id, one with grading metadata for an unknown grade id, a learner cell tagged
    raises-exception and carrying NBVAL_RAISES_EXCEPTION."""
    learner = render(demo.lectures[0], student=True)
    area = next(c for c in learner.cells if c.id == "check-area")
    double = next(c for c in learner.cells if c.id == "check-double")

    def cell(source, cell_id, **metadata):
        new = nbformat.v4.new_code_cell(source, metadata=copy.deepcopy(metadata))
        new.id = cell_id
        return new

    at = next(i for i, c in enumerate(learner.cells) if c.source.startswith("def area"))
    learner.cells.insert(at, cell(area.source, "pasted", **area.metadata))
    learner.cells.insert(at, cell(double.source + "\n", "copied", tags=["raises-exception"]))
    learner.cells.insert(at, cell("x = 1", "check-scale"))
    learner.cells.insert(at, cell("y = 2", "bonus", nbgrader={"grade": True, "grade_id": "bonus", "points": 9}))
    learner.cells.insert(at, cell("# NBVAL_RAISES_EXCEPTION\nraise ValueError", "mine", tags=["raises-exception"]))
    return learner


def test_only_the_courses_checks_can_score(demo):
    reference, student = render(demo.lectures[0], student=False), render(demo.lectures[0], student=True)
    learner = _claimants(demo)
    graded = restore_checks(learner, reference, student)
    checks = [c for c in graded.cells if is_protected(c)]
    assert [c.id for c in checks] == ["check-area", "check-double", "check-scale", "course-grade"]
    assert all(c.source == next(r for r in reference.cells if r.id == c.id).source for c in checks)
    ids = [c.id for c in graded.cells]
    assert "pasted" not in ids and "copied" not in ids and "bonus" not in ids  # copies and claims dropped
    assert ids.index("check-area") > ids.index(next(c.id for c in graded.cells if c.source.startswith("def area")))
    assert not any("raises-exception" in c.metadata.get("tags", []) for c in graded.cells)
    assert not any(c.metadata.get("nbgrader") for c in graded.cells if not is_protected(c))
    mine = next(c for c in graded.cells if c.id == "mine")
    assert "NBVAL_RAISES_EXCEPTION" not in mine.source and "raise ValueError" in mine.source
    assert graded.cells[ids.index("check-area")].metadata["nbgrader"]["grade_id"] == "area"
    assert [c.id for c in learner.cells].count("pasted") == 1  # the learner's notebook is untouched


@pytest.mark.parametrize("source, warning", [
    ("import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None", "patches np.testing.assert_allclose"),
    ("import numpy.testing as npt\nsetattr(npt, 'assert_allclose', print)", "patches npt with setattr"),
    ("import builtins\nbuiltins.NotImplementedError = ValueError", "patches builtins.NotImplementedError"),
    ("__builtins__.print = None", "touches builtins"),
    ("import sys\nsys.modules['numpy.testing'] = object()", "patches sys.modules"),
    ("get_ipython().set_custom_exc((Exception,), lambda *a: None)", "installs an IPython exception handler"),
    ("ip = get_ipython()\nip.input_transformers_post.append(lambda lines: [])", "IPython input transformer"),
    ("get_ipython().ast_transformers.append(None)", "IPython AST transformer"),
    ("get_ipython().events.register('pre_run_cell', print)", "IPython event hook"),
    ("import sys\nsys.excepthook = print", "replaces sys.excepthook"),
    ("def f():\n    pass\nf.__code__ = (lambda: 1).__code__", "swaps a function's code object"),
    ("from minseg import metrics\nmetrics.iou = lambda *a: 1", "patches metrics.iou"),
    ("text = open('../course/lectures/01_scoring.py').read()", "reads the course's own files"),
    ("import glob\nfiles = glob.glob('*.ipynb')", "reads the course's own files"),
    ("from course.build import render", "imports course.build"),
    ("%load ../course/lectures/01_scoring.py", "reads the course's own files"),
])
def test_integrity_warnings_name_what_a_cell_does(source, warning):
    found = integrity.scan([(3, nbformat.v4.new_code_cell(source))])
    assert found and all(w.startswith("cell 3: ") for w in found)
    assert any(warning in w for w in found), found


def test_ordinary_lecture_cells_raise_no_warning():
    sources = ["import numpy as np\nimport matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 90",
               "x = np.zeros(3)\nx[0] = 1\nfig, ax = plt.subplots()\nax.set_title('of course')",
               "class Net:\n    pass\nnet = Net()\nnet.weight = 1", "%timeit sum(range(10))"]
    cells = [(n, nbformat.v4.new_code_cell(s)) for n, s in enumerate(sources)]
    assert integrity.scan(cells) == []
    lectures = load_course()
    for lecture in lectures.lectures[:2]:
        nb = render(lecture, student=False)
        code = [cell for cell in nb.cells if cell.cell_type == "code" and not is_protected(cell)]
        assert integrity.scan(enumerate(code)) == [], lecture.id


def _two_lectures(tmp_path):
    (tmp_path / "lectures").mkdir(parents=True)
    for lecture_id in ("01_a", "02_b"):
        (tmp_path / "lectures" / f"{lecture_id}.py").write_text('# %% grade_id="g"\nassert True\n')
    (tmp_path / "syllabus.toml").write_text('[[lecture]]\nid = "01_a"\ntitle = "A"\npoints = { g = 1 }\n'
                                            '[[lecture]]\nid = "02_b"\ntitle = "B"\npoints = { g = 2 }\n')
    return load_course(tmp_path)


def test_a_notebooks_lecture_comes_from_metadata_then_file_name(tmp_path):
    course = _two_lectures(tmp_path)
    tagged = {"metadata": {"course": {"lecture": "02_b"}}}
    assert lecture_of(tagged, Path("02_b.ipynb"), course) == (course.find("02_b"), [])
    lecture, warnings = lecture_of(tagged, Path("01_a-Copy1.ipynb"), course)
    assert lecture.id == "02_b" and "file name says 01_a but the notebook's metadata says 02_b" in warnings[0]
    lecture, warnings = lecture_of({"metadata": {}}, Path("01_a (copy).ipynb"), course)
    assert lecture.id == "01_a" and "metadata is gone" in warnings[0]
    assert lecture_of(None, Path("02_whatever.ipynb"), course)[0].id == "02_b"  # unreadable: the number
    assert lecture_of({"metadata": {}}, Path("homework.ipynb"), course) == (None, [])


def test_class_folders_give_every_student_a_row_per_lecture(tmp_path):
    course = _two_lectures(tmp_path / "course")
    folder = tmp_path / "class"
    (folder / "ann").mkdir(parents=True)
    (folder / "bob" / ".ipynb_checkpoints").mkdir(parents=True)
    nb = to_bytes(render(course.lectures[1]))
    (folder / "ann" / "renamed.ipynb").write_bytes(nb)
    (folder / "bob" / ".ipynb_checkpoints" / "01_a-checkpoint.ipynb").write_bytes(nb)
    (folder / "bob" / "01_a.ipynb").write_text("not json")
    (folder / "bob" / "notes.ipynb").write_text("{}")
    found = [(s, p.name if p else None, lec) for s, p, lec in class_submissions(folder, course)]
    assert found == [("ann", None, "01_a"), ("ann", "renamed.ipynb", "02_b"), ("bob", "01_a.ipynb", "01_a"),
                     ("bob", None, "02_b"), ("bob", "notes.ipynb", None)]
    rows = [("ann", not_graded(folder / "ann" / "01_a.ipynb", course.lectures[0], "missing")),
            ("ann", NotebookGrade("renamed.ipynb", "02_b", "complete", [Exercise("g", 2, 2)],
                                  warnings=["w1", "w2"]))]
    table = list(csv.reader(io.StringIO(gradebook_csv(rows, course))))
    assert table[0] == ["student", "lecture", "file", "01_a.g", "02_b.g", "total", "possible", "status",
                        "warnings"]
    assert table[1][:4] == ["ann", "01_a", str(folder / "ann" / "01_a.ipynb"), "0"] and table[1][4:] == [
        "", "0", "1", "missing", ""]
    assert table[2] == ["ann", "02_b", "renamed.ipynb", "", "2", "2", "2", "complete", "w1; w2"]


def test_every_lecture_ends_with_a_locked_grade_cell_and_opens_with_how_to_grade():
    for lecture in load_course().lectures:
        for student in (True, False):
            nb = render(lecture, student=student)
            note, last = nb.cells[1], nb.cells[-1]
            assert note.cell_type == "markdown" and "make grade" in note.source
            assert f".venv/bin/python -m course grade notebooks/{lecture.notebook_name}" in note.source
            assert last.id == "course-grade" and "course.grade_this_notebook()" in last.source
            assert last.metadata["editable"] is False and is_protected(last)
            assert "raises-exception" not in last.metadata.get("tags", [])


def test_the_grade_cell_does_not_grade_inside_a_grading_run(monkeypatch, capsys, tmp_path):
    import course

    monkeypatch.setenv("COURSE_GRADING", "1")
    assert course.grade_this_notebook() is None
    assert "being graded" in capsys.readouterr().out
    monkeypatch.delenv("COURSE_GRADING")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert course.grade_this_notebook() is None
    out = capsys.readouterr().out
    assert "make grade" in out and f"{sys.executable} -m course grade" in out


def test_the_grade_cell_grades_the_saved_file_with_the_kernels_interpreter(monkeypatch, capsys, tmp_path):
    """In JupyterLab the kernel knows its notebook (JPY_SESSION_NAME, maybe relative to its cwd): the
    cell shows a button that runs `<this interpreter> -m course grade <file>` and prints the report."""
    import course

    (tmp_path / "homework.ipynb").write_text(to_bytes(nbformat.v4.new_notebook()).decode())
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "somewhere/homework.ipynb")
    monkeypatch.chdir(tmp_path)
    panel = course.grade_this_notebook()  # a button: Run All must not grade as well
    assert capsys.readouterr().out == ""
    button, report = panel.children
    assert "homework.ipynb" in button.description
    button.click()
    out = capsys.readouterr().out  # outside a kernel the report widget lets the text through
    assert "exit status 1" in out  # not a lecture of this course
    assert not button.disabled
    assert "Grading homework.ipynb as saved at" in out
    assert f"{tmp_path / 'homework.ipynb'}  [not a lecture of this course]" in out


def test_lend_puts_the_courses_function_in_place_for_the_block_only():
    namespace = {"f": "learner's"}
    with pytest.raises(ZeroDivisionError):
        with lend(namespace, f="course's", g="course's"):
            assert namespace == {"f": "course's", "g": "course's"}
            1 / 0
    assert namespace == {"f": "learner's"}


def test_cli_grade_exits_1_and_counts_the_lectures_points_when_a_file_cannot_be_graded(tmp_path, capsys):
    (tmp_path / "01_demo.ipynb").write_text('{"cells": [')
    argv = ["--course", str(DEMO), "grade", "--json", str(tmp_path / "01_demo.ipynb"),
            str(tmp_path / "gone" / "01_demo-Copy1.ipynb")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    unreadable, missing = json.loads(captured.out)["notebooks"]
    assert unreadable["status"].startswith("unreadable: ") and missing["status"] == "missing"
    assert [(n["lecture"], n["earned"], n["possible"], n["graded"]) for n in (unreadable, missing)] == [
        ("01_demo", 0, 4, False), ("01_demo", 0, 4, False)]
    assert captured.err.count("could not grade") == 2


def test_built_notebooks_carry_the_language_info_jupyterlab_writes_on_open(demo, tmp_path):
    """JupyterLab replaces ``language_info`` by the kernel's on open; anything missing marks a fresh
    notebook unsaved. Only the Python patch version may differ between builders (ignored by check)."""
    import platform

    info = render(demo.lectures[0]).metadata["language_info"]
    assert info == {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                    "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                    "pygments_lexer": "ipython3", "version": platform.python_version()}
    build(demo, tmp_path)
    path = tmp_path / "01_demo.ipynb"
    other = path.read_bytes().replace(f'"version": "{platform.python_version()}"'.encode(), b'"version": "3.11.0"')
    assert other != path.read_bytes()
    path.write_bytes(other)
    assert stale(demo, tmp_path) == [] and build(demo, tmp_path) == []
    assert path.read_bytes() == other  # another builder's patch version is kept, not churned
