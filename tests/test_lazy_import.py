"""`import minseg` loads none of the heavy libraries (minseg/lazy.py): Numba (with the SciPy it pulls
in), scikit-image, tqdm, matplotlib and torch load on the first call that needs them."""
import json
import subprocess
import sys

HEAVY = ["numba", "scipy", "skimage", "tqdm", "matplotlib", "torch"]


def _loaded_after(code: str) -> list[str]:
    """The HEAVY modules present in sys.modules of a fresh interpreter after running ``code``."""
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_minseg_and_its_core_imports_no_heavy_library():
    assert _loaded_after("import minseg, minseg.functional, minseg.nn, minseg.optim") == []


def test_building_a_model_layer_loads_nothing_heavy_until_it_runs():
    code = ("import minseg.nn as nn\nlayer = nn.Conv2d(3, 4, 3)")
    assert _loaded_after(code) == []


def test_the_first_op_call_loads_its_numba_kernels_and_gives_the_right_answer():
    # a 3x3 box filter of ones over a 4x4 image of ones: 4 interior-corner windows of 9 ones each
    code = ("import numpy as np, minseg, minseg.functional as F\n"
            "y = F.conv2d(minseg.tensor(np.ones((1, 1, 4, 4))), minseg.tensor(np.ones((1, 1, 3, 3))))\n"
            "assert y.numpy().tolist() == [[[[9.0, 9.0], [9.0, 9.0]]]], y.numpy()")
    assert "numba" in _loaded_after(code)
