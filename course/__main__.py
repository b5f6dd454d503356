"""``python -m course build|check|grade``: the command line of the course tools (see course/README.md)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import build, stale
from .grade import CELL_TIMEOUT, NOTEBOOK_TIMEOUT, format_table, grade, to_json
from .syllabus import COURSE_DIR, REPO_DIR, CourseError, load_course


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course", description=__doc__)
    parser.add_argument("--course", type=Path, default=COURSE_DIR, help="course directory (syllabus.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="write the student notebooks")
    p_build.add_argument("--out", type=Path, default=REPO_DIR / "notebooks")
    p_build.add_argument("--solutions", type=Path, metavar="DIR", help="also write full versions to DIR")
    p_check = sub.add_parser("check", help="fail when the student notebooks are out of date")
    p_check.add_argument("--out", type=Path, default=REPO_DIR / "notebooks")
    p_grade = sub.add_parser("grade", help="run notebooks under nbval and score the graded checks")
    p_grade.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    p_grade.add_argument("--json", action="store_true", help="print a JSON gradebook instead of a table")
    p_grade.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT, help="seconds per cell")
    p_grade.add_argument("--notebook-timeout", type=float, default=NOTEBOOK_TIMEOUT,
                         help="seconds per notebook before it is killed")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        course = load_course(args.course)
        if args.command == "build":
            for path in build(course, args.out, args.solutions):
                print(f"wrote {path}")
            return 0
        if args.command == "check":
            problems = stale(course, args.out)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                print("notebooks are out of date: run `python -m course build`", file=sys.stderr)
            return 1 if problems else 0
        paths = args.notebooks or [REPO_DIR / "notebooks" / lec.notebook_name for lec in course.lectures]
        grades = grade(paths, course, args.cell_timeout, args.notebook_timeout)
    except CourseError as exc:
        print(f"course: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(to_json(grades), indent=1) if args.json else format_table(grades))
    return 0


if __name__ == "__main__":
    sys.exit(main())
