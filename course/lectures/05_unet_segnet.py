# %% [markdown]
# # Lecture 05 — Encoder–decoders: U-Net and SegNet
#
# A classification network shrinks an image into a few numbers. For segmentation we keep its
# shrinking half — the **encoder**, which gathers context — and add a **decoder** that grows the
# answer back to full resolution. FCN (lecture 04) decodes with learned upsampling of its class
# scores and adds coarse and fine scores. This lecture takes the two other classic answers apart:
# **U-Net**, which copies whole encoder feature maps across and concatenates them, and **SegNet**,
# which only remembers *where* each max-pool found its maximum.
#
# **You will be able to**
# - trace U-Net's contracting and expanding paths and its copy-and-crop skip connections;
# - compute every feature-map size of the unpadded U-Net from 572 to 388, say which input sizes are
#   valid, and why the border of an image cannot be segmented without extra context;
# - segment an image larger than a tile by overlap-tile inference with mirrored context, and show that
#   it equals one pass over the mirror-padded image;
# - build U-Net's border weight map, which makes the gaps between touching objects expensive;
# - run SegNet's decoder: max-unpooling with the encoder's indices, then convolutions, and count the
#   bytes that indices save over stored feature maps;
# - compare FCN-8s, U-Net and SegNet as the SegNet paper does: per-class accuracy, class average,
#   global average, mIoU and boundary F1.
#
# The five **Exercise** cells are graded as in the earlier lectures (see the grading note above and
# the last cell), each on its own. Where an exercise rebuilds something minseg has, its check makes
# that library function unavailable (calling it raises) while your code runs, and says so.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg import metrics, models
from minseg.data import CLASSES, NUM_CLASSES, DigitScenes
from minseg.models import pretrained
from minseg.models.blocks import center_crop
from minseg.testing import check_op
from minseg.training import predict
from minseg.viz import encoder_decoder as edviz

# %% [markdown]
# ## 1. Encoder–decoders
#
# A network that keeps full resolution in every layer sees too little context per pixel for its
# cost (lecture 02: $L$ 3×3 layers see $1 + 2L$ pixels). An encoder–decoder keeps the encoder of a
# classification network — convolutions and poolings that trade resolution for context — and then
# *upsamples* back to the input size. Pooling throws away *where* things are, so each design gives
# the decoder something from the encoder to localise with:
#
# | | the decoder upsamples with | and takes from the encoder |
# |---|---|---|
# | FCN-8s | transposed convolutions (bilinear init) of class scores | pool3 and pool4 scores, **added** |
# | U-Net | learned 2×2 up-convolutions of features | whole feature maps of every level, **concatenated** |
# | SegNet | max-unpooling (nothing learned), then convolutions | the **max-pooling indices** of every level |
#
# ## 2. U-Net: a contracting path, an expanding path, and copies across
#
# U-Net (Ronneberger, Fischer & Brox, 2015) has one *level* per resolution. Going down (the
# contracting path), each level is two 3×3 convolutions with ReLU, then a 2×2 max-pool that halves the
# size, and the next level doubles the number of channels. Going up (the expanding path), each level
# starts with a 2×2 stride-2 transposed convolution (the "up-convolution") that doubles the size and
# halves the channels, then **concatenates** the feature map of the same level of the contracting
# path — channel by channel, not summed — and runs two 3×3 convolutions on the result. A last 1×1
# convolution gives the class scores.
#
# `minseg.models.UNet(num_classes, width, depth, padding)` is that network. Let us walk a small one
# (width 8, depth 3, the preset whose trained weights ship with minseg) and print every feature map:

# %%
def walk_unet(net, size):
    """Run ``net`` on a blank size x size image and print the feature maps of both paths."""
    x = ms.tensor(np.zeros((1, net.config["in_channels"], size, size), np.float32))
    skips = []
    with ms.no_grad():
        for level, block in enumerate(net.encoders):
            sizes = [x.shape[-1]]
            for layer in block:
                x = layer(x)
                if isinstance(layer, ms.nn.Conv2d):
                    sizes.append(x.shape[-1])
            convs = " -> ".join(str(s) for s in sizes)
            if level == net.depth:
                print(f"bottom : {convs}, {x.shape[1]} channels")
                break
            skips.append(x)
            x = F.max_pool2d(x, 2)
            print(f"down {level} : {convs}, {skips[-1].shape[1]} channels; max-pool -> {x.shape[-1]}")
        for level, upsample, block, skip in zip(reversed(range(net.depth)), net.upsamplers, net.decoders,
                                                reversed(skips)):
            x = upsample(x)
            x = ms.cat([center_crop(skip, tuple(x.shape[-2:])), x], 1)  # copy and crop, then concatenate
            sizes, channels = [x.shape[-1]], x.shape[1]
            for layer in block:
                x = layer(x)
                if isinstance(layer, ms.nn.Conv2d):
                    sizes.append(x.shape[-1])
            convs = " -> ".join(str(s) for s in sizes)
            print(f"up {level}   : up-conv {sizes[0]}, crop skip {skip.shape[-1]} -> {sizes[0]}, "
                  f"concat {channels} channels; {convs}")
        scores = net.head(x)
    print(f"output : {scores.shape[-1]} x {scores.shape[-1]}, {scores.shape[1]} class scores")


# %% tags=["nbval-check-output"]
walk_unet(models.UNet(num_classes=NUM_CLASSES, width=8, depth=3, padding=True), 64)
# Expected output:
# down 0 : 64 -> 64 -> 64, 8 channels; max-pool -> 32
# down 1 : 32 -> 32 -> 32, 16 channels; max-pool -> 16
# down 2 : 16 -> 16 -> 16, 32 channels; max-pool -> 8
# bottom : 8 -> 8 -> 8, 64 channels
# up 2   : up-conv 16, crop skip 16 -> 16, concat 64 channels; 16 -> 16 -> 16
# up 1   : up-conv 32, crop skip 32 -> 32, concat 32 channels; 32 -> 32 -> 32
# up 0   : up-conv 64, crop skip 64 -> 64, concat 16 channels; 64 -> 64 -> 64
# output : 64 x 64, 11 class scores

# %% [markdown]
# With `padding=True` every 3×3 convolution pads by one pixel, so the sizes only change at the
# poolings and up-convolutions, and the "crop" keeps everything. Concatenation means the first
# convolution of each up level reads twice the channels (64 = 32 copied + 32 upsampled): the decoder
# *learns* how to combine the fine encoder features with the coarse, context-rich ones, where FCN
# fixes that combination to a sum of class scores.
#
# The skip connection is plain slicing and concatenation, so minseg and PyTorch must agree on it
# exactly, gradients included (`center_crop` slices torch tensors as well):

