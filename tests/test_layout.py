"""The library's layout rules (minseg/README.md): kernels are pure functions over ndarrays, no public op
lives in a private file, and every op with a fast path has its loop reference in minseg.functional."""
import ast
import inspect
from pathlib import Path

import pytest

import minseg.functional as F

ROOT = Path(__file__).resolve().parents[1] / "minseg"
KERNEL_FILES = sorted([*ROOT.glob("functional/*/kernels.py"), *ROOT.glob("crf/kernels/*.py"),
                       ROOT / "ops" / "kernels.py"])
ALLOWED = {"__future__", "math", "numpy", "numba"}


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import in ``path``: level > 0 for relative imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_there_are_kernel_files_to_check():
    assert len(KERNEL_FILES) >= 9, KERNEL_FILES


@pytest.mark.parametrize("path", KERNEL_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_kernels_import_only_numpy_numba_and_sibling_kernels(path):
    for module, level in _imports(path):
        if level == 0:
            assert module.split(".")[0] in ALLOWED, f"{path.name} imports {module}"
        else:  # relative: only a sibling kernel module of the same folder
            assert level == 1 and path.parent.name == "kernels", f"{path} imports {'.' * level}{module}"
        assert "autograd" not in module and "Tensor" not in module


def _public_functions():
    return [(name, obj) for name, obj in vars(F).items()
            if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__.startswith("minseg.")]


def test_no_public_op_lives_in_a_private_file():
    for name, fn in _public_functions():
        parts = fn.__module__.split(".")
        assert not any(part.startswith("_") for part in parts), f"F.{name} is defined in {fn.__module__}"


FAST_OPS = ["unfold", "fold", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
            "max_unpool2d", "interpolate", "roi_align", "roi_pool", "cross_entropy",
            "binary_cross_entropy_with_logits", "dice_loss", "jaccard_loss", "unet_weight_map"]


@pytest.mark.parametrize("name", FAST_OPS)
def test_every_fast_op_has_a_reference_with_its_signature(name):
    op, reference = getattr(F, name), getattr(F, f"{name}_reference")
    assert list(inspect.signature(reference).parameters) == list(inspect.signature(op).parameters)
    backward = getattr(F, f"{name}_reference_backward", None)
    if backward is not None:
        assert list(inspect.signature(backward).parameters)[1:] == list(inspect.signature(op).parameters)
