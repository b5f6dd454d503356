"""A pytest plugin loaded into the grading subprocess: one JSON line per notebook cell run by nbval.

Each line is written and flushed as soon as the cell finishes, so the results of the cells that ran
survive a kernel that hangs or dies and a grading run that has to be killed.

The lines go to a pipe the grader opened and passed to this process by file descriptor
(``--course-record-fd``): the kernel, started by jupyter_client with its file descriptors closed, has
no path to it in its environment, its working directory or its command line. A cell whose
``execute_reply`` says "error" fails even when no error output reached nbval (an exception handler
installed with ``set_custom_exc`` hides the traceback, not the reply status).
"""
import json
import os
import re

import pytest

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning|Died)\b")
_ARROW = re.compile(r"^-+>\s*(\d+)\s(.*)$")
MAX_LINES, MAX_LINE, MAX_CHARS = 12, 200, 900
_record = None  # the pipe's write end, opened in pytest_configure


def grade_id(cell) -> str | None:
    """The nbgrader grade id of a graded check cell (a dict or notebook node), else None."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if meta.get("grade") else None


def trim(text: str) -> str:
    """A message cut to a readable size: blank lines dropped, at most MAX_LINES lines of MAX_LINE chars."""
    lines = [line.rstrip() for line in text.split("\n") if line.strip()]
    lines = [line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…" for line in lines]
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES - 1] + [f"… ({len(lines) - MAX_LINES + 1} more lines)"]
    out = "\n".join(lines)
    return out if len(out) <= MAX_CHARS else out[: MAX_CHARS - 1] + "…"


def explain(traceback: str) -> tuple[str, str]:
    """(the exception with its whole message, where in the cell it was raised) from an IPython traceback.

    The message is everything from the last ``SomeError:`` line to the end (numpy's assertion diff,
    the check's err_msg with its inputs); *where* is the line of the cell that the arrow points at.
    """
    lines = [_ANSI.sub("", line).rstrip() for line in traceback.split("\n")]
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    message = "\n".join(lines[starts[-1]:]) if starts else ""
    arrows = [_ARROW.match(line.strip()) for line in lines]
    first = next((m for m in arrows if m), None)
    where = f"line {first.group(1)}: {first.group(2).strip()}" if first else ""
    return trim(message), trim(where)


def _failure(exc: BaseException) -> tuple[str, str]:
    """(message, where) for a failed cell: the cell's exception, or nbval's own reason."""
    message = str(exc).strip() or type(exc).__name__
    traceback = getattr(exc, "inner_traceback", None)
    if message.startswith("Cell execution caused an exception") and traceback:
        explained, where = explain(traceback)
        if explained:
            return explained, where
    return trim(message.split("\n")[0]), ""


def _outcome(item, call) -> dict:
    if call.excinfo is not None:
        if call.excinfo.errisinstance(pytest.skip.Exception):
            return {"outcome": "skipped", "message": "skipped", "where": ""}
        message, where = _failure(call.excinfo.value)
        return {"outcome": "failed", "message": message, "where": where}
    reply = getattr(getattr(item.parent, "kernel", None), "course_last_reply", None) or {}
    if call.when == "call" and reply.get("status") == "error":
        message, where = explain("\n".join(reply.get("traceback", [])))
        fallback = f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')} (its traceback was hidden)"
        return {"outcome": "failed", "message": message or trim(fallback), "where": where}
    return {"outcome": "passed", "message": "", "where": ""}


def pytest_addoption(parser):
    parser.addoption("--course-record-fd", type=int, default=None, help="write cell records to this fd")
    parser.addoption("--course-memory-limit", type=int, default=0,
                     help="bytes of data memory for this process and the kernel it starts (0: no limit)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    kernel = getattr(getattr(item, "parent", None), "kernel", None)
    if kernel is not None:
        kernel.course_last_reply = None
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    yield
    cell = getattr(item, "cell", None)
    if cell is None or _record is None or not (call.when == "call" or (call.when == "setup" and call.excinfo)):
        return
    record = {"cell": item.cell_num, "id": cell.get("id"), **_outcome(item, call)}
    _record.write(json.dumps(record) + "\n")
    _record.flush()


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


def _keep_replies(get_message, execute_cell_input):
    """Wrap ``RunningKernel.get_message`` / ``execute_cell_input`` to keep, on the kernel, the
    ``execute_reply`` of the cell being run (a late reply to an interrupted cell is not mistaken for it)."""
    def execute(self, *args, **kwargs):
        self.course_msg_id = execute_cell_input(self, *args, **kwargs)
        return self.course_msg_id

    def get(self, *args, **kwargs):
        msg = get_message(self, *args, **kwargs)
        parent = msg.get("parent_header", {}).get("msg_id")
        if msg.get("msg_type") == "execute_reply" and parent == getattr(self, "course_msg_id", None):
            self.course_last_reply = msg.get("content", {})
        return msg
    return get, execute


def _limit_memory(limit: int) -> None:
    """Cap this process's data segment (heap and private mappings); the kernel inherits the limit."""
    import resource

    if limit > 0:
        hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit if hard == resource.RLIM_INFINITY
                                                  else min(limit, hard)))


def pytest_configure(config):
    global _record
    from nbval.kernel import RunningKernel

    fd = config.getoption("--course-record-fd")
    if fd is not None and _record is None:
        _record = os.fdopen(fd, "w", encoding="utf-8")
    _limit_memory(config.getoption("--course-memory-limit"))
    if not getattr(RunningKernel.await_reply, "_course_watch", False):
        RunningKernel.await_reply = _watch_kernel(RunningKernel.await_reply)
        RunningKernel.await_reply._course_watch = True
        RunningKernel.get_message, RunningKernel.execute_cell_input = _keep_replies(
            RunningKernel.get_message, RunningKernel.execute_cell_input)
