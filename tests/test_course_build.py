"""The course tools without a kernel: build (student / solution versions, determinism), check, the
authoring rules, restoring check cells for grading, and the report formats. Runs on the tiny demo course
in tests/course_demo/ and on the real course's sources."""
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from course.__main__ import main
from course.build import build, render, stale, to_bytes
from course.grade import Exercise, NotebookGrade, restore_checks
from course.report import format_table, to_json
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
        ("check-area", "area", 2), ("check-double", "double", 1)]
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
    grades = [NotebookGrade("a.ipynb", "01_demo", "complete",
                            [Exercise("area", 2, 2),
                             Exercise("double", 1, 0, "AssertionError: " + "x" * 200)]),
              NotebookGrade("b.ipynb", None, "not a lecture of this course")]
    table = format_table(grades)
    assert "area" in table and "2/2" in table and "0/1" in table and "TOTAL 2/3" in table
    assert "[not a lecture of this course]" in table and "…" in table
    record = json.loads(json.dumps(to_json(grades)))
    assert record["earned"] == 2 and record["possible"] == 3
    assert record["notebooks"][0]["exercises"][1]["message"].startswith("AssertionError")
    assert "cells" not in record["notebooks"][0]
