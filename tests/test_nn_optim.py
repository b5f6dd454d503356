"""nn.Module bookkeeping and layers vs torch.nn; optimiser trajectories vs torch.optim, step for step."""
import math

import numpy as np
import pytest
import torch

import minseg as ms
from minseg import nn, optim


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.fc1(x))))


def test_names_parameters_and_state_dict_match_torch_layout():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    twin = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in twin.named_parameters()]
    bn, tbn = nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)
    assert list(bn.state_dict()) == list(tbn.state_dict())
    for key, value in tbn.state_dict().items():
        assert bn.state_dict()[key].shape == tuple(value.shape)


def test_load_state_dict_round_trip_and_errors():
    a, b = TwoLayer(), TwoLayer()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    state = a.state_dict()
    state["fc1.weight"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"load_state_dict: fc1.weight has shape \(2, 2\)"):
        b.load_state_dict(state)
    with pytest.raises(KeyError, match="missing keys \\['fc2.bias'\\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "fc2.bias"})


def test_default_init_bounds_are_torchs():
    # kaiming_uniform(a=sqrt 5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    ms.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(layer.bias.data).max() <= bound


def test_linear_forward_backward_vs_torch():
    ms.manual_seed(1)
    ours = nn.Linear(5, 3)
    theirs = torch.nn.Linear(5, 3)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 7, 5)).astype(np.float32)
    out = ours(ms.tensor(x))
    t_out = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    (out * out).sum().backward()
    (t_out * t_out).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_module_train_then_eval_vs_torch(momentum):
    ours, theirs = nn.BatchNorm2d(3, momentum=momentum), torch.nn.BatchNorm2d(3, momentum=momentum)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = (rng.standard_normal((4, 3, 5, 5)) * (step + 1) + step).astype(np.float32)
        np.testing.assert_allclose(ours(ms.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(ms.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)



@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d_without_running_stats_uses_batch_stats_in_both_modes_vs_torch(training):
    ours = nn.BatchNorm2d(3, track_running_stats=False).train(training)
    theirs = torch.nn.BatchNorm2d(3, track_running_stats=False).train(training)
    x = (np.random.default_rng(1).standard_normal((2, 3, 4, 4)) * 3 + 1).astype(np.float32)
    np.testing.assert_allclose(ours(ms.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    assert ours.running_mean is None
    assert set(ours.state_dict()) == set(theirs.state_dict()) == {"weight", "bias"}

def test_train_eval_switch_reaches_children_and_dropout_obeys():
    model = TwoLayer().eval()
    assert not model.drop.training
    x = ms.tensor(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert model.fc1.training


def test_zero_grad_clears_every_parameter():
    model = TwoLayer().eval()
    model(ms.tensor(np.ones((3, 4), np.float32))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# --- optimisers: the same 20 steps in both libraries ----------------------------------------
OPTIMISERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
]


@pytest.mark.parametrize("name,kwargs", OPTIMISERS)
def test_trajectory_on_quadratic_equals_torch(name, kwargs):
    # f(p) = 0.5 p^T A p - b^T p, an ill-conditioned bowl where momentum matters
    a = np.diag([1.0, 10.0, 0.3]).astype(np.float32)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    start = np.array([3.0, 1.0, -2.0], np.float32)
    p = nn.Parameter(start.copy())
    tp = torch.nn.Parameter(torch.tensor(start))
    ours, theirs = getattr(optim, name)([p], **kwargs), getattr(torch.optim, name)([tp], **kwargs)
    for _ in range(20):
        for param, opt, lib in ((p, ours, ms), (tp, theirs, torch)):
            opt.zero_grad()
            loss = 0.5 * (param * (lib.tensor(a) @ param)).sum() - (lib.tensor(b) * param).sum()
            loss.backward()
            opt.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", OPTIMISERS)
def test_trajectory_on_linear_layer_equals_torch(name, kwargs):
    ms.manual_seed(3)
    model = nn.Linear(4, 2)
    twin = torch.nn.Linear(4, 2)
    twin.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)
    ours = getattr(optim, name)(model.parameters(), **kwargs)
    theirs = getattr(torch.optim, name)(twin.parameters(), **kwargs)
    for _ in range(20):
        ours.zero_grad()
        ((model(ms.tensor(x)) - ms.tensor(y)) ** 2).mean().backward()
        ours.step()
        theirs.zero_grad()
        ((twin(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
        theirs.step()
    for (key, p), (_, q) in zip(model.named_parameters(), twin.named_parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=key)


def test_poly_schedule_by_hand():
    p = nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([p], lr=0.1)
    schedule = optim.PolyLR(opt, total_steps=10, power=0.9)
    for _ in range(5):
        schedule.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 0.9)


def test_poly_schedule_with_warmup_by_hand():
    # base 1, 10 steps, power 1, 3 warm-up steps: (1 - t/10) * (t + 1) / 4 for t < 3, then 1 - t/10
    p = nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([p], lr=1.0)
    schedule = optim.PolyLR(opt, total_steps=10, power=1.0, warmup_steps=3)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        schedule.step()
    assert lrs == pytest.approx([0.25, 0.45, 0.6, 0.7, 0.6])
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        optim.PolyLR(opt, total_steps=10, warmup_steps=-1)


def test_optimiser_bad_input():
    p = nn.Parameter(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="SGD: lr must be >= 0"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="SGD: nesterov momentum requires momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Adam: betas must be in"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty list"):
        optim.Adam([])
