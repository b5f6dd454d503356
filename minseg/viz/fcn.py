"""Lecture 04's pictures: FCN's score maps, stage by stage, from the coarse stride-32 scores to the
prediction, for FCN-32s, 16s and 8s on the same scenes.

``SkipFusionViewer(models, images, masks)`` runs each model once on the scenes (``FCN.score_maps``)
and keeps every stage; ``draw(scene, variant)`` is the update function (pure: it returns a Figure
and keeps what it drew in ``last``), ``widget()`` wraps it in a scene slider and variant buttons,
``static_figure`` and ``predictions_figure`` are the pictures for readers without a kernel.
A score map is drawn as its winning class (the class colour) shaded by how sure the model is
(the softmax probability of that class): pale cells are undecided.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..autograd import no_grad, tensor
from ..data import CLASSES
from ._figure import FigureWidget, LectureFigure
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

    def stages(self, scene: int, variant: str) -> list[dict]:
        """The fused score maps one variant goes through, coarse to fine: name, stride, scores."""
        maps = self.maps[variant]
        return [dict(name=name, stride=stride, title=title, scores=maps[name][scene])
                for name, stride, title in STAGES if name in maps]

    def draw(self, scene: int = 0, variant: str = "8s") -> Figure:
        """The update function: image, truth, each stage's score map (coarse to fine), prediction,
        errors. Panels a variant does not have say so."""
        if variant not in self.maps:
            raise ValueError(f"SkipFusionViewer.draw: variant must be one of {tuple(self.maps)}, "
                             f"got {variant!r}")
        scene = int(np.clip(scene, 0, len(self.images) - 1))
        image, truth = self.images[scene], self.masks[scene]
        stages = self.stages(scene, variant)
        prediction = self.maps[variant]["out"][scene].argmax(0)
        accuracy = float((prediction == truth).mean())
        self.last = {"scene": scene, "variant": variant, "stages": stages, "prediction": prediction,
                     "errors": prediction != truth, "pixel_accuracy": accuracy}
        # a fixed grid: constrained layout would double the redraw time of the widget
        fig = LectureFigure(figsize=(10, 5.6))
        axes = fig.subplots(2, 4, gridspec_kw=dict(left=0.01, right=0.99, top=0.87, bottom=0.01,
                                                   hspace=0.28, wspace=0.06)).ravel()
        extent = (-0.5, truth.shape[1] - 0.5, truth.shape[0] - 0.5, -0.5)  # score cells cover the image
        self._panel(axes[0], to_hwc(image), f"scene {scene}")
        self._panel(axes[1], colorize(truth, len(self.class_names)), "ground truth")
        for ax, (name, stride, title) in zip(axes[2:5], STAGES):
            stage = next((s for s in stages if s["name"] == name), None)
            if stage is None:
                ax.text(0.5, 0.5, f"FCN-{variant} has\nno {name}", ha="center", va="center", fontsize=10)
                ax.set_axis_off()
                continue
            h, w = stage["scores"].shape[-2:]
            self._panel(ax, score_picture(stage["scores"]), f"stride {stride}: {h}x{w}\n{title}", extent)
        self._panel(axes[5], colorize(prediction, len(self.class_names)),
                    f"FCN-{variant} prediction\n(upsampled x{stages[-1]['stride']})")
        self._panel(axes[6], error_picture(image, prediction, truth),
                    f"errors (red): {int((prediction != truth).sum())} px\npixel accuracy {accuracy:.3f}")
        self._legend(axes[7], np.union1d(np.unique(truth), np.unique(prediction)))
        fig.suptitle(f"FCN-{variant}: a score map is the winning class, paler where the model is unsure",
                     fontsize=11)
        return fig

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
        return FigureWidget(self.draw, controls)

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
