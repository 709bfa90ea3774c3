"""The TUI stays in its room: the widgets read through small protocols (`RowSource`); what it takes of the
rest of helpdesk comes through two modules: `core` (the sanitiser and the editor) and `desk` (the
services layer and the plain views, errors and vocabulary it hands out)."""

from __future__ import annotations

import ast
import json
import sys

from conftest import ROOT, run_subprocess

TUI = ROOT / "helpdesk" / "tui"
ALLOWED_OUTSIDE = {"helpdesk.core.sanitise", "helpdesk.core.editor"}
DESK_ALLOWED = ("helpdesk.services", "helpdesk.core.errors", "helpdesk.core.views", "helpdesk.core.vocabulary")


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


def test_the_tui_imports_only_the_sanitiser_and_the_editor_in_core_and_services_in_desk():
    files = sorted(TUI.rglob("*.py"))
    assert {f.name for f in files} >= {"core.py", "app.py", "queue_table.py", "keys.py", "palette.py"}
    outside = {f.relative_to(ROOT).as_posix(): sorted(n for n in helpdesk_imports(f) if not n.startswith("helpdesk.tui"))
               for f in files}
    assert outside.pop("helpdesk/tui/core.py") == sorted(ALLOWED_OUTSIDE)
    desk = outside.pop("helpdesk/tui/desk.py")
    assert "helpdesk.services" in desk
    assert [n for n in desk if not n.startswith(DESK_ALLOWED)] == []
    assert {f: names for f, names in outside.items() if names} == {}


def test_importing_the_tui_package_loads_nothing_heavy():
    script = ("import json, sys\nimport helpdesk.tui, helpdesk.tui.errors\n"
              "print(json.dumps(sorted(sys.modules)))\n")
    proc = run_subprocess([sys.executable, "-c", script])
    assert proc.returncode == 0, proc.stderr
    modules = set(json.loads(proc.stdout))
    assert not any(m == "textual" or m.startswith(("textual.", "rich", "peewee")) for m in modules)
