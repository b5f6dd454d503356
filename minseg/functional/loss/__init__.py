"""Losses for segmentation: cross-entropy (class weights, ignore_index), binary cross-entropy with
logits, the soft Dice / Jaccard losses, and U-Net's border weight map.

- ``ops.py``: cross_entropy and binary_cross_entropy_with_logits with their Functions;
- ``overlap.py``: dice_loss and jaccard_loss; ``weight_map.py``: unet_weight_map;
- ``checks.py``: the argument checks (logits, class-index targets, reductions, class weights);
- ``reference.py``: the plain loops, ``<op>_reference`` with the op's own signature.
- ``kernels.py``: Numba kernels: the passes over the class axis (softmax, log_softmax, cross_entropy,
  the Dice / Jaccard backward) and BCE with logits' one pass.
"""
from .ops import binary_cross_entropy_with_logits, cross_entropy
from .overlap import dice_loss, jaccard_loss
from .reference import (binary_cross_entropy_with_logits_reference, cross_entropy_reference, dice_loss_reference,
                        jaccard_loss_reference, unet_weight_map_reference)
from .weight_map import unet_weight_map

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "dice_loss", "jaccard_loss", "unet_weight_map",
           "cross_entropy_reference", "binary_cross_entropy_with_logits_reference", "dice_loss_reference",
           "jaccard_loss_reference", "unet_weight_map_reference"]
