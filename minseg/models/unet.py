"""U-Net (Ronneberger, Fischer & Brox): a contracting path, an expanding path, and skips between them.

Each level is two 3x3 convolutions + ReLU (optionally with batch norm); the encoder max-pools by 2
and doubles the width, the decoder upsamples with a 2x2 stride-2 transposed convolution that halves
the width, then concatenates the encoder's feature map of the same level.

- ``padding=True``: 'same' convolutions, the output is as large as the input (the common variant).
- ``padding=False``: the original network. Valid convolutions shrink every map by 2 pixels per
  convolution, so the encoder maps are centre-cropped before concatenation and the output is
  smaller than the input (572 -> 388 for the paper's depth 4). ``predict_tiles`` segments an image
  of any size by the overlap-tile strategy: mirror-pad it by the margin the network eats, run
  overlapping input tiles at a step that is a multiple of 2^depth and stitch their output blocks;
  ``tile_layout`` gives the geometry. The result equals one pass over the whole padded image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import blocks
from .backend import MINSEG, cached_build, namespace
from .blocks import center_crop


@dataclass(frozen=True)
class TileLayout:
    """Where the tiles of overlap-tile inference lie (sizes in pixels, for one image axis pair).

    tile: the edge of the output block each tile contributes (a multiple of 2^depth);
    input_tile: the edge of the input window a tile reads; output_tile: the network's output for
    it (>= tile: from depth 3 on, valid outputs are 4 more than a multiple of 2^depth, and the extra
    rows equal the next tile's first ones); margin: the context the valid convolutions eat on each
    side; rows x cols tiles cover the height x width image.
    """

    tile: int
    input_tile: int
    output_tile: int
    margin: int
    rows: int
    cols: int
    height: int
    width: int

    @property
    def pad_width(self):
        """np.pad widths of the last two axes: the margin before, the margin and the tiles' overhang after."""
        padded = [(n - 1) * self.tile + self.input_tile for n in (self.rows, self.cols)]
        return ((self.margin, padded[0] - self.margin - self.height),
                (self.margin, padded[1] - self.margin - self.width))

    def input_window(self, row, col):
        """The (rows, cols) slices of the padded image that tile (row, col) reads."""
        return (slice(row * self.tile, row * self.tile + self.input_tile),
                slice(col * self.tile, col * self.tile + self.input_tile))

    def output_block(self, row, col):
        """The (rows, cols) slices of the stitched output (and of the image) that tile (row, col) fills."""
        return (slice(row * self.tile, (row + 1) * self.tile), slice(col * self.tile, (col + 1) * self.tile))


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

        def tile_layout(self, image_size, tile):
            """The geometry of overlap-tile inference of an (H, W) image with output tiles of edge
            ``tile`` (a :class:`TileLayout`). ``tile`` must be a multiple of 2^depth: then every tile
            sees the pooling grid that one pass over the whole mirror-padded image would see."""
            step = 2 ** self.depth
            if not isinstance(tile, (int, np.integer)) or tile < 1 or tile % step:
                raise ValueError(f"UNet.predict_tiles: tile must be a positive multiple of 2^depth = {step} "
                                 f"(so every tile shares the whole image's pooling grid), got {tile!r}")
            input_tile = self.valid_input_size(tile)
            output_tile = self._output_length(input_tile)  # >= tile; the tiles' extra rows overlap
            h, w = image_size
            return TileLayout(tile=tile, input_tile=input_tile, output_tile=output_tile,
                              margin=(input_tile - output_tile) // 2, rows=-(-h // tile), cols=-(-w // tile),
                              height=h, width=w)

        def predict_tiles(self, images, tile):
            """Overlap-tile inference: (N, C, H, W) ndarray -> (N, K, H, W) scores ndarray.

            The image is mirror-padded by the margin the valid convolutions eat (and up to a whole
            number of tiles); the input tile of edge valid_input_size(tile) whose top-left corner is
            at (i * tile, j * tile) of the padded image yields the output block
            [i * tile, (i + 1) * tile) x [j * tile, (j + 1) * tile). The result equals one pass of the
            network over the whole padded image (see tile_layout), in pieces that fit in memory.
            """
            images = np.asarray(images, np.float32)
            layout = self.tile_layout(images.shape[-2:], tile)
            padded = np.pad(images, ((0, 0), (0, 0)) + layout.pad_width, mode="reflect")
            out = None
            with B.no_grad():
                for i in range(layout.rows):
                    for j in range(layout.cols):
                        window = np.ascontiguousarray(padded[(...,) + layout.input_window(i, j)])
                        scores = B.as_array(self(B.as_tensor(window)))[..., :tile, :tile]
                        if out is None:
                            out = np.zeros(scores.shape[:2] + (layout.rows * tile, layout.cols * tile),
                                           scores.dtype)
                        out[(...,) + layout.output_block(i, j)] = scores
            return out[:, :, :layout.height, :layout.width]

    return namespace(UNet=UNet)


UNet = build(MINSEG).UNet
