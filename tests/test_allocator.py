"""minseg/allocator.py: ``import minseg`` sets glibc's malloc to keep freed memory for the next arrays
(counted in page faults, against glibc's defaults), and leaves a user's own malloc settings alone."""
import subprocess
import sys

import pytest


GLIBC = __import__("minseg.allocator", fromlist=["_glibc"])._glibc()
# allocates and frees arrays of 12, 4, 12, 8 and 4 MB (a step's activations) four times and prints the
# page faults (minor: fresh pages) each round took
REUSE_ROUNDS = """
import resource, numpy as np, minseg
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
def test_import_minseg_keeps_freed_memory_for_the_next_arrays():
    import os

    from minseg.allocator import OPT_OUT

    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k in ("GLIBC_TUNABLES", OPT_OUT))}
    kept = eval(subprocess.run([sys.executable, "-c", REUSE_ROUNDS], capture_output=True, text=True, check=True,
                               env=env).stdout)
    returned = eval(subprocess.run([sys.executable, "-c", REUSE_ROUNDS], capture_output=True, text=True,
                                   check=True, env={**env, OPT_OUT: "0"}).stdout)
    # 40 MB of fresh pages: hundreds of faults (thousands without huge pages) in the first round; with the
    # memory kept the later rounds reuse it, while glibc's defaults hand it back and fault it in again
    assert kept[0] > 100 and max(kept[1:]) < 0.02 * kept[0], kept
    assert min(returned[1:]) > 0.2 * returned[0], returned


def test_keep_freed_memory_leaves_a_users_own_malloc_settings_alone():
    from minseg.allocator import OPT_OUT, keep_freed_memory

    assert keep_freed_memory({"MALLOC_ARENA_MAX": "2"}) is False
    assert keep_freed_memory({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False
    assert keep_freed_memory({OPT_OUT: "0"}) is False
    assert keep_freed_memory({}) is GLIBC
