"""One training step of the CPU presets of U-Net and DeepLab v3+ against their torch twins: forward,
the class-weighted cross-entropy, backward and an optimizer step (the preset's Adam), on a batch of
16 DigitScenes 64x64: the step ``minseg.training.fit`` takes (less the learning-rate schedule).

Both sides start from the same weights (``torch_twin``) and the same batch; each timed call is one more
step (the weights move on, as in training). Peak memory: what one step adds on top of the model, its
optimizer state (a small warm-up step creates it) and the batch, each side in a fresh process of its
own (``harness.added_peak_mb``); ``python -m benchmarks.bench_train_step --peak minseg|torch NAME``
prints it.
"""
from __future__ import annotations

import functools

from benchmarks.harness import (Case, added_peak_mb, built_on_first_call, memory_columns, peak_main,
                                same_threads)

PRESETS = ("unet", "deeplabv3plus")
BATCH, SIZE = 16, 64
TIME_TARGET, MEMORY_TARGET = 1.2, 1.5  # the targets


@functools.cache
def _scenes():
    from minseg.data import DigitScenes

    return DigitScenes(BATCH, size=SIZE, split="train", seed=0)


@functools.cache
def _steps(name: str):
    """(minseg step, torch step) callables for preset ``name``; built on first use, so filtered-out
    cases cost nothing."""
    from minseg.data import NUM_CLASSES
    from minseg.models import create
    from minseg.models.backend import MINSEG
    from minseg.reference.backend import torch_backend
    from minseg.reference.interop import torch_twin
    from minseg.training import make_optimizer, median_frequency_weights, segmentation_loss
    from minseg.training.presets import preset, preset_classes

    class_name, config, settings = preset(name, "cpu")
    model = create(class_name, num_classes=preset_classes(class_name), **config)
    twin = torch_twin(model)
    scenes = _scenes()
    batch = next(scenes.batches(BATCH, shuffle=False))
    weight = median_frequency_weights(scenes.masks, NUM_CLASSES)
    optimizer = {k: settings[k] for k in ("optimizer", "lr", "weight_decay")}

    def step_of(network, backend):
        opt = make_optimizer(network, backend, **optimizer)

        def step(images_and_masks=batch):
            opt.zero_grad()
            segmentation_loss(network, images_and_masks, backend, weight).backward()
            opt.step()
        return step

    return step_of(model, MINSEG), step_of(twin, torch_backend("cpu"))


def measure_peak_mb(side: str, name: str) -> float:
    """Resident memory one training step adds (MB), in this process (call it in a fresh one).

    A warm-up step on two scenes first loads Numba's kernels and makes the optimizer's state; it is
    small so that the memory it frees, which the allocator keeps and the measured step reuses, hides
    little of the step's own peak (a warm-up at full batch hid most of minseg's).
    """
    same_threads()
    ours, theirs = _steps(name)
    step = ours if side == "minseg" else theirs
    images, masks = next(_scenes().batches(BATCH, shuffle=False))
    step((images[:2], masks[:2]))  # two: batch norm in training mode needs more than one value per channel
    return added_peak_mb(step)


def cases():
    out = []
    for name in PRESETS:
        out.append(Case("train step", f"{name} (cpu preset) step, batch {BATCH} {SIZE}x{SIZE}",
                        *built_on_first_call(_steps, name),
                        target=TIME_TARGET, repeats=5,
                        extra=memory_columns("benchmarks.bench_train_step", name),
                        info={"memory_target": MEMORY_TARGET}))
    return out


if __name__ == "__main__":
    peak_main(measure_peak_mb, "usage: python -m benchmarks.bench_train_step --peak minseg|torch NAME "
                               "(the table: python -m benchmarks --only 'train step')")
