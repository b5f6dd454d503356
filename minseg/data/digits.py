"""DigitScenes: the course's segmentation data set, generated from scikit-learn's handwritten digits.

Each scene is a ``size`` x ``size`` canvas with a textured, coloured background (a blend of two
colours through smooth random noise and stripes) on which 1 to 4 upscaled handwritten digits are
painted, each in one flat colour chosen far from every colour of the background. Digits never
overlap or touch (a gap of at least one pixel), so every digit is one instance, fully visible, and its colour
edge is exactly its label edge (the CRF lecture relies on that). A little pixel noise is added to
the whole image.

Labels (``CLASSES``): 0 = background, 1..10 = digit 0..9 (label = digit + 1).

- ``images``    (N, 3, H, W) float32 in [0, 1]
- ``masks``     (N, H, W) int64, the semantic label map
- ``instances`` list of N dicts: ``boxes`` (K, 4) float32 [x1, y1, x2, y2] in pixel-edge
  coordinates (the digit covers columns x1 <= x < x2 and rows y1 <= y < y2, i.e.
  ``mask[y1:y2, x1:x2]``), ``labels`` (K,) int64 (1..10), ``masks`` (K, H, W) bool.
  The union of the instance masks with label c is exactly ``masks == c``.

The 1,797 scikit-learn digits (shipped with the package, no download) are split once, by a fixed
permutation, into 1,438 'train' and 359 'val' samples, so the two splits never share a handwritten
sample. Everything is deterministic given ``seed`` (and the split).

    scenes = DigitScenes(1000, size=64, split='train', seed=0)
    image, mask = scenes[0]
    for images, masks in scenes.batches(32, shuffle=True, seed=1): ...
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

__all__ = ["CLASSES", "NUM_CLASSES", "DigitScenes", "make_digit_scenes", "digit_samples"]

CLASSES = ["background"] + [str(d) for d in range(10)]
NUM_CLASSES = len(CLASSES)
_SPLIT_SEED = 20240601
_VAL_FRACTION = 0.2
_SPLITS = ("train", "val")
_MIN_COLOUR_DISTANCE = 0.4  # Euclidean RGB distance between a digit and any background colour


@functools.lru_cache(maxsize=None)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def digit_samples(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The (M, 8, 8) float32 images in [0, 1] and (M,) digits of one split (disjoint samples)."""
    if split not in _SPLITS:
        raise ValueError(f"digit_samples: split must be 'train' or 'val', got {split!r}")
    images, digits = _all_digits()
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(images))
    n_val = int(round(len(images) * _VAL_FRACTION))
    chosen = np.sort(order[n_val:] if split == "train" else order[:n_val])
    return images[chosen], digits[chosen]


# ----- argument checks ------------------------------------------------------------------------
def _check_int(name: str, value, minimum: int, op: str = "DigitScenes") -> int:
    """``value`` as an int >= ``minimum``; ``op`` names the caller in the error."""
    if not isinstance(value, (numbers.Integral, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{op}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_range(name: str, value, minimum: int, maximum: int) -> tuple[int, int]:
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) for v in value)
    if not ok or not minimum <= value[0] <= value[1] <= maximum:
        raise ValueError(f"DigitScenes: {name} must be an int or a pair (low, high) with "
                         f"{minimum} <= low <= high <= {maximum}, got {value!r}")
    return int(value[0]), int(value[1])


@functools.lru_cache(maxsize=1024)
def _bilinear_matrix(size_out: int, size_in: int) -> np.ndarray:
    """(size_out, size_in) matrix R with R @ v = v resized by linear interpolation (pixel-area
    aligned: output pixel i samples input position (i + 1/2) size_in / size_out - 1/2)."""
    position = (np.arange(size_out) + 0.5) * size_in / size_out - 0.5
    position = np.clip(position, 0, size_in - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    frac = (position - low).astype(np.float32)
    matrix = np.zeros((size_out, size_in), np.float32)
    np.add.at(matrix, (np.arange(size_out), low), 1 - frac)
    np.add.at(matrix, (np.arange(size_out), high), frac)
    return matrix


# ----- backgrounds (vectorised over all scenes) ------------------------------------------------
def _random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n, 3)).astype(np.float32)