# %% tags=["nbval-ignore-output"]
def skip_join(cat):
    """The copy-and-crop join with a given concatenation (ms.cat or torch.cat)."""
    return lambda skip, up: cat([center_crop(skip, tuple(up.shape[-2:])), up], 1)


rng = np.random.default_rng(2)
join_inputs = [rng.normal(size=(2, 4, 17, 16)), rng.normal(size=(2, 4, 9, 8))]
check_op(skip_join(ms.cat), join_inputs, skip_join(torch.cat))
print("copy and crop (17x16 skip, 9x8 upsampled -> 8 channels of 9x8) equals torch's, forward and backward")

# %% [markdown]
# **Exercise (copy_and_crop).** Write `copy_and_crop(skip, upsampled)` for minseg tensors `skip`
# `(N, C1, H, W)` and `upsampled` `(N, C2, h, w)` with $h \le H$, $w \le W$: cut the centre $h \times w$
# window out of `skip` (top row $\lfloor (H-h)/2 \rfloor$, left column $\lfloor (W-w)/2 \rfloor$) and
# concatenate it *before* `upsampled` along the channels, giving `(N, C1 + C2, h, w)`; gradients must
# reach both inputs. Use slicing and `ms.cat`: the library's `center_crop` is unavailable while the
# check runs.

# %%
def copy_and_crop(skip, upsampled):
    """U-Net's skip connection: the centre crop of ``skip`` to ``upsampled``'s size, then both
    concatenated along the channel axis (crop first)."""
    ### BEGIN SOLUTION hint: top = (H - h) // 2, left = (W - w) // 2; skip[:, :, top:top + h, left:left + w]
    h, w = upsampled.shape[-2:]
    top, left = (skip.shape[-2] - h) // 2, (skip.shape[-1] - w) // 2
    return ms.cat([skip[:, :, top:top + h, left:left + w], upsampled], 1)
    ### END SOLUTION


# %% grade_id="copy_and_crop"
import numpy as np
import torch

import minseg as ms
from minseg.models.blocks import center_crop
from minseg.testing import check_op, unavailable


def _torch_copy_and_crop(skip, upsampled):
    """The expected join, in PyTorch: the centre crop of ``skip``, then ``upsampled``, along the channels."""
    _h, _w = upsampled.shape[-2:]
    _top, _left = (skip.shape[-2] - _h) // 2, (skip.shape[-1] - _w) // 2
    return torch.cat([skip[:, :, _top:_top + _h, _left:_left + _w], upsampled], 1)


# the paper's first level: the 568 x 568 encoder map meets the 392 x 392 up-convolution
_skip = ms.tensor(np.arange(568 * 568, dtype=np.float32).reshape(1, 1, 568, 568), requires_grad=True)
_up = ms.tensor(np.full((1, 2, 392, 392), -1.0, np.float32), requires_grad=True)
with unavailable(center_crop):
    _out = copy_and_crop(_skip, _up)
assert _out.shape == (1, 3, 392, 392), (
    f"568 -> 392 crop + 2 channels: expected (1, 3, 392, 392), got {_out.shape}")
assert _out.data[0, 0, 0, 0] == 88 * 568 + 88, (
    f"the crop starts 88 pixels in ((568 - 392) / 2): expected value {88 * 568 + 88}, "
    f"got {_out.data[0, 0, 0, 0]}")
assert (_out.data[0, 1:] == -1).all(), "the upsampled channels come after the cropped skip"
_rng = np.random.default_rng(5)
with unavailable(center_crop):
    for _ in range(8):
        _H, _W = (int(v) for v in _rng.integers(4, 12, size=2))
        _h, _w = int(_rng.integers(1, _H + 1)), int(_rng.integers(1, _W + 1))
        # your join and torch's on a random skip and upsampled map: the output, then both gradients
        check_op(copy_and_crop, [_rng.normal(size=(2, 3, _H, _W)), _rng.normal(size=(2, 2, _h, _w))],
                 _torch_copy_and_crop, gradcheck_inputs=False)
print("copy_and_crop crops the paper's 568 to 392 and passes gradients to both inputs")

# %% [markdown]
# ## 3. Unpadded convolutions: the output is smaller than the input
#
# The original U-Net pads nothing: each 3×3 convolution eats one pixel on every side (−2), so every
# level loses 4 pixels before it pools, and the encoder's maps are larger than the decoder's when they
# meet — hence the *crop* in copy-and-crop. Here is the paper's network (depth 4) on its 572×572
# input, every size computed by running the network (with width 1 to keep it quick; the paper's
# channel counts are 64 times those printed: 64, 128, 256, 512, 1024):

# %% tags=["nbval-check-output"]
walk_unet(models.UNet(num_classes=2, in_channels=1, width=1, depth=4, padding=False), 572)
# Expected output:
# down 0 : 572 -> 570 -> 568, 1 channels; max-pool -> 284
# down 1 : 284 -> 282 -> 280, 2 channels; max-pool -> 140
# down 2 : 140 -> 138 -> 136, 4 channels; max-pool -> 68
# down 3 : 68 -> 66 -> 64, 8 channels; max-pool -> 32
# bottom : 32 -> 30 -> 28, 16 channels
# up 3   : up-conv 56, crop skip 64 -> 56, concat 16 channels; 56 -> 54 -> 52
# up 2   : up-conv 104, crop skip 136 -> 104, concat 8 channels; 104 -> 102 -> 100
# up 1   : up-conv 200, crop skip 280 -> 200, concat 4 channels; 200 -> 198 -> 196
# up 0   : up-conv 392, crop skip 568 -> 392, concat 2 channels; 392 -> 390 -> 388
# output : 388 x 388, 2 class scores

# %% [markdown]
# The rule along one axis: going down, $n \to n - 4$ then $n/2$ (the max-pool needs an **even**
# size, else a row would be dropped and the maps would no longer line up); at the bottom, $n - 4$;
# going up, $n \to 2n - 4$. Each output pixel of the 388×388 map is computed from a 572×572 window
# that contains *only real pixels*: $(572 - 388)/2 = 92$ pixels of context on every side. That is
# the point of the design — no output depends on invented zeros — and its price: **the 92-pixel
# border of the image cannot be segmented**, because its context does not exist.
#
# **Exercise (unet_sizes).** Write `unet_sizes(n, depth=4)`: the list of every feature-map size
# of the unpadded U-Net along one axis, in the order printed above — the input, after each
# convolution, after each max-pool, after each up-convolution — so `unet_sizes(572)` runs
# `[572, 570, 568, 284, ..., 392, 390, 388]` (27 sizes at depth 4). Return `None` when `n` is not
# valid: some max-pool would see an odd size, or a size reaches 0 or below. Then
# `smallest_unet_input(depth=4)`, the smallest valid input length. `UNet.output_size` and
# `UNet.valid_input_size` are unavailable while the check runs.

