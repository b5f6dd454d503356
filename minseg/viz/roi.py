"""Lecture 08's picture: where RoIPool and RoIAlign look when they crop one box from a feature map.

``RoIExplorer(features).draw(x1, y1, x2, y2, output_size, sampling_ratio, aligned)`` is the update
function (pure: it returns a Figure; what it computed is in ``fig.roi``). Left, RoIPool: the box
(dashed) is rounded to whole feature pixels (first quantisation), then cut into bins whose edges
are rounded again (floor / ceil, second quantisation), and each bin keeps its maximum (x). Middle,
RoIAlign: the box stays where it is, each bin gets ``sampling_ratio`` x ``sampling_ratio`` sample
points read by bilinear interpolation and averaged. Right: both outputs, computed by minseg's
``F.roi_pool`` and ``F.roi_align``. Coordinates are feature-map coordinates (spatial_scale 1):
pixel (i, j) is centred on the integer point (x = i, y = j). ``update`` puts another setting on
the shown figure (the maps, their grids and ticks stay, and are not rendered again).
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .. import functional as F
from ..autograd import no_grad, tensor
from ..functional.roi.geometry import pool_bins, roi_align_sampling_points, round_half_away
from ._figure import FigureWidget, LectureFigure, fixed_titles, grid_lines, set_cell_numbers

_BIN_COLOURS = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9")


def example_features(size: int = 12, digit: int = 3) -> np.ndarray:
    """A (size, size) feature map (size >= 8) to crop from: the first validation sample of ``digit``,
    as whole numbers 0..16, framed by zeros."""
    from ..data import digit_samples

    samples, labels = digit_samples("val")
    out = np.zeros((size, size))
    top = (size - 8) // 2
    out[top:top + 8, top:top + 8] = np.round(samples[np.flatnonzero(labels == digit)[0]] * 16)
    return out


def _ordered(a: float, b: float) -> tuple[float, float]:
    return (a, b) if a <= b else (b, a)


def _foreground(fig) -> list:
    """What ``update`` changes: the two output axes, and on the two maps everything drawn over the
    picture and the ticks (boxes, bins, samples, the grid above the bins, the spines, the title)."""
    maps, outputs = fig.axes[:2], fig.axes[2:]
    return outputs + [artist for ax in maps for artist in
                      [*ax.patches, *ax.lines, *ax.collections, *ax.spines.values(), ax.title]]


class RoIExplorer:
    """One single-channel feature map (H, W), cropped by RoIPool and RoIAlign for any box."""

    def __init__(self, features: np.ndarray):
        self.features = np.asarray(features, np.float64)

    def crop(self, x1, y1, x2, y2, output_size=2, sampling_ratio=2, aligned=False) -> dict:
        """Both ops on one box: outputs (h, w), RoIPool's rounded box and bins, RoIAlign's samples."""
        x1, x2 = _ordered(float(x1), float(x2))
        y1, y2 = _ordered(float(y1), float(y2))
        size, ratio = int(output_size), int(sampling_ratio) if sampling_ratio > 0 else -1
        rois = np.array([[0.0, x1, y1, x2, y2]])
        with no_grad():
            planes = tensor(self.features[None, None])
            pooled = F.roi_pool(planes, rois, size).numpy()[0, 0]
            averaged = F.roi_align(planes, rois, size, sampling_ratio=ratio, aligned=bool(aligned)).numpy()[0, 0]
        bins = pool_bins(rois, np.float64, (size, size), 1.0, self.features.shape)
        samples = roi_align_sampling_points((x1, y1, x2, y2), size, 1.0, ratio, bool(aligned),
                                            self.features.shape)
        return {"box": (x1, y1, x2, y2), "pool": pooled, "align": averaged,
                "rounded": tuple(int(v) for v in round_half_away(rois[0, 1:])),
                "rows": list(zip(bins.h_start[0], bins.h_end[0])), "cols": list(zip(bins.w_start[0], bins.w_end[0])),
                "points": samples.points.reshape(-1, 2), "bin_edges": (samples.bin_edges_x, samples.bin_edges_y),
                "per_bin": samples.count}

    def draw(self, x1=1.3, y1=2.2, x2=8.6, y2=9.4, output_size=2, sampling_ratio=2, aligned=False) -> Figure:
        """The update function: RoIPool's snapped bins, RoIAlign's samples, and the two outputs."""
        fig = LectureFigure(figsize=(12, 4.1))  # fixed margins: constrained layout would double the redraw
        fig.subplots_adjust(left=0.03, right=0.99, top=0.86, bottom=0.07, wspace=0.18)
        fig.roi = self.draw_into(fig.subplots(1, 4, width_ratios=[1, 1, 0.55, 0.55]), x1, y1, x2, y2,
                                 output_size, sampling_ratio, aligned)
        fig.set_foreground(_foreground(fig))
        return fixed_titles(fig)

    def update(self, fig, x1=1.3, y1=2.2, x2=8.6, y2=9.4, output_size=2, sampling_ratio=2,
               aligned=False) -> bool:
        """Show another setting on a figure from ``draw``: the feature maps, their grids and ticks stay,
        the boxes, bins, samples and outputs are put anew (the outputs' pictures and numbers reused);
        False when ``fig`` is not such a figure."""
        if getattr(fig, "roi", None) is None:
            return False
        for ax in fig.axes[:2]:
            for artist in [*ax.patches, *ax.lines, *ax.collections[2:]]:  # all but the grid's two collections
                artist.remove()
        fig.roi = self._show(fig.axes, x1, y1, x2, y2, output_size, sampling_ratio, aligned)
        fig.set_foreground(_foreground(fig))  # new artists; the maps and their ticks stay the background
        return True

    def draw_into(self, axes, x1, y1, x2, y2, output_size, sampling_ratio, aligned) -> dict:
        """Draw one setting on four given axes (RoIPool grid, RoIAlign grid, the two outputs); returns
        what ``crop`` computed for it."""
        for ax in axes[:2]:
            ax.imshow(self.features, cmap="Greys", interpolation="nearest", alpha=0.55)
            grid_lines(ax, self.features.shape)
        for ax in axes[2:]:
            ax.imshow(np.zeros((1, 1)), cmap="viridis", vmin=float(self.features.min()),
                      vmax=float(self.features.max()), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        return self._show(axes, x1, y1, x2, y2, output_size, sampling_ratio, aligned)

    def _show(self, axes, x1, y1, x2, y2, output_size, sampling_ratio, aligned) -> dict:
        """Put one setting's boxes, bins, samples, outputs and titles on the axes ``draw_into`` made."""
        crop = self.crop(x1, y1, x2, y2, output_size, sampling_ratio, aligned)
        ax_pool, ax_align, out_pool, out_align = axes
        for ax in (ax_pool, ax_align):
            bx1, by1, bx2, by2 = crop["box"]
            ax.add_patch(Rectangle((bx1, by1), bx2 - bx1, by2 - by1, fill=False, ec="k", lw=1.5, ls="--"))
        self._draw_pool_bins(ax_pool, crop)
        self._draw_samples(ax_align, crop)
        ratio = "adaptive" if sampling_ratio <= 0 else f"{int(sampling_ratio)}x{int(sampling_ratio)}"
        shift = ", aligned: box - 0.5" if aligned else ""
        ax_align.set_title(f"RoIAlign: {ratio} samples per bin{shift}", fontsize=10)
        for ax, values, name in ((out_pool, crop["pool"], "RoIPool (max)"),
                                 (out_align, crop["align"], "RoIAlign (mean)")):
            picture = ax.images[0]
            picture.set_data(values)
            size = values.shape[0]
            picture.set_extent((-0.5, size - 0.5, size - 0.5, -0.5))  # and the limits, as imshow sets them
            set_cell_numbers(ax, list(ax.texts), values, "{:.1f}", image=picture,
                             fontsize=9 if size <= 3 else 8)
            ax.set_title(f"{name}\n{values.shape[0]}x{values.shape[1]} output", fontsize=10)
        return crop

    def _draw_pool_bins(self, ax, crop) -> None:
        rx1, ry1, rx2, ry2 = crop["rounded"]
        ax.add_patch(Rectangle((rx1 - 0.5, ry1 - 0.5), rx2 - rx1 + 1, ry2 - ry1 + 1, fill=False, ec="C3", lw=2))
        for p, (top, bottom) in enumerate(crop["rows"]):
            for q, (left, right) in enumerate(crop["cols"]):
                if bottom <= top or right <= left:
                    continue
                colour = _BIN_COLOURS[(p * len(crop["cols"]) + q) % len(_BIN_COLOURS)]
                ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fc=colour,
                                       alpha=0.25, ec=colour, lw=1.5))
                region = self.features[top:bottom, left:right]
                r, c = np.unravel_index(np.argmax(region), region.shape)
                ax.plot(left + c, top + r, "x", color=colour, ms=9, mew=2.5)
        ax.set_title(f"RoIPool: box rounded to ({rx1}, {ry1})-({rx2}, {ry2}),\nbins rounded again", fontsize=10)

    @staticmethod
    def _draw_samples(ax, crop) -> None:
        edges_x, edges_y = crop["bin_edges"]
        for x in edges_x:
            ax.plot([x, x], [edges_y[0], edges_y[-1]], color="C0", lw=1.2)
        for y in edges_y:
            ax.plot([edges_x[0], edges_x[-1]], [y, y], color="C0", lw=1.2)
        points = crop["points"]
        ax.scatter(points[:, 0], points[:, 1], s=18, color="C3", zorder=3)

    def widget(self) -> FigureWidget:
        """Sliders for the box's corners, the output size and the sampling ratio; a box for aligned."""
        import ipywidgets as widgets

        height, width = self.features.shape
        style = dict(step=0.1, readout_format=".1f", continuous_update=False,
                     layout=widgets.Layout(width="210px"))
        controls = {"x1": widgets.FloatSlider(1.3, min=0, max=width - 1, description="x1", **style),
                    "y1": widgets.FloatSlider(2.2, min=0, max=height - 1, description="y1", **style),
                    "x2": widgets.FloatSlider(8.6, min=0, max=width - 1, description="x2", **style),
                    "y2": widgets.FloatSlider(9.4, min=0, max=height - 1, description="y2", **style),
                    "output_size": widgets.IntSlider(2, 1, 4, description="output",
                                                     layout=widgets.Layout(width="200px")),
                    "sampling_ratio": widgets.IntSlider(2, 0, 4, description="samples",
                                                        layout=widgets.Layout(width="200px")),
                    "aligned": widgets.Checkbox(False, description="aligned", indent=False,
                                                layout=widgets.Layout(width="90px"))}
        fw = FigureWidget(self.draw, controls, update=self.update)
        fw.ui.children = (widgets.HBox(list(controls.values())[:4]), widgets.HBox(list(controls.values())[4:]),
                          fw.output)
        return fw

    def static_figure(self, settings=((1.3, 2.2, 8.6, 9.4, 2, 2, False), (2.6, 2.4, 5.3, 4.6, 3, 2, True))):
        """A few settings (x1, y1, x2, y2, output, samples, aligned), one row each."""
        fig = LectureFigure(figsize=(12, 3.6 * len(settings)), layout="constrained")
        rows = fig.subplots(len(settings), 4, width_ratios=[1, 1, 0.55, 0.55], squeeze=False)
        for axes, setting in zip(rows, settings):
            self.draw_into(axes, *setting)
            axes[0].set_ylabel("box ({:g}, {:g})-({:g}, {:g})".format(*setting[:4]), fontsize=10)
        return fig
