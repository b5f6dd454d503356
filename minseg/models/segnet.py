"""SegNet (Badrinarayanan, Kendall & Cipolla): an encoder-decoder whose decoder upsamples by
max-unpooling with the encoder's pooling indices, so no upsampling weights are learned.

Encoder stage: (3x3 conv + BN + ReLU) * n, then 2x2 max-pool that remembers where each maximum
was. Decoder stage (mirror order): max-unpool to those positions (a sparse map), then
(3x3 conv + BN + ReLU) * n to densify it; a last 3x3 convolution gives the class scores.
"""
from __future__ import annotations

from . import blocks
from .backend import MINSEG, cached_build, namespace


@cached_build
def build(B):
    """SegNet on backend ``B``."""
    nn, F = B.nn, B.F
    parts = blocks.build(B)

    class SegNet(nn.Module):
        """``SegNet(num_classes)``; the default widths and convs are VGG-16's encoder."""

        def __init__(self, num_classes=11, in_channels=3, widths=(64, 128, 256, 512, 512),
                     convs=(2, 2, 3, 3, 3)):
            super().__init__()
            if len(widths) != len(convs):
                raise ValueError(f"SegNet: widths and convs need one entry per stage, "
                                 f"got {widths} and {convs}")
            self.config = dict(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths),
                               convs=tuple(convs))
            inputs = (in_channels,) + tuple(widths[:-1])
            self.encoders = nn.ModuleList([parts.conv_layers(c_in, c_out, n, batch_norm=True)
                                           for c_in, c_out, n in zip(inputs, widths, convs)])
            # decoder stage s (deepest first) keeps width[s] and ends with the width of the stage above
            decoders = []
            for s in reversed(range(len(widths))):
                out = widths[max(s - 1, 0)]
                layers = list(parts.conv_layers(widths[s], widths[s], convs[s] - 1, batch_norm=True))
                layers += list(parts.conv_layers(widths[s], out, 1, batch_norm=True))
                decoders.append(nn.Sequential(*layers))
            self.decoders = nn.ModuleList(decoders)
            self.classifier = nn.Conv2d(widths[0], num_classes, 3, padding=1)

        def forward(self, x):
            remembered = []
            for encoder in self.encoders:
                x = encoder(x)
                size = tuple(x.shape[-2:])
                x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
                remembered.append((indices, size))
            for decoder, (indices, size) in zip(self.decoders, reversed(remembered)):
                x = decoder(F.max_unpool2d(x, indices, 2, 2, output_size=size))
            return self.classifier(x)

    return namespace(SegNet=SegNet)


SegNet = build(MINSEG).SegNet
