"""Checking helpers used by the tests and the lecture notebooks.

- ``gradcheck(fn, inputs)``: the analytic gradient of ``fn`` against central finite differences,
  in float64.
- ``compare_with_torch(minseg_fn, torch_fn, inputs)``: run one computation in both libraries on the
  same arrays and compare the outputs and every input's gradient.
- ``unavailable(*functions)``: a block in which those library functions refuse to run (check cells
  of "build it yourself" exercises).
"""
from __future__ import annotations

import numpy as np

from .autograd import Tensor, as_array, no_grad


def _as_tensors(inputs, requires_grad=True, dtype=None):
    """Fresh Tensors (copies) of ``inputs``; float ones cast to ``dtype`` and requiring grad."""
    out = []
    for x in inputs:
        x = as_array(x)
        is_float = x.dtype.kind == "f"
        array = x.astype(dtype) if (dtype is not None and is_float) else x
        out.append(Tensor(array.copy(), requires_grad=requires_grad and is_float))
    return out


def _weights_like(out: np.ndarray, seed: int) -> np.ndarray:
    """A fixed random upstream gradient, so every output element is tested, not just their sum."""
    return np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              seed: int = 0, raise_exception: bool = True) -> bool:
    """Compare backward() with central differences (f(x + eps) - f(x - eps)) / 2 eps in float64.

    ``fn`` takes Tensors and returns a Tensor; float inputs are differentiated, integer inputs
    (labels, indices) are passed through. Returns True, or raises AssertionError naming the input
    and the worst element.
    """
    tensors = _as_tensors(inputs, dtype=np.float64)
    out = fn(*tensors)
    weights = _weights_like(out.data, seed)
    out.backward(weights)
    for index, t in enumerate(tensors):
        if not t.requires_grad:
            continue
        analytic = np.zeros_like(t.data) if t.grad is None else t.grad
        numeric = np.zeros_like(t.data)
        flat = t.data.reshape(-1)
        with no_grad():
            for k in range(flat.size):
                saved = flat[k]
                flat[k] = saved + eps
                plus = float((fn(*tensors).data * weights).sum())
                flat[k] = saved - eps
                minus = float((fn(*tensors).data * weights).sum())
                flat[k] = saved
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), numeric.shape)
            if not raise_exception:
                return False
            raise AssertionError(
                f"gradcheck: input {index} gradient differs at {worst}: "
                f"analytic {analytic[worst]!r}, numeric {numeric[worst]!r}"
            )
    return True


def compare_with_torch(minseg_fn, torch_fn, inputs, rtol: float = 1e-4, atol: float = 1e-5,
                       grad: bool = True, seed: int = 0, dtype=None) -> None:
    """Run ``minseg_fn`` on minseg Tensors and ``torch_fn`` on torch tensors made from the same
    arrays; assert equal outputs and, with ``grad``, equal gradients for every float input.

    Both functions return one tensor (or a tuple whose first element is the differentiable one).
    """
    from .reference import require_torch

    torch = require_torch()
    ours = _as_tensors(inputs, requires_grad=grad, dtype=dtype)
    theirs = [torch.tensor(t.data.copy(), requires_grad=t.requires_grad) for t in ours]
    out_ms, out_torch = minseg_fn(*ours), torch_fn(*theirs)
    if isinstance(out_ms, tuple):
        out_ms, out_torch = out_ms[0], out_torch[0]
    expected = out_torch.detach().cpu().numpy()
    assert out_ms.shape == expected.shape, f"output shape {out_ms.shape} != torch's {expected.shape}"
    np.testing.assert_allclose(out_ms.data, expected, rtol=rtol, atol=atol, err_msg="forward vs torch")
    if not grad or not out_ms.requires_grad:
        return
    weights = _weights_like(expected, seed)
    out_ms.backward(weights)
    out_torch.backward(torch.from_numpy(weights))
    for index, (a, b) in enumerate(zip(ours, theirs)):
        if b.requires_grad:
            expected_grad = np.zeros(b.shape, b.detach().numpy().dtype) if b.grad is None else b.grad.numpy()
            got = np.zeros_like(expected_grad) if a.grad is None else a.grad
            np.testing.assert_allclose(got, expected_grad, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {index} vs torch")


class unavailable:
    """Context manager: inside the block, calling any of ``functions`` raises RuntimeError.

    A lecture's check cell wraps the learner's exercise in it when the exercise is to build something
    the library already has, so a one-line call of the library function cannot pass the check::

        with unavailable(F.conv2d, metrics.iou):
            result = conv2d_unfold(x, w)

    The function's code object is swapped (not the module attribute), so every reference to it is
    blocked, including ``from minseg.functional import conv2d`` made earlier. Compute the expected
    values before entering the block: the library refuses its own calls there too.
    """

    def __init__(self, *functions, reason: str = "this exercise asks you to build it yourself"):
        for fn in functions:
            if not hasattr(fn, "__code__") or fn.__closure__:
                raise TypeError(f"unavailable: expected plain Python functions, got {fn!r}")
        self.functions, self.reason = functions, reason
        self._saved = []

    def __enter__(self):
        for fn in self.functions:
            name = f"{fn.__module__}.{fn.__qualname__}"
            message = f"{name} is unavailable while this check runs: {self.reason}"
            self._saved.append((fn, fn.__code__))
            fn.__code__ = _refusing_code(message, fn.__code__)
        return self

    def __exit__(self, *exc_info):
        while self._saved:
            fn, code = self._saved.pop()
            fn.__code__ = code
        return False


def _refusal_template(*args, **kwargs):
    raise RuntimeError("MESSAGE")


def _refusing_code(message: str, original):
    """A code object that raises RuntimeError(message), named like ``original`` (for tracebacks)."""
    template = _refusal_template.__code__
    consts = tuple(message if c == "MESSAGE" else c for c in template.co_consts)
    return template.replace(co_consts=consts, co_name=original.co_name, co_qualname=original.co_qualname,
                            co_filename=original.co_filename, co_firstlineno=original.co_firstlineno)
