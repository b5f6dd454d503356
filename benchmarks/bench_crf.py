"""Dense CRF: 5 mean-field iterations on a 320x240 RGB photo with 21 labels.

Rows: the permutohedral path (lattice build + 5 iterations, as pydensecrf's ``inference`` also does);
the naive O(N^2) path measured on 64x48 and extrapolated to 320x240 by (N_big / N_small)^2 = 625
(its pair loop is all of its cost); pydensecrf (Krähenbühl's C++) where it is installed (it is not a
dependency: ``pip install pydensecrf2``). There is no torch counterpart, so the torch column is empty.
Besides wall time, the CPU time of both (summed over threads) is reported: on a machine shared with
other jobs it is the steadier number.
"""
from __future__ import annotations

import functools
import statistics
import time

import numpy as np

from benchmarks.harness import Case, median_time

SIZE, SMALL, LABELS, ITERATIONS = (240, 320), (48, 64), 21, 5


@functools.lru_cache(maxsize=None)
def _problem(size):
    """A crop of the 'chelsea' photo resized to ``size`` and a blocky 21-label unary."""
    import skimage.transform

    import minseg as ms

    photo = ms.crf.load_photo("chelsea")[:, 40:440]
    image = skimage.transform.resize(photo, size, preserve_range=True, anti_aliasing=True)
    unary, _, _ = ms.crf.coarse_unary(image, num_labels=LABELS, factor=8)
    return image, unary


def _crf():
    import minseg as ms

    return ms.crf.DenseCRF(10.0, 80.0, 13.0, 3.0, 3.0, normalization="symmetric")


def _ours(size, method):
    def run():
        image, unary = _problem(size)
        return _crf().mean_field(unary, image, n_iter=ITERATIONS, method=method)
    return run


def _pydensecrf():
    """pydensecrf's inference on the same problem, or None where it is not installed."""
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError:
        return None

    def run():
        image, unary = _problem(SIZE)
        k, h, w = unary.shape
        model = dcrf.DenseCRF2D(w, h, k)
        model.setUnaryEnergy(np.ascontiguousarray(unary.reshape(k, -1), dtype=np.float32))
        model.addPairwiseGaussian(sxy=3.0, compat=3.0)
        model.addPairwiseBilateral(sxy=80.0, srgb=13.0, rgbim=np.ascontiguousarray(image.astype(np.uint8)),
                                   compat=10.0)
        return model.inference(ITERATIONS)
    return run


@functools.lru_cache(maxsize=None)
def _naive_extrapolated_s() -> float:
    scale = (SIZE[0] * SIZE[1] / (SMALL[0] * SMALL[1])) ** 2
    return median_time(_ours(SMALL, "naive"), 3) * scale


def _cpu_seconds(fn, repeats: int = 5) -> float:
    """Median process CPU time of ``fn`` (all threads): steadier than wall time on a shared machine."""
    spent = []

    def timed():
        start = time.process_time()
        fn()
        spent.append(time.process_time() - start)

    median_time(timed, repeats)
    return statistics.median(spent[1:])  # the first call is the harness's warm-up


def _extra(ours, _):
    naive = _naive_extrapolated_s()
    row = {"naive_320x240_s_extrap": naive, "speedup_vs_naive": naive / ours,
           "minseg_cpu_ms": _cpu_seconds(_ours(SIZE, "permutohedral")) * 1e3}
    theirs = _pydensecrf()
    if theirs is not None:
        seconds = median_time(theirs, 5)
        row.update({"pydensecrf_ms": seconds * 1e3, "ratio_vs_pydensecrf": ours / seconds,
                    "pydensecrf_cpu_ms": _cpu_seconds(theirs) * 1e3})
    return row


def cases():
    name = f"mean_field {ITERATIONS} it {SIZE[1]}x{SIZE[0]} K={LABELS}"
    return [Case("crf", f"{name} permutohedral", _ours(SIZE, "permutohedral"), extra=_extra),
            Case("crf", f"mean_field {ITERATIONS} it {SMALL[1]}x{SMALL[0]} K={LABELS} naive",
                 _ours(SMALL, "naive"), repeats=3)]
