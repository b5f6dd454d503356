"""Checking helpers used by the tests and the lecture notebooks.

- ``check_op(op, inputs, torch_op, reference, ...)``: one call that compares an op with its torch twin
  (forward and every input's gradient under a random upstream gradient), with its loop reference
  (forward, and backward where it has one) and with finite differences in float64; tolerances by
  dtype from ``TOLERANCES``.
- ``gradcheck(fn, inputs)``: the analytic gradient of ``fn`` against central finite differences,
  in float64.
- ``unavailable(*functions)``: a block in which those library functions refuse to run (check cells
  of "build it yourself" exercises).
"""
from __future__ import annotations

import numpy as np

from .autograd import Tensor, as_array, no_grad

# Comparison tolerances by dtype, for every check_op comparison (torch, reference, gradcheck excepted):
# float32 sums of a few dozen terms differ from torch's order of summation by ~1e-6 relative.
TOLERANCES = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-4), np.dtype(np.float64): dict(rtol=1e-9, atol=1e-10)}


def tolerance(dtype) -> dict:
    """``rtol`` / ``atol`` for comparing results of ``dtype`` (float64's for anything but float32)."""
    return TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])


def _as_tensors(inputs, dtype):
    """Fresh Tensors (copies) of ``inputs``; float ones cast to ``dtype`` and requiring grad."""
    out = []
    for x in inputs:
        x = as_array(x)
        is_float = x.dtype.kind == "f"
        out.append(Tensor((x.astype(dtype) if is_float else x).copy(), requires_grad=is_float))
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


def _first(out):
    """The differentiable output of an op that returns one tensor or a tuple (values, indices, ...)."""
    return out[0] if isinstance(out, tuple) else out


def _outputs(out) -> list[np.ndarray]:
    """Every output of an op or a reference as ndarrays (a tuple's elements in order)."""
    return [as_array(o) for o in (out if isinstance(out, tuple) else (out,))]


def _describe_call(op, arrays, kwargs) -> str:
    """``name(float64 (2, 3, 8, 7), int64 (4,), stride=2)``: the call a failure message names."""
    name = getattr(op, "__name__", type(op).__name__)
    shown = [f"{a.dtype} {a.shape}" for a in arrays] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def _worst_mismatch(ours: np.ndarray, expected: np.ndarray, tol: dict) -> str:
    """Where ``ours`` is furthest outside ``tol`` from ``expected``: its index, both values."""
    bad = ~np.isclose(ours, expected, equal_nan=True, **tol)
    if not bad.any():
        return ""
    distance = np.abs(ours.astype(np.float64) - expected.astype(np.float64))
    distance = np.where(bad, np.nan_to_num(distance, nan=np.inf), -1.0)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(distance), ours.shape))
    return f"; worst at {worst}: got {float(ours[worst])!r}, expected {float(expected[worst])!r}"


def _assert_same(ours, expected, tol: dict, what: str) -> None:
    """Equal shapes, then equal values: integer outputs (indices) exactly, floats within ``tol``.

    ``what`` names the comparison and the call (inputs' dtypes and shapes, keyword arguments); a
    value mismatch adds the worst element's index and both values before numpy's ACTUAL / DESIRED.
    """
    ours, expected = np.asarray(ours), np.asarray(expected)
    assert ours.shape == expected.shape, f"{what}: shape {ours.shape}, expected {expected.shape}"
    if expected.dtype.kind in "iub":
        np.testing.assert_array_equal(ours, expected, err_msg=what)
    else:
        np.testing.assert_allclose(ours, expected, err_msg=what + _worst_mismatch(ours, expected, tol), **tol)


def _tightened(tol: dict, **limits) -> dict:
    """``tol`` with each given limit applied where it is smaller (a call can tighten, never loosen)."""
    return {name: value if limits.get(name) is None else min(value, limits[name]) for name, value in tol.items()}


def _float_indices(arrays) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")


