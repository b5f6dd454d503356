"""Tensor operations (Functions with forward and backward), torch-named; ``Tensor``'s operators and
methods (declared in :mod:`minseg.autograd`) call these."""
from __future__ import annotations

import sys

from .. import autograd as _autograd
from ..autograd import Tensor
from . import elementwise as _ew
from .elementwise import clamp, where
from .reduce import amax, matmul, mean, sum  # noqa: A004 - torch's names
from .shape import cat, getitem, permute, reshape, stack, transpose

__all__ = ["amax", "cat", "clamp", "exp", "log", "matmul", "mean", "permute", "reshape", "sqrt",
           "stack", "sum", "transpose", "where", "add", "sub", "mul", "div", "pow", "neg", "abs", "relu",
           "sigmoid", "tanh", "getitem"]


def exp(input: Tensor) -> Tensor:
    """e^x elementwise (torch.exp)."""
    return _ew.ExpFunction.apply(input)


def log(input: Tensor) -> Tensor:
    """Natural logarithm elementwise (torch.log)."""
    return _ew.LogFunction.apply(input)


def sqrt(input: Tensor) -> Tensor:
    """Square root elementwise (torch.sqrt)."""
    return _ew.SqrtFunction.apply(input)


def add(input, other) -> Tensor:
    """input + other, broadcasting (torch.add); either may be a number or an ndarray."""
    return _ew.binary(_ew.AddFunction, "add", input, other)


def sub(input, other) -> Tensor:
    """input - other, broadcasting (torch.sub)."""
    return _ew.binary(_ew.SubFunction, "sub", input, other)


def mul(input, other) -> Tensor:
    """input * other, broadcasting (torch.mul)."""
    return _ew.binary(_ew.MulFunction, "mul", input, other)


def div(input, other) -> Tensor:
    """input / other, broadcasting (torch.div)."""
    return _ew.binary(_ew.DivFunction, "div", input, other)


def pow(input, exponent) -> Tensor:  # noqa: A001 - torch's name
    """input ** exponent, broadcasting (torch.pow)."""
    return _ew.binary(_ew.PowFunction, "pow", input, exponent)


def neg(input: Tensor) -> Tensor:
    """-input (torch.neg)."""
    return _ew.NegFunction.apply(input)


def abs(input: Tensor) -> Tensor:  # noqa: A001 - torch's name
    """|input| elementwise (torch.abs)."""
    return _ew.AbsFunction.apply(input)


def relu(input: Tensor) -> Tensor:
    """max(input, 0) elementwise (torch.relu)."""
    return _ew.LeakyReLUFunction.apply(input, negative_slope=0.0)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x) elementwise (torch.sigmoid)."""
    return _ew.SigmoidFunction.apply(input)


def tanh(input: Tensor) -> Tensor:
    """tanh elementwise (torch.tanh)."""
    return _ew.TanhFunction.apply(input)


_autograd._ops = sys.modules[__name__]  # the Tensor operators delegate to this module
