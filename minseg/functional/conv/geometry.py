"""Argument checks and output-size arithmetic shared by the convolution family.

Output size of a convolution along one axis (the slides' formula, dilation included):

    out = floor((in + pad_before + pad_after - dilation * (kernel - 1) - 1) / stride) + 1

and of a transposed convolution (the inverse map, plus ``output_padding`` extra rows at the end):

    out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
"""
from __future__ import annotations

from typing import NamedTuple

import numbers

from ..checks import check_float_pair, check_image, check_tensor, pair


class Geometry(NamedTuple):
    """Where a convolution's windows sit: kernel, stride, leading padding, dilation, the output
    grid (oh, ow) and the image it reads (height, width). Trailing padding is implied by oh, ow."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    oh: int
    ow: int
    height: int
    width: int

    def kernel_args(self) -> tuple:
        """The scalar arguments of the kernels in :mod:`.kernels` (im2col, col2im, depthwise), in their
        order: kernel, stride, leading padding, dilation, output grid (numba takes scalars, not this)."""
        return (self.kh, self.kw, self.sh, self.sw, self.ph, self.pw, self.dh, self.dw, self.oh, self.ow)


def conv_out_size(size: int, kernel: int, stride: int, before: int, after: int, dilation: int) -> int:
    """floor((size + before + after - dilation * (kernel - 1) - 1) / stride) + 1."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def transpose_out_size(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                       dilation: int) -> int:
    """(size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def resolve_padding(op: str, padding, kernel, stride, dilation) -> tuple:
    """Padding as ((top, bottom), (left, right)) from an int, a pair, 'valid' or 'same'.

    'same' pads dilation * (kernel - 1) in total per axis, the odd one at the end (as torch), and
    exists only for stride 1 (otherwise no padding keeps the size).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a pair of ints, 'same' or 'valid', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1 (it is not defined for strided "
                             f"convolutions), got stride {stride}")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    ph, pw = pair(op, "padding", padding, minimum=0)
    return (ph, ph), (pw, pw)


def conv_geometry(op: str, image_size, kernel, stride, padding, dilation) -> Geometry:
    """Check kernel/stride/padding/dilation and compute the output grid of a convolution over
    an image of ``image_size`` (H, W). ``padding`` is anything resolve_padding accepts."""
    kernel = pair(op, "kernel_size", kernel, minimum=1)
    stride = pair(op, "stride", stride, minimum=1)
    dilation = pair(op, "dilation", dilation, minimum=1)
    (top, bottom), (left, right) = resolve_padding(op, padding, kernel, stride, dilation)
    height, width = image_size
    oh = conv_out_size(height, kernel[0], stride[0], top, bottom, dilation[0])
    ow = conv_out_size(width, kernel[1], stride[1], left, right, dilation[1])
    if oh < 1 or ow < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        padded = (height + top + bottom, width + left + right)
        raise ValueError(f"{op}: kernel_size {kernel} with dilation {dilation} spans {span}, larger than "
                         f"the padded input {padded} (input {(height, width)}, padding {padding!r})")
    return Geometry(kernel[0], kernel[1], stride[0], stride[1], top, left, dilation[0], dilation[1],
                    oh, ow, height, width)


def transpose_geometry(op: str, input_size, kernel, stride, padding, output_padding, dilation,
                       output_size=None) -> Geometry:
    """The geometry of the convolution that a transposed convolution inverts.

    The transposed convolution of an (H, W) input writes an (Hout, Wout) image; the matching
    convolution reads that image and has the (H, W) grid as its output. ``output_size`` (an
    (Hout, Wout) pair) may replace ``output_padding``, as in torch's ConvTranspose2d.forward.
    """
    kernel = pair(op, "kernel_size", kernel, minimum=1)
    stride = pair(op, "stride", stride, minimum=1)
    dilation = pair(op, "dilation", dilation, minimum=1)
    padding = pair(op, "padding", padding, minimum=0)
    extra = pair(op, "output_padding", output_padding, minimum=0)
    if output_size is not None:
        extra = output_padding_for(op, input_size, kernel, stride, padding, dilation, output_size)
    check_output_padding(op, extra, stride, dilation)
    out = [transpose_out_size(n, k, s, p, e, d)
           for n, k, s, p, e, d in zip(input_size, kernel, stride, padding, extra, dilation)]
    if min(out) < 1:
        raise ValueError(f"{op}: padding {padding} is too large: the output size would be {tuple(out)}")
    return Geometry(kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
                    dilation[0], dilation[1], input_size[0], input_size[1], out[0], out[1])


