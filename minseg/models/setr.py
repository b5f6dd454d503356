"""SETR (Zheng et al., CVPR 2021): segmentation as sequence-to-sequence prediction.

The image is cut into patch_size x patch_size patches; each is embedded by one linear map (a
convolution with kernel = stride = patch size) and gets a learned positional embedding added. A
stack of transformer encoder layers (pre-norm, GELU, as ViT) mixes the tokens without ever
lowering the resolution of the token grid: after one layer every token has seen every other. The
token grid is folded back into a (C, H/p, W/p) map and decoded:

- ``decoder='naive'``: 1x1 conv + batch norm + ReLU, 1x1 conv to classes, bilinear up by p;
- ``decoder='pup'`` (progressive upsampling): log2(p) stages of 3x3 conv + BN + ReLU + bilinear x2,
  then a 1x1 conv to classes at full resolution.

The positional embedding is learned for ``image_size``; other sizes interpolate it bilinearly on
its grid (``position_embedding(grid)``), as ViT does for fine-tuning at a higher resolution.
"""
from __future__ import annotations

import numpy as np

from .. import random as _random
from .backend import MINSEG, cached_build, namespace

DECODERS = ("naive", "pup")


def _check_config(image_size, patch_size, embed_dim, num_heads, decoder):
    if decoder not in DECODERS:
        raise ValueError(f"SETR: decoder must be one of {DECODERS}, got {decoder!r}")
    if image_size % patch_size:
        raise ValueError(f"SETR: image_size ({image_size}) must be divisible by patch_size ({patch_size})")
    if embed_dim % num_heads:
        raise ValueError(f"SETR: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
    if decoder == "pup" and patch_size & (patch_size - 1):
        raise ValueError(f"SETR: the PUP decoder upsamples by 2 per stage, so patch_size must be a power "
                         f"of 2, got {patch_size}")


@cached_build
def build(B):
    """SETR on backend ``B``."""
    nn, F = B.nn, B.F

    def conv_bn_relu(c_in, c_out, kernel_size):
        return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2),
                             nn.BatchNorm2d(c_out), nn.ReLU())

    class SETR(nn.Module):
        """``SETR(num_classes, image_size=64, patch_size=8, embed_dim=64, depth=4, num_heads=4)``;
        SETR-L is patch 16, embed_dim 1024, depth 24, 16 heads."""

        def __init__(self, num_classes=11, in_channels=3, image_size=64, patch_size=8, embed_dim=64, depth=4,
                     num_heads=4, mlp_ratio=2, decoder="naive", decoder_width=32, dropout=0.0):
            super().__init__()
            _check_config(image_size, patch_size, embed_dim, num_heads, decoder)
            self.config = dict(num_classes=num_classes, in_channels=in_channels, image_size=image_size,
                               patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                               mlp_ratio=mlp_ratio, decoder=decoder, decoder_width=decoder_width,
                               dropout=dropout)
            self.patch_size, self.embed_dim, self.decoder_kind = patch_size, embed_dim, decoder
            self.grid = (image_size // patch_size,) * 2
            self.patch_embed = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)
            start = 0.02 * _random.default_generator().standard_normal((1, self.grid[0] * self.grid[1], embed_dim))
            self.pos_embed = nn.Parameter(B.as_tensor(start.astype(np.float32)))
            self.layers = nn.ModuleList([
                nn.TransformerEncoderLayer(embed_dim, num_heads, dim_feedforward=mlp_ratio * embed_dim,
                                           dropout=dropout, activation="gelu", batch_first=True, norm_first=True)
                for _ in range(depth)])
            self.norm = nn.LayerNorm(embed_dim)
            if decoder == "naive":
                self.decoder = nn.Sequential(conv_bn_relu(embed_dim, decoder_width, 1),
                                             nn.Conv2d(decoder_width, num_classes, 1))
            else:
                stages = int(np.log2(patch_size))
                widths = [embed_dim] + [decoder_width] * stages
                self.decoder = nn.ModuleList([conv_bn_relu(a, b, 3) for a, b in zip(widths, widths[1:])])
                self.classifier = nn.Conv2d(widths[-1], num_classes, 1)

        def position_embedding(self, grid):
            """(1, gh*gw, C): the learned embedding, bilinearly resampled when ``grid`` differs."""
            if tuple(grid) == self.grid:
                return self.pos_embed
            table = self.pos_embed.reshape(1, *self.grid, self.embed_dim).permute(0, 3, 1, 2)
            table = F.interpolate(table, size=tuple(grid), mode="bilinear", align_corners=False)
            return table.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], self.embed_dim)

        def tokens(self, x):
            """(N, 3, H, W) -> (N, L, C) patch embeddings plus positions, and the token grid."""
            h, w = x.shape[-2:]
            if h % self.patch_size or w % self.patch_size:
                raise ValueError(f"SETR: input height and width must be divisible by patch_size "
                                 f"{self.patch_size}, got {(h, w)}")
            patches = self.patch_embed(x)
            n, c, gh, gw = patches.shape
            sequence = patches.reshape(n, c, gh * gw).permute(0, 2, 1)
            return sequence + self.position_embedding((gh, gw)), (gh, gw)

        def encode(self, x):
            """The encoder's output folded back into an (N, C, H/p, W/p) feature map."""
            sequence, (gh, gw) = self.tokens(x)
            for layer in self.layers:
                sequence = layer(sequence)
            sequence = self.norm(sequence)
            return sequence.permute(0, 2, 1).reshape(sequence.shape[0], self.embed_dim, gh, gw)

        def forward(self, x):
            size = tuple(x.shape[-2:])
            features = self.encode(x)
            if self.decoder_kind == "naive":
                return F.interpolate(self.decoder(features), size=size, mode="bilinear", align_corners=False)
            for stage in self.decoder:
                features = F.interpolate(stage(features), scale_factor=2, mode="bilinear", align_corners=False)
            return self.classifier(features)

        def attention_maps(self, x):
            """Per layer, each head's attention weights (N, heads, L, L) over the token grid."""
            maps = []
            sequence, _ = self.tokens(x)
            for layer in self.layers:
                normed = layer.norm1(sequence)
                _, weights = layer.self_attn(normed, normed, normed, need_weights=True,
                                             average_attn_weights=False)
                maps.append(B.as_array(weights))
                sequence = layer(sequence)
            return maps

    return namespace(SETR=SETR)


SETR = build(MINSEG).SETR
