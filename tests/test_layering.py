"""The layers stay apart: store at the bottom, domain in the middle, front ends on top; scripted
commands never pay for the TUI or rich.

Static checks parse the source with `ast` (every import statement, also inside functions); the
runtime checks run a fresh interpreter, so nothing this test process imported can hide a problem.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_subprocess

PACKAGE = ROOT / "helpdesk"

STORE_FORBIDDEN = ("helpdesk.cli", "helpdesk.tui", "helpdesk.domain.tickets", "helpdesk.domain.lifecycle", "helpdesk.domain.routing",
                   "helpdesk.domain.import_export", "helpdesk.domain.sample", "helpdesk.domain.agents")
FRONT_ENDS = ("helpdesk.cli", "helpdesk.tui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, wherever it is; `from a import b` yields a and a.b,
    relative imports are resolved against the file's package. `source` stands in for the file's text."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call):
            # importlib.import_module("x") / __import__("x") with a literal name
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def is_within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def python_files(*, exclude: tuple[str, ...] = ()) -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    return [f for f in files if not is_within(module_name(f), exclude)]


# ---------------------------------------------------------------- the scanner itself


def test_the_scanner_sees_every_kind_of_import():
    source = (
        "import os, helpdesk.cli.app\n"
        "from helpdesk.domain import tickets as t\n"
        "from . import models\n"
        "from ..domain.lifecycle import change_status\n"
        "def f():\n"
        "    from helpdesk.domain.import_export import export\n"
        "    import importlib; importlib.import_module('textual.app')\n"
    )
    # as if it were a module of the store (the file is never written)
    names = {m for _, m in imported_names(PACKAGE / "store" / "probe.py", source)}
    assert {"os", "helpdesk.cli.app", "helpdesk.domain.tickets", "helpdesk.store.models", "helpdesk.domain.lifecycle",
            "helpdesk.domain.import_export", "textual.app"} <= names
    assert is_within("helpdesk.cli.app", STORE_FORBIDDEN) and not is_within("helpdesk.client", STORE_FORBIDDEN)


# ---------------------------------------------------------------- static layering


def test_store_imports_no_domain_or_front_end_module():
    files = sorted((PACKAGE / "store").glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "db.py", "models.py", "extensions.py", "migrations.py"}
    offences = [f"{f.relative_to(ROOT)}:{line} imports {mod}"
                for f in files for line, mod in imported_names(f) if is_within(mod, STORE_FORBIDDEN)]
    assert offences == []


def test_nothing_outside_the_tui_imports_textual():
    files = python_files(exclude=("helpdesk.tui",))
    assert len(files) > 20
    offences = [f"{f.relative_to(ROOT)}:{line} imports {mod}"
                for f in files for line, mod in imported_names(f) if is_within(mod, ("textual",))]
    assert offences == []


def test_domain_modules_do_not_import_front_ends():
    files = python_files(exclude=FRONT_ENDS)
    names = {module_name(f) for f in files}
    assert {"helpdesk.domain.tickets", "helpdesk.domain.lifecycle", "helpdesk.domain.query", "helpdesk.domain.import_export",
            "helpdesk.domain.routing", "helpdesk.domain.agents", "helpdesk.store.models"} <= names
    offences = [f"{f.relative_to(ROOT)}:{line} imports {mod}"
                for f in files for line, mod in imported_names(f)
                if is_within(mod, FRONT_ENDS + ("typer", "textual"))]
    assert offences == []


def test_only_front_ends_use_rich():
    files = python_files(exclude=FRONT_ENDS)
    offences = [f"{f.relative_to(ROOT)}:{line} imports {mod}"
                for f in files for line, mod in imported_names(f) if is_within(mod, ("rich",))]
    assert offences == []


# ---------------------------------------------------------------- at run time, in a fresh interpreter


PROBE = r"""
import json, sys
out = sys.argv[1]
args = sys.argv[2:]
from helpdesk.cli.entry import main
sys.argv = ["helpdesk"] + args
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
finally:
    with open(out, "w") as fh:
        json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""


def loaded_modules(tmp_path, args, input=None) -> tuple[subprocess.CompletedProcess, int, set[str]]:
    report = tmp_path / f"modules-{abs(hash(tuple(args)))}.json"
    proc = run_subprocess([sys.executable, "-c", PROBE, str(report), *args], input=input)
    data = json.loads(report.read_text())
    return proc, data["code"] or 0, set(data["modules"])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if is_within(m, ("textual", "rich", "helpdesk.tui")))


def test_ticket_list_json_loads_neither_textual_nor_rich(tmp_path, configured):
    proc, code, modules = loaded_modules(tmp_path, ["ticket", "create", "--title", "VPN drops", "--json"])
    assert code == 0, proc.stderr
    assert heavy(modules) == []
    proc, code, modules = loaded_modules(tmp_path, ["ticket", "list", "--json"])
    assert code == 0, proc.stderr
    assert [t["title"] for t in json.loads(proc.stdout)] == ["VPN drops"]
    assert "helpdesk.cli.ticket" in modules and "helpdesk.domain.tickets" in modules  # it really ran
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [["ticket", "list", "--nl"], ["ticket", "list", "--csv"], ["ticket", "show", "1", "--json"],
                                  ["ticket", "history", "1", "--json"], ["agent", "list", "--json"],
                                  ["export", "--format", "json"], ["locate", "--json"]])
def test_scripted_commands_stay_light(tmp_path, configured, args):
    proc, code, _ = loaded_modules(tmp_path, ["ticket", "create", "--title", "Printer jam"])
    assert code == 0, proc.stderr
    proc, code, modules = loaded_modules(tmp_path, args)
    assert code == 0, proc.stderr
    assert proc.stdout.strip()
    assert heavy(modules) == []


def test_the_probe_does_see_rich_when_text_output_needs_it(tmp_path, configured):
    # the human table is drawn with rich: proves the module probe would catch a heavy import
    proc, code, modules = loaded_modules(tmp_path, ["ticket", "list"])
    assert code == 0, proc.stderr
    assert "rich" in modules
    assert not any(is_within(m, ("textual", "helpdesk.tui")) for m in modules)


def test_domain_imports_load_no_front_end(tmp_path):
    import pkgutil

    import helpdesk

    domain = sorted(f"helpdesk.{m.name}" for m in pkgutil.iter_modules(helpdesk.__path__) if not m.ispkg
                    and m.name != "daemon")
    for package in ("core", "domain"):
        domain += sorted(f"helpdesk.{package}.{m.name}" for m in pkgutil.iter_modules([str(PACKAGE / package)]))
    domain += sorted(f"helpdesk.store.{m.name}" for m in pkgutil.iter_modules([str(PACKAGE / "store")]))
    assert {"helpdesk.domain.tickets", "helpdesk.domain.lifecycle", "helpdesk.domain.query", "helpdesk.domain.import_export"} <= set(domain)
    script = ("import importlib, json, sys\n"
              f"for name in {domain!r}:\n"
              "    importlib.import_module(name)\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    proc = run_subprocess([sys.executable, "-c", script])
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout))
    assert set(domain) <= modules
    assert sorted(m for m in modules if is_within(m, FRONT_ENDS + ("typer", "textual", "rich"))) == []
