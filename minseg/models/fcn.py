"""FCN (Long, Shelhamer & Darrell): a VGG classifier made fully convolutional, with skip heads.

- the backbone's five stages each halve the resolution (pool1 ... pool5, stride 32);
- the classifier becomes convolutions: fc6 (k x k), fc7 (1 x 1), score_fr (1 x 1 -> class scores);
- FCN-32s upsamples the stride-32 scores by 32 in one transposed convolution;
- FCN-16s upsamples them by 2, adds scores predicted from pool4 (score_pool4) and upsamples by 16;
- FCN-8s repeats that step once more with pool3 (score_pool3) and upsamples by 8.

Every upsampling layer is a ConvTranspose2d(k = 2s, stride s, padding s/2) initialised as bilinear
interpolation (and learned afterwards); the skip score layers start at zero, so at initialisation
16s and 8s predict exactly what 32s does and training only adds detail. Module names follow the
Caffe reference (score_fr, upscore2, score_pool4, ...). Inputs must be divisible by 2^stages.
"""
from __future__ import annotations

import numpy as np

from . import blocks
from .backend import MINSEG, cached_build, namespace

VARIANTS = ("32s", "16s", "8s")


@cached_build
def build(B):
    """FCN on backend ``B``."""
    nn, F = B.nn, B.F
    parts = blocks.build(B)

    def upsampler(channels, factor):
        """A stride-``factor`` ConvTranspose2d per channel, initialised to bilinear upsampling."""
        layer = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2,
                                   bias=False)
        return B.bilinear_init_(layer)

    def score_layer(in_channels, num_classes):
        """A 1x1 scoring conv starting at zero (a new skip adds nothing until it has learned)."""
        layer = nn.Conv2d(in_channels, num_classes, 1)
        for p in (layer.weight, layer.bias):
            B.assign(p, np.zeros(tuple(p.shape), np.float32))
        return layer

    class FCN(nn.Module):
        """FCN-32s / 16s / 8s: ``FCN(num_classes, variant='8s')``; narrow ``widths`` and ``fc_width``
        make it trainable on a CPU (VGG-16 is widths (64, 128, 256, 512, 512), fc_width 4096, fc_kernel 7);
        batch_norm=True uses a VGG-16-BN backbone."""

        def __init__(self, num_classes=11, in_channels=3, variant="8s", widths=(64, 128, 256, 512, 512),
                     convs=(2, 2, 3, 3, 3), fc_width=4096, fc_kernel=7, dropout=0.5, batch_norm=False):
            super().__init__()
            if variant not in VARIANTS:
                raise ValueError(f"FCN: variant must be one of {VARIANTS}, got {variant!r}")
            if len(widths) < 3:
                raise ValueError(f"FCN: needs at least 3 backbone stages (pool3 is a skip), "
                                 f"got widths {widths}")
            self.config = dict(num_classes=num_classes, in_channels=in_channels, variant=variant,
                               widths=tuple(widths), convs=tuple(convs), fc_width=fc_width,
                               fc_kernel=fc_kernel, dropout=dropout, batch_norm=batch_norm)
            self.variant, self.stride = variant, 2 ** len(widths)
            self.backbone = parts.VGGBackbone(in_channels, widths, convs, batch_norm=batch_norm)
            self.fc6 = nn.Sequential(nn.Conv2d(widths[-1], fc_width, fc_kernel, padding=fc_kernel // 2),
                                     nn.ReLU(), nn.Dropout(dropout))
            self.fc7 = nn.Sequential(nn.Conv2d(fc_width, fc_width, 1), nn.ReLU(), nn.Dropout(dropout))
            self.score_fr = nn.Conv2d(fc_width, num_classes, 1)
            if variant == "32s":
                self.upscore = upsampler(num_classes, self.stride)
                return
            self.upscore2 = upsampler(num_classes, 2)
            self.score_pool4 = score_layer(widths[-2], num_classes)
            if variant == "16s":
                self.upscore16 = upsampler(num_classes, self.stride // 2)
                return
            self.upscore_pool4 = upsampler(num_classes, 2)
            self.score_pool3 = score_layer(widths[-3], num_classes)
            self.upscore8 = upsampler(num_classes, self.stride // 4)

        def forward(self, x):
            return self.score_maps(x)["out"]

        def score_maps(self, x):
            """Every class-score map on the way to the output, by the Caffe layer names: 'score_fr'
            (stride 32), then for 16s / 8s 'upscore2' + 'score_pool4' = 'fuse_pool4' (stride 16),
            for 8s 'upscore_pool4' + 'score_pool3' = 'fuse_pool3' (stride 8); 'out' (stride 1)."""
            h, w = x.shape[-2:]
            if h % self.stride or w % self.stride:
                raise ValueError(f"FCN: input height and width must be divisible by {self.stride}, "
                                 f"got {(h, w)}")
            *_, pool3, pool4, pool5 = self.backbone(x)
            maps = {"score_fr": self.score_fr(self.fc7(self.fc6(pool5)))}
            if self.variant == "32s":
                maps["out"] = self.upscore(maps["score_fr"])
                return maps
            maps["upscore2"], maps["score_pool4"] = self.upscore2(maps["score_fr"]), self.score_pool4(pool4)
            maps["fuse_pool4"] = maps["upscore2"] + maps["score_pool4"]  # fuse at stride 16
            if self.variant == "16s":
                maps["out"] = self.upscore16(maps["fuse_pool4"])
                return maps
            maps["upscore_pool4"], maps["score_pool3"] = self.upscore_pool4(maps["fuse_pool4"]), \
                self.score_pool3(pool3)
            maps["fuse_pool3"] = maps["upscore_pool4"] + maps["score_pool3"]  # fuse at stride 8
            maps["out"] = self.upscore8(maps["fuse_pool3"])
            return maps

    return namespace(FCN=FCN)


FCN = build(MINSEG).FCN


def fcn32s(num_classes=11, **kwargs):
    """FCN-32s: scores upsampled 32x in one step (no skips); ``kwargs`` as for FCN."""
    return FCN(num_classes, variant="32s", **kwargs)


def fcn16s(num_classes=11, **kwargs):
    """FCN-16s: FCN-32s plus the pool4 skip; ``kwargs`` as for FCN."""
    return FCN(num_classes, variant="16s", **kwargs)


def fcn8s(num_classes=11, **kwargs):
    """FCN-8s: FCN-16s plus the pool3 skip; ``kwargs`` as for FCN."""
    return FCN(num_classes, variant="8s", **kwargs)
