"""Numba kernels for RoIAlign and RoIPool (forward and backward with respect to the feature map).

The box geometry is worked out beforehand in NumPy (:mod:`.geometry`); these
kernels only gather (forward) and scatter (backward). RoIAlign's sample weights are separable:
a sample's weight on pixel (j, i) is wy(j) * wx(i), so each sample is described by two 1-D taps per
axis (``*_lo``/``*_hi`` pixel and weight). Forwards run in parallel over (box, channel) pairs;
backwards run in parallel over channels, so no two threads ever add into the same pixel.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

FLT_LOWEST = -3.4028234663852886e38  # torchvision starts each RoIPool max at -FLT_MAX


@njit(cache=True)
def _box_taps(k, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi, grid_w, width, dtype_like):
    """Box k's samples, bin after bin: flat pixel index and weight of each sample's 4 neighbours.

    Shared by all channels (torchvision's "pre_calc"). Entry 4 m + j is neighbour j of sample m, in
    the order (y_lo, x_lo), (y_lo, x_hi), (y_hi, x_lo), (y_hi, x_hi), with weight wy * wx. The
    indices are unsigned: Numba then skips its negative-index check on every gather, a third faster.
    """
    out_h, out_w = y_lo.shape[1], x_lo.shape[1]
    gh, gw = grid_h[k], grid_w[k]
    pos = np.empty(4 * out_h * out_w * gh * gw, dtype=np.uint32)
    weight = np.empty(4 * out_h * out_w * gh * gw, dtype=dtype_like.dtype)
    m = 0
    for p in range(out_h):
        for q in range(out_w):
            for s in range(gh):
                r0, r1, a0, a1 = y_lo[k, p, s] * width, y_hi[k, p, s] * width, wy_lo[k, p, s], wy_hi[k, p, s]
                for t in range(gw):
                    c0, c1, b0, b1 = x_lo[k, q, t], x_hi[k, q, t], wx_lo[k, q, t], wx_hi[k, q, t]
                    pos[m], pos[m + 1], pos[m + 2], pos[m + 3] = r0 + c0, r0 + c1, r1 + c0, r1 + c1
                    weight[m], weight[m + 1] = a0 * b0, a0 * b1
                    weight[m + 2], weight[m + 3] = a1 * b0, a1 * b1
                    m += 4
    return pos, weight


@njit(cache=True, parallel=True)
def roi_align_forward(x_flat, width, batch, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi,
                      grid_w, out):
    """out[k, c, p, q] = mean over the bin's samples of the bilinear value of x[batch[k], c].

    ``x_flat`` is the feature map as (N, C, H * W); parallel over boxes, each box's taps computed once.
    """
    n_boxes, channels, out_h, out_w = out.shape
    zero = out[0, 0, 0, 0] - out[0, 0, 0, 0]  # 0 in the map's dtype: accumulate in it, as torchvision does
    one = np.uint32(1)
    for k in prange(n_boxes):
        pos, weight = _box_taps(k, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi, grid_w, width,
                                out)
        count = max(grid_h[k] * grid_w[k], 1)
        span = np.uint32(4 * grid_h[k] * grid_w[k])  # taps per bin
        for c in range(channels):
            plane = x_flat[batch[k], c]
            m = np.uint32(0)
            for b in range(out_h * out_w):
                total = zero
                end = m + span
                while m < end:
                    total += weight[m] * plane[pos[m]]
                    m += one
                out[k, c, b // out_w, b % out_w] = total / count


@njit(cache=True, parallel=True)
def roi_align_backward(grad_out, width, batch, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi,
                       grid_w, grad_flat):
    """grad_flat[batch[k], c] += each output gradient spread back over its samples' 4 pixels.

    Parallel over blocks of channels (a fixed split, so results do not depend on the thread count):
    no two threads ever add into the same pixel.
    """
    n_boxes, channels, out_h, out_w = grad_out.shape
    blocks = min(channels, 16)
    one = np.uint32(1)
    for block in prange(blocks):
        first, last = block * channels // blocks, (block + 1) * channels // blocks
        for k in range(n_boxes):
            per_bin = grid_h[k] * grid_w[k]
            if per_bin == 0:
                continue
            pos, weight = _box_taps(k, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi, grid_w,
                                    width, grad_flat)
            span = np.uint32(4 * per_bin)
            for c in range(first, last):
                plane = grad_flat[batch[k], c]
                m = np.uint32(0)
                for b in range(out_h * out_w):
                    g = grad_out[k, c, b // out_w, b % out_w] / per_bin
                    end = m + span
                    while m < end:
                        plane[pos[m]] += g * weight[m]
                        m += one


@njit(cache=True, parallel=True)
def roi_pool_forward(x, batch, h_start, h_end, w_start, w_end, out, argmax):
    """out[k, c, p, q] = max of x[batch[k], c] over the bin (0 if empty); argmax = flat h * W + w or -1."""
    n_boxes, channels, out_h, out_w = out.shape
    width = x.shape[3]
    for kc in prange(n_boxes * channels):
        k, c = kc // channels, kc % channels
        plane = x[batch[k], c]
        for p in range(out_h):
            for q in range(out_w):
                h0, h1, w0, w1 = h_start[k, p], h_end[k, p], w_start[k, q], w_end[k, q]
                best = 0.0 if (h1 <= h0 or w1 <= w0) else FLT_LOWEST
                where = -1
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        if plane[h, w] > best:  # strict: the first maximum in row-major order wins
                            best = plane[h, w]
                            where = h * width + w
                out[k, c, p, q] = best
                argmax[k, c, p, q] = where


@njit(cache=True, parallel=True)
def roi_pool_backward(grad_out, batch, argmax, grad_x_flat):
    """grad_x_flat[batch[k], c, argmax] += grad_out[k, c, p, q] for every bin that had a maximum."""
    n_boxes, channels, out_h, out_w = grad_out.shape
    for c in prange(channels):
        for k in range(n_boxes):
            for p in range(out_h):
                for q in range(out_w):
                    where = argmax[k, c, p, q]
                    if where >= 0:
                        grad_x_flat[batch[k], c, where] += grad_out[k, c, p, q]

