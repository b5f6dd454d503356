"""torchvision's segmentation models rebuilt from minseg ops: torchvision's own state_dicts load
unchanged, and the outputs and gradients equal torchvision's (the reference is torchvision itself)."""
import numpy as np
import pytest
import torch
import torchvision

import minseg as ms
from minseg import models
from minseg.reference import interop

# whole models: run with Numba's kernels (the NUMBA_DISABLE_JIT smoke run covers the ops one by one)
pytestmark = pytest.mark.slow

ARCHITECTURES = ["fcn_resnet50", "deeplabv3_resnet50"]


def torchvision_model(architecture, num_classes=5, aux_loss=True, seed=0):
    """A randomly initialised torchvision model (nothing downloads) with non-trivial BN statistics,
    so that eval mode really uses them."""
    torch.manual_seed(seed)
    build = getattr(torchvision.models.segmentation, architecture)
    model = build(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=aux_loss)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


def assert_close(ours, theirs, what, rtol):
    """Equal within rtol of the largest magnitude (logits and gradients have no natural scale)."""
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torchvision's {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * float(np.abs(theirs).max()), err_msg=what)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_eval_logits_equal_torchvision_float32(architecture):
    """float32, within 1e-4 of the largest logit, on 224x224 and a non-square input."""
    tv = torchvision_model(architecture).eval()
    model = interop.from_torchvision(tv)
    assert not model.training and model.config == dict(architecture=architecture, num_classes=5, aux_loss=True)
    rng = np.random.default_rng(1)
    for shape in ((1, 3, 224, 224), (1, 3, 120, 168)):
        x = rng.standard_normal(shape, dtype=np.float32)
        out = model(ms.tensor(x))
        with torch.no_grad():
            expected = tv(torch.from_numpy(x))
        assert sorted(out) == ["aux", "out"]
        for key in ("out", "aux"):
            assert out[key].shape == shape[:1] + (5,) + shape[2:]
            assert_close(out[key].data, expected[key], f"{architecture} {key} at {shape}", rtol=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_eval_logits_equal_torchvision_float64(architecture):
    tv = torchvision_model(architecture, aux_loss=False).double().eval()
    model = interop.from_torchvision(tv, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((1, 3, 72, 56))
    out = model(ms.tensor(x))
    assert list(out) == ["out"] and out["out"].dtype == np.float64
    with torch.no_grad():
        assert_close(out["out"].data, tv(torch.from_numpy(x))["out"], f"{architecture} float64", rtol=1e-10)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_train_mode_outputs_gradients_and_statistics_equal_torchvision(architecture):
    """Batch statistics in every BatchNorm (dropout switched off in both, since its masks are random):
    both outputs, the input's gradient and a few parameters' gradients, and the updated running means."""
    tv = torchvision_model(architecture).double().train()
    model = interop.from_torchvision(tv, dtype=np.float64)
    assert model.training
    for modules in (tv.modules(), model.modules()):
        for module in modules:
            if type(module).__name__ == "Dropout":
                module.training = False
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 48, 40))
    x_ms, x_tv = ms.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = model(x_ms), tv(x_tv)
    weights = {key: rng.standard_normal(expected[key].shape) for key in ("out", "aux")}
    loss = (out["out"] * ms.tensor(weights["out"])).sum() + (out["aux"] * ms.tensor(weights["aux"])).sum()
    tv_loss = sum((expected[key] * torch.from_numpy(weights[key])).sum() for key in ("out", "aux"))
    loss.backward()
    tv_loss.backward()
    for key in ("out", "aux"):
        assert_close(out[key].data, expected[key], f"train-mode {key}", rtol=1e-9)
    assert_close(x_ms.grad, x_tv.grad.numpy(), "gradient of the input", rtol=1e-9)
    ours = dict(model.named_parameters())
    names = ["backbone.conv1.weight", "backbone.layer4.2.conv2.weight", "backbone.layer3.0.downsample.1.weight",
             "classifier.4.weight", "classifier.4.bias", "aux_classifier.0.weight"]
    if architecture.startswith("deeplab"):
        names += ["classifier.0.convs.4.1.weight", "classifier.0.project.0.weight"]
    for name, p in tv.named_parameters():
        if name in names:
            assert_close(ours[name].grad, p.grad.numpy(), f"gradient of {name}", rtol=1e-8)
    state = model.state_dict()
    for key in ("backbone.bn1.running_mean", "backbone.layer4.2.bn3.running_var", "aux_classifier.1.running_mean"):
        assert_close(state[key], tv.state_dict()[key].numpy(), f"buffer {key}", rtol=1e-9)


def test_state_dict_round_trips_and_loads_from_a_torch_save_file(tmp_path):
    tv = torchvision_model("deeplabv3_resnet50", num_classes=3, aux_loss=False).eval()
    path = tmp_path / "deeplab.pth"
    torch.save(tv.state_dict(), path)
    model = interop.from_torchvision(path)
    assert model.config == dict(architecture="deeplabv3_resnet50", num_classes=3, aux_loss=False)
    for key, value in tv.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value.numpy(), err_msg=key)
    back = interop.to_torchvision(model)
    assert isinstance(back, torchvision.models.segmentation.DeepLabV3) and not back.training
    x = torch.from_numpy(np.random.default_rng(4).standard_normal((1, 3, 40, 40), dtype=np.float32))
    with torch.no_grad():
        torch.testing.assert_close(back(x)["out"], tv(x)["out"], rtol=0, atol=0)


@pytest.mark.parametrize("architecture", ["fcn_resnet101", "deeplabv3_resnet101"])
def test_resnet101_versions_have_torchvisions_keys_and_shapes(architecture):
    tv = getattr(torchvision.models.segmentation, architecture)(weights=None, weights_backbone=None,
                                                                num_classes=4, aux_loss=True)
    ours = getattr(models, architecture)(num_classes=4, aux_loss=True).state_dict()
    theirs = tv.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(v.shape) for k, v in theirs.items())
    assert interop.torchvision_config(theirs) == dict(architecture=architecture, num_classes=4, aux_loss=True)


def test_resnet50_classifier_equals_torchvision():
    torch.manual_seed(5)
    tv = torchvision.models.resnet50(weights=None, num_classes=7).eval()
    model = models.resnet50(num_classes=7)
    interop.load_torch_state_dict(model, tv.state_dict())
    model.eval()
    x = np.random.default_rng(6).standard_normal((2, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        assert_close(model(ms.tensor(x)).data, tv(torch.from_numpy(x)), "resnet50 logits", rtol=1e-4)


def test_clear_errors():
    with pytest.raises(ValueError, match="from_torchvision: expected the state_dict of torchvision's"):
        interop.from_torchvision({"weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"ResNet: layers needs 4 block counts \(layer1..layer4\), got \(3, 4\)"):
        models.ResNet((3, 4))
    with pytest.raises(RuntimeError, match="built with num_classes=None"):
        models.ResNet((1, 1, 1, 1), num_classes=None)(ms.tensor(np.zeros((1, 3, 32, 32), np.float32)))
