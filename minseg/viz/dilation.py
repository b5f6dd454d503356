"""Lecture 06's pictures: which input pixels feed one output pixel of a stack of dilated 3x3
convolutions, and along how many paths (so the holes of equal rates show), and the 1-D comparison of
sparse (downsample, convolve, upsample) and dense (dilated) feature extraction.

``draw_field(rates, strides)`` is the update function of the receptive-field explorer (pure: it
returns a Figure whose ``counts`` attribute holds the path counts it drew); ``field_widget()`` wraps
it in one rate and one stride slider per layer; ``field_static_figure`` shows a few stacks side by
side. Every layer is a 3x3 convolution with 'same' padding (padding = rate), so output position p of
a layer reads positions p * stride + t * rate, t in {-1, 0, 1}, of the layer below.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ._figure import FigureWidget, LectureFigure, fixed_titles

TAPS = (-1, 0, 1)  # a 3-tap kernel, centred
MAX_LAYERS = 4
# Fields up to this width show every path count as a number; wider ones only as colours (a 15x15
# field's 225 numbers took half of a redraw and pushed it past the 0.5 s a widget may take).
NUMBERED_FIELD_MAX = 13


class FieldCounts(NamedTuple):
    """Path counts of the centre output pixel over the input, along one axis and over the plane."""

    offsets: np.ndarray  # input coordinates, relative to the output pixel's centre, of the field
    counts_1d: np.ndarray  # paths from the output pixel to each of those input positions (one axis)
    counts: np.ndarray  # (size, size) paths per input pixel: outer(counts_1d, counts_1d)
    levels: list  # per layer, input side first: {position: paths} along one axis

    @property
    def size(self) -> int:
        return len(self.offsets)

    @property
    def holes(self) -> int:
        """Pixels inside the field's square that no path reaches."""
        return int(np.count_nonzero(self.counts == 0))


def _check_stack(rates, strides) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rates, strides = tuple(int(r) for r in rates), tuple(int(s) for s in strides)
    if len(rates) != len(strides) or not 1 <= len(rates) <= MAX_LAYERS:
        raise ValueError(f"field_counts: rates and strides need the same length, 1 to {MAX_LAYERS}, "
                         f"got {rates} and {strides}")
    if min(rates) < 1 or min(strides) < 1:
        raise ValueError(f"field_counts: rates and strides must be >= 1, got {rates} and {strides}")
    return rates, strides


def field_counts(rates, strides=None) -> FieldCounts:
    """Walk down from one output pixel of the stack (layer 1 reads the input) and count the paths.

    Along one axis: paths(top) = {0: 1}; a layer with rate r and stride s sends the paths of its
    position p to the positions p * s + t * r (t = -1, 0, 1) of the layer below. A 3x3 kernel picks its
    row and column taps independently, so the 2-D counts are the outer product of the 1-D ones.
    """
    rates, strides = _check_stack(rates, [1] * len(tuple(rates)) if strides is None else strides)
    paths = {0: 1}
    levels = [paths]
    for rate, stride in zip(reversed(rates), reversed(strides)):
        below: dict[int, int] = {}
        for position, count in paths.items():
            for tap in TAPS:
                source = position * stride + tap * rate
                below[source] = below.get(source, 0) + count
        paths = below
        levels.append(paths)
    low, high = min(paths), max(paths)
    offsets = np.arange(low, high + 1)
    counts_1d = np.array([paths.get(int(o), 0) for o in offsets], np.int64)
    return FieldCounts(offsets, counts_1d, np.outer(counts_1d, counts_1d), levels[::-1])


def _draw_grid(ax, field: FieldCounts):
    """The path counts over the input plane: a picture, a number in every cell of a small field, the
    field's square and the cell borders; returns the picture (for a colour bar)."""
    picture = ax.imshow(np.zeros((1, 1)), cmap="viridis", interpolation="nearest")
    ax.set_facecolor("white")
    ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec="C3", lw=1.5))
    ax.add_collection(LineCollection([], colors="0.85", linewidths=0.5))
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True, nbins=7))
    ax.set_xlabel("input column (0 = under the output pixel)")
    ax.set_ylabel("input row")
    _show_grid(ax, field)
    return picture


