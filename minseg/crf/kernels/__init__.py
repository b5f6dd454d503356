"""The CRF's Numba kernels: plain functions over ndarrays, compiled with ``@njit(cache=True)``.

- ``permutohedral.py`` (+ ``permutohedral_self.py``): the permutohedral lattice (splat, blur, slice)
  and the diagonal of its operator;
- ``lattice_stack.py``: mean-field's message on several lattices in one pass;
- ``dense.py``: the exact O(N^2) Gaussian filter (the "naive" method);
- ``update.py``: the Potts mean-field update (shift, exponentiate, normalise).

Nothing here knows about Tensors or autograd; :mod:`minseg.crf.filters` calls them. With
``NUMBA_DISABLE_JIT=1`` the same functions run as ordinary Python, so a learner can step into them.
"""