# %%
def unet_sizes(n, depth=4):
    """Every size of the unpadded U-Net of ``depth`` poolings along one axis of length n (None if invalid)."""
    sizes = [n]
    ### BEGIN SOLUTION hint: down: two convs (-2 each), pool (even? halve); bottom: 2 convs; up: 2n, 2 convs
    for _ in range(depth):
        sizes += [sizes[-1] - 2, sizes[-1] - 4]
        if sizes[-1] <= 0 or sizes[-1] % 2:
            return None
        sizes.append(sizes[-1] // 2)
    sizes += [sizes[-1] - 2, sizes[-1] - 4]
    for _ in range(depth):
        sizes.append(2 * sizes[-1])
        sizes += [sizes[-1] - 2, sizes[-1] - 4]
    return sizes if min(sizes) > 0 else None
    ### END SOLUTION


def smallest_unet_input(depth=4):
    """The smallest input length the unpadded U-Net of ``depth`` poolings accepts."""
    ### BEGIN SOLUTION hint: try n = 1, 2, 3, ... with unet_sizes
    n = 1
    while unet_sizes(n, depth) is None:
        n += 1
    return n
    ### END SOLUTION


# %% grade_id="unet_sizes"
from minseg import models
from minseg.testing import unavailable

_nets = {d: models.UNet(2, width=1, depth=d, padding=False) for d in range(1, 6)}


def _library_size(n, depth):
    try:
        return _nets[depth].output_size((n, n))[0]
    except ValueError:
        return None


_expected = {(n, d): _library_size(n, d) for d in range(1, 6) for n in range(1, 700)}
_smallest = {d: _nets[d].valid_input_size(1) for d in range(1, 6)}
_paper = [572, 570, 568, 284, 282, 280, 140, 138, 136, 68, 66, 64, 32, 30, 28,  # Ronneberger et al., Fig. 1
          56, 54, 52, 104, 102, 100, 200, 198, 196, 392, 390, 388]
with unavailable(models.UNet.output_size, models.UNet.valid_input_size):
    _yours = unet_sizes(572)
    assert _yours == _paper, f"unet_sizes(572): expected the paper's {_paper}, got {_yours}"
    print("every size from 572 to 388 by your formula:", " ".join(str(_s) for _s in _yours))
    assert unet_sizes(570) is None, f"570 -> 568 -> 566 -> 283 is odd: expected None, got {unet_sizes(570)}"
    assert unet_sizes(124, depth=3)[-1] == 36, f"depth 3: 124 -> 36, got {unet_sizes(124, depth=3)}"
    assert smallest_unet_input() == 188, f"depth 4: expected 188 (output 4), got {smallest_unet_input()}"
    ### BEGIN HIDDEN TESTS
    for (_n, _d), _want in _expected.items():
        _got = unet_sizes(_n, _d)
        _right = _got is None if _want is None else (_got is not None and _got[-1] == _want
                                                     and len(_got) == 6 * _d + 3)
        assert _right, f"n={_n}, depth={_d}: expected output {_want}, got sizes {_got}"
    for _d, _want in _smallest.items():
        _got = smallest_unet_input(_d)
        assert _got == _want, f"depth {_d}: expected {_want}, got {_got}"
    ### END HIDDEN TESTS
print("unet_sizes and smallest_unet_input agree with the paper and with models.UNet")

# %% [markdown]
# Which input sizes does the paper's network accept? The library knows (`UNet.output_size` raises
# for an invalid size, `UNet.valid_input_size` finds the smallest input for a wanted output):

# %% tags=["nbval-check-output"]
paper_unet = models.UNet(num_classes=2, in_channels=1, width=1, depth=4, padding=False)


def accepted(net, n):
    try:
        return net.output_size((n, n))[0]
    except ValueError:
        return None


valid = [n for n in range(1, 700) if accepted(paper_unet, n)]
print("valid inputs below 700 -> their outputs:")
for start in range(0, len(valid), 8):
    print("  " + "  ".join(f"{n} -> {accepted(paper_unet, n)}" for n in valid[start:start + 8]))
print("every valid n is 188 + 16k:", all((n - 188) % 16 == 0 for n in valid),
      "| smallest input for a 388 output:", paper_unet.valid_input_size(388))
# Expected output:
# valid inputs below 700 -> their outputs:
#   188 -> 4  204 -> 20  220 -> 36  236 -> 52  252 -> 68  268 -> 84  284 -> 100  300 -> 116
#   316 -> 132  332 -> 148  348 -> 164  364 -> 180  380 -> 196  396 -> 212  412 -> 228  428 -> 244
#   444 -> 260  460 -> 276  476 -> 292  492 -> 308  508 -> 324  524 -> 340  540 -> 356  556 -> 372
#   572 -> 388  588 -> 404  604 -> 420  620 -> 436  636 -> 452  652 -> 468  668 -> 484  684 -> 500
# every valid n is 188 + 16k: True | smallest input for a 388 output: 572

# %% [markdown]
# Four poolings must each see an even size, so valid inputs come every $2^4 = 16$ pixels, and the
# output is always the input minus 184. Note also that **no valid output is a multiple of 16**
# ($388 = 24 \cdot 16 + 4$) — this matters in a moment.
#
# ### Padded and unpadded U-Nets compute the same thing inside
#
# The padded and the unpadded network have exactly the same weights (padding changes no shapes of
# parameters). Away from the border, a padded convolution *is* a valid one, so the unpadded network
# computes exactly the padded network's output on the pixels whose whole receptive field lies inside
# the image — the pixels that never saw a padding zero. We check it on minseg's trained U-Net (a
# padded, depth-3 network, whose inputs must be multiples of 8); its unpadded twin turns a 124×124
# input into a 36×36 output, 44 pixels in. We cut the 124×124 window out of a 136×136 scene at
# offset `o` and compare with the padded network's output on the whole scene:

# %% tags=["nbval-ignore-output"]
unet = pretrained.load("unet")  # the padded U-Net trained on DigitScenes, in eval mode
unpadded = models.UNet(**{**unet.config, "padding": False}).eval()
unpadded.load_state_dict(unet.state_dict())
probe = DigitScenes(1, size=136, split="val", seed=1, digit_size=(16, 32)).images
with ms.no_grad():
    whole = unet(ms.tensor(probe)).data
    for o in (2, 4):
        inside = unpadded(ms.tensor(np.ascontiguousarray(probe[..., o:o + 124, o:o + 124]))).data
        difference = np.abs(whole[..., o + 44:o + 80, o + 44:o + 80] - inside).max()
        print(f"offset {o:2d}: unpadded {inside.shape[-2:]} vs the padded output there: "
              f"largest difference {difference:.1e}")

# %% [markdown]
# At offset 2 the two agree (up to rounding, if not exactly); at 4 they do not. The
# unpadded network's first max-pool groups the pixels of its map after two convolutions, which
# starts 2 pixels into its input; the padded network pools pairs (0, 1), (2, 3), … of the whole
# scene. Only when the window's offset puts *every* level's pooling on the same 2×2 groups —
# offsets $2 + 8k$ for three poolings — do both networks compute the same thing. Keep that in mind
# for the tiles below.

# %% [markdown]
# ## 4. Overlap-tile: segmenting an image larger than a tile
#
# For an image larger than what fits in memory (the paper's microscopy images), U-Net is applied tile
# by tile, with no need to rescale the image: each output tile is computed from an input tile that
# has the missing context around it.
# At the image border that context does not exist, so U-Net **mirrors** the image: the pixels beyond
# the edge are a reflection of those inside (`F.pad(..., mode='reflect')`, which does not repeat the
# edge pixel, as `numpy.pad(mode='reflect')` and torch's `reflect`). One line against PyTorch:

# %% tags=["nbval-ignore-output"]
scene = DigitScenes(1, size=192, split="val", seed=3, digits_per_scene=(10, 14), digit_size=(16, 32))
check_op(F.pad, [scene.images], torch.nn.functional.pad, kwargs=dict(pad=(44, 44, 44, 44), mode="reflect"),
         gradcheck_inputs=False, atol=1e-5)  # a whole scene: no finite differences, torch's gradient only
print("F.pad(mode='reflect') equals torch's, forward and backward")

# %% [markdown]
# Two details make the tiles fit together *exactly*:
#
# 1. **The step between tiles must be a multiple of $2^{\text{depth}}$.** The network is only
#    shift-equivariant for shifts that move every max-pool grid by whole cells; a tile shifted by
#    any other amount pools different 2×2 groups and gives (slightly) different answers.
# 2. Since no valid output is a multiple of $2^{\text{depth}}$, each tile's output is a few pixels
#    larger than the step (68 for a step of 64 at depth 3, as 388 is for a step of 384 at depth 4).
#    Those extra pixels are the next tile's first ones, and equal to them; we keep the first
#    step × step block of every tile.
#
# Then overlap-tile inference equals **one pass of the network over the whole mirror-padded image**,
# only in pieces. `UNet.tile_layout` gives the geometry, `UNet.predict_tiles` runs it:

# %% tags=["nbval-check-output"]
layout = unpadded.tile_layout((192, 192), tile=64)
print(layout)
print("np.pad widths (rows, cols):", layout.pad_width)
# Expected output:
# TileLayout(tile=64, input_tile=156, output_tile=68, margin=44, rows=3, cols=3, height=192, width=192)
# np.pad widths (rows, cols): ((44, 48), (44, 48))

# %% tags=["nbval-ignore-output"]
tiled = unpadded.predict_tiles(scene.images, tile=64)
padded_scene = np.pad(scene.images, ((0, 0), (0, 0)) + layout.pad_width, mode="reflect")
with ms.no_grad():
    one_pass = unpadded(ms.tensor(padded_scene)).data[:, :, :192, :192]
print("tiled", tiled.shape, "vs one pass over the padded", padded_scene.shape[-2:], "image:",
      f"largest difference {np.abs(tiled - one_pass).max():.1e}")
print(f"pixel accuracy of the stitched prediction: {(tiled.argmax(1) == scene.masks).mean():.3f}")

# %% [markdown]
# The explorer walks the nine tiles (press ▶). Left: the mirror-padded scene (the real image dashed),
# the window a tile reads (red) and the block it fills (green). Then the input tile, its mirrored
# context pale; the output block; and the prediction stitched so far.

# %% tags=["nbval-ignore-output"]
tiles = edviz.TileExplorer(unpadded, scene.images[0], tile=64)
tiles.widget()

# %% tags=["nbval-ignore-output"]
tiles.static_figure()

# %% [markdown]
# **Exercise (overlap_tile).** Write `overlap_tile(net, image, tile, input_tile, margin)`: `net` maps
# a `(C, input_tile, input_tile)` ndarray to `(K, s, s)` scores with $s \ge$ `tile`; `image` is
# `(C, H, W)`. Mirror-pad the image (`np.pad(..., mode='reflect')`) by `margin` on the top and left,
# and on the bottom and right by as much as the last tile needs (the tiles' top-left corners are at
# multiples of `tile` in the padded image); run `net` on every window, keep the first `tile` × `tile`
# of its output, stitch, and return the `(K, H, W)` scores. `UNet.predict_tiles` (through
# `UNet.tile_layout`) is unavailable while the check runs.

# %%
def overlap_tile(net, image, tile, input_tile, margin):
    """Overlap-tile inference: (C, H, W) image -> (K, H, W) scores from tiles of the mirrored image."""
    _, h, w = image.shape
    rows, cols = -(-h // tile), -(-w // tile)
    ### BEGIN SOLUTION hint: bottom pad (rows - 1) * tile + input_tile - margin - h; tile (i, j) at i*tile, j*tile
    bottom, right = (rows - 1) * tile + input_tile - margin - h, (cols - 1) * tile + input_tile - margin - w
    padded = np.pad(image, ((0, 0), (margin, bottom), (margin, right)), mode="reflect")
    out = None
    for i in range(rows):
        for j in range(cols):
            scores = net(padded[:, i * tile:i * tile + input_tile, j * tile:j * tile + input_tile])
            if out is None:
                out = np.zeros((scores.shape[0], rows * tile, cols * tile), scores.dtype)
            out[:, i * tile:(i + 1) * tile, j * tile:(j + 1) * tile] = scores[:, :tile, :tile]
    return out[:, :h, :w]
    ### END SOLUTION


# %% grade_id="overlap_tile"
import numpy as np

import minseg as ms
from minseg import models
from minseg.testing import unavailable


def _box3(window):
    """A toy 'network': the valid 3 x 3 box sum (margin 1), one channel in and out."""
    h, w = window.shape[1] - 2, window.shape[2] - 2
    return sum(window[:, i:i + h, j:j + w] for i in range(3) for j in range(3))


_rng = np.random.default_rng(6)
_img = _rng.integers(0, 9, size=(1, 5, 7)).astype(np.float64)
_mirrored = np.pad(_img, ((0, 0), (1, 1), (1, 1)), mode="reflect")
_expected_box = _box3(_mirrored)  # one pass over the mirror-padded image
ms.manual_seed(7)
_net = models.UNet(3, width=2, depth=3, padding=False).eval()


def _unet(window):
    with ms.no_grad():
        return _net(ms.tensor(np.ascontiguousarray(window)[None])).data[0]


_scene = _rng.random((3, 40, 29)).astype(np.float32)
_lay = _net.tile_layout((40, 29), 16)  # input tile 108, output 20 >= 16, margin 44
_whole = _unet(np.pad(_scene, ((0, 0),) + _lay.pad_width, mode="reflect"))[:, :40, :29]
with unavailable(models.UNet.tile_layout):
    _got = overlap_tile(_box3, _img, 2, 4, 1)
    np.testing.assert_allclose(_got, _expected_box, err_msg=f"3x3 box sum of the 5x7 image "
                               f"{_img[0].tolist()} with tile 2, input tile 4, margin 1")
    _got = overlap_tile(_unet, _scene, 16, _lay.input_tile, _lay.margin)
    assert _got.shape == (3, 40, 29), f"expected (3, 40, 29) scores, got {_got.shape}"
    np.testing.assert_allclose(_got, _whole, rtol=1e-4, atol=1e-5,
                               err_msg="a depth-3 U-Net on a 40x29 image, tile 16: tiles vs one pass "
                                       "over the padded image")
    ### BEGIN HIDDEN TESTS
    for _tile, _h, _w in ((1, 3, 4), (3, 7, 5), (4, 4, 9)):
        _x = _rng.normal(size=(2, _h, _w))
        _want = _box3(np.pad(_x, ((0, 0), (1, 1), (1, 1)), mode="reflect"))
        np.testing.assert_allclose(overlap_tile(_box3, _x, _tile, _tile + 2, 1), _want,
                                   err_msg=f"box sum, image {_h}x{_w}, tile {_tile}")
    ### END HIDDEN TESTS
print("overlap_tile equals one pass over the mirror-padded image")

# %% [markdown]
# ## 5. The border weight map: make the gaps between objects count
#
# In the paper's cell images, touching cells of one class must still come out *separated* by a thin
# line of background — a line only a few pixels wide, which a plain per-pixel loss barely notices.
# U-Net therefore weights the cross-entropy of every pixel $x$ by
#
# $$w(x) = w_c(x) + w_0 \exp\left(-\frac{(d_1(x) + d_2(x))^2}{2\sigma^2}\right)$$
#
# where $d_1(x)$ and $d_2(x)$ are the distances from background pixel $x$ to the nearest and the
# second-nearest object, and $w_c$ balances the class frequencies (here: background and objects
# each get half the total weight, $w_c = n / (2 n_c)$). The paper uses $w_0 = 10$ and
# $\sigma \approx 5$ pixels. The border term is large only where two objects are *both* close: in the
# narrow gaps. `F.unet_weight_map(instances, w0, sigma)` computes it from an instance map (0 =
# background, 1, 2, … = objects).
#
# A tiny example by hand: one row `[1, 0, 0, 0, 2]`. Every gap pixel has $d_1 + d_2 = 4$, so its
# border term is $10\,e^{-16/50} = 7.2615$; the two objects weigh $5/4$ and the three background
# pixels $5/6$ before the border term:

# %% tags=["nbval-check-output"]
print(np.round(F.unet_weight_map(np.array([[1, 0, 0, 0, 2]]), w0=10.0, sigma=5.0), 4))
print(np.round([5 / 4, 5 / 6 + 10 * np.exp(-16 / 50)], 4))
# Expected output:
# [[1.25   8.0948 8.0948 8.0948 1.25  ]]
# [1.25   8.0948]

# %% [markdown]
# DigitScenes never lets two digits touch, but with many digits in a scene some come within one or
# two pixels of each other — exactly U-Net's situation. We pick the scene with the most digits that
# close to a neighbour:

# %% tags=["nbval-check-output"]
from scipy import ndimage

crowd = DigitScenes(40, size=64, split="val", seed=5, digits_per_scene=(5, 8), digit_size=(16, 28))


def instance_map(instances):
    """(H, W) instance ids (0 = background) from a DigitScenes instance dict."""
    return (instances["masks"] * np.arange(1, len(instances["masks"]) + 1)[:, None, None]).sum(0)


def close_pairs(instances, within=2.5):
    """How many digits have another digit within ``within`` pixels."""
    masks = instances["masks"]
    distance = [ndimage.distance_transform_edt(~m) for m in masks]
    return sum(any(distance[a][masks[b]].min() <= within for b in range(len(masks)) if b != a)
               for a in range(len(masks)))


crowded = max(range(len(crowd)), key=lambda i: close_pairs(crowd.instances[i]))
crowd_ids = instance_map(crowd.instances[crowded])
crowd_weights = F.unet_weight_map(crowd_ids, w0=10.0, sigma=5.0)
print(f"scene {crowded}: {crowd_ids.max()} digits, {close_pairs(crowd.instances[crowded])} of them within "
      f"2.5 px of another; weights from {crowd_weights.min():.2f} to {crowd_weights.max():.2f}")
# Expected output:
# scene 8: 7 digits, 7 of them within 2.5 px of another; weights from 0.67 to 9.90

# %% [markdown]
# Move $w_0$ and $\sigma$: $w_0$ sets how much a gap pixel weighs at most, $\sigma$ how far from the
# objects the extra weight reaches (with a small $\sigma$ only the one-pixel gaps light up; with a
# large one the whole space between neighbouring digits does). The right panel follows the row through
# the heaviest pixel.

# %% tags=["nbval-ignore-output"]
weight_maps = edviz.WeightMapExplorer(crowd.images[crowded], crowd_ids)
weight_maps.widget()

# %% tags=["nbval-ignore-output"]
weight_maps.static_figure()

# %% [markdown]
# **Exercise (weight_map).** Write `border_weight_map(instances, w0=10.0, sigma=5.0)` for an `(H, W)`
# integer instance map: the class balance $w_c$ ($n / (2 n_\text{objects})$ on object pixels,
# $n / (2 n_\text{background})$ on background pixels; all ones if either is empty) plus, on
# background pixels and only when there are at least two objects, the border term with the two
# smallest distances to the objects. `scipy.ndimage.distance_transform_edt(labels != i)` gives every
# pixel's distance to object `i`. `F.unet_weight_map` is unavailable while the check runs.

# %%
def border_weight_map(instances, w0=10.0, sigma=5.0):
    """U-Net's loss weight map of an (H, W) instance map (0 = background): float array (H, W)."""
    from scipy import ndimage

    instances = np.asarray(instances)
    ### BEGIN SOLUTION hint: np.partition(distances, 1, axis=0)[:2] gives d1 and d2 at every pixel
    foreground = instances > 0
    n, n_fg = instances.size, foreground.sum()
    if 0 < n_fg < n:
        weights = np.where(foreground, n / (2 * n_fg), n / (2 * (n - n_fg)))
    else:
        weights = np.ones(instances.shape)
    ids = np.unique(instances[foreground])
    if len(ids) >= 2:
        distances = np.stack([ndimage.distance_transform_edt(instances != i) for i in ids])
        d1, d2 = np.partition(distances, 1, axis=0)[:2]
        weights = weights + np.where(foreground, 0.0, w0 * np.exp(-(d1 + d2) ** 2 / (2 * sigma ** 2)))
    return weights
    ### END SOLUTION


# %% grade_id="weight_map"
import numpy as np

import minseg.functional as F
from minseg.data import DigitScenes
from minseg.testing import unavailable

_row = np.array([[1, 0, 0, 0, 2]])
_hand = [[5 / 4] + [5 / 6 + 10 * np.exp(-16 / 50)] * 3 + [5 / 4]]
_single = np.zeros((4, 4), np.int64)
_single[1:3, 1:3] = 1
_rng = np.random.default_rng(8)
_cases = []
for _seed in range(3):
    _scenes = DigitScenes(2, size=40, split="val", seed=_seed, digits_per_scene=(3, 6), digit_size=(10, 18))
    for _inst in _scenes.instances:
        _ids = (_inst["masks"] * np.arange(1, len(_inst["masks"]) + 1)[:, None, None]).sum(0)
        _w0, _sigma = float(_rng.uniform(1, 15)), float(_rng.uniform(1, 8))
        _cases.append((_ids, _w0, _sigma, F.unet_weight_map(_ids, w0=_w0, sigma=_sigma)))
with unavailable(F.unet_weight_map):
    np.testing.assert_allclose(border_weight_map(_row), _hand, rtol=1e-6,
                               err_msg="instances [[1, 0, 0, 0, 2]], w0 = 10, sigma = 5 (by hand above)")
    np.testing.assert_allclose(border_weight_map(_single), np.where(_single > 0, 16 / 8, 16 / 24), rtol=1e-6,
                               err_msg="one object: only the class balance, 16 / (2 * 4) and 16 / (2 * 12)")
    for _ids, _w0, _sigma, _want in _cases:
        np.testing.assert_allclose(border_weight_map(_ids, _w0, _sigma), _want, rtol=1e-5, atol=1e-5,
                                   err_msg=f"a DigitScenes instance map with {_ids.max()} digits, "
                                           f"w0 = {_w0:.2f}, sigma = {_sigma:.2f}")
print("border_weight_map agrees with the hand example and with F.unet_weight_map")

# %% [markdown]
# The map enters the loss pixel by pixel: `(w * F.cross_entropy(logits, target, reduction='none')).mean()`.
# On the crowded scene, the trained U-Net's mistakes in the gaps weigh more under that loss:

# %% tags=["nbval-ignore-output"]
with ms.no_grad():
    crowd_logits = unet(ms.tensor(crowd.images[crowded:crowded + 1]))
    crowd_target = ms.tensor(crowd.masks[crowded:crowded + 1])
    pixel_loss = F.cross_entropy(crowd_logits, crowd_target, reduction="none").data[0]
weighted_loss = crowd_weights * pixel_loss
gaps = crowd_weights > 5
print(f"plain loss {pixel_loss.mean():.3f}, weighted loss {weighted_loss.mean():.3f}; the {gaps.sum()} gap "
      f"pixels (w > 5) carry {pixel_loss[gaps].sum() / pixel_loss.sum():.0%} of the plain loss and "
      f"{weighted_loss[gaps].sum() / weighted_loss.sum():.0%} of the weighted one")

# %% [markdown]
# ## 6. SegNet: remember where the maximum was
#
# SegNet (Badrinarayanan, Kendall & Cipolla, 2017) uses VGG-16's 13 convolutions as its encoder
# (with batch norm) and a mirror-image decoder. Its one idea: when an encoder max-pool picks the
# largest of each 2×2 window, it also **remembers which of the four** it was. The decoder's
# *max-unpooling* puts each value back exactly there and zeros in the other three ("bed of nails"
# with the nails where the maxima were), then convolutions fill in the sparse map. Upsampling needs no
# weights at all, and boundaries come back where the encoder saw them. (The SegNet paper also
# studies decoder designs, FCN's among them, and argues for this one: less to learn, less to store,
# cleaner boundaries.) The slides' example, on a 4×4 feature map pooled to 2×2 and unpooled:

# %% tags=["nbval-check-output"]
feature = ms.tensor(np.array([[[[0, 1, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 4]]]], np.float32))
pooled, indices = F.max_pool2d(feature, 2, return_indices=True)
print("pooled:", pooled.data[0, 0].tolist(), " indices:", indices.numpy()[0, 0].tolist())
print(F.max_unpool2d(pooled, indices, 2).data[0, 0].astype(int))
# Expected output:
# pooled: [[1.0, 2.0], [3.0, 4.0]]  indices: [[1, 6], [9, 15]]
# [[0 1 0 0]
#  [0 0 2 0]
#  [0 3 0 0]
#  [0 0 0 4]]

# %% [markdown]
# The indices are flat positions in each $H \times W$ plane (as in PyTorch): 6 is row 1, column 2.
# minseg's pooling with indices and unpooling against PyTorch's, forward and backward, in one line:

# %% tags=["nbval-ignore-output"]
def pool_and_unpool(lib):
    """x -> max-pool 2x2 with indices -> max-unpool back to 7 x 9, in minseg (F) or torch."""
    return lambda x: lib.max_unpool2d(*lib.max_pool2d(x, 2, return_indices=True), 2, output_size=(7, 9))


check_op(pool_and_unpool(F), [np.random.default_rng(9).normal(size=(2, 3, 7, 9))],
         pool_and_unpool(torch.nn.functional))
print("max_pool2d(return_indices=True) + max_unpool2d equal torch's, forward and backward")

# %% [markdown]
# A decoder stage of `minseg.models.SegNet` unpools with the indices of the encoder stage of the same
# level (and that stage's size, which may be odd), then runs its 3×3 convolutions with batch norm
# and ReLU. Walk the trained SegNet's encoder and keep what the decoder will need:

# %% tags=["nbval-ignore-output"]
segnet = pretrained.load("segnet")
x = ms.tensor(crowd.images[:1])
remembered = []
with ms.no_grad():
    for stage in segnet.encoders:
        x = stage(x)
        size = tuple(x.shape[-2:])
        x, stage_indices = F.max_pool2d(x, 2, 2, return_indices=True)
        remembered.append((stage_indices, size))
        print(f"encoder stage: {size} -> pooled {tuple(x.shape[1:])}, indices {stage_indices.dtype} "
              f"{stage_indices.shape}")
    first = segnet.decoders[0]
    step = first(F.max_unpool2d(x, remembered[-1][0], 2, 2, output_size=remembered[-1][1]))
print("first decoder step:", tuple(x.shape[1:]), "-> unpool", remembered[-1][1], "-> convolutions",
      tuple(step.shape[1:]))

# %% [markdown]
# **Exercise (segnet_decoder).** Write `segnet_decoder_step(x, indices, output_size, weight, bias)` for
# minseg tensors: max-unpool `x` `(N, C, h, w)` with the encoder's 2×2 stride-2 `indices` (an int64
# ndarray of `x`'s shape, flat positions in each output plane) to
# `output_size` `(H, W)`, then a 3×3 convolution with padding 1 (`weight` `(O, C, 3, 3)`, `bias`
# `(O,)`) and a ReLU. **Build the unpooling yourself** — `F.max_unpool2d` is unavailable while the
# check runs: a 0/1 mask of the remembered positions (an ndarray built from `indices`) times `x`
# repeated 2×2 (`F.interpolate(x, scale_factor=2)`, padded with zeros to `(H, W)` by `F.pad` when
# $H$ or $W$ is odd) is the unpooled map, and gradients flow through it.

# %%
def segnet_decoder_step(x, indices, output_size, weight, bias):
    """One SegNet decoder step: max-unpool with the encoder's indices, 3x3 conv (padding 1), ReLU."""
    n, c, h, w = x.shape
    height, width = output_size
    ### BEGIN SOLUTION hint: mask = zeros (N*C, H*W); mask[row, indices.reshape(N*C, -1)] = 1 per plane
    mask = np.zeros((n * c, height * width), np.float32)
    np.put_along_axis(mask, np.asarray(indices).reshape(n * c, -1), 1.0, axis=1)
    repeated = F.pad(F.interpolate(x, scale_factor=2), (0, width - 2 * w, 0, height - 2 * h))
    unpooled = repeated * ms.tensor(mask.reshape(n, c, height, width).astype(x.dtype))
    return F.relu(F.conv2d(unpooled, weight, bias, padding=1))
    ### END SOLUTION


# %% grade_id="segnet_decoder"
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg.testing import check_op, unavailable


def _decoder_step(x, indices, weight, bias, output_size):
    """Your segnet_decoder_step, its tensors first for check_op (indices as the int64 ndarray)."""
    return segnet_decoder_step(x, indices.numpy(), output_size, weight, bias)


def _torch_decoder_step(x, indices, weight, bias, output_size):
    """The expected step, in PyTorch: max_unpool2d, the 3x3 convolution (padding 1), ReLU."""
    _unpooled = torch.nn.functional.max_unpool2d(x, indices, 2, output_size=output_size)
    return torch.relu(torch.nn.functional.conv2d(_unpooled, weight, bias, padding=1))


_rng = np.random.default_rng(10)
# the slides' example: a 1x1 'identity' 3x3 kernel shows the unpooled map itself
_feature = torch.tensor([[[[0.0, 1, 0, 0], [0, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 4]]]])
_p, _i = torch.nn.functional.max_pool2d(_feature, 2, return_indices=True)
_identity = np.zeros((1, 1, 3, 3), np.float32)
_identity[0, 0, 1, 1] = 1
_cases = []
for _size in ((8, 6), (7, 9), (5, 5)):  # encoder maps; odd sizes unpool to a zero last row / column
    _pooled, _indices = torch.nn.functional.max_pool2d(torch.tensor(_rng.normal(size=(2, 3) + _size)), 2,
                                                       return_indices=True)
    _cases.append((_size, [_pooled.numpy(), _indices.numpy(), _rng.normal(size=(4, 3, 3, 3)),
                           _rng.normal(size=4)]))
with unavailable(F.max_unpool2d):
    _out = segnet_decoder_step(ms.tensor(_p.numpy()), _i.numpy(), (4, 4), ms.tensor(_identity),
                               ms.tensor(np.zeros(1, np.float32)))
    np.testing.assert_allclose(_out.data[0, 0], _feature[0, 0].numpy(),
                               err_msg="the slides' 4x4 map: pooled [[1, 2], [3, 4]] must unpool to "
                                       "where the maxima were")
    for _size, _inputs in _cases:  # the output, then the gradients of x, weight and bias, against torch
        check_op(_decoder_step, _inputs, _torch_decoder_step, kwargs=dict(output_size=_size),
                 gradcheck_inputs=False)
print("segnet_decoder_step unpools the slides' example and agrees with torch, forward and backward")

# %% [markdown]
# ### What indices save: counting bytes
#
# A decoder that reuses the encoder needs *something* of every encoder stage kept in memory until it
# runs. U-Net keeps whole feature maps (float32, 4 bytes a value), and so would an FCN-style
# decoder that reused every stage (the SegNet paper's comparison); FCN-8s itself keeps only pool3 and
# pool4. SegNet keeps, per 2×2 window, which of 4 positions won: **2 bits**. For VGG-16's encoder on a
# CamVid image (360×480), stage by stage:

# %% tags=["nbval-check-output"]
def encoder_memory(height, width, channels=(64, 128, 256, 512, 512)):
    """Per VGG stage: the pre-pooling feature map in float32 bytes, and its max-pool indices at 2 bits
    per 2x2 window and as int64 (the way minseg and PyTorch hold them), in bytes."""
    rows = []
    for c in channels:
        windows = c * (height // 2) * (width // 2)
        rows.append((c, height, width, 4 * c * height * width, windows * 2 // 8, 8 * windows))
        height, width = height // 2, width // 2
    return rows


print(f"{'stage':>5} {'map':>13} {'features (MB)':>14} {'indices 2 bit (MB)':>19} {'int64 (MB)':>11}")
memory = encoder_memory(360, 480)
for stage, (c, h, w, feat, bits, int64) in enumerate(memory, 1):
    print(f"{stage:>5} {f'{c}x{h}x{w}':>13} {feat / 1e6:>14.2f} {bits / 1e6:>19.3f} {int64 / 1e6:>11.2f}")
total_features, total_bits = sum(r[3] for r in memory), sum(r[4] for r in memory)
print(f"total: features {total_features / 1e6:.1f} MB, indices {total_bits / 1e6:.2f} MB "
      f"({total_features / total_bits:.0f}x less); FCN-8s's pool3 + pool4 "
      f"{4 * (256 * 45 * 60 + 512 * 22 * 30) / 1e6:.2f} MB")
# Expected output:
# stage           map  features (MB)  indices 2 bit (MB)  int64 (MB)
#     1    64x360x480          44.24               0.691       22.12
#     2   128x180x240          22.12               0.346       11.06
#     3    256x90x120          11.06               0.173        5.53
#     4     512x45x60           5.53               0.084        2.70
#     5     512x22x30           1.35               0.021        0.68
# total: features 84.3 MB, indices 1.32 MB (64x less); FCN-8s's pool3 + pool4 4.12 MB

# %% [markdown]
# 2 bits per window against 4 float32 values is a factor of 64. (Frameworks, minseg included, store
# indices as 8-byte integers for convenience, which throws most of that saving away; the factor is
# what a memory-conscious implementation can reach.)
#
# ## 7. FCN-8s, U-Net and SegNet on DigitScenes
#
# The SegNet paper compares methods on CamVid's 11 road-scene classes with these columns (slide deck
# 001, SegNet's row):

# %% tags=["nbval-check-output"]
camvid_classes = ["Building", "Tree", "Sky", "Car", "Sign-Symbol", "Road", "Pedestrian", "Fence",
                  "Column-Pole", "Side-walk", "Bicyclist"]
segnet_camvid = [89.6, 83.4, 96.1, 87.7, 52.7, 96.4, 62.2, 53.45, 32.1, 93.3, 36.5]
print("SegNet on CamVid, per-class accuracy:")
for start in range(0, 11, 4):
    four = zip(camvid_classes[start:start + 4], segnet_camvid[start:start + 4])
    print("  " + ", ".join(f"{c} {a}" for c, a in four))
print(f"class average = mean of the 11 = {np.mean(segnet_camvid):.2f} (table: 71.20); global average 90.40, "
      "mIoU 60.10, BF 46.84")
# Expected output:
# SegNet on CamVid, per-class accuracy:
#   Building 89.6, Tree 83.4, Sky 96.1, Car 87.7
#   Sign-Symbol 52.7, Road 96.4, Pedestrian 62.2, Fence 53.45
#   Column-Pole 32.1, Side-walk 93.3, Bicyclist 36.5
# class average = mean of the 11 = 71.22 (table: 71.20); global average 90.40, mIoU 60.10, BF 46.84

# %% [markdown]
# - **per-class accuracy**: the fraction of each class's pixels labelled correctly (recall);
# - **class average**: their mean — every class counts the same, however small;
# - **global average**: the fraction of all pixels right (pixel accuracy) — dominated by big classes;
# - **mIoU**: mean intersection over union (lecture 01), which also punishes false positives;
# - **BF** (boundary F1): per image and class, the F1 score of boundary pixels matched within a
#   tolerance (`minseg.metrics.boundary_f1`): precision = predicted boundary pixels near a true one,
#   recall = true boundary pixels near a predicted one. It scores the *shape* of the segments.
#
# DigitScenes also has 11 classes (background and ten digits). Training these networks well takes
# minutes of CPU time, not the seconds a lecture cell may take, so we load the weights shipped with
# minseg (`minseg.models.pretrained`); each comes with the record of how it was made:

# %% tags=["nbval-ignore-output"]
for name in ("fcn8s", "unet", "segnet"):
    made = pretrained.available()[name]
    print(f"{name:>6}: {made['class']} {made['config']}")
    print(f"        {made['steps']} steps, {made['minutes']:.0f} min; reproduce with: {made['command']}")

# %% [markdown]
# The three models on the same 32 validation scenes, every score computed here from their
# predictions (`SegmentationMetrics`, with boundary F1 at a tolerance of 2 pixels):

# %% tags=["nbval-ignore-output"]
val = DigitScenes(32, size=64, split="val", seed=11)
trained = {"FCN-8s": pretrained.load("fcn8s"), "U-Net": unet, "SegNet": segnet}
predictions, scores = {}, {}
for name, model in trained.items():
    predictions[name] = predict(model, val.images).argmax(1)
    tally = metrics.SegmentationMetrics(NUM_CLASSES, class_names=CLASSES, boundary_tolerance=2.0)
    tally.update(predictions[name], val.masks)
    scores[name] = tally.compute()
header = f"{'method':<7}" + "".join(f"{c[:4]:>6}" for c in CLASSES) + "  class avg  global avg   mIoU     BF"
print(header)
for name, r in scores.items():
    print(f"{name:<7}" + "".join(f"{100 * v:6.1f}" for v in r["class_recall"])
          + f"  {100 * r['class_accuracy']:9.1f}  {100 * r['pixel_accuracy']:10.1f}"
          + f"  {100 * r['mean_iou']:5.1f}  {100 * r['boundary_f1']:5.1f}")
print("per-class accuracy in %, by class: background, then the digits 0 ... 9")

# %% [markdown]
# Read the table as the SegNet paper reads its own. The global average is the easiest number to make
# high — most pixels are background — so compare it with the class average, where each digit counts
# as much as the background. mIoU also charges every pixel wrongly given to a class. BF asks whether
# the segments' *edges* sit where the digits' edges are, which the region scores barely see. How
# high each number is depends on how long each model was trained (the records above), so read the
# columns against each other rather than the models as a final ranking.
#
# The pictures show the same scenes: every predicted boundary is drawn on the label map, white
# where a true boundary lies within 2 pixels, red where none does, with the boundary precision and
# recall (class-agnostic, the two halves of BF) under each panel. A model whose few boundaries are
# all in the right places has a high precision and a low recall: BF needs both.

# %% tags=["nbval-ignore-output"]
edviz.draw_predictions(val.images[:3], val.masks[:3], {name: p[:3] for name, p in predictions.items()},
                       NUM_CLASSES)

# %% [markdown]
# ## What to remember
#
# - An encoder–decoder gathers context by downsampling and gives the decoder something of the encoder
#   to localise with: FCN adds skip **scores**, U-Net **concatenates** cropped feature maps, SegNet
#   reuses **pooling indices**.
# - Unpadded U-Net: −2 per 3×3 convolution, halving at each max-pool (which needs an even size),
#   $2n - 4$ per up level; 572 → 388 at depth 4, valid inputs $188 + 16k$. Every output sees only
#   real pixels, so the border needs context that is not there.
# - Overlap-tile with mirrored context, tiles a multiple of $2^{\text{depth}}$ apart, equals one
#   pass over the mirror-padded image; padded and unpadded U-Nets agree wherever the padded one saw
#   no padding.
# - $w(x) = w_c(x) + w_0 e^{-(d_1 + d_2)^2/2\sigma^2}$ ($w_0 = 10$, $\sigma \approx 5$) makes the
#   thin gaps between touching objects expensive to get wrong.
# - SegNet's max-unpooling needs no weights, only 2 bits per 2×2 window — 64 times less than keeping
#   the float32 feature maps.
# - Class average, global average, mIoU and BF measure different things; boundary F1 rewards
#   decoders that put edges in the right place.
#
# ## Questions to think about
#
# 1. U-Net's up-convolutions are learned; SegNet's unpooling is not. What could each do that the other
#    cannot, and what does each cost in parameters and memory?
# 2. Why must the tiles of overlap-tile inference be a multiple of $2^{\text{depth}}$ apart, and what
#    would you see in the stitched prediction if they were not?
# 3. Mirroring invents context at the border. When could a mirrored context mislead the network
#    (think of an object cut by the image edge)?
# 4. The border weight map needs *instance* labels. How would you get the benefit for a semantic
#    label map where touching objects of one class have merged?
