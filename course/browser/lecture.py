"""One lecture in the browser, as a learner would use it: open, Run All, move every control of every
widget, save, close, reopen. Each step appends what it saw to a :class:`LectureResult`; failures are
sentences a maintainer can act on (which cell, which widget, which control, what happened)."""
from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

from ..lab_hooks import RUN_AGAIN, WIDGET_VIEW

# Lecture rules (shared/LECTURES.md): a redraw within 0.5 s, sliders and figure within about 900 px.
REDRAW_LIMIT_S = 0.5
# Each control is moved this many times; its redraw time is the median. The first move of a widget
# varies by up to ~0.3 s between runs on 2 cores (the page has just scrolled and repainted; the same
# redraw takes 0.06-0.1 s in Python), so one move alone says little. Any single move over
# WORST_REDRAW_S fails too.
MOVES_PER_CONTROL = 3
WORST_REDRAW_S = 1.0
NOT_MOVED = "could not be moved"
HEIGHT_LIMIT_PX = 900
SMALLEST_TEXT_PX = 10
ALLOWED_ERROR = "NotImplementedError"
# A widget a cell shows (page.js's ROOT; outputs nested in an Output widget are not roots).
WIDGET_ROOT = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output:has(> .jupyter-widgets)"


@dataclasses.dataclass
class Timeouts:
    """Seconds to wait for each thing (tight: about ten lectures must run in 10 minutes on 2 cores)."""
    open: float = 60
    run_all: float = 240
    redraw: float = 8
    settle: float = 1.5