def _backgrounds(rng: np.random.Generator, n: int, size: int):
    """(n, 3, size, size) textures and their two colours (n, 2, 3): colour A blended into colour B
    by low-frequency noise plus a stripe pattern of random angle and period."""
    colours = _random_colours(rng, 2 * n).reshape(n, 2, 3)
    coarse = rng.uniform(0, 1, size=(n, 5, 5)).astype(np.float32)
    resize = _bilinear_matrix(size, 5)
    noise = resize @ coarse @ resize.T  # smooth (n, size, size) noise
    angle = rng.uniform(0, np.pi, n)
    period = rng.uniform(size / 10, size / 3, n)
    mix = rng.uniform(0.2, 0.6, n).astype(np.float32)[:, None, None]
    # stripes: 1/2 + 1/2 sin(2 pi (x cos a + y sin a) / period), the phase separable in x and y
    steps = np.arange(size, dtype=np.float32)
    along_x = (2 * np.pi * np.cos(angle) / period).astype(np.float32)[:, None, None] * steps[None, None, :]
    along_y = (2 * np.pi * np.sin(angle) / period).astype(np.float32)[:, None, None] * steps[None, :, None]
    t = noise * (1 - mix) + (0.5 + 0.5 * np.sin(along_x + along_y)) * mix
    start = colours[:, 0, :, None, None]
    images = start + (colours[:, 1, :, None, None] - start) * t[:, None]
    return images, colours


