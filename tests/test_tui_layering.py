"""The TUI stays in its room: it reads the desk only through the protocols the services layer will
implement, and imports nothing of helpdesk but the sanitiser and the editor, in one module."""

from __future__ import annotations

import ast
import json
import sys

from conftest import ROOT, run_subprocess

TUI = ROOT / "helpdesk" / "tui"
ALLOWED_OUTSIDE = {"helpdesk.core.sanitise", "helpdesk.core.editor"}


def helpdesk_imports(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module or "")
    return {n for n in names if n == "helpdesk" or n.startswith("helpdesk.")}


def test_the_tui_imports_only_the_sanitiser_and_the_editor_and_only_in_core():
    files = sorted(TUI.rglob("*.py"))
    assert {f.name for f in files} >= {"core.py", "app.py", "queue_table.py", "keys.py", "palette.py"}
    outside = {f.relative_to(ROOT).as_posix(): sorted(n for n in helpdesk_imports(f) if not n.startswith("helpdesk.tui"))
               for f in files}
    assert outside.pop("helpdesk/tui/core.py") == sorted(ALLOWED_OUTSIDE)
    assert {f: names for f, names in outside.items() if names} == {}


def test_importing_the_tui_package_loads_nothing_heavy():
    script = ("import json, sys\nimport helpdesk.tui, helpdesk.tui.errors\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    proc = run_subprocess([sys.executable, "-c", script])
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout))
    assert not any(m == "textual" or m.startswith(("textual.", "rich", "peewee")) for m in modules)
