"""What grading reports: the learner's table, the JSON record, and an instructor's class gradebook (CSV).

A class folder holds one folder per student, each with that student's notebooks (any file names: a
notebook's lecture comes from its metadata, else from its file name). Every student gets one row per
lecture of the course: a lecture without a notebook is a row with status ``missing`` and 0 points.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path

from .grade import NotebookGrade, grade, lecture_of, not_graded
from .syllabus import Course


def _indented(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in text.split("\n") if line.strip()]


def format_table(grades: list[NotebookGrade]) -> str:
    """The report a learner reads: per notebook one row per exercise, under each failed one the check's
    own message (input, expected, actual) and where it failed, then the warnings and the totals."""
    rows = []
    for g in grades:
        rows.append(f"{g.path}" + ("" if g.status == "complete" else f"  [{g.status}]"))
        rows.append(f"  {'exercise':<24} {'points':>7}")
        for ex in g.exercises:
            first, _, rest = ex.message.partition("\n")
            rows.append(f"  {ex.grade_id:<24} {ex.earned:>3}/{ex.possible:<3}  {first}".rstrip())
            rows += _indented(rest, " " * 38)
            if ex.where:
                rows.append(" " * 38 + f"(failed at {ex.where})")
        rows.append(f"  {'total':<24} {g.earned:>3}/{g.possible}")
        rows += [f"  warning: {w}" for w in g.warnings]
        rows.append("")
    earned, possible = sum(g.earned for g in grades), sum(g.possible for g in grades)
    rows.append(f"TOTAL {earned}/{possible}")
    return "\n".join(rows)


def to_json(grades: list[NotebookGrade]) -> dict:
    """The gradebook record: every notebook's exercises, status, warnings and totals (cells left out)."""
    notebooks = []
    for g in grades:
        record = asdict(g)
        record.pop("cells")
        record.update(earned=g.earned, possible=g.possible)
        notebooks.append(record)
    return {"notebooks": notebooks, "earned": sum(g.earned for g in grades),
            "possible": sum(g.possible for g in grades)}


def _peek(path: Path):
    """The notebook as JSON, or None when it does not parse (grading will say why)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def class_submissions(folder: Path, course: Course) -> list[tuple[str, Path | None, str | None]]:
    """(student, notebook or None when missing, lecture id) for every student folder of ``folder``."""
    out = []
    for student in sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in student.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        found = {}
        for path in files:
            lecture, _ = lecture_of(_peek(path), path, course)
            found.setdefault(lecture.id if lecture else None, []).append(path)
        for lecture in course.lectures:
            for path in found.get(lecture.id, [None]):
                out.append((student.name, path, lecture.id))
        out += [(student.name, path, None) for path in found.get(None, [])]
    return out


def grade_class(folder: Path, course: Course, jobs: int = 1, **limits) -> list[tuple[str, NotebookGrade]]:
    """Grade every submission of a class folder; a missing notebook is a ``missing`` row with 0 points."""
    submissions = class_submissions(folder, course)
    present = [path for _, path, _ in submissions if path is not None]
    graded = dict(zip(present, grade(present, course, jobs=jobs, **limits)))
    rows = []
    for student, path, lecture_id in submissions:
        if path is None:
            lecture = course.find(lecture_id)
            rows.append((student, not_graded(Path(folder) / student / lecture.notebook_name, lecture, "missing")))
        else:
            rows.append((student, graded[path]))
    return rows


def gradebook_csv(rows: list[tuple[str, NotebookGrade]], course: Course) -> str:
    """One line per (student, notebook): student, lecture, file, a column per exercise of the course
    (``01_scoring.iou``), total, possible, status, warnings."""
    columns = [f"{lec.id}.{gid}" for lec in course.lectures for gid in lec.points]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "lecture", "file", *columns, "total", "possible", "status", "warnings"])
    for student, g in rows:
        points = {f"{g.lecture}.{ex.grade_id}": ex.earned for ex in g.exercises}
        writer.writerow([student, g.lecture or "", g.path, *(points.get(c, "") for c in columns), g.earned,
                         g.possible, g.status, "; ".join(g.warnings)])
    return buffer.getvalue()
