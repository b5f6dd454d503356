"""The losses' Numba kernels: reductions over the class axis of (outer, K, inner) arrays (the passes of
softmax, log_softmax, cross-entropy and the Dice / Jaccard backward that NumPy runs slowly), and binary
cross-entropy with logits in one pass (at the end of this file).

Logits (N, K, H, W) viewed as (N, K, H*W) keep, for each class k, a contiguous row of H*W pixels.
NumPy reduces over the middle axis K in several passes with temporaries; here each kernel walks the
K rows once and updates a running per-pixel accumulator (max, sum, dot product) whose inner loop
runs over contiguous pixels and vectorises. The exponential itself is left to NumPy's SIMD
``np.exp`` between the kernels (Numba's scalar exp, without Intel SVML, is several times slower).
Cross-entropy and log_softmax need the shifted logits x - m (m = max_k x), so they run

    shift_by_class_max(x, out)    out = x - max_k x          (no overflow in exp)
    np.exp(out, out=out)          out = e^(x - m)
    normalise_classes(out, sums)  sums = sum_k out,  out /= sums

where a non-finite maximum (a pixel whose logits are all -inf, or one +inf) shifts by 0 instead, as
``activation.log_sum_exp`` does. softmax needs only the probabilities, and e^x / sum_k e^x is the same
number as e^(x-m) / sum_k e^(x-m) wherever no e^x overflows or underflows, so it skips the shift:

    np.exp(x, out=e)                     e = e^x
    normalise_exponentials(x, e)         e /= sum_k e, pixel by pixel shifted where that sum is out of range

(see normalise_exponentials for the range, and why the pixels inside it lose nothing).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def shift_by_class_max(x, out):
    """out[b, k, i] = x[b, k, i] - max_k x[b, k, i] (shift 0 where that maximum is not finite)."""
    outer, classes, inner = x.shape
    for b in prange(outer):
        peak = np.empty(inner, x.dtype)
        peak[:] = x[b, 0]
        for k in range(1, classes):
            row = x[b, k]
            for i in range(inner):
                peak[i] = max(peak[i], row[i])
        for i in range(inner):
            if not math.isfinite(peak[i]):
                peak[i] = 0
        for k in range(classes):
            row, target = x[b, k], out[b, k]
            for i in range(inner):
                target[i] = row[i] - peak[i]


@njit(cache=True, parallel=True)
def class_sums(a, sums):
    """sums[b, i] = sum_k a[b, k, i]."""
    outer, classes, inner = a.shape
    for b in prange(outer):
        total = sums[b]
        total[:] = 0
        for k in range(classes):
            row = a[b, k]
            for i in range(inner):
                total[i] += row[i]


@njit(cache=True, parallel=True)
def normalise_classes(e, sums):
    """sums[b, i] = sum_k e[b, k, i], then e[b, k, i] /= sums[b, i] (softmax from exponentials), as a
    product with the sums' reciprocals (one division per pixel, not one per class and pixel)."""
    class_sums(e, sums)
    outer, classes, inner = e.shape
    for b in prange(outer):
        inverse = np.ones(1, e.dtype)[0] / sums[b]  # in e's dtype (a Python 1 would make it float64)
        for k in range(classes):
            row = e[b, k]
            for i in range(inner):
                row[i] *= inverse[i]


@njit(cache=True)
def _shifted_pixel(x, e, i):
    """e[k, i] = e^(x[k, i] - m) with m = max_k x[k, i], and their sum: one pixel of (K, inner) done by the
    shifted formula, with Numba's scalar exp (normalise_exponentials calls it for the rare pixels whose
    unshifted sum is out of range). Like torch it shifts by m even where m is +-inf, so such a pixel
    becomes nan, as does one with a nan logit (its exponential is nan)."""
    peak = x[0, i]
    for k in range(1, x.shape[0]):
        peak = max(peak, x[k, i])
    total = np.zeros(1, e.dtype)[0]
    for k in range(x.shape[0]):
        value = math.exp(x[k, i] - peak)
        e[k, i] = value
        total += value
    return total


@njit(cache=True, parallel=True)
def normalise_exponentials(x, e):
    """softmax over axis 1 from the unshifted exponentials: e[b, k, i] = e^x[b, k, i] on entry and
    e^x / sum_k e^x on return, one pass for the sums and one for the products (no shift pass).

    With S = sum_k e^x: where 1 <= S <= 2^64, every e^x is finite and the result is what the shifted
    formula gives, to rounding: an e^x that underflowed (a subnormal or 0) has e^x / S <= e^x < 2^-126,
    a probability the shifted formula underflows too, and 1 / S >= 2^-64 is a normal number. Every other
    pixel (S < 1: all its logits negative; S > 2^64 or inf: a logit above about 44; nan) is recomputed by
    the shifted formula (_shifted_pixel) before the products."""
    outer, classes, inner = e.shape
    one = np.ones(1, e.dtype)[0]  # in e's dtype (a Python 1 would make the arithmetic float64)
    low, high = one, one * 2.0 ** 64
    for b in prange(outer):
        total = np.zeros(inner, e.dtype)
        for k in range(classes):
            row = e[b, k]
            for i in range(inner):
                total[i] += row[i]
        for i in range(inner):
            if not low <= total[i] <= high:  # false for nan too
                total[i] = _shifted_pixel(x[b], e[b], i)
        inverse = one / total
        for k in range(classes):
            row = e[b, k]
            for i in range(inner):
                row[i] *= inverse[i]


