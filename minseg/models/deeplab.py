"""DeepLab (Chen et al.): atrous convolution instead of downsampling, multi-scale context by ASPP.

- ``ResNetBackbone``: a small residual network (stem stride 4, then stages of basic blocks). For
  output stride 16 the last stage trades its stride for dilation 2; for output stride 8 the last
  two stages use dilations 2 and 4 (the receptive field grows, the resolution stays).
- ``ASPP``: parallel 1x1 conv, three 3x3 atrous convs (rates, doubled at output stride 8) and the
  image-level branch (global average pool -> 1x1 conv -> upsample), each with BN + ReLU,
  concatenated and projected by a 1x1 conv.
- ``DeepLabV3``: backbone -> ASPP -> 3x3 conv -> 1x1 classifier -> bilinear upsampling.
- ``DeepLabV3Plus``: ASPP (depthwise-separable atrous convs) at stride 16, upsampled by 4 and
  concatenated with a 1x1-reduced low-level (stride 4) feature map, two separable 3x3 convs, then
  the classifier and upsampling by 4.
- ``DeepLabLargeFOV``: v1's VGG-16 with pool4/pool5 at stride 1, conv5 dilated by 2, fc6 a 3x3
  convolution of dilation 12 (v1 'LargeFOV'); with ``aspp_rates`` the v2 ASPP-L head (one fc6-fc8
  branch per rate, scores summed). Output stride 8; the CRF lecture refines its scores.
"""
from __future__ import annotations

from . import blocks
from .backend import MINSEG, cached_build, namespace


