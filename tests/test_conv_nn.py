"""nn.Conv2d / nn.ConvTranspose2d (torch's defaults, shapes, padding modes, output_size) and the
bilinear initialisation of a transposed convolution."""
import math

import numpy as np
import pytest
import torch

import minseg as ms
import minseg.nn as nn

pytestmark = pytest.mark.usefixtures("one_thread")


def torch_twin(ours, theirs):
    """Copy our layer's parameters into the torch layer."""
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        if ours.bias is not None:
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    return theirs


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Conv2d(6, 8, 3, groups=2), (8, 3, 3, 3)),
    (lambda: nn.Conv2d(4, 4, (1, 5), groups=4, bias=False), (4, 1, 1, 5)),
    (lambda: nn.ConvTranspose2d(6, 8, 4, stride=2, groups=2), (6, 4, 4, 4)),
])
def test_weight_shapes_and_default_init_bounds(layer, shape):
    ms.random.manual_seed(0)
    m = layer()
    assert m.weight.shape == shape and m.weight.requires_grad
    bound = 1 / math.sqrt(shape[1] * shape[2] * shape[3])  # kaiming_uniform(a=sqrt 5) = 1/sqrt(fan_in)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.8 * bound
    if m.bias is not None:
        assert m.bias.shape == (shape[0] if isinstance(m, nn.Conv2d) else 8,)
        assert np.abs(m.bias.data).max() <= bound
    assert m.weight.dtype == np.float32


def test_init_is_seeded():
    ms.random.manual_seed(3)
    a = nn.Conv2d(2, 3, 3).weight.data
    ms.random.manual_seed(3)
    np.testing.assert_array_equal(a, nn.Conv2d(2, 3, 3).weight.data)


def test_default_init_statistics_match_torch():
    # a large layer: the sample std of U(-b, b) is b / sqrt(3) for both libraries
    ours, theirs = nn.Conv2d(64, 64, 3), torch.nn.Conv2d(64, 64, 3)
    np.testing.assert_allclose(ours.weight.data.std(), theirs.weight.detach().numpy().std(), rtol=0.03)


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding="same", dilation=2),
                                    dict(padding=2, padding_mode="reflect"), dict(padding=(1, 2), padding_mode="replicate"),
                                    dict(padding="same", padding_mode="reflect"), dict(stride=2, groups=3)])
def test_conv2d_layer_matches_torch(kwargs):
    ours = nn.Conv2d(3, 6, 3, **kwargs)
    theirs = torch_twin(ours, torch.nn.Conv2d(3, 6, 3, **kwargs))
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8)).astype(np.float32)
    y = ours(ms.tensor(x, requires_grad=True))
    np.testing.assert_allclose(y.data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    assert "Conv2d" in repr(ours) and "kernel_size=(3, 3)" in repr(ours)


@pytest.mark.parametrize("output_size", [None, (13, 15), (14, 16)])
def test_conv_transpose2d_layer_matches_torch_including_output_size(output_size):
    ours = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    theirs = torch_twin(ours, torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1))
    x = np.random.default_rng(1).standard_normal((1, 4, 7, 8)).astype(np.float32)
    y = ours(ms.tensor(x), output_size=output_size)
    expected = theirs(torch.tensor(x), output_size=output_size).detach().numpy()
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-5)


def test_layers_train_end_to_end():
    ms.random.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(4, 1, 2, stride=2))
    x = ms.tensor(np.random.default_rng(2).standard_normal((2, 1, 5, 5)).astype(np.float32))
    net(x).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())


def test_bilinear_kernel_values():
    # FCN's filter for factor 2 (k = 4): taps 1/4, 3/4, 3/4, 1/4 along each axis
    np.testing.assert_allclose(nn.bilinear_kernel(4)[1], np.array([0.25, 0.75, 0.75, 0.25]) * 0.75)
    np.testing.assert_allclose(nn.bilinear_kernel(3), np.outer([0.5, 1, 0.5], [0.5, 1, 0.5]))


@pytest.mark.parametrize("factor, groups", [(2, 1), (4, 3)])
def test_bilinear_init_upsamples_like_interpolate(factor, groups):
    # k = 2f, stride f, padding f/2: equals bilinear interpolation (align_corners=False) away from the border
    up = nn.bilinear_init_(nn.ConvTranspose2d(3, 3, 2 * factor, stride=factor, padding=factor // 2, groups=groups))
    x = np.random.default_rng(3).standard_normal((1, 3, 6, 6)).astype(np.float32)
    y = up(ms.tensor(x)).data
    expected = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=factor, mode="bilinear",
                                               align_corners=False).numpy()
    assert y.shape == expected.shape
    inner = slice(factor, -factor)
    np.testing.assert_allclose(y[..., inner, inner], expected[..., inner, inner], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, r"Conv2d: in_channels \(3\) and out_channels"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "Conv2d: in_channels must be a positive int"),
    (lambda: nn.Conv2d(2, 4, 0), ValueError, "Conv2d: kernel_size must be >= 1"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="circular"), ValueError, "Conv2d: padding_mode must be one of"),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), ValueError, "padding='same' needs stride 1"),
    (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=2), ValueError, "output_padding must be smaller"),
    (lambda: nn.ConvTranspose2d(2, 2, 3, stride=2)(ms.tensor(np.ones((1, 2, 4, 4), np.float32)), output_size=(12, 12)),
     ValueError, "output_size .* not reachable"),
    (lambda: nn.bilinear_init_(nn.ConvTranspose2d(2, 3, 4)), ValueError, "in_channels == out_channels"),
    (lambda: nn.bilinear_init_(nn.Conv2d(2, 2, 4)), TypeError, "must be a ConvTranspose2d"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
