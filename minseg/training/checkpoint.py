"""Checkpoints as a single ``.npz`` file: model weights, optimizer state and a JSON header.

Keys: ``model/<state_dict key>``, ``optim/<parameter name>/<state key>`` (momentum buffers, Adam
moments and step counts, stored by parameter *name*, so they survive a new process where ids
differ), and ``meta``: a JSON string with the model's class and config, the optimizer's
param_groups settings (without the tensors), the scheduler's step and anything passed as ``**meta``.
No pickle is involved, so ``np.load(path)`` of a checkpoint is safe.

For minseg models and optimizers. A torch twin's weights travel through
minseg.reference.interop (``to_torch_state_dict`` / ``load_minseg_state_dict``) or torch.save.
"""
from __future__ import annotations

import json

import numpy as np

_GROUP_SKIP = ("params",)


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


def save_checkpoint(path, model, optimizer=None, scheduler=None, *, compress=False, float_dtype=None,
                    **meta) -> None:
    """Write ``model`` (and optionally ``optimizer`` / ``scheduler`` state) to ``path`` (.npz).

    compress: zip-deflate the arrays (np.savez_compressed); float_dtype: store the model's floating
    arrays in this dtype (e.g. 'float16' to halve a shipped file; loading casts back to the model's).
    """
    arrays = {f"model/{k}": _stored(v, float_dtype) for k, v in model.state_dict().items()}
    header = {"class": type(model).__name__, "config": getattr(model, "config", None), **meta}
    if optimizer is not None:
        names = {id(p): name for name, p in model.named_parameters()}
        for group in optimizer.param_groups:
            for p in group["params"]:
                for key, value in optimizer.state.get(id(p), {}).items():
                    arrays[f"optim/{names[id(p)]}/{key}"] = np.asarray(value)
        header["param_groups"] = [{k: _jsonable(v) for k, v in g.items() if k not in _GROUP_SKIP}
                                  for g in optimizer.param_groups]
    if scheduler is not None:
        header["scheduler"] = {"step_count": scheduler.step_count, "base_lrs": list(scheduler.base_lrs)}
    arrays["meta"] = np.array(json.dumps(header, default=_jsonable))
    with open(path, "wb") as handle:
        (np.savez_compressed if compress else np.savez)(handle, **arrays)


def _stored(value, float_dtype):
    value = np.asarray(value)
    return value.astype(float_dtype) if float_dtype and value.dtype.kind == "f" else value


def read_header(path) -> dict:
    """The JSON header of a checkpoint (class, config and the extra ``meta``) without loading weights."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["meta"]))


def load_checkpoint(path, model, optimizer=None, scheduler=None) -> dict:
    """Restore what :func:`save_checkpoint` wrote into ``model`` (and the optimizer / scheduler);
    returns the JSON header (class, config, param_groups, scheduler and the extra ``meta``)."""
    header = read_header(path)
    with np.load(path, allow_pickle=False) as data:
        if header["class"] != type(model).__name__:
            raise ValueError(f"load_checkpoint: {path} holds a {header['class']}, "
                             f"not a {type(model).__name__}")
        model.load_state_dict({k[len("model/"):]: data[k] for k in data.files if k.startswith("model/")})
        if optimizer is not None:
            saved = {k: data[k] for k in data.files if k.startswith("optim/")}
            _restore_optimizer(optimizer, model, header, saved)
    if scheduler is not None and "scheduler" in header:
        scheduler.step_count = header["scheduler"]["step_count"]
        scheduler.base_lrs = header["scheduler"]["base_lrs"]
    return header


def _restore_optimizer(optimizer, model, header, arrays) -> None:
    params = dict(model.named_parameters())
    for group, saved in zip(optimizer.param_groups, header.get("param_groups", [])):
        group.update({k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    optimizer.state = {}
    for key, value in arrays.items():
        _, name, field = key.split("/", 2)
        value = value.item() if value.ndim == 0 and value.dtype.kind in "iu" else value.copy()
        optimizer.state.setdefault(id(params[name]), {})[field] = value