def _show_grid(ax, field: FieldCounts) -> None:
    """Put one field's counts on the artists ``_draw_grid`` made (numbers: reuse the Text artists
    there are, add the missing ones, hide the rest: a wider field and back then creates none)."""
    counts = field.counts.astype(float)
    low, high = field.offsets[0] - 0.5, field.offsets[-1] + 0.5
    picture = ax.images[0]
    picture.set_data(np.where(counts == 0, np.nan, counts))
    picture.set_extent((low, high, high, low))
    picture.autoscale()  # the colour range of the data, as a new imshow would take it
    numbers = [(field.offsets[c], field.offsets[r], v) for (r, c), v in np.ndenumerate(field.counts) if v]
    numbers = numbers if field.size <= NUMBERED_FIELD_MAX else []
    texts = list(ax.texts)
    for text in texts[len(numbers):]:
        text.set_visible(False)
    texts += [ax.text(0, 0, "", ha="center", va="center", fontsize=8)
              for _ in range(len(numbers) - len(texts))]
    for text, (x, y, v) in zip(texts, numbers):
        text.set_position((x, y))
        text.set_text(str(v))
        text.set_color("white" if v < 0.6 * field.counts.max() else "black")
        text.set_visible(True)
    ax.patches[0].set_bounds(low, low, field.size, field.size)
    edges = np.arange(low, high + 0.5, 1)  # cell borders as one line collection (cheaper than minor ticks)
    borders = [[(e, low), (e, high)] for e in edges] + [[(low, e), (high, e)] for e in edges]
    ax.collections[0].set_segments(borders if field.size <= 41 else [])


def _draw_paths(ax, field: FieldCounts, rates, strides) -> None:
    """The 1-D picture: one row of units per layer (input at the bottom), a line per kernel tap; a unit
    at position p of layer l sits over input pixel p * (stride_1 * ... * stride_l)."""
    ax.add_collection(LineCollection([], colors="0.55", linewidths=0.8))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("position along one axis (input pixels)")
    ax.set_title("one axis: every unit that feeds the output (red)", fontsize=10)
    _show_paths(ax, field, rates, strides)


def _show_paths(ax, field: FieldCounts, rates, strides) -> None:
    """Put one stack's path diagram on the axes ``_draw_paths`` made (the units' scatters anew)."""
    jumps = np.cumprod((1,) + tuple(strides))
    segments = []
    for level in range(len(rates), 0, -1):
        for position in field.levels[level]:
            for tap in TAPS:
                source = position * strides[level - 1] + tap * rates[level - 1]
                segments.append([(source * jumps[level - 1], level - 1), (position * jumps[level], level)])
    ax.collections[0].set_segments(segments)
    for units in ax.collections[1:]:
        units.remove()
    for level, paths in enumerate(field.levels):
        positions = np.array(sorted(paths)) * jumps[level]
        ax.scatter(positions, np.full(len(positions), level), s=18, c="C3" if level == len(rates) else "C0",
                   zorder=3)
    names = [f"layer {i + 1}: r={r}, s={s}" for i, (r, s) in enumerate(zip(rates, strides))]
    ax.set_yticks(range(len(rates) + 1), ["input"] + names, fontsize=8)
    ax.set_xlim(field.offsets[0] - 1, field.offsets[-1] + 1)
    ax.set_ylim(-0.5, len(rates) + 0.5)


def field_title(field: FieldCounts, jump: int) -> str:
    used = int(np.count_nonzero(field.counts))
    return (f"field {field.size}x{field.size}, jump {jump}: {used} of {field.size ** 2} pixels used, "
            f"{field.holes} holes, up to {int(field.counts.max())} paths")


def _stack(rates, strides) -> tuple[FieldCounts, tuple, tuple]:
    field = field_counts(rates, strides)
    rates = tuple(int(r) for r in rates)
    return field, rates, (1,) * len(rates) if strides is None else tuple(int(s) for s in strides)


def draw_field(rates=(1, 2, 3), strides=None) -> Figure:
    """The update function: path counts over the input (left) and the 1-D path diagram (right)."""
    field, rates, strides = _stack(rates, strides)
    fig = LectureFigure(figsize=(11, 4.6))  # fixed axes (no layout engine): redraws stay fast
    ax_grid = fig.add_axes((0.065, 0.12, 0.34, 0.8))
    ax_bar = fig.add_axes((0.415, 0.2, 0.012, 0.64))
    ax_paths = fig.add_axes((0.6, 0.12, 0.385, 0.8))
    fig.colorbar(_draw_grid(ax_grid, field), cax=ax_bar, label="paths")
    _draw_paths(ax_paths, field, rates, strides)
    _show_title(fig, field, strides)
    return fixed_titles(fig)


def update_field(fig, rates=(1, 2, 3), strides=None) -> bool:
    """Show another stack on a figure from ``draw_field``: the same artists with new data (the
    counts' numbers reused), instead of a new figure; False when ``fig`` is not such a figure."""
    if getattr(fig, "field", None) is None:
        return False
    field, rates, strides = _stack(rates, strides)
    ax_grid, _, ax_paths = fig.axes
    _show_grid(ax_grid, field)
    _show_paths(ax_paths, field, rates, strides)
    _show_title(fig, field, strides)
    return True


