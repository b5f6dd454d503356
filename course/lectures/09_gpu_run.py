# %% [markdown]
# # Lecture 09 — The GPU run: full-size networks in PyTorch, checked against minseg
#
# Everything so far ran on minseg, at CPU scale: networks a few hundred thousand parameters wide, on
# 64×64 scenes. The papers' networks are a hundred times wider and their images sixteen times larger.
# That is GPU work, and the tool for it is PyTorch. This lecture trains the full-size FCN-8s, U-Net and
# DeepLab v3+ (the *same architecture source* as minseg's models, built on `torch.nn`) and torchvision's
# own `fcn_resnet50` and `deeplabv3_resnet50` on 256×256 DigitScenes, then brings the trained weights
# back into minseg and shows that the engine you built computes the same logits.
#
# **You will be able to**
# - say what changes at full scale: widths, batch norm, mixed precision, memory, throughput;
# - count the memory of a network's activations for a batch and an image size, and check it;
# - compute training throughput (images/s) from step timings, and what warm-up does to it;
# - move a state_dict between PyTorch (including a DDP-wrapped model) and minseg;
# - combine evaluation results from several GPUs correctly.
#
# The four **Exercise** cells are graded (see the grading note above and the last cell).

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minseg as ms
import minseg.functional as F
from minseg import metrics
from minseg.reference import gpu_run, interop
from minseg.testing import check_op
from minseg.viz import gpu_memory

GPU = torch.cuda.is_available()
print("GPU:", torch.cuda.get_device_name() if GPU else "none (the live run below uses the tiny CPU scale)")

# %% [markdown]
# ## 1. What changes at full scale
#
# The lectures' CPU presets and the papers' networks are the same code with other widths. Count the
# parameters of both (the full-size models are built on PyTorch's *meta* device: shapes only, no memory):

# %% tags=["nbval-check-output"]
for name in gpu_run.TWINS:
    full_model = gpu_run.build_model(name, "full", device="meta")
    print(f"{name:14s} full size {sum(p.numel() for p in full_model.parameters()) / 1e6:7.2f} M parameters")
print(f"FCN-8s's fc6 alone: {4096 * 512 * 7 * 7 / 1e6:.1f} M weights")
# Expected output:
# fcn8s          full size  134.35 M parameters
# unet           full size   31.04 M parameters
# deeplabv3plus  full size   12.33 M parameters
# FCN-8s's fc6 alone: 102.8 M weights

# %% tags=["nbval-ignore-output"]
for name in gpu_run.TWINS:
    counts = [sum(p.numel() for p in gpu_run.build_model(name, scale, device="meta").parameters())
              for scale in ("cpu", "full")]
    print(f"{name:14s} CPU preset {counts[0] / 1e6:5.2f} M -> full size x{counts[1] / counts[0]:.0f}")

# %% [markdown]
# FCN-8s is big because of `fc6`, the convolutionalised 4096×512×7×7 layer of VGG-16. What else
# changes:
#
# - **Batch norm** lets a deep network train from scratch with a large learning rate; the runner adds
#   it to FCN-8s (VGG-16-BN), which in a few minutes from scratch would otherwise barely move.
# - **Mixed precision.** Under `torch.autocast(dtype=torch.bfloat16)` matrix products run in bf16:
#   8 exponent bits (float32's range) and 7 mantissa bits (about 2–3 decimal digits). The weights,
#   the loss and the optimizer stay float32. bf16 needs no loss scaling (float16, with 5 exponent bits,
#   underflows small gradients), and halves the bytes of the activations kept for the backward pass.
# - **channels_last** stores a batch as N·H·W·C, the layout the GPU's tensor cores read fastest;
#   `torch.backends.cudnn.benchmark` times the available convolution algorithms once per shape.
# - **Data on the device.** Generating a 256×256 scene takes milliseconds of Python; a big GPU
#   trains hundreds of images per second. The runner generates the scenes once and keeps them on the
#   GPU as `uint8`; a batch is an index draw plus a random flip, done on the GPU.
#
# Here is how much precision bf16 keeps:

