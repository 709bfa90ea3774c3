"""The store: migrations, SQLite settings, append-only audit, full-text search, attachments."""

from __future__ import annotations

import peewee as pw
import pytest

from conftest import BACKEND
from helpdesk.domain import attachments, audit, lifecycle, tickets
from helpdesk.store import migrations
from helpdesk.store.db import parse_url
from helpdesk.store.models import AuditEvent, SchemaMigration
from helpdesk.core.errors import ConfigError


def test_migrations_apply_once_and_are_recorded(desk):
    names = [n for n, _ in migrations.MIGRATIONS]
    assert [m.name for m in SchemaMigration.select().order_by(SchemaMigration.id)] == names
    assert migrations.migrate(desk.db) == []
    assert migrations.pending(desk.db) == []


def test_migration_names_are_numbered_and_ordered():
    names = [n for n, _ in migrations.MIGRATIONS]
    assert names == sorted(names)
    assert all(n[:4].isdigit() for n in names)
    assert len(set(n[:4] for n in names)) == len(names)


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite settings")
def test_sqlite_runs_in_wal_mode_with_busy_timeout(desk):
    assert desk.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert desk.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert desk.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_audit_events_cannot_be_changed_or_deleted(desk):
    view, _ = tickets.intake(desk, tickets.TicketInput(title="Printer jam"))
    event = AuditEvent.get(AuditEvent.ticket == view.number)
    with pytest.raises(pw.DatabaseError):
        with desk.db.atomic():
            AuditEvent.update(action="forged").where(AuditEvent.id == event.id).execute()
    with pytest.raises(pw.DatabaseError):
        with desk.db.atomic():
            AuditEvent.delete().where(AuditEvent.id == event.id).execute()
    assert AuditEvent.get_by_id(event.id).action == "created"


def test_full_text_search_covers_title_description_and_conversation(desk):
    a, _ = tickets.intake(desk, tickets.TicketInput(title="Laptop fan noisy", body="grinding sound at boot"))
    b, _ = tickets.intake(desk, tickets.TicketInput(title="VPN", body="tunnel drops"))
    tickets.reply(desk, b.number, "Replaced the firmware of the concentrator", note=True)
    assert [t.number for t in tickets.list_tickets(desk, "grinding")] == [a.number]
    assert [t.number for t in tickets.list_tickets(desk, "concentrator")] == [b.number]
    assert [t.number for t in tickets.list_tickets(desk, '"fan noisy"')] == [a.number]
    assert tickets.list_tickets(desk, '"noisy fan"') == []
    tickets.update(desk, a.number, title="Laptop overheating")
    assert [t.number for t in tickets.list_tickets(desk, "overheating")] == [a.number]


def test_search_survives_merge(desk):
    a, _ = tickets.intake(desk, tickets.TicketInput(title="Scanner broken"))
    b, _ = tickets.intake(desk, tickets.TicketInput(title="Scanner still broken"))
    tickets.reply(desk, a.number, "pickup roller worn", note=True)
    lifecycle.merge(desk, a.number, b.number)
    assert [t.number for t in tickets.list_tickets(desk, "roller")] == [b.number]


def test_attachments_are_stored_once_by_content_hash(desk, configured):
    view, _ = tickets.intake(desk, tickets.TicketInput(title="Screenshot"))
    one, _ = attachments.add(desk, view.number, "../../etc/passwd", b"hello")
    two, _ = attachments.add(desk, view.number, "copy.txt", b"hello")
    assert one.sha256 == two.sha256
    assert one.filename == "passwd"
    blobs = [p for p in (configured.path / "attachments").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    meta, data = attachments.read(one.id)
    assert data == b"hello" and meta.size == 5
    assert [e.action for e in audit.history(desk, view.number)].count("attached") == 2


@pytest.mark.parametrize("name,expected", [
    ("report.pdf", "report.pdf"), ("..\\..\\boot.ini", "boot.ini"), (".bashrc", "bashrc"),
    ("a\x00b\x1b[31m.txt", "ab[31m.txt"), ("", "attachment"), ("..", "attachment"), ("x" * 300 + ".pdf", None),
])
def test_safe_filename(name, expected):
    safe = attachments.safe_filename(name)
    if expected:
        assert safe == expected
    assert "/" not in safe and "\\" not in safe and len(safe) <= 200 and not safe.startswith(".")


@pytest.mark.parametrize("url,backend", [
    ("sqlite:////tmp/x.db", "sqlite"), ("sqlite:///tmp/x.db", "sqlite"),
    ("postgresql://u@h:5433/db?schema=s1", "postgresql"), ("postgres://u:p%40ss@h/db", "postgresql"),
])
def test_database_urls(url, backend):
    parsed = parse_url(url)
    assert parsed.backend == backend
    if backend == "sqlite":
        assert str(parsed.path) == "/tmp/x.db"
    if "p%40ss" in url:
        assert parsed.params["password"] == "p@ss"


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:", "sqlite:///", "postgresql://h/db?schema=a;drop",
                                 "postgresql://h:99999/db", "postgresql://h:abc/db"])
