"""Core ops: batched matmul and softmax (forward + backward), and import / first-call time."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

import minseg as ms
import minseg.functional as F
from benchmarks.harness import Case


def _pair(shape_a, shape_b):
    import torch

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a, dtype=np.float32), rng.standard_normal(shape_b, dtype=np.float32)

    def ours():
        x, y = ms.tensor(a, requires_grad=True), ms.tensor(b, requires_grad=True)
        (x @ y).sum().backward()

    def theirs():
        x, y = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (x @ y).sum().backward()

    return ours, theirs


def _softmax(shape):
    import torch

    a = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    g = np.ones(shape, np.float32)

    def ours():
        x = ms.tensor(a, requires_grad=True)
        F.softmax(x, dim=1).backward(g)

    def theirs():
        x = torch.tensor(a, requires_grad=True)
        torch.softmax(x, dim=1).backward(torch.from_numpy(g))

    return ours, theirs


def _import_time():
    code = "import time; t = time.perf_counter(); import minseg; print(time.perf_counter() - t)"

    def run():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        return float(out.stdout)

    return run


def cases():
    out = [Case("core", "matmul 8x(256x256)@(256x256) fwd+bwd", *_pair((8, 256, 256), (256, 256)), target=1.5),
           Case("core", "softmax (8,21,64,64) dim=1 fwd+bwd", *_softmax((8, 21, 64, 64)), target=1.2)]
    measure = _import_time()
    out.append(Case("core", "import minseg (fresh process; target <= 0.3 s)", measure, repeats=3,
                    extra=lambda ours, theirs: {"import_s": measure()}))
    return out
