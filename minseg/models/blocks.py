"""Building blocks shared by the architectures: conv + (batch norm) + ReLU stacks, the VGG-style
backbone of FCN and DeepLab-LargeFOV, depthwise-separable convolution, centre cropping."""
from __future__ import annotations

from .backend import cached_build, namespace


def center_crop(x, size):
    """The centre ``size`` = (h, w) window of the last two axes of a tensor or ndarray (U-Net crops
    encoder maps before concatenation, and the labels to its smaller output)."""
    h, w = size
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    if top < 0 or left < 0:
        raise ValueError(f"center_crop: size {tuple(size)} is larger than the input's {tuple(x.shape[-2:])}")
    if (h, w) == tuple(x.shape[-2:]):
        return x  # padded U-Nets: nothing to crop (and no copy, no indexing node in the graph)
    return x[..., top:top + h, left:left + w]


@cached_build
def build(B):
    """The blocks on backend ``B``."""
    nn, F = B.nn, B.F

    def conv_layers(in_channels, out_channels, n=1, kernel_size=3, padding=1, dilation=1, batch_norm=False,
                    stride=1):
        """[Conv2d, (BatchNorm2d), ReLU] * n; the first convolution maps in_channels -> out_channels
        (with ``stride``; the others have stride 1)."""
        layers = []
        for i in range(n):
            layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, kernel_size,
                                    stride=stride if i == 0 else 1, padding=padding, dilation=dilation,
                                    bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    class VGGBackbone(nn.Module):
        """Stages of 3x3 convolutions + ReLU, each followed by max-pooling (VGG-16 by default).

        pools: one (kernel, stride, padding) per stage (VGG: (2, 2, 0); DeepLab-LargeFOV keeps
        resolution in the last stages with (3, 1, 1)); dilations: one per stage; batch_norm adds
        BatchNorm2d after every convolution (VGG-16-BN; much faster to train from scratch). ``forward``
        returns every stage's pooled output (pool1 ... pool5), from which FCN takes its skips.
        """

        def __init__(self, in_channels=3, widths=(64, 128, 256, 512, 512), convs=(2, 2, 3, 3, 3),
                     pools=None, dilations=None, batch_norm=False):
            super().__init__()
            if len(widths) != len(convs):
                raise ValueError(f"VGGBackbone: widths and convs need one entry per stage, "
                                 f"got {widths} and {convs}")
            self.pools = list(pools or [(2, 2, 0)] * len(widths))
            dilations = dilations or [1] * len(widths)
            inputs = (in_channels,) + tuple(widths[:-1])
            self.stages = nn.ModuleList([conv_layers(c_in, c_out, n, padding=d, dilation=d,
                                                     batch_norm=batch_norm)
                                         for c_in, c_out, n, d in zip(inputs, widths, convs, dilations)])

        def forward(self, x):
            features = []
            for stage, (kernel, stride, padding) in zip(self.stages, self.pools):
                x = F.max_pool2d(stage(x), kernel, stride, padding)
                features.append(x)
            return features

    class SeparableConv(nn.Sequential):
        """Depthwise (groups = channels, dilated) 3x3 conv + BN + ReLU, then pointwise 1x1 conv + BN + ReLU
        (DeepLabv3+'s atrous separable convolution)."""

        def __init__(self, in_channels, out_channels, dilation=1):
            super().__init__(nn.Conv2d(in_channels, in_channels, 3, padding=dilation, dilation=dilation,
                                       groups=in_channels, bias=False),
                             nn.BatchNorm2d(in_channels), nn.ReLU(),
                             nn.Conv2d(in_channels, out_channels, 1, bias=False),
                             nn.BatchNorm2d(out_channels), nn.ReLU())

    return namespace(conv_layers=conv_layers, VGGBackbone=VGGBackbone, SeparableConv=SeparableConv)
