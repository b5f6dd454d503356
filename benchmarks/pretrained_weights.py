"""Making the weights shipped in minseg/models/weights (read by minseg.models.pretrained).

``train_seed(name, seed, options)`` trains preset ``name`` for a step count fixed by the options
(never by wall time, so a run is deterministic given its arguments), scores it on the choice and
validation scenes and returns its record and weights; ``save(record, state)`` writes the
compressed .npz; ``records_table`` / ``update_readme`` put the records into README.md.

Data (``data_spec``): the model trains on 'train' scenes (seed 0), every decision about settings is
made on 'choice' scenes (the train split's handwritten samples, scene seed 1: held-out scenes,
not held-out handwriting), and only the 'val' split (held-out handwriting) is reported.
"""
from __future__ import annotations

import json
import os
import time

from benchmarks.readme_table import replace_block

# Steps each preset trains per ``--minutes``: with ``--minutes 12`` about 12-15 minutes of one quiet
# core each (steps per minute measured alone on one core of the 2-core machine, 2026-12-02: fcn*
# ~450, unet ~220, segnet ~186, deeplabv3 ~600, deeplabv3plus ~570 at output stride 16 and about 0.8
# times that at 8 (10.6 against 8.5 minutes for 2,400 steps, one after the other on the same loaded
# machine: benchmarks/choice_split.py), deeplab_largefov ~350, setr ~508). Models compared in a
# lecture train for equal steps: the three FCNs (8s > 16s > 32s), the two mask heads.
STEPS_PER_MINUTE = {"fcn32s": 500, "fcn16s": 500, "fcn8s": 500, "unet": 275, "segnet": 230,
                    "deeplabv3": 750, "deeplabv3plus": 475, "deeplab_largefov": 430,
                    "mask_roialign": 300, "mask_roipool": 300, "setr": 500}
# Settings for the shipped weights on top of each preset's fit settings (chosen on the choice split):
# warmup (steps of linear lr warm-up), lr, class_weight_power (the median-frequency class weights
# raised to this power: 1 = the preset's weights, 0 = unweighted).
# On the choice split (fcn8s, 250 steps; choice mIoU at the last step): the preset's Adam lr 1e-2
# 0.136; lr 3e-3 + 25 warm-up steps + weights ** 0.5 0.120; lr 1e-2 + 25 warm-up steps + weights
# ** 0.5 0.178 -> the last for every semantic preset (the mask heads keep their preset settings).
_SEMANTIC = dict(warmup=25, class_weight_power=0.5)
_SEMANTIC_PRESETS = ("fcn32s", "fcn16s", "fcn8s", "unet", "segnet", "deeplabv3", "deeplabv3plus",
                     "deeplab_largefov")
TRAINING: dict = {name: dict(_SEMANTIC) for name in _SEMANTIC_PRESETS}
# Times the choice score is measured during training (the best weights are kept); the mask heads'
# scoring (every instance pasted back into its scene) costs as much as their training, so only once.
CURVE_POINTS = {"mask_roialign": 1, "mask_roipool": 1}  # default 10
CHECK = dict(split="val", n=16, seed=0)  # the small fixed subset a test recomputes
SIZE_LIMIT = 2 * 1024 ** 2  # bytes per shipped file; above it the weights are stored as float16

README_START, README_END = "<!-- pretrained-table:start -->", "<!-- pretrained-table:end -->"


def data_spec(options) -> dict:
    """Which DigitScenes (64x64) train, choose and validate: split, count and scene seed of each."""
    return {"dataset": "DigitScenes", "size": 64,
            "train": {"split": "train", "n": options["train"], "seed": 0},
            "choice": {"split": "train", "n": options["choice"], "seed": 1},
            "val": {"split": "val", "n": options["val"], "seed": 0}}


def scenes(spec: dict, part: dict):
    from minseg.data import DigitScenes

    return DigitScenes(part["n"], size=spec["size"], split=part["split"], seed=part["seed"])


