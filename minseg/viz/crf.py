"""Lecture 07's mean-field explorer: the photo, the unary's labels, Q's labels after a chosen number
of mean-field iterations, and the energy E(x) of those labels at every iteration.

``MeanFieldExplorer.draw(iteration, w1, theta_alpha, theta_beta, w2, theta_gamma)`` is the update
function (pure: it returns a Figure and keeps what it drew in ``last``); ``.widget()`` wraps it in
sliders. A redraw must stay under half a second, so the image is small (at most 2500 pixels: the
energy is exact, O(N^2)) and each parameter set is run once: its labels at every iteration and their
energies are cached, and moving the iteration slider only redraws. The pixels' squared distances
are computed once and each kernel is kept per width, so a new θ costs one N x N exponential (and a
new weight only the energies' products: the N x N sum w1 k1 + w2 k2 is never formed); ``update``
then changes the shown figure's Q panel and energy curve in place instead of drawing a new figure,
and a new iteration renders only the Q panel, the current point and a title over a cached render.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..crf import DenseCRF
from ..crf.dense import _squared_distances, _unit_kernel
from ._figure import FigureWidget, LectureFigure, fixed_titles

PARAMETERS = ("w1", "theta_alpha", "theta_beta", "w2", "theta_gamma")
DEFAULTS = dict(w1=10.0, theta_alpha=80.0, theta_beta=13.0, w2=3.0, theta_gamma=3.0)  # pydensecrf's usual
MAX_PIXELS = 2500


def label_colours(num_labels: int) -> ListedColormap:
    """A qualitative colour map with one colour per label (tab10's)."""
    from matplotlib import colormaps

    return ListedColormap(colormaps["tab10"].colors[:num_labels])


def show_labels(ax, labels: np.ndarray, num_labels: int, title: str):
    """A label map drawn with one flat colour per label, axes off."""
    picture = ax.imshow(labels, cmap=label_colours(num_labels), vmin=-0.5, vmax=num_labels - 0.5,
                        interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    return picture


class MeanFieldExplorer:
    """Mean-field on one small image (H, W, 3), colours in 0..255, and unary costs (K, H, W)."""

    def __init__(self, image: np.ndarray, unary: np.ndarray, max_iter: int = 8, method: str = "permutohedral",
                 normalization: str = "symmetric", cache_size: int = 64):
        self.image = np.asarray(image, np.float64)
        self.unary = np.asarray(unary, np.float64)
        if self.image.ndim != 3 or self.image.shape[:2] != self.unary.shape[1:]:
            raise ValueError(f"MeanFieldExplorer: image (H, W, C) {self.image.shape} and unary (K, H, W) "
                             f"{self.unary.shape} must have the same H and W")
        if self.image.shape[0] * self.image.shape[1] > MAX_PIXELS:
            raise ValueError(f"MeanFieldExplorer: image must have at most {MAX_PIXELS} pixels (the energy "
                             f"is exact, O(N^2)), got (H, W) = {self.image.shape[:2]}")
        self.max_iter, self.method, self.normalization = int(max_iter), method, normalization
        self.cache: OrderedDict = OrderedDict()
        self.cache_size = cache_size
        self.kernels: OrderedDict = OrderedDict()  # (θ_position, θ_colour or None) -> unit N x N kernel
        self.distances = None  # the pixels' squared distances (positions, colours), made on first use
        self.last: dict = {}

    def crf(self, w1, theta_alpha, theta_beta, w2, theta_gamma) -> DenseCRF:
        return DenseCRF(w1, theta_alpha, theta_beta, w2, theta_gamma, normalization=self.normalization)

    def run(self, w1, theta_alpha, theta_beta, w2, theta_gamma) -> dict:
        """labels (max_iter + 1, H, W): argmax of Q after 0, 1, ... updates; energy (max_iter + 1,): their E.

        Cached by parameter set (least recently used goes first). The energy is exact: the two
        kernels as N x N matrices (with unit weights, then weighted), as DenseCRF.energy uses them.
        """
        key = tuple(round(float(v), 6) for v in (w1, theta_alpha, theta_beta, w2, theta_gamma))
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        crf = self.crf(*key)
        _, history = crf.predict(self.unary, self.image, n_iter=self.max_iter, method=self.method,
                                 return_history=True)
        labels = history.argmax(axis=1)
        appearance, smoothness = self.unit_kernels(*key[1:3], key[4])
        energy = crf._energies(labels, self.unary, self.image,
                               weights=[(crf.w1, appearance), (crf.w2, smoothness)])
        self.cache[key] = {"labels": labels, "energy": energy}
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return self.cache[key]

    def unit_kernels(self, theta_alpha, theta_beta, theta_gamma) -> list[np.ndarray]:
        """The appearance and smoothness kernels (N, N) with w1 = w2 = 1, each kept for its last two
        widths (changing w1 or w2 then costs a mean-field run and no N x N work, one θ one kernel)."""
        return [self._kernel(theta_alpha, theta_beta), self._kernel(theta_gamma, None)]

    def _kernel(self, theta_position, theta_colour) -> np.ndarray:
        """One unit-weight kernel (appearance when ``theta_colour`` is given, else smoothness), cached."""
        if self.distances is None:
            self.distances = _squared_distances(self.image)
        key = (theta_position, theta_colour)
        if key not in self.kernels:
            squared_position, squared_colour = self.distances
            self.kernels[key] = _unit_kernel(self.normalization, squared_position, theta_position,
                                             None if theta_colour is None else squared_colour, theta_colour)
            if len(self.kernels) > 4:  # the last two of each kind, about
                self.kernels.popitem(last=False)
        self.kernels.move_to_end(key)
        return self.kernels[key]

    def state(self, iteration: int, w1, theta_alpha, theta_beta, w2, theta_gamma) -> dict:
        """What one setting shows (``last``): the labels after ``iteration``, the energy curve, ..."""
        result = self.run(w1, theta_alpha, theta_beta, w2, theta_gamma)
        iteration = int(np.clip(iteration, 0, self.max_iter))
        unary_labels = self.unary.argmin(axis=0)
        labels = result["labels"][iteration]
        return {"iteration": iteration, "unary_labels": unary_labels, "labels": labels,
                "energy": result["energy"], "changed": int(np.count_nonzero(labels != unary_labels))}

    def draw(self, iteration: int = 5, w1=DEFAULTS["w1"], theta_alpha=DEFAULTS["theta_alpha"],
             theta_beta=DEFAULTS["theta_beta"], w2=DEFAULTS["w2"],
             theta_gamma=DEFAULTS["theta_gamma"]) -> Figure:
        """The update function: image | unary's labels | Q's labels after ``iteration`` | E per iteration."""
        self.last = self.state(iteration, w1, theta_alpha, theta_beta, w2, theta_gamma)
        k = self.unary.shape[0]
        fig = LectureFigure(figsize=(12, 3.3))  # fixed margins: constrained layout would double the redraw
        ax_image, ax_unary, ax_q, ax_energy = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.15])
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.16, top=0.84, wspace=0.28)
        ax_image.imshow(np.clip(self.image, 0, 255).astype(np.uint8), interpolation="nearest")
        ax_image.set_title(f"image {self.image.shape[0]}x{self.image.shape[1]}", fontsize=10)
        ax_image.axis("off")
        show_labels(ax_unary, self.last["unary_labels"], k, "unary's labels (argmin θ)")
        show_labels(ax_q, self.last["labels"], k, "")
        steps = np.arange(self.max_iter + 1)
        ax_energy.plot(steps, self.last["energy"], "o-", color="C0", ms=4)
        ax_energy.plot([0], [0], "o", color="C3", ms=9)
        ax_energy.set_xlabel("mean-field iteration")
        ax_energy.set_ylabel("E(x) of Q's labels")
        ax_energy.set_xticks(steps)
        fig.mean_field_axes = (ax_q, ax_energy)
        # what a new iteration changes (the labels' axes, the current point, the energy's title; its
        # spines come after the point in a full render), and what a new parameter set changes (the
        # labels' and the energy's axes), each drawn over a cached render of the rest
        fig.mean_field_foregrounds = {"iteration": [ax_q, ax_energy.lines[1], ax_energy.title,
                                                    *ax_energy.spines.values()],
                                      "parameters": [ax_q, ax_energy]}
        self._show(fig, self.last)
        return fixed_titles(fig)

    def update(self, fig, iteration: int = 5, **parameters) -> bool:
        """Show another setting on a figure from ``draw`` by changing its Q panel and energy curve
        (the image and the unary's labels never change); False when ``fig`` is not such a figure."""
        if getattr(fig, "mean_field_axes", None) is None:
            return False
        self.last = self.state(iteration, **dict(DEFAULTS, **parameters))
        self._show(fig, self.last)
        return True

    def _show(self, fig, s: dict) -> None:
        """Put one state's labels, energy curve, current point and titles on ``draw``'s figure."""
        ax_q, ax_energy = fig.mean_field_axes
        iteration, energy = s["iteration"], s["energy"]
        curve, point = ax_energy.lines
        if not np.array_equal(curve.get_ydata(), energy):  # another parameter set: the curve changes
            fig.background_changed("iteration")
            fig.set_foreground(fig.mean_field_foregrounds["parameters"], "parameters")
        else:
            fig.set_foreground(fig.mean_field_foregrounds["iteration"], "iteration")
        ax_q.images[0].set_data(s["labels"])
        ax_q.set_title(f"Q's labels after {iteration} iteration{'s' * (iteration != 1)}\n"
                       f"({s['changed']} pixels changed)", fontsize=10)
        curve.set_ydata(energy)
        point.set_data([iteration], [energy[iteration]])
        ax_energy.relim()
        ax_energy.autoscale_view()
        ax_energy.set_title(f"energy: {energy[iteration]:.1f} at iteration {iteration}", fontsize=10)

    def widget(self) -> FigureWidget:
        """Sliders for the iteration and the five parameters, in two rows above the figure."""
        import ipywidgets as widgets

        def slider(value, low, high, step, description):
            return widgets.FloatSlider(value, min=low, max=high, step=step, description=description,
                                       continuous_update=False, style={"description_width": "80px"})

        iteration = widgets.IntSlider(min(5, self.max_iter), 0, self.max_iter, description="iteration",
                                      style={"description_width": "80px"})
        controls = {"iteration": iteration,
                    "w1": slider(DEFAULTS["w1"], 0.0, 20.0, 0.5, "w1"),
                    "theta_alpha": slider(DEFAULTS["theta_alpha"], 2.0, 120.0, 1.0, "θα (position)"),
                    "theta_beta": slider(DEFAULTS["theta_beta"], 1.0, 80.0, 1.0, "θβ (colour)"),
                    "w2": slider(DEFAULTS["w2"], 0.0, 10.0, 0.5, "w2"),
                    "theta_gamma": slider(DEFAULTS["theta_gamma"], 0.5, 10.0, 0.5, "θγ (position)")}
        explorer = FigureWidget(self.draw, controls, update=self.update)
        rows = [list(controls.values())[:3], list(controls.values())[3:]]
        explorer.ui = widgets.VBox([widgets.HBox(row) for row in rows] + [explorer.output])
        return explorer

    def static_figure(self, iterations=(0, 1, 2, 5), **parameters) -> Figure:
        """Q's labels after a few iteration counts, side by side, and the energy curve (no kernel needed)."""
        values = dict(DEFAULTS, **parameters)
        result = self.run(*(values[name] for name in PARAMETERS))
        k = self.unary.shape[0]
        fig = LectureFigure(figsize=(12, 2.9), layout="constrained")
        axes = fig.subplots(1, len(iterations) + 2, width_ratios=[1] * (len(iterations) + 1) + [1.3])
        axes[0].imshow(np.clip(self.image, 0, 255).astype(np.uint8), interpolation="nearest")
        axes[0].set_title("image", fontsize=10)
        axes[0].axis("off")
        for ax, t in zip(axes[1:], iterations):
            show_labels(ax, result["labels"][t], k,
                        "unary's labels" if t == 0 else f"after {t} iteration{'s' * (t != 1)}")
        axes[-1].plot(np.arange(self.max_iter + 1), result["energy"], "o-", ms=4)
        axes[-1].set_xlabel("iteration")
        axes[-1].set_title("E(x) of Q's labels", fontsize=10)
        return fig
