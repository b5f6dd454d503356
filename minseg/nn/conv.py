"""Convolution layers with torch.nn's names, arguments and default initialisation.

``Conv2d`` and ``ConvTranspose2d`` draw their weight from kaiming_uniform(a=sqrt(5)), i.e.
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * kH * kW, and their bias from the
same range, as torch does. ``bilinear_init_`` turns a transposed convolution into bilinear
upsampling, the initialisation FCN uses for its learnable upsampling layers.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ..functional.checks import pair
from ..functional.conv.geometry import check_output_padding, output_padding_for, resolve_padding
from . import init
from .module import Module, Parameter

__all__ = ["Conv2d", "ConvTranspose2d", "bilinear_kernel", "bilinear_weight", "bilinear_init_"]

PADDING_MODES = ("zeros", "reflect", "replicate")


def _check_channels(layer: str, in_channels: int, out_channels: int, groups: int) -> None:
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                         f"divisible by groups ({groups})")


class Conv2d(Module):
    """2-D convolution layer: weight (out_channels, in_channels/groups, kH, kW), bias (out_channels,).

    padding: int, pair, 'same' or 'valid'; padding_mode: 'zeros', 'reflect' or 'replicate'
    (the latter two pad with F.pad first, as torch does).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros"):
        super().__init__()
        _check_channels("Conv2d", in_channels, out_channels, groups)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size, minimum=1)
        self.stride = pair("Conv2d", "stride", stride, minimum=1)
        self.dilation = pair("Conv2d", "dilation", dilation, minimum=1)
        self.padding = padding if isinstance(padding, str) else pair("Conv2d", "padding", padding, minimum=0)
        self._pads = resolve_padding("Conv2d", self.padding, self.kernel_size, self.stride, self.dilation)
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(init.kaiming_uniform(shape))
        self.bias = Parameter(init.default_bias(out_channels, shape)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            (top, bottom), (left, right) = self._pads
            x = F.pad(x, (left, right, top, bottom), mode=self.padding_mode)
            padding = 0
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return _describe(self, dilation=(1, 1), groups=1, padding_mode="zeros")


class ConvTranspose2d(Module):
    """Transposed convolution layer: weight (in_channels, out_channels/groups, kH, kW).

    ``forward(x, output_size=None)``: an explicit (H, W) output size picks the output_padding,
    as in torch (useful when a decoder must match an encoder's odd-sized feature map).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros"):
        super().__init__()
        _check_channels("ConvTranspose2d", in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair("ConvTranspose2d", "kernel_size", kernel_size, minimum=1)
        self.stride = pair("ConvTranspose2d", "stride", stride, minimum=1)
        self.padding = pair("ConvTranspose2d", "padding", padding, minimum=0)
        self.output_padding = pair("ConvTranspose2d", "output_padding", output_padding, minimum=0)
        self.dilation = pair("ConvTranspose2d", "dilation", dilation, minimum=1)
        self.padding_mode = padding_mode
        check_output_padding("ConvTranspose2d", self.output_padding, self.stride, self.dilation)
        shape = (in_channels, out_channels // groups) + self.kernel_size
        self.weight = Parameter(init.kaiming_uniform(shape))
        self.bias = Parameter(init.default_bias(out_channels, shape)) if bias else None

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = output_padding_for("ConvTranspose2d", x.shape[-2:], self.kernel_size, self.stride,
                                                self.padding, self.dilation, output_size)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def extra_repr(self) -> str:
        return _describe(self, output_padding=(0, 0), groups=1, dilation=(1, 1))


def _describe(layer, **defaults) -> str:
    """torch-style repr arguments: channels, kernel and stride, then what differs from ``defaults``."""
    text = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={layer.stride}"
    for name, default in {"padding": (0, 0), **defaults}.items():
        if getattr(layer, name) != default:
            text += f", {name}={getattr(layer, name)}"
    return text + (", bias=False" if layer.bias is None else "")


def bilinear_kernel(kernel_size: int) -> np.ndarray:
    """The (k, k) bilinear interpolation filter FCN initialises its upsampling with.

    Taps fall off linearly from the centre: f(u) = 1 - |u - centre| / factor with
    factor = ceil(k / 2) and centre = factor - 1 (k odd) or factor - 0.5 (k even); the kernel
    is the outer product f(u) f(v). With k = 2s and padding s/2 a stride-s transposed
    convolution then equals bilinear upsampling by s away from the borders.
    """
    k = pair("bilinear_kernel", "kernel_size", kernel_size, minimum=1)
    if k[0] != k[1]:
        raise ValueError(f"bilinear_kernel: kernel_size must be square, got {kernel_size!r}")
    factor = (k[0] + 1) // 2
    centre = factor - 1 if k[0] % 2 == 1 else factor - 0.5
    taps = 1 - np.abs(np.arange(k[0]) - centre) / factor
    return np.outer(taps, taps)


def bilinear_weight(shape, kernel_size) -> np.ndarray:
    """A transposed-convolution weight of ``shape`` (in, out/groups, k, k) in which input channel c
    feeds only output channel c (modulo the group size), through ``bilinear_kernel``."""
    weight = np.zeros(tuple(shape), np.float32)
    kernel = bilinear_kernel(kernel_size)
    for c in range(weight.shape[0]):
        weight[c, c % weight.shape[1]] = kernel
    return weight


def bilinear_init_(layer: ConvTranspose2d) -> ConvTranspose2d:
    """Set a ConvTranspose2d (in_channels == out_channels) to per-channel bilinear upsampling:
    channel c feeds only output channel c, through bilinear_kernel; the bias becomes 0."""
    if not isinstance(layer, ConvTranspose2d):
        raise TypeError(f"bilinear_init_: layer must be a ConvTranspose2d, got {type(layer).__name__}")
    if layer.in_channels != layer.out_channels:
        raise ValueError(f"bilinear_init_: needs in_channels == out_channels, got {layer.in_channels} "
                         f"and {layer.out_channels}")
    layer.weight.data = bilinear_weight(layer.weight.shape, layer.kernel_size).astype(layer.weight.dtype)
    if layer.bias is not None:
        layer.bias.data = np.zeros_like(layer.bias.data)
    return layer
