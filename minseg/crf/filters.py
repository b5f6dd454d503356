"""The message-passing filters of mean-field: sum_{j != i} k(f_i, f_j) v_j, dense or on the lattice.

Both filters leave out the self term j = i, because the CRF's pairwise energy runs over pairs of
*distinct* pixels. The dense filter simply skips j = i. The lattice (splat-blur-slice, which lets every
point's own value come back to it) subtracts that returned amount exactly: the diagonal of the
splat-blur-slice operator is computed per point (``lattice_self_weights``). Krähenbühl's densecrf does
not do this; its filter keeps the (approximate) self term.

Scale: for points filling feature space uniformly the lattice computes ``c_d * sum_j k_ij v_j``
(``lattice_scale``). Pixels are not such points: they lie on a 2-D sheet inside the 5-D
(position, colour) space, where the lattice's kernel (a blurred tent, not a Gaussian) carries a
different mass, about 20 % less on small photos. So the scale is calibrated on the data: the exact
sum of the kernel over j != i at ``CALIBRATION_ROWS`` evenly spaced pixels (O(N) work each) against
the lattice's. The lattice then estimates the same unnormalised sum as the dense filter, and so the
same CRF energy; with the 'symmetric' normalisation the scale cancels anyway.

Normalisation ``'symmetric'`` (pydensecrf's default, NORMALIZE_SYMMETRIC) uses the kernel
``k_ij / sqrt(d_i d_j)`` with ``d_i = sum_{j != i} k_ij``, per kernel: a symmetric kernel, so still a
proper CRF energy, but with weights w1, w2 now relative to each pixel's total affinity (which is what
makes pydensecrf's usual parameters, e.g. w1 = 10, work on whole photographs).
"""
from __future__ import annotations

import functools

import numpy as np

from ..threads import in_parallel, threads_for
from .kernels.dense import dense_gaussian_filter
from .softmax import potts_update, softmax_shifted_rows
from .kernels.lattice_stack import stacked_message, vertex_entries
from .kernels.permutohedral import lattice_build, lattice_filter_into, lattice_scale, lattice_self_weights
from .dense import positions_colours


def kernel_features(image: np.ndarray, theta_alpha, theta_beta, theta_gamma) -> list[np.ndarray]:
    """The two kernels' features divided by their thetas: [p/θα, I/θβ] (appearance), p/θγ (smoothness).

    Positions are (row, column) in pixels; I is the raw colour (any scale: θβ is in the same units).
    """
    position, colour = positions_colours(image)
    appearance = np.concatenate([position / theta_alpha, colour / theta_beta], axis=1)
    return [np.ascontiguousarray(appearance), np.ascontiguousarray(position / theta_gamma)]


CALIBRATION_ROWS, CALIBRATION_CUTOFF = 64, 30.0


