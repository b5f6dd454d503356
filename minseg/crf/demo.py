"""The CRF on a real photograph: a coarse, blocky unary (as from a low-resolution network output,
upsampled) sharpened along the photo's edges by mean-field. Photos come with scikit-image, offline."""
from __future__ import annotations

import numpy as np

from . import _checks as C
from .model import DenseCRF, unary_from_probabilities

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


def load_photo(name: str = "chelsea") -> np.ndarray:
    """A scikit-image sample photo (H, W, 3) uint8; these ship with the package (no download)."""
    import skimage.data

    C.check_choice("load_photo", "name", name, PHOTOS)
    return getattr(skimage.data, name)()


def _kmeans(points: np.ndarray, k: int, seed: int, n_iter: int = 20) -> np.ndarray:
    """k colour centres by Lloyd's algorithm from a seeded random start."""
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(len(points), size=k, replace=False)].copy()
    for _ in range(n_iter):
        nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for label in range(k):
            if np.any(nearest == label):
                centres[label] = points[nearest == label].mean(axis=0)
    return centres


def _nearest(image: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((image[..., None, :] - centres) ** 2).sum(-1), axis=-1)


def coarse_unary(image, num_labels: int = 3, factor: int = 16, confidence: float = 0.6, seed: int = 0):
    """A blocky unary for ``image`` (H, W, C): (unary (K, H, W), coarse labels (H, W), centres (K, C)).

    A stand-in for a low-resolution prediction: the photo is averaged over factor x factor blocks,
    the blocks' colours are clustered (k-means, seeded) into ``num_labels`` classes, and each block's
    class is copied back to all its pixels (nearest upsampling). The unary is -ln P with P =
    ``confidence`` on the block's class and the rest shared by the others.
    """
    image = C.check_guide_image("coarse_unary", image)
    if not 0 < confidence < 1 or num_labels < 2 or factor < 1:
        raise ValueError("coarse_unary: need 0 < confidence < 1, num_labels >= 2 and factor >= 1, got "
                         f"{confidence!r}, {num_labels!r}, {factor!r}")
    h, w, c = image.shape
    bh, bw = -(-h // factor), -(-w // factor)
    padded = np.pad(image, ((0, bh * factor - h), (0, bw * factor - w), (0, 0)), mode="edge")
    blocks = padded.reshape(bh, factor, bw, factor, c).mean(axis=(1, 3))
    centres = _kmeans(blocks.reshape(-1, c), num_labels, seed)
    low = _nearest(blocks, centres)
    coarse = np.repeat(np.repeat(low, factor, axis=0), factor, axis=1)[:h, :w]
    prob = np.full((num_labels, h, w), (1 - confidence) / (num_labels - 1))
    np.put_along_axis(prob, coarse[None], confidence, axis=0)
    return unary_from_probabilities(prob), coarse, centres


def demo(photo: str = "chelsea", num_labels: int = 3, factor: int = 16, n_iter: int = 5,
         crf: DenseCRF | None = None, method: str = "permutohedral", downscale: int = 1, seed: int = 0):
    """Run the CRF on a sample photo; returns a dict for plotting.

    Keys: image, unary, coarse (labels before the CRF), refined (after), history (Q per step),
    reference (each pixel's nearest colour centre at full resolution: where the colour edges are),
    and agreement_before / agreement_after: the fraction of pixels agreeing with ``reference``.
    The default CRF is pydensecrf's usual setting (w1=10, θα=80, θβ=13, w2=3, θγ=3) with symmetric
    normalisation.
    """
    image = load_photo(photo)[::downscale, ::downscale].astype(np.float64)
    crf = crf or DenseCRF(10.0, 80.0, 13.0, 3.0, 3.0, normalization="symmetric")
    unary, coarse, centres = coarse_unary(image, num_labels, factor, seed=seed)
    refined, history = crf.predict(unary, image, n_iter=n_iter, method=method, return_history=True)
    reference = _nearest(image, centres)
    return {"image": image.astype(np.uint8), "unary": unary, "coarse": coarse, "refined": refined,
            "history": history, "reference": reference,
            "agreement_before": float(np.mean(coarse == reference)),
            "agreement_after": float(np.mean(refined == reference))}
