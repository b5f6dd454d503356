"""One training loop and one evaluation for every segmentation model, on either backend.

``fit`` runs SGD (momentum, weight decay) or Adam under the poly learning-rate schedule, with a
tqdm progress bar, seeded shuffling, and optional checkpoints; ``evaluate`` accumulates a
:class:`minseg.metrics.SegmentationMetrics` over a data set and returns its summary. Both take a
``backend`` (minseg by default); :mod:`minseg.reference.training` passes torch's, so the same loop
trains the PyTorch twins on a GPU.
"""
from __future__ import annotations

import functools
import itertools
import time

import numpy as np

from ..metrics import SegmentationMetrics
from ..models.backend import MINSEG
from ..models.blocks import center_crop
from ..optim import PolyLR
from .checkpoint import save_checkpoint

OPTIMIZERS = ("sgd", "adam")


def segmentation_loss(model, batch, backend, weight=None):
    """Pixel-wise cross-entropy of ``model(images)`` against ``masks`` (cropped to the output);
    ``weight``: optional per-class weights (see median_frequency_weights)."""
    images, masks = batch
    logits = model(backend.as_tensor(images))
    masks = center_crop(masks, tuple(logits.shape[-2:]))
    weight = None if weight is None else backend.as_tensor(np.asarray(weight, np.float32))
    return backend.F.cross_entropy(logits, backend.as_tensor(masks.astype(np.int64)), weight=weight)


def median_frequency_weights(masks, num_classes: int) -> np.ndarray:
    """SegNet's median frequency balancing: w_c = median_c(f_c) / f_c, with f_c the frequency of
    class c among the pixels of the images where c is present (absent classes get weight 1)."""
    masks = np.asarray(masks).reshape(len(masks), -1)
    pixels = np.stack([(masks == c).sum(1) for c in range(num_classes)], 1)  # (N, K)
    present = pixels > 0
    freq = pixels.sum(0) / np.maximum((present * masks.shape[1]).sum(0), 1)
    median = np.median(freq[freq > 0])
    return np.where(freq > 0, median / np.maximum(freq, 1e-12), 1.0).astype(np.float32)


def make_optimizer(model, backend, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4):
    """SGD with momentum and weight decay, or Adam, from the backend's optim module."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"make_optimizer: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if optimizer == "sgd":
        return backend.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    return backend.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def _batches_forever(data, batch_size, seed):
    """Epoch after epoch of shuffled batches (epoch e shuffled with seed + e); drops short batches."""
    for epoch in itertools.count():
        yield from data.batches(batch_size, shuffle=True, seed=seed + epoch,
                                drop_last=len(data) >= batch_size)


def fit(model, data, steps, *, batch_size=16, optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4,
        power=0.9, warmup=0, seed=0, loss_fn=None, class_weight=None, backend=None, progress=True,
        time_limit=None, checkpoint_path=None, checkpoint_every=None, callback=None, callback_every=None):
    """Train ``model`` for ``steps`` optimizer steps; returns a history dict.

    data: anything with ``batches(batch_size, shuffle, seed, drop_last)`` and ``len`` (DigitScenes);
    loss_fn(model, batch, backend) -> scalar loss (default: segmentation_loss, with the per-class
    ``class_weight`` if given);
    lr follows base_lr * (1 - step / steps) ** power, after a linear warm-up over ``warmup`` steps
    (see minseg.optim.PolyLR).
    time_limit (seconds): training also ends when it runs out, and the poly schedule follows
    whichever runs out first, lr = base_lr * (1 - max(step / steps, elapsed / time_limit)) ** power,
    so a slow machine still anneals the learning rate to zero instead of stopping at full lr.
    callback(step, model), every ``callback_every`` steps (and after the last): e.g. scoring on a
    held-out split to keep the best weights; training continues in train mode after it.
    History: 'loss' per step, 'lr' per step, 'seconds', 'steps' done.
    """
    backend = backend or MINSEG
    loss_fn = loss_fn or functools.partial(segmentation_loss, weight=class_weight)
    model.train()
    opt = make_optimizer(model, backend, optimizer, lr, momentum, weight_decay)
    schedule = PolyLR(opt, steps, power, warmup)
    history = {"loss": [], "lr": [], "steps": 0, "seconds": 0.0}
    start = time.perf_counter()
    bar = _progress(steps, progress)
    for step, batch in zip(range(steps), _batches_forever(data, batch_size, seed)):
        history["lr"].append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = loss_fn(model, batch, backend)
        loss.backward()
        opt.step()
        schedule.step()
        history["loss"].append(float(backend.as_array(loss)))
        history["steps"] = step + 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
        if checkpoint_path and checkpoint_every and (step + 1) % checkpoint_every == 0:
            save_checkpoint(checkpoint_path, model, opt, schedule, step=step + 1)
        due = callback_every and ((step + 1) % callback_every == 0 or step + 1 == steps)
        if callback is not None and due:
            callback(step + 1, model)
            model.train()
        elapsed = time.perf_counter() - start
        if time_limit is not None and _anneal_by_time(opt, schedule, elapsed / time_limit):
            break
    if bar is not None:
        bar.close()
    history["seconds"] = time.perf_counter() - start
    if checkpoint_path:
        save_checkpoint(checkpoint_path, model, opt, schedule, step=history["steps"])
    return history


def _anneal_by_time(optimizer, schedule, fraction) -> bool:
    """Lower the lr to the poly value at the elapsed ``fraction`` of the time budget when that is
    further along than the step count; True when the time is up."""
    if fraction >= 1:
        return True
    if fraction > schedule.step_count / schedule.total_steps:
        for group, base in zip(optimizer.param_groups, schedule.base_lrs):
            group["lr"] = base * (1 - fraction) ** schedule.power
    return False


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="train", leave=False)


def eval_forward(model, backend, *inputs) -> np.ndarray:
    """``model(*inputs)`` in eval mode without gradients, as an ndarray (the mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        with backend.no_grad():
            return backend.as_array(model(*(backend.as_tensor(a) for a in inputs)))
    finally:
        model.train(was_training)


def predict(model, images, backend=None, batch_size=16) -> np.ndarray:
    """(N, K, h, w) class scores of ``model`` in eval mode, batch by batch, without gradients."""
    backend = backend or MINSEG
    return np.concatenate([eval_forward(model, backend, images[start:start + batch_size])
                           for start in range(0, len(images), batch_size)])


def evaluate(model, data, backend=None, batch_size=16, class_names=None) -> dict:
    """Segmentation metrics of ``model`` on ``data`` (DigitScenes): SegmentationMetrics.compute()
    plus 'summary' (its text table). Outputs smaller than the input are scored on the centre."""
    metrics = SegmentationMetrics(data.num_classes, class_names=class_names or getattr(data, "classes", None))
    for images, masks in data.batches(batch_size, shuffle=False):
        scores = predict(model, images, backend, batch_size)
        metrics.update(scores.argmax(1), center_crop(masks, scores.shape[-2:]))
    result = metrics.compute()
    result["summary"] = metrics.summary()
    return result
