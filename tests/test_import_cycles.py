"""No import cycles among digitreader's modules, counting every import a module makes: at module level, inside
functions (a lazy import that only hides a cycle is still one), and under ``if TYPE_CHECKING:``.

The graph is read from the source with `ast`, so nothing is imported. An edge A -> B means A's source names
B in an ``import`` or ``from ... import``; ``from digitreader.pkg import name`` is an edge to the submodule
``digitreader.pkg.name`` when there is one, else to ``digitreader.pkg``. A package's own ``__init__.py``
counts only for what it imports itself (being imported as a parent does not count).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "digitreader"


def module_files() -> dict[str, Path]:
    """Dotted name -> file of every module under src/digitreader."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """`name` or the nearest enclosing module that exists (an attribute import names its module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The digitreader modules `path` imports, wherever in the file the import is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(
                _known(alias.name, modules) for alias in node.names if alias.name.startswith(PACKAGE)
            )
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..y import z
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source == PACKAGE or source.startswith(PACKAGE + "."):
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    found.add(sub if sub in modules else _known(source, modules))
    found.discard(None)
    found.discard(name)
    return {m for m in found if m is not None}


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "digitreader.contract" in graph["digitreader.onnx_engine"]
    assert "digitreader.bulk" in graph["digitreader.recognizer"]  # `from digitreader import budget, bulk`
    assert "digitreader.training.train" in graph["digitreader.training.launch"]


def test_lazy_and_type_checking_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from digitreader.recognizer import Recognizer\n"
        "def f():\n    from digitreader.training import export\n    import digitreader.files\n"
    )
    found = imports_of("digitreader.m", source, module_files())
    assert found == {"digitreader.recognizer", "digitreader.training.export", "digitreader.files"}


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    edges = [f"{m} -> {', '.join(sorted(graph[m] & set(c)))}" for c in found for m in c]
    assert not found, "import cycles (move code to break them): " + "; ".join(edges)


def test_the_contract_stays_torch_free_and_small() -> None:
    graph = import_graph()
    assert graph["digitreader.contract"] <= {"digitreader.errors"}
    assert graph["digitreader.files"] == set()
    assert graph["digitreader.training.config"] <= {"digitreader.errors", "digitreader.models.recipe"}
