"""``course.grade_this_notebook()``: the last cell of every lecture, grading the saved notebook in JupyterLab.

It shows a button; pressing it runs ``python -m course grade`` on the notebook's saved file with the
kernel's own interpreter (the one that has the course's packages), from the repository root, and prints
the report under the button as it comes. The notebook's path comes from JupyterLab
(``JPY_SESSION_NAME``, set for every kernel it starts); outside JupyterLab, and inside a grading run
(which must not grade itself again), the cell only says how to grade.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

GRADING_ENV = "COURSE_GRADING"  # set by the grader for the notebook it runs
REPO_DIR = Path(__file__).resolve().parent.parent


def _saved_notebook() -> Path | None:
    """The file JupyterLab says this kernel belongs to (its path may be relative to the kernel's cwd)."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        return None
    for candidate in (Path(name), Path.cwd() / Path(name).name):
        if candidate.suffix == ".ipynb" and candidate.is_file():
            return candidate.resolve()
    return None


def _how_to() -> str:
    return (f"In a terminal at the repository root ({REPO_DIR}): `make grade`, or\n"
            f"  {sys.executable} -m course grade notebooks/NN_name.ipynb")


def _run_grader(path: Path) -> None:
    """Print ``<this interpreter> -m course grade <path>``'s report as it comes (from the repository root)."""
    saved = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
    print(f"Grading {path.name} as saved at {saved} (save first to grade what you see) ...", flush=True)
    cmd = [sys.executable, "-m", "course", "grade", str(path)]
    with subprocess.Popen(cmd, cwd=REPO_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
    if proc.returncode:
        print(f"(the grader could not grade everything: exit status {proc.returncode})")


def grade_this_notebook():
    """A button that grades the saved file of the running notebook and shows the report under it.

    A button rather than grading straight away, so that Run All does not also grade (which takes as long
    as the notebook itself). Outside JupyterLab and inside a grading run it prints what to do and returns
    None.
    """
    if os.environ.get(GRADING_ENV):
        print("This copy is being graded: the grade-this-notebook cell does nothing here.")
        return None
    path = _saved_notebook()
    if path is None:
        print("Run this cell in JupyterLab to grade this notebook.\n" + _how_to())
        return None
    import ipywidgets as widgets

    button = widgets.Button(description=f"Grade the saved {path.name}", icon="check",
                            layout=widgets.Layout(width="auto"))
    report = widgets.Output()

    def grade(_button):
        button.disabled = True
        report.clear_output()
        try:
            with report:
                _run_grader(path)
        finally:
            button.disabled = False
    button.on_click(grade)
    return widgets.VBox([button, report])
