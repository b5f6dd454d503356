"""DenseCRF: the fully connected Potts CRF of Krähenbühl & Koltun (2011), its energy and its inference."""
from __future__ import annotations

import itertools

import numpy as np

from . import _checks as C
from ..threads import threads_for
from .kernels.update import normalise_transposed
from .softmax import softmax_from_unary
from .dense import pairwise_matrix
from .filters import PairwiseFilter, kernel_features


def softmax_labels(logits: np.ndarray) -> np.ndarray:
    """Normalise exp(logits) over axis 0 (labels), stably."""
    shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def unary_from_probabilities(prob, base: float = np.e, eps: float = 1e-8) -> np.ndarray:
    """Unary costs θ_i(l) = -log_base P(y_i = l) from probabilities (K, H, W), clipped at ``eps``.

    The lecture's worked example uses base 10. Mean-field's exp is natural, so ``base=np.e`` (the
    default) is the one whose Gibbs distribution is P itself when the pairwise weights are 0.
    """
    prob = C.as_float_array("unary_from_probabilities", "prob", prob)
    if base <= 0 or base == 1:
        raise ValueError(f"unary_from_probabilities: base must be > 0 and != 1, got {base!r}")
    return -np.log(np.clip(prob, eps, None)) / np.log(base)


class DenseCRF:
    """Fully connected CRF with Potts pairwise terms and two Gaussian kernels.

    E(x) = sum_i θ_i(x_i) + sum_{i<j} [x_i != x_j] (w1 exp(-|p_i-p_j|^2/2θα^2 - |I_i-I_j|^2/2θβ^2)
                                                   + w2 exp(-|p_i-p_j|^2/2θγ^2))
    p_i: (row, column) in pixels; I_i: the image's colour at i, in the image's own units (θβ too).
    Unary θ are costs (K, H, W), e.g. -log P. ``normalization='symmetric'`` replaces each kernel k by
    k_ij / sqrt(d_i d_j) with d_i = sum_{j != i} k_ij (pydensecrf's default; the weights then mean
    "relative to the pixel's total affinity", which suits full-size photos); ``'none'`` (the default)
    is the formula above, as on the slides.
    """

    def __init__(self, w1=10.0, theta_alpha=80.0, theta_beta=13.0, w2=3.0, theta_gamma=3.0,
                 normalization: str = "none"):
        op = "DenseCRF"
        self.w1 = C.check_number(op, "w1", w1, positive=False)
        self.theta_alpha = C.check_number(op, "theta_alpha", theta_alpha, positive=True)
        self.theta_beta = C.check_number(op, "theta_beta", theta_beta, positive=True)
        self.w2 = C.check_number(op, "w2", w2, positive=False)
        self.theta_gamma = C.check_number(op, "theta_gamma", theta_gamma, positive=True)
        self.normalization = C.check_choice(op, "normalization", normalization, C.NORMALIZATIONS)

    def __repr__(self):
        return (f"DenseCRF(w1={self.w1}, theta_alpha={self.theta_alpha}, theta_beta={self.theta_beta}, "
                f"w2={self.w2}, theta_gamma={self.theta_gamma}, normalization={self.normalization!r})")

    # ---- exact, O(N^2): energies of labelings ------------------------------------------------------
    def energy(self, labels, unary, image, distance: str = "euclidean") -> float:
        """E(labels): unary costs of the chosen labels plus w·k over unordered pairs with different labels.

        ``distance='chebyshev'`` measures |p_i - p_j| and |I_i - I_j| as max over coordinates (as in the
        lecture's worked example); 'euclidean' is the model's own. Exact, O(N^2) memory: small images.
        The slide's numbers (x_A: unary 0.62, pairwise 4.85; x_B: 1.57, 0) come out with all weights and
        thetas 1, distance='chebyshev', grey values 0..255 and unary_from_probabilities(P, base=10).
        """
        image = C.check_guide_image("energy", image)
        C.check_exact_size("energy", image)
        unary = C.check_unary("energy", unary, image)
        labels = C.check_labels("energy", labels, unary.shape[0], image.shape[:2])
        C.check_choice("energy", "distance", distance, C.DISTANCES)
        return float(self._energies(labels[None], unary, image, distance)[0])

    def _energies(self, labelings: np.ndarray, unary: np.ndarray, image: np.ndarray,
                 distance: str = "euclidean", weights=None) -> np.ndarray:
        """Energies of many labelings (M, H, W) at once (checked inputs). ``weights``: a cached W, or a
        list of (scale, kernel) terms whose weighted sum is W, so that a caller keeping unit kernels
        never forms the N x N sum (a new w1 then costs the products only; a zero scale costs nothing)."""
        k, h, w = unary.shape
        flat = labelings.reshape(len(labelings), h * w)
        if not isinstance(weights, list):
            weights = [(1.0, pairwise_matrix(self, image, distance) if weights is None else weights)]
        unary_part = np.take_along_axis(unary.reshape(k, h * w).T[None], flat[:, :, None], axis=2)[..., 0]
        # sum_{i<j} W_ij [x_i = l != x_j] counted from both ends: a^T W (1 - a) / 2, a = [x = l], for
        # every label and labeling at once: one product per matrix (BLAS; einsum would not use it)
        a = (flat[None] == np.arange(k)[:, None, None]).reshape(k * len(flat), h * w).astype(np.float64)
        differ = np.zeros(len(flat))
        for scale, kernel in weights:
            if scale:
                per_label = ((a @ kernel) * (1.0 - a)).sum(axis=1).reshape(k, len(flat))
                differ += scale * 0.5 * per_label.sum(axis=0)
        return unary_part.sum(axis=1) + differ

    def minimize_exact(self, unary, image, distance: str = "euclidean", max_labelings: int = 2 ** 16):
        """The true minimiser by enumerating all K^N labelings (tiny grids only): (labels (H, W), energy).

        Ties go to the first labeling in lexicographic order of the flattened map.
        """
        image = C.check_guide_image("minimize_exact", image)
        C.check_exact_size("minimize_exact", image)
        unary = C.check_unary("minimize_exact", unary, image)
        C.check_choice("minimize_exact", "distance", distance, C.DISTANCES)
        k, h, w = unary.shape
        if k ** (h * w) > max_labelings:
            raise ValueError(f"minimize_exact: K^N = {k}^{h * w} labelings exceeds max_labelings = "
                             f"{max_labelings}; use a smaller grid or mean_field")
        weights = pairwise_matrix(self, image, distance)
        best, best_energy = None, np.inf
        grid = itertools.product(range(k), repeat=h * w)
        while True:
            chunk = np.array(list(itertools.islice(grid, 4096)), dtype=np.int64)
            if len(chunk) == 0:
                break
            values = self._energies(chunk.reshape(-1, h, w), unary, image, distance, weights)
            at = int(np.argmin(values))
            if values[at] < best_energy:
                best, best_energy = chunk[at].reshape(h, w), float(values[at])
        return best, best_energy

    # ---- mean-field inference ----------------------------------------------------------------------
    def _prepare(self, op, unary, image, n_iter, method):
        image = C.check_guide_image(op, image)
        unary = C.check_unary(op, unary, image)
        n_iter = C.check_n_iter(op, n_iter)
        C.check_choice(op, "method", method, C.METHODS)
        weighted = list(zip((self.w1, self.w2),
                            kernel_features(image, self.theta_alpha, self.theta_beta, self.theta_gamma)))
        return unary, n_iter, PairwiseFilter(weighted, method, self.normalization)

    def _iterate(self, unary, n_iter, pairwise):
        """Yield Q before the first update and after each of the ``n_iter`` parallel updates.

        Update (Potts): Q_i(l) ∝ exp(-θ_i(l) - sum_{j != i} W_ij (1 - Q_j(l)))
                              = exp(-θ_i(l) + sum_{j != i} W_ij Q_j(l)) × (a factor not depending on l).
        Q is yielded as the working buffer (N, K), labels contiguous, in ``pairwise.dtype`` (float32
        on the lattice, so there even the first Q is softmax(-unary) only to ~1e-7, unless n_iter = 0);
        ``_marginals`` turns it into the (K, H, W) float64 result. The next update overwrites it.
        """
        k, h, w = unary.shape
        dtype = pairwise.dtype if n_iter > 0 else np.float64  # no update: Q = softmax(-unary) exactly
        flat_unary = np.ascontiguousarray(unary.reshape(k, h * w).T, dtype=dtype)  # (N, K)
        q = np.empty_like(flat_unary)
        with threads_for(q.size):
            softmax_from_unary(flat_unary, q)
        yield q
        for _ in range(n_iter):
            pairwise.update(flat_unary, q)  # reads all of the old Q before overwriting it
            yield q

    @staticmethod
    def _marginals(q, shape):
        """The working buffer Q (N, K) as a new float64 (K, H, W) array, rows renormalised if float32."""
        if q.dtype == np.float64:
            return np.array(q.T.reshape(shape), order="C")
        out = np.empty(shape)
        normalise_transposed(q, out.reshape(shape[0], -1))
        return out

    def mean_field(self, unary, image, n_iter: int = 5, method: str = "permutohedral") -> np.ndarray:
        """Approximate marginals Q (K, H, W) after ``n_iter`` parallel mean-field updates.

        Starts from Q = softmax(-unary). ``method='naive'`` filters with the exact dense kernels
        (O(N^2) per iteration, small images); ``'permutohedral'`` uses the lattice (O(N), approximate).
        Both leave out the self term j = i (the energy has none). Euclidean distances only.
        The parallel update need not lower ``kl_objective`` at every step (strongly coupled pixels can
        swap labels back and forth); it provably does for normalization='none' with w1 + w2 <= 1, since
        then W >= -(w1 + w2) I while the entropy is 1-strongly convex (see the tests).
        """
        unary, n_iter, pairwise = self._prepare("mean_field", unary, image, n_iter, method)
        for q in self._iterate(unary, n_iter, pairwise):
            pass
        return self._marginals(q, unary.shape)

    def predict(self, unary, image, n_iter: int = 5, method: str = "permutohedral",
                return_history: bool = False):
        """The label map argmax_l Q (H, W); with ``return_history`` also Q at every step.

        The history is an array (n_iter + 1, K, H, W): entry 0 is softmax(-unary) (no CRF), entry t the
        Q after t updates — for a slider in the lecture.
        """
        unary, n_iter, pairwise = self._prepare("predict", unary, image, n_iter, method)
        history = [self._marginals(q, unary.shape) for q in self._iterate(unary, n_iter, pairwise)]
        labels = np.argmax(history[-1], axis=0)
        return (labels, np.stack(history)) if return_history else labels

    def kl_objective(self, q, unary, image) -> float:
        """Mean-field's objective F(Q) = KL(Q || P) - log Z = E_Q[E(x)] - H(Q), exact O(N^2).

        E_Q[E] = sum_i sum_l Q_i(l) θ_i(l) + sum_{i<j} W_ij (1 - sum_l Q_i(l) Q_j(l)), H = entropy.
        """
        image = C.check_guide_image("kl_objective", image)
        C.check_exact_size("kl_objective", image)
        unary = C.check_unary("kl_objective", unary, image)
        q = C.as_float_array("kl_objective", "q", q)
        if q.shape != unary.shape:
            raise ValueError(f"kl_objective: q must have the unary's shape {unary.shape}, got {q.shape}")
        k = unary.shape[0]
        weights = pairwise_matrix(self, image)
        flat = q.reshape(k, -1)
        agree = np.einsum("li,ij,lj->", flat, weights, flat)
        expected = np.sum(q * unary) + 0.5 * (weights.sum() - agree)
        entropy = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0))
        return float(expected - entropy)
