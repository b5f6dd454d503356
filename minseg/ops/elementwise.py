"""Element-wise operations with their derivatives: arithmetic, exp/log, activations, where, clamp.

Each Function's backward is the derivative written out: for ``y = f(a, b)`` it returns
``(g * dy/da, g * dy/db)``; broadcasting is undone by the graph walk (``autograd.unbroadcast``).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor, as_array
from ..threads import in_halves


def check_operand(op: str, x, other, name: str = "other"):
    """Validate a second operand: a Tensor of the same float dtype, an ndarray or a number."""
    if isinstance(other, Tensor):
        if x.dtype != other.dtype and other.dtype.kind == "f" and x.dtype.kind == "f":
            raise TypeError(
                f"{op}: {name} has dtype {other.dtype} but input has dtype {x.dtype}; "
                f"convert one of them (minseg does not promote float32 and float64 silently)"
            )
        return other
    if isinstance(other, (numbers.Number, np.ndarray, np.generic, list)):
        array = np.asarray(other)
        if array.dtype.kind in "fiub":
            return array.astype(x.dtype, copy=False) if x.dtype.kind == "f" else array
    raise TypeError(f"{op}: {name} must be a Tensor, an ndarray or a number, got {type(other).__name__}")


def check_broadcast(op: str, a, b) -> None:
    """Raise a ValueError naming ``op`` when the two shapes cannot broadcast."""
    shape_a, shape_b = np.shape(as_array(a)), np.shape(as_array(b))
    try:
        np.broadcast_shapes(shape_a, shape_b)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {shape_a} and {shape_b} cannot be broadcast together "
            f"(trailing sizes must match or be 1)"
        ) from None


class AddFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class SubFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g


class MulFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a


class DivFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
        a, b = ctx.saved_tensors
        return g / b, -g * a / (b * b)


class NegFunction(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class PowFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b ln a  (only where a > 0 is it defined)
        a, b, out = ctx.saved_tensors
        grad_a = g * b * np.power(a, b - 1)
        grad_b = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = np.where(a > 0, g * out * np.log(np.where(a > 0, a, 1)), 0)
        return grad_a, grad_b


class OutputDerivativeFunction(Function):
    """y = f(a) element-wise, for the f whose derivative is simplest in terms of y itself
    (exp: y, sqrt: 1/2y, sigmoid: y(1-y), tanh: 1-y^2): forward saves y, backward returns g f'(y)."""

    @staticmethod
    def function(a):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def derivative(out):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, a):
        out = cls.function(a)
        ctx.save_for_backward(out)
        return out

    @classmethod
    def backward(cls, ctx, g):
        (out,) = ctx.saved_tensors
        return (g * cls.derivative(out),)


class ExpFunction(OutputDerivativeFunction):
    function = staticmethod(np.exp)
    derivative = staticmethod(lambda y: y)


class LogFunction(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / a,)


class SqrtFunction(OutputDerivativeFunction):
    function = staticmethod(np.sqrt)
    derivative = staticmethod(lambda y: 1 / (2 * y))


class AbsFunction(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * np.sign(a),)  # torch also uses sign(0) = 0


def _kernels():
    """ops/kernels.py, imported on the first call (Numba loads then, not at ``import minseg``)."""
    from . import kernels

    return kernels


def _numba_float(*arrays: np.ndarray) -> bool:
    """True when every array is float32 or float64, the dtypes ops/kernels.py's kernels take."""
    return all(a.dtype == np.float32 or a.dtype == np.float64 for a in arrays)


def _relu_part(values: np.ndarray, mask: np.ndarray, out: np.ndarray) -> None:
    """relu on (a part of) an array of any other dtype, in NumPy: out = max(values, 0) and mask =
    not (values <= 0), as kernels.relu_forward."""
    np.logical_not(np.less_equal(values, 0, out=mask), out=mask)
    np.maximum(values, values.dtype.type(0), out=out)


def _above_zero(values: np.ndarray, mask: np.ndarray) -> None:
    """mask = values > 0."""
    np.greater(values, 0, out=mask)


