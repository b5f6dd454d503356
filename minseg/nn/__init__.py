"""Layers and containers with torch.nn's names (Module, Parameter, Sequential, Linear, Conv2d, ...)."""
from .module import Module, ModuleList, Parameter, Sequential  # noqa: F401
from .layers import BatchNorm2d, Dropout, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Tanh  # noqa: F401
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .transformer import GELU, LayerNorm, MultiheadAttention, TransformerEncoderLayer  # noqa: F401
