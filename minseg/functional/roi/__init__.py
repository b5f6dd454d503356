"""RoIPool and RoIAlign (Fast / Mask R-CNN), equal to torchvision.ops.

- ``ops.py``: the public ops and their Functions (gradient to the feature map);
- ``geometry.py``: argument checks and the box -> bins -> samples arithmetic, as torchvision does it
  (also ``roi_align_sampling_points``, for the lecture's widget);
- ``reference.py``: the plain loops, ``<op>_reference`` / ``<op>_reference_backward``;
- ``kernels.py``: the Numba gather (forward) and scatter (backward) kernels.
"""
from .geometry import roi_align_sampling_points
from .ops import roi_align, roi_pool
from .reference import (roi_align_reference, roi_align_reference_backward, roi_pool_reference,
                        roi_pool_reference_backward)

__all__ = ["roi_pool", "roi_align", "roi_align_reference", "roi_align_reference_backward", "roi_pool_reference",
           "roi_pool_reference_backward"]