# %% tags=["nbval-check-output"]
value = torch.tensor([1 / 3, 1000.7, 1e-20], dtype=torch.float32)
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    print(f"{str(dtype):15s}", [f"{v:.6g}" for v in value.to(dtype).float().tolist()])
# Expected output:
# torch.float32   ['0.333333', '1000.7', '1e-20']
# torch.bfloat16  ['0.333984', '1000', '1.00056e-20']
# torch.float16   ['0.333252', '1000.5', '0']

# %% [markdown]
# ## 2. Memory: the activations dominate
#
# A training step keeps every layer's output until the backward pass has used it. For a stack of
# 3×3 convolutions with padding 1, layer $l$ outputs $B \cdot C_l \cdot h_l \cdot w_l$ values, where
# stride $s_l$ gives $h_l = \lfloor (h_{l-1} - 1)/s_l \rfloor + 1$. Weights are counted once, activations
# once *per image*: at full scale they are most of the memory.
#
# **Exercise (activation_memory).** Write `activation_bytes(layers, batch_size, height, width,
# bytes_per_value=4)`: the bytes of the outputs of a stack of 3×3, padding-1 convolutions, where
# `layers` is a list of `(out_channels, stride)` pairs.

# %%
def activation_bytes(layers, batch_size, height, width, bytes_per_value=4):
    """Bytes of every layer's output for a stack of 3x3 convolutions with padding 1."""
    ### BEGIN SOLUTION hint: keep (h, w) as you go; each layer adds batch * channels * h * w values
    total, h, w = 0, height, width
    for channels, stride in layers:
        h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
        total += batch_size * channels * h * w
    return total * bytes_per_value
    ### END SOLUTION


# %% grade_id="activation_memory"
import numpy as np

import minseg as ms
import minseg.functional as F

_case = [(64, 1), (64, 1), (128, 2)]
_got = activation_bytes(_case, 2, 8, 8)
assert _got == 81920, f"activation_bytes({_case}, batch 2, 8x8): expected 2*64*64*4 * 2 + 2*128*16*4 = 81920, got {_got}"
_got = activation_bytes([(16, 2)], 1, 5, 4, bytes_per_value=2)
assert _got == 192, f"one stride-2 layer of 16 channels on 5x4 in bf16: expected 16*3*2*2 = 192 bytes, got {_got}"
_rng = np.random.default_rng(9)
for _ in range(5):
    _layers = [(int(c), int(s)) for c, s in zip(_rng.integers(1, 6, 3), _rng.integers(1, 3, 3))]
    _b, _h, _w = (int(v) for v in _rng.integers([1, 3, 3], [3, 12, 12]))
    _x, _measured, _c = ms.tensor(_rng.random((_b, 2, _h, _w), dtype=np.float32)), 0, 2
    for _out, _s in _layers:  # measured: the bytes of minseg's own outputs of such a stack
        _x = F.conv2d(_x, ms.tensor(np.ones((_out, _c, 3, 3), np.float32)), stride=_s, padding=1)
        _measured, _c = _measured + _x.data.nbytes, _out
    _got = activation_bytes(_layers, _b, _h, _w)
    assert _got == _measured, f"layers {_layers}, batch {_b}, {_h}x{_w}: minseg's outputs hold {_measured} bytes, got {_got}"
print("activation_bytes matches the hand counts and the bytes minseg's convolutions allocate")

# %% [markdown]
# The widget below does the same count for the full-size networks: it runs each once on the meta
# device with a hook on every layer, counts its outputs per input pixel, and scales that to a batch
# and an image size, next to weights, gradients and Adam's two moment buffers (all float32). Find the
# largest batch of U-Net at 512×512 that fits a laptop's GPU; then switch activations to float32.

# %% tags=["nbval-ignore-output"]
explorer = gpu_memory.MemoryExplorer()
explorer.widget()

# %% tags=["nbval-ignore-output"]
explorer.draw("unet", batch_size=32, size=256, precision="bf16")

