"""torchvision's deeplabv3_resnet50 / fcn_resnet50, inference at 1x3x520x520: minseg's build (from
minseg ops) against torchvision itself, with the same weights; time in this process, and the peak
memory of one inference, each side measured in a fresh process of its own.

Peak memory: the kernel's high-water mark of resident memory (VmHWM) is reset just before the
forward pass (``/proc/self/clear_refs``), so the number is what the inference itself adds on top of
the model and its input. ``python -m benchmarks.bench_tv_models --peak minseg|torch ARCH`` prints it.
"""
from __future__ import annotations

import functools

import numpy as np

from benchmarks.harness import (Case, added_peak_mb, built_on_first_call, memory_columns, peak_main,
                                same_threads)

SIZE = 520
TARGET = 2.0  # the issue: within 2x of torch on time and memory


def _pair(architecture: str):
    """(minseg model, torchvision model) with equal random weights, in eval mode, and an input."""
    import torch
    import torchvision

    from minseg.reference import interop

    torch.manual_seed(0)
    build = getattr(torchvision.models.segmentation, architecture)
    tv = build(weights=None, weights_backbone=None, num_classes=21).eval()
    x = np.random.default_rng(0).standard_normal((1, 3, SIZE, SIZE), dtype=np.float32)
    return interop.from_torchvision(tv), tv, x


@functools.cache
def _runners(architecture: str):
    """(minseg inference, torch inference) callables; built on first use, so filtered-out cases cost nothing."""
    import torch

    import minseg as ms

    model, tv, x = _pair(architecture)
    x_torch = torch.from_numpy(x)

    def ours():
        with ms.no_grad():
            return model(ms.tensor(x))["out"]

    def theirs():
        with torch.no_grad():
            return tv(x_torch)["out"]

    return ours, theirs


def measure_peak_mb(side: str, architecture: str) -> float:
    """Resident memory one inference adds (MB), measured in this process (call it in a fresh one)."""
    same_threads()
    ours, theirs = _runners(architecture)
    return added_peak_mb(ours if side == "minseg" else theirs)


def cases():
    out = []
    for architecture in ("deeplabv3_resnet50", "fcn_resnet50"):
        out.append(Case("torchvision models", f"{architecture} inference 1x3x{SIZE}x{SIZE}",
                        *built_on_first_call(_runners, architecture),
                        target=TARGET, repeats=2,
                        extra=memory_columns("benchmarks.bench_tv_models", architecture)))
    return out


if __name__ == "__main__":
    peak_main(measure_peak_mb, "usage: python -m benchmarks.bench_tv_models --peak minseg|torch ARCHITECTURE "
                               "(the table: python -m benchmarks --only torchvision)")
