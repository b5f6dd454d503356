"""``keep_freed_memory()``: glibc's malloc keeps freed blocks for the next arrays, instead of handing them
back to the operating system and page-faulting fresh ones in. The benchmarks call it (benchmarks/__main__.py)
so that neither library's times include page faults; ``import minseg`` does not.

Why. Every op returns a new array, and a training step allocates and frees the same large arrays over and
over. By default glibc serves a block of 128 KiB or more (a threshold it raises, as blocks are freed, up to
32 MiB) with its own mmap, and returns the memory at the heap's top once more than twice that threshold
lies free there. The next array of that size then arrives as untouched pages, and its first write takes
one page fault per 4 KiB page. On the 2-core development VM (2026-12-02) torch paid for that most: in one
process, its depthwise 3x3 convolution (N8, 64 channels, 64x64, fwd + bwd) took 16.5-22.1 ms with glibc's
defaults and 7.5 ms with this setting, its dilated ones 48-57 ms and 39-67 ms. minseg paid too while its
col2im summed into np.zeros (calloc: fresh pages; 8.6 ms against 2.6 ms with the memory kept), but once
its kernels zeroed their own planes of np.empty arrays (which glibc serves from freed memory after the
first free), this setting no longer changed minseg's times measurably (the stride-2 convolution's fwd +
bwd: 26-41 ms kept, 35-43 ms without, in alternating processes; the U-Net and DeepLab steps within the
noise either way). It does cost memory: fcn_resnet50's 520x520 inference peaked at 353 MB instead of 308
MB (at 400 MB with glibc's largest threshold, 32 MiB). So a library import should not impose it; a
benchmark comparing two libraries in one process should, for both.

What. ``mallopt(M_MMAP_THRESHOLD, 16 MiB)`` (blocks below that size come from the heap and are reused) and
``mallopt(M_TRIM_THRESHOLD, 256 MiB)`` (up to that much free memory stays at the heap's top). A program
of one's own may call it too (a training loop whose arrays are page-faulted in each step).

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
    """Set glibc's malloc to keep freed blocks for reuse (module doc); True where it did. The settings
    apply to every allocation that follows in this process, NumPy's and torch's alike."""
    if environ.get(OPT_OUT) == "0" or _users_own_settings(environ) or not _glibc():
        return False
    import ctypes  # loaded by NumPy already

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