# %% [markdown]
# ## 3. Throughput
#
# The runner times its steps after a few warm-up steps: the first steps pay for cuDNN's algorithm
# search, memory-pool growth and (on the CPU here) Numba and kernel caches. Throughput is the images
# processed by *all* GPUs per second of the timed steps.
#
# **Exercise (throughput).** Write `images_per_second(step_seconds, batch_size, world_size=1, warmup=5)`:
# drop the first `warmup` step times, then divide the images of the remaining steps (every rank trains
# `batch_size` images a step) by their total time. Raise `ValueError` when no step is left to time.

# %%
def images_per_second(step_seconds, batch_size, world_size=1, warmup=5):
    """Training images per second over the steps after ``warmup``, summed over ``world_size`` ranks."""
    ### BEGIN SOLUTION hint: timed = step_seconds[warmup:]; images = len(timed) * batch_size * world_size
    timed = list(step_seconds)[warmup:]
    if not timed:
        raise ValueError(f"images_per_second: no step left after {warmup} warm-up steps")
    return len(timed) * batch_size * world_size / sum(timed)
    ### END SOLUTION


# %% grade_id="throughput"
_times = [3.0, 1.0, 0.5, 0.25, 0.25, 0.25]
_got = images_per_second(_times, 32, warmup=3)
assert abs(_got - 128.0) < 1e-9, f"3 timed steps of 0.25 s, batch 32: expected 96 / 0.75 = 128 images/s, got {_got}"
_got = images_per_second(_times, 32, world_size=4, warmup=3)
assert abs(_got - 512.0) < 1e-9, f"the same on 4 GPUs: expected 512 images/s, got {_got}"
_got = images_per_second([2.0, 1.0], 8, warmup=0)
assert abs(_got - 16 / 3) < 1e-9, f"no warm-up, 2 steps of batch 8 in 3 s: expected 5.333, got {_got}"
try:
    images_per_second([1.0, 1.0], 8, warmup=2)
except ValueError:
    pass
else:
    raise AssertionError("images_per_second([1.0, 1.0], 8, warmup=2) should raise ValueError: no timed step")
print("images_per_second: warm-up dropped, ranks counted")

# %% [markdown]
# ## 4. The runner
#
# `python -m minseg.reference.gpu_run --out DIR [--minutes M] [--models ...]` trains each model for its
# share of the minutes (AdamW, poly learning-rate decay over the time budget, median-frequency class
# weights), scores it on the validation scenes, then loads the trained weights into minseg and compares
# the two libraries' logits. With several GPUs, `torchrun --nproc_per_node N -m minseg.reference.gpu_run`
# runs the same code under `DistributedDataParallel`: every rank draws its own batches, gradients are
# averaged across ranks after each backward pass, and the ranks share one clock so that they take the
# same learning rates and stop at the same step (the test suite runs this on the CPU, two processes).
#
# A real GPU run is recorded in `benchmarks/results/gpu_run.md`, if one has been made:

# %% tags=["nbval-ignore-output"]
recorded = Path(ms.__file__).resolve().parents[1] / "benchmarks" / "results" / "gpu_run.md"
print(recorded.read_text() if recorded.exists() else "no GPU run recorded yet: "
      "run `python -m minseg.reference.gpu_run --out benchmarks/results/gpu_run` on a machine with a GPU")

# %% [markdown]
# Here the runner runs live: on a GPU for one minute, otherwise at its tiny CPU scale (64×64 scenes,
# the CPU presets' widths, three steps), which only shows that the code path works. Its numbers are
# then not results.

# %% tags=["nbval-ignore-output"]
run_dir = Path(tempfile.mkdtemp(prefix="gpu_run_"))  # results and weights of this live run
live = gpu_run.run(run_dir, models=("unet", "deeplabv3plus"), minutes=1.0 if GPU else None, progress=False)
print(gpu_run.format_markdown(live))

# %% [markdown]
# ## 5. Back to minseg
#
# The runner saved the trained twins' weights as float16 arrays (`weights/NAME.npz`). Load U-Net's into
# minseg's own `UNet` and into its torch twin, and compare the two libraries on validation scenes with
# the course's one comparison helper, `check_op` (outputs only, `differentiable=()`; float32, so a
# relative tolerance of about 1e-4):

