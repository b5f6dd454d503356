"""Lecture 10's attention explorer: where one patch of a scene looks, per layer and head.

``draw(image, maps, layer, head, row, col)`` is the pure update function: the scene with the query
patch framed, and that query's attention weights over the token grid laid over the scene.
``maps``: per layer an array (heads, L, L), i.e. ``SETR.attention_maps`` of one image without its
batch axis (``[m[0] for m in model.attention_maps(x)]``).
``draw_heads`` is the static figure (every layer and head for one query); ``attention_widget``
wraps ``draw`` in sliders.
"""
from __future__ import annotations

import numpy as np

from ._figure import FigureWidget, LectureFigure, fixed_titles


def _grid(maps) -> int:
    tokens = maps[0].shape[-1]
    side = int(round(np.sqrt(tokens)))
    if side * side != tokens:
        raise ValueError(f"attention viz: the token grid must be square, got {tokens} tokens")
    return side


def query_map(maps, layer: int, head: int, row: int, col: int) -> np.ndarray:
    """(grid, grid): the attention weights of query patch (row, col) over every key patch."""
    side = _grid(maps)
    weights = np.asarray(maps[layer])[head]
    return weights[row * side + col].reshape(side, side)


def _show_image(ax, image):
    """An image (3, H, W) or (H, W) in [0, 1], without axes."""
    image = np.asarray(image)
    ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1) if image.ndim == 3 else image, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def _frame(ax, row, col, patch, colour="red"):
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((col * patch - 0.5, row * patch - 0.5), patch, patch, fill=False,
                           edgecolor=colour, linewidth=2))


def _overlay(ax, image, weights):
    """The image under the token-grid weights (nearest upsampling to the image's size); the colours
    span the weights' own range, so a nearly uniform map still shows its structure."""
    size = np.asarray(image).shape[-1]
    _show_image(ax, image)
    return ax.imshow(weights, cmap="magma", alpha=0.7, extent=(-0.5, size - 0.5, size - 0.5, -0.5),
                     interpolation="nearest")


def draw(image, maps, layer: int = 0, head: int = 0, row: int = 0, col: int = 0) -> LectureFigure:
    """Left: the scene, query patch (row, col) framed. Right: its attention weights over all patches."""
    patch = np.asarray(image).shape[-1] // _grid(maps)
    fig = LectureFigure(figsize=(8, 3.8))  # no layout engine: a faster redraw
    left, right = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.02, right=0.84, bottom=0.04, top=0.9, wspace=0.08)
    _show_image(left, image)
    _frame(left, 0, 0, patch)
    shown = _overlay(right, image, query_map(maps, layer, head, row, col))
    _frame(right, 0, 0, patch, "cyan")
    fig.colorbar(shown, cax=fig.add_axes((0.86, 0.1, 0.015, 0.75)), label="attention weight")
    fig.attention_axes = (left, right)
    update(fig, image, maps, layer, head, row, col)
    return fixed_titles(fig)


def update(fig, image, maps, layer: int = 0, head: int = 0, row: int = 0, col: int = 0) -> bool:
    """Show another query, layer or head on a figure from ``draw``: the frames move, the weights'
    picture gets new data and colour range, the titles new numbers; False for another figure."""
    axes = getattr(fig, "attention_axes", None)
    if axes is None:
        return False
    left, right = axes
    patch = np.asarray(image).shape[-1] // _grid(maps)
    weights = query_map(maps, layer, head, row, col)
    for ax in axes:
        ax.patches[0].set_xy((col * patch - 0.5, row * patch - 0.5))
    left.set_title(f"query patch ({row}, {col})", fontsize=10)
    right.images[-1].set_data(weights)
    right.images[-1].set_clim(weights.min(), weights.max())  # the weights' own range, as imshow takes it
    right.set_title(f"layer {layer + 1}, head {head + 1}: weights {weights.min():.3f} to {weights.max():.3f}",
                    fontsize=10)
    return True


def draw_heads(image, maps, row: int, col: int) -> LectureFigure:
    """The static figure: one query's attention map for every layer (rows) and head (columns)."""
    layers, heads = len(maps), np.asarray(maps[0]).shape[0]
    side = _grid(maps)
    patch = np.asarray(image).shape[-1] // side
    fig = LectureFigure(figsize=(1.9 * heads + 0.6, 1.9 * layers + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(layers, heads, squeeze=False))
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer, head]
            _overlay(ax, image, query_map(maps, layer, head, row, col))
            _frame(ax, row, col, patch, "cyan")
            ax.set_title(f"L{layer + 1} H{head + 1}", fontsize=9)
    fig.suptitle(f"where query patch ({row}, {col}) looks, per layer and head", fontsize=10)
    return fig


def attention_widget(image, maps) -> FigureWidget:
    """Sliders for layer, head and the query patch's row and column, driving ``draw``."""
    import ipywidgets as widgets

    side, heads = _grid(maps), np.asarray(maps[0]).shape[0]
    style = dict(continuous_update=False, layout=widgets.Layout(width="210px"))
    controls = {"layer": widgets.IntSlider(0, 0, len(maps) - 1, description="layer", **style),
                "head": widgets.IntSlider(0, 0, heads - 1, description="head", **style),
                "row": widgets.IntSlider(side // 2, 0, side - 1, description="query row", **style),
                "col": widgets.IntSlider(side // 2, 0, side - 1, description="query col", **style)}
    return FigureWidget(lambda **values: draw(image, maps, **values), controls,
                        update=lambda fig, **values: update(fig, image, maps, **values))
