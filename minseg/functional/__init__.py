"""The ``torch.nn.functional``-shaped API: Tensor in, Tensor out, torch's argument names.

One folder per op family with the same files in each (see minseg/README.md): ``conv/``, ``pool/``,
``interpolate/``, ``roi/``, ``loss/`` hold ``ops.py`` (the public ops and their Functions),
``geometry.py`` or ``checks.py`` (argument checks, output sizes), ``reference.py`` (the plain loops,
exported here as ``<op>_reference``) and ``kernels.py`` (Numba). Single-file families stay flat:
``activation.py``, ``pad.py``, ``norm.py`` (batch_norm, dropout). ``checks.py`` holds the argument
checks all families share. Tensor arithmetic itself lives in :mod:`minseg.ops`.
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