# %% tags=["nbval-ignore-output"]
saved = np.load(run_dir / "weights" / "unet.npz")
torch_unet = gpu_run.build_model("unet", "full" if GPU else "cpu")
torch_unet.load_state_dict({key: torch.from_numpy(saved[key].astype(np.float32) if saved[key].dtype == np.float16
                                                  else saved[key]) for key in saved.files})
minseg_unet = interop.minseg_twin(torch_unet.eval()).eval()
scenes = gpu_run.generate_scenes(4, 64, "val", seed=0, digits=(1, 4))[0].astype(np.float32) / 255
check_op(minseg_unet, [scenes], torch_unet, differentiable=())
print("minseg's UNet gives torch's logits on the trained weights")

# %% [markdown]
# A model trained with DDP saves its weights under `module.` (the wrapper's attribute), and a bf16 or
# float16 checkpoint stores low-precision tensors.
#
# **Exercise (state_dict).** Write `to_minseg_state(state_dict)`: from a torch state_dict (tensors, maybe
# float16/bfloat16, maybe with `module.` prefixes from DDP) to a dict of NumPy arrays with the prefix
# removed, floating tensors as float32 and integer ones (BatchNorm's `num_batches_tracked`) kept.

# %%
def to_minseg_state(state_dict):
    """A torch state_dict (DDP prefixes, low-precision floats) as minseg's: name -> ndarray."""
    ### BEGIN SOLUTION hint: key.removeprefix("module."); tensor.float() before .numpy() for bf16
    out = {}
    for key, value in state_dict.items():
        value = value.detach().cpu()
        out[key.removeprefix("module.")] = value.float().numpy() if value.is_floating_point() else value.numpy()
    return out
    ### END SOLUTION


# %% grade_id="state_dict"
import numpy as np
import torch

import minseg as ms
from minseg import models

torch.manual_seed(3)
_twin = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4))
_twin(torch.randn(2, 3, 5, 5))  # BatchNorm running statistics and num_batches_tracked move
_wrapped = {f"module.{k}": v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in _twin.state_dict().items()}
_got = to_minseg_state(_wrapped)
assert sorted(_got) == sorted(_twin.state_dict()), f"keys: expected {sorted(_twin.state_dict())}, got {sorted(_got)}"
for _k, _v in _got.items():
    assert isinstance(_v, np.ndarray), f"{_k}: expected an ndarray, got {type(_v).__name__}"
    _want = _wrapped["module." + _k].float().numpy() if _wrapped["module." + _k].is_floating_point() else _wrapped["module." + _k].numpy()
    assert _v.dtype == _want.dtype, f"{_k}: expected dtype {_want.dtype}, got {_v.dtype}"
    np.testing.assert_array_equal(_v, _want, err_msg=f"values of {_k}")
_model = models.UNet(3, width=4, depth=2)
_torch_state = {k: torch.from_numpy(np.asarray(v)) for k, v in _model.state_dict().items()}
_fresh = models.UNet(3, width=4, depth=2)
_fresh.load_state_dict(to_minseg_state({"module." + k: v.half() if v.is_floating_point() else v
                                        for k, v in _torch_state.items()}))
_x = ms.tensor(np.random.default_rng(4).random((1, 3, 16, 16), dtype=np.float32))
np.testing.assert_allclose(_fresh(_x).data, _model(_x).data, rtol=1e-2, atol=1e-2,
                           err_msg="a float16 DDP checkpoint of a UNet should load and give (nearly) the same logits")
print("to_minseg_state: prefixes stripped, float32 values, integer buffers kept")

# %% [markdown]
# ## 6. Scoring on several GPUs
#
# Each rank scores its share of the validation scenes. mIoU is a ratio per class, so averaging the
# ranks' mIoUs is wrong (a rank that saw a class in one small digit counts as much as one that saw it
# everywhere). Confusion counts *add*: the runner sums the ranks' confusion matrices
# (`all_reduce`), then computes IoU once.
#
# **Exercise (rank_miou).** Write `miou_from_ranks(confusions)`: the mean IoU (over the classes that
# occur, as `metrics.mean_iou`) of the sum of a list of `(K, K)` confusion matrices (rows: truth).