def dense_rows(features, values, rows, cutoff=np.inf) -> np.ndarray:
    """The exact filter at ``rows``; one thread for small jobs (a second one costs more than it saves)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    with threads_for(len(rows) * features.shape[0] * (features.shape[1] + values.shape[1])):
        return dense_gaussian_filter(features, values, rows, cutoff)


class DenseFilter:
    """Exact O(N^2) filtering (Numba, on the fly; no N x N matrix)."""

    def __init__(self, features: np.ndarray):
        self.features = np.ascontiguousarray(features, dtype=np.float64)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """sum_{j != i} k_ij values[j] for every i; ``values`` (N, V)."""
        return dense_rows(self.features, values, np.arange(self.features.shape[0]))

    def degree(self) -> np.ndarray:
        """d_i = sum_{j != i} k_ij, (N,)."""
        return self(np.ones((self.features.shape[0], 1)))[:, 0]

    def accumulate(self, values, in_scale, out_scale, out) -> None:
        """out += out_scale * filter(in_scale * values) (scales per point, (N,))."""
        out += out_scale[:, None] * self(in_scale[:, None] * values)


class LatticeFilter:
    """Permutohedral-lattice filtering, rescaled to the dense sum and with the self term removed."""

    def __init__(self, features: np.ndarray, calibrate: bool = True):
        features = np.ascontiguousarray(features, dtype=np.float64)
        self.offsets, self.weights, self.neighbours, ranks = lattice_build(features)
        self.self_weights = lattice_self_weights(self.offsets, self.weights, self.neighbours, ranks)
        self.scale = 1.0
        self.scale = self._calibrate(features) if calibrate else lattice_scale(features.shape[1])

    def _calibrate(self, features: np.ndarray) -> float:
        """Lattice sum / exact sum of the kernel (j != i) over evenly spaced rows; c_d if they are ~0."""
        n = features.shape[0]
        rows = np.unique(np.linspace(0, n - 1, min(n, CALIBRATION_ROWS)).astype(np.int64))
        ones = np.ones((n, 1))
        exact = dense_rows(features, ones, rows, CALIBRATION_CUTOFF).sum()
        approx = self(ones)[rows].sum()
        if exact < 1e-12 or approx < 1e-12:
            return lattice_scale(features.shape[1])
        return float(approx / exact)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """sum_{j != i} k_ij values[j] for every i, estimated on the lattice; ``values`` (N, V)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        out = np.zeros(values.shape)
        ones = np.ones(values.shape[0])
        self.accumulate(values, ones, ones, out)
        return out

    def degree(self) -> np.ndarray:
        """d_i = sum_{j != i} k_ij on the lattice, (N,); 0 where only rounding is left.

        A pixel whose simplex vertices no other pixel reaches gets L(1)_i = its own self weight, so
        its degree is a difference of equal numbers: +-1e-16 noise, which the symmetric normalisation
        would divide by itself. Such degrees are set to 0: the lattice sees no neighbour there.
        """
        degree = self(np.ones((self.offsets.shape[0], 1)))[:, 0]
        degree[degree <= 1e-10 * self.self_weights / self.scale] = 0.0
        return degree

    def accumulate(self, values, in_scale, out_scale, out) -> None:
        """out += out_scale * filter(in_scale * values), fused into the lattice's splat and slice."""
        lattice_filter_into(values, self.offsets, self.weights, self.neighbours, self.self_weights,
                            in_scale, out_scale / self.scale, out)


class StackedLattices:
    """All lattice terms of a PairwiseFilter folded into one stacked lattice (kernels/lattice_stack.py):
    one splat and one slice pass over the pixels per mean-field step instead of one per kernel."""

    def __init__(self, terms):
        """``terms``: (weight, LatticeFilter, per-pixel scale s) for each kernel, as PairwiseFilter keeps them.

        LatticeFilter.accumulate's factors: in_scale = s, out_scale = (w / lattice scale) s.
        """
        offsets, splat_w, column_scale, neighbours = [], [], [], []
        bounds, rows = [0], [0]
        self.self_w = 0.0
        for weight, filt, scale in terms:
            factor = weight / filt.scale
            offsets.append(filt.offsets + np.int32(bounds[-1]))
            splat_w.append(filt.weights * scale[:, None])
            column_scale += [factor] * filt.offsets.shape[1]
            self.self_w = self.self_w + factor * scale * filt.self_weights * scale
            neighbours.append(filt.neighbours.reshape(-1, 2))
            bounds.append(bounds[-1] + filt.neighbours.shape[1])
            rows.append(rows[-1] + len(neighbours[-1]))
        self.offsets = np.concatenate(offsets, axis=1)
        self.splat_w = np.concatenate(splat_w, axis=1)
        self.column_scale = np.array(column_scale)
        self.neighbours = np.concatenate(neighbours, axis=0)
        self.bounds, self.rows = np.array(bounds, np.int64), np.array(rows, np.int64)
        # each lattice's entries on its own thread (the counting sort is serial), then end to end: the
        # stacked vertex u of lattice m is its vertex u - bounds[m]
        sorts = [functools.partial(vertex_entries, filt.offsets, weights, filt.neighbours.shape[1])
                 for (_, filt, _), weights in zip(terms, splat_w)]
        entries = in_parallel(sorts, worth_it=terms[0][1].offsets.shape[0] >= PARALLEL_BUILD_PIXELS)
        self.starts, self.pixel, self.weight = _end_to_end(entries)
        self.scratch = {}

    def __call__(self, values: np.ndarray, out: np.ndarray, unary: np.ndarray | None = None) -> np.ndarray:
        """out = sum_m w_m s_m * filter_m(s_m * values); ``values``, ``out`` (N, V) C-contiguous (float32
        or float64; the lattice and the sums are float64 either way).

        With ``unary`` (N, V): out = that message - unary, shifted per row to a maximum of 0 (``out``
        may then be ``values``: the first half of the mean-field update, in place).
        """
        v = values.shape[1]
        if v not in self.scratch:  # lattice buffers, reused by every step with this many labels
            self.scratch[v] = (np.empty((self.bounds[-1], v)), np.empty((self.bounds[-1], v)))
        lattice, spare = self.scratch[v]
        unary = np.empty((0, v)) if unary is None else unary
        with threads_for(values.size):
            stacked_message(values, self.starts, self.pixel, self.weight, self.offsets, self.splat_w,
                            self.column_scale, self.self_w, self.neighbours, self.bounds, self.rows, lattice,
                            spare, unary, out)
        return out


