"""Helpers for the lectures' check cells (``from course.checks import lend``).

``unavailable`` (in :mod:`minseg.testing`) keeps a learner from calling the library's version of what an
exercise builds; ``lend`` is its counterpart for exercises that build on an earlier one: the check runs
the learner's later function with the course's version of the earlier one, so each exercise is graded on
its own and one mistake costs one exercise.
"""
from __future__ import annotations

import contextlib

_ABSENT = object()


@contextlib.contextmanager
def lend(namespace: dict, **names):
    """While the block runs, ``namespace`` (the notebook's ``globals()``) holds ``names`` instead of the
    learner's own; afterwards every name is as it was (absent names are removed again)::

        with lend(globals(), conv_output_size=_reference_output_size):
            im2col(x, 3)   # calls conv_output_size: the course's, not the learner's
    """
    saved = {name: namespace.get(name, _ABSENT) for name in names}
    namespace.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _ABSENT:
                namespace.pop(name, None)
            else:
                namespace[name] = value
