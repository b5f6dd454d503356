"""Dense (fully connected) CRF: energy, exact minimisation on toy grids, mean-field inference.

    crf = ms.crf.DenseCRF(w1=10.0, theta_alpha=80.0, theta_beta=13.0, w2=3.0, theta_gamma=3.0)
    crf.energy(labels, unary, image, distance='euclidean')        # exact, O(N^2)
    crf.minimize_exact(unary, image)                              # all K^N labelings, tiny grids
    q = crf.mean_field(unary, image, n_iter=5, method='permutohedral')   # (K, H, W)
    labels, history = crf.predict(unary, image, n_iter=5, return_history=True)
    ms.crf.demo()                                                 # a photo, a blocky unary, sharpened
"""
from .demo import coarse_unary, demo, load_photo
from .model import DenseCRF, softmax_labels, unary_from_probabilities

__all__ = ["DenseCRF", "unary_from_probabilities", "softmax_labels", "coarse_unary", "demo", "load_photo"]
