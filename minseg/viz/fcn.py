"""Lecture 04's pictures: FCN's score maps, stage by stage, from the coarse stride-32 scores to the
prediction, for FCN-32s, 16s and 8s on the same scenes.

``SkipFusionViewer(models, images, masks)`` runs each model once on the scenes (``FCN.score_maps``)
and keeps every stage; ``draw(scene, variant)`` is the update function (pure: it returns a Figure
and keeps what it drew in ``last``; ``update`` shows another scene or variant on a drawn figure),
``widget()`` wraps them in a scene slider and variant buttons,
``static_figure`` and ``predictions_figure`` are the pictures for readers without a kernel.
A score map is drawn as its winning class (the class colour) shaded by how sure the model is
(the softmax probability of that class): pale cells are undecided.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..autograd import no_grad, tensor
from ..data import CLASSES
from ._figure import FigureWidget, LectureFigure, fixed_titles
from .masks import colorize, palette, to_hwc

VARIANTS = ("32s", "16s", "8s")
# the fused map at each stride, by variant: what the upsampling to the output starts from
STAGES = (("score_fr", 32, "coarse scores (score_fr)"), ("fuse_pool4", 16, "+ pool4 skip (fuse_pool4)"),
          ("fuse_pool3", 8, "+ pool3 skip (fuse_pool3)"))
_ERROR_COLOUR = np.array([0.9, 0.1, 0.1], np.float32)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Class probabilities of (K, h, w) scores along axis 0 (shifted by the max for stability)."""
    shifted = np.exp(scores - scores.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def score_picture(scores: np.ndarray) -> np.ndarray:
    """(h, w, 3) picture of (K, h, w) scores: the argmax class's colour, faded to white as its
    probability p falls from 1 to the chance level 1/K (mixing weight (p - 1/K) / (1 - 1/K))."""
    probabilities = softmax(scores)
    chance = 1.0 / len(scores)
    sureness = ((probabilities.max(0) - chance) / (1 - chance))[..., None]
    return colorize(probabilities.argmax(0), len(scores)) * sureness + (1 - sureness)


def error_picture(image: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(H, W, 3): the image faded to grey where the prediction is right, red where it is wrong."""
    grey = to_hwc(image).mean(axis=2, keepdims=True) * 0.6 + 0.4
    out = np.repeat(grey, 3, axis=2)
    out[prediction != truth] = _ERROR_COLOUR
    return out


def all_score_maps(model, images: np.ndarray) -> dict:
    """``model.score_maps`` on every image (eval mode, no gradients), as ndarrays by name."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            maps = model.score_maps(tensor(np.asarray(images, np.float32)))
    finally:
        model.train(was_training)
    return {name: value.data for name, value in maps.items()}


class SkipFusionViewer:
    """FCN-32s / 16s / 8s on the same scenes: ``models`` maps variant ('32s', '16s', '8s') to a
    trained FCN; ``images`` (N, 3, H, W), ``masks`` (N, H, W)."""

    def __init__(self, models: dict, images: np.ndarray, masks: np.ndarray, class_names=CLASSES):
        unknown = set(models) - set(VARIANTS)
        if unknown or not models:
            raise ValueError(f"SkipFusionViewer: models must map some of {VARIANTS} to FCNs, "
                             f"got {list(models)}")
        self.images, self.masks = np.asarray(images), np.asarray(masks)
        self.class_names = list(class_names)
        self.maps = {variant: all_score_maps(model, self.images) for variant, model in models.items()}
        self.last: dict = {}
        self._pictures: dict = {}

    def stages(self, scene: int, variant: str) -> list[dict]:
        """The fused score maps one variant goes through, coarse to fine: name, stride, scores."""
        maps = self.maps[variant]
        return [dict(name=name, stride=stride, title=title, scores=maps[name][scene])
                for name, stride, title in STAGES if name in maps]

    def draw(self, scene: int = 0, variant: str = "8s") -> Figure:
        """The update function: image, truth, each stage's score map (coarse to fine), prediction,
        errors. Panels a variant does not have say so. Fixed margins and titles (a constrained
        layout would double the redraw time of the widget); ``update`` then shows another scene
        or variant on the same figure."""
        if variant not in self.maps:
            raise ValueError(f"SkipFusionViewer.draw: variant must be one of {tuple(self.maps)}, "
                             f"got {variant!r}")
        fig = LectureFigure(figsize=(10, 5.6))
        fig.fusion_axes = fig.subplots(2, 4, gridspec_kw=dict(left=0.01, right=0.99, top=0.87, bottom=0.01,
                                                              hspace=0.28, wspace=0.06)).ravel()
        for ax in fig.fusion_axes[:7]:
            ax.set_xticks([])
            ax.set_yticks([])
        self._show(fig, scene, variant)
        return fixed_titles(fig)

    def update(self, fig, scene: int = 0, variant: str = "8s") -> bool:
        """Show another scene or variant on a figure from ``draw``: new picture data and titles on
        the same axes (building the eight axes is most of a new figure's cost), the legend made
        again only when other classes are present; False for another figure or an unknown variant."""
        if getattr(fig, "fusion_axes", None) is None or variant not in self.maps:
            return False
        self._show(fig, scene, variant)
        return True

    def pictures(self, scene: int, variant: str) -> dict:
        """What the panels of one scene and variant show (computed once, then kept: a widget moving
        back and forth recomputes nothing): image, truth, each stage's score picture by name,
        prediction and errors as (H, W, 3) pictures, and the numbers of ``last``."""
        key = (scene, variant)
        if key not in self._pictures:
            image, truth = self.images[scene], self.masks[scene]
            stages = self.stages(scene, variant)
            prediction = self.maps[variant]["out"][scene].argmax(0)
            self._pictures[key] = {
                "image": to_hwc(image), "truth": colorize(truth, len(self.class_names)),
                "stages": {s["name"]: score_picture(s["scores"]) for s in stages},
                "prediction": colorize(prediction, len(self.class_names)),
                "errors": error_picture(image, prediction, truth),
                "last": {"scene": scene, "variant": variant, "stages": stages, "prediction": prediction,
                         "errors": prediction != truth, "pixel_accuracy": float((prediction == truth).mean())},
                "classes": tuple(np.union1d(np.unique(truth), np.unique(prediction)))}
        return self._pictures[key]

    def _show(self, fig, scene: int, variant: str) -> None:
        """Put one scene and variant on the axes of ``draw`` (the first time: fill them); fills ``last``."""
        scene = int(np.clip(scene, 0, len(self.images) - 1))
        shown = self.pictures(scene, variant)
        self.last = shown["last"]
        axes, truth = fig.fusion_axes, self.masks[scene]
        extent = (-0.5, truth.shape[1] - 0.5, truth.shape[0] - 0.5, -0.5)  # score cells cover the image
        _show_picture(axes[0], shown["image"], f"scene {scene}")
        _show_picture(axes[1], shown["truth"], "ground truth")
        for ax, (name, stride, title) in zip(axes[2:5], STAGES):
            picture = shown["stages"].get(name)
            if picture is None:
                _show_note(ax, f"FCN-{variant} has\nno {name}")
                continue
            h, w = self.maps[variant][name].shape[-2:]
            _show_picture(ax, picture, f"stride {stride}: {h}x{w}\n{title}", extent)
        _show_picture(axes[5], shown["prediction"],
                      f"FCN-{variant} prediction\n(upsampled x{self.last['stages'][-1]['stride']})")
        _show_picture(axes[6], shown["errors"], f"errors (red): {int(self.last['errors'].sum())} px\n"
                                                f"pixel accuracy {self.last['pixel_accuracy']:.3f}")
        if getattr(fig, "legend_classes", None) != shown["classes"]:
            self._legend(axes[7], shown["classes"])
            fig.legend_classes = shown["classes"]
        fig.suptitle(f"FCN-{variant}: a score map is the winning class, paler where the model is unsure",
                     fontsize=11)

    @staticmethod
    def _panel(ax, picture, title, extent=None):
        ax.imshow(picture, interpolation="nearest", extent=extent)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])

    def _legend(self, ax, present):
        from matplotlib.patches import Patch

        colours = palette(len(self.class_names))
        handles = [Patch(facecolor=colours[c], edgecolor="0.5", label=self.class_names[c]) for c in present]
        ax.legend(handles=handles, loc="center", fontsize=9, frameon=False, title="classes here")
        ax.set_axis_off()

    def widget(self) -> FigureWidget:
        """A scene slider and variant buttons driving ``draw``."""
        import ipywidgets as widgets

        controls = {"scene": widgets.IntSlider(0, 0, len(self.images) - 1, description="scene"),
                    "variant": widgets.ToggleButtons(options=list(self.maps), value=list(self.maps)[-1],
                                                     description="variant")}
        return FigureWidget(self.draw, controls, update=self.update)

    def static_figure(self, scenes=(0, 1, 2), variant: str = "8s") -> Figure:
        """One row per scene: image, each stage of ``variant`` coarse to fine, prediction, truth."""
        names = [name for name, _, _ in STAGES if name in self.maps[variant]]
        fig = LectureFigure(figsize=(2.0 * (len(names) + 3), 2.1 * len(scenes) + 0.4), layout="constrained")
        axes = fig.subplots(len(scenes), len(names) + 3, squeeze=False)
        for row, scene in zip(axes, scenes):
            truth = self.masks[scene]
            extent = (-0.5, truth.shape[1] - 0.5, truth.shape[0] - 0.5, -0.5)
            self._panel(row[0], to_hwc(self.images[scene]), f"scene {scene}")
            for ax, stage in zip(row[1:], self.stages(scene, variant)):
                h, w = stage["scores"].shape[-2:]
                self._panel(ax, score_picture(stage["scores"]), f"{stage['name']} {h}x{w}", extent)
            prediction = self.maps[variant]["out"][scene].argmax(0)
            self._panel(row[-2], colorize(prediction, len(self.class_names)), f"FCN-{variant} output")
            self._panel(row[-1], colorize(truth, len(self.class_names)), "truth")
        fig.suptitle(f"FCN-{variant}, stage by stage: each skip halves the stride of the scores", fontsize=11)
        return fig

    def predictions_figure(self, scenes=(0, 1, 2)) -> Figure:
        """One row per scene: image, truth, then each variant's prediction with its pixel accuracy."""
        variants = list(self.maps)
        fig = LectureFigure(figsize=(2.0 * (len(variants) + 2), 2.1 * len(scenes) + 0.4),
                            layout="constrained")
        axes = fig.subplots(len(scenes), len(variants) + 2, squeeze=False)
        for row, scene in zip(axes, scenes):
            truth = self.masks[scene]
            self._panel(row[0], to_hwc(self.images[scene]), f"scene {scene}")
            self._panel(row[1], colorize(truth, len(self.class_names)), "truth")
            for ax, variant in zip(row[2:], variants):
                prediction = self.maps[variant]["out"][scene].argmax(0)
                self._panel(ax, colorize(prediction, len(self.class_names)),
                            f"FCN-{variant}: acc {(prediction == truth).mean():.3f}")
        return fig


def _show_picture(ax, picture: np.ndarray, title: str, extent=None) -> None:
    """An axes of the viewer showing ``picture`` (its image reused when it has one) under ``title``,
    with its frame (an axes that showed a note gets it back)."""
    for note in ax.texts:
        note.remove()
    ax.set_axis_on()
    if ax.images:
        ax.images[0].set_data(picture)
        ax.images[0].set_extent(extent or (-0.5, picture.shape[1] - 0.5, picture.shape[0] - 0.5, -0.5))
    else:
        ax.imshow(picture, interpolation="nearest", extent=extent)
    ax.set_title(title, fontsize=9)


def _show_note(ax, note: str) -> None:
    """An axes of the viewer that only says ``note`` in its middle: no frame, no picture, no title,
    the limits and aspect of a new axes (where an earlier picture left others)."""
    for artist in [*ax.images, *ax.texts]:
        artist.remove()
    ax.set_title("")
    ax.set_xlim(0, 1, auto=None)  # auto=None: a later picture still sets the limits to its extent
    ax.set_ylim(0, 1, auto=None)
    ax.set_aspect("auto")
    ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=10)
    ax.set_axis_off()
