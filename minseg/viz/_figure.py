"""Plumbing shared by the lecture widgets: a pure drawing function shown in an ipywidgets Output.

A widget here is ``draw(**control_values) -> matplotlib Figure`` plus a few controls. The drawing
function is the update function: tests (and readers without a browser) call it directly and look at
the figure's data; the widget only redraws it into its Output whenever a control changes.
Figures are :class:`LectureFigure` objects (a ``matplotlib.figure.Figure`` made without pyplot), so no
global figure state builds up, nothing is drawn twice, and a figure shows itself as a PNG in Jupyter
even before pyplot has loaded its inline backend.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure


class LectureFigure(Figure):
    """A Figure that renders itself in Jupyter (``_repr_png_``) without going through pyplot."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=90)
        return buffer.getvalue()


class FigureWidget:
    """Controls (a dict name -> ipywidget) driving ``draw``; ``ui`` is the box to display."""

    def __init__(self, draw, controls: dict, extra=()):
        import ipywidgets as widgets

        self.draw, self.controls = draw, controls
        self.output = widgets.Output()
        self.figure = None
        for control in controls.values():
            control.observe(self.refresh, names="value")
        self.ui = widgets.VBox([widgets.HBox(list(extra) + list(controls.values())), self.output])
        self.refresh()

    def values(self) -> dict:
        """The controls' current values by name (``draw``'s keyword arguments)."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self, change=None) -> Figure:
        """Redraw with the controls' current values (called by every control change)."""
        from IPython.display import display

        self.figure = self.draw(**self.values())
        with self.output:
            self.output.clear_output(wait=True)
            display(self.figure)
        return self.figure

    def _ipython_display_(self):
        from IPython.display import display

        display(self.ui)


def message_figure(text: str, figsize=(6, 1.5)) -> Figure:
    """A figure that only says why nothing can be drawn (e.g. a kernel larger than its input)."""
    fig = LectureFigure(figsize=figsize)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return fig


def annotate_cells(ax, values: np.ndarray, fmt: str = "{:g}", skip_zero: bool = False, fontsize: int = 8,
                   image=None):
    """Write every entry of a small 2-D array in its imshow cell; given the ``image`` (the AxesImage
    drawn from ``values``), the text is white on dark cells so it stays readable."""
    for (r, c), v in np.ndenumerate(values):
        if np.isfinite(v) and not (skip_zero and v == 0):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                    color=_text_colour(image, v))


def _text_colour(image, value: float) -> str:
    """Black, or white where the image paints ``value`` dark (relative luminance below 0.45)."""
    if image is None:
        return "black"
    red, green, blue, _ = image.cmap(image.norm(value))
    return "white" if 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.45 else "black"


def grid_lines(ax, shape, colour="0.7"):
    """Thin lines between the cells of an imshow of ``shape`` (rows, cols)."""
    ax.set_xticks(np.arange(-0.5, shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, shape[0], 1), minor=True)
    ax.grid(which="minor", color=colour, linewidth=0.5)
    ax.tick_params(which="minor", length=0)
