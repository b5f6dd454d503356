"""Tensor operations (Functions with forward and backward) and the Tensor methods built on them."""
from __future__ import annotations

from ..autograd import Tensor
from . import elementwise as _ew
from .elementwise import clamp, where
from .reduce import amax, matmul, mean, sum  # noqa: A004 - torch's names
from .shape import cat, getitem, permute, reshape, stack, transpose

__all__ = ["amax", "cat", "clamp", "exp", "log", "matmul", "mean", "permute", "reshape", "sqrt",
           "stack", "sum", "transpose", "where"]


def exp(input: Tensor) -> Tensor:
    """e^x elementwise (torch.exp)."""
    return _ew.Exp.apply(input)


def log(input: Tensor) -> Tensor:
    """Natural logarithm elementwise (torch.log)."""
    return _ew.Log.apply(input)


def sqrt(input: Tensor) -> Tensor:
    """Square root elementwise (torch.sqrt)."""
    return _ew.Sqrt.apply(input)


def _binary_method(function, op, reflected=False):
    if reflected:
        return lambda self, other: _ew.binary(function, op, other, self)
    return lambda self, other: _ew.binary(function, op, self, other)


def _install_operators() -> None:
    """Attach the arithmetic operators and torch-named methods to Tensor."""
    for name, function, op in [("add", _ew.Add, "add"), ("sub", _ew.Sub, "sub"),
                               ("mul", _ew.Mul, "mul"), ("truediv", _ew.Div, "div"),
                               ("pow", _ew.Pow, "pow")]:
        setattr(Tensor, f"__{name}__", _binary_method(function, op))
        setattr(Tensor, f"__r{name}__", _binary_method(function, op, reflected=True))
    Tensor.__matmul__ = lambda self, other: matmul(self, other)
    Tensor.__rmatmul__ = lambda self, other: matmul(Tensor(other, dtype=self.dtype), self)
    Tensor.__neg__ = lambda self: _ew.Neg.apply(self)
    Tensor.__getitem__ = getitem
    methods = {
        "exp": exp, "log": log, "sqrt": sqrt,
        "abs": lambda self: _ew.Abs.apply(self),
        "relu": lambda self: _ew.LeakyReLU.apply(self, negative_slope=0.0),
        "sigmoid": lambda self: _ew.Sigmoid.apply(self),
        "tanh": lambda self: _ew.Tanh.apply(self),
        "sum": sum, "mean": mean, "amax": amax, "max": amax,
        "matmul": matmul, "reshape": reshape, "view": reshape, "permute": permute,
        "transpose": transpose, "clamp": clamp,
        "flatten": lambda self, start_dim=0: reshape(self, self.shape[:start_dim] + (-1,)),
    }
    for name, fn in methods.items():
        setattr(Tensor, name, fn)
    Tensor.T = property(lambda self: permute(self, tuple(reversed(range(self.ndim)))))


_install_operators()
