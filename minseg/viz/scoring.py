"""Lecture 01's pictures: the four segmentation tasks on one scene, and a predicted mask slid over
the truth while IoU, Dice and the losses are shown live.

``MaskOverlap.draw(dx, dy, confidence)`` is the widget's update function (it returns the Figure and
leaves the numbers it plotted in ``last_scores``); ``overlap_static_figure`` is the same idea for a
reader without a kernel.
"""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .. import functional as F
from .. import metrics
from ..autograd import no_grad, tensor
from ._figure import FigureWidget, LectureFigure
from .masks import colorize, palette

SCORE_NAMES = ("IoU", "Dice", "cross-entropy", "soft Dice loss", "soft Jaccard loss")
# one colour per family (overlap scores, per-pixel loss, overlap losses), in the bars and the curves alike
_COLOURS, _STYLES = ("C0", "C0", "C3", "C2", "C2"), ("-", "--", ":", "-.", "-")
_TRUTH, _PRED, _BOTH = np.array([0.15, 0.45, 0.95]), np.array([0.95, 0.3, 0.2]), np.array([0.95, 0.85, 0.3])


def shift_mask(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The mask moved right by dx and down by dy pixels; what leaves the frame is lost (no wrap-around)."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src = mask[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def overlap_scores(pred: np.ndarray, truth: np.ndarray, confidence: float = 3.0) -> dict:
    """IoU and Dice of the foreground masks, and the three losses of a two-class prediction whose
    logits are ±confidence/2 (foreground where ``pred`` is set), all as plain floats."""
    p, t = np.asarray(pred).astype(np.int64), np.asarray(truth).astype(np.int64)
    logit = confidence * (p - 0.5)
    logits = tensor(np.stack([-logit, logit])[None].astype(np.float64))
    target = t[None]
    with no_grad():
        losses = [loss(logits, target) for loss in (F.cross_entropy, F.dice_loss, F.jaccard_loss)]
    hard = [metrics.iou(p, t, 2)[1], metrics.dice(p, t, 2)[1]]
    return dict(zip(SCORE_NAMES, [float(v) for v in hard] + [loss.item() for loss in losses]))


def overlay(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """RGB picture of two masks: truth only blue, prediction only red, both yellow, neither black."""
    p, t = np.asarray(pred, bool)[..., None], np.asarray(truth, bool)[..., None]
    return np.where(p & t, _BOTH, np.where(p, _PRED, np.where(t, _TRUTH, 0.0)))


class MaskOverlap:
    """A predicted mask (by default a copy of the truth) moved by (dx, dy) over the truth."""

    def __init__(self, truth: np.ndarray, pred: np.ndarray | None = None):
        self.truth = np.asarray(truth, bool)
        self.pred = self.truth if pred is None else np.asarray(pred, bool)
        self.last_scores: dict = {}

    def scores(self, dx: int = 0, dy: int = 0, confidence: float = 3.0) -> dict:
        """The five numbers of ``overlap_scores`` for the prediction moved by (dx, dy)."""
        return overlap_scores(shift_mask(self.pred, dx, dy), self.truth, confidence)

    def draw(self, dx: int = 0, dy: int = 0, confidence: float = 3.0) -> Figure:
        """The update function: overlay on the left, the five numbers as bars on the right."""
        moved = shift_mask(self.pred, dx, dy)
        self.last_scores = overlap_scores(moved, self.truth, confidence)
        fig = LectureFigure(figsize=(9.5, 3.6), layout="constrained")
        ax_img, ax_bar = fig.subplots(1, 2, width_ratios=[1, 1.4])
        ax_img.imshow(overlay(moved, self.truth), interpolation="nearest")
        ax_img.set_title(f"prediction moved by ({dx}, {dy})\nblue truth · red prediction · yellow both")
        ax_img.axis("off")
        values = [self.last_scores[name] for name in SCORE_NAMES]
        bars = ax_bar.barh(SCORE_NAMES, np.nan_to_num(values), color=_COLOURS)
        ax_bar.invert_yaxis()
        ax_bar.set_xlim(0, max(1.2, float(np.nanmax(values)) * 1.2))  # fixed while the values fit
        for bar, value in zip(bars, values):
            ax_bar.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:.3f}", va="center")
        ax_bar.set_title(f"scores: higher is better · losses: lower is better\n(logits ±{confidence / 2:g}, "
                         f"confidence {confidence:g})")
        return fig

    def widget(self, max_shift: int | None = None) -> FigureWidget:
        """Sliders for dx, dy and the logits' confidence; displays live in JupyterLab."""
        import ipywidgets as widgets

        limit = max_shift or self.truth.shape[1] // 2
        controls = {"dx": widgets.IntSlider(0, -limit, limit, description="dx"),
                    "dy": widgets.IntSlider(0, -limit, limit, description="dy"),
                    "confidence": widgets.FloatSlider(3.0, min=0.5, max=10.0, step=0.5,
                                                      description="confidence")}
        return FigureWidget(self.draw, controls)


def scores_along_shift(truth: np.ndarray, shifts, confidence: float = 3.0) -> dict:
    """Every score of ``overlap_scores`` for the truth moved right by each shift (arrays by name)."""
    rows = [overlap_scores(shift_mask(truth, int(s), 0), truth, confidence) for s in shifts]
    return {name: np.array([row[name] for row in rows]) for name in SCORE_NAMES}


def overlap_static_figure(truth: np.ndarray, shifts=(0, 3, 6, 12), confidence: float = 3.0) -> Figure:
    """The widget's idea without a kernel: a few shifts, then every score as a curve of the shift."""
    truth = np.asarray(truth, bool)
    fig = LectureFigure(figsize=(11, 5.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.2])
    for ax, s in zip(top.subplots(1, len(shifts)), shifts):
        scores = overlap_scores(shift_mask(truth, s, 0), truth, confidence)
        ax.imshow(overlay(shift_mask(truth, s, 0), truth), interpolation="nearest")
        ax.set_title(f"dx={s}: IoU {scores['IoU']:.2f}, Dice {scores['Dice']:.2f}", fontsize=9)
        ax.axis("off")
    xs = np.arange(0, truth.shape[1] // 2 + 1)
    curves = scores_along_shift(truth, xs, confidence)
    ax = bottom.subplots()
    for name, colour, style in zip(SCORE_NAMES, _COLOURS, _STYLES):
        ax.plot(xs, curves[name], style, color=colour, label=name)
    ax.set_xlabel("shift dx (pixels)")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the curves, never on them
    ax.set_title("sliding the prediction off the truth")
    return fig


def tasks_figure(image: np.ndarray, mask: np.ndarray, instances: dict, classes) -> Figure:
    """One scene seen by the four tasks: classification, semantic, instance and panoptic segmentation."""
    fig = LectureFigure(figsize=(12, 3.4), layout="constrained")
    axes = fig.subplots(1, 4)
    present = sorted({classes[c] for c in np.unique(mask) if c != 0})
    instance_map = np.zeros(mask.shape, np.int64)
    for i, m in enumerate(instances["masks"]):
        instance_map[m] = i + 1
    panoptic = np.where(instance_map > 0, instance_map + 1, 0)
    colours = palette(max(len(classes), len(instances["masks"]) + 2))
    stuff = colours.copy()
    stuff[0] = (0.55, 0.7, 0.55)
    panels = [(np.transpose(image, (1, 2, 0)), f"classification: {', '.join(present)}"),
              (colorize(mask, len(classes)), "semantic: a class per pixel"),
              (colorize(instance_map, colours=colours), "instance: things, one mask each"),
              (colorize(panoptic, colours=stuff), "panoptic: stuff + every thing")]
    for ax, (picture, title) in zip(axes, panels):
        ax.imshow(picture, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return fig