def check_op(op, inputs, torch_op=None, reference=None, reference_backward=None, *, kwargs=None,
             differentiable=None, gradcheck_inputs: bool = True, seed: int = 0,
             rtol: float | None = None, atol: float | None = None) -> None:
    """Check ``op(*inputs, **kwargs)`` in one call; raises AssertionError naming what differs.

    - ``torch_op`` (torch tensors in, same kwargs): equal outputs, and equal gradients of every
      ``differentiable`` input under one random upstream gradient (not just the sum);
    - ``reference`` (ndarrays in, ndarray(s) out; the op's loop reference): equal outputs;
    - ``reference_backward(grad_output, *inputs, **kwargs)``: the gradient of each differentiable
      input (one array, or a tuple in input order) equal to the op's backward;
    - ``gradcheck_inputs``: the op's backward against central differences in float64.

    ``inputs`` are ndarrays; ``differentiable`` the indices of the inputs to differentiate (default:
    every float input); the others (labels, indices, boxes) pass through as they are. Tolerances come
    from ``TOLERANCES`` by the dtype of the first float input; ``rtol`` / ``atol`` tighten (never
    loosen) that dtype's relative / absolute tolerance for an op known to agree more closely.

    A failure names the call (every input's dtype and shape, the keyword arguments) and what differs:
    a shape, an input no gradient reached, or values, with the worst element's index and both values
    (a lecture's check cell is then one call whose message says input, expected and actual).
    """
    kwargs = dict(kwargs or {})
    arrays = [np.asarray(as_array(a)) for a in inputs]
    wanted = _float_indices(arrays) if differentiable is None else tuple(differentiable)
    floats = _float_indices(arrays)
    tol = _tightened(tolerance(arrays[floats[0]].dtype if floats else np.float64), rtol=rtol, atol=atol)
    call = _describe_call(op, arrays, kwargs)
    ours = [Tensor(a.copy(), requires_grad=i in wanted) for i, a in enumerate(arrays)]
    result = op(*ours, **kwargs)
    out = _first(result)
    if wanted and not isinstance(out, Tensor):
        raise AssertionError(f"{call} returned a {type(out).__name__}, expected a Tensor (gradients are checked)")
    upstream = _weights_like(as_array(out), seed)
    if wanted and out.requires_grad:
        out.backward(upstream)
    grads = [ours[i].grad for i in wanted]  # None where no gradient reached the input
    if torch_op is not None:
        _check_against_torch(torch_op, arrays, wanted, kwargs, result, upstream, grads, tol, call)
    grads = [np.zeros_like(arrays[i]) if g is None else g for i, g in zip(wanted, grads)]
    if reference is not None:
        expected = _outputs(reference(*[a.copy() for a in arrays], **kwargs))
        for k, (a, b) in enumerate(zip(_outputs(result), expected)):
            _assert_same(a, b, tol, f"output {k} of {call} vs the loop reference")
    if reference_backward is not None:
        expected = reference_backward(upstream, *[a.copy() for a in arrays], **kwargs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for i, got, want in zip(wanted, grads, expected):
            _assert_same(got, want, tol, f"gradient of input {i} of {call} vs the loop reference's backward")
    if gradcheck_inputs and wanted:
        _gradcheck_some(op, arrays, wanted, kwargs, seed, call)


def _check_against_torch(torch_op, arrays, wanted, kwargs, result, upstream, grads, tol, call) -> None:
    """The torch half of check_op: outputs, then the gradients under the same upstream gradient
    (``grads[k]`` is None where no gradient reached input ``wanted[k]``)."""
    from .reference import require_torch

    torch = require_torch()
    theirs = [torch.tensor(a.copy(), requires_grad=i in wanted) for i, a in enumerate(arrays)]
    expected = torch_op(*theirs, **kwargs)
    for k, (a, b) in enumerate(zip(_outputs(result), expected if isinstance(expected, tuple) else (expected,))):
        _assert_same(a, b.detach().cpu().numpy(), tol, f"output {k} of {call} vs torch")
    first = _first(expected)
    if not wanted or not first.requires_grad:
        return
    first.backward(torch.from_numpy(upstream))
    for i, got in zip(wanted, grads):
        want = theirs[i].grad
        want = np.zeros(arrays[i].shape, arrays[i].dtype) if want is None else want.numpy()
        what = f"gradient of input {i} of {call} vs torch"
        if got is None:  # zeros, which are right where torch's gradient is zero too
            got, what = np.zeros_like(want), f"{what}: no gradient reached input {i}"
        _assert_same(got, want, tol, what)


def _gradcheck_some(op, arrays, wanted, kwargs, seed, call) -> None:
    """gradcheck of ``op`` with respect to the ``wanted`` inputs only (the others held fixed)."""
    fixed = list(arrays)

    def fn(*tensors):
        call = list(fixed)
        for i, t in zip(wanted, tensors):
            call[i] = t
        return _first(op(*call, **kwargs))

    try:
        gradcheck(fn, [arrays[i] for i in wanted], seed=seed)
    except AssertionError as error:  # gradcheck numbers the differentiated inputs only
        raise AssertionError(f"{call}, differentiating inputs {list(wanted)}: {error}") from None


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