def test_bad_database_urls(url):
    with pytest.raises(ConfigError):
        parse_url(url)


def test_bulk_rows_keep_every_character_on_both_backends(desk):
    # From 50 rows PostgreSQL takes them by COPY, whose text format escapes tabs, newlines and backslashes.
    import datetime as dt

    from helpdesk.store.bulk import COPY_FROM

    number = tickets.intake(desk, tickets.TicketInput(title="Bulk", customer="ann@x.example"))[0].number
    awkward = ["tab\there", "line\nbreak\r\n", "back\\slash \\N", "quote ' \" ;", "ünïcödé ✓", "", "\\"]
    events = [(number if i % 2 else None, f"bulk_{i % 3}", {"text": awkward[i % len(awkward)], "i": i,
                                                          "when": dt.datetime(2026, 3, 2, 9, 0, i % 60)})
              for i in range(COPY_FROM + 10)]
    before = AuditEvent.select(pw.fn.MAX(AuditEvent.id)).scalar()
    audit.record_many(desk, events)
    import json

    rows = list(AuditEvent.select().where(AuditEvent.id > before).order_by(AuditEvent.id))
    assert [(r.ticket, r.action, json.loads(r.data)["text"], json.loads(r.data)["i"]) for r in rows] == [
        (t, a, d["text"], d["i"]) for t, a, d in events]
    assert len({r.created_at for r in rows}) == 1 and {r.actor for r in rows} == {desk.actor}


def test_bulk_intake_keeps_extension_values_of_every_kind(desk):
    # Dates, booleans and text with tabs and backslashes, by COPY on PostgreSQL (from 50 rows).
    import datetime as dt

    from helpdesk.store.bulk import COPY_FROM

    inputs = [tickets.TicketInput(title=f"Drill {i}", type="equipment_repair", customer="ann@x.example",
                                  fields={"serial_number": f"SN\t{i}\\x", "under_warranty": i % 2 == 0,
                                          "purchase_date": f"2024-02-{1 + i % 28:02d}",
                                          "fault_code": None if i % 3 else "E\n42"})
              for i in range(COPY_FROM + 5)]
    results = tickets.intake_bulk(desk, inputs)
    got = [tickets.get(desk, r.number).fields for r in results]
    assert [(f["serial_number"], f["under_warranty"], str(f["purchase_date"]), f.get("fault_code")) for f in got] == [
        (f"SN\t{i}\\x", i % 2 == 0, f"2024-02-{1 + i % 28:02d}", None if i % 3 else "E\n42")
        for i in range(COPY_FROM + 5)]
    assert isinstance(dt.date.fromisoformat(str(got[0]["purchase_date"])), dt.date)


def _connection_in_a_new_thread(db):
    """The connection a new thread's first statement runs on (the thread then ends)."""
    import threading

    got = []

    def read():
        db.execute_sql("SELECT 1")
        got.append(db.connection())

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    return got[0]


def test_a_thread_that_ends_hands_its_connection_to_the_next_one(desk):
    # The TUI reads in a new worker thread each time: one connection each would pay a new session
    # (PostgreSQL's catalogue cache, SQLite's page cache) on every screen.
    from helpdesk.store.db import close_database

    first = _connection_in_a_new_thread(desk.db)
    assert _connection_in_a_new_thread(desk.db) is first
    # a thread that ends inside a transaction (here on that same connection) hands nothing on: its
    # connection is closed
    import threading

    def leave_open():
        desk.db.execute_sql("SELECT 1")
        desk.db.begin()

    thread = threading.Thread(target=leave_open)
    thread.start()
    thread.join()
    assert desk.db._shelf == [] and not desk.db._idle(first)
    second = _connection_in_a_new_thread(desk.db)
    assert second is not first and desk.db._shelf == [second]
    close_database(desk.db)
    assert desk.db._shelf == [] and not desk.db._idle(second)  # closed with the desk


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's page cache per connection")
def test_a_smaller_page_cache_holds_for_every_connection_of_the_desk(configured):
    # The TUI keeps connections for hours: their page caches must not grow with the desk.
    import threading

    from helpdesk.domain.desk import open_desk
    from helpdesk.store.db import SQLITE_PRAGMAS

    default = dict(SQLITE_PRAGMAS)["cache_size"]
    plain = open_desk()
    try:
        assert plain.db.execute_sql("PRAGMA cache_size").fetchone()[0] == default
    finally:
        plain.close()
    small = open_desk(page_cache_kib=1234)
    try:
        assert small.db.execute_sql("PRAGMA cache_size").fetchone()[0] == -1234
        seen = []
        thread = threading.Thread(target=lambda: seen.append(small.db.execute_sql("PRAGMA cache_size").fetchone()[0]))
        thread.start()
        thread.join()
        assert seen == [-1234]  # a worker thread's own connection too
    finally:
        small.close()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's planner statistics")