def steps_for(name: str, options) -> int:
    """``--steps`` if given, else ``--minutes`` x the preset's STEPS_PER_MINUTE."""
    if options.get("steps"):
        return int(options["steps"])
    return max(10, int(round(options["minutes"] * STEPS_PER_MINUTE[name])))


def headline(class_name: str) -> str:
    return "mask_iou" if class_name == "MaskHeadModel" else "mean_iou"


def score(model, data) -> dict:
    """Validation metrics, rounded: mIoU / pixel accuracy, or the mask head's mask IoU."""
    from minseg.training import evaluate, evaluate_masks

    if type(model).__name__ == "MaskHeadModel":
        result = evaluate_masks(model, data, batch_size=32)
        return {k: round(result[k], 4) for k in ("mask_iou", "iou_50", "iou_75")}
    result = evaluate(model, data, batch_size=32)
    return {k: round(float(result[k]), 4) for k in ("mean_iou", "pixel_accuracy")}


def _jsonable_settings(settings: dict) -> dict:
    import numpy as np

    return {k: (np.asarray(v).round(6).tolist() if isinstance(v, np.ndarray) else v)
            for k, v in settings.items()}


def _settings(name: str, model, train, options: dict):
    """(data source, loss_fn, fit settings) of preset ``name``: the preset's, then TRAINING's,
    then any ``options['overrides'][name]`` (for comparisons on the choice split)."""
    from minseg.training import presets

    _, _, settings = presets.preset(name)
    settings.update(TRAINING.get(name, {}), **options.get("overrides", {}).get(name, {}))
    power = settings.pop("class_weight_power", 1.0)
    source, loss_fn, settings = presets.preset_task(model, train, settings)
    if settings.get("class_weight") is not None and power != 1.0:
        settings["class_weight"] = settings["class_weight"] ** power
    return source, loss_fn, settings, power


class _BestOnChoice:
    """fit's callback: scores the model on the choice scenes and keeps the best weights (early
    stopping on the choice split, never on val); ``curve`` holds (step, score) pairs."""

    def __init__(self, choice, metric):
        self.choice, self.metric = choice, metric
        self.curve, self.best, self.best_step, self.state = [], -1.0, 0, None

    def __call__(self, step, model):
        value = score(model, self.choice)[self.metric]
        self.curve.append([step, value])
        if value > self.best:
            self.best, self.best_step = value, step
            self.state = {k: v.copy() for k, v in model.state_dict().items()}


