"""conv_transpose2d's two paths, back to back in one process: the column path (col2im of W^T @ x) and
the sub-pixel path (conv/subpixel.py), each against torch, on the benchmark's shape and FCN / U-Net ones.

    MINSEG_BENCH_THREADS=1 .venv/bin/python -m benchmarks.conv_transpose_paths [--repeats 21] [--only TEXT]

Each round times column, sub-pixel and torch once each (forward, then forward + backward with both
input and weight gradients), so a busy machine slows all three alike; the table shows medians as
ratios (subpixel/column < 1: the sub-pixel path is faster). Used to choose subpixel.use_subpixel.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SHAPES = [  # name, batch, in, out, input side, kernel, stride, padding, output_padding
    ("benchmark k4 s2 p1 64->64 32px N8", 8, 64, 64, 32, 4, 2, 1, 0),
    ("U-Net k2 s2 64->32 16px N16", 16, 64, 32, 16, 2, 2, 0, 0),
    ("U-Net k2 s2 64->32 32px N16", 16, 64, 32, 32, 2, 2, 0, 0),
    ("FCN k4 s2 p1 21->21 16px N8", 8, 21, 21, 16, 4, 2, 1, 0),
    ("FCN k4 s2 p1 21->21 32px N8", 8, 21, 21, 32, 4, 2, 1, 0),
    ("FCN k16 s8 p4 21->21 8px N8", 8, 21, 21, 8, 16, 8, 4, 0),
    ("k3 s2 p1 op1 64->64 32px N8 (padded taps)", 8, 64, 64, 32, 3, 2, 1, 1),
]
PATHS = ("column", "subpixel", "torch")


def callables(batch, cin, cout, size, kernel, stride, padding, output_padding, backward: bool) -> dict:
    """{path: a callable running conv_transpose2d (and its backward) once} on one set of arrays."""
    import torch

    import minseg as ms
    import minseg.functional as F
    from minseg.functional.conv import subpixel

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, cin, size, size), dtype=np.float32)
    w = rng.standard_normal((cin, cout, kernel, kernel), dtype=np.float32) * 0.05
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding)
    g = np.ones(torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), **kwargs).shape,
                np.float32)

    def ours(force: bool):
        def run():
            subpixel.FORCE = force
            try:
                xt, wt = ms.tensor(x, requires_grad=backward), ms.tensor(w, requires_grad=backward)
                y = F.conv_transpose2d(xt, wt, **kwargs)
                if backward:
                    y.backward(g)
            finally:
                subpixel.FORCE = None
        return run

    def theirs():
        xt, wt = torch.tensor(x, requires_grad=backward), torch.tensor(w, requires_grad=backward)
        y = torch.nn.functional.conv_transpose2d(xt, wt, **kwargs)
        if backward:
            y.backward(torch.from_numpy(g))

    return {"column": ours(False), "subpixel": ours(True), "torch": theirs}


def interleaved_medians(runs: dict, repeats: int) -> dict:
    """Median seconds per path, the paths timed in turn within each of ``repeats`` rounds."""
    times = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up: JIT, scratch buffers
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    from benchmarks.harness import same_threads

    print(f"threads: {same_threads()}; ratios of medians over {args.repeats} interleaved rounds")
    for name, *shape in SHAPES:
        if args.only not in name:
            continue
        for backward in (False, True):
            t = interleaved_medians(callables(*shape, backward=backward), args.repeats)
            print(f"{name:42s} {'fwd+bwd' if backward else 'fwd    '}  column/torch {t['column'] / t['torch']:.2f}"
                  f"  subpixel/torch {t['subpixel'] / t['torch']:.2f}  subpixel/column "
                  f"{t['subpixel'] / t['column']:.2f}", flush=True)


if __name__ == "__main__":
    main()
