"""The ``torch.nn.functional``-shaped API: Tensor in, Tensor out, torch's argument names.

One file per family (see DESIGN.md): activation, pad, norm (batch_norm, dropout), conv, pool,
interpolate, roi, loss. Tensor arithmetic itself lives in :mod:`minseg.ops`.
"""
from ..ops import cat, clamp, stack, where  # noqa: F401 - re-exported for torch-like use
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from .norm import batch_norm, dropout  # noqa: F401
from .pad import pad  # noqa: F401
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .interpolate import *  # noqa: F401,F403
from .roi import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .layer_norm import gelu, layer_norm  # noqa: F401
from .attention import scaled_dot_product_attention  # noqa: F401
