"""The pipeline uses its dependencies (and the standard library) through their public API only.

A private name (`_x`, not a dunder) of another package is not part of its contract: it may change in
any release, and code leaning on it breaks on an upgrade. This reads the syntax tree of every module
of `pipeline/` and fails on:

* `from pkg import _name`, `import pkg._private`;
* an attribute chain rooted at an imported name that reaches a private name (`FT2Font._layout`,
  `zipfile.ZipInfo._end_offset`);
* a private attribute (`obj._name`, `getattr(obj, "_name")`) of any object whose name is not defined
  by the pipeline itself: the objects a library hands back (`frame._get_column_array`,
  `part._blob`) are caught by their attribute's name.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"


# namedtuple's documented methods carry an underscore only to keep clear of field names.
NAMEDTUPLE_API = frozenset({"_make", "_replace", "_asdict", "_fields", "_field_defaults"})


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and name not in NAMEDTUPLE_API


def _modules() -> dict[str, ast.Module]:
    return {path.relative_to(PIPELINE.parent).as_posix(): ast.parse(path.read_text(encoding="utf-8"), str(path))
            for path in sorted(PIPELINE.rglob("*.py"))}


def _own_names(trees: dict[str, ast.Module]) -> set[str]:
    """Every name the pipeline defines itself: functions, classes, their attributes and arguments,
    module-level and instance names (`self._x = ...`)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def _imported_roots(tree: ast.Module) -> set[str]:
    """Local names bound to a module or object imported from outside the pipeline."""
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("pipeline"):
                    roots.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith("pipeline"):
            for alias in node.names:
                roots.add(alias.asname or alias.name)
    return roots


def _chain_root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def private_uses(trees: dict[str, ast.Module]) -> list[str]:
    own = _own_names(trees)
    found: list[str] = []
    for module, tree in trees.items():
        roots = _imported_roots(tree)
        for node in ast.walk(tree):
            where = f"{module}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith("pipeline"):
                parts = (node.module or "").split(".")
                found += [f"{where}: from {node.module} import {a.name}" for a in node.names if _is_private(a.name)]
                found += [f"{where}: from {node.module}" for p in parts if _is_private(p)][:1]
            elif isinstance(node, ast.Import):
                found += [f"{where}: import {a.name}" for a in node.names
                          if not a.name.startswith("pipeline") and any(_is_private(p) for p in a.name.split("."))]
            elif isinstance(node, ast.Attribute) and _is_private(node.attr):
                root = _chain_root(node.value)
                if root in roots or node.attr not in own:
                    found.append(f"{where}: .{node.attr}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"getattr", "hasattr", "setattr"}
                  and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
                  and _is_private(node.args[1].value) and node.args[1].value not in own):
                found.append(f"{where}: {node.func.id}(..., {node.args[1].value!r})")
    return found


def test_no_private_name_of_another_package_is_used():
    assert private_uses(_modules()) == []


def private_overrides() -> list[str]:
    """Private names a pipeline class defines that one of its third-party base classes has already:
    overriding a library's private method or attribute leans on its internals just the same."""
    found = []
    for module, tree in _modules().items():
        name = module.removesuffix(".py").replace("/", ".")
        classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.bases]
        if not classes:
            continue
        loaded = importlib.import_module(name.removesuffix(".__init__"))
        for node in classes:
            cls = getattr(loaded, node.name, None)
            if not isinstance(cls, type):
                continue
            defined = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            defined |= {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
            defined |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
                        and isinstance(n.value, ast.Name) and n.value.id == "self"}
            foreign = [base for base in cls.__mro__[1:] if not base.__module__.startswith("pipeline") and base is not object]
            found += [f"{module}:{node.lineno}: {node.name}.{attr}" for attr in sorted(defined)
                      if _is_private(attr) and any(attr in vars(base) for base in foreign)]
    return found


def test_no_private_name_of_a_library_class_is_overridden():
    assert private_overrides() == []


@pytest.mark.parametrize("source, expected", [
    ("from matplotlib.ft2font import _layout\n", ["from matplotlib.ft2font import _layout"]),
    ("import zipfile\nx = zipfile.ZipInfo._end_offset\n", [".\u005fend_offset"]),
    ("import pandas as pd\ndef f(frame):\n    return frame._get_column_array(0)\n", [".\u005fget_column_array"]),
    ("def f(part):\n    return getattr(part, '_blob')\n", ["getattr(..., '\u005fblob')"]),
    ("from matplotlib import _api\n", ["from matplotlib import _api"]),
])
def test_the_check_finds_private_names(source, expected):
    found = private_uses({"pipeline/example.py": ast.parse(source)})
    assert [entry.split(": ", 1)[1] for entry in found] == expected


def test_the_check_allows_the_pipelines_own_private_names_and_dunders():
    source = ("import pandas as pd\n"
              "class Table:\n"
              "    def __init__(self):\n        self._rows = []\n"
              "    def _count(self):\n        return len(self._rows)\n"
              "def _helper(table):\n    return table._count() + pd.__version__.count('.')\n")
    assert private_uses({"pipeline/example.py": ast.parse(source)}) == []
