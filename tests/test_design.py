"""The shape of the code that `docs/design.md` describes: stages in one direction, no import cycles,
imports at the top of each module.

`LAYERS` lists every module of `pipeline/` in the order data flows: a module may import modules of its
own layer or of earlier ones, never of a later one, and only `cli` (the last) chains the stages. A new
module must be placed here, which is the point: where it sits in the flow is a decision.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"

LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"__init__", "errors", "reference", "settings", "workbook_contract", "atomic", "findings", "provenance", "output_files"}),
    ("ingest", {"ingest"}),
    ("validate", {"rules", "validate"}),
    ("history", {"history"}),
    ("aggregate", {"aggregate", "status"}),
    ("charts", {"charts"}),
    ("changes", {"changes"}),
    ("report", {"report", "annex", "feedback", "pdf"}),
    ("tools", {"template", "live_checks", "samples", "doctor", "lo_export", "release"}),
    ("command line", {"cli", "__main__"}),
]
LAYER_OF = {module: i for i, (_, modules) in enumerate(LAYERS) for module in modules}


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PIPELINE.glob("*.py"))}


def _pipeline_imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            if node.module == "pipeline":
                found |= {alias.name for alias in node.names if alias.name in LAYER_OF or (PIPELINE / f"{alias.name}.py").exists()}
                found |= {"__init__"} if any(alias.name == "__version__" for alias in node.names) else set()
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("pipeline.")}
    return found


def test_every_module_has_its_place_in_the_flow():
    assert sorted(set(_modules()) - set(LAYER_OF)) == []
    assert sorted(set(LAYER_OF) - set(_modules())) == []


def test_no_module_imports_a_later_stage():
    backwards = [f"{module} ({LAYERS[LAYER_OF[module]][0]}) imports {imported} ({LAYERS[LAYER_OF[imported]][0]})"
                 for module, tree in _modules().items() for imported in sorted(_pipeline_imports(tree) - {module})
                 if LAYER_OF[imported] > LAYER_OF[module]]
    assert backwards == []


def test_the_modules_import_no_cycle():
    graph = {module: _pipeline_imports(tree) - {module} for module, tree in _modules().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                cycles.append(" -> ".join(path[path.index(imported):] + [imported]) if imported in path else imported)
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_imports_are_at_the_top_or_say_why_not():
    """An import inside a function is allowed for a heavy or optional dependency only, with a comment
    on its line saying why."""
    unexplained = []
    for module, tree in _modules().items():
        lines = (PIPELINE / f"{module}.py").read_text(encoding="utf-8").splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and "#" not in lines[inner.lineno - 1]:
                        unexplained.append(f"{module}.py:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert unexplained == []


@pytest.mark.parametrize("source, expected", [
    ("from pipeline import ingest, __version__\n", {"ingest", "__init__"}),
    ("from pipeline.reference import Reference\nimport pipeline.charts\n", {"reference", "charts"}),
    ("import pandas as pd\nfrom pathlib import Path\n", set()),
])
def test_pipeline_imports_are_read_from_the_syntax_tree(source, expected):
    assert _pipeline_imports(ast.parse(source)) == expected
