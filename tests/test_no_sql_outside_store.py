"""SQL text lives in helpdesk/store/ only: the layers above call named functions there (or compose
with the Peewee models), so a statement is written once and the backends' differences stay in one
place. The scan reads every string literal (f-strings' text parts too) of the modules above the store."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_layering import PACKAGE

SQL_RE = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \S+ SET|DELETE FROM|CREATE (TABLE|INDEX)|ALTER TABLE|ON CONFLICT"
                    r"|PRAGMA)\b")
EXCLUDED = (
    PACKAGE / "store",
)


def sql_literals(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_RE.search(node.value):
            found.append(f"{path}:{node.lineno}: {node.value[:70]!r}")
    return found


def test_the_scan_finds_sql(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('q = f\'UPDATE "ticket" SET "x" = {1}\'\nok = "select a colour"\n')
    assert len(sql_literals(sample)) == 1


def test_no_sql_text_outside_the_store():
    files = [f for f in sorted(PACKAGE.rglob("*.py")) if not any(f.is_relative_to(e) for e in EXCLUDED)]
    assert [hit for f in files for hit in sql_literals(f)] == []
