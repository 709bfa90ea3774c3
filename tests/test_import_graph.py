"""The lower layers (core, config, store, domain) form no import cycle, import only downwards, and
import at the top of the module: an import inside a function hides a cycle and pays on every call.
The one exception is a heavy optional package loaded on first use, marked `# lazy: why`."""

from __future__ import annotations

import ast
from pathlib import Path

from test_layering import PACKAGE, imported_names, is_within, module_name

LAYERS = ("helpdesk.core", "helpdesk.config", "helpdesk.store", "helpdesk.domain")  # bottom first


def layer_of(module: str) -> int | None:
    for i, prefix in enumerate(LAYERS):
        if is_within(module, (prefix,)):
            return i
    return None


def lower_files() -> list[Path]:
    return [f for f in sorted(PACKAGE.rglob("*.py")) if layer_of(module_name(f)) is not None]


def graph() -> dict[str, set[str]]:
    """module -> the modules of the lower layers it imports (a package counts as its __init__)."""
    modules = {module_name(f): f for f in lower_files()}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = imported_names(path)
        # `from package import module` imports the module (as grimp counts it), not the package's other parts.
        via = {(line, m.rpartition(".")[0]) for line, m in found if m in modules}
        edges[name] = {m for line, m in found if m in modules and m != name and (line, m) not in via}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_the_lower_layers():
    assert cycles(graph()) == []


def test_lower_layers_import_only_downwards():
    upward = [f"{m} imports {d}" for m, deps in graph().items() for d in deps if layer_of(d) > layer_of(m)]
    assert upward == []


def test_no_imports_inside_functions_but_lazy_heavy_packages():
    offenders = []
    for path in lower_files():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and "# lazy: " not in lines[inner.lineno - 1]:
                        offenders.append(f"{module_name(path)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert offenders == []