@cached_build
def build(B):
    """DeepLab v1/v2/v3/v3+ on backend ``B``."""
    nn, F = B.nn, B.F
    parts = blocks.build(B)

    def conv_bn_relu(in_channels, out_channels, kernel_size=3, dilation=1, stride=1):
        """Conv2d (no bias; 'same' padding at stride 1) + BatchNorm2d + ReLU."""
        return parts.conv_layers(in_channels, out_channels, 1, kernel_size, dilation * (kernel_size // 2),
                                 dilation, batch_norm=True, stride=stride)

    def upsample(x, size):
        """Bilinear resize of x's last two axes to ``size`` (align_corners=False)."""
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)

    class BasicBlock(nn.Module):
        """ResNet's basic block: relu(x' + bn(conv(relu(bn(conv(x)))))), x' = x or a 1x1 projection."""

        def __init__(self, in_channels, out_channels, stride=1, dilation=1):
            super().__init__()
            self.conv1 = conv_bn_relu(in_channels, out_channels, 3, dilation, stride)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=dilation, dilation=dilation,
                                   bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.shortcut = nn.Identity()
            if stride != 1 or in_channels != out_channels:
                projection = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
                self.shortcut = nn.Sequential(projection, nn.BatchNorm2d(out_channels))

        def forward(self, x):
            return F.relu(self.shortcut(x) + self.bn2(self.conv2(self.conv1(x))))

    class ResNetBackbone(nn.Module):
        """Stem (conv stride 2 + max-pool 2) and four stages; returns (stride-4 features, last features)."""

        def __init__(self, in_channels=3, widths=(64, 128, 256, 512), blocks_per_stage=(2, 2, 2, 2),
                     output_stride=16):
            super().__init__()
            if output_stride not in (8, 16):
                raise ValueError(f"ResNetBackbone: output_stride must be 8 or 16, got {output_stride}")
            if len(widths) != 4 or len(blocks_per_stage) != 4:
                raise ValueError(f"ResNetBackbone: widths and blocks_per_stage need 4 entries (one per "
                                 f"stage), got {widths} and {blocks_per_stage}")
            if output_stride == 16:
                strides, dilations = (1, 2, 2, 1), (1, 1, 1, 2)
            else:
                strides, dilations = (1, 2, 1, 1), (1, 1, 2, 4)
            self.stem = conv_bn_relu(in_channels, widths[0], 3, stride=2)
            stages, channels = [], widths[0]
            for width, n, stride, dilation in zip(widths, blocks_per_stage, strides, dilations):
                rest = [BasicBlock(width, width, 1, dilation) for _ in range(n - 1)]
                stages.append(nn.Sequential(BasicBlock(channels, width, stride, dilation), *rest))
                channels = width
            self.stages = nn.ModuleList(stages)

        def forward(self, x):
            x = F.max_pool2d(self.stem(x), 2)
            low_level = x = self.stages[0](x)
            for stage in self.stages[1:]:
                x = stage(x)
            return low_level, x

    class ASPP(nn.Module):
        """Atrous spatial pyramid pooling with the image-level branch (DeepLabv3)."""

        def __init__(self, in_channels, out_channels=256, rates=(6, 12, 18), separable=False, dropout=0.1):
            super().__init__()
            atrous = [parts.SeparableConv(in_channels, out_channels, r) if separable
                      else conv_bn_relu(in_channels, out_channels, 3, r) for r in rates]
            self.branches = nn.ModuleList([conv_bn_relu(in_channels, out_channels, 1)] + atrous)
            self.image_pool = conv_bn_relu(in_channels, out_channels, 1)
            self.project = nn.Sequential(
                nn.Conv2d(out_channels * (len(rates) + 2), out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(dropout))

        def forward(self, x):
            pooled = self.image_pool(F.adaptive_avg_pool2d(x, 1))
            outputs = [branch(x) for branch in self.branches] + [upsample(pooled, x.shape[-2:])]
            return self.project(B.cat(outputs, 1))

    def scaled_rates(rates, output_stride):
        """ASPP rates given for output stride 16, scaled to ``output_stride`` (doubled at 8)."""
        return tuple(r * 16 // output_stride for r in rates)

    class DeepLabV3(nn.Module):
        """``DeepLabV3(num_classes, output_stride=16, rates=(6, 12, 18))``; rates are given for output
        stride 16 and doubled at 8, as in the paper."""

        def __init__(self, num_classes=11, in_channels=3, widths=(64, 128, 256, 512),
                     blocks_per_stage=(2, 2, 2, 2), output_stride=16, rates=(6, 12, 18), aspp_width=256,
                     dropout=0.1):
            super().__init__()
            self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths),
                               blocks_per_stage=tuple(blocks_per_stage), output_stride=output_stride,
                               rates=tuple(rates), aspp_width=aspp_width, dropout=dropout)
            self.backbone = ResNetBackbone(in_channels, widths, blocks_per_stage, output_stride)
            self.aspp = ASPP(widths[-1], aspp_width, scaled_rates(rates, output_stride), dropout=dropout)
            self.head = conv_bn_relu(aspp_width, aspp_width, 3)
            self.classifier = nn.Conv2d(aspp_width, num_classes, 1)

        def forward(self, x):
            _, features = self.backbone(x)
            return upsample(self.classifier(self.head(self.aspp(features))), x.shape[-2:])

    class DeepLabV3Plus(nn.Module):
        """``DeepLabV3Plus(num_classes)``: DeepLabv3's encoder (separable ASPP) + a decoder with a
        stride-4 low-level skip (reduced to ``low_level_width`` channels) and separable 3x3 convs."""

        def __init__(self, num_classes=11, in_channels=3, widths=(64, 128, 256, 512),
                     blocks_per_stage=(2, 2, 2, 2), output_stride=16, rates=(6, 12, 18), aspp_width=256,
                     low_level_width=48, dropout=0.1):
            super().__init__()
            self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths),
                               blocks_per_stage=tuple(blocks_per_stage), output_stride=output_stride,
                               rates=tuple(rates), aspp_width=aspp_width, low_level_width=low_level_width,
                               dropout=dropout)
            self.backbone = ResNetBackbone(in_channels, widths, blocks_per_stage, output_stride)
            self.aspp = ASPP(widths[-1], aspp_width, scaled_rates(rates, output_stride), separable=True,
                             dropout=dropout)
            self.reduce = conv_bn_relu(widths[0], low_level_width, 1)
            self.decoder = nn.Sequential(parts.SeparableConv(aspp_width + low_level_width, aspp_width),
                                         parts.SeparableConv(aspp_width, aspp_width))
            self.classifier = nn.Conv2d(aspp_width, num_classes, 1)

        def forward(self, x):
            low_level, features = self.backbone(x)
            context = upsample(self.aspp(features), low_level.shape[-2:])
            fused = self.decoder(B.cat([context, self.reduce(low_level)], 1))
            return upsample(self.classifier(fused), x.shape[-2:])

    class DeepLabLargeFOV(nn.Module):
        """DeepLab v1 (``fov_rate``: fc6's dilation, 12 = LargeFOV) or, with ``aspp_rates`` such as
        (6, 12, 18, 24), v2's ASPP-L: parallel fc6-fc7-fc8 branches whose scores are summed."""

        def __init__(self, num_classes=11, in_channels=3, widths=(64, 128, 256, 512, 512),
                     convs=(2, 2, 3, 3, 3), fc_width=1024, fov_rate=12, aspp_rates=None, dropout=0.5,
                     batch_norm=False):
            super().__init__()
            self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths),
                               convs=tuple(convs), fc_width=fc_width, fov_rate=fov_rate,
                               aspp_rates=None if aspp_rates is None else tuple(aspp_rates), dropout=dropout,
                               batch_norm=batch_norm)
            stages = len(widths)
            pools = [(3, 2, 1)] * (stages - 2) + [(3, 1, 1)] * 2
            self.backbone = parts.VGGBackbone(in_channels, widths, convs, pools, [1] * (stages - 1) + [2],
                                              batch_norm=batch_norm)
            self.output_stride = 2 ** (stages - 2)
            self.branches = nn.ModuleList([
                nn.Sequential(nn.Conv2d(widths[-1], fc_width, 3, padding=rate, dilation=rate), nn.ReLU(),
                              nn.Dropout(dropout), nn.Conv2d(fc_width, fc_width, 1), nn.ReLU(),
                              nn.Dropout(dropout), nn.Conv2d(fc_width, num_classes, 1))
                for rate in (aspp_rates or (fov_rate,))])

        def forward(self, x):
            features = self.backbone(x)[-1]
            scores = self.branches[0](features)
            for branch in self.branches[1:]:
                scores = scores + branch(features)
            return upsample(scores, x.shape[-2:])

    return namespace(ResNetBackbone=ResNetBackbone, ASPP=ASPP, DeepLabV3=DeepLabV3,
                     DeepLabV3Plus=DeepLabV3Plus, DeepLabLargeFOV=DeepLabLargeFOV)


_MODELS = build(MINSEG)
ResNetBackbone, ASPP = _MODELS.ResNetBackbone, _MODELS.ASPP
DeepLabV3, DeepLabV3Plus, DeepLabLargeFOV = _MODELS.DeepLabV3, _MODELS.DeepLabV3Plus, _MODELS.DeepLabLargeFOV
