"""The diagonal of the permutohedral lattice's splat-blur-slice operator (see permutohedral.py).

The CRF's pairwise sum runs over pairs of distinct pixels, but splat-blur-slice lets every point's
own value come back to it. ``lattice_self_weights`` says exactly how much, per point, so that the
filter can subtract it: it counts the blur paths between the vertices of the point's simplex.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _masked_path(neighbours, start, backwards, mask):
    """Blur weight carried from vertex ``start`` by one step in each pass j whose bit is set in ``mask``.

    Steps go along +dir_j (``backwards`` = 0) or -dir_j (1). Each step halves the weight (the 0.5 of
    the [1 2 1]/2 blur); a step onto an unoccupied vertex loses it all (0).
    """
    vertex, weight = np.int64(start), 1.0
    for j in range(neighbours.shape[0]):
        if (mask >> j) & 1:
            vertex = np.int64(neighbours[j, vertex, backwards])
            if vertex < 0:
                return 0.0
            weight *= 0.5
    return weight


@njit(cache=True, inline="always")
def _two_ways(neighbours, start, subset, full):
    """Blur weight carried from ``start`` to start + (the sum of the directions in ``subset``).

    Since the d+1 directions sum to 0, the blur passes can get there in two ways: -dir on the
    subset's passes (``backwards``) or +dir on all the others. Both are powers of 1/2 (or 0), so
    the sum is exact.
    """
    return (_masked_path(neighbours, start, 1, subset)
            + _masked_path(neighbours, start, 0, full ^ subset))


@njit(cache=True)
def _path_table(neighbours):
    """_two_ways for every vertex and every subset of the d+1 directions: (M, 2^(d+1)).

    The one-sign walks are built up subset by subset instead of walked: the walk over ``mask`` first
    steps along its lowest pass j, then walks the rest of the mask from there, so
    walk[b, mask, u] = 0.5 walk[b, mask - {j}, neighbour_j(u)] (0 if unoccupied), walk[b, {}, u] = 1.
    """
    d1, m = neighbours.shape[0], neighbours.shape[1]
    full = (1 << d1) - 1
    walk = np.empty((2, 1 << d1, m))
    for backwards in range(2):
        walk[backwards, 0] = 1.0
        for mask in range(1, 1 << d1):
            j = 0
            while not (mask >> j) & 1:  # the lowest pass in the mask
                j += 1
            rest = walk[backwards, mask ^ (1 << j)]
            for u in range(m):
                v = neighbours[j, u, backwards]
                walk[backwards, mask, u] = 0.5 * rest[v] if v >= 0 else 0.0
    table = np.empty((m, 1 << d1))
    for u in range(m):
        for subset in range(1 << d1):
            table[u, subset] = walk[1, subset, u] + walk[0, full ^ subset, u]
    return table


@njit(cache=True, inline="always")
def _path(table, neighbours, start, subset, full):
    if table.shape[0] > 0:
        return table[start, subset]
    return _two_ways(neighbours, start, subset, full)


@njit(cache=True, nogil=True)  # nogil: the CRF builds its two lattices on two threads
def lattice_self_weights(offsets, weights, neighbours, ranks, table_limit=1 << 24):
    """Diagonal of the splat-blur-slice operator: how much of point i's own value comes back to it.

    ``sum_{r,s} b_r b_s B[v_s <- v_r]`` over the point's simplex vertices, B the blur. For s > r,
    vertex v_s - v_r is the sum of the lattice directions over the set T(r, s) of coordinates whose
    rank lies in (d - s, d - r], and v_r - v_s the sum over its complement (the directions sum to 0);
    each move can be made in two ways (``_two_ways``). When r = s (no move) there is a third way:
    -dir on every pass, = _two_ways(everything) - 1. So, pairing (r, s) with (s, r),

        self = sum_r b_r^2 (W(v_r, {}) + W(v_r, all) - 1) + sum_{r<s} b_r b_s (W(v_r, T) + W(v_s, ~T)),

    W = _two_ways, with T(r, s) grown one coordinate at a time as s increases. The W of all (vertex,
    subset) are tabulated first unless that table would exceed ``table_limit`` entries (then walked).
    Used to drop the self term (i = j) from the lattice filter.
    """
    n, d1 = offsets.shape
    m = neighbours.shape[1]
    if m * (1 << d1) <= table_limit:
        table = _path_table(neighbours)
    else:
        table = np.empty((0, 0))
    full = (1 << d1) - 1
    out = np.empty(n)
    by_rank = np.empty(d1, np.int64)  # by_rank[k]: the coordinate of rank k
    for p in range(n):
        for i in range(d1):
            by_rank[ranks[p, i]] = i
        total = 0.0
        for r in range(d1):
            vr, br = offsets[p, r], weights[p, r]
            pairs = 0.0
            subset = 0
            for s in range(r + 1, d1):
                subset |= 1 << by_rank[d1 - s]  # T(r, s) = T(r, s - 1) + the coordinate of rank d + 1 - s
                pairs += weights[p, s] * (_path(table, neighbours, vr, subset, full)
                                          + _path(table, neighbours, offsets[p, s], full ^ subset, full))
            stay = _path(table, neighbours, vr, 0, full) + _path(table, neighbours, vr, full, full) - 1.0
            total += br * (br * stay + pairs)
        out[p] = total
    return out
