"""Argument checks for the dense CRF: every message names the function, the argument and the form."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Tensor, as_array

METHODS = ("naive", "permutohedral")
DISTANCES = ("euclidean", "chebyshev")
NORMALIZATIONS = ("none", "symmetric")
MAX_EXACT_PIXELS = 2500  # the exact paths hold N x N float64 matrices: 50 MB each at N = 2500 (50 x 50)


def as_float_array(op: str, name: str, value) -> np.ndarray:
    """``value`` (ndarray, Tensor or nested list) as a finite float64 ndarray."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, (np.ndarray, list, tuple)):
        raise TypeError(f"{op}: {name} must be an ndarray or a Tensor, got {type(value).__name__}")
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{op}: {name} must be finite (no nan/inf)")
    return array


def check_guide_image(op: str, image) -> np.ndarray:
    """The CRF's guide image as float64 (H, W, C), channels last; a 2-D (H, W) image becomes one
    channel. (The NCHW tensor check of the functional ops is minseg.functional.checks.check_image.)"""
    array = as_float_array(op, "image", image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"{op}: image must be (H, W) or (H, W, C), got shape {array.shape}")
    return array


def check_exact_size(op: str, image: np.ndarray) -> None:
    """The exact O(N^2)-memory computations are for small images only."""
    if image.shape[0] * image.shape[1] > MAX_EXACT_PIXELS:
        raise ValueError(f"{op}: image must have at most {MAX_EXACT_PIXELS} pixels for this exact O(N^2) "
                         f"computation, got (H, W) = {image.shape[:2]}; use mean_field for larger images")


def check_unary(op: str, unary, image: np.ndarray) -> np.ndarray:
    """Unary costs as float64 (K, H, W) with K >= 2 and (H, W) equal to the image's."""
    array = as_float_array(op, "unary", unary)
    if array.ndim != 3:
        raise ValueError(f"{op}: unary must be 3-D (K, H, W) costs, got shape {array.shape}")
    if array.shape[0] < 2:
        raise ValueError(f"{op}: unary must have K >= 2 labels (K, H, W), got K = {array.shape[0]}")
    if array.shape[1:] != image.shape[:2]:
        raise ValueError(f"{op}: unary (K, H, W) = {array.shape} and image (H, W, C) = {image.shape} "
                         f"must have the same H and W")
    return array


def check_labels(op: str, labels, num_labels: int, size: tuple[int, int]) -> np.ndarray:
    """A label map (H, W) of ints in [0, K)."""
    array = as_array(labels)
    if array.dtype.kind not in "iub":
        raise ValueError(f"{op}: labels must be an integer array (H, W), got dtype {array.dtype}")
    if array.shape != tuple(size):
        raise ValueError(f"{op}: labels must have shape (H, W) = {tuple(size)}, got {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= num_labels):
        raise ValueError(f"{op}: labels must lie in [0, {num_labels}), got [{array.min()}, {array.max()}]")
    return array.astype(np.int64)


def check_choice(op: str, name: str, value, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{op}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_number(op: str, name: str, value, positive: bool) -> float:
    """A finite real number, > 0 when ``positive`` else >= 0."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{op}: {name} must be a finite number {bound}, got {value!r}")
    return value


def check_n_iter(op: str, n_iter) -> int:
    """A non-negative int number of iterations."""
    if isinstance(n_iter, bool) or not isinstance(n_iter, (numbers.Integral, np.integer)) or n_iter < 0:
        raise ValueError(f"{op}: n_iter must be an int >= 0, got {n_iter!r}")
    return int(n_iter)