# %%
def miou_from_ranks(confusions):
    """Mean IoU of the summed confusion matrices of several ranks."""
    ### BEGIN SOLUTION hint: cm = sum; IoU_k = cm[k,k] / (row_k + col_k - cm[k,k]); skip classes with 0 union
    cm = np.sum(np.asarray(confusions, dtype=np.float64), axis=0)
    union = cm.sum(0) + cm.sum(1) - np.diag(cm)
    present = union > 0
    return float(np.mean(np.diag(cm)[present] / union[present]))
    ### END SOLUTION


# %% grade_id="rank_miou"
import numpy as np

from minseg import metrics
from minseg.testing import unavailable

_a = np.array([[3, 1], [0, 0]])
_b = np.array([[0, 0], [1, 4]])
with unavailable(metrics.iou_from_confusion, metrics.mean_iou, metrics.iou):
    _got = miou_from_ranks([_a, _b])
assert abs(_got - (3 / 5 + 4 / 6) / 2) < 1e-12, f"ranks {_a.tolist()} and {_b.tolist()}: expected 0.6333, got {_got}"
_rng = np.random.default_rng(11)
for _ in range(10):
    _k, _n = int(_rng.integers(2, 6)), int(_rng.integers(1, 5))
    _preds = [_rng.integers(0, _k, 50) for _ in range(_n)]
    _truths = [_rng.integers(0, _k - 1, 50) for _ in range(_n)]
    _confusions = [metrics.confusion_matrix(p, t, _k) for p, t in zip(_preds, _truths)]
    _want = metrics.mean_iou(np.concatenate(_preds), np.concatenate(_truths), _k)
    with unavailable(metrics.iou_from_confusion, metrics.mean_iou, metrics.iou):
        _got = miou_from_ranks(_confusions)
    assert abs(_got - _want) < 1e-12, f"{_n} ranks, {_k} classes: expected the pooled mIoU {_want:.6f}, got {_got}"
print("miou_from_ranks equals the mIoU of all scenes scored at once")

# %% [markdown]
# (While the check runs, minseg's own IoU functions are unavailable: the point is to write it.)
#
# ## 7. torchvision's models in minseg
#
# minseg also builds torchvision's `fcn_resnet50` and `deeplabv3_resnet50` with torchvision's module
# names, so a torchvision state_dict — from the GPU run, or one you have on disk — loads unchanged:

# %% tags=["nbval-ignore-output"]
import torchvision

torch.manual_seed(0)
tv_model = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                              num_classes=11).eval()
ours = interop.from_torchvision(tv_model)
x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
check_op(lambda t: ours(t)["out"], [x], lambda t: tv_model(t)["out"], differentiable=())
print(f"deeplabv3_resnet50 in minseg: {sum(p.size for p in ours.parameters()) / 1e6:.1f} M parameters, "
      "torchvision's logits")

# %% [markdown]
# ## What to remember
#
# - Full scale is the same architecture with other widths: tens to hundreds of times the parameters.
# - Activations, not weights, fill a GPU: they grow with batch × image area, and bf16 halves them;
#   weights, gradients and Adam's moments cost 16 bytes per parameter in float32.
# - bf16 keeps float32's range with 2–3 digits: no loss scaling, matrix products in half the bytes.
# - Throughput is measured after warm-up, over all ranks; DDP averages gradients, so every rank must
#   take the same steps with the same learning rate.
# - Scores from several GPUs are combined by adding confusion matrices, never by averaging mIoUs.
# - Weights move between the libraries by name: minseg computes the same logits as torch.
#
# ## Questions to think about
#
# 1. U-Net has a quarter of FCN-8s's parameters but needs more activation memory per pixel. Why?
# 2. With a fixed GPU memory, is it better to double the batch or the image size for segmentation?
# 3. Gradient checkpointing recomputes activations in the backward pass instead of storing them.
#    Which layers would you checkpoint first, judging by the widget?
# 4. What would change if the ranks drew the *same* batches?
