"""U-Net's pixel-wise loss weight map, which makes the thin background gaps between touching
instances expensive to get wrong:

    w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2))

d1, d2: Euclidean distances from background pixel x to the nearest and the second-nearest
instance (the border term is 0 on instance pixels and when there are fewer than two instances).
w_c balances the frequencies of background and foreground: by default each of the two gets total
weight 1/2 (w_c = n / (2 n_c)); ``class_weights=(w_background, w_foreground)`` sets them instead.

Use it with ``cross_entropy(..., reduction='none')``: ``(weight_map * loss_map).mean()``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...autograd import as_array

__all__ = ["unet_weight_map"]


def instance_labels(instance_mask) -> np.ndarray:
    """(H, W) int labels (0 = background, 1..M = instances) from labels or a (M, H, W) bool stack."""
    mask = as_array(instance_mask)
    if mask.ndim == 3 and mask.dtype == bool:
        if (mask.sum(0) > 1).any():
            raise ValueError("unet_weight_map: instance_mask stack (M, H, W) has overlapping instances")
        return (mask * np.arange(1, len(mask) + 1)[:, None, None]).sum(0)
    if mask.ndim != 2 or mask.dtype.kind not in "iu":
        raise ValueError("unet_weight_map: instance_mask must be (H, W) integer instance ids "
                         f"(0 = background) or a (M, H, W) bool stack, got {mask.dtype} {mask.shape}")
    if (mask < 0).any():
        raise ValueError("unet_weight_map: instance_mask ids must be >= 0 (0 = background)")
    return mask


def _check_parameters(w0, sigma, class_weights):
    if not isinstance(w0, numbers.Real) or w0 < 0:
        raise ValueError(f"unet_weight_map: w0 must be a number >= 0, got {w0!r}")
    if not isinstance(sigma, numbers.Real) or sigma <= 0:
        raise ValueError(f"unet_weight_map: sigma must be a number > 0, got {sigma!r}")
    if class_weights is not None and np.shape(class_weights) != (2,):
        raise ValueError("unet_weight_map: class_weights must be (w_background, w_foreground), "
                         f"got {class_weights!r}")


def class_balance(foreground: np.ndarray, class_weights) -> np.ndarray:
    """w_c per pixel: given, or n / (2 n_c) when both classes are present (else 1)."""
    if class_weights is not None:
        return np.where(foreground, class_weights[1], class_weights[0]).astype(np.float64)
    n_fg = foreground.sum()
    n_bg = foreground.size - n_fg
    if n_fg == 0 or n_bg == 0:
        return np.ones(foreground.shape)
    return np.where(foreground, foreground.size / (2 * n_fg), foreground.size / (2 * n_bg))


def unet_weight_map(instance_mask, w0: float = 10.0, sigma: float = 5.0, class_weights=None) -> np.ndarray:
    """The (H, W) float32 weight map of U-Net from an instance mask (see the module docstring)."""
    _check_parameters(w0, sigma, class_weights)
    labels = instance_labels(instance_mask)
    ids = np.unique(labels[labels > 0])
    weights = class_balance(labels > 0, class_weights)
    if len(ids) >= 2:
        from scipy import ndimage  # imported here so that `import minseg` stays light

        distances = np.stack([ndimage.distance_transform_edt(labels != i) for i in ids])
        nearest_two = np.partition(distances, 1, axis=0)[:2]
        border = w0 * np.exp(-(nearest_two[0] + nearest_two[1]) ** 2 / (2 * sigma ** 2))
        weights = weights + np.where(labels == 0, border, 0.0)
    return weights.astype(np.float32)
