"""A pytest plugin loaded into the grading subprocess: one JSON line per notebook cell run by nbval.

Each line is written and flushed as soon as the cell finishes, so the results of the cells that ran
survive a kernel that hangs or dies and a grading run that has to be killed.
"""
import json
import os
import re

import pytest

RECORD_ENV = "COURSE_GRADE_RECORD"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning)\b")


def grade_id(cell) -> str | None:
    """The nbgrader grade id of a graded check cell (a dict or notebook node), else None."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if meta.get("grade") else None


def first_line(exc: BaseException) -> str:
    """The line a learner needs: ``NotImplementedError: ...`` / ``AssertionError: ...`` / nbval's reason."""
    message = str(exc).strip() or type(exc).__name__
    traceback = getattr(exc, "inner_traceback", None)
    if message.startswith("Cell execution caused an exception") and traceback:
        lines = [_ANSI.sub("", line).rstrip() for line in traceback.split("\n")]
        hits = [line for line in lines if _EXCEPTION_LINE.match(line)]
        if hits:
            return hits[-1]
    return message.split("\n")[0]


def _outcome(call) -> tuple[str, str]:
    if call.excinfo is None:
        return "passed", ""
    if call.excinfo.errisinstance(pytest.skip.Exception):
        return "skipped", "skipped"
    return "failed", first_line(call.excinfo.value)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    cell = getattr(item, "cell", None)
    path = os.environ.get(RECORD_ENV)
    if cell is None or path is None or not (call.when == "call" or (call.when == "setup" and call.excinfo)):
        return
    outcome, message = _outcome(call)
    record = {"cell": item.cell_num, "id": cell.get("id"), "grade_id": grade_id(cell), "outcome": outcome,
              "message": message}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


class KernelDied(RuntimeError):
    """The kernel process exited while a cell was running (segfault, os._exit, out of memory)."""


def _watch_kernel(original):
    """Wrap nbval's ``RunningKernel.await_reply`` (nbval 0.11.0) to notice a dead kernel within a second.

    Unwrapped, nbval waits for the full cell timeout before it gives up on a kernel that has died.
    """
    from queue import Empty
    import time

    def await_reply(self, msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                return original(self, msg_id, timeout=step)
            except Empty:
                if not self.is_alive():
                    raise KernelDied("the kernel died while running this cell") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise
    return await_reply


def pytest_configure(config):
    from nbval.kernel import RunningKernel

    if not getattr(RunningKernel.await_reply, "_course_watch", False):
        RunningKernel.await_reply = _watch_kernel(RunningKernel.await_reply)
        RunningKernel.await_reply._course_watch = True
