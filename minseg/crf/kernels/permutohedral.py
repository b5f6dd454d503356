"""The permutohedral lattice (Adams, Baek & Davis 2010): fast high-dimensional Gaussian filtering.

Filtering N values with a Gaussian over d-dimensional features costs O(N^2) when done densely. The
lattice replaces it by three linear steps, each O(N d) or O(M d) with M <= N (d+1) lattice vertices:

    splat  each point spreads its value onto the d+1 vertices of the simplex that encloses it,
           weighted by its barycentric coordinates;
    blur   along each of the d+1 lattice directions, vertex u takes u + 0.5 (u+dir + u-dir)
           (the [1 2 1]/2 kernel of Krähenbühl's implementation);
    slice  each point reads back the barycentric-weighted sum of its d+1 vertices.

Features are scaled as in Krähenbühl's densecrf (inv_std = sqrt(2/3) (d+1)), so that the three steps
together approximate ``c_d * sum_j exp(-|f_i - f_j|^2 / 2) v_j`` (self term j = i included), where the
constant ``c_d`` is ``lattice_scale(d)`` (derived there). The occupied vertices are found with an
open-addressing hash table on their integer coordinates (the last coordinate is implied: they sum to 0).

All functions are plain ``@njit(cache=True)`` functions over ndarrays; with NUMBA_DISABLE_JIT=1 they run
as ordinary Python (slowly). They are serial on purpose: each pass takes a few milliseconds, and on a
2-core machine shared with other work, waking threads for every pass cost more than it saved (5
iterations on 320x240 with 21 labels: 470 ms with 2 threads against 245 ms with 1, under load 4.5).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .permutohedral_self import lattice_self_weights  # noqa: F401  (part of this module's API)

_EMPTY = -1


@njit(cache=True, inline="always")
def _hash_key(key, mask):
    """Slot of an integer lattice key (d coordinates): Krähenbühl's multiplicative hash, then mixed."""
    h = 0
    for k in range(key.shape[0]):
        h = ((h + key[k]) * 2531011) & 0xFFFFFFFF
    h ^= h >> 15  # mix the high bits down: lattice keys differ in patterns the low bits alone miss
    h = (h * 0x2C1B3C6D) & 0xFFFFFFFF
    h ^= h >> 12
    return h & mask


@njit(cache=True, inline="always")
def _find_or_insert(table, keys, n_vertices, key, insert):
    """Index of ``key`` among the vertices; a new vertex when absent and ``insert`` (else -1).

    ``table`` maps hash slots to vertex indices (-1 = empty, linear probing); ``keys[v]`` is the key of
    vertex v; ``n_vertices[0]`` counts the vertices made so far.
    """
    mask = table.shape[0] - 1
    slot = _hash_key(key, mask)
    d = key.shape[0]
    while True:
        index = table[slot]
        if index == _EMPTY:
            if not insert:
                return _EMPTY
            index = n_vertices[0]
            table[slot] = index
            for k in range(d):
                keys[index, k] = key[k]
            n_vertices[0] = index + 1
            return index
        same = True
        for k in range(d):
            if keys[index, k] != key[k]:
                same = False
                break
        if same:
            return index
        slot = (slot + 1) & mask


@njit(cache=True)
def _rehash(keys, count, capacity):
    """A new hash table of ``capacity`` slots holding the first ``count`` keys."""
    table = np.full(capacity, _EMPTY, np.int64)
    mask = capacity - 1
    for index in range(count):
        slot = _hash_key(keys[index], mask)
        while table[slot] != _EMPTY:
            slot = (slot + 1) & mask
        table[slot] = index
    return table


