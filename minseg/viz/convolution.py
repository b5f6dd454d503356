"""Lecture 02's pictures: a convolution walked one output cell at a time (window, im2col column,
output cell), and the convolution drawn as the matrix it is.

``ConvStepper.draw(step, stride, padding, dilation)`` and ``draw_conv_matrix(...)`` are the update
functions (pure: they return a Figure and keep what they drew in ``last``; ``ConvStepper.update`` and
``update_conv_matrix`` show another setting on a drawn figure); ``.widget()`` and ``conv_matrix_widget``
wrap them in sliders (and a Play button that walks the kernel, in a browser).
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .. import functional as F
from ..autograd import no_grad, tensor
from ._figure import (DPI, FigureWidget, LectureFigure, _text_colour, fixed_titles,
                      grid_lines, message_figure, move_grid_lines, set_cell_numbers)


def out_size(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """floor((n + 2p - d(k-1) - 1) / s) + 1, or 0 when the dilated kernel does not fit."""
    span = n + 2 * padding - dilation * (k - 1) - 1
    return span // stride + 1 if span >= 0 else 0


class ConvStepper:
    """One single-channel image and kernel, convolved step by step (one step = one output cell)."""

    def __init__(self, image: np.ndarray, kernel: np.ndarray):
        self.image = np.asarray(image, np.float64)
        self.kernel = np.asarray(kernel, np.float64)
        self.last: dict = {}

    def layout(self, stride: int = 1, padding: int = 0, dilation: int = 1) -> dict:
        """Everything one setting needs: padded image, im2col columns (k*k, L), output (oh, ow)."""
        (h, w), (kh, kw) = self.image.shape, self.kernel.shape
        oh, ow = out_size(h, kh, stride, padding, dilation), out_size(w, kw, stride, padding, dilation)
        if oh == 0 or ow == 0:
            return {"oh": oh, "ow": ow}
        with no_grad():
            cols = F.unfold(tensor(self.image[None, None]), (kh, kw), dilation=dilation, padding=padding,
                            stride=stride).numpy()[0]
        return {"oh": oh, "ow": ow, "cols": cols, "output": (self.kernel.ravel() @ cols).reshape(oh, ow),
                "padded": np.pad(self.image, padding)}

    def window(self, step: int, stride: int, padding: int, dilation: int) -> list[tuple[int, int]]:
        """(row, col) in the padded image of every kernel tap of output cell number ``step``."""
        ow = out_size(self.image.shape[1], self.kernel.shape[1], stride, padding, dilation)
        r, c = divmod(step, ow)
        return [(r * stride + i * dilation, c * stride + j * dilation)
                for i in range(self.kernel.shape[0]) for j in range(self.kernel.shape[1])]

    def draw(self, step: int = 0, stride: int = 1, padding: int = 0, dilation: int = 1) -> Figure:
        """The update function: padded input with the window, the im2col matrix with the current
        column, and the output filled up to the current cell. Fixed margins (no constrained layout:
        it would draw everything twice); ``update`` then moves the step on the same figure."""
        lay = self.layout(stride, padding, dilation)
        if 0 in (lay["oh"], lay["ow"]):
            self.last = {"output": np.zeros((0, 0))}
            return message_figure("no output: the dilated kernel is larger than the padded input")
        fig = LectureFigure(figsize=(12, 4))
        axes = fig.subplots(1, 3, width_ratios=[1, 1.6, 0.8],
                            gridspec_kw=dict(left=0.04, right=0.99, bottom=0.17, top=0.9, wspace=0.25))
        fig.step_artists = self.draw_into(axes, step, stride, padding, dilation)
        return fixed_titles(fig)

    def update(self, fig, step: int = 0, stride: int = 1, padding: int = 0, dilation: int = 1) -> bool:
        """Show another step or setting on a figure from ``draw`` by changing its artists (a new stride,
        padding or dilation: new pictures, grid and cells; a new step: the window, the column frame,
        the output cells move); False when it cannot (another figure, or no output)."""
        artists = getattr(fig, "step_artists", None)
        if artists is None:
            return False
        if artists["setting"] != (stride, padding, dilation):
            lay = self.layout(stride, padding, dilation)
            if 0 in (lay["oh"], lay["ow"]):
                return False
            self._show_setting(artists, lay, (stride, padding, dilation))
        self._show_step(artists, step)
        return True

    def draw_into(self, axes, step: int, stride: int, padding: int, dilation: int) -> dict:
        """Draw one step on three given axes (input, im2col, output); fills ``self.last`` and returns
        the artists that change from step to step or setting to setting (for ``update``)."""
        ax_in, ax_cols, ax_out = axes
        ax_in.imshow(np.zeros((1, 1)), cmap="Greys", interpolation="nearest")
        ax_cols.imshow(np.zeros((1, 1)), cmap="Greys", aspect="auto", interpolation="nearest")
        ax_cols.set_ylabel("kernel tap")
        for axis in (ax_cols.xaxis, ax_cols.yaxis, ax_in.xaxis, ax_in.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))  # few columns: no ticks at -0.5, 0.5, ...
        picture = ax_out.imshow(np.zeros((1, 1)), cmap="coolwarm", interpolation="nearest")
        taps = self.window(0, 1, 0, 1)
        artists = {
            "axes": axes, "picture": picture, "cells": [], "pad_box": None,
            "grids": (grid_lines(ax_in, (1, 1)), grid_lines(ax_out, (1, 1))),
            "taps": [ax_in.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=True, fc=(0.85, 0.2, 0.1, 0.35),
                                               ec="C3")) for r, c in taps],
            "tap_labels": [ax_in.text(c, r, f"×{weight:g}", ha="center", va="center", fontsize=8, color="C3",
                                      bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.85))
                           for (r, c), weight in zip(taps, self.kernel.ravel())],
            "column": ax_cols.add_patch(Rectangle((-0.5, -0.5), 1, self.kernel.size, fill=False, ec="C3",
                                                  lw=2)),
            "frame": ax_out.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="C3", lw=2)),
        }
        self._show_setting(artists, self.layout(stride, padding, dilation), (stride, padding, dilation))
        self._show_step(artists, step)
        return artists

    def _show_setting(self, artists: dict, lay: dict, setting) -> None:
        """Put one stride, padding and dilation on the artists of ``draw_into``: the padded input, the
        im2col matrix, an empty output grid with one (blank) text per cell."""
        ax_in, ax_cols, ax_out = artists["axes"]
        padding = setting[1]
        artists.update(setting=setting, layout=lay)
        _show_picture(ax_in.images[0], lay["padded"], min(0, lay["padded"].min()), lay["padded"].max())
        if artists["pad_box"] is not None:
            artists["pad_box"].remove()
        h, w = lay["padded"].shape
        artists["pad_box"] = ax_in.add_patch(Rectangle(
            (padding - 0.5, padding - 0.5), w - 2 * padding, h - 2 * padding, fill=False, ec="C0", lw=1.5,
            ls="--", zorder=0.99)) if padding else None  # under the taps, as when it was drawn first
        move_grid_lines(artists["grids"][0], lay["padded"].shape)
        pad_note = f" + padding {padding}" if padding else ""
        ax_in.set_title(f"input {self.image.shape[0]}x{self.image.shape[1]}{pad_note}", fontsize=10)
        _show_picture(ax_cols.images[0], lay["cols"], lay["cols"].min(), lay["cols"].max())
        limit = max(float(np.abs(lay["output"]).max()), 1e-9)  # symmetric around 0: readable text
        _show_picture(artists["picture"], np.full((lay["oh"], lay["ow"]), np.nan), -limit, limit)
        move_grid_lines(artists["grids"][1], (lay["oh"], lay["ow"]))
        ax_out.set_xticks(range(lay["ow"]))
        ax_out.set_yticks(range(lay["oh"]))
        artists["format"] = "{:.0f}" if np.allclose(lay["output"], np.round(lay["output"])) else "{:.1f}"
        cell_font = 9 if max(lay["oh"], lay["ow"]) <= 6 else 8
        blank = np.zeros((lay["oh"], lay["ow"]))
        cells = set_cell_numbers(ax_out, artists["cells"], blank, fontsize=cell_font)
        for text in cells:
            text.set_color("black")
        artists["cells"] = cells

    def _show_step(self, artists: dict, step: int) -> None:
        """Put every step-dependent artist where output cell ``step`` needs it; fills ``self.last``."""
        lay, (stride, padding, dilation) = artists["layout"], artists["setting"]
        _, ax_cols, ax_out = artists["axes"]
        n_cells = lay["oh"] * lay["ow"]
        step = int(np.clip(step, 0, n_cells - 1))
        taps = self.window(step, stride, padding, dilation)
        shown = np.full(n_cells, np.nan)
        shown[: step + 1] = lay["output"].ravel()[: step + 1]
        shown = shown.reshape(lay["oh"], lay["ow"])
        self.last = {"step": step, "window": taps, "column": lay["cols"][:, step], "output": shown,
                     "value": float(lay["output"].ravel()[step])}
        for (r, c), patch, label in zip(taps, artists["taps"], artists["tap_labels"]):
            patch.set_xy((c - 0.5, r - 0.5))
            label.set_position((c, r))
        artists["column"].set_x(step - 0.5)
        ax_cols.set_title(f"im2col: {lay['cols'].shape[0]} taps x {n_cells} windows", fontsize=10)
        column = ", ".join(f"{v:g}" for v in self.last["column"])
        ax_cols.set_xlabel(f"column {step} = window {step}: [{column}] · kernel = {self.last['value']:g}",
                           fontsize=9)
        artists["picture"].set_data(shown)
        for text, value in zip(artists["cells"], shown.ravel()):
            text.set_text(artists["format"].format(value) if np.isfinite(value) else "")
            if np.isfinite(value):
                text.set_color(_text_colour(artists["picture"], value))
        r, c = divmod(step, lay["ow"])
        artists["frame"].set_xy((c - 0.5, r - 0.5))
        ax_out.set_title(f"output {lay['oh']}x{lay['ow']}: y[{r},{c}] = {self.last['value']:g}", fontsize=10)

    def widget(self) -> FigureWidget:
        """Sliders for stride, padding, dilation and the step, and a Play button that walks the step."""
        import ipywidgets as widgets

        step = widgets.IntSlider(0, 0, 1, description="step")
        controls = {"step": step, "stride": widgets.IntSlider(1, 1, 3, description="stride"),
                    "padding": widgets.IntSlider(0, 0, 2, description="padding"),
                    "dilation": widgets.IntSlider(1, 1, 3, description="dilation")}

        def fit_step(change=None):
            lay = self.layout(controls["stride"].value, controls["padding"].value, controls["dilation"].value)
            step.max = max(0, lay["oh"] * lay["ow"] - 1)

        for name in ("stride", "padding", "dilation"):
            controls[name].observe(fit_step, names="value")
        fit_step()
        play = widgets.Play(value=0, min=0, max=step.max, interval=600, description="walk the kernel")
        widgets.jslink((play, "value"), (step, "value"))
        widgets.dlink((step, "max"), (play, "max"))
        # a redraw of a step moves a few artists (well under the 0.5 s a lecture allows); Play ticks slower
        return FigureWidget(self.draw, controls, extra=[play], update=self.update)

    def static_figure(self, steps=(0, 1, 5), stride: int = 1, padding: int = 0, dilation: int = 1) -> Figure:
        """A few steps, one row each, for a reader without a kernel."""
        fig = LectureFigure(figsize=(12, 3.3 * len(steps)), layout="constrained")
        rows = fig.subplots(len(steps), 3, width_ratios=[1, 1.6, 0.8], squeeze=False)
        for axes, step in zip(rows, steps):
            self.draw_into(axes, step, stride, padding, dilation)
            axes[0].set_ylabel(f"step {step}", fontsize=11)
        return fig


def _show_picture(picture, values: np.ndarray, low: float, high: float) -> None:
    """New data, extent (the axes follow) and colour range for an imshow picture."""
    picture.set_data(values)
    picture.set_extent((-0.5, values.shape[1] - 0.5, values.shape[0] - 0.5, -0.5))
    picture.set_clim(low, high)


def draw_conv_matrix(kernel: np.ndarray, input_size, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> Figure:
    """The matrix M of the convolution with a 1-D (k,) or 2-D (kh, kw) kernel over ``input_size``
    (L or (H, W)), drawn cell by cell: ``conv(x).ravel() == M @ x.ravel()``. ``fig.matrix`` is M.
    Fixed margins and titles; ``update_conv_matrix`` then shows another setting on the same figure."""
    matrix = _conv_matrix_or_none(kernel, input_size, stride, padding, dilation)
    if isinstance(matrix, str):
        fig = message_figure(f"no matrix: {matrix}")
        fig.matrix = np.zeros((0, 0))
        return fig
    fig = LectureFigure(figsize=_matrix_figsize(matrix.shape))
    ax = fig.subplots()
    fig.matrix_artists = {"ax": ax, "cells": [], "grid": grid_lines(ax, (1, 1)),
                          "picture": ax.imshow(np.zeros((1, 1)), cmap="coolwarm", interpolation="nearest")}
    ax.set_xlabel("input pixel (flattened)")
    ax.set_ylabel("output pixel (flattened)")
    _show_conv_matrix(fig, matrix, stride, padding, dilation)
    return fixed_titles(fig)


def update_conv_matrix(fig, kernel: np.ndarray, input_size, stride: int = 1, padding: int = 0,
                       dilation: int = 1) -> bool:
    """Show another setting on a figure from ``draw_conv_matrix``: its size, margins, picture, cell
    numbers (the Text artists reused), grid and title changed in place (a new figure would build its
    axes and ticks again and search a place for its title); False when it cannot (another figure,
    or a setting without a matrix)."""
    matrix = _conv_matrix_or_none(kernel, input_size, stride, padding, dilation)
    if getattr(fig, "matrix_artists", None) is None or isinstance(matrix, str):
        return False
    _show_conv_matrix(fig, matrix, stride, padding, dilation)
    return True


def _conv_matrix_or_none(kernel, input_size, stride, padding, dilation):
    """F.conv_matrix of the setting, or the reason (a str) why it has none."""
    try:
        return F.conv_matrix(np.asarray(kernel, np.float64), input_size, stride=stride, padding=padding,
                             dilation=dilation)
    except ValueError as exc:
        return str(exc)


def _matrix_figsize(shape) -> tuple:
    """At most 12 x 6 inches (1080 x 540 px): with its sliders the widget fits one screen."""
    rows, cols = shape
    return min(12, 1.2 + 0.35 * cols), min(6, 1.5 + 0.35 * rows)


def _show_conv_matrix(fig, matrix: np.ndarray, stride: int, padding: int, dilation: int) -> None:
    """Put one matrix on the artists of ``draw_conv_matrix``: figure size and fixed margins, the
    nonzero entries coloured, a number in every nonzero cell where there is room, the cell grid."""
    artists, (rows, cols) = fig.matrix_artists, matrix.shape
    width, height = _matrix_figsize(matrix.shape)
    fig.set_size_inches(width, height)
    fig.subplots_adjust(left=0.85 / width, right=1 - 0.15 / width, bottom=0.6 / height, top=1 - 0.65 / height)
    limit = max(1e-12, np.abs(matrix).max())
    _show_picture(artists["picture"], np.where(matrix == 0, np.nan, matrix), -limit, limit)
    cell_px = DPI * min((width - 1) / cols, (height - 1.25) / rows)
    numbers = matrix if cell_px >= 16 else np.zeros((0, 0))  # room for a number of 10 px in every cell
    artists["cells"] = set_cell_numbers(artists["ax"], artists["cells"], numbers, skip_zero=True,
                                        image=artists["picture"], keep_spare=True)
    move_grid_lines(artists["grid"], matrix.shape)
    artists["ax"].set_title(f"conv matrix {rows}x{cols}\nstride {stride}, padding {padding}, "
                            f"dilation {dilation}", fontsize=10)
    fig.matrix = matrix


def conv_matrix_widget(kernel: np.ndarray, max_size: int = 8) -> FigureWidget:
    """Sliders for the input size, stride, padding and dilation; each shows its matrix on the same
    figure (``update_conv_matrix``)."""
    import ipywidgets as widgets

    kernel = np.asarray(kernel, np.float64)

    def input_size(size):
        return size if kernel.ndim == 1 else (size, size)

    def draw(size, stride, padding, dilation):
        return draw_conv_matrix(kernel, input_size(size), stride, padding, dilation)

    def update(fig, size, stride, padding, dilation):
        return update_conv_matrix(fig, kernel, input_size(size), stride, padding, dilation)

    controls = {"size": widgets.IntSlider(min(4, max_size), 2, max_size, description="input size"),
                "stride": widgets.IntSlider(1, 1, 3, description="stride"),
                "padding": widgets.IntSlider(1, 0, 2, description="padding"),
                "dilation": widgets.IntSlider(1, 1, 3, description="dilation")}
    return FigureWidget(draw, controls, update=update)
