"""U-Net (Ronneberger, Fischer & Brox): a contracting path, an expanding path, and skips between them.

Each level is two 3x3 convolutions + ReLU (optionally with batch norm); the encoder max-pools by 2
and doubles the width, the decoder upsamples with a 2x2 stride-2 transposed convolution that halves
the width, then concatenates the encoder's feature map of the same level.

- ``padding=True``: 'same' convolutions, the output is as large as the input (the common variant).
- ``padding=False``: the original network. Valid convolutions shrink every map by 2 pixels per
  convolution, so the encoder maps are centre-cropped before concatenation and the output is
  smaller than the input (572 -> 388 for the paper's depth 4). ``predict_tiles`` segments an image
  of any size by the overlap-tile strategy: mirror-pad it by the margin the network eats, run
  overlapping input tiles and stitch their (non-overlapping) output tiles.
"""
from __future__ import annotations

import numpy as np

from . import blocks
from .backend import MINSEG, cached_build, namespace
from .blocks import center_crop


@cached_build
def build(B):
    """U-Net on backend ``B``."""
    nn, F = B.nn, B.F
    parts = blocks.build(B)

    class UNet(nn.Module):
        """``UNet(num_classes, width=64, depth=4, padding=True)``: widths width * 2^level, level 0..depth."""

        def __init__(self, num_classes=11, in_channels=3, width=64, depth=4, padding=True, batch_norm=False):
            super().__init__()
            self.config = dict(num_classes=num_classes, in_channels=in_channels, width=width, depth=depth,
                               padding=padding, batch_norm=batch_norm)
            self.depth, self.padding = depth, bool(padding)
            widths = [width * 2 ** level for level in range(depth + 1)]
            pad = 1 if padding else 0
            self.encoders = nn.ModuleList([
                parts.conv_layers(c_in, c_out, 2, padding=pad, batch_norm=batch_norm)
                for c_in, c_out in zip([in_channels] + widths[:-1], widths)])
            self.upsamplers = nn.ModuleList([nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
                                             for level in reversed(range(depth))])
            self.decoders = nn.ModuleList([parts.conv_layers(2 * widths[level], widths[level], 2, padding=pad,
                                                             batch_norm=batch_norm)
                                           for level in reversed(range(depth))])
            self.head = nn.Conv2d(width, num_classes, 1)

        def forward(self, x):
            self.output_size(tuple(x.shape[-2:]))  # checks the size
            skips = []
            for encoder in self.encoders[:-1]:
                x = encoder(x)
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = self.encoders[-1](x)
            for upsample, decoder, skip in zip(self.upsamplers, self.decoders, reversed(skips)):
                x = upsample(x)
                x = decoder(B.cat([center_crop(skip, tuple(x.shape[-2:])), x], 1))
            return self.head(x)

        def output_size(self, input_size):
            """The (h, w) output for an (H, W) input; ValueError if some max-pool would see an odd size."""
            return tuple(self._output_length(n) for n in input_size)

        def _output_length(self, n):
            shrink = 0 if self.padding else 4  # two valid 3x3 convolutions per level
            size = n
            for _ in range(self.depth):
                size -= shrink
                if size <= 0 or size % 2:
                    raise ValueError(f"UNet: input size {n} is not valid for depth {self.depth} "
                                     f"(padding={self.padding}): a max-pool would see size {size}; "
                                     f"see UNet.valid_input_size")
                size //= 2
            size -= shrink
            for _ in range(self.depth):
                size = 2 * size - shrink
            if size <= 0:
                raise ValueError(f"UNet: input size {n} is too small for depth {self.depth}")
            return size

        def valid_input_size(self, output_length):
            """The smallest input length whose output is at least ``output_length``."""
            n = max(output_length, 1)
            while True:
                try:
                    if self._output_length(n) >= output_length:
                        return n
                except ValueError:
                    pass
                n += 1

        def predict_tiles(self, images, tile):
            """Overlap-tile inference: (N, C, H, W) ndarray -> (N, K, H, W) scores ndarray.

            ``tile`` is the output tile edge (pick a multiple of 2^depth so every tile sees the
            same pooling grid as the whole image would). The image is mirror-padded by the
            margin the valid convolutions eat (and up to a whole number of tiles), each input
            tile of edge valid_input_size(tile) yields one tile x tile block of the output.
            """
            images = np.asarray(images, np.float32)
            in_tile = self.valid_input_size(tile)
            if self._output_length(in_tile) != tile:
                raise ValueError(f"UNet.predict_tiles: no input size gives an output tile of {tile}; "
                                 f"try {self._output_length(in_tile)}")
            margin = (in_tile - tile) // 2
            n, _, h, w = images.shape
            rows, cols = -(-h // tile), -(-w // tile)
            padded = np.pad(images, ((0, 0), (0, 0), (margin, margin + rows * tile - h),
                                     (margin, margin + cols * tile - w)), mode="reflect")
            out = None
            with B.no_grad():
                for i in range(rows):
                    for j in range(cols):
                        window = padded[:, :, i * tile:i * tile + in_tile, j * tile:j * tile + in_tile]
                        scores = B.as_array(self(B.as_tensor(np.ascontiguousarray(window))))
                        if out is None:
                            out = np.zeros((n, scores.shape[1], rows * tile, cols * tile), scores.dtype)
                        out[:, :, i * tile:(i + 1) * tile, j * tile:(j + 1) * tile] = scores
            return out[:, :, :h, :w]

    return namespace(UNet=UNet)


UNet = build(MINSEG).UNet