def _end_to_end(entries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vertex_entries (starts, pixel, weight) of lattices stacked one after the other, from theirs."""
    firsts = np.cumsum([0] + [pixel.size for _, pixel, _ in entries])
    starts = [starts[:-1] + first for (starts, _, _), first in zip(entries, firsts)] + [firsts[-1:]]
    pixels, weights = [pixel for _, pixel, _ in entries], [weight for _, _, weight in entries]
    return np.concatenate(starts), np.concatenate(pixels), np.concatenate(weights)


# Pixels from which the lattices of a CRF are built on two threads at once (one lattice each): the
# hash-table build is serial, ~20 ms per lattice on a 320x240 photo; below this, a thread costs more.
PARALLEL_BUILD_PIXELS = 16384


def _pixels(kernels) -> int:
    return kernels[0][1].shape[0] if kernels else 0


def _term(weight, features, method: str, normalization: str):
    """(weight, filter, per-pixel scale s) of one kernel: s = 1, or d^(-1/2) for 'symmetric'."""
    if method == "naive":
        filt = DenseFilter(features)
    else:  # a global scale cancels in the symmetric normalisation: no need to calibrate it
        filt = LatticeFilter(features, calibrate=normalization == "none")
    scale = np.ones(features.shape[0])
    if normalization == "symmetric":  # a pixel without neighbours (degree 0) gets no message
        degree = filt.degree()
        scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-20)), 0.0)
    return weight, filt, scale


class PairwiseFilter:
    """``sum_m w_m k'_m`` applied to values (N, V): the CRF's whole pairwise kernel, normalised or not."""

    def __init__(self, weighted_features, method: str, normalization: str):
        kernels = [(weight, features) for weight, features in weighted_features if weight != 0.0]
        # the lattice kernels release the GIL: two lattices build at once on two cores
        self.terms = in_parallel([functools.partial(_term, weight, features, method, normalization)
                                  for weight, features in kernels],
                                 worth_it=method != "naive" and _pixels(kernels) >= PARALLEL_BUILD_PIXELS)
        self.stacked = StackedLattices(self.terms) if method != "naive" and self.terms else None
        self.message = None  # scratch of the unstacked update, made on first use
        # Q's working precision: the exact path stays float64; on the lattice (an approximation to
        # a few percent) float32 halves the memory traffic of each step, which is its cost. It is
        # safe there: the self term is subtracted from the same rounded Q that was splatted, and the
        # lattice and the message are accumulated in float64, so the rounding (~1e-7) is not amplified.
        self.dtype = np.float32 if self.stacked is not None else np.float64

    def __call__(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """sum_m w_m s_m * filter_m(s_m * values), s_m = 1 or d_m^(-1/2); ``values`` (N, V).

        ``out`` (N, V), when given, is overwritten and returned (saves an allocation per iteration).
        """
        values = np.ascontiguousarray(values, dtype=np.float64)
        if out is None:
            out = np.empty(values.shape)
        if self.stacked is not None:
            return self.stacked(values, out)
        out.fill(0.0)
        for weight, filt, scale in self.terms:
            filt.accumulate(values, scale, weight * scale, out)
        return out

    def update(self, unary: np.ndarray, q: np.ndarray) -> None:
        """One parallel mean-field update of q (N, K) in place: q = softmax(self(q) - unary) per row.

        On the lattice the message goes straight into the logits (one pass less over the N x K
        arrays, and no message array); the exponential is NumPy's (SIMD, faster than Numba's).
        """
        if self.stacked is None:
            if self.message is None or self.message.shape != q.shape:
                self.message = np.empty_like(q)
            message = self(q, out=self.message)
            with threads_for(q.size):
                potts_update(unary, message, q)
            return
        self.stacked(q, q, unary)  # q <- message - unary - row max: every q is read before it is written
        with threads_for(q.size):
            softmax_shifted_rows(q)
