"""The mean-field update's softmax over labels, put together from the kernels of kernels/update.py and
NumPy's SIMD exponential (on both threads for large problems: minseg.threads.in_two_threads)."""
from __future__ import annotations

import numpy as np

from ..threads import in_two_threads
from .kernels.update import shifted_logits, normalise_rows


def potts_update(unary, message, out):
    """unary, message, out (N, K): out[i] = softmax(message[i] - unary[i]), stably.

    (The lattice path fuses the first step into its slice: lattice_stack.stacked_message.)
    """
    shifted_logits(unary, message, out)
    softmax_shifted_rows(out)


def softmax_from_unary(unary, out):
    """out[i] = softmax(-unary[i]): mean-field's starting point (no message to read; once per run)."""
    np.negative(unary, out=out)
    out -= out.max(axis=1, keepdims=True)
    softmax_shifted_rows(out)


def softmax_shifted_rows(out):
    """out[i] = exp(out[i]) / sum(exp(out[i])) in place, for rows already shifted to a maximum of 0
    (NumPy's exp on both threads from GRAIN elements on: threads.in_two_threads)."""
    in_two_threads(np.exp, out, out=out)
    normalise_rows(out)
