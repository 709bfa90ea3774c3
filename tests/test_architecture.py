"""The house rules of ARCHITECTURE.md that a tool can check: import-linter's contracts (the layers, which
packages may use textual, typer, ollama, scikit-learn and the database driver), no import cycle
between any two modules of helpdesk, and imports inside functions only where they load something heavy
lazily, each saying why."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

from conftest import ROOT

PACKAGE = ROOT / "helpdesk"


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "BROKEN" not in proc.stdout and "Contracts: 5 kept, 0 broken" in proc.stdout


def import_cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph.modules or not child.startswith("helpdesk"):
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    class Graph:  # a -> b -> c -> a, c -> d
        edges = {"helpdesk.a": {"helpdesk.b"}, "helpdesk.b": {"helpdesk.c"}, "helpdesk.c": {"helpdesk.a", "helpdesk.d"},
                 "helpdesk.d": set()}
        modules = set(edges)

        def find_modules_directly_imported_by(self, name):
            return self.edges[name]

    assert import_cycles(Graph()) == [["helpdesk.a", "helpdesk.b", "helpdesk.c"]]


def test_no_import_cycles_between_modules_of_helpdesk():
    graph = grimp.build_graph("helpdesk", cache_dir=None)
    assert len(graph.modules) > 100
    assert import_cycles(graph) == []


def function_level_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, has a reason) for each import inside a function body. The reason is a `# lazy:`
    comment on the import's line or on a line of the run of imports and comments just above it."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = {}
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, (ast.Import, ast.ImportFrom)):
                name = inner.module if isinstance(inner, ast.ImportFrom) else inner.names[0].name
                found[inner.lineno] = (inner.lineno, name or ".", _says_why(lines, inner.lineno - 1))
    return sorted(found.values())


def _says_why(lines: list[str], index: int) -> bool:
    while index >= 0:
        line = lines[index].strip()
        if "# lazy:" in line.lower():
            return True
        if not (line.startswith(("import ", "from ", "#")) or line == ""):
            return False
        index -= 1
    return False


def test_imports_inside_functions_only_load_lazily_and_say_why():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name, reasoned in function_level_imports(path):
            if not reasoned:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {name} inside a function "
                                "without a `# lazy: reason` comment")
    assert offences == []
