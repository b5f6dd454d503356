"""Exact O(N^2) pieces of the dense CRF, for teaching sizes: the pairwise weight matrix, and readable
loop references of the energy and of one mean-field update that the fast paths are tested against."""
from __future__ import annotations

import math

import numpy as np


def _pairwise_squared(points: np.ndarray, distance: str) -> np.ndarray:
    """(N, N) |v_i - v_j|^2 for rows of ``points`` (N, c): Euclidean, or Chebyshev (max_k |v_ik - v_jk|)^2.

    One coordinate at a time, so memory stays O(N^2) whatever c is.
    """
    out = np.zeros((len(points), len(points)))
    for k in range(points.shape[1]):
        diff = np.abs(points[:, None, k] - points[None, :, k])
        if distance == "chebyshev":
            np.maximum(out, diff, out=out)
        else:
            out += diff * diff
    return out ** 2 if distance == "chebyshev" else out


def positions_colours(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, in raster order: positions (N, 2) as (row, column) in pixels, colours (N, C)."""
    h, w, c = image.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([rows.ravel(), cols.ravel()], axis=1), image.reshape(h * w, c)


def _squared_distances(image: np.ndarray, distance: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """(N, N) squared distances between the pixels of ``image`` (H, W, C): of positions, of colours.
    They do not depend on the kernels' widths, so a caller trying many θ can keep them."""
    p, colour = positions_colours(image)
    return _pairwise_squared(p, distance), _pairwise_squared(colour, distance)


def _unit_kernel(normalization: str, squared_position: np.ndarray, theta_position: float,
                 squared_colour: np.ndarray | None = None, theta_colour: float | None = None) -> np.ndarray:
    """One kernel with weight 1 as an N x N matrix, zero diagonal, normalised as ``normalization`` says:
    exp(-|p_i-p_j|^2 / 2θ_pos^2 [- |I_i-I_j|^2 / 2θ_col^2]) (the colour term only when given)."""
    # in place: each N x N temporary costs about as much as the arithmetic (new pages to fault in)
    k = np.divide(squared_position, -(2 * theta_position ** 2))
    if squared_colour is not None:
        k -= np.divide(squared_colour, 2 * theta_colour ** 2)
    np.exp(k, out=k)
    np.fill_diagonal(k, 0.0)
    if normalization == "symmetric":
        scale = 1.0 / np.sqrt(np.maximum(k.sum(axis=1), 1e-20))
        k *= scale[:, None]
        k *= scale[None, :]
    return k


def kernel_matrices(crf, image: np.ndarray, distance: str = "euclidean") -> list[np.ndarray]:
    """The two weighted kernels as N x N matrices, zero diagonal, normalised as ``crf.normalization`` says."""
    dp, di = _squared_distances(image, distance)
    appearance = _unit_kernel(crf.normalization, dp, crf.theta_alpha, di, crf.theta_beta)
    smoothness = _unit_kernel(crf.normalization, dp, crf.theta_gamma)
    return [crf.w1 * appearance, crf.w2 * smoothness]


def pairwise_matrix(crf, image: np.ndarray, distance: str = "euclidean") -> np.ndarray:
    """W (N, N): W_ij = w1 k_appearance(i, j) + w2 k_smoothness(i, j) for i != j, W_ii = 0."""
    first, second = kernel_matrices(crf, image, distance)
    return first + second


def energy_reference(crf, labels: np.ndarray, unary: np.ndarray, image: np.ndarray,
                     distance: str = "euclidean") -> float:
    """The energy with plain loops, pixel pair by pixel pair (slow; the readable definition).

    E(x) = sum_i θ_i(x_i) + sum_{i<j} [x_i != x_j] (w1 exp(-|p_i-p_j|^2/2θα^2 - |I_i-I_j|^2/2θβ^2)
                                                   + w2 exp(-|p_i-p_j|^2/2θγ^2))
    (with normalisation 'symmetric' each kernel is divided by sqrt(d_i d_j), d_i = its row sum, j != i).
    """
    h, w, _ = image.shape
    pixels = [(r, c) for r in range(h) for c in range(w)]

    def kernels(a, b):
        (ra, ca), (rb, cb) = a, b
        pos = [ra - rb, ca - cb]
        col = list(image[ra, ca] - image[rb, cb])
        if distance == "chebyshev":
            dp, di = max(abs(v) for v in pos) ** 2, max(abs(v) for v in col) ** 2
        else:
            dp, di = sum(v * v for v in pos), sum(v * v for v in col)
        return (math.exp(-dp / (2 * crf.theta_alpha ** 2) - di / (2 * crf.theta_beta ** 2)),
                math.exp(-dp / (2 * crf.theta_gamma ** 2)))

    degree = {a: [0.0, 0.0] for a in pixels}
    if crf.normalization == "symmetric":
        for a in pixels:
            for b in pixels:
                if a != b:
                    k1, k2 = kernels(a, b)
                    degree[a][0] += k1
                    degree[a][1] += k2
    total = sum(unary[labels[a], a[0], a[1]] for a in pixels)
    for i, a in enumerate(pixels):
        for b in pixels[i + 1:]:
            if labels[a] == labels[b]:
                continue
            k1, k2 = kernels(a, b)
            if crf.normalization == "symmetric":
                k1 /= math.sqrt(max(degree[a][0], 1e-20) * max(degree[b][0], 1e-20))
                k2 /= math.sqrt(max(degree[a][1], 1e-20) * max(degree[b][1], 1e-20))
            total += crf.w1 * k1 + crf.w2 * k2
    return float(total)


def mean_field_step_reference(q: np.ndarray, unary: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One parallel mean-field update with loops: q, unary (K, N); weights W (N, N), zero diagonal.

    Q_i(l) ∝ exp(-θ_i(l) - sum_{j != i} W_ij sum_{l' != l} Q_j(l'))   (Potts: pay W_ij when labels differ)
    """
    k, n = q.shape
    new = np.empty_like(q)
    for i in range(n):
        for label in range(k):
            cost = unary[label, i]
            for j in range(n):
                if j != i:
                    cost += weights[i, j] * sum(q[other, j] for other in range(k) if other != label)
            new[label, i] = -cost
        new[:, i] = np.exp(new[:, i] - new[:, i].max())
        new[:, i] /= new[:, i].sum()
    return new