@njit(cache=True, inline="always")
def _embed(f, scale, elevated, rem0, rank, bary):
    """Elevate one feature vector into the plane sum(x) = 0 of R^(d+1), find its enclosing simplex.

    Fills ``elevated`` (d+1), ``rem0`` (nearest remainder-0 lattice point), ``rank`` (the ordering of
    the differential, which names the simplex) and ``bary`` (d+2, barycentric weights in bary[:d+1]).
    The comparisons are written without branches: their outcomes are random from point to point, and
    a mispredicted branch costs more than the arithmetic.
    """
    d = f.shape[0]
    sm = 0.0
    for j in range(d, 0, -1):  # E = the orthogonal basis of the plane, columns (1,..,1,-j,0,..)
        cf = f[j - 1] * scale[j - 1]
        elevated[j] = sm - j * cf
        sm += cf
    elevated[0] = sm
    total = 0
    for j in range(d + 1):  # round each coordinate to the nearest multiple of d+1 (ties: down)
        v = elevated[j] / (d + 1)
        up = math.ceil(v) * (d + 1)
        down = math.floor(v) * (d + 1)
        rem0[j] = int(up) if up - elevated[j] < elevated[j] - down else int(down)
        total += rem0[j]
        rank[j] = 0
    total //= d + 1
    for i in range(d + 1):  # sort the differential elevated - rem0 (by counting)
        di = elevated[i] - rem0[i]
        for j in range(i + 1, d + 1):
            smaller = di < elevated[j] - rem0[j]
            rank[i] += smaller
            rank[j] += 1 - smaller
    for i in range(d + 1):  # walk back onto the plane if the rounding left it
        rank[i] += total
        if rank[i] < 0:
            rank[i] += d + 1
            rem0[i] += d + 1
        elif rank[i] > d:
            rank[i] -= d + 1
            rem0[i] -= d + 1
    for i in range(d + 2):
        bary[i] = 0.0
    for i in range(d + 1):
        v = (elevated[i] - rem0[i]) / (d + 1)
        bary[d - rank[i]] += v
        bary[d + 1 - rank[i]] -= v
    bary[0] += 1.0 + bary[d + 1]


@njit(cache=True)
def _feature_scale(d):
    """Per-feature factors of the elevation: inv_std / sqrt((i+1)(i+2)), inv_std = sqrt(2/3) (d+1)."""
    inv_std = math.sqrt(2.0 / 3.0) * (d + 1)
    scale = np.empty(d)
    for i in range(d):
        scale[i] = inv_std / math.sqrt((i + 1.0) * (i + 2.0))
    return scale


@njit(cache=True, inline="always")
def _is_key(keys, v, key):
    """keys[v] == key?"""
    for i in range(key.shape[0]):
        if keys[v, i] != key[i]:
            return False
    return True


@njit(cache=True)
def _insert(table, keys, count, key):
    """Add a vertex (the rare path of the look-up loop, kept out of it so that the loop stays lean)."""
    return _find_or_insert(table, keys, count, key, True)


@njit(cache=True)
def _splat_points(features, start, table, keys, count, offsets, weights, ranks):
    """Embed points ``start``, ``start + 1``, ... and find (inserting) their simplices' vertices.

    Fills rows of ``offsets``, ``weights`` and ``ranks``. Stops before a point that could make the
    hash table more than half full and returns its index (N when all are done), so the caller can
    grow the table: inside this loop the table never changes identity, which keeps it fast.
    Vertex r of a simplex has every coordinate = r mod (d+1), so it can only coincide with vertex r
    of another simplex: when it is the previous point's vertex r (as for neighbouring pixels,
    usually) the index is copied instead of looked up.
    """
    n, d = features.shape
    scale = _feature_scale(d)
    elevated, bary, key = np.empty(d + 1), np.empty(d + 2), np.empty(d, np.int64)
    rem0, rank = np.empty(d + 1, np.int64), np.empty(d + 1, np.int64)
    for p in range(start, n):
        if 2 * (count[0] + d + 1) > table.shape[0]:
            return p
        _embed(features[p], scale, elevated, rem0, rank, bary)
        for r in range(d + 1):
            weights[p, r] = bary[r]
            ranks[p, r] = rank[r]
        for r in range(d + 1):  # vertex r of the simplex: rem0 + the canonical vertex r, permuted by rank
            for i in range(d):  # + r where rank <= d - r, else r - (d+1); the last coordinate is implied
                key[i] = rem0[i] + r - (d + 1) * (rank[i] > d - r)
            if p > 0 and _is_key(keys, offsets[p - 1, r], key):
                offsets[p, r] = offsets[p - 1, r]
                continue
            index = _find_or_insert(table, keys, count, key, False)
            offsets[p, r] = index if index != _EMPTY else _insert(table, keys, count, key)
    return n


