"""Batch norm's Numba kernels over (N, C, L) views (L = the pixels of one channel of one image).

NumPy's batch norm is a dozen whole-array passes, each with its own temporary: mean, var (two more),
x - mean, times inv_std, times weight, plus bias; the backward five products and two means. Here
each channel is one task (``prange``), and a task walks its N rows of L contiguous values a few times:

    channel_moments:  mean_c = sum x / M,  var_c = sum (x - mean_c)^2 / M       (M = N * L; two passes)
    normalise:        x_hat = (x - mean_c) * inv_std_c,  y = x_hat * w_c + b_c   (one pass, both arrays)
    normalise_grad:   sum_g = sum g,  sum_gx = sum g * x_hat                    (one pass)
                      dx = inv_std * w * (g - sum_g / M - x_hat * sum_gx / M)   (one pass; batch statistics)
                      dx = inv_std * w * g                                      (running statistics)

The sums run in float64 whatever x's dtype (more exact than NumPy's float32 pairwise sums); the
elementwise results are written in x's dtype. The formulas are those of ``ops.BatchNormFunction``'s
docstring (the derivative of the batch statistics is the - sum_g / M - x_hat sum_gx / M part).
"""
from __future__ import annotations

from numba import njit, prange


# reassoc: lets the float64 sums vectorise (they run in another order; still float64, more exact than
# NumPy's float32 sums); no other fast-math flag, so nan and inf propagate as the formula says
SUMS = {"reassoc"}


@njit(cache=True, parallel=True, fastmath=SUMS)
def channel_moments(x, mean, var):
    """mean[c], var[c] (biased, as batch norm normalises by) of x[:, c, :], in float64."""
    n, channels, length = x.shape
    count = n * length
    for c in prange(channels):
        total = 0.0
        for b in range(n):
            for i in range(length):
                total += x[b, c, i]
        mu = total / count
        squares = 0.0
        for b in range(n):
            for i in range(length):
                d = x[b, c, i] - mu
                squares += d * d
        mean[c] = mu
        var[c] = squares / count


@njit(cache=True, parallel=True)
def normalise(x, mean, inv_std, weight, bias, x_hat, y, keep_x_hat):
    """y = (x - mean) * inv_std * weight + bias per channel; x_hat = (x - mean) * inv_std too where
    ``keep_x_hat`` (backward needs it). weight / bias: per-channel arrays (ones / zeros when absent)."""
    n, channels, length = x.shape
    for c in prange(channels):
        mu, scale = mean[c], inv_std[c]
        w, shift = weight[c], bias[c]
        for b in range(n):
            for i in range(length):
                h = (x[b, c, i] - mu) * scale
                if keep_x_hat:
                    x_hat[b, c, i] = h
                y[b, c, i] = h * w + shift


@njit(cache=True, parallel=True, fastmath=SUMS)
def normalise_grad(g, x_hat, inv_std, weight, batch_stats, dx, sum_g, sum_gx):
    """sum_g[c] = sum g, sum_gx[c] = sum g * x_hat (the bias and weight gradients) and, where dx has
    any elements, dx = inv_std * w * (g - sum_g / M - x_hat * sum_gx / M) with batch statistics, or
    inv_std * w * g with running ones."""
    n, channels, length = g.shape
    count = n * length
    for c in prange(channels):
        total, dot = 0.0, 0.0
        for b in range(n):
            for i in range(length):
                total += g[b, c, i]
                dot += g[b, c, i] * x_hat[b, c, i]
        sum_g[c], sum_gx[c] = total, dot
        if dx.size == 0:
            continue
        scale = inv_std[c] * weight[c]
        mean_g, mean_gx = (total / count, dot / count) if batch_stats else (0.0, 0.0)
        for b in range(n):
            for i in range(length):
                dx[b, c, i] = scale * (g[b, c, i] - mean_g - x_hat[b, c, i] * mean_gx)

