"""Every model and variant against its PyTorch twin: weights copied across give equal logits and
equal parameter gradients (float32, rtol 1e-4), both directions of the state_dict interop."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from minseg import models  # noqa: E402
from minseg import tensor  # noqa: E402
from minseg.reference import interop  # noqa: E402

TINY_VGG = dict(widths=(4, 4, 6, 6, 8), convs=(1, 1, 2, 1, 1))
TINY_RESNET = dict(widths=(4, 6, 6, 8), blocks_per_stage=(1, 2, 1, 1), aspp_width=6, rates=(1, 2, 3),
                   dropout=0.0)

# (class name, config, input size); every variant the issue names
CASES = [
    ("FCN", dict(variant="32s", fc_width=8, fc_kernel=3, dropout=0.0, **TINY_VGG), 32),
    ("FCN", dict(variant="16s", fc_width=8, fc_kernel=3, dropout=0.0, **TINY_VGG), 32),
    ("FCN", dict(variant="8s", fc_width=8, fc_kernel=3, dropout=0.0, **TINY_VGG), 64),
    ("UNet", dict(width=4, depth=2), 24),
    ("UNet", dict(width=4, depth=2, batch_norm=True), 16),
    ("UNet", dict(width=4, depth=2, padding=False), 44),
    ("SegNet", dict(widths=(4, 6, 8), convs=(1, 2, 2)), 20),
    ("DeepLabV3", dict(output_stride=16, **TINY_RESNET), 64),
    ("DeepLabV3", dict(output_stride=8, **TINY_RESNET), 24),
    ("DeepLabV3Plus", dict(output_stride=16, low_level_width=4, **TINY_RESNET), 64),
    ("DeepLabV3Plus", dict(output_stride=8, low_level_width=4, **TINY_RESNET), 24),
    ("DeepLabLargeFOV", dict(fc_width=8, fov_rate=3, dropout=0.0, **TINY_VGG), 24),
    ("DeepLabLargeFOV", dict(fc_width=8, aspp_rates=(1, 2, 3), dropout=0.0, **TINY_VGG), 24),
]
_SHOWN = ("variant", "padding", "output_stride", "aspp_rates", "batch_norm")
IDS = [name + "".join(f"-{k}={v}" for k, v in cfg.items() if k in _SHOWN) for name, cfg, _ in CASES]


def _close(actual, expected, what, rtol=1e-4):
    """rtol, with an absolute floor relative to the largest entry (sums of many rounded terms)."""
    expected = np.asarray(expected)
    scale = max(float(np.abs(expected).max()), 1e-12)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def _compare(model, twin, x, seed, rtol, gradients=True):
    """Forward both on x, backward both with the same random upstream gradient, compare all."""
    out = model(tensor(x))
    twin_out = twin(torch.from_numpy(x))
    _close(out.data, twin_out.detach().numpy(), "logits", rtol)
    if not gradients:
        return
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(x.dtype)
    out.backward(upstream)
    twin_out.backward(torch.from_numpy(upstream))
    twin_params = dict(twin.named_parameters())
    names = [name for name, _ in model.named_parameters()]
    assert names == list(twin_params), "parameter names differ between minseg and torch"
    for name, p in model.named_parameters():
        assert p.grad.dtype == x.dtype
        _close(p.grad, twin_params[name].grad.numpy(), f"gradient of {name}", rtol)
    for key, value in model.state_dict().items():  # BatchNorm running statistics updated alike
        _close(value, twin.state_dict()[key].numpy(), f"buffer {key}", rtol)


@pytest.mark.parametrize("name, config, size", CASES, ids=IDS)
def test_minseg_weights_into_torch_give_equal_logits_and_gradients(name, config, size):
    """float32: equal logits (rtol 1e-4) and gradients; float64: equal gradients (rtol 1e-7).

    DeepLab's float32 gradients are compared in float64 only: its ASPP image-level branch batch-
    normalises a handful of values and its max-pools/ReLUs meet near-ties, so a last-bit
    difference in float32 can reroute a gradient; in float64 the two libraries agree to ~1e-14.
    """
    rng = np.random.default_rng(1)
    x = rng.random((4 if "DeepLab" in name else 2, 3, size, size), dtype=np.float32)
    model = models.create(name, num_classes=5, **config)
    _compare(model, interop.torch_twin(model), x, seed=2, rtol=1e-4, gradients="DeepLabV3" not in name)
    model = models.create(name, num_classes=5, **config).double()
    _compare(model, interop.torch_twin(model), x.astype(np.float64), seed=2, rtol=1e-7)


@pytest.mark.parametrize("name, config, size", CASES[::3], ids=IDS[::3])
def test_torch_weights_into_minseg_give_equal_logits_in_eval_mode(name, config, size):
    from minseg.reference.models import create

    torch.manual_seed(0)
    twin = create(name, num_classes=5, **config)
    for module in twin.modules():  # non-trivial running statistics, so eval mode is tested
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    twin.eval()
    model = interop.minseg_twin(twin)
    assert not model.training
    x = np.random.default_rng(3).random((1, 3, size, size), dtype=np.float32)
    _close(model(tensor(x)).data, twin(torch.from_numpy(x)).detach().numpy(), "eval logits")


def test_mask_head_twins_for_roi_align_and_roi_pool():
    rois = np.array([[0, 2, 3, 20, 17], [1, 5.5, 1, 30, 29], [0, 0, 0, 31, 31]], np.float32)
    x = np.random.default_rng(4).random((2, 3, 32, 32), dtype=np.float32)
    for pooler in ("align", "pool"):
        model = models.MaskHeadModel(4, width=4, feature_stride=4, resolution=5, head_convs=2, pooler=pooler)
        twin = interop.torch_twin(model)
        out = model(tensor(x), rois)
        twin_out = twin(torch.from_numpy(x), torch.from_numpy(rois))
        assert out.shape == (3, 4, 10, 10)
        _close(out.data, twin_out.detach().numpy(), f"{pooler} logits")
        classes, targets = np.array([0, 3, 1]), (np.random.default_rng(5).random((3, 10, 10)) > 0.5)
        loss = models.mask_loss(out, classes, targets)
        from minseg.reference.models import mask_loss as torch_mask_loss
        twin_loss = torch_mask_loss(twin_out, classes, targets)
        _close(loss.data, twin_loss.detach().numpy(), "mask loss")
        loss.backward()
        twin_loss.backward()
        for name, p in twin.named_parameters():
            _close(dict(model.named_parameters())[name].grad, p.grad.numpy(), f"{pooler} gradient of {name}")


def test_state_dict_round_trip_through_torch_keeps_every_array():
    model = models.DeepLabV3Plus(5, low_level_width=4, **TINY_RESNET)
    state = interop.to_torch_state_dict(model)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    fresh = models.DeepLabV3Plus(5, low_level_width=4, **TINY_RESNET)
    interop.load_torch_state_dict(fresh, state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)
    twin = interop.torch_twin(model)
    interop.load_minseg_state_dict(twin, model.state_dict())
    assert twin.state_dict()["aspp.project.0.weight"].dtype == torch.float32


def test_interop_rejects_mismatched_keys():
    model = models.UNet(5, width=4, depth=2)
    state = interop.to_torch_state_dict(model)
    state.pop("head.bias")
    with pytest.raises(KeyError, match="head.bias"):
        interop.load_torch_state_dict(model, state)
