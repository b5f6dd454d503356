"""Lecture 09's widget: where a training step's memory goes, for the full-size models.

``profile(name)`` runs the full-size torch twin once on a small input with forward hooks on every
leaf module and counts its parameters and the values its layers output per input pixel (a fully
convolutional network's activations grow with the image area). ``memory_breakdown`` turns that into
bytes for a batch size, an image size and a precision: weights and gradients (float32), Adam's two
moments (float32), and the layer outputs kept for the backward pass (2 bytes each under bf16 autocast,
4 in float32) — an estimate (in-place ReLUs and fused kernels keep less, workspaces add some).
``MemoryExplorer.draw`` shows it as one stacked bar against a GPU's memory.
"""
from __future__ import annotations

import functools

import numpy as np

from ._figure import FigureWidget, LectureFigure

BYTES = {"float32": 4, "bf16": 2}
GPUS = {"laptop GPU (8 GB)": 8, "H200 (141 GB)": 141}
PARTS = ("weights", "gradients", "Adam moments", "activations")
COLOURS = ("#4c72b0", "#8172b2", "#ccb974", "#c44e52")


@functools.lru_cache(maxsize=None)
def profile(name: str, probe: int = 64) -> dict:
    """{'parameters': P, 'values_per_pixel': A}: the full-size twin ``name``'s parameter count and its
    leaf modules' output values per input pixel, from one 1x3xprobe x probe input on torch's meta
    device (shapes are propagated, nothing is allocated or computed)."""
    from ..reference import require_torch
    from ..reference.gpu_run import build_model

    torch = require_torch()
    model = build_model(name, "full", device="meta").eval()  # shapes only: no memory, no arithmetic
    counted = []

    def hook(module, inputs, output):
        counted.append(output.numel())

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(torch.zeros(1, 3, probe, probe, device="meta"))
    for handle in handles:
        handle.remove()
    return dict(parameters=sum(p.numel() for p in model.parameters()), values_per_pixel=sum(counted) / probe ** 2)


def memory_breakdown(parameters: int, values_per_pixel: float, batch_size: int, size: int,
                     precision: str = "bf16") -> dict:
    """Bytes of each part of one training step (see the module docstring), by name."""
    if precision not in BYTES:
        raise ValueError(f"memory_breakdown: precision must be one of {tuple(BYTES)}, got {precision!r}")
    return {"weights": 4 * parameters, "gradients": 4 * parameters, "Adam moments": 8 * parameters,
            "activations": BYTES[precision] * values_per_pixel * batch_size * size * size}


class MemoryExplorer:
    """Batch size, image size, precision and model -> the stacked memory bar against two GPUs."""

    def __init__(self, models=("fcn8s", "unet", "deeplabv3plus")):
        self.models = tuple(models)

    def draw(self, model: str = "unet", batch_size: int = 32, size: int = 256, precision: str = "bf16"):
        numbers = profile(model)
        parts = memory_breakdown(numbers["parameters"], numbers["values_per_pixel"], batch_size, size, precision)
        gigabytes = np.array([parts[p] for p in PARTS]) / 1e9
        fig = LectureFigure(figsize=(8, 2.6), layout="constrained")
        ax = fig.subplots()
        left = 0.0
        for part, value, colour in zip(PARTS, gigabytes, COLOURS):
            ax.barh(0, value, left=left, color=colour, label=f"{part}: {value:.2f} GB")
            left += value
        for label, limit in GPUS.items():
            ax.axvline(limit, color="0.3", linestyle="--", linewidth=1)
            ax.text(limit, 0.45, label, ha="right", va="bottom", fontsize=9, rotation=0)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, max(200, 1.3 * left))
        ax.set_ylim(-0.6, 0.8)
        ax.set_yticks([])
        ax.set_xlabel("GB (log scale above 1)", fontsize=10)
        ax.set_title(f"{model}, batch {batch_size}, {size}x{size}, {precision}: {left:.1f} GB in all "
                     f"({numbers['parameters'] / 1e6:.1f} M parameters)", fontsize=10)
        ax.legend(loc="lower left", ncols=2, fontsize=9, frameon=False)
        self.last_total = left
        return fig

    def widget(self) -> FigureWidget:
        import ipywidgets as widgets

        controls = dict(
            model=widgets.Dropdown(options=self.models, value="unet", description="model"),
            batch_size=widgets.IntSlider(value=32, min=1, max=256, description="batch"),
            size=widgets.IntSlider(value=256, min=64, max=1024, step=64, description="image size"),
            precision=widgets.ToggleButtons(options=tuple(BYTES), value="bf16", description="activations"))
        return FigureWidget(self.draw, controls)