def test_every_index_has_statistics_after_analysis_even_an_empty_one(desk):
    # Without a row for an empty partial index (no ticket marked breached yet), `PRAGMA optimize`
    # analysed the whole ticket table again at the end of every command.
    from helpdesk.store.db import refresh_statistics

    def without_statistics():
        return {name for (name,) in desk.db.execute_sql(
            "SELECT m.name FROM sqlite_master AS m WHERE m.type = 'index' AND m.sql IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM sqlite_stat1 AS s WHERE s.idx = m.name)")}

    def tables_with_rows():
        return {t for (t,) in desk.db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
                if desk.db.execute_sql(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()}

    def index_tables(names):
        return {desk.db.execute_sql("SELECT tbl_name FROM sqlite_master WHERE name = ?", (n,)).fetchone()[0]
                for n in names}

    for i in range(3):
        tickets.intake(desk, tickets.TicketInput(title=f"Ticket {i}"))
    refresh_statistics(desk.db, full=True)
    # every index of a table with rows has a row; an empty table's get theirs once it has rows
    assert not index_tables(without_statistics()) & tables_with_rows()
    empty = desk.db.execute_sql("SELECT stat FROM sqlite_stat1 WHERE idx = 'ticket_sla_state'").fetchone()
    assert empty == ("3 1 1 1",)  # the stand-in: as big as its table (ANALYZE found no entry to count)
    before = without_statistics()
    refresh_statistics(desk.db)  # the end of a command: nothing new missing, nothing written
    assert without_statistics() == before


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's planner statistics")
def test_a_new_desk_filled_before_any_analysis_reads_a_tickets_clocks_by_ticket(desk):
    # A desk made by init, then filled in one go (a bulk import, one transaction): the statistics are
    # still those of the empty desk. One ticket's nearest due time must be read through its own clocks:
    # with stand-ins saying "one entry", SQLite took MIN(due_at) from the running clocks' due index,
    # walking every running clock (2,000x slower at 200,000 clocks; a million-ticket import ran for hours).
    from helpdesk.store import queries

    with desk.db.atomic():
        for i in range(30):
            tickets.intake(desk, tickets.TicketInput(title=f"Ticket {i}", priority="P2"))
        plan = [row[3] for row in desk.db.execute_sql(
            "EXPLAIN QUERY PLAN " + queries._REFRESH_SLA_TIMES + " (?)", (5,)).fetchall()]
    reads = [step for step in plan if "sla_clock" in step]
    assert reads and all("USING INDEX sla_clock_ticket_id_kind (ticket_id=?)" in step for step in reads), plan


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's planner (PostgreSQL: 0018's partial index)")
def test_an_agents_open_tickets_are_read_by_the_agent_not_by_walking_every_ticket(desk):
    # "My open" for an agent with few or no open tickets: with statistics and only (assignee, status)
    # indexed, SQLite walked the whole ticket table newest first (250 ms at a million tickets).
    import logging

    from helpdesk.services import queue
    from helpdesk.store.db import refresh_statistics

    with desk.db.atomic():
        for i in range(300):
            tickets.intake(desk, tickets.TicketInput(title=f"Ticket {i}"))
    refresh_statistics(desk.db, full=True)
    statements: list[tuple[str, tuple]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, tuple):
                statements.append(record.msg)

    peewee_log = logging.getLogger("peewee")
    capture, level = Capture(), peewee_log.level
    peewee_log.addHandler(capture)
    peewee_log.setLevel(logging.DEBUG)
    try:
        assert queue.page(desk, "assignee:me status:open", limit=50).tickets == []
    finally:
        peewee_log.removeHandler(capture)
        peewee_log.setLevel(level)
    sql, params = next((s, p) for s, p in statements if 'FROM "ticket"' in s and "assignee_id" in s)
    plan = [row[3] for row in desk.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    assert any("USING INDEX ticket_assignee_number (assignee_id=?)" in step for step in plan), plan
