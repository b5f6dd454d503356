"""Trained weights shipped with the package: every CPU preset, trained on DigitScenes 64x64.

    from minseg.models import pretrained
    model = pretrained.load('fcn8s')          # an FCN in eval mode, trained weights loaded
    pretrained.available()['fcn8s']['scores']  # how it was made and how well it does

The files are ``minseg/models/weights/<name>.npz``: compressed ``.npz`` checkpoints (no pickle;
see minseg.training.checkpoint) whose JSON header is the record of how the model was made.
They are written by ``python -m benchmarks.train_models --save-weights``. Record keys:

- ``name``, ``class``, ``config``: the preset (minseg.training.presets.CPU) and the model's full
  config (``models.create(class, **config)`` rebuilds it);
- ``fit``: the fit settings (optimizer, lr, warm-up, class weights...), ``steps``, ``batch_size``,
  ``seed`` (model initialisation and shuffling), ``data`` (which DigitScenes scenes trained,
  chose and validated it), ``minutes`` (wall-clock training minutes on the machine that made it),
  ``library_version``, ``command``, ``weights_dtype``, ``parameters``, ``note``;
- ``choice_curve``: [step, choice score] pairs measured during training, ``best_step``: the step
  whose weights are shipped (the best on the choice split) -- both absent from the first,
  short-run set;
- ``scores``: ``{'val': {...}, 'choice': {...}}``, the metrics on the validation split (reported)
  and on the choice split (used for decisions); ``metric``: the headline key in them
  ('mean_iou' for semantic models, 'mask_iou' for the mask heads);
- ``seeds``: one ``{'seed', 'val', 'choice'}`` entry per seed trained with the same settings
  (the shipped weights are the first seed's);
- ``check``: ``{'split', 'n', 'seed', 'metric', 'value'}``, the metric on a small fixed subset,
  so a test can recompute it quickly.
"""
from __future__ import annotations

import functools
import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")


def weights_path(name: str) -> str:
    """Where the weights of preset ``name`` are (or would be) stored."""
    return os.path.join(WEIGHTS_DIR, f"{name}.npz")


def _names() -> list[str]:
    if not os.path.isdir(WEIGHTS_DIR):
        return []
    return sorted(f[:-len(".npz")] for f in os.listdir(WEIGHTS_DIR) if f.endswith(".npz"))


@functools.lru_cache(maxsize=None)
def _record(name: str, modified: float) -> dict:
    from ..training.checkpoint import read_header

    return read_header(weights_path(name))


def record(name: str) -> dict:
    """The record of shipped model ``name`` (a fresh copy); ValueError for an unknown name."""
    import copy

    _check_name(name)
    return copy.deepcopy(_record(name, os.path.getmtime(weights_path(name))))


def available() -> dict:
    """{name: record} of every shipped model, by name."""
    return {name: record(name) for name in _names()}


def _check_name(name) -> None:
    known = _names()
    if name not in known:
        raise ValueError(f"pretrained.load: name must be one of {tuple(known)}, got {name!r}")


def load(name: str):
    """The minseg model of preset ``name`` with its shipped trained weights, in eval mode."""
    from . import create
    from ..training.checkpoint import load_checkpoint

    header = record(name)
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in header["config"].items()}  # JSON lists
    model = create(header["class"], **config)
    load_checkpoint(weights_path(name), model)
    return model.eval()
