"""Lecture 03's pictures: a transposed convolution stamped one input pixel at a time, and an
interpolation drawn on the input grid.

``TransposedConvStamps.draw(step, kernel_size, stride, padding)`` and
``InterpolationExplorer.draw(mode, align_corners, scale_factor, sample)`` are the update functions
(pure: they return a Figure and keep what they computed in ``last``); ``.widget()`` wraps each in
controls (and a Play button that walks the input pixels, in a browser); ``.static_figure()`` draws a
few settings for readers without a kernel. Everything drawn is computed by minseg's own ops
(``F.conv_transpose2d``, ``F.interpolate``), so the pictures show what the library does.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .. import functional as F
from ..autograd import no_grad, tensor
from ._figure import (FigureWidget, LectureFigure, fixed_titles, grid_lines, message_figure, move_grid_lines,
                      set_cell_numbers)

MODES = ("nearest", "bilinear", "bicubic")


class TransposedConvStamps:
    """A small single-channel input, upsampled by a transposed convolution one pixel at a time.

    Input pixel (i, j) adds ``x[i, j] * kernel`` to the full output at rows i*s .. i*s+k-1 and
    columns j*s .. j*s+k-1; the padding p then trims p rows/columns from every side.
    ``kernel`` maps a kernel size k to a (k, k) kernel (default: all ones, so the output adds up
    input values and the overlap count is easy to read).
    """

    def __init__(self, image: np.ndarray, kernel=np.ones):
        self.image = np.asarray(image, np.float64)
        self.kernel = kernel
        self.last: dict = {}

    def weights(self, kernel_size: int) -> np.ndarray:
        return np.asarray(self.kernel((kernel_size, kernel_size)), np.float64)

    def layout(self, kernel_size: int, stride: int, padding: int) -> dict:
        """The full (untrimmed) output and overlap count of every stamp, and the trimmed output."""
        kernel = self.weights(kernel_size)
        with no_grad():  # padding 0 gives the full output; the count stamps ones with a ones kernel
            full = F.conv_transpose2d(tensor(self.image[None, None]), tensor(kernel[None, None]),
                                      stride=stride).numpy()[0, 0]
            count = F.conv_transpose2d(tensor(np.ones((1, 1) + self.image.shape)),
                                       tensor(np.ones((1, 1, kernel_size, kernel_size))),
                                       stride=stride).numpy()[0, 0]
        size = [n - 2 * padding for n in full.shape]  # padding trims p from every side
        trimmed = full[padding:padding + size[0], padding:padding + size[1]] if min(size) > 0 else None
        return {"kernel": kernel, "full": full, "count": count, "size": tuple(size), "trimmed": trimmed}

    def stamps_so_far(self, step: int, kernel: np.ndarray, stride: int, full_shape) -> np.ndarray:
        """The sum of the stamps of input pixels 0 .. step (row-major), on the untrimmed grid."""
        k, w = kernel.shape[0], self.image.shape[1]
        total = np.zeros(full_shape)
        for index in range(step + 1):
            i, j = divmod(index, w)
            # out[i*s + a, j*s + b] += x[i, j] * kernel[a, b]
            total[i * stride:i * stride + k, j * stride:j * stride + k] += self.image[i, j] * kernel
        return total

    def draw(self, step: int = 0, kernel_size: int = 3, stride: int = 2, padding: int = 0) -> Figure:
        """The update function: input (current pixel framed), its weighted stamp, the output so far
        (the trimmed region dashed) and the overlap count."""
        lay = self.layout(kernel_size, stride, padding)
        if lay["trimmed"] is None:
            self.last = {"output": np.zeros((0, 0))}
            return message_figure(f"no output: padding {padding} trims away all of the "
                                  f"{lay['full'].shape[0]}x{lay['full'].shape[1]} stamps")
        fig = LectureFigure(figsize=(12, 3.4))  # fixed margins: a constrained layout doubles the redraw
        fig.subplots_adjust(left=0.03, right=0.99, bottom=0.14, top=0.9, wspace=0.18)
        fig.stamp_artists = self.draw_into(fig.subplots(1, 4, width_ratios=[0.8, 1, 1, 1]), step, kernel_size,
                                           stride, padding)
        return fixed_titles(fig)

    def update(self, fig, step: int = 0, kernel_size: int = 3, stride: int = 2, padding: int = 0) -> bool:
        """Show another step or setting on a figure from ``draw``: new data, numbers and boxes on the
        same artists; False when ``fig`` is not such a figure or nothing survives the padding."""
        artists = getattr(fig, "stamp_artists", None)
        if artists is None or self.layout(kernel_size, stride, padding)["trimmed"] is None:
            return False
        self._show_step(artists, step, kernel_size, stride, padding)
        return True

    def draw_into(self, axes, step: int, kernel_size: int, stride: int, padding: int) -> dict:
        """Draw one step on four given axes; fills ``self.last``, returns the artists ``update`` changes."""
        ax_in, ax_stamp, ax_out, ax_count = axes
        artists = {"axes": axes, "cells": [_cells(ax_in), _cells(ax_stamp, labels=False), _cells(ax_out),
                                           _cells(ax_count, "Purples", labels=False)]}
        artists["pixel"] = ax_in.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec="C3", lw=2.5))
        artists["frames"] = [_frame(ax, (0, 0), kernel_size) for ax in (ax_stamp, ax_out)]
        artists["trims"] = [_trim_box(ax, padding, (1, 1)) for ax in (ax_stamp, ax_out, ax_count)]
        self._show_step(artists, step, kernel_size, stride, padding)
        return artists

    def _show_step(self, artists: dict, step: int, kernel_size: int, stride: int, padding: int) -> None:
        """Put one step of one setting on the artists of ``draw_into``; fills ``self.last``."""
        lay = self.layout(kernel_size, stride, padding)
        step = int(np.clip(step, 0, self.image.size - 1))
        i, j = divmod(step, self.image.shape[1])
        kernel, full_shape = lay["kernel"], lay["full"].shape
        stamp = np.full(full_shape, np.nan)
        stamp[i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] = self.image[i, j] * kernel
        so_far = self.stamps_so_far(step, kernel, stride, full_shape)
        done = step == self.image.size - 1
        self.last = {"step": step, "pixel": (i, j), "stamp": stamp, "so_far": so_far, "count": lay["count"],
                     "output": so_far[padding:padding + lay["size"][0], padding:padding + lay["size"][1]],
                     "trimmed": lay["trimmed"], "done": done}
        cells_in, cells_stamp, cells_out, cells_count = artists["cells"]
        (h, w), stamps = self.image.shape, " = conv_transpose2d" if done else f" ({step + 1} stamps)"
        _show_cells(cells_in, self.image, f"input {h}x{w}: pixel ({i}, {j})")
        artists["pixel"].set_xy((j - 0.5, i - 0.5))
        _show_cells(cells_stamp, stamp, f"stamp: x[{i},{j}] = {self.image[i, j]:g} times the kernel")
        _show_cells(cells_out, so_far, "output so far" + stamps)
        for frame in artists["frames"]:
            frame.set_bounds(j * stride - 0.5, i * stride - 0.5, kernel_size, kernel_size)
        _show_cells(cells_count, lay["count"], "overlap count (stamps per pixel)")
        for box in artists["trims"]:
            box.set_bounds(padding - 0.5, padding - 0.5, lay["size"][1], lay["size"][0])
        artists["axes"][3].set_xlabel(f"k={kernel_size}, s={stride}, p={padding}: output "
                                      f"{lay['size'][0]}x{lay['size'][1]} (dashed)", fontsize=9)

    def widget(self) -> FigureWidget:
        """Sliders for the step (input pixel), kernel size, stride and padding, and a Play button."""
        import ipywidgets as widgets

        last = self.image.size - 1
        controls = {"step": widgets.IntSlider(0, 0, last, description="input pixel"),
                    "kernel_size": widgets.IntSlider(3, 1, 4, description="kernel"),
                    "stride": widgets.IntSlider(2, 1, 3, description="stride"),
                    "padding": widgets.IntSlider(0, 0, 2, description="padding")}
        play = widgets.Play(value=0, min=0, max=last, interval=900, description="stamp the pixels")
        widgets.jslink((play, "value"), (controls["step"], "value"))
        return FigureWidget(self.draw, controls, extra=[play], update=self.update)

    def static_figure(self, settings=((3, 2), (4, 2)), padding: int = 0) -> Figure:
        """The finished output and overlap count for a few (kernel_size, stride) settings, one row each."""
        fig = LectureFigure(figsize=(12, 3.2 * len(settings)), layout="constrained")
        rows = fig.subplots(len(settings), 4, width_ratios=[0.8, 1, 1, 1], squeeze=False)
        for axes, (kernel_size, stride) in zip(rows, settings):
            self.draw_into(axes, self.image.size - 1, kernel_size, stride, padding)
            axes[0].set_ylabel(f"kernel {kernel_size}, stride {stride}", fontsize=11)
        return fig


def _cells(ax, cmap: str = "coolwarm", labels: bool = True) -> dict:
    """The artists of an annotated grid of numbers on ``ax`` (``_show_cells`` gives them their values);
    ``labels=False`` drops the row/column numbers (tick labels are text too, and text is most of a
    redraw's time)."""
    ax.tick_params(labelsize=8, labelbottom=labels, labelleft=labels)
    picture = ax.imshow(np.zeros((1, 1)), cmap=cmap, interpolation="nearest")
    return {"ax": ax, "cmap": cmap, "picture": picture, "numbers": [], "grid": grid_lines(ax, (1, 1))}


def _show_cells(cells: dict, values: np.ndarray, title: str) -> None:
    """Show ``values`` on the artists of ``_cells``: nan cells blank, colours around 0 (from 0 for the
    Purples counts), every number written in its cell."""
    ax, picture = cells["ax"], cells["picture"]
    finite = values[np.isfinite(values)]
    limit = max(float(np.abs(finite).max()) if finite.size else 1.0, 1e-9)
    picture.set_data(values)
    picture.set_extent((-0.5, values.shape[1] - 0.5, values.shape[0] - 0.5, -0.5))
    picture.set_clim(0 if cells["cmap"] == "Purples" else -limit, limit)
    integral = np.allclose(finite, np.round(finite))
    cells["numbers"] = set_cell_numbers(ax, cells["numbers"], values, "{:.0f}" if integral else "{:.2f}",
                                        image=picture, fontsize=9 if max(values.shape) <= 7 else 8)
    move_grid_lines(cells["grid"], values.shape)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_title(title, fontsize=10)


def _frame(ax, corner, size: int) -> Rectangle:
    return ax.add_patch(Rectangle((corner[1] - 0.5, corner[0] - 0.5), size, size, fill=False, ec="C3", lw=2))


def _trim_box(ax, padding: int, size) -> Rectangle:
    """Dashed outline of what survives the padding: rows/cols p .. p + size - 1 of the full grid."""
    return ax.add_patch(Rectangle((padding - 0.5, padding - 0.5), size[1], size[0], fill=False, ec="k",
                                  lw=1.5, ls="--"))


def sample_positions(in_size: int, out_size: int, scale_factor: float, align_corners: bool) -> np.ndarray:
    """Where output sample o sits on the input grid (pixel i centred at i).

    align_corners=True: o (in - 1) / (out - 1), the corner pixels' centres coincide;
    False: (o + 1/2) / scale - 1/2, output pixel centres mapped back (torch's default).
    """
    o = np.arange(out_size, dtype=np.float64)
    if align_corners:
        return o * (in_size - 1) / (out_size - 1) if out_size > 1 else 0 * o
    return (o + 0.5) / scale_factor - 0.5


def weight_matrix(in_size: int, scale_factor: float, mode: str, align_corners) -> np.ndarray:
    """The (out, in) matrix W of a 1-D resize: output = W @ input. Resizing is linear, so column i
    is F.interpolate applied to the i-th unit vector (border clamping included)."""
    corners = None if mode == "nearest" else bool(align_corners)
    with no_grad():
        basis = tensor(np.eye(in_size)[None, :, None, :])  # in_size channels of 1 x in_size
        out = F.interpolate(basis, scale_factor=(1.0, float(scale_factor)), mode=mode, align_corners=corners)
    return out.numpy()[0, :, 0, :].T


class InterpolationExplorer:
    """A 1-D signal resized by nearest, bilinear or bicubic interpolation (one row of an image)."""

    def __init__(self, signal):
        self.signal = np.asarray(signal, np.float64)
        self.last: dict = {}

    def curve(self, mode: str, fine: int = 40):
        """The continuous function every sample of ``mode`` lies on, x from -0.5 to n - 0.5."""
        n = self.signal.size
        with no_grad():
            y = F.interpolate(tensor(self.signal[None, None, None]), scale_factor=(1.0, float(fine)), mode=mode,
                              align_corners=None if mode == "nearest" else False).numpy()[0, 0, 0]
        return sample_positions(n, n * fine, fine, False), y

    def draw(self, mode: str = "bilinear", align_corners: bool = False, scale_factor: float = 2.0,
             sample: int = 0) -> Figure:
        """The update function: input pixels and output samples on one axis (the chosen sample's taps
        joined to it), and the weight matrix below (the chosen row framed)."""
        fig = LectureFigure(figsize=(10, 6))  # fixed margins: a constrained layout doubles the redraw
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.92, hspace=0.35)
        fig.interpolation_artists = self.draw_into(fig.subplots(2, 1, height_ratios=[1.2, 1]), mode,
                                                   align_corners, scale_factor, sample)
        return fixed_titles(fig)

    def update(self, fig, mode: str = "bilinear", align_corners: bool = False, scale_factor: float = 2.0,
               sample: int = 0) -> bool:
        """Show another setting on a figure from ``draw``: new curve, samples, taps, weights and
        titles on the same axes; False when ``fig`` is not such a figure."""
        artists = getattr(fig, "interpolation_artists", None)
        if artists is None:
            return False
        self._show(artists, mode, align_corners, scale_factor, sample)
        return True

    def draw_into(self, axes, mode: str, align_corners: bool, scale_factor: float, sample: int) -> dict:
        """Draw one setting on two given axes; fills ``self.last``, returns the artists ``update`` changes."""
        ax_line, ax_w = axes
        n = self.signal.size
        artists = {"axes": axes, "curve": ax_line.plot([], [], color="0.6", lw=1, label=" ")[0]}
        ax_line.plot(np.arange(n), self.signal, "s", ms=9, color="C0", label="input pixels (centres)")
        artists["samples"] = ax_line.plot([], [], "o", ms=5, color="C1", label="output samples")[0]
        # the ring around the chosen sample goes over its tap lines, which come and go with the sample
        artists["ring"] = ax_line.plot([], [], "o", ms=9, mfc="none", mec="C3", mew=2, zorder=2.01)[0]
        for edge in np.arange(n + 1) - 0.5:
            ax_line.axvline(edge, color="0.85", lw=0.8, zorder=0)
        ax_line.set_xlim(-0.7, n - 0.3)
        ax_line.set_xticks(range(n))
        ax_line.set_xlabel("input coordinate (pixel i spans i - 0.5 .. i + 0.5)", fontsize=9)
        artists["legend"] = ax_line.legend(fontsize=8, loc="best")
        artists["taps"] = []
        artists["cells"] = _cells(ax_w)
        artists["row"] = ax_w.add_patch(Rectangle((-0.5, -0.5), n, 1, fill=False, ec="C3", lw=2))
        ax_w.set_xlabel("input pixel", fontsize=9)
        ax_w.set_ylabel("output sample", fontsize=9)
        self._show(artists, mode, align_corners, scale_factor, sample)
        return artists

    def _show(self, artists: dict, mode: str, align_corners: bool, scale_factor: float, sample: int) -> None:
        """Put one setting on the artists of ``draw_into`` (the chosen sample's tap lines and weights
        anew: their number changes); fills ``self.last``."""
        ax_line, ax_w = artists["axes"]
        n = self.signal.size
        weights = weight_matrix(n, scale_factor, mode, align_corners)
        corners = align_corners and mode != "nearest"
        positions = sample_positions(n, weights.shape[0], scale_factor, corners)
        values = weights @ self.signal
        sample = int(np.clip(sample, 0, weights.shape[0] - 1))
        self.last = {"weights": weights, "positions": positions, "values": values, "sample": sample}
        artists["curve"].set_data(*self.curve(mode))
        artists["curve"].set_label(f"{mode} through the input")
        artists["legend"].get_texts()[0].set_text(f"{mode} through the input")
        artists["samples"].set_data(positions, values)
        for artist in artists["taps"]:
            artist.remove()
        artists["taps"] = []
        for i in np.flatnonzero(weights[sample]):
            artists["taps"] += ax_line.plot([positions[sample], i], [values[sample], self.signal[i]], color="C3",
                                            lw=1)
            artists["taps"].append(ax_line.annotate(f"{weights[sample, i]:+.3g}", (i, self.signal[i]),
                                                    textcoords="offset points", xytext=(0, 9), ha="center",
                                                    fontsize=9, color="C3"))
        artists["ring"].set_data([positions[sample]], [values[sample]])
        ax_line.relim()
        ax_line.autoscale_view(scalex=False)
        corners_text = "" if mode == "nearest" else f", align_corners={bool(align_corners)}"
        ax_line.set_title(f"{mode}, scale {scale_factor:g}{corners_text}\nsample {sample} at "
                          f"x = {positions[sample]:.3g} -> {values[sample]:.3g}", fontsize=10)
        _show_cells(artists["cells"], np.where(weights == 0, np.nan, weights),
                    "weights: output = W @ input (row = one sample)")
        artists["row"].set_y(sample - 0.5)
        ax_w.set_aspect("auto")

    def widget(self) -> FigureWidget:
        """Mode, align_corners, scale factor and which output sample to follow."""
        import ipywidgets as widgets

        controls = {"mode": widgets.ToggleButtons(options=MODES, value="bilinear", description="mode"),
                    "align_corners": widgets.Checkbox(False, description="align_corners"),
                    "scale_factor": widgets.FloatSlider(2.0, min=1.0, max=4.0, step=0.5, description="scale"),
                    "sample": widgets.IntSlider(0, 0, 2 * self.signal.size - 1, description="sample")}

        def fit_sample(change=None):
            controls["sample"].max = int(np.floor(self.signal.size * controls["scale_factor"].value)) - 1

        controls["scale_factor"].observe(fit_sample, names="value")
        return FigureWidget(self.draw, controls, update=self.update)

    def static_figure(self, scale_factor: float = 2.0, sample: int = 0, align_corners: bool = False) -> Figure:
        """The three modes side by side at one setting."""
        fig = LectureFigure(figsize=(13, 5.5), layout="constrained")
        grid = fig.subplots(2, 3, height_ratios=[1.2, 1])
        for column, mode in enumerate(MODES):
            self.draw_into(grid[:, column], mode, align_corners, scale_factor, sample)
        return fig