def _digit_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A colour at least _MIN_COLOUR_DISTANCE from every background colour, i.e. from the segment
    between the two colours the texture blends (the farthest of 64 tries if none is that far)."""
    candidates = _random_colours(rng, 64)
    start, direction = background[0], background[1] - background[0]
    along = np.clip((candidates - start) @ direction / max(float(direction @ direction), 1e-12), 0, 1)
    distance = np.linalg.norm(candidates - (start + along[:, None] * direction), axis=1)
    good = np.flatnonzero(distance >= _MIN_COLOUR_DISTANCE)
    return candidates[good[0] if len(good) else int(np.argmax(distance))]


# ----- digits ---------------------------------------------------------------------------------
def _digit_mask(padded: np.ndarray, height: int, width: int) -> np.ndarray:
    """The (zero-framed) 8x8 digit upscaled (bilinear) so the 8 inner pixels span height x width,
    thresholded and cropped to its ink."""
    rows_in, cols_in = padded.shape
    big = _bilinear_matrix(round(rows_in * height / 8), rows_in) @ padded @ \
        _bilinear_matrix(round(cols_in * width / 8), cols_in).T
    mask = big > 0.4
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _grown(mask: np.ndarray) -> np.ndarray:
    """The mask with a 1-pixel frame, dilated by its 4-neighbours (the digit plus its margin)."""
    h, w = mask.shape
    out = np.zeros((h + 2, w + 2), bool)
    out[1:-1, 1:-1] = mask
    out[:-2, 1:-1] |= mask
    out[2:, 1:-1] |= mask
    out[1:-1, :-2] |= mask
    out[1:-1, 2:] |= mask
    return out


def _place(rng: np.random.Generator, grown: np.ndarray, border: np.ndarray, tries: int = 12):
    """A top-left corner where the ``grown`` digit touches no pixel occupied in ``border`` (the
    occupancy with a 1-pixel frame, so the margin may hang over the canvas edge), or None."""
    size = border.shape[0] - 2
    h, w = grown.shape[0] - 2, grown.shape[1] - 2
    if h > size or w > size:
        return None
    for _ in range(tries):
        y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        if not (border[y:y + h + 2, x:x + w + 2] & grown).any():
            return y, x
    return None


def _paint_scene(rng, image, mask_out, background, samples, digits, count, digit_size):
    """Paint ``count`` digits into one scene; return its instances dict."""
    size = mask_out.shape[0]
    boxes, labels, masks = [], [], []
    border = np.zeros((size + 2, size + 2), bool)
    for _ in range(count):
        index = int(rng.integers(len(samples)))
        height = int(rng.integers(digit_size[0], digit_size[1] + 1))
        width = max(4, int(round(height * rng.uniform(0.75, 1.1))))
        shape = _digit_mask(samples[index], height, width)
        corner = _place(rng, _grown(shape), border)
        if corner is None:
            continue
        y, x = corner
        h, w = shape.shape
        border[y + 1:y + h + 1, x + 1:x + w + 1] |= shape
        label = int(digits[index]) + 1
        full = np.zeros((size, size), bool)
        full[y:y + h, x:x + w] = shape
        mask_out[full] = label
        image[:, full] = _digit_colour(rng, background)[:, None]
        boxes.append((x, y, x + w, y + h))
        labels.append(label)
        masks.append(full)
    return {"boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "labels": np.array(labels, np.int64),
            "masks": np.array(masks, bool).reshape(-1, size, size)}


def make_digit_scenes(n: int, size: int = 64, split: str = "train", seed: int = 0,
                      digits_per_scene=(1, 4), digit_size=None, noise: float = 0.02):
    """Generate ``n`` scenes; returns (images (N,3,H,W) float32, masks (N,H,W) int64, instances).

    digits_per_scene: int or (low, high) inclusive, how many digits to try to place (a digit
    that finds no free spot after a few tries is left out). digit_size: (low, high) height in
    pixels, by default (size // 4, size // 2). noise: standard deviation of the pixel noise.
    """
    n = _check_int("n", n, 0)
    size = _check_int("size", size, 16)
    if split not in _SPLITS:
        raise ValueError(f"DigitScenes: split must be 'train' or 'val', got {split!r}")
    count_range = _check_range("digits_per_scene", digits_per_scene, 0, 64)
    digit_size = _check_range("digit_size", (max(6, size // 4), max(8, size // 2))
                              if digit_size is None else digit_size, 4, size)
    if not isinstance(noise, numbers.Real) or noise < 0:
        raise ValueError(f"DigitScenes: noise must be a number >= 0, got {noise!r}")
    samples, digits = digit_samples(split)
    samples = np.pad(samples, ((0, 0), (1, 1), (1, 1)))  # a blank frame: strokes end inside
    rng = np.random.default_rng([int(seed), _SPLITS.index(split)])
    images, colours = _backgrounds(rng, n, size)
    masks = np.zeros((n, size, size), np.int64)
    counts = rng.integers(count_range[0], count_range[1] + 1, size=n)
    instances = [_paint_scene(rng, images[i], masks[i], colours[i], samples, digits, counts[i], digit_size)
                 for i in range(n)]
    if noise > 0:
        images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(noise)
    np.clip(images, 0.0, 1.0, out=images)
    return images, masks, instances


class DigitScenes:
    """A generated data set of digit scenes (see the module docstring for the layout).

    ``scenes[i]`` is ``(image (3,H,W), mask (H,W))``; ``scenes.instances[i]`` the instance dict.
    """

    classes = CLASSES
    num_classes = NUM_CLASSES

    def __init__(self, n: int, size: int = 64, split: str = "train", seed: int = 0,
                 digits_per_scene=(1, 4), digit_size=None, noise: float = 0.02):
        self.size, self.split, self.seed = size, split, seed
        self.images, self.masks, self.instances = make_digit_scenes(
            n, size=size, split=split, seed=seed, digits_per_scene=digits_per_scene,
            digit_size=digit_size, noise=noise)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], self.masks[index]

    def __repr__(self) -> str:
        return f"DigitScenes(n={len(self)}, size={self.size}, split={self.split!r}, seed={self.seed})"

    def batches(self, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        """Yield (images, masks) ndarray batches; the order is a permutation fixed by ``seed``."""
        chosen_batches = batch_indices(len(self), batch_size, shuffle, seed, drop_last, "DigitScenes.batches")
        for chosen in chosen_batches:
            yield self.images[chosen], self.masks[chosen]


def batch_indices(n: int, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
                  op: str = "batch_indices"):
    """Yield the index arrays of consecutive batches of ``range(n)``, in the order of a permutation
    fixed by ``seed`` (or in order); ``drop_last`` leaves out a last batch shorter than batch_size.
    ``op`` names the caller in the error for a bad batch_size."""
    batch_size = _check_int("batch_size", batch_size, 1, op)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    stop = n - (n % batch_size if drop_last else 0)
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]