def check_output_padding(op: str, output_padding: tuple, stride: tuple, dilation: tuple) -> None:
    """torch's rule: per axis, output_padding must be smaller than the stride or the dilation."""
    for e, s, d in zip(output_padding, stride, dilation):
        if e >= s and e >= d:
            raise ValueError(f"{op}: output_padding must be smaller than stride or dilation, got "
                             f"output_padding {output_padding}, stride {stride}, dilation {dilation}")


def output_padding_for(op, input_size, kernel, stride, padding, dilation, output_size) -> tuple:
    """The output_padding that makes a transposed convolution produce ``output_size``."""
    size = pair(op, "output_size", tuple(output_size)[-2:], minimum=1)
    extra = []
    for want, n, k, s, p, d in zip(size, input_size, kernel, stride, padding, dilation):
        smallest = transpose_out_size(n, k, s, p, 0, d)
        if not smallest <= want < smallest + s:
            raise ValueError(f"{op}: output_size {size} is not reachable: each side must lie in "
                             f"[{smallest}, {smallest + s - 1}] for this input")
        extra.append(want - smallest)
    return tuple(extra)


def _no_channels(x, w, transposed: bool) -> bool:
    """conv2d of an input with no channels by a (out >= 1, 0, kH, kW) weight: torch accepts it."""
    return not transposed and x.shape[-3] == 0 and w.shape[1] == 0 and min(w.shape[0], *w.shape[2:]) > 0


def check_conv_inputs(op: str, input, weight, bias, groups, transposed: bool = False):
    """Check a (transposed) convolution's tensors; return (input, weight, bias, out_channels).

    Convolution weight: (out, in/groups, kH, kW). Transposed weight: (in, out/groups, kH, kW).
    The input may be batched (N, C, H, W) or a single image (C, H, W), as in torch.
    """
    x = check_image(op, input)
    layout = "(in, out/groups, kH, kW)" if transposed else "(out, in/groups, kH, kW)"
    w = check_tensor(op, "weight", weight, 4, layout)
    if w.size == 0 and not _no_channels(x, w, transposed):
        raise ValueError(f"{op}: weight must not be empty (torch rejects it too), got shape {w.shape}")
    check_float_pair(op, x, w, "weight")
    if not isinstance(groups, (numbers.Integral,)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    channels = x.shape[-3]
    if channels % groups:
        raise ValueError(f"{op}: input channels ({channels}) must be divisible by groups ({groups})")
    if transposed:
        if w.shape[0] != channels:
            raise ValueError(f"{op}: weight must be {layout} with in = {channels} input channels, "
                             f"got shape {w.shape}")
        out_channels = w.shape[1] * groups
    else:
        out_channels = w.shape[0]
        if out_channels % groups:
            raise ValueError(f"{op}: weight's out channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        if w.shape[1] * groups != channels:
            raise ValueError(f"{op}: weight {layout} of shape {w.shape} expects {w.shape[1] * groups} "
                             f"input channels with groups={groups}, input has {channels}")
    b = None
    if bias is not None:
        b = check_tensor(op, "bias", bias, 1, f"({out_channels},)")
        if b.shape[0] != out_channels:
            raise ValueError(f"{op}: bias must have shape ({out_channels},), got {b.shape}")
        check_float_pair(op, x, b, "bias")
    return x, w, b, out_channels


def unfold_geometry(op: str, shape, kernel_size, dilation, padding, stride) -> Geometry:
    """unfold's windows over an input of ``shape`` (..., H, W); padding is an int or a pair."""
    return conv_geometry(op, shape[-2:], kernel_size, stride, pair(op, "padding", padding), dilation)


def fold_geometry(op: str, shape, output_size, kernel_size, dilation, padding, stride) -> tuple[Geometry, int]:
    """fold's windows over an image of ``output_size`` and its channel count, for columns of ``shape``
    (N, C*kH*kW, L) or (C*kH*kW, L); L must be the number of windows."""
    if len(shape) not in (2, 3):
        raise ValueError(f"{op}: input must be 3-D (N, C*kH*kW, L) or 2-D (C*kH*kW, L), got shape {tuple(shape)}")
    kh, kw = pair(op, "kernel_size", kernel_size, minimum=1)
    if shape[-2] % (kh * kw):
        raise ValueError(f"{op}: input's dim {len(shape) - 2} ({shape[-2]}) must be divisible by "
                         f"kernel_size product {kh * kw} (it is C*kH*kW)")
    size = pair(op, "output_size", output_size, minimum=1)
    geom = conv_geometry(op, size, (kh, kw), stride, pair(op, "padding", padding), dilation)
    if shape[-1] != geom.oh * geom.ow:
        raise ValueError(f"{op}: input has {shape[-1]} columns but output_size {size} with these "
                         f"kernel/stride/padding/dilation gives {geom.oh}x{geom.ow} = {geom.oh * geom.ow} windows")
    return geom, shape[-2] // (kh * kw)