def _show_title(fig, field: FieldCounts, strides) -> None:
    fig.axes[0].set_title(field_title(field, int(np.prod(strides))), fontsize=9)
    fig.counts, fig.field = field.counts, field


def field_widget(rates=(1, 2, 3, 1), strides=(1, 1, 1, 1), layers=3, max_rate=4,
                 max_stride=2) -> FigureWidget:
    """A layer-count slider and a rate and a stride slider per layer (two rows of four)."""
    import ipywidgets as widgets

    layout = widgets.Layout(width="210px")
    controls = {"layers": widgets.IntSlider(layers, 1, MAX_LAYERS, description="layers", layout=layout)}
    for i in range(MAX_LAYERS):
        controls[f"rate{i + 1}"] = widgets.IntSlider(rates[i], 1, max_rate, description=f"rate {i + 1}",
                                                     layout=layout)
    for i in range(MAX_LAYERS):
        controls[f"stride{i + 1}"] = widgets.IntSlider(strides[i], 1, max_stride,
                                                       description=f"stride {i + 1}", layout=layout)

    def stack(layers, values):
        return ([values[f"rate{i + 1}"] for i in range(layers)],
                [values[f"stride{i + 1}"] for i in range(layers)])

    widget = FigureWidget(lambda layers, **values: draw_field(*stack(layers, values)), controls,
                         update=lambda fig, layers, **values: update_field(fig, *stack(layers, values)))
    names = list(controls)
    widget.ui = widgets.VBox([widgets.HBox([controls["layers"]]),
                              widgets.HBox([controls[n] for n in names[1:1 + MAX_LAYERS]]),
                              widgets.HBox([controls[n] for n in names[1 + MAX_LAYERS:]]), widget.output])
    return widget


def field_static_figure(stacks=((2, 2, 2), (1, 2, 3), (1, 2, 5))) -> Figure:
    """Path counts of a few stacks of stride-1 3x3 layers (given by their rates), side by side."""
    fig = LectureFigure(figsize=(4 * len(stacks), 4.2), layout="constrained")
    for ax, rates in zip(fig.subplots(1, len(stacks), squeeze=False)[0], stacks):
        field = field_counts(rates)
        fig.colorbar(_draw_grid(ax, field), ax=ax, shrink=0.8, label="paths")
        ax.set_title(f"rates {tuple(rates)}: {field.size}x{field.size}, {field.holes} holes", fontsize=10)
    return fig


def draw_sparse_dense(signal, kernel, rate: int = 2) -> Figure:
    """Seed 004's 1-D picture: (a) sparse: keep every ``rate``-th sample, convolve, upsample (nearest)
    and (b) dense: the same kernel dilated by ``rate`` on the full signal. ``fig.sparse`` and
    ``fig.dense`` hold the two outputs (full length; 'same' zero padding)."""
    signal, kernel = np.asarray(signal, float), np.asarray(kernel, float)
    half = len(kernel) // 2
    low = signal[::rate]
    sparse_low = np.correlate(np.pad(low, half), kernel, mode="valid")
    sparse = np.repeat(sparse_low, rate)[: len(signal)]
    taps = np.zeros(rate * (len(kernel) - 1) + 1)
    taps[::rate] = kernel
    dense = np.correlate(np.pad(signal, rate * half), taps, mode="valid")
    fig = LectureFigure(figsize=(11, 3.6), layout="constrained")
    ax_sparse, ax_dense = fig.subplots(1, 2, sharey=True)
    x = np.arange(len(signal))
    for ax in (ax_sparse, ax_dense):
        ax.plot(x, signal, color="0.7", lw=1, label="input")
    ax_sparse.step(x, sparse, where="mid", color="C0", label="output (upsampled)")
    ax_sparse.plot(x[::rate], sparse_low, "o", color="C0", ms=4, label="computed")
    ax_sparse.set_title(f"(a) sparse: subsample by {rate}, convolve, upsample", fontsize=10)
    ax_dense.plot(x, dense, "o-", color="C1", ms=3, lw=1, label="computed")
    ax_dense.set_title(f"(b) dense: the kernel dilated by {rate}, full resolution", fontsize=10)
    for ax in (ax_sparse, ax_dense):
        ax.set_xlabel("position")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3)
    fig.sparse, fig.dense = sparse, dense
    return fig


__all__ = ["FieldCounts", "draw_field", "draw_sparse_dense", "field_counts", "field_static_figure",
           "field_title", "field_widget", "update_field"]
