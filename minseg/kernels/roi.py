"""Numba kernels for RoIAlign and RoIPool (forward and backward with respect to the feature map).

The box geometry is worked out beforehand in NumPy (``minseg.functional.roi_geometry``); these
kernels only gather (forward) and scatter (backward). RoIAlign's sample weights are separable:
a sample's weight on pixel (j, i) is wy(j) * wx(i), so each sample is described by two 1-D taps per
axis (``*_lo``/``*_hi`` pixel and weight). Forwards run in parallel over (box, channel) pairs;
backwards run in parallel over channels, so no two threads ever add into the same pixel.
"""
from __future__ import annotations

from numba import njit, prange

FLT_LOWEST = -3.4028234663852886e38  # torchvision starts each RoIPool max at -FLT_MAX


@njit(cache=True, parallel=True)
def roi_align_forward(x, batch, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi, grid_w, out):
    """out[k, c, p, q] = mean over the bin's samples of the bilinear value of x[batch[k], c]."""
    n_boxes, channels, out_h, out_w = out.shape
    for kc in prange(n_boxes * channels):
        k = kc // channels
        plane = x[batch[k], kc % channels]
        gh, gw = grid_h[k], grid_w[k]
        count = max(gh * gw, 1)
        for p in range(out_h):
            for q in range(out_w):
                total = 0.0
                for s in range(gh):
                    r0, r1, a0, a1 = y_lo[k, p, s], y_hi[k, p, s], wy_lo[k, p, s], wy_hi[k, p, s]
                    for t in range(gw):
                        c0, c1, b0, b1 = x_lo[k, q, t], x_hi[k, q, t], wx_lo[k, q, t], wx_hi[k, q, t]
                        total += (a0 * b0 * plane[r0, c0] + a0 * b1 * plane[r0, c1]
                                  + a1 * b0 * plane[r1, c0] + a1 * b1 * plane[r1, c1])
                out[k, kc % channels, p, q] = total / count


@njit(cache=True, parallel=True)
def roi_align_backward(grad_out, batch, y_lo, y_hi, wy_lo, wy_hi, grid_h, x_lo, x_hi, wx_lo, wx_hi, grid_w,
                       grad_x):
    """grad_x[batch[k], c] += each output gradient spread back over its samples' 4 pixels."""
    n_boxes, channels, out_h, out_w = grad_out.shape
    for c in prange(channels):
        for k in range(n_boxes):
            plane = grad_x[batch[k], c]
            gh, gw = grid_h[k], grid_w[k]
            if gh * gw == 0:
                continue
            for p in range(out_h):
                for q in range(out_w):
                    g = grad_out[k, c, p, q] / (gh * gw)
                    for s in range(gh):
                        r0, r1 = y_lo[k, p, s], y_hi[k, p, s]
                        a0, a1 = g * wy_lo[k, p, s], g * wy_hi[k, p, s]
                        for t in range(gw):
                            c0, c1, b0, b1 = x_lo[k, q, t], x_hi[k, q, t], wx_lo[k, q, t], wx_hi[k, q, t]
                            plane[r0, c0] += a0 * b0
                            plane[r0, c1] += a0 * b1
                            plane[r1, c0] += a1 * b0
                            plane[r1, c1] += a1 * b1


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

