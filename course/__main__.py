"""``python -m course build|check|grade``: the command line of the course tools (see course/README.md)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import build, stale
from .grade import CELL_TIMEOUT, MEMORY_LIMIT_GB, NOTEBOOK_TIMEOUT, grade
from .report import format_table, grade_class, gradebook_csv, to_json
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
    p_grade = sub.add_parser("grade", help="run notebooks under nbval and score the graded checks",
                             description="Exit status 1 when any file could not be graded (missing, "
                                         "unreadable, not a lecture), 2 on a course error.")
    p_grade.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    p_grade.add_argument("--json", action="store_true", help="print a JSON gradebook instead of a table")
    p_grade.add_argument("--class", dest="class_dir", type=Path, metavar="DIR",
                         help="a class folder (one folder per student): grade every student's notebooks")
    p_grade.add_argument("--csv", type=Path, metavar="FILE", help="with --class: write the gradebook here "
                         "(default: print it)")
    p_grade.add_argument("--jobs", "-j", type=int, default=1, help="notebooks graded at the same time")
    p_grade.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT, help="seconds per cell")
    p_grade.add_argument("--notebook-timeout", type=float, default=NOTEBOOK_TIMEOUT,
                         help="seconds per notebook before it is killed")
    p_grade.add_argument("--memory-limit", type=float, default=MEMORY_LIMIT_GB, metavar="GB",
                         help="memory per notebook (its kernel's data segment), 0 for none")
    return parser


def _grade(args, course) -> int:
    limits = dict(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                  memory_limit_gb=args.memory_limit)
    if args.class_dir is not None:
        rows = grade_class(args.class_dir, course, jobs=args.jobs, **limits)
        text = gradebook_csv(rows, course)
        if args.csv:
            args.csv.write_text(text, encoding="utf-8")
            print(f"wrote {args.csv} ({len(rows)} rows)")
        else:
            print(text, end="")
        grades = [g for _, g in rows]
    else:
        paths = args.notebooks or [REPO_DIR / "notebooks" / lec.notebook_name for lec in course.lectures]
        grades = grade(paths, course, jobs=args.jobs, **limits)
        print(json.dumps(to_json(grades), indent=1) if args.json else format_table(grades))
    failed = [g for g in grades if not g.graded]
    for g in failed:
        print(f"course: could not grade {g.path}: {g.status}", file=sys.stderr)
    return 1 if failed else 0


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
        return _grade(args, course)
    except CourseError as exc:
        print(f"course: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
