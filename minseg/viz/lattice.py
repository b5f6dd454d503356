"""Lecture 07's picture of the permutohedral lattice: splat, blur and slice, in plain NumPy, in 2-D.

The CRF's fast filter (``minseg.crf.kernels.permutohedral``, Numba) works in any dimension; this is the
same algorithm written for reading and drawing, one array operation per step:

    embed  each feature vector f (d,) is scaled and lifted onto the plane sum(x) = 0 of R^(d+1), where
           the lattice (d+1) A*_d tiles the plane with simplices (triangles when d = 2); the point's
           simplex has d+1 integer vertices and the point has barycentric weights b (d+1,) in it;
    splat  every point adds b_r * value to vertex r of its simplex;
    blur   along each of the d+1 lattice directions, u <- u + (u + dir + u - dir) / 2 (absent = 0);
    slice  every point reads back sum_r b_r * (vertex r's value).

Together they approximate c_d * sum_j exp(-|f_i - f_j|^2 / 2) v_j (the self term j = i included);
the tests check this file against the Numba lattice, step for step. ``draw_lattice`` draws it for a
1-D signal whose 2-D features are (position / θ_x, intensity / θ_I): a bilateral filter.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.collections import LineCollection

from ._figure import LectureFigure

# an orthonormal basis of the plane x + y + z = 0 in R^3, to draw the 2-D lattice flat
PLANE_BASIS = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]).T / np.sqrt([2.0, 6.0])


def embed(features: np.ndarray) -> dict:
    """Lift ``features`` (N, d) onto the lattice: elevated (N, d+1), vertices (N, d+1, d+1), bary (N, d+1).

    ``vertices[p, r]`` is the integer position of vertex r of point p's simplex, ``bary[p, r]`` its
    weight (non-negative, summing to 1, and sum_r bary[p, r] vertices[p, r] = elevated[p]).
    """
    features = np.asarray(features, np.float64)
    n, d = features.shape
    # scale as Krähenbühl's densecrf: feature i by sqrt(2/3) (d+1) / sqrt((i+1)(i+2))
    scaled = features * (np.sqrt(2.0 / 3.0) * (d + 1) / np.sqrt(np.arange(1, d + 1) * np.arange(2, d + 2)))
    # elevate: x_0 = sum_k s_k, x_j = sum_{k > j} s_k - j s_j (j = 1..d): an orthogonal basis of the plane
    suffix = np.cumsum(scaled[:, ::-1], axis=1)[:, ::-1]  # suffix[:, j-1] = sum_{k >= j} s_k
    elevated = np.empty((n, d + 1))
    elevated[:, 0] = suffix[:, 0]
    later = np.concatenate([suffix[:, 1:], np.zeros((n, 1))], axis=1)
    elevated[:, 1:] = later - np.arange(1, d + 1) * scaled
    # the nearest remainder-0 point: each coordinate rounded to a multiple of d+1 (ties down)
    up, down = np.ceil(elevated / (d + 1)) * (d + 1), np.floor(elevated / (d + 1)) * (d + 1)
    rem0 = np.where(up - elevated < elevated - down, up, down).astype(np.int64)
    total = rem0.sum(axis=1) // (d + 1)
    # rank: the position of each coordinate of the differential in decreasing order (ties: by index)
    diff = elevated - rem0
    later_bigger = np.triu(diff[:, None, :] > diff[:, :, None], 1)  # [p, i, j]: j > i and diff_j > diff_i
    earlier_not_smaller = np.tril(diff[:, None, :] >= diff[:, :, None], -1)
    rank = later_bigger.sum(axis=2) + earlier_not_smaller.sum(axis=2) + total[:, None]
    # rounding may have left the plane: walk back, moving the remainder-0 point with the rank
    rem0 = rem0 + (d + 1) * (rank < 0) - (d + 1) * (rank > d)
    rank = rank + (d + 1) * (rank < 0) - (d + 1) * (rank > d)
    # barycentric weights from the sorted differential
    v = (elevated - rem0) / (d + 1)
    bary = np.zeros((n, d + 2))
    rows = np.arange(n)[:, None]
    np.add.at(bary, (rows, d - rank), v)
    np.add.at(bary, (rows, d + 1 - rank), -v)
    bary[:, 0] += 1.0 + bary[:, d + 1]
    # vertex r of the simplex: rem0 + r on the coordinates ranked <= d - r, rem0 + r - (d+1) on the others
    r = np.arange(d + 1)[None, :, None]
    vertices = rem0[:, None, :] + r - (d + 1) * (rank[:, None, :] > d - r)
    return {"elevated": elevated, "vertices": vertices, "bary": bary[:, :d + 1]}


def directions(d: int) -> np.ndarray:
    """The d+1 blur directions (d+1, d+1): d on coordinate j, -1 on the others."""
    return (d + 1) * np.eye(d + 1, dtype=np.int64) - 1


def splat_blur_slice(features: np.ndarray, values: np.ndarray) -> dict:
    """Filter ``values`` (N,) or (N, V) over ``features`` (N, d) on the lattice, keeping every step.

    Returns embed()'s arrays plus keys (M, d+1) (the occupied vertices), index (N, d+1) (which key
    each simplex vertex is), splatted and blurred (M, V), and sliced (N, V).
    """
    values = np.asarray(values, np.float64)
    column = values.ndim == 1
    values = values[:, None] if column else values
    lattice = embed(features)
    n, d_plus_1 = lattice["bary"].shape
    keys, index = np.unique(lattice["vertices"].reshape(-1, d_plus_1), axis=0, return_inverse=True)
    index = index.reshape(n, d_plus_1)
    splatted = np.zeros((len(keys), values.shape[1]))
    np.add.at(splatted, index, lattice["bary"][:, :, None] * values[:, None, :])  # splat
    lookup = {tuple(key): m for m, key in enumerate(keys)}
    blurred = splatted
    for step in directions(d_plus_1 - 1):  # blur: one direction at a time, [1/2 1 1/2]
        plus = np.array([lookup.get(tuple(key + step), -1) for key in keys])
        minus = np.array([lookup.get(tuple(key - step), -1) for key in keys])
        padded = np.vstack([blurred, np.zeros((1, values.shape[1]))])  # row -1: an absent vertex, 0
        blurred = blurred + 0.5 * (padded[plus] + padded[minus])
    sliced = np.einsum("pr,prv->pv", lattice["bary"], blurred[index])  # slice
    result = dict(lattice, keys=keys, index=index, splatted=splatted, blurred=blurred, sliced=sliced)
    if column:
        result.update(splatted=splatted[:, 0], blurred=blurred[:, 0], sliced=sliced[:, 0])
    return result


def dense_gaussian(features: np.ndarray, values: np.ndarray) -> np.ndarray:
    """sum_j exp(-|f_i - f_j|^2 / 2) v_j for every i (self term included): the exact, O(N^2) filter."""
    features = np.asarray(features, np.float64)
    squared = ((features[:, None, :] - features[None, :, :]) ** 2).sum(-1)
    return np.exp(-squared / 2) @ np.asarray(values, np.float64)


def _grid_segments(keys: np.ndarray, margin: int = 3) -> np.ndarray:
    """Edges of the 2-D lattice around ``keys`` (M, 3), projected flat: (E, 2, 2)."""
    low, high = keys.min(axis=0) - 3 * margin, keys.max(axis=0) + 3 * margin
    a, b = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1), indexing="ij")
    grid = np.stack([a.ravel(), b.ravel(), -(a + b).ravel()], axis=1)
    grid = grid[(grid[:, 0] - grid[:, 1]) % 3 == 0]  # lattice points: all coordinates equal mod 3
    grid = grid[(grid[:, 1] - grid[:, 2]) % 3 == 0]
    edges = [np.stack([grid, grid + step], axis=1) for step in directions(2)]
    return np.concatenate(edges) @ PLANE_BASIS


def draw_lattice(signal: np.ndarray, theta_x: float, theta_i: float) -> Figure:
    """A 1-D ``signal`` (N,) filtered with the features (x / θ_x, signal / θ_I): the lattice in the
    plane (splat lines, blurred vertex values) and the normalised outputs, lattice against exact.

    ``fig.lattice`` holds splat_blur_slice's arrays; ``fig.exact`` and ``fig.approx`` the two
    normalised filters sum_j k_ij v_j / sum_j k_ij.
    """
    signal = np.asarray(signal, np.float64)
    x = np.arange(len(signal), dtype=np.float64)
    features = np.stack([x / theta_x, signal / theta_i], axis=1)
    both = np.stack([signal, np.ones_like(signal)], axis=1)
    lattice = splat_blur_slice(features, both)
    approx = lattice["sliced"][:, 0] / lattice["sliced"][:, 1]
    exact_sums = dense_gaussian(features, both)
    exact = exact_sums[:, 0] / exact_sums[:, 1]
    points, vertices = lattice["elevated"] @ PLANE_BASIS, lattice["keys"] @ PLANE_BASIS
    fig = LectureFigure(figsize=(12, 4.2), layout="constrained")
    ax_splat, ax_blur, ax_slice = fig.subplots(1, 3, width_ratios=[1, 1, 1.2])
    for ax in (ax_splat, ax_blur):
        ax.add_collection(LineCollection(_grid_segments(lattice["keys"]), colors="0.85", linewidths=0.6))
        ax.set_aspect("equal")
        ax.set_xlim(vertices[:, 0].min() - 2, vertices[:, 0].max() + 2)
        ax.set_ylim(vertices[:, 1].min() - 2, vertices[:, 1].max() + 2)
        ax.set_xticks([])
        ax.set_yticks([])
    spokes = np.stack([np.repeat(points, 3, axis=0), vertices[lattice["index"].ravel()]], axis=1)
    ax_splat.add_collection(LineCollection(spokes, colors="C0", linewidths=0.5, alpha=0.6))
    ax_splat.scatter(points[:, 0], points[:, 1], c=signal, cmap="viridis", s=14, zorder=3)
    ax_splat.scatter(vertices[:, 0], vertices[:, 1], s=60 * lattice["splatted"][:, 1], facecolors="none",
                     edgecolors="C3", zorder=2)
    ax_splat.set_title(f"splat: {len(signal)} points onto {len(vertices)} vertices\n"
                       "(circle area = weight received)", fontsize=10)
    blurred = lattice["blurred"][:, 0] / lattice["blurred"][:, 1]
    shown = ax_blur.scatter(vertices[:, 0], vertices[:, 1], c=blurred, cmap="viridis", s=40,
                            vmin=signal.min(), vmax=signal.max(), zorder=3)
    fig.colorbar(shown, ax=ax_blur, shrink=0.7, label="blurred value / blurred weight")
    ax_blur.set_title("blur: [1/2 1 1/2] along the 3 lattice directions", fontsize=10)
    ax_slice.plot(x, signal, "o", color="0.6", ms=3, label="input (noisy step)")
    ax_slice.plot(x, exact, "-", color="C0", label="exact Gaussian filter, O(N²)")
    ax_slice.plot(x, approx, "--", color="C3", label="lattice: splat, blur, slice")
    error = float(np.abs(approx - exact).max())
    ax_slice.set_title(f"slice: read back at the points\nlargest difference {error:.3f}", fontsize=10)
    ax_slice.set_xlabel("position x")
    ax_slice.legend(fontsize=8, loc="upper left")
    fig.lattice, fig.exact, fig.approx = lattice, exact, approx
    return fig
