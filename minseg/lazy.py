"""``lazy_module(name)``: a module that is imported on first use, so that ``import minseg`` stays fast.

Every fast path's Numba kernels sit in a ``kernels`` module that starts with ``from numba import
njit``; importing Numba (and the SciPy it pulls in) takes most of a second, more than the rest of
the library together. An ``ops`` module therefore binds its kernels with

    kernels = lazy_module(__name__.rpartition(".")[0] + ".kernels")

which returns the module object at once but runs its code (Numba's import, then loading the
compiled kernels from Numba's on-disk cache) only when an attribute is first read, i.e. on the
op's first call. It is the standard library's ``importlib.util.LazyLoader``; once loaded, the module
is an ordinary one (``sys.modules`` holds it, later imports of the name return it).
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name`` (absolute dotted name), imported only when one of its attributes is read.
    An already imported module is returned as it is."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"lazy_module: no module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does: the package's attribute names the submodule
        setattr(sys.modules[parent], child, module)
    return module
