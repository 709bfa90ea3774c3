"""The mail package talks to servers and decides what a message is; what it reads and writes goes
through domain functions (domain/inbound.py, domain/delivery.py), whose SQL is in store/mail_queries.py."""

from __future__ import annotations

import ast
import re

from conftest import ROOT
from test_layering import imported_names, is_within, module_name

MAIL = ROOT / "helpdesk" / "mail"
SQL = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|ON\s+CONFLICT)\b", re.IGNORECASE)
# The one store helper the mail package keeps: its cross-process locks (advisory locks, flock).
ALLOWED_STORE = {"helpdesk.mail.locks": ("helpdesk.store.db", "helpdesk.store.mail_queries")}


def mail_files():
    return sorted(MAIL.rglob("*.py"))


def test_no_sql_in_the_mail_package():
    found = []
    for path in mail_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                # Docstrings and messages may say "select"; SQL has quoted identifiers or placeholders.
                if '"' in node.value or "?" in node.value or "%s" in node.value or "(" in node.value:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_the_mail_package_imports_no_peewee_and_no_store():
    found = []
    for path in mail_files():
        allowed = ALLOWED_STORE.get(module_name(path), ())
        for line, name in imported_names(path):
            if is_within(name, ("peewee",)) or (is_within(name, ("helpdesk.store",))
                                                and not is_within(name, allowed)):
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert found == []


def test_the_scan_would_see_sql_and_a_store_import():
    source = 'from helpdesk.store.models import Outbox\nQ = \'SELECT "id" FROM "outbox" WHERE "id" = ?\'\n'
    path = MAIL / "intake.py"  # scanned as if it were the intake, from another text
    assert ("helpdesk.store.models" in [n for _, n in imported_names(path, source)])
    assert any(SQL.search(n.value) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant))
