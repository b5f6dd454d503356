"""``keep_freed_memory()``: glibc's malloc keeps the blocks minseg frees for the next arrays, instead of
handing them back to the operating system and page-faulting fresh ones in.

Why. Every op returns a new array, and a training step allocates and frees the same large arrays
(activations, gradients, column matrices) over and over. By default glibc serves a block of 128 KiB
or more (a threshold it raises, as blocks are freed, up to 32 MiB) with its own mmap, and returns the
memory at the heap's top once more than twice that threshold lies free there. The next array of that
size then arrives as untouched pages, and its first write takes one page fault per 4 KiB page. On
the 2-core development VM (2026-12-02) that cost most of a backward pass's col2im: 8.6 ms for the
stride-2 benchmark convolution's col2im into a fresh 8 MB gradient, 2.6 ms with the memory kept
(glibc's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ variables set to the same effect). With the
settings below, that convolution's fwd + bwd took 24.1 and 31.3 ms in two fresh processes, against
38.8 and 43.4 ms in two with MINSEG_KEEP_FREED_MEMORY=0, run in alternation.

What. ``mallopt(M_MMAP_THRESHOLD, 16 MiB)`` (blocks below that size come from the heap and are reused)
and ``mallopt(M_TRIM_THRESHOLD, 256 MiB)`` (up to that much free memory stays at the heap's top). The
costs: a process's resident memory stays up to TRIM_THRESHOLD_BYTES above what it uses after a large
step, and the heap's fragments raise some peaks: fcn_resnet50's inference on 520x520 peaked at 353 MB
instead of 308 MB (at 400 MB with glibc's largest threshold, 32 MiB, which is why it is 16 MiB; the trim
threshold made no difference to it). Keeping freed memory is what the jemalloc settings that CPU
deep-learning guides recommend do too. Torch in the same process allocates through the same malloc, so
the benchmarks' minseg / torch ratios compare two libraries that both reuse memory.

Left alone: other C libraries than glibc (macOS, musl), a process where the user set glibc's own
MALLOC_* or GLIBC_TUNABLES variables, and MINSEG_KEEP_FREED_MEMORY=0.
"""
from __future__ import annotations

import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)
MMAP_THRESHOLD_BYTES = 16 << 20  # an 8 MB activation or gradient is reused; larger blocks keep their mmap
TRIM_THRESHOLD_BYTES = 256 << 20
OPT_OUT = "MINSEG_KEEP_FREED_MEMORY"  # "0": leave malloc as it is


def _users_own_settings(environ) -> bool:
    """Whether glibc's malloc was configured by the user (its variables are read at process start)."""
    return "GLIBC_TUNABLES" in environ or any(name.startswith("MALLOC_") for name in environ)


def _glibc() -> bool:
    """Whether this process runs on glibc (the only C library whose mallopt takes these settings)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows) or no such name (macOS, musl)
        return False


def keep_freed_memory(environ=os.environ) -> bool:
    """Set glibc's malloc to keep freed blocks for reuse (module doc); True where it did. ``import
    minseg`` calls it; the settings apply to every allocation that follows, NumPy's and torch's."""
    if environ.get(OPT_OUT) == "0" or _users_own_settings(environ) or not _glibc():
        return False
    import ctypes  # loaded by NumPy already

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
