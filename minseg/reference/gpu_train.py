"""The training loop of the GPU run (:mod:`minseg.reference.gpu_run`): data kept on the device,
bf16 autocast, channels_last, cudnn autotuning, and torch.distributed (DDP) when launched by torchrun.

The loop is torch's, not minseg.training.fit's: what it adds is exactly what full scale needs.
- ``DevicePool``: the scenes are generated once (seeded, in parallel processes when there are cores
  to spare) and stored on the device as uint8; a batch is an index draw plus a random flip, on the
  device, so the GPU never waits for Python.
- ``train_for``: steps until a time budget is spent (every rank takes the same number of steps: the
  decision to stop is all-reduced), poly learning-rate decay by elapsed time, throughput measured
  after warm-up steps.
- ``confusion_on``: the validation confusion matrix, each rank scoring its share of the scenes and
  the matrices summed across ranks (mIoU is not additive; confusion counts are).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..data import make_digit_scenes
from . import require_torch


class Distributed:
    """This process's place in a torchrun launch: rank, world size, device; world 1 without torchrun."""

    def __init__(self):
        torch = require_torch()
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.cuda = torch.cuda.is_available()
        self.device = f"cuda:{local_rank}" if self.cuda else "cpu"
        if self.cuda:
            torch.cuda.set_device(self.device)
        if self.world > 1:
            torch.distributed.init_process_group("nccl" if self.cuda else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_sum(self, tensor):
        """Sum ``tensor`` over ranks (in place; a no-op with one process)."""
        if self.world > 1:
            require_torch().distributed.all_reduce(tensor)
        return tensor

    def wrap(self, model):
        """DDP around ``model`` when there are several processes, else the model itself."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[self.device] if self.cuda else None)

    def close(self) -> None:
        if self.world > 1:
            require_torch().distributed.destroy_process_group()


def _scene_chunk(args):
    n, size, split, seed, digits = args
    images, masks, _ = make_digit_scenes(n, size=size, split=split, seed=seed, digits_per_scene=digits)
    return (images * 255).round().astype(np.uint8), masks.astype(np.uint8)


def generate_scenes(n: int, size: int, split: str, seed: int, digits, chunk: int = 64):
    """(images uint8 (N,3,H,W), masks uint8 (N,H,W)): DigitScenes in chunks of ``chunk`` scenes, chunk
    ``c`` seeded by (seed, c), so the result does not depend on how many processes made it."""
    jobs = [(min(chunk, n - start), size, split, seed * 100_003 + start // chunk, digits)
            for start in range(0, n, chunk)]
    workers = min(len(jobs), max(1, (os.cpu_count() or 1) - 1))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_scene_chunk, jobs))
    else:
        parts = [_scene_chunk(job) for job in jobs]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class DevicePool:
    """Scenes on the device; ``batch(size)`` draws random scenes and flips half of them left-right."""

    def __init__(self, images: np.ndarray, masks: np.ndarray, device: str, seed: int):
        torch = require_torch()
        self.images = torch.from_numpy(images).to(device)
        self.masks = torch.from_numpy(masks).to(device)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, size: int, channels_last: bool = False):
        torch = require_torch()
        index = torch.randint(0, len(self), (size,), generator=self.generator, device=self.images.device)
        images, masks = self.images[index].float().div_(255), self.masks[index].long()
        flip = torch.rand(size, generator=self.generator, device=self.images.device) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        masks = torch.where(flip[:, None, None], masks.flip(-1), masks)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, masks


def logits_of(output):
    """The score map of a model's output (torchvision's models return a dict with 'out')."""
    return output["out"] if isinstance(output, dict) else output


def train_for(model, pool: DevicePool, dist: Distributed, seconds: float, batch_size: int, lr: float,
              class_weight, warmup_steps: int = 5, max_steps: int | None = None, progress: bool = True) -> dict:
    """Train ``model`` (already on the device) for about ``seconds``; returns the loop's numbers:
    steps, final loss, images/s (all ranks, after ``warmup_steps``), wall seconds."""
    torch = require_torch()
    net = dist.wrap(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    weight = torch.as_tensor(class_weight, dtype=torch.float32, device=dist.device)
    autocast = _autocast(dist)
    # [elapsed seconds, stop?] summed over ranks after every step: all ranks then share one clock
    # (the rank mean) for the learning rate and stop at the same step, or DDP would hang / drift
    shared = torch.zeros(2, dtype=torch.float64, device=dist.device)
    bar = _progress(progress and dist.main, seconds)
    start = time.perf_counter()
    step, losses, timed_start, elapsed = 0, [], None, 0.0
    model.train()
    while True:
        for group in optimizer.param_groups:  # poly decay (power 0.9) over the time budget
            group["lr"] = lr * max(0.0, 1 - elapsed / seconds) ** 0.9
        images, masks = pool.batch(batch_size, channels_last=dist.cuda)
        with autocast:
            logits = logits_of(net(images))
        loss = torch.nn.functional.cross_entropy(logits.float(), masks, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step == warmup_steps:
            _synchronize(dist)
            timed_start = time.perf_counter()
        if step % 10 == 0 or step < 10:
            losses.append(loss.item())
            if bar is not None:
                bar.n = min(int(elapsed), int(seconds))
                bar.set_postfix(loss=f"{losses[-1]:.3f}", step=step)
                bar.refresh()
        mine = time.perf_counter() - start
        shared[0], shared[1] = mine, float(mine >= seconds or (max_steps is not None and step >= max_steps))
        dist.all_sum(shared)
        elapsed = float(shared[0]) / dist.world
        if shared[1] > 0:
            break
    _synchronize(dist)
    end = time.perf_counter()
    if bar is not None:
        bar.close()
    timed_steps = step - warmup_steps
    images_per_s = (timed_steps * batch_size * dist.world / (end - timed_start)
                    if timed_start is not None and timed_steps > 0 else None)
    return dict(steps=step, loss=losses[-1] if losses else loss.item(), images_per_s=images_per_s,
                wall_s=end - start)


def confusion_on(model, images: np.ndarray, masks: np.ndarray, dist: Distributed, num_classes: int,
                 batch_size: int = 16) -> np.ndarray:
    """The (K, K) confusion matrix (rows = truth) of ``model`` on the scenes, summed over ranks."""
    torch = require_torch()
    model.eval()
    counts = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=dist.device)
    mine = np.arange(dist.rank, len(images), dist.world)
    autocast = _autocast(dist)
    with torch.no_grad(), autocast:
        for start in range(0, len(mine), batch_size):
            chosen = mine[start:start + batch_size]
            x = torch.from_numpy(images[chosen]).to(dist.device).float().div_(255)
            pred = logits_of(model(x)).argmax(1)
            truth = torch.from_numpy(masks[chosen].astype(np.int64)).to(dist.device)
            counts += torch.bincount((truth * num_classes + pred).flatten(), minlength=num_classes ** 2)
    model.train()
    return dist.all_sum(counts).cpu().numpy().reshape(num_classes, num_classes)


def parameters_checksum(model) -> float:
    """A number that differs when any parameter differs (ranks of a DDP run must agree on it)."""
    torch = require_torch()
    with torch.no_grad():
        return float(sum((p.double() * (i + 1)).sum() for i, p in enumerate(model.parameters())))


def _autocast(dist: Distributed):
    """bf16 autocast on CUDA; a disabled context on the CPU (float32 there)."""
    torch = require_torch()
    return torch.autocast("cuda" if dist.cuda else "cpu", dtype=torch.bfloat16, enabled=dist.cuda)


def _synchronize(dist: Distributed) -> None:
    if dist.cuda:
        require_torch().cuda.synchronize()


def _progress(enabled: bool, seconds: float):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=int(seconds), desc="train (s)", leave=False)
