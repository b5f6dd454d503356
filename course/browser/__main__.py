"""``python -m course.browser``: the course tested in a real browser (what ``make browser-test`` runs).

JupyterLab (this interpreter's) serves a temporary copy of the student notebooks; headless Chromium,
driven by Playwright, opens every lecture of course/syllabus.toml in turn, runs all cells, checks the
outputs and the widgets, moves every control, saves, reopens. Screenshots and a report (report.md,
report.json) go to build/browser/. Exit status 1 when any lecture fails, 2 when the test cannot start
(no Chromium, no Playwright, no server).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..syllabus import COURSE_DIR, REPO_DIR, load_course
from .lecture import LectureCheck, Timeouts
from .report import write_report
from .server import LabServer

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Headless, and quiet: without the background-networking flags Chromium keeps calling home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
INSTALL_HINT = "install it with `sudo apt-get install chromium` (Debian/Ubuntu) or pass --chromium PATH"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course.browser", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lectures", nargs="*", help="lecture ids to test (default: every lecture in the syllabus)")
    parser.add_argument("--notebooks", type=Path, default=REPO_DIR / "notebooks")
    parser.add_argument("--out", type=Path, default=REPO_DIR / "build" / "browser")
    parser.add_argument("--chromium", help="the Chromium binary (default: the system's)")
    parser.add_argument("--lenient-redraw", action="store_true",
                        help="a slow redraw (median of a control's moves over 0.5 s, or one move over 1 s) is "
                             "a warning, not a failure: for a machine busier than CI's")
    parser.add_argument("--run-all-timeout", type=float, default=Timeouts.run_all, help="seconds per lecture")
    return parser


def find_chromium(explicit: str | None) -> str | None:
    """The Chromium to drive: ``explicit`` (when given, and only it), else the system's."""
    for candidate in [explicit] if explicit else list(CHROMIUM_CANDIDATES) + [shutil.which("chromium")]:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(f"browser test: no Chromium found; {INSTALL_HINT}", file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser test: Playwright is missing; `pip install -e .[browser]` (make browser-test does it)",
              file=sys.stderr)
        return 2
    if not args.notebooks.is_dir():
        print(f"browser test: no notebooks folder {args.notebooks}", file=sys.stderr)
        return 2
    course = load_course(COURSE_DIR)
    lectures = [lec for lec in course.lectures if not args.lectures or lec.id in args.lectures]
    unknown = sorted(set(args.lectures) - {lec.id for lec in course.lectures})
    if unknown:
        print(f"browser test: not in course/syllabus.toml: {', '.join(unknown)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.png"):
        old.unlink()
    timeouts = Timeouts(run_all=args.run_all_timeout)
    try:
        results, elapsed = run_lectures(args, chromium, lectures, timeouts, sync_playwright)
    except RuntimeError as exc:  # the server did not start: nothing was tested
        print(f"browser test: {exc}", file=sys.stderr)
        return 2
    report = write_report(results, args.out, elapsed)
    print(f"browser test: {sum(r.ok for r in results)}/{len(results)} lectures passed in {elapsed:.0f} s; "
          f"report: {report}")
    return 0 if all(r.ok for r in results) else 1


def run_lectures(args, chromium: str, lectures, timeouts: Timeouts, sync_playwright):
    """Every lecture in turn on one server and one browser page; (results, seconds)."""
    started, results = time.monotonic(), []
    with LabServer(args.notebooks, args.out / "jupyter.log") as lab, sync_playwright() as playwright, \
            tempfile.TemporaryDirectory(prefix="minseg-chromium-") as profile:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        try:
            page = browser.new_page()
            page.add_init_script(path=str(Path(__file__).with_name("page.js")))
            page.goto(lab.lab_url(), wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_function("() => window.jupyterapp && window.__minseg", timeout=120_000)
            page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
            for lecture in lectures:
                print(f"browser test: {lecture.id} ...", flush=True)
                result = LectureCheck(page, lecture.notebook_name, args.out, timeouts, not args.lenient_redraw).run()
                results.append(result)
                print(f"  {'ok' if result.ok else 'FAILED'} in {result.timings.get('total_s')} s"
                      + "".join(f"\n  FAIL {f}" for f in result.failures)
                      + "".join(f"\n  warn {w}" for w in result.warnings), flush=True)
        finally:
            browser.close()
    return results, time.monotonic() - started


if __name__ == "__main__":
    sys.exit(main())
