"""Lecture 05's pictures: U-Net's overlap-tile inference one tile at a time, U-Net's border weight
map under its two knobs, and predictions of several models side by side with their boundaries.

``TileExplorer.draw(step)``, ``WeightMapExplorer.draw(w0, sigma)`` and ``draw_predictions(...)``
are the update functions (pure: they return a Figure; the explorers keep what they drew in
``last``); ``.widget()`` wraps an explorer in sliders.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy import ndimage

from .. import functional as F
from ..metrics import label_boundaries
from ._figure import FigureWidget, LectureFigure, fixed_titles
from .masks import colorize, to_hwc

_NOT_YET = (0.93, 0.93, 0.93)  # stitched output not computed yet
_MATCHED, _MISSED = np.array([1.0, 1.0, 1.0]), np.array([1.0, 0.1, 0.1])


def _box(ax, top: int, left: int, height: int, width: int, colour: str, style: str = "-") -> Rectangle:
    """A rectangle around the pixels [top, top + height) x [left, left + width) of an imshow."""
    return ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, ec=colour, lw=2,
                                  ls=style))


def _bare(ax, title: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


class TileExplorer:
    """Overlap-tile inference of an unpadded U-Net on one (3, H, W) scene larger than a tile.

    The whole stitched prediction comes from ``model.predict_tiles``; the explorer shows, tile by
    tile in raster order, the window each tile reads from the mirror-padded scene, the block of
    the output it fills, and the prediction stitched so far.
    """

    def __init__(self, model, image, tile: int):
        self.image = np.asarray(image, np.float32)
        self.layout = model.tile_layout(self.image.shape[-2:], tile)
        self.padded = np.pad(self.image, ((0, 0),) + self.layout.pad_width, mode="reflect")
        scores = model.predict_tiles(self.image[None], tile)[0]
        self.num_classes = scores.shape[0]
        self.prediction = scores.argmax(0)
        self.steps = self.layout.rows * self.layout.cols
        self.last: dict = {}

    def _mirrored(self) -> np.ndarray:
        """True on the padded scene's pixels that are mirror copies (outside the original image)."""
        inside = np.zeros(self.padded.shape[-2:], bool)
        m = self.layout.margin
        inside[m:m + self.layout.height, m:m + self.layout.width] = True
        return ~inside

    def state(self, step: int) -> dict:
        """Tile number ``step`` (raster order): its (row, col), window, input tile, output block and
        the prediction stitched from tiles 0 .. step (label num_classes where not computed yet)."""
        step = int(np.clip(step, 0, self.steps - 1))
        row, col = divmod(step, self.layout.cols)
        window = self.layout.input_window(row, col)
        stitched = np.full(self.prediction.shape, self.num_classes)
        for done in range(step + 1):
            block = self.layout.output_block(*divmod(done, self.layout.cols))
            stitched[block] = self.prediction[block]  # a block may hang over the image: slices clip it
        block = self.layout.output_block(row, col)
        return {"step": step, "row": row, "col": col, "window": window,
                "input_tile": self.padded[(...,) + window], "mirrored": self._mirrored()[window],
                "output_tile": self.prediction[block], "stitched": stitched}

    def draw(self, step: int = 0) -> Figure:
        """The update function: padded scene, input tile, its output tile, the stitched prediction."""
        self.last = self.state(step)
        fig = LectureFigure(figsize=(12, 3.5), layout="constrained")
        self.draw_into(fig.subplots(1, 4, width_ratios=[1.25, 1, 0.8, 1]), self.last)
        return fixed_titles(fig)

    def update(self, fig, step: int = 0) -> bool:
        """Show another tile on a figure from ``draw``: new image data, boxes and titles on the same
        artists, and the axes kept where the first render's constrained layout put them (only the
        titles' numbers change, so a new layout would put them there again); False for another figure."""
        artists = getattr(fig, "tile_artists", None)
        if artists is None:
            return False
        self.last = self.state(step)
        fig.set_layout_engine("none")
        self._show(artists, self.last)
        return True

    def draw_into(self, axes, s: dict) -> None:
        """Draw one state (from ``state``) on four axes."""
        ax_scene, ax_in, ax_out, ax_sum = axes
        lay = self.layout
        ax_scene.imshow(to_hwc(self.padded), interpolation="nearest")
        _box(ax_scene, lay.margin, lay.margin, lay.height, lay.width, "white", "--")
        window_box = _box(ax_scene, 0, 0, lay.input_tile, lay.input_tile, "C3")
        tile_box = _box(ax_scene, lay.margin, lay.margin, lay.tile, lay.tile, "C2")
        ax_in.imshow(self._shaded_tile(s), interpolation="nearest")
        _box(ax_in, lay.margin, lay.margin, lay.tile, lay.tile, "C2")
        _bare(ax_in, f"input tile {lay.input_tile}x{lay.input_tile}\n(mirrored context pale)")
        ax_out.imshow(colorize(s["output_tile"], self.num_classes), interpolation="nearest")
        _bare(ax_out, f"its output block {lay.tile}x{lay.tile}\n(network output {lay.output_tile}x"
                      f"{lay.output_tile})")
        ax_sum.imshow(self._stitched_picture(s), interpolation="nearest")
        block_box = _box(ax_sum, 0, 0, lay.tile, lay.tile, "C2")
        artists = {"axes": axes, "window": window_box, "tile": tile_box, "block": block_box}
        ax_scene.figure.tile_artists = artists
        self._show(artists, s)

    def _shaded_tile(self, s: dict) -> np.ndarray:
        shaded = to_hwc(s["input_tile"]).copy()
        shaded[s["mirrored"]] = 0.45 * shaded[s["mirrored"]] + 0.55
        return shaded

    def _stitched_picture(self, s: dict) -> np.ndarray:
        picture = colorize(s["stitched"], self.num_classes + 1)
        picture[s["stitched"] == self.num_classes] = _NOT_YET
        return picture

    def _show(self, artists: dict, s: dict) -> None:
        """Put one state's tile on the artists ``draw_into`` made (the first time: what it just drew)."""
        ax_scene, ax_in, ax_out, ax_sum = artists["axes"]
        lay, (rows, cols) = self.layout, s["window"]
        artists["window"].set_xy((cols.start - 0.5, rows.start - 0.5))
        artists["tile"].set_xy((cols.start + lay.margin - 0.5, rows.start + lay.margin - 0.5))
        _bare(ax_scene, f"mirror-padded scene (image dashed)\ntile ({s['row']}, {s['col']}) of "
                        f"{lay.rows}x{lay.cols}")
        ax_in.images[0].set_data(self._shaded_tile(s))
        output = colorize(s["output_tile"], self.num_classes)
        ax_out.images[0].set_data(output)
        ax_out.images[0].set_extent((-0.5, output.shape[1] - 0.5, output.shape[0] - 0.5, -0.5))
        ax_sum.images[0].set_data(self._stitched_picture(s))
        block_rows, block_cols = lay.output_block(s["row"], s["col"])
        artists["block"].set_xy((block_cols.start - 0.5, block_rows.start - 0.5))
        _bare(ax_sum, f"stitched so far: {s['step'] + 1} of {self.steps} tiles")

    def widget(self) -> FigureWidget:
        """A slider over the tiles and a Play button that walks them in raster order."""
        import ipywidgets as widgets

        step = widgets.IntSlider(0, 0, self.steps - 1, description="tile")
        play = widgets.Play(value=0, min=0, max=self.steps - 1, interval=900, description="walk the tiles")
        widgets.jslink((play, "value"), (step, "value"))
        return FigureWidget(self.draw, {"step": step}, extra=[play], update=self.update)

    def static_figure(self, steps=None) -> Figure:
        """A few tiles, one row each (default: the first, one in the middle, the last)."""
        steps = steps if steps is not None else (0, self.steps // 2, self.steps - 1)
        fig = LectureFigure(figsize=(12, 3.1 * len(steps)), layout="constrained")
        rows = fig.subplots(len(steps), 4, width_ratios=[1.25, 1, 0.8, 1], squeeze=False)
        for axes, step in zip(rows, steps):
            self.draw_into(axes, self.state(step))
        return fig


class WeightMapExplorer:
    """U-Net's border weight map of one scene's instances, for chosen w0 and sigma."""

    def __init__(self, image, instance_labels):
        self.image = np.asarray(image, np.float32)
        self.instances = np.asarray(instance_labels)
        self.last: dict = {}

    def profile_row(self, sigma: float) -> int:
        """The row through the largest border term (the tightest gap), where the profile is drawn."""
        border = F.unet_weight_map(self.instances, w0=1.0, sigma=sigma, class_weights=(0.0, 0.0))
        return int(np.unravel_index(np.argmax(border), border.shape)[0])

    def state(self, w0: float, sigma: float) -> dict:
        """One setting: the weight map and the profile row (``last``)."""
        weights = F.unet_weight_map(self.instances, w0=float(w0), sigma=float(sigma))
        return {"weights": weights, "row": self.profile_row(float(sigma)), "w0": w0, "sigma": sigma}

    def draw(self, w0: float = 10.0, sigma: float = 5.0) -> Figure:
        """The update function: the scene with its instances outlined, the weight map, a profile."""
        self.last = self.state(w0, sigma)
        fig = LectureFigure(figsize=(12, 3.6), layout="constrained")
        self.draw_into(fig.subplots(1, 3, width_ratios=[1, 1.2, 1.6]), self.last)
        return fixed_titles(fig)

    def update(self, fig, w0: float = 10.0, sigma: float = 5.0) -> bool:
        """Show another setting on a figure from ``draw`` (new map data and colour range, profile,
        titles), the axes kept where the first render's layout put them; False for another figure."""
        axes = getattr(fig, "weight_map_axes", None)
        if axes is None:
            return False
        self.last = self.state(w0, sigma)
        fig.set_layout_engine("none")
        self._show(axes, self.last)
        return True

    def draw_into(self, axes, s: dict) -> None:
        """Draw one setting (from ``state``) on three axes."""
        ax_img, ax_map, ax_line = axes
        picture = to_hwc(self.image).copy()
        picture[label_boundaries(self.instances) & (self.instances > 0)] = 1.0  # white outlines
        ax_img.imshow(picture, interpolation="nearest")
        ax_img.axhline(0, color="C0", lw=1, ls="--")
        shown = ax_map.imshow(s["weights"], cmap="magma", interpolation="nearest", vmin=0)
        ax_map.figure.colorbar(shown, ax=ax_map, shrink=0.85)
        ax_line.plot(s["weights"][0], color="C0", label="w(x) on the profile row")
        columns = np.arange(self.instances.shape[1])
        ax_line.fill_between(columns, 0, 1, where=self.instances[0] > 0, color="0.85", step="mid",
                             label="instance pixels")
        ax_line.set_xlabel("column", fontsize=9)
        ax_line.set_ylabel("weight", fontsize=9)
        ax_line.tick_params(labelsize=8)
        ax_line.legend(fontsize=8, loc="upper right")
        ax_line.set_title("the gaps between instances weigh most", fontsize=9)
        ax_img.figure.weight_map_axes = axes
        self._show(axes, s)

    def _show(self, axes, s: dict) -> None:
        """Put one setting on the artists ``draw_into`` made: profile row, map, profile, titles."""
        ax_img, ax_map, ax_line = axes
        ax_img.lines[0].set_ydata([s["row"], s["row"]])
        _bare(ax_img, f"{len(np.unique(self.instances)) - 1} instances (outlined), profile row {s['row']}")
        ax_map.images[0].set_data(s["weights"])
        ax_map.images[0].set_clim(0, s["weights"].max())  # as imshow(vmin=0) scales a new map
        _bare(ax_map, f"w(x), w0 = {s['w0']:g}, sigma = {s['sigma']:g}: max {s['weights'].max():.2f}")
        values = s["weights"][s["row"]]
        ax_line.lines[0].set_ydata(values)
        instance_pixels = ax_line.collections[0]
        instance_pixels.set_data(np.arange(len(values)), 0, values.max() * 1.05,
                                 where=self.instances[s["row"]] > 0)
        ax_line.relim()  # lines only: the filled band's extent is added as fill_between adds it
        ax_line.update_datalim(instance_pixels.get_datalim(ax_line.transData))
        ax_line.autoscale_view()

    def widget(self) -> FigureWidget:
        """Sliders for w0 and sigma."""
        import ipywidgets as widgets

        controls = {"w0": widgets.FloatSlider(10.0, min=0.0, max=20.0, step=1.0, description="w0"),
                    "sigma": widgets.FloatSlider(5.0, min=1.0, max=15.0, step=0.5, description="sigma")}
        return FigureWidget(self.draw, controls, update=self.update)

    def static_figure(self, settings=((10.0, 5.0), (10.0, 2.0), (0.0, 5.0))) -> Figure:
        """One row per (w0, sigma): the paper's setting, a narrow sigma, and no border term."""
        fig = LectureFigure(figsize=(12, 3.2 * len(settings)), layout="constrained")
        rows = fig.subplots(len(settings), 3, width_ratios=[1, 1.2, 1.6], squeeze=False)
        for axes, (w0, sigma) in zip(rows, settings):
            self.last = self.state(w0, sigma)
            self.draw_into(axes, self.last)
        return fig


def _near(edges: np.ndarray, other: np.ndarray, tolerance: float) -> np.ndarray:
    """The pixels of ``edges`` that lie within ``tolerance`` pixels of a pixel of ``other``."""
    if not other.any():
        return np.zeros_like(edges)
    return edges & (ndimage.distance_transform_edt(~other) <= tolerance)


def boundary_match(labels, target, tolerance: float = 2.0) -> dict:
    """The boundary pixels of the label map ``labels`` and of ``target``, matched as the BF score
    matches them but without its split by class: 'edges', 'matched' (predicted boundary pixels
    near a true one) maps, and 'precision' / 'recall' (true boundary pixels near a predicted one),
    0 where there is nothing to count."""
    edges, true_edges = label_boundaries(np.asarray(labels)), label_boundaries(np.asarray(target))
    matched, found = _near(edges, true_edges, tolerance), _near(true_edges, edges, tolerance)
    return {"edges": edges, "matched": matched,
            "precision": float(matched.sum() / edges.sum()) if edges.any() else 0.0,
            "recall": float(found.sum() / true_edges.sum()) if true_edges.any() else 0.0}


def _edge_segments(labels: np.ndarray, matched: np.ndarray):
    """Line segments between 4-neighbours of different labels (pixel edges of an imshow), split
    into those next to a matched pixel and the rest."""
    segments = {True: [], False: []}
    for r, c in zip(*np.nonzero(labels[:, 1:] != labels[:, :-1])):
        segments[bool(matched[r, c] or matched[r, c + 1])].append([(c + 0.5, r - 0.5), (c + 0.5, r + 0.5)])
    for r, c in zip(*np.nonzero(labels[1:] != labels[:-1])):
        segments[bool(matched[r, c] or matched[r + 1, c])].append([(c - 0.5, r + 0.5), (c + 0.5, r + 0.5)])
    return segments[True], segments[False]


def _show_with_boundaries(ax, labels, target, num_classes: int, tolerance: float) -> dict:
    """The coloured label map with its boundaries drawn on the pixel edges (white: matched, red:
    not); returns boundary_match's result."""
    from matplotlib.collections import LineCollection

    ax.imshow(colorize(labels, num_classes), interpolation="nearest")
    match = boundary_match(labels, target, tolerance)
    good, bad = _edge_segments(np.asarray(labels), match["matched"])
    ax.add_collection(LineCollection(good, colors=[_MATCHED], linewidths=1.0))
    ax.add_collection(LineCollection(bad, colors=[_MISSED], linewidths=1.6))
    return match


def draw_predictions(images, targets, predictions: dict, num_classes: int, tolerance: float = 2.0) -> Figure:
    """One row per scene: the image, the ground truth, then each model's prediction (``predictions``:
    name -> (N, H, W) labels), boundaries highlighted (white: within ``tolerance`` px of a true
    boundary, red: not), with the boundary precision and recall under each panel.
    ``fig.boundary[name]`` lists each scene's (precision, recall)."""
    rows = len(targets)
    fig = LectureFigure(figsize=(2.4 * (2 + len(predictions)), 2.5 * rows), layout="constrained")
    axes = fig.subplots(rows, 2 + len(predictions), squeeze=False)
    fig.boundary = {name: [] for name in predictions}
    for i in range(rows):
        axes[i, 0].imshow(to_hwc(images[i]), interpolation="nearest")
        _show_with_boundaries(axes[i, 1], targets[i], targets[i], num_classes, tolerance)
        _bare(axes[i, 0], "image" if i == 0 else "")
        _bare(axes[i, 1], "ground truth" if i == 0 else "")
        for ax, (name, labels) in zip(axes[i, 2:], predictions.items()):
            match = _show_with_boundaries(ax, labels[i], targets[i], num_classes, tolerance)
            fig.boundary[name].append((match["precision"], match["recall"]))
            _bare(ax, name if i == 0 else "")
            ax.set_xlabel(f"boundary precision {match['precision']:.2f}, recall {match['recall']:.2f}",
                          fontsize=8)
    return fig
