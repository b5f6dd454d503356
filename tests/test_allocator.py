"""minseg/allocator.py: keep_freed_memory() sets glibc's malloc to keep freed memory for the next arrays
(counted in page faults, against glibc's defaults), ``import minseg`` alone leaves malloc as it is, the
benchmarks call it, and a user's own malloc settings are left alone."""
import subprocess
import sys

import pytest


GLIBC = __import__("minseg.allocator", fromlist=["_glibc"])._glibc()
# allocates and frees arrays of 12, 4, 12, 8 and 4 MB (a step's activations) four times and prints the
# page faults (minor: fresh pages) each round took
REUSE_ROUNDS = """
import resource, sys, numpy as np, minseg, minseg.allocator
if sys.argv[1] == "keep":
    minseg.allocator.keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
counts = []
for _ in range(4):
    before = faults()
    arrays = [np.ones(mb << 18, np.float32) for mb in (12, 4, 12, 8, 4)]
    del arrays
    counts.append(faults() - before)
print(counts)
"""


@pytest.mark.skipif(not GLIBC, reason="mallopt's settings exist in glibc only (minseg/allocator.py)")
def test_keep_freed_memory_reuses_freed_memory_and_import_minseg_alone_does_not():
    import os

    from minseg.allocator import OPT_OUT

    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k in ("GLIBC_TUNABLES", OPT_OUT))}

    def rounds(mode, **extra):
        return eval(subprocess.run([sys.executable, "-c", REUSE_ROUNDS, mode], capture_output=True, text=True,
                                   check=True, env={**env, **extra}).stdout)

    kept, imported, opted_out = rounds("keep"), rounds("import"), rounds("keep", **{OPT_OUT: "0"})
    # 40 MB of fresh pages: hundreds of faults (thousands without huge pages) in the first round; with the
    # memory kept the later rounds reuse it, while glibc's defaults hand it back and fault it in again
    assert kept[0] > 100 and max(kept[1:]) < 0.02 * kept[0], kept
    for returned in (imported, opted_out):
        assert min(returned[1:]) > 0.2 * returned[0], returned


def test_the_benchmarks_keep_freed_memory_for_both_libraries():
    from pathlib import Path

    main = (Path(__file__).resolve().parents[1] / "benchmarks" / "__main__.py").read_text()
    assert "keep_freed_memory()" in main


def test_keep_freed_memory_leaves_a_users_own_malloc_settings_alone():
    from minseg.allocator import OPT_OUT, keep_freed_memory

    assert keep_freed_memory({"MALLOC_ARENA_MAX": "2"}) is False
    assert keep_freed_memory({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False
    assert keep_freed_memory({OPT_OUT: "0"}) is False  # (where it does act, it runs in a subprocess above)
