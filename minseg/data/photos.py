"""Sample photographs that ship with scikit-image (no download), as (3, H, W) float32 in [0, 1]."""
from __future__ import annotations

import numpy as np

__all__ = ["SAMPLE_PHOTOS", "sample_photo"]

# images stored inside the scikit-image wheel itself (others in skimage.data need a download)
SAMPLE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "moon", "page",
                 "horse", "text", "brick", "grass", "gravel", "hubble_deep_field", "retina",
                 "immunohistochemistry", "motorcycle")


def _load(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0]
    return getattr(data, name)()


def sample_photo(name: str = "astronaut", size=None) -> np.ndarray:
    """The photo ``name`` (one of SAMPLE_PHOTOS) as (3, H, W) float32 in [0, 1]; grey photos get
    three equal channels. ``size`` (int or (H, W)) resizes it with bilinear interpolation."""
    if name not in SAMPLE_PHOTOS:
        raise ValueError(f"sample_photo: name must be one of {', '.join(SAMPLE_PHOTOS)}; got {name!r}")
    photo = np.asarray(_load(name))
    if photo.dtype == bool:
        photo = photo.astype(np.float32)
    elif photo.dtype.kind in "ui":
        photo = photo / float(np.iinfo(photo.dtype).max)
    photo = photo.astype(np.float32)
    if photo.ndim == 2:
        photo = np.repeat(photo[..., None], 3, axis=2)
    photo = np.ascontiguousarray(photo[..., :3].transpose(2, 0, 1))
    if size is not None:
        photo = _resize(photo, size)
    return photo


def _resize(photo: np.ndarray, size) -> np.ndarray:
    from scipy import ndimage

    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(int(s) >= 1 for s in size)):
        raise ValueError(f"sample_photo: size must be an int or a pair (H, W) of ints >= 1, got {size!r}")
    factors = (1, size[0] / photo.shape[1], size[1] / photo.shape[2])
    out = ndimage.zoom(photo, factors, order=1, grid_mode=True, mode="nearest")
    return np.clip(out, 0.0, 1.0).astype(np.float32)