@njit(cache=True)
def _splat_indices(features, table, keys, count):
    """Embed every point and find (inserting) its simplex's vertices in the hash table.

    Returns ``(offsets (N, d+1) int32, weights (N, d+1), ranks (N, d+1) int32, table)`` (the table
    is replaced when it grows: doubled whenever it would get more than half full).
    """
    n, d = features.shape
    offsets = np.empty((n, d + 1), np.int32)
    weights = np.empty((n, d + 1))
    ranks = np.empty((n, d + 1), np.int32)
    p = 0
    while True:
        p = _splat_points(features, p, table, keys, count, offsets, weights, ranks)
        if p == n:
            return offsets, weights, ranks, table
        table = _rehash(keys, count[0], 2 * table.shape[0])


@njit(cache=True)
def _neighbour_indices(table, keys, count):
    """(d+1, M, 2) int32: for blur direction j, vertex v's neighbours v + dir_j ([v, 0]) and v - dir_j
    ([v, 1]), -1 where not occupied. dir_j is +(d+1) on coordinate j and -1 on all the others."""
    m, d = count[0], keys.shape[1]
    neighbours = np.empty((d + 1, m, 2), np.int32)
    key = np.empty(d, np.int64)
    for j in range(d + 1):
        for v in range(m):
            for i in range(d):
                key[i] = keys[v, i] - 1
            if j < d:
                key[j] += d + 1
            neighbours[j, v, 0] = _find_or_insert(table, keys, count, key, False)
            for i in range(d):
                key[i] = keys[v, i] + 1
            if j < d:
                key[j] -= d + 1
            neighbours[j, v, 1] = _find_or_insert(table, keys, count, key, False)
    return neighbours


@njit(cache=True, nogil=True)  # nogil: the CRF builds its two lattices on two threads
def lattice_build(features):
    """Build the lattice for ``features`` (N, d) (already divided by the kernel's thetas).

    Returns ``(offsets (N, d+1) int32, weights (N, d+1), neighbours (d+1, M, 2) int32, ranks (N, d+1))``:
    the vertex indices and barycentric weights of each point's simplex, for each blur direction each
    vertex's two neighbours (-1 where the neighbour is not occupied; [v, 0] = v + dir, [v, 1] = v - dir),
    and each point's rank vector (which names its simplex; needed by ``lattice_self_weights``).
    """
    n, d = features.shape
    table = np.full(1024, _EMPTY, np.int64)  # grows (doubling) to stay at most half full
    keys = np.empty((n * (d + 1), d), np.int64)  # at most d+1 new vertices per point; untouched rows cost nothing
    count = np.zeros(1, np.int64)
    offsets, weights, ranks, table = _splat_indices(features, table, keys, count)
    return offsets, weights, _neighbour_indices(table, keys, count), ranks


@njit(cache=True)
def _splat(values, in_scale, offsets, weights, m):
    """Lattice values (M, V): every point adds weight * in_scale * value to each vertex of its simplex."""
    n, v = values.shape
    lattice = np.zeros((m, v), values.dtype)  # float32 values: float32 lattice (half the memory traffic)
    for p in range(n):
        for r in range(offsets.shape[1]):
            o, w = offsets[p, r], weights[p, r] * in_scale[p]
            for c in range(v):
                lattice[o, c] += w * values[p, c]
    return lattice


