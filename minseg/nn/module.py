"""``Module`` and ``Parameter``: the containers that hold a network's weights, as in torch.nn."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..autograd import Tensor, as_array


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires_grad=True by default)."""

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: attributes that are Parameters, buffers (ndarrays
    registered with ``register_buffer``) or Modules are found by ``parameters()``,
    ``state_dict()`` and ``train()/eval()``, in the order they were assigned (as torch)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning {name!r}")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value) -> None:
        """A persistent non-trainable array (e.g. BatchNorm's running mean), saved in state_dict."""
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        setattr(self, name, value)

    # ----- traversal ----------------------------------------------------------------------------
    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module and every descendant, depth first."""
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and every descendant."""
        return [m for _, m in self.named_modules()]

    def children(self):
        """The direct submodules, in registration order."""
        return list(self._modules.values())

    def named_parameters(self, prefix: str = ""):
        """(dotted name, Parameter) for every parameter of the tree, each shared one once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self):
        """Every parameter of the tree (what an optimiser takes)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        """(dotted name, array) for every buffer of the tree (e.g. BatchNorm running statistics)."""
        for module_name, module in self.named_modules():
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_name}.{name}" if module_name else name), b

    # ----- state ------------------------------------------------------------------------------
    def _state_entries(self) -> list:
        """(dotted key, owning module, attribute name, value) of every parameter, then buffer, of
        each module in turn: the order and names of state_dict()."""
        entries = []
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for table in (module._parameters, module._buffers):
                entries += [(prefix + name, module, name, v) for name, v in table.items() if v is not None]
        return entries

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer as ndarrays, keyed by torch-style dotted names."""
        return OrderedDict((key, np.array(as_array(value), copy=True))
                           for key, _, _, value in self._state_entries())

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers with the same names (shapes must match)."""
        entries = self._state_entries()  # the keys only: no copies of the current arrays
        own = dict.fromkeys(key for key, _, _, _ in entries)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for key, module, name, current in entries:
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            old = as_array(current)
            if value.shape != old.shape:
                raise ValueError(f"load_state_dict: {key} has shape {value.shape}, "
                                 f"the model expects {old.shape}")
            if isinstance(current, Tensor):
                current.data = value.astype(old.dtype, copy=True)
            else:
                setattr(module, name, value.astype(old.dtype, copy=True))

    # ----- modes and gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on the whole tree (dropout, batch norm behave accordingly); returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        """train(False)."""
        return self.train(False)

    def double(self) -> "Module":
        """Cast every floating parameter and buffer to float64 (in place, as torch); returns self."""
        return self._cast_floats(np.float64)

    def float(self) -> "Module":
        """Cast every floating parameter and buffer to float32 (in place, as torch); returns self."""
        return self._cast_floats(np.float32)

    def _cast_floats(self, dtype) -> "Module":
        for _, module, name, value in self._state_entries():
            array = as_array(value)
            if array.dtype.kind == "f":
                if isinstance(value, Tensor):
                    value.data = array.astype(dtype)
                else:
                    setattr(module, name, array.astype(dtype))
        return self

    def zero_grad(self) -> None:
        """Forget every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The constructor arguments shown in repr(); subclasses override it."""
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return "\n".join(lines) + ("\n)" if self._modules else ")")


class ModuleList(Module):
    """A list of Modules registered as children "0", "1", ... (so their parameters are found)."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> None:
        """Register ``module`` as the next child."""
        setattr(self, str(len(self._modules)), module)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(ModuleList):
    """Modules applied one after another; children are named "0", "1", ... as in torch."""

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x
