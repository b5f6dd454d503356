"""The shipped trained weights (minseg.models.pretrained): every file loads into the model its record
names, is small and pickle-free, still scores what its record says on a small fixed subset, gives
its torch twin's logits, and the README's table is the one its records generate."""
import json
import os
import tomllib

import numpy as np
import pytest

from minseg import models
from minseg.data import DigitScenes
from minseg.models import pretrained
from minseg.training import evaluate, evaluate_masks, presets

# whole models: run with Numba's kernels (the NUMBA_DISABLE_JIT smoke run covers the ops one by one)
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = sorted(pretrained.available())
RECORD_KEYS = {"name", "class", "config", "fit", "steps", "batch_size", "seed", "data", "minutes",
               "library_version", "command", "weights_dtype", "parameters", "note", "metric", "final_loss",
               "scores", "seeds", "check"}


def test_every_cpu_preset_is_shipped():
    assert set(NAMES) == set(presets.CPU), f"shipped {NAMES}, presets {sorted(presets.CPU)}"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="fcn8s") as error:
        pretrained.load("fcn9s")
    assert "fcn9s" in str(error.value) and "unet" in str(error.value)


def test_files_are_small_compressed_and_pickle_free():
    sizes = {name: os.path.getsize(pretrained.weights_path(name)) for name in NAMES}
    assert max(sizes.values()) <= 2 * 1024 ** 2, sizes
    assert sum(sizes.values()) <= 20 * 1024 ** 2, sizes
    for name in NAMES:
        with np.load(pretrained.weights_path(name), allow_pickle=False) as data:
            assert all(data[key].dtype != object for key in data.files), name


def test_package_data_carries_the_weights():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        config = tomllib.load(handle)
    patterns = config["tool"]["setuptools"]["package-data"]["minseg"]
    assert "models/weights/*.npz" in patterns
    assert os.path.dirname(pretrained.weights_path("x")).endswith(os.path.join("minseg", "models", "weights"))


@pytest.mark.parametrize("name", NAMES)
def test_record_matches_the_preset_and_the_model(name):
    record = pretrained.available()[name]
    assert RECORD_KEYS <= set(record), f"{name}: missing {RECORD_KEYS - set(record)}"
    class_name, config, _ = presets.preset(name)
    expected = models.create(class_name, num_classes=presets.preset_classes(class_name), **config)
    model = pretrained.load(name)
    assert type(model).__name__ == record["class"] == class_name
    assert model.config == expected.config
    assert json.loads(json.dumps(expected.config)) == record["config"]
    assert not model.training
    assert record["parameters"] == sum(p.data.size for p in model.parameters())
    assert record["seeds"][0]["seed"] == record["seed"]
    assert record["seeds"][0]["val"] == record["scores"]["val"]


def _check_score(model, check):
    scenes = DigitScenes(check["n"], size=64, split=check["split"], seed=check["seed"])
    if check["metric"] == "mask_iou":
        return evaluate_masks(model, scenes, batch_size=32)["mask_iou"]
    return float(evaluate(model, scenes, batch_size=32)[check["metric"]])


@pytest.mark.parametrize("name", NAMES)
def test_recomputed_score_matches_the_record(name):
    check = pretrained.record(name)["check"]
    actual = _check_score(pretrained.load(name), check)
    assert abs(actual - check["value"]) <= 0.01, f"{name}: {check['metric']} on {check} is {actual:.4f}"


def _twin_logits(model, inputs):
    import torch
    from minseg.reference import interop

    twin = interop.torch_twin(model)
    assert not twin.training
    with torch.no_grad():
        return twin(*(torch.from_numpy(a) for a in inputs)).numpy()


@pytest.mark.parametrize("name", NAMES)
def test_torch_twin_gives_the_same_logits(name):
    """float64 (the shipped weights cast up): equal logits to rtol 1e-7. In float32 the libraries'
    rounding differs slightly, which can flip a near-tie of SegNet's max-pooling indices and so
    move a few unpooled values, so there only the predicted classes are compared."""
    pytest.importorskip("torch")
    from minseg.training import eval_forward

    model = pretrained.load(name)
    scenes = DigitScenes(2, size=64, split="val", seed=5)
    inputs = [scenes.images]
    if type(model).__name__ == "MaskHeadModel":
        inputs.append(models.mask_head.instance_rois(scenes.instances)[0])
    logits = eval_forward(model, models.backend.MINSEG, *inputs)
    agree = (logits.argmax(1) == _twin_logits(model, inputs).argmax(1)).mean()
    assert agree >= 0.99, f"{name}: float32 predictions agree on {agree:.4f} of the pixels"
    inputs = [a.astype(np.float64) for a in inputs]
    model = model.double()
    logits, expected = eval_forward(model, models.backend.MINSEG, *inputs), _twin_logits(model, inputs)
    assert logits.dtype == np.float64
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(logits, expected, rtol=1e-7, atol=1e-7 * scale, err_msg=f"{name} logits")


def test_readme_table_is_generated_from_the_records():
    from benchmarks import pretrained_weights

    with open(os.path.join(ROOT, "README.md")) as handle:
        readme = handle.read()
    assert pretrained_weights.readme_block(pretrained.available()) in readme