@njit(cache=True, parallel=True)
def softmax_backward(s, g, grad):
    """grad[b, k, i] = s[b, k, i] * (g[b, k, i] - sum_j g[b, j, i] s[b, j, i]) (softmax's chain rule)."""
    outer, classes, inner = s.shape
    for b in prange(outer):
        dot = np.zeros(inner, s.dtype)
        for k in range(classes):
            srow, grow = s[b, k], g[b, k]
            for i in range(inner):
                dot[i] += srow[i] * grow[i]
        for k in range(classes):
            srow, grow, target = s[b, k], g[b, k], grad[b, k]
            for i in range(inner):
                target[i] = srow[i] * (grow[i] - dot[i])


@njit(cache=True, nogil=True)  # nogil: BCE runs two halves at once (loss/ops.py: _bce_elements)
def binary_cross_entropy_terms(x, y, a, tail, weight, weight_step, pos_weight, pos_step, grad_y):
    """BCE with logits and both its derivatives in one pass over flat arrays (n elements).

    The caller gives a = e^-|x| and tail = log1p(a) from NumPy's SIMD exp and log1p (Numba's scalar
    ones, without Intel SVML, are several times slower); then, with w = weight, p = pos_weight,

        softplus(x) = -log(1 - s(x)) = max(x, 0) + log1p(e^-|x|)    (never overflows)
        softplus(-x) = -log s(x) = softplus(x) - x
        l     = w [ p y softplus(-x) + (1 - y) softplus(x) ]
        dl/dx = w [ (1 - y) s - p y (1 - s) ],   s = 1 / (1 + a) if x >= 0 else a / (1 + a)
        dl/dy = w [ p softplus(-x) - softplus(x) ]

    The loss overwrites ``tail`` and dl/dx overwrites ``a`` (each element is read before it is
    written), so the pass allocates nothing; dl/dy goes to ``grad_y`` when it has n elements (empty:
    not wanted). weight[i * weight_step] and pos_weight[i * pos_step]: a step of 0 reads one
    value for every element (no weight given: a single 1), a step of 1 a full-size array.
    """
    one = np.ones(1, x.dtype)[0]  # constants of x's dtype: a Python 1 would make float32 math float64,
    zero = one - one              # which ran ~4x slower (half the SIMD lanes, conversions)
    for i in range(x.size):
        xi, yi, ai = x[i], y[i], a[i]
        w, p = weight[i * weight_step], pos_weight[i * pos_step]
        softplus = (xi if xi > zero else zero) + tail[i]
        sigmoid = (one if xi >= zero else ai) / (one + ai)
        tail[i] = w * (p * yi * (softplus - xi) + (one - yi) * softplus)
        a[i] = w * ((one - yi) * sigmoid - p * yi * (one - sigmoid))
        if grad_y.size:
            grad_y[i] = w * (p * (softplus - xi) - softplus)


@njit(cache=True, parallel=True)
def overlap_backward(p, target, valid, a, b, grad):
    """The Dice / Jaccard loss's gradient with respect to the logits, over (outer, K, inner) arrays.

    With dL/dp_ik = v_i (a_k [t_i = k] + b_k) (overlap.py gives a and b), back through the softmax:

        grad_ik = v_i p_ik (a_k [t_i = k] + b_k - dot_i),   dot_i = p_i,t_i a_t_i + sum_j p_ij b_j

    in two passes over the K rows per outer index (the dot products, then the gradient), with no one-hot
    target and no (outer, K, inner) temporaries. target: (outer, inner) class indices (0 where ignored);
    valid: (outer, inner) 1 where counted, 0 where ignored, in p's dtype.
    """
    outer, classes, inner = p.shape
    for o in prange(outer):
        dot = np.empty(inner, p.dtype)
        labels, counted = target[o], valid[o]
        for i in range(inner):
            dot[i] = p[o, labels[i], i] * a[labels[i]]
        for k in range(classes):
            row, bk = p[o, k], b[k]
            for i in range(inner):
                dot[i] += row[i] * bk
        for k in range(classes):
            row, out, ak, bk = p[o, k], grad[o, k], a[k], b[k]
            for i in range(inner):
                own = ak if labels[i] == k else ak - ak  # a_k [t_i = k], in p's dtype
                out[i] = counted[i] * row[i] * (own + bk - dot[i])


@njit(cache=True, parallel=True)
def pick_classes(a, target, out):
    """out[b, i] = a[b, target[b, i], i]: each pixel's entry of its target class (cross-entropy's
    shifted logit x_t - m); target (outer, inner) holds valid class indices (0 where ignored)."""
    outer, classes, inner = a.shape
    for b in prange(outer):
        labels = target[b]
        for i in range(inner):
            out[b, i] = a[b, labels[i], i]


@njit(cache=True, parallel=True)
def cross_entropy_grad(p, target, coefficient, grad):
    """grad[b, k, i] = c[b, i] (p[b, k, i] - [k = t[b, i]]): the cross-entropy's gradient with respect to
    the logits (p = softmax, c = class weight x validity x upstream gradient), in one pass, no one-hot."""
    outer, classes, inner = p.shape
    for b in prange(outer):
        labels, c = target[b], coefficient[b]
        for k in range(classes):
            row, out = p[b, k], grad[b, k]
            for i in range(inner):
                out[i] = c[i] * row[i]
        for i in range(inner):
            grad[b, labels[i], i] -= c[i]