@dataclasses.dataclass
class LectureResult:
    lecture: str
    failures: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    widgets: list[dict] = dataclasses.field(default_factory=list)
    timings: dict = dataclasses.field(default_factory=dict)
    screenshots: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """Poll ``predicate()`` until it is truthy (return it) or ``timeout`` s pass (return the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class LectureCheck:
    """The checks for one notebook on one open JupyterLab page."""

    def __init__(self, page, notebook: str, out_dir: Path, timeouts: Timeouts, strict_redraw: bool = True):
        self.page, self.notebook, self.out_dir, self.timeouts = page, notebook, Path(out_dir), timeouts
        self.strict_redraw = strict_redraw
        self.result = LectureResult(Path(notebook).stem)

    def js(self, expression: str, *args):
        return self.page.evaluate(expression, list(args) if args else None)

    def call(self, method: str, *args):
        """Call ``window.__minseg.method(*args)`` in the page (awaiting a promise)."""
        return self.page.evaluate(f"args => window.__minseg.{method}(...args)", list(args))

    def run(self) -> LectureResult:
        started = time.monotonic()
        try:
            self.open_fresh()
            self.run_all()
            self.check_outputs()
            self.check_widgets()
            self.save_close_reopen()
        except Exception as exc:  # a broken page must not stop the other lectures
            self.result.failures.append(f"stopped: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            self.screenshot("failure")
        finally:
            try:
                self.call("closeAndShutdown")
            except Exception:
                pass
        self.result.timings["total_s"] = round(time.monotonic() - started, 1)
        return self.result

    # -- steps ---------------------------------------------------------------------------------------
    def open_notebook(self) -> None:
        self.page.evaluate("path => window.__minseg.open(path)", self.notebook)
        ready = wait_for(lambda: self.call("kernelStatus") == "idle", self.timeouts.open, 0.25)
        if not ready:
            raise TimeoutError(f"the kernel was not idle {self.timeouts.open:.0f} s after opening")

    def open_fresh(self) -> None:
        t0 = time.monotonic()
        self.open_notebook()
        self.result.timings["open_s"] = round(time.monotonic() - t0, 1)
        time.sleep(0.5)
        if self.call("dirty"):
            self.result.failures.append("a freshly opened notebook is marked unsaved (JupyterLab changed its "
                                        f"metadata to {self.call('metadata')})")

    def run_all(self) -> None:
        t0 = time.monotonic()
        self.page.evaluate("() => window.__minseg.runAll()", None)
        wait_for(lambda: all(c["count"] is not None for c in self.call("cells")), self.timeouts.run_all, 0.5)
        wait_for(lambda: self.call("kernelStatus") == "idle", self.timeouts.run_all, 0.25)
        self.result.timings["run_all_s"] = round(time.monotonic() - t0, 1)
        not_run = [c["index"] for c in self.call("cells") if c["count"] is None]
        if not_run:
            self.result.failures.append(f"Run All did not run code cells {not_run} "
                                        f"(within {self.timeouts.run_all:.0f} s)")
        time.sleep(self.timeouts.settle)  # widget views render after their output arrives

    def check_outputs(self, after: str = "Run All") -> None:
        for cell in self.call("cells"):
            for output in cell["outputs"]:
                if output["type"] != "error":
                    continue
                graded = bool(cell["nbgrader"] and cell["nbgrader"].get("grade"))
                if not (graded and output["ename"] == ALLOWED_ERROR):
                    kind = "check cell" if graded else "cell"
                    self.result.failures.append(f"after {after}: {kind} {cell['index']} ({cell['id']}) shows "
                                                f"{output['ename']}: {(output['evalue'] or '')[:200]}")
        for text in self.call("errorTexts"):
            self.result.failures.append(f"after {after}: the page shows {text!r}")

    def check_widgets(self) -> None:
        count = self.js("() => window.__minseg.widgetRoots().length")
        for index in range(count):
            self.check_widget(index)
        self.screenshot("notebook", first_widget=count > 0)

    def check_widget(self, index: int) -> None:
        root = self.page.locator(WIDGET_ROOT).nth(index)
        root.scroll_into_view_if_needed()
        record = {"index": index, "box": self.call("box", index), "controls": []}
        self.result.widgets.append(record)
        signature = self.call("signature", index)
        if not signature:
            return  # no figure (e.g. the grade button): rendered, nothing to move
        name = f"widget {index + 1} (cell {record['box']['cell']})"
        if record["box"]["height"] > HEIGHT_LIMIT_PX:
            self.result.warnings.append(f"{name}: sliders and figure are {record['box']['height']} px tall "
                                        f"(more than one screen, {HEIGHT_LIMIT_PX} px)")
        smallest = self.call("smallestControlFont", index)
        if smallest is not None and smallest < SMALLEST_TEXT_PX:
            self.result.warnings.append(f"{name}: control text of {smallest:g} px (< {SMALLEST_TEXT_PX} px)")
        path = self.out_dir / f"{self.result.lecture}-widget{index + 1}.png"
        root.screenshot(path=str(path))
        self.result.screenshots.append(path.name)
        # an element screenshot scrolls and repaints the page: let that finish before the first move is
        # timed (right after it, lecture 08's first move read 0.67 s for a redraw of 0.06 s in Python)
        time.sleep(self.timeouts.settle)
        for control in self.call("controls", index):
            record["controls"].append(self.move(index, root, control, name))

    def move(self, index: int, root, control: dict, name: str) -> dict:
        """Move one control MOVES_PER_CONTROL times (Play: started and stopped once) and time each move
        until the widget's figure settles; the control's redraw time is the median of its moves."""
        label = f"{name} {control['kind']} {control['label']!r}"
        times = []
        for _ in range(1 if control["kind"] == "play" else MOVES_PER_CONTROL):
            outcome = self.move_once(index, root, control)
            if isinstance(outcome, str):
                self.result.failures.append(f"{label}: {outcome}")
                return {**control, "moved": outcome != NOT_MOVED, "changed": False}
            times.append(outcome)
        redraw, worst = statistics.median(times), max(times)
        if control["kind"] != "play" and (redraw > REDRAW_LIMIT_S or worst > WORST_REDRAW_S):
            message = (f"{label}: redraw took {redraw:.2f} s in the browser (median of {len(times)} moves: "
                       f"{', '.join(f'{t:.2f}' for t in times)} s; limits {REDRAW_LIMIT_S} s, any move {WORST_REDRAW_S} s)")
            (self.result.failures if self.strict_redraw else self.result.warnings).append(message)
        return {**control, "moved": True, "changed": True, "redraw_s": round(redraw, 2),
                "redraws_s": [round(t, 2) for t in times]}

    def move_once(self, index: int, root, control: dict):
        """Seconds from one move of the control until its figure settled, or why it failed (a str)."""
        before = self.call("signature", index)
        t0 = time.monotonic()
        if not self.actuate(index, root, control):
            return NOT_MOVED
        changed = wait_for(lambda: self.call("signature", index) != before, self.timeouts.redraw, 0.02)
        seconds = time.monotonic() - t0
        if control["kind"] == "play":
            root.locator(".widget-play button").nth(2).click()  # stop
        wait_for(lambda: self.call("kernelStatus") == "idle", self.timeouts.redraw, 0.05)
        if not changed:
            return f"the figure did not change within {self.timeouts.redraw:g} s"
        return seconds if control["kind"] == "play" else self.settled_redraw_time(index, t0)

    def settled_redraw_time(self, index: int, t0: float) -> float:
        """Seconds from the move until the figure stopped changing (a redraw may come in several steps)."""
        last, last_change = self.call("signature", index), time.monotonic()
        while time.monotonic() - last_change < 0.3 and time.monotonic() - t0 < self.timeouts.redraw:
            time.sleep(0.03)
            now = self.call("signature", index)
            if now != last:
                last, last_change = now, time.monotonic()
        return last_change - t0

    def actuate(self, index: int, root, control: dict) -> bool:
        """Change one control the way a learner would (keyboard on a slider, click, choose an option)."""
        kind, i = control["kind"], control["i"]
        if kind == "slider":
            handle = root.locator(".widget-slider").nth(i).locator(".noUi-handle").first
            handle.focus()
            before = self.call("readout", index, i)
            handle.press("ArrowRight")
            if self.call("readout", index, i) == before:
                handle.press("ArrowLeft")
            return self.call("readout", index, i) != before
        if kind == "play":
            root.locator(".widget-play").nth(i).locator("button").first.click()
            return True
        if kind == "dropdown":
            select = root.locator(".widget-dropdown").nth(i).locator("select")
            options = select.locator("option").all_inner_texts()
            if len(options) < 2:
                return False
            current = select.evaluate("s => s.selectedIndex")
            select.select_option(index=(current + 1) % len(options))
            return True
        if kind == "checkbox":
            root.locator(".widget-checkbox").nth(i).locator("input").click()
            return True
        if kind in ("toggles", "radio"):
            group = root.locator(".widget-toggle-buttons" if kind == "toggles" else ".widget-radio-box").nth(i)
            items = group.locator("button" if kind == "toggles" else "input")
            selected = ".mod-active" if kind == "toggles" else ":checked"
            for n in range(items.count()):
                if not items.nth(n).evaluate(f"e => e.matches('{selected}')"):
                    items.nth(n).click()
                    return True
            return False
        if kind == "text":
            field = root.locator(".widget-text input, .widget-inline-hbox input[type=number]").nth(i)
            field.press("ArrowUp")
            field.press("Enter")
            return True
        return False

    def save_close_reopen(self) -> None:
        widgets = sum(WIDGET_VIEW in o["mimes"] for c in self.call("cells") for o in c["outputs"])
        if self.call("save"):
            self.result.failures.append("still marked unsaved right after saving")
        self.call("closeAndShutdown")
        self.open_notebook()
        time.sleep(self.timeouts.settle)
        if self.call("dirty"):
            self.result.warnings.append("the reopened notebook is marked unsaved before anything was done")
        self.check_outputs(after="saving and reopening")
        notes = [c["index"] for c in self.call("cells") for o in c["outputs"] if (o["text"] or "").startswith(RUN_AGAIN)]
        if len(notes) != widgets:
            self.result.failures.append(f"after saving and reopening: {len(notes)} notes to run a widget's cell "
                                        f"again where {widgets} widget views were")
        if notes:  # the first note in view for the screenshot (through JupyterLab: the cell may not be rendered)
            self.call("scrollToCell", notes[0])
            time.sleep(0.5)
        self.screenshot("reopened", first_widget=False)

    def screenshot(self, what: str, first_widget: bool = False) -> None:
        try:
            if first_widget:
                self.page.locator(WIDGET_ROOT).first.scroll_into_view_if_needed()
            path = self.out_dir / f"{self.result.lecture}-{what}.png"
            self.page.screenshot(path=str(path))
            self.result.screenshots.append(path.name)
        except Exception:
            pass
