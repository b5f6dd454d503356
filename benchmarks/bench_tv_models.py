"""torchvision's deeplabv3_resnet50 / fcn_resnet50, inference at 1x3x520x520: minseg's build (from
minseg ops) against torchvision itself, with the same weights; time in this process, and the peak
memory of one inference, each side measured in a fresh process of its own.

Peak memory: the kernel's high-water mark of resident memory (VmHWM) is reset just before the
forward pass (``/proc/self/clear_refs``), so the number is what the inference itself adds on top of
the model and its input. ``python -m benchmarks.bench_tv_models --peak minseg|torch ARCH`` prints it.
"""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks.harness import Case, same_threads

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


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure_peak_mb(side: str, architecture: str) -> float:
    """Resident memory one inference adds (MB), measured in this process (call it in a fresh one)."""
    same_threads()
    ours, theirs = _runners(architecture)
    run = ours if side == "minseg" else theirs
    before = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    run()
    return (_rss_kb("VmHWM") - before) / 1024


def peak_mb(side: str, architecture: str) -> float | None:
    """``measure_peak_mb`` in a fresh interpreter (None where /proc is not Linux's)."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    result = subprocess.run([sys.executable, "-m", "benchmarks.bench_tv_models", "--peak", side, architecture],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def _memory_columns(architecture: str):
    def extra(ours_s, theirs_s):
        ours, theirs = peak_mb("minseg", architecture), peak_mb("torch", architecture)
        ratio = None if not (ours and theirs) else ours / theirs
        return {"minseg_peak_MB": ours, "torch_peak_MB": theirs, "memory_ratio": ratio}
    return extra


def cases():
    out = []
    for architecture in ("deeplabv3_resnet50", "fcn_resnet50"):
        def ours(architecture=architecture):
            return _runners(architecture)[0]()

        def theirs(architecture=architecture):
            return _runners(architecture)[1]()

        out.append(Case("torchvision models", f"{architecture} inference 1x3x{SIZE}x{SIZE}", ours, theirs,
                        target=TARGET, repeats=2, extra=_memory_columns(architecture)))
    return out


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peak":
        print(f"{measure_peak_mb(sys.argv[2], sys.argv[3]):.1f}")
    else:
        sys.exit("usage: python -m benchmarks.bench_tv_models --peak minseg|torch ARCHITECTURE "
                 "(the table: python -m benchmarks --only torchvision)")