@njit(cache=True, parallel=True)
def _blur_direction(old, new, neighbours_j):
    """new[u] = old[u] + 0.5 (old[u - dir] + old[u + dir]); an absent neighbour counts as 0.

    Vertex by vertex in parallel (each writes only its own row of ``new``); callers run small
    lattices on one thread (minseg.threads.threads_for).
    """
    m, v = old.shape
    for u in prange(m):
        a, b = neighbours_j[u, 0], neighbours_j[u, 1]
        for c in range(v):
            new[u, c] = old[u, c]
        if a >= 0:
            for c in range(v):
                new[u, c] += 0.5 * old[a, c]
        if b >= 0:
            for c in range(v):
                new[u, c] += 0.5 * old[b, c]


@njit(cache=True)
def _slice_into(lattice, offsets, weights, values, in_scale, self_weights, out_scale, out):
    """out[p] += out_scale[p] (sum_r weights[p, r] lattice[offsets[p, r]] - self[p] in_scale[p] values[p])."""
    n, v = out.shape
    for p in range(n):
        scale = out_scale[p]
        own = scale * self_weights[p] * in_scale[p]
        for c in range(v):
            out[p, c] -= own * values[p, c]
        for r in range(offsets.shape[1]):  # label loop innermost: contiguous, vectorisable
            o, w = offsets[p, r], scale * weights[p, r]
            for c in range(v):
                out[p, c] += w * lattice[o, c]


@njit(cache=True, nogil=True)  # nogil: the CRF builds its two lattices on two threads
def lattice_filter_into(values, offsets, weights, neighbours, self_weights, in_scale, out_scale, out):
    """out += out_scale * (L (in_scale * values) - self_weights * in_scale * values), L = splat-blur-slice.

    ``values``, ``out`` (N, V); the per-point scales (N,) carry a normalisation and the kernel's weight,
    and ``self_weights`` (N,) the diagonal of L to drop the self term (zeros keep it).
    """
    lattice = _splat(values, in_scale, offsets, weights, neighbours.shape[1])
    spare = np.empty_like(lattice)
    for j in range(neighbours.shape[0]):  # blur along every direction, 0..d
        _blur_direction(lattice, spare, neighbours[j])
        lattice, spare = spare, lattice
    _slice_into(lattice, offsets, weights, values, in_scale, self_weights, out_scale, out)


@njit(cache=True)
def lattice_filter(values, offsets, weights, neighbours):
    """Plain splat-blur-slice (self term kept, no scaling): ``values`` (N, V) -> (N, V), float64."""
    n, v = values.shape
    ones, zeros = np.ones(n), np.zeros(n)
    out = np.zeros((n, v))
    lattice_filter_into(values, offsets, weights, neighbours, zeros, ones, ones, out)
    return out


def lattice_scale(d: int) -> float:
    """The constant c_d with splat-blur-slice ~= c_d * (dense Gaussian sum), for uniform point density.

    Mass bookkeeping: a point splats total weight 1; each of the d+1 blur passes doubles the mass
    (1 + 0.5 + 0.5); slicing interpolates. With density rho per unit of (scaled) feature volume, a vertex
    collects rho * V / inv_std^d, where V = (d+1)^(d - 1/2) is the volume per vertex of the lattice
    (d+1) A*_d in the plane, and inv_std^d is how much the elevation stretches volumes. The dense sum
    is rho * (2 pi)^(d/2). Dividing gives c_d = 2^(d+1) V / (inv_std^d (2 pi)^(d/2)).
    """
    inv_std = math.sqrt(2.0 / 3.0) * (d + 1)
    volume = (d + 1.0) ** (d - 0.5)
    return 2.0 ** (d + 1) * volume / (inv_std ** d * (2.0 * math.pi) ** (d / 2.0))