def train_seed(name: str, seed: int, options: dict):
    """Train preset ``name`` with ``seed``; (record, state_dict) of the model, scored as stored."""
    import minseg as ms
    from minseg import models
    from minseg.training import fit, presets

    spec = data_spec(options)
    train, choice = scenes(spec, spec["train"]), scenes(spec, spec["choice"])
    class_name, config, _ = presets.preset(name)
    ms.manual_seed(seed)
    model = models.create(class_name, num_classes=presets.preset_classes(class_name), **config)
    source, loss_fn, settings, power = _settings(name, model, train, options)
    steps = steps_for(name, options)
    best = _BestOnChoice(choice, headline(class_name))
    started = time.perf_counter()
    history = fit(model, source, steps, batch_size=options["batch_size"], loss_fn=loss_fn, seed=seed,
                  progress=False, callback=best, callback_every=max(1, steps // CURVE_POINTS.get(name, 10)), **settings)
    minutes = (time.perf_counter() - started) / 60
    model.load_state_dict(best.state)
    weights_dtype = _storage_dtype(model)
    _round_trip(model, weights_dtype)
    model.eval()
    record = {"name": name, "class": class_name, "config": model.config,
              "fit": dict(_jsonable_settings(settings), class_weight_power=power),
              "steps": history["steps"], "best_step": best.best_step, "choice_curve": best.curve,
              "batch_size": options["batch_size"], "seed": seed, "data": spec,
              "minutes": round(minutes, 2), "library_version": ms.__version__, "command": options["command"],
              "weights_dtype": weights_dtype, "parameters": int(sum(p.data.size for p in model.parameters())),
              "note": options.get("note", ""), "metric": headline(class_name),
              "final_loss": round(float(sum(history["loss"][-20:]) / len(history["loss"][-20:])), 4),
              "scores": {"val": score(model, scenes(spec, spec["val"])), "choice": score(model, choice)}}
    check = dict(CHECK, metric=record["metric"])
    check["value"] = score(model, scenes(spec, check))[record["metric"]]
    record["check"] = check
    return record, model.state_dict()


def _storage_dtype(model) -> str:
    """float32, or float16 where float32 would not fit SIZE_LIMIT (compression gains little on weights)."""
    return "float32" if sum(p.data.size for p in model.parameters()) * 4 < 0.95 * SIZE_LIMIT else "float16"


def _round_trip(model, dtype: str) -> None:
    """Give ``model`` exactly the weights it will have after saving in ``dtype`` and loading."""
    if dtype != "float32":
        model.load_state_dict({k: v.astype(dtype) if v.dtype.kind == "f" else v
                               for k, v in model.state_dict().items()})


def merge_seeds(results) -> dict:
    """The first seed's record, with every seed's scores under 'seeds'."""
    record = dict(results[0][0])
    record["seeds"] = [{"seed": r["seed"], "val": r["scores"]["val"], "choice": r["scores"]["choice"]}
                       for r, _ in results]
    return record


def save(record: dict, state: dict, directory: str) -> str:
    """Write the model of ``record`` with weights ``state`` as ``directory/<name>.npz`` (compressed,
    the record as its header); returns the path."""
    from minseg import models
    from minseg.training.checkpoint import save_checkpoint

    model = models.create(record["class"], **record["config"])
    model.load_state_dict(state)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{record['name']}.npz")
    meta = {k: v for k, v in record.items() if k not in ("class", "config")}
    save_checkpoint(path, model, compress=True, float_dtype=record["weights_dtype"], **meta)
    return path


def records_in(directory: str) -> dict:
    """{name: record} of the weight files in ``directory``, by name."""
    from minseg.training.checkpoint import read_header

    names = sorted(f[:-len(".npz")] for f in os.listdir(directory) if f.endswith(".npz"))
    return {name: read_header(os.path.join(directory, f"{name}.npz")) for name in names}


def _cell(scores: dict, key: str) -> str:
    return f"{scores[key]:.3f}" if key in scores else ""


def records_table(records: dict) -> str:
    """The README's Markdown table of the shipped models, from their records."""
    lines = ["| model | class | params | steps | train min (wall, shared machine) | val mIoU | val pixel acc "
             "| val mask IoU | choice score | val score per seed | note |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name, r in records.items():
        val, metric = r["scores"]["val"], r["metric"]
        seeds = " / ".join(f"{s['val'][metric]:.3f}" for s in r.get("seeds", []))
        lines.append(f"| {name} | {r['class']} | {r['parameters']} | {r['steps']} | {r['minutes']:.1f} | "
                     f"{_cell(val, 'mean_iou')} | {_cell(val, 'pixel_accuracy')} | "
                     f"{_cell(val, 'mask_iou')} | "
                     f"{r['scores']['choice'][metric]:.3f} | {seeds} | {r['note']} |")
    return "\n".join(lines)


def readme_block(records: dict) -> str:
    return f"{README_START}\n{records_table(records)}\n{README_END}"


def update_readme(path: str, records: dict) -> None:
    """Replace the block between the README markers by the table of ``records``."""
    replace_block(path, README_START, README_END, records_table(records))


def dumps(record: dict) -> str:
    """One line of progress output for a record."""
    return json.dumps({k: record[k] for k in ("name", "seed", "steps", "minutes", "scores")})
