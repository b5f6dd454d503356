"""Integrity warnings: learner cells that could change how the checks run or read what they must not.

A check cell runs in the learner's kernel, after the learner's code, so that code can make a check pass
without solving it: replace ``numpy.testing``'s assertions, rebind builtins, swap entries of
``sys.modules``, install an IPython input transformer, AST transformer, event hook or exception handler,
swap a function's code object, or read the course's own files (the lecture sources hold the solutions,
the graded copy holds the hidden tests). A grader cannot stop this from inside the kernel; it can point
at the cells that do it, for an instructor to read. These are heuristics over the cell's source (after
IPython's own transformation of magics), not a proof: a clean report is no guarantee.
"""
from __future__ import annotations

import ast
import re

# Attribute names through which a cell reaches IPython's or the interpreter's hooks.
HOOKS = {
    "set_custom_exc": "installs an IPython exception handler",
    "CustomTB": "installs an IPython exception handler",
    "showtraceback": "replaces IPython's traceback display",
    "input_transformers_cleanup": "installs an IPython input transformer",
    "input_transformers_post": "installs an IPython input transformer",
    "input_transformer_manager": "installs an IPython input transformer",
    "ast_transformers": "installs an IPython AST transformer",
    "events": "registers an IPython event hook",
    "run_cell": "replaces how IPython runs cells",
    "run_code": "replaces how IPython runs cells",
    "excepthook": "replaces sys.excepthook",
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "modules": "touches sys.modules",
    "__code__": "swaps a function's code object",
    "__builtins__": "touches builtins",
}
ALWAYS_MODULES = {"np", "numpy", "F", "ms", "minseg", "torch", "sys", "builtins", "IPython", "ipykernel"}
COURSE_PATH = re.compile(r"(^|[/\\])(course|lectures|solutions)([/\\]|$)|syllabus\.toml|_nbval_record|\.ipynb\b")
GRADER_MODULES = {"course", "nbval", "pytest", "_pytest", "builtins", "ctypes", "gc"}


def _transformed(source: str) -> str:
    """The cell as IPython would run it (magics become calls), or the source itself if IPython is absent."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython ships with the kernel
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - a cell IPython cannot parse runs as nothing but an error
        return source


def _root(node) -> str | None:
    """The name at the bottom of ``a.b.c`` / ``a().b`` / ``a[0].b`` (None for anything else)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return "?"


def imported_names(sources) -> set[str]:
    """Every name an import statement in ``sources`` binds (modules and names taken from them)."""
    names = set(ALWAYS_MODULES)
    for source in sources:
        try:
            tree = ast.parse(_transformed(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _targets(node):
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, ast.Delete):
        return node.targets
    return []


def _findings(tree, modules: set[str]):
    """(what, code) for every suspicious node of one cell's syntax tree."""
    for node in ast.walk(tree):
        for target in _targets(node):
            if isinstance(target, ast.Attribute) and _root(target) in modules:
                yield f"patches {_dotted(target)}", _dotted(node)
            if isinstance(target, ast.Subscript) and _dotted(target.value) in ("sys.modules", "__builtins__"):
                yield f"patches {_dotted(target.value)}", _dotted(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            if node.func.id in ("setattr", "delattr") and _root(node.args[0]) in modules:
                yield f"patches {_dotted(node.args[0])} with {node.func.id}", _dotted(node)
        if isinstance(node, ast.Attribute) and node.attr in HOOKS:
            if node.attr != "modules" or _dotted(node.value) == "sys":
                yield HOOKS[node.attr], _dotted(node)
        if isinstance(node, ast.Name) and node.id in HOOKS:
            yield HOOKS[node.id], node.id
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in GRADER_MODULES:
                    yield f"imports {name} (the grader's tools or the interpreter's internals)", _dotted(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and COURSE_PATH.search(node.value):
            yield "reads the course's own files", repr(node.value)


_TEXT_HINTS = re.compile(r"numpy\.testing|np\.testing\.\w+\s*=|set_custom_exc|input_transformers|"
                         r"ast_transformers|sys\.modules|__builtins__|__code__|builtins")


def cell_warnings(source: str, modules: set[str]) -> list[str]:
    """What one learner cell does that could forge a check's result, each with the code that does it."""
    try:
        tree = ast.parse(_transformed(source))
    except SyntaxError:
        hit = _TEXT_HINTS.search(source)
        return [f"mentions {hit.group(0)} (the cell does not parse)"] if hit else []
    seen, out = set(), []
    for what, code in _findings(tree, modules):
        code = code.split("\n")[0]
        code = code if len(code) <= 80 else code[:79] + "…"
        if (what, code) not in seen:
            seen.add((what, code))
            out.append(f"{what}: `{code}`")
    return out


def scan(cells) -> list[str]:
    """Integrity warnings for the learner's code cells of a graded copy: ``[(cell number, cell)]``."""
    cells = list(cells)
    modules = imported_names(cell.source for _, cell in cells)
    return [f"cell {number}: {warning}" for number, cell in cells
            for warning in cell_warnings(cell.source, modules)]