def leaky_relu_array(a: np.ndarray, positive: np.ndarray, negative_slope: float) -> np.ndarray:
    """np.where(positive, a, a * slope) in one new array (np.where needs a second, a * slope): the
    negatives are scaled, then the positives copied over them (for a slope other than 0; relu is
    _relu_part)."""
    out = np.empty_like(a)  # an array also for a 0-d input (a ufunc would return a scalar)
    np.multiply(a, a.dtype.type(negative_slope), out=out)
    np.copyto(out, a, where=positive)
    return out


class LeakyReLUFunction(Function):
    """relu is the case negative_slope = 0: y = x for x > 0, slope * x otherwise."""

    @staticmethod
    def forward(ctx, a, negative_slope=0.0):
        a = a if a.flags.c_contiguous else np.ascontiguousarray(a)  # (which makes a 0-d array 1-d)
        positive = np.empty(a.shape, bool)  # where the gradient passes; on both cores for large arrays
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        if negative_slope == 0.0:
            out = np.empty_like(a)  # an array also for a 0-d input (a ufunc would return a scalar)
            work = _kernels().relu_forward if _numba_float(a) else _relu_part
            in_halves(work, [a.reshape(-1), positive.reshape(-1), out.reshape(-1)])
            return out
        in_halves(_above_zero, [a, positive])  # torch's leaky_relu passes it where x > 0
        return leaky_relu_array(a, positive, negative_slope)

    @staticmethod
    def backward(ctx, g):
        (positive,) = ctx.saved_tensors
        if ctx.slope == 0.0:  # relu: g where not x <= 0, 0 elsewhere (also where g is inf or nan)
            g = g if g.flags.c_contiguous else np.ascontiguousarray(g)
            if not _numba_float(g):
                return (np.where(positive, g, g.dtype.type(0)),)
            grad = np.empty_like(g)
            in_halves(_kernels().relu_backward, [g.reshape(-1), positive.reshape(-1), grad.reshape(-1)])
            return (grad,)
        return (leaky_relu_array(g, positive, ctx.slope),)  # g where x > 0, slope * g elsewhere


def stable_sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-a) on an ndarray, written two ways so neither branch overflows (also used by the
    binary cross-entropy's backward)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class SigmoidFunction(OutputDerivativeFunction):
    function = staticmethod(stable_sigmoid)
    derivative = staticmethod(lambda s: s * (1 - s))


class TanhFunction(OutputDerivativeFunction):
    function = staticmethod(np.tanh)
    derivative = staticmethod(lambda t: 1 - t * t)


class WhereFunction(Function):
    """where(condition, a, b): a where condition holds, b elsewhere; the gradient follows the choice."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        (condition,) = ctx.saved_tensors
        zero = np.zeros((), dtype=g.dtype)
        return None, np.where(condition, g, zero), np.where(condition, zero, g)


class ClampFunction(Function):
    """Limit values to [min, max]; the gradient passes only where the value was not clipped."""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        inside = np.ones(a.shape, dtype=bool)
        if min is not None:
            inside &= a >= min
        if max is not None:
            inside &= a <= max
        ctx.save_for_backward(inside)
        return np.clip(a, min, max).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return (np.where(inside, g, 0).astype(g.dtype, copy=False),)


def binary(function, op: str, a, b):
    """Apply a two-input Function after checking dtypes and broadcastability."""
    if not isinstance(a, Tensor):  # e.g. 2 - tensor: b is the Tensor
        a = check_operand(op, b, a, "input")
    else:
        b = check_operand(op, a, b)
    check_broadcast(op, a, b)
    return function.apply(a, b)


def where(condition, input, other) -> Tensor:
    """Elements of ``input`` where ``condition`` is true, of ``other`` elsewhere (torch.where)."""
    cond = np.asarray(as_array(condition), dtype=bool)
    like = input if isinstance(input, Tensor) else other
    if not isinstance(like, Tensor):
        like = Tensor(np.asarray(input))
    input = check_operand("where", like, input, "input")
    other = check_operand("where", like, other)
    check_broadcast("where", cond, input)
    check_broadcast("where", input, other)
    return WhereFunction.apply(cond, input, other)


def clamp(input: Tensor, min=None, max=None) -> Tensor:
    """Clip ``input`` to [min, max] (torch.clamp); either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return ClampFunction.apply(input, min=min, max=max)
