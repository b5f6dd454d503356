"""The course's table of contents: ``syllabus.toml`` read into :class:`Lecture` records.

The syllabus is the single place that says which lectures exist, in which order, under which title,
and how many points every graded check cell (named by its grade id) is worth.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parent
REPO_DIR = COURSE_DIR.parent
LECTURE_ID = re.compile(r"^\d\d_[a-z0-9_]+$")
GRADE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class CourseError(ValueError):
    """The syllabus or a lecture source breaks one of the authoring rules (the message says which)."""


@dataclass(frozen=True)
class Lecture:
    """One lecture: ``id`` is the file stem shared by the source (lectures/ID.py) and the notebook."""

    id: str
    title: str
    source: Path
    points: dict[str, int]

    @property
    def notebook_name(self) -> str:
        """The built notebook's file name."""
        return f"{self.id}.ipynb"

    @property
    def possible(self) -> int:
        """The lecture's total points."""
        return sum(self.points.values())


@dataclass(frozen=True)
class Course:
    """A course directory (``syllabus.toml`` + ``lectures/``) and its lectures in syllabus order."""

    root: Path
    lectures: tuple[Lecture, ...]

    def find(self, lecture_id: str) -> Lecture | None:
        """The lecture with id ``lecture_id``, or None."""
        return next((lec for lec in self.lectures if lec.id == lecture_id), None)


def _lecture(root: Path, entry: dict, where: str) -> Lecture:
    lecture_id, title = entry.get("id"), entry.get("title")
    if not isinstance(lecture_id, str) or not LECTURE_ID.match(lecture_id):
        raise CourseError(f"{where}: id must look like '01_slug', got {lecture_id!r}")
    if not isinstance(title, str) or not title.strip():
        raise CourseError(f"{where} ({lecture_id}): title must be a non-empty string")
    points = entry.get("points", {})
    for grade_id, value in points.items():
        if not GRADE_ID.match(grade_id):
            raise CourseError(f"{where} ({lecture_id}): grade id {grade_id!r} must be snake_case")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise CourseError(f"{where} ({lecture_id}): points for {grade_id!r} must be a positive int, "
                              f"got {value!r}")
    source = root / "lectures" / f"{lecture_id}.py"
    if not source.is_file():
        raise CourseError(f"{where} ({lecture_id}): lecture source {source} does not exist")
    return Lecture(lecture_id, title.strip(), source, dict(points))


def load_course(root: Path | str = COURSE_DIR) -> Course:
    """Read ``root/syllabus.toml``; raise :class:`CourseError` naming the entry that is wrong."""
    root = Path(root).resolve()
    path = root / "syllabus.toml"
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    entries = data.get("lecture", [])
    if not entries:
        raise CourseError(f"{path}: no [[lecture]] entries")
    lectures = tuple(_lecture(root, entry, f"{path.name} lecture #{i + 1}")
                     for i, entry in enumerate(entries))
    ids = [lec.id for lec in lectures]
    if len(set(ids)) != len(ids):
        raise CourseError(f"{path}: lecture ids must be unique, got {ids}")
    return Course(root, lectures)
