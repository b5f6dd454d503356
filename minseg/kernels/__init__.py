"""Numba kernels: plain functions over ndarrays, compiled with ``@njit(cache=True)``.

Nothing here knows about Tensors or autograd; ``minseg.functional`` calls these for its fast paths.
With ``NUMBA_DISABLE_JIT=1`` the same functions run as ordinary Python, so a learner can step into
them with a debugger.
"""
