"""Optimisers whose updates equal torch.optim's step for step: SGD and Adam.

Each keeps ``param_groups`` (a list of dicts with "params", "lr", ...) so a learning-rate schedule
can change ``group["lr"]`` between steps, as with torch.
"""
from __future__ import annotations

import numpy as np


class Optimizer:
    """Base of SGD and Adam: parameter groups, per-parameter state, and a step that calls the
    subclass's ``_update(data, grad, group, state)`` for every parameter with a gradient."""

    def __init__(self, params, defaults: dict):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: params is an empty list; pass model.parameters()")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[int, dict] = {}

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set to None, as torch's default set_to_none=True)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:
        """One update of every parameter that has a gradient, keeping its dtype."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    # _update never writes into grad and returns a new array: no copies needed
                    p.data = self._update(p.data, p.grad.astype(p.dtype, copy=False), group,
                                          self.state.setdefault(id(p), {})).astype(p.dtype, copy=False)

    def _update(self, value, grad, group, state):  # pragma: no cover - abstract
        raise NotImplementedError


def _check(name: str, value: float, low: float = 0.0) -> None:
    if not value >= low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.

        g <- grad + weight_decay * p
        b <- g (first step) or momentum * b + (1 - dampening) * g
        g <- g + momentum * b (nesterov) or b
        p <- p - lr * g
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        for name, value in (("SGD: lr", lr), ("SGD: momentum", momentum),
                            ("SGD: weight_decay", weight_decay)):
            _check(name, value)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, g, group, state):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                buf = g.copy()
            else:
                buf = momentum * state["momentum_buffer"] + (1 - group["dampening"]) * g
            state["momentum_buffer"] = buf
            g = g + momentum * buf if group["nesterov"] else buf
        return p - group["lr"] * g


class Adam(Optimizer):
    """Adam with bias correction and L2 weight decay (added to the gradient, as torch.optim.Adam).

        m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        _check("Adam: lr", lr)
        _check("Adam: eps", eps)
        _check("Adam: weight_decay", weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p, g, group, state):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        beta1, beta2 = group["betas"]
        state["step"] = t = state.get("step", 0) + 1
        if t == 1:  # the moments start at 0: beta * 0 + (1 - beta) * g without allocating the zeros
            m, v = (1 - beta1) * g, (1 - beta2) * g * g
        else:
            m = beta1 * state["exp_avg"] + (1 - beta1) * g
            v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
        state["exp_avg"], state["exp_avg_sq"] = m, v
        denom = np.sqrt(v) / np.sqrt(1 - beta2 ** t) + group["eps"]
        return p - group["lr"] / (1 - beta1 ** t) * m / denom


class PolyLR:
    """The poly schedule of DeepLab: lr = base_lr * (1 - step / total_steps) ** power, optionally
    after a linear warm-up: for step < warmup_steps the poly value is scaled by
    (step + 1) / (warmup_steps + 1), so the first steps of a fresh network (large gradients,
    batch norm statistics not settled yet) take small steps."""

    def __init__(self, optimizer: Optimizer, total_steps: int, power: float = 0.9, warmup_steps: int = 0):
        if total_steps <= 0:
            raise ValueError(f"PolyLR: total_steps must be positive, got {total_steps}")
        if warmup_steps < 0:
            raise ValueError(f"PolyLR: warmup_steps must be >= 0, got {warmup_steps}")
        self.optimizer, self.total_steps, self.power = optimizer, total_steps, power
        self.warmup_steps = warmup_steps
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.step_count = 0
        if warmup_steps:
            self._set_lrs()

    def factor(self) -> float:
        """lr / base_lr at the current step."""
        factor = (1 - self.step_count / self.total_steps) ** self.power
        if self.step_count < self.warmup_steps:
            factor *= (self.step_count + 1) / (self.warmup_steps + 1)
        return factor

    def step(self) -> None:
        """Advance one step (at most to total_steps) and set every group's lr from its base lr."""
        self.step_count = min(self.step_count + 1, self.total_steps)
        self._set_lrs()

    def _set_lrs(self) -> None:
        factor = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor
