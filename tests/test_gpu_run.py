"""The GPU run's code path, on the CPU at tiny scale: one process, and DDP with gloo over 2 processes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import minseg as ms
from minseg.reference import gpu_run, interop
from minseg.reference.gpu_train import generate_scenes

pytestmark = pytest.mark.slow


def test_tiny_run_trains_reports_and_checks_minseg_against_torch(tmp_path, capsys):
    results = gpu_run.run(tmp_path, models=("unet", "deeplabv3plus"), progress=False)
    assert "no GPU: running the same code at tiny scale on the CPU" in capsys.readouterr().out
    assert results["scale"] == "tiny" and results["world_size"] == 1 and results["gpus"] == 0
    assert [row["model"] for row in results["models"]] == ["unet", "deeplabv3plus"]
    for row in results["models"]:
        assert row["steps"] == gpu_run.SCALES["tiny"]["max_steps"] and row["ranks_in_sync"]
        assert 0 <= row["val_miou"] <= 1 and 0 <= row["pixel_accuracy"] <= 1
    for name, check in results["minseg_checks"].items():
        assert check["max_abs_diff"] <= 1e-4 * max(1.0, check["logit_scale"]), name
        # float32, a model 3 steps old: its logits are near ties, so a rounding difference within the
        # tolerance above can flip a pixel's argmax; the predictions agree all but everywhere
        assert check["same_predictions"] >= 0.999, name
        assert check["miou_minseg"] == pytest.approx(check["miou_torch"], abs=1e-3), name
    assert set(results["minseg_checks"]["deeplabv3plus"]["crf"]) == {"miou_before", "miou_after"}
    assert json.loads((tmp_path / "results.json").read_text())["models"][0]["model"] == "unet"
    markdown = (tmp_path / "results.md").read_text()
    assert "| unet | 0.1 | 3 |" in markdown and "Dense CRF (minseg, default parameters) on deeplabv3plus" in markdown

    # the saved float16 weights load into minseg's model of the same preset
    saved = np.load(tmp_path / "weights" / "unet.npz")
    model = interop.minseg_twin(gpu_run.build_model("unet", "cpu"))
    model.load_state_dict({key: saved[key] for key in saved.files})
    assert model.state_dict()["head.weight"].dtype == np.float32
    np.testing.assert_array_equal(model.state_dict()["head.weight"], saved["head.weight"].astype(np.float32))


def test_scenes_do_not_depend_on_how_many_processes_made_them():
    one = generate_scenes(10, 32, "val", seed=3, digits=(1, 2), chunk=4)
    again = generate_scenes(10, 32, "val", seed=3, digits=(1, 2), chunk=4)
    assert one[0].dtype == np.uint8 and one[0].shape == (10, 3, 32, 32) and one[1].shape == (10, 32, 32)
    np.testing.assert_array_equal(one[0], again[0])
    assert not np.array_equal(one[0][:4], generate_scenes(4, 32, "val", seed=4, digits=(1, 2))[0])


def test_ddp_with_gloo_on_two_processes_keeps_the_ranks_in_sync(tmp_path):
    """The learning rate follows a clock shared by the ranks and they stop at the same step: with a
    per-rank clock the parameters drift apart (this test caught it), with a per-rank stop DDP hangs."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(torchrun + ["-m", "minseg.reference.gpu_run", "--out", str(tmp_path), "--models",
                                      "unet", "--minutes", "0.02"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["world_size"] == 2
    assert all(row["ranks_in_sync"] for row in results["models"]), results["models"]


def test_the_weights_written_by_torch_load_as_minseg_weights():
    """float16 arrays from the run's .npz become the minseg model's float32 parameters exactly."""
    model = gpu_run.build_model("deeplabv3plus", "cpu")
    half = {k: v.detach().numpy().astype(np.float16) if v.is_floating_point() else v.numpy()
            for k, v in model.state_dict().items()}
    ours = interop.minseg_twin(model)
    ours.load_state_dict(half)
    x = np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()})
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.eval()(ms.tensor(x)).data, expected, rtol=1e-4, atol=1e-5)
