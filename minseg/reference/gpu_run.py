"""The GPU run: full-size FCN-8s, U-Net and DeepLab v3+ (minseg's torch twins) and torchvision's
fcn_resnet50 / deeplabv3_resnet50, trained in PyTorch on DigitScenes 256x256, then checked in minseg.

    python -m minseg.reference.gpu_run [--out DIR] [--minutes M] [--models fcn8s unet ...] [--scale tiny]
    torchrun --nproc_per_node N -m minseg.reference.gpu_run ...      # several GPUs (DDP)

With a GPU it trains at full scale (``SCALES['gpu']``: the papers' widths, bf16, channels_last);
without one it runs the same code at tiny scale on the CPU (``SCALES['tiny']``: small scenes, the CPU
presets' widths, a few steps) and says so. For every model it reports val mIoU, pixel accuracy,
training images/s, peak GPU memory and wall time; then, on rank 0, it loads the trained weights into
minseg (:mod:`minseg.reference.interop`) and compares logits and mIoU on validation scenes, and runs
the dense CRF on DeepLab v3+'s output. It writes ``results.json``, ``results.md`` and the weights of
the three twins (``weights/NAME.npz``, float16) under ``--out``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from .. import metrics
from ..data import NUM_CLASSES
from . import require_torch, require_torchvision
from .gpu_train import DevicePool, Distributed, confusion_on, generate_scenes, parameters_checksum, train_for

TWINS = ("fcn8s", "unet", "deeplabv3plus")
TORCHVISION = ("fcn_resnet50", "deeplabv3_resnet50")
MODELS = TWINS + TORCHVISION
# data and schedule per scale; 'twin_scale' picks the presets' widths (minseg.training.presets)
SCALES = {
    "gpu": dict(size=256, train=2048, val=256, digits=(3, 8), batch_size=32, lr=1e-3, minutes=7.0,
                twin_scale="full", max_steps=None, check_scenes=8),
    # tiny: 3 steps per model (minutes only caps a very slow machine, so the step count is fixed)
    "tiny": dict(size=64, train=64, val=16, digits=(1, 4), batch_size=4, lr=1e-3, minutes=2.0,
                 twin_scale="cpu", max_steps=3, check_scenes=2),
}
# the full presets train VGG without batch norm from a careful SGD start; in a budget of minutes
# from scratch, batch norm is what makes FCN-8s learn at all
FULL_OVERRIDES = {"fcn8s": dict(batch_norm=True, dropout=0.1)}


def build_model(name: str, twin_scale: str, device: str = "cpu"):
    """The torch model ``name`` on ``device``: a minseg twin at ``twin_scale`` widths, or torchvision's
    own (weights=None, weights_backbone=None: nothing downloads)."""
    from ..training import presets
    from .models import create

    with require_torch().device(device):  # parameters made where they will live (meta: shapes only)
        if name in TORCHVISION:
            build = getattr(require_torchvision().models.segmentation, name)
            return build(weights=None, weights_backbone=None, num_classes=NUM_CLASSES)
        class_name, config, _ = presets.preset(name, twin_scale)
        if twin_scale == "full":
            config.update(FULL_OVERRIDES.get(name, {}))
        return create(class_name, device=device, num_classes=NUM_CLASSES, **config)


def minseg_model_of(name: str, model):
    """The minseg model with the weights of ``model`` (a torch model on the CPU, float32), in eval mode."""
    from . import interop

    twin = interop.from_torchvision(model) if name in TORCHVISION else interop.minseg_twin(model)
    return twin.eval()


def check_in_minseg(name: str, model, images: np.ndarray, masks: np.ndarray) -> dict:
    """minseg's logits and mIoU against torch's (CPU, float32) on ``images``, with the trained weights."""
    import minseg as ms
    from .gpu_train import logits_of

    torch = require_torch()
    model = model.float().cpu().eval()  # in place: the run is done with it on the device
    ours_model = minseg_model_of(name, model)
    x = images.astype(np.float32) / 255
    with torch.no_grad():
        theirs = logits_of(model(torch.from_numpy(x))).numpy()
    with ms.no_grad():
        ours = logits_of(ours_model(ms.tensor(x))).data
    scale = float(np.abs(theirs).max())
    return dict(max_abs_diff=float(np.abs(ours - theirs).max()), logit_scale=scale,
                miou_minseg=metrics.mean_iou(ours.argmax(1), masks, NUM_CLASSES),
                miou_torch=metrics.mean_iou(theirs.argmax(1), masks, NUM_CLASSES),
                same_predictions=float(np.mean(ours.argmax(1) == theirs.argmax(1))), _logits=ours)


def crf_before_after(logits: np.ndarray, images: np.ndarray, masks: np.ndarray) -> dict:
    """mIoU of the argmax before and after the dense CRF (default parameters, 5 mean-field steps)."""
    from ..crf import DenseCRF, softmax_labels, unary_from_probabilities

    crf = DenseCRF()
    refined = np.stack([crf.predict(unary_from_probabilities(softmax_labels(scores)),
                                    image.transpose(1, 2, 0).astype(np.float64), n_iter=5)
                        for scores, image in zip(logits, images)])
    return dict(miou_before=metrics.mean_iou(logits.argmax(1), masks, NUM_CLASSES),
                miou_after=metrics.mean_iou(refined, masks, NUM_CLASSES))


def save_weights(path: Path, model) -> int:
    """The state_dict as float16 arrays (integers kept) in a compressed .npz; returns its bytes."""
    arrays = {k: (v.detach().cpu().numpy().astype(np.float16) if v.is_floating_point() else v.cpu().numpy())
              for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path.stat().st_size


def run(out: Path, models=MODELS, minutes: float | None = None, scale: str | None = None, seed: int = 0,
        progress: bool = True) -> dict | None:
    """Train and check every model; rank 0 writes and returns the results (other ranks return None)."""
    torch = require_torch()
    dist = Distributed()
    scale = scale or ("gpu" if dist.cuda else "tiny")
    cfg = dict(SCALES[scale])
    minutes = cfg["minutes"] * len(models) if minutes is None else minutes
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = dist.cuda
    say = print if dist.main else (lambda *a, **k: None)
    if not dist.cuda:
        say("no GPU: running the same code at tiny scale on the CPU (scale 'tiny'); numbers are not results")
    started = time.perf_counter()
    train = generate_scenes(cfg["train"], cfg["size"], "train", seed, cfg["digits"])
    val = generate_scenes(cfg["val"], cfg["size"], "val", seed, cfg["digits"])
    weights = 1 / np.maximum(np.bincount(train[1].ravel(), minlength=NUM_CLASSES), 1)
    class_weight = weights / np.median(weights)  # median-frequency balancing
    pool = DevicePool(*train, dist.device, seed=seed * 1000 + dist.rank)  # each rank its own draws
    rows, checks, data_s = [], {}, time.perf_counter() - started
    for name in models:
        torch.manual_seed(seed)  # the same initial weights on every rank
        model = build_model(name, cfg["twin_scale"]).to(dist.device)
        if dist.cuda:
            model = model.to(memory_format=torch.channels_last)
            torch.cuda.reset_peak_memory_stats()
        say(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
        loop = train_for(model, pool, dist, 60 * minutes / len(models), cfg["batch_size"], cfg["lr"],
                         class_weight, warmup_steps=1 if scale == "tiny" else 5, max_steps=cfg["max_steps"],
                         progress=progress)
        cm = confusion_on(model, *val, dist, NUM_CLASSES)
        checksum = torch.tensor([parameters_checksum(model)], dtype=torch.float64, device=dist.device)
        spread = (dist.all_sum(checksum.clone()) / dist.world - checksum).abs().item()
        rows.append(dict(model=name, parameters_M=sum(p.numel() for p in model.parameters()) / 1e6,
                         val_miou=float(np.nanmean(metrics.iou_from_confusion(cm))),
                         pixel_accuracy=float(np.trace(cm) / cm.sum()), steps=loop["steps"],
                         images_per_s=loop["images_per_s"], wall_s=loop["wall_s"],
                         peak_gpu_memory_GB=torch.cuda.max_memory_allocated() / 2 ** 30 if dist.cuda else None,
                         ranks_in_sync=spread <= 1e-6 * max(1.0, abs(checksum.item()))))
        if dist.main:
            n = cfg["check_scenes"]
            checks[name] = check_in_minseg(name, model, val[0][:n], val[1][:n])
            if name in TWINS:
                checks[name]["weights_bytes"] = save_weights(out / "weights" / f"{name}.npz", model)
            if name == "deeplabv3plus":
                checks[name]["crf"] = crf_before_after(checks[name]["_logits"], val[0][:n], val[1][:n])
            checks[name].pop("_logits")
            say(f"{name}: val mIoU {rows[-1]['val_miou']:.3f}, minseg check {checks[name]}")
        del model
    dist_world = dist.world
    dist.close()
    if not dist.main:
        return None
    results = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   device=torch.cuda.get_device_name() if dist.cuda else f"CPU ({platform.processor() or 'cpu'})",
                   gpus=dist_world if dist.cuda else 0, world_size=dist_world, torch=torch.__version__,
                   scale=scale, data=dict(cfg, data_seconds=data_s), minutes=minutes, models=rows,
                   minseg_checks=checks, total_seconds=time.perf_counter() - started)
    write_results(out, results)
    return results


def format_markdown(results: dict) -> str:
    """results.md: what ran where, the table, and minseg's agreement with torch on the trained weights."""
    data = results["data"]
    lines = [f"# GPU run ({results['scale']} scale)", "",
             f"{results['date']} · {results['device']} · world size {results['world_size']} · torch "
             f"{results['torch']} · DigitScenes {data['size']}x{data['size']}, {data['train']} train / "
             f"{data['val']} val scenes · {results['minutes']:.1f} training minutes in all", "",
             "| model | parameters (M) | steps | val mIoU | pixel acc | images/s | peak GPU GB | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["models"]:
        cells = [r["model"], f"{r['parameters_M']:.1f}", str(r["steps"]), f"{r['val_miou']:.3f}",
                 f"{r['pixel_accuracy']:.3f}", "-" if r["images_per_s"] is None else f"{r['images_per_s']:.0f}",
                 "-" if r["peak_gpu_memory_GB"] is None else f"{r['peak_gpu_memory_GB']:.1f}", f"{r['wall_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "minseg on the trained weights (CPU, float32, validation scenes):", "",
              "| model | max abs logit diff | logit scale | same argmax | mIoU minseg | mIoU torch |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, c in results["minseg_checks"].items():
        lines.append(f"| {name} | {c['max_abs_diff']:.2e} | {c['logit_scale']:.1f} | {c['same_predictions']:.4f} "
                     f"| {c['miou_minseg']:.3f} | {c['miou_torch']:.3f} |")
    for name, c in results["minseg_checks"].items():
        if "crf" in c:
            lines += ["", f"Dense CRF (minseg, default parameters) on {name}'s output: mIoU "
                          f"{c['crf']['miou_before']:.3f} -> {c['crf']['miou_after']:.3f}"]
    return "\n".join(lines) + "\n"


def write_results(out: Path, results: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    (out / "results.md").write_text(format_markdown(results))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minseg.reference.gpu_run", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/gpu_run"), help="where results and weights go")
    parser.add_argument("--minutes", type=float, default=None, help="training minutes for all models together")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--scale", choices=tuple(SCALES), default=None,
                        help="'gpu' (default with CUDA) or 'tiny' (default on the CPU)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = run(args.out, tuple(args.models), args.minutes, args.scale, args.seed)
    if results is not None:
        print(format_markdown(results))
        print(f"written: {args.out / 'results.md'}, {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
