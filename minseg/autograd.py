"""The autograd core: ``Tensor``, ``Function`` and the reverse-mode graph walk.

A ``Tensor`` wraps a NumPy array (``.data``) and remembers the ``Function`` that made it. Calling
``backward()`` on a result walks that record backwards (in reverse topological order) and applies
the chain rule: each Function receives the gradient of the loss with respect to its output and
returns the gradients with respect to its inputs. Leaf tensors created with ``requires_grad=True``
accumulate those gradients in ``.grad`` (an ndarray), exactly as ``torch.Tensor.grad`` does.

The operators (``+``, ``@``, ``.sum()``, indexing, ...) are declared on ``Tensor`` here, so that
go-to-definition finds them, and computed by :mod:`minseg.ops` (their Functions, forward and
backward); apart from that this file only knows how to record and replay a graph.
"""
from __future__ import annotations

import contextlib
import numbers
import sys

import numpy as np

_GRAD_ENABLED = [True]

# minseg.ops registers itself here when imported (it imports this module, so the operators cannot
# import it at the top); every operator below delegates to it.
_ops = None


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block."""
    return _GRAD_ENABLED[0]


@contextlib.contextmanager
def no_grad():
    """Context manager: operations inside it are not recorded for backward (like ``torch.no_grad``)."""
    previous = _GRAD_ENABLED[0]
    _GRAD_ENABLED[0] = False
    try:
        yield
    finally:
        _GRAD_ENABLED[0] = previous


def _float_dtype(data: np.ndarray, dtype, from_python: bool = False) -> np.dtype:
    """An ndarray's float64 stays float64; integers stay integers; every other number (Python
    floats and lists included, as in torch) becomes float32, unless ``dtype`` says otherwise."""
    if dtype is not None:
        return np.dtype(dtype)
    if data.dtype == np.float64 and not from_python:
        return np.dtype(np.float64)
    if data.dtype.kind in "iub":
        return data.dtype
    return np.dtype(np.float32)


def as_array(value, like: np.ndarray | None = None) -> np.ndarray:
    """The ndarray behind ``value`` (a Tensor, an ndarray, or a Python number)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, numbers.Number) and like is not None:
        return np.asarray(value, dtype=like.dtype)
    return np.asarray(value)


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Attributes: ``data`` (the ndarray), ``grad`` (ndarray or None), ``requires_grad`` (bool).
    Operations between tensors build a graph; ``backward`` differentiates through it.
    """

    __array_priority__ = 100  # so ``ndarray + Tensor`` calls Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None, _ctx=None):
        from_python = not isinstance(data, (np.ndarray, np.generic, Tensor))
        array = np.asarray(data.data if isinstance(data, Tensor) else data)
        array = array.astype(_float_dtype(array, dtype, from_python), copy=False)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"tensor: only floating-point tensors can require gradients, got dtype {array.dtype}"
            )
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = _ctx  # the Context of the Function that produced this tensor (None for leaves)
        self._node = None  # its GraphNode, made when a later Function records it (non-leaves only)

    # ----- plain properties -------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied, as ``torch.Tensor.numpy``)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def detach(self) -> Tensor:
        """A tensor sharing the data, cut from the graph."""
        return Tensor(self.data)

    def dim(self) -> int:
        """Number of dimensions (torch's Tensor.dim())."""
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, prefix="tensor(")
        return f"tensor({body}{grad})"

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    # ----- backward ---------------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the gradient of some scalar with respect to ``self``; it may be omitted only
        when ``self`` holds a single element (then it is 1). Calling backward twice adds the
        gradients twice, as torch does with ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no grad_fn "
                "(create the inputs with requires_grad=True, outside no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: grad can be implicitly created only for scalar outputs, "
                    f"got a tensor of shape {self.shape}; pass grad= with that shape"
                )
            grad = np.ones_like(self.data)
        grad = as_array(grad).astype(self.dtype, copy=False)
        if grad.shape != self.shape:
            raise ValueError(
                f"backward: grad must have the output's shape {self.shape}, got {grad.shape}"
            )
        _run_backward(self, grad)

    # ----- operators and torch-named methods: computed by minseg.ops ------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(Tensor(other, dtype=self.dtype), self)
    def __neg__(self): return _ops.neg(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def abs(self): return _ops.abs(self)
    def relu(self): return _ops.relu(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def tanh(self): return _ops.tanh(self)
    def sum(self, dim=None, keepdim: bool = False): return _ops.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim: bool = False): return _ops.mean(self, dim, keepdim)
    def amax(self, dim=None, keepdim: bool = False): return _ops.amax(self, dim, keepdim)
    max = amax
    def matmul(self, other): return _ops.matmul(self, other)
    def reshape(self, *shape): return _ops.reshape(self, *shape)
    view = reshape
    def permute(self, *dims): return _ops.permute(self, *dims)
    def transpose(self, dim0: int, dim1: int): return _ops.transpose(self, dim0, dim1)
    def clamp(self, min=None, max=None): return _ops.clamp(self, min, max)  # noqa: A002 - torch's names
    def flatten(self, start_dim: int = 0): return _ops.reshape(self, self.shape[:start_dim] + (-1,))
    T = property(lambda self: _ops.permute(self, tuple(reversed(range(self.ndim)))))


class GraphNode:
    """A recorded result as backward sees it: the Context that made it, its shape and dtype, and that
    it requires grad, but not its values.

    A Function records its inputs for backward; an input that is itself a recorded result is recorded
    as its GraphNode, not as the Tensor. So an intermediate's data lives only as long as the program
    holds the tensor or a backward saved the array (as with torch's grad_fn): ``x = relu(bn(conv(x)))``
    keeps what those three backwards need, not also every layer's output until ``backward()``. Leaves
    stay Tensors in the record (backward writes their ``.grad``).
    """

    __slots__ = ("_ctx", "requires_grad", "shape", "dtype")

    def __init__(self, tensor: Tensor):
        self._ctx, self.requires_grad, self.shape, self.dtype = tensor._ctx, True, tensor.shape, tensor.dtype


def _recorded(value):
    """How Function.apply records one argument: a leaf Tensor as itself, a recorded result as its
    GraphNode (one per tensor, so that gradients from two uses of it add up), anything else as None."""
    if not isinstance(value, Tensor):
        return None
    if value._ctx is None:
        return value
    if value._node is None:
        value._node = GraphNode(value)
    return value._node


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors and GraphNodes reachable from ``root`` through recorded Functions, each after all its inputs.

    An explicit stack instead of recursion, so a network thousands of layers deep does not hit
    Python's recursion limit.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _run_backward(root: Tensor, grad: np.ndarray) -> None:
    """Propagate ``grad`` from ``root`` to the leaves in reverse topological order."""
    grads = {id(root): grad}
    for node in reversed(_topological_order(root)):
        node_grad = grads.pop(id(node), None)
        if node_grad is None:
            continue
        if node._ctx is None:  # a leaf: accumulate
            if node.grad is None:
                node.grad = node_grad if _only_reference(node_grad) else node_grad.copy()
            else:
                node.grad = node.grad + node_grad
            continue
        ctx = node._ctx
        input_grads = ctx.function.backward(ctx, node_grad)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, parent_grad in zip(ctx.parents, input_grads):
            if parent is None or not parent.requires_grad or parent_grad is None:
                continue
            parent_grad = unbroadcast(np.asarray(parent_grad), parent.shape).astype(
                parent.dtype, copy=False
            )
            key = id(parent)
            grads[key] = parent_grad if key not in grads else grads[key] + parent_grad
        input_grads = parent_grad = None  # so that a leaf's fresh gradient has no reference left here


def _only_reference(array: np.ndarray) -> bool:
    """True when ``array`` owns its writeable memory and only the caller's name refers to it (a fresh
    gradient a backward made), or is a whole-array view (a reshape) of such an array that nothing else
    refers to: a leaf may keep it as its .grad instead of a copy (torch's AccumulateGrad steals such a
    gradient too). A view of anything else, the caller's own ``grad`` argument, or an array a Function
    also saved are copied."""
    base = array.base
    if not array.flags.writeable or sys.getrefcount(array) > 3:
        # getrefcount sees: the caller's local name, this function's argument and its own argument
        return False
    if base is None:
        return True
    # the base's references: the view's .base, the local name ``base`` and getrefcount's argument
    return isinstance(base, np.ndarray) and base.base is None and base.size == array.size and \
        sys.getrefcount(base) <= 3


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Context:
    """What a Function's forward leaves for its backward: saved arrays and the input tensors."""

    def __init__(self, function, parents):
        self.function = function
        self.parents = parents  # one entry per positional argument: leaf Tensor, GraphNode or None
        self.saved_tensors = ()
        # True when Function.apply records this call for backward (grad mode on and some input
        # requires grad). A forward may then skip keeping what only backward needs, or work in
        # place on its own temporaries (batch_norm in eval mode, inference under no_grad()).
        self.needs_grad = False

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """Per positional argument: does backward have to return its gradient (torch's name)?
        True for a Tensor that requires grad; a backward may skip the work for the others."""
        return tuple(p is not None and p.requires_grad for p in self.parents)

    def save_for_backward(self, *arrays) -> None:
        """Keep ``arrays`` for backward (read back as ``ctx.saved_tensors``)."""
        self.saved_tensors = arrays


class Function:
    """An operation with a ``forward`` on ndarrays and a ``backward`` that returns input gradients.

    Subclasses implement ``forward(ctx, *args, **kwargs) -> ndarray`` and
    ``backward(ctx, grad_output) -> gradient per positional argument`` (None where there is none).
    ``apply`` unwraps tensors, runs forward, and records the call when a gradient is needed.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs) -> Tensor:
        """Run forward on the unwrapped arguments; record the node when any input needs a gradient."""
        ctx = Context(cls, tuple(_recorded(a) for a in args))
        needs_grad = ctx.needs_grad = is_grad_enabled() and any(ctx.needs_input_grad)
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        out = cls.forward(ctx, *arrays, **kwargs)
        if not needs_grad:
            return Tensor(out)
        result = Tensor(out, _ctx=ctx)
        result.requires_grad = True
        return result


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor from an ndarray, a list or a number (float32 unless float64 or ``dtype`` is given)."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        data = np.array(data, copy=True)  # the Tensor owns its data, as torch.tensor copies
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
