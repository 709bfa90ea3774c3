"""Numbered, append-only migrations the product runs itself (`helpdesk db migrate`, and on first use).

Each migration is a function recorded by name in `schema_migration` once applied. Never edit or
reorder one that has shipped: add a new one. Every migration runs in its own transaction under a
lock, so two processes starting at once apply each migration exactly once.
"""

from __future__ import annotations

import json
from typing import Callable

import peewee as pw

from helpdesk.core.vocabulary import OPEN_STATES
from helpdesk.store import models, queries, search
from helpdesk.store.db import DESK_TABLE, has_desk, is_postgres
from helpdesk.store.report_queries import OPEN_BREACHED

Migration = Callable[[pw.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str):
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((name, fn))
        return fn
    return register


@migration("0001_core_tables")
def _core_tables(db: pw.Database) -> None:
    db.create_tables(models.CORE_MODELS, safe=True)


@migration("0002_audit_append_only")
def _audit_append_only(db: pw.Database) -> None:
    # The audit trail is evidence: the database itself refuses to rewrite it.
    if is_postgres(db):
        db.execute_sql(
            "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_event is append-only'; END; $$ LANGUAGE plpgsql")
        db.execute_sql("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
        db.execute_sql(
            "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()")
    else:
        for op in ("UPDATE", "DELETE"):
            db.execute_sql(
                f"CREATE TRIGGER IF NOT EXISTS audit_event_no_{op.lower()} BEFORE {op} ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END")


@migration("0003_full_text_search")
def _full_text_search(db: pw.Database) -> None:
    search.create_index_tables(db)


@migration("0004_mail_channel")
def _mail_channel(db: pw.Database) -> None:
    db.create_tables(models.MAIL_MODELS, safe=True)


@migration("0005_tag_lookup_index")
def _tag_lookup_index(db: pw.Database) -> None:
    # `tag:x` newest first reads (tag, ticket) from the index alone (59 ms -> under 1 ms at 1M tickets).
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_tag_tag_ticket ON ticket_tag (tag, ticket_id)")
    db.execute_sql("DROP INDEX IF EXISTS ticket_tag_tag")


@migration("0006_sla_clocks")
def _sla_clocks(db: pw.Database) -> None:
    db.create_tables(models.SLA_MODELS, safe=True)


def add_column_if_missing(db: pw.Database, table: str, name: str, field: pw.Field) -> None:
    """For columns added after 0001 (which creates tables as the models are now)."""
    if name not in {c.name for c in db.get_columns(table)}:
        # lazy: playhouse.migrate loads the PostgreSQL and CockroachDB extensions (~30 ms of every
        # command's start-up); only a desk with a pending column needs it
        from playhouse.migrate import PostgresqlMigrator, SqliteMigrator
        from playhouse.migrate import migrate as run

        migrator = PostgresqlMigrator(db) if is_postgres(db) else SqliteMigrator(db)
        run(migrator.add_column(table, name, field))


@migration("0007_agent_shift")
def _agent_shift(db: pw.Database) -> None:
    add_column_if_missing(db, "agent", "shift", pw.CharField(max_length=100, null=True))


@migration("0008_automation")
def _automation(db: pw.Database) -> None:
    db.create_tables(models.AUTOMATION_MODELS, safe=True)


@migration("0009_status_changed_at")
def _status_changed_at(db: pw.Database) -> None:
    add_column_if_missing(db, "ticket", "status_changed_at", pw.DateTimeField(null=True))
    db.execute_sql("UPDATE ticket SET status_changed_at = updated_at WHERE status_changed_at IS NULL")


@migration("0010_ratings")
def _ratings(db: pw.Database) -> None:
    db.create_tables(models.RATING_MODELS, safe=True)


@migration("0011_outbox_recipient_index")
def _outbox_recipient_index(db: pw.Database) -> None:
    # The rate cap of automatic mail counts a recipient's recent mail: checked for every acknowledgement.
    db.execute_sql("CREATE INDEX IF NOT EXISTS outbox_to_addr_created_at ON outbox (to_addr, created_at)")



@migration("0012_sweep_indexes")
def _sweep_indexes(db: pw.Database) -> None:
    # The sweep looks only for clocks whose crossing has not fired yet. Partial indexes hold just those,
    # so a sweep costs the same on a young desk and on one with years of fired or met clocks (the
    # predicates are written exactly as sla._CLAIMS writes them, for the planners to match).
    db.execute_sql("CREATE INDEX IF NOT EXISTS sla_clock_risk_unfired ON sla_clock (risk_at)"
                   " WHERE state = 'running' AND at_risk_fired_at IS NULL")
    db.execute_sql("CREATE INDEX IF NOT EXISTS sla_clock_due_unfired ON sla_clock (due_at)"
                   " WHERE state = 'running' AND breached_fired_at IS NULL")
    db.execute_sql("CREATE INDEX IF NOT EXISTS sla_clock_over_unfired ON sla_clock (id)"
                   " WHERE state <> 'running' AND breached_fired_at IS NULL AND used_seconds > target_minutes * 60")
    # They replace the (state, due_at) and (state, risk_at) indexes, which held every clock.
    db.execute_sql("DROP INDEX IF EXISTS sla_clock_state_due_at")
    db.execute_sql("DROP INDEX IF EXISTS sla_clock_state_risk_at")
    db.execute_sql("DROP INDEX IF EXISTS sla_clock_ticket_id")  # (ticket_id, kind) serves its lookups
    # Every ticket write maintains every index of the table: (queue_id, status) and (assignee_id, status)
    # serve what the single-column ones did.
    db.execute_sql("DROP INDEX IF EXISTS ticket_queue_id")
    db.execute_sql("DROP INDEX IF EXISTS ticket_assignee_id")
    if is_postgres(db):
        # Room in each page for an updated row version next to the old one (a HOT update, no index
        # writes) when no indexed column changes, as the sweep's SLA state does. New pages only.
        db.execute_sql("ALTER TABLE ticket SET (fillfactor = 90)")


@migration("0013_agent_last_assigned")
def _agent_last_assigned(db: pw.Database) -> None:
    # Round-robin read the newest assignment events from the audit trail for every ticket routed (54 ms
    # once a sweep had written thousands of newer events); the agent row now carries its place.
    add_column_if_missing(db, "agent", "last_assigned", pw.BigIntegerField(default=0))

    latest: dict[str, int] = {}
    for event_id, data in db.execute_sql(
            "SELECT id, data FROM audit_event WHERE action IN ('assigned', 'transferred') ORDER BY id"):
        login = json.loads(data).get("to")
        if isinstance(login, str):
            latest[login] = event_id
    for login, event_id in latest.items():
        db.execute_sql(f"UPDATE agent SET last_assigned = {db.param} WHERE login = {db.param}", (event_id, login))

def _lock(db: pw.Database) -> None:
    if is_postgres(db):
        db.execute_sql("SELECT pg_advisory_xact_lock(727274000)")
    # SQLite: the transaction is BEGIN IMMEDIATE, which already excludes every other writer.


def applied(db: pw.Database) -> set[str]:
    # has_desk asks the catalogue by name; peewee's table_exists lists information_schema (30 ms on
    # PostgreSQL, paid by every command and at every TUI launch).
    assert models.SchemaMigration._meta.table_name == DESK_TABLE
    if not has_desk(db):
        return set()
    return {name for (name,) in models.SchemaMigration.select(models.SchemaMigration.name).tuples()}


def pending(db: pw.Database) -> list[str]:
    done = applied(db)
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(db: pw.Database) -> list[str]:
    """Apply every pending migration; returns the names applied now."""
    ran = []
    if not pending(db):
        return ran
    with db.atomic():
        _lock(db)
        db.create_tables([models.SchemaMigration], safe=True)
    for name, fn in MIGRATIONS:
        with db.atomic():
            _lock(db)
            if models.SchemaMigration.select().where(models.SchemaMigration.name == name).exists():
                continue  # another process got there first
            fn(db)
            models.SchemaMigration.create(name=name)
            ran.append(name)
    return ran


@migration("0014_agent_role")
def _agent_role(db: pw.Database) -> None:
    # Roles admin, lead, agent replace the admin flag (kept in step with the role for older readers).
    add_column_if_missing(db, "agent", "role", pw.CharField(max_length=20, default="agent"))
    db.execute_sql("UPDATE agent SET role = 'admin' WHERE is_admin")
@migration("0015_conversation_full_body")
def _conversation_full_body(db: pw.Database) -> None:
    # A mail reply stored only the text left after quote stripping: what a wrong cut took was gone.
    # The whole text is now kept beside it (entries stored before keep NULL: their whole text is lost).
    add_column_if_missing(db, "conversation_entry", "full_body", pw.TextField(null=True))


@migration("0016_ai_assistance")
def _ai_assistance(db: pw.Database) -> None:
    # Suggestions and what people made of them, trained classifiers, ticket vectors for similar tickets.
    db.create_tables(models.AI_MODELS, safe=True)


@migration("0017_report_indexes")
def _report_indexes(db: pw.Database) -> None:
    # The dashboard counts tickets resolved per day and the clocks stopped in its period from an index
    # range each (store/report_queries.py), not by reading every ticket or clock. Resolving changes
    # `status` (indexed) anyway, and every clock write already changes an indexed column: none of these
    # turns an update that was HOT on PostgreSQL into one that is not.
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_resolved_at ON ticket (resolved_at)"
                   " WHERE resolved_at IS NOT NULL")
    db.execute_sql("CREATE INDEX IF NOT EXISTS sla_clock_stopped ON sla_clock"
                   " (stopped_at, kind, used_seconds, target_minutes) WHERE state = 'stopped'")
    # Open tickets the sweep marked breached, per queue: a small index (the few breached among the open)
    # instead of reading every open ticket's row. Its predicate names `sla_state`, so on PostgreSQL the
    # sweep's marking of a ticket (once at risk, once breached) is no longer a HOT update: two index
    # writes in a ticket's life, against a dashboard that read 300,000 rows on each refresh.
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS ticket_open_breached ON ticket (queue_id) WHERE {OPEN_BREACHED}")


@migration("0018_queue_seek_indexes")
def _queue_seek_indexes(db: pw.Database) -> None:
    if is_postgres(db):
        # An agent's open tickets newest first (`assignee:alice status:open`, the "My open" view): this
        # index holds just the open tickets, so the planner walks it backward and stops at the page's
        # end even without statistics; before, it read and sorted every open ticket of the agent (160-320
        # ms at a million tickets before ANALYZE). The predicate is written as the query language writes
        # `status:open` (the open states, sorted), for the planner to match. SQLite binds the states as
        # parameters, which a partial index cannot be matched against; it plans this query well anyway.
        states = ", ".join(f"'{state}'" for state in sorted(OPEN_STATES))
        db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_open_assignee_number ON ticket (assignee_id, number)"
                       f" WHERE status IN ({states})")
    # The queue sorted by priority reads a page by seeking to (priority, number): ties go newest first in
    # both directions, so most urgent first is (priority ASC, number DESC) and least urgent first is
    # (priority DESC, number DESC), the second index read backward. Four priorities share a million
    # tickets: without them every page sorted a whole priority's tickets.
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_priority_number_desc ON ticket (priority, number DESC)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_priority_number ON ticket (priority, number)")


@migration("0019_ticket_sla_due")
def _ticket_sla_due(db: pw.Database) -> None:
    # Sorting the queue by due read a subquery over the clocks for every ticket (3-7 s a page at a million
    # tickets), and `sla:breached` / `sla:at-risk` tested every ticket against subqueries (0.7-1 s a count,
    # on every change in the TUI's sidebar). Each ticket now carries its nearest running due and at-risk
    # times (kept by sla.refresh_due_times), filled here in one grouped pass over the running clocks.
    add_column_if_missing(db, "ticket", "sla_due_at", pw.DateTimeField(null=True))
    add_column_if_missing(db, "ticket", "sla_risk_at", pw.DateTimeField(null=True))
    # Filled before the indexes are built (twice as fast as updating them row by row: 11 s against 22 s for
    # 200,000 tickets on PostgreSQL). There the rows just rewritten make the new indexes unused by any
    # transaction older than this one until it ends (pg_index.indcheckxmin): a report running through
    # the upgrade still reads without them; everything after it uses them.
    db.execute_sql(queries.FILL_SLA_TIMES)
    # Sorted by due, ties newest first, tickets with no running clock last either way: ascending is
    # (COALESCE(due, end of time), number DESC); descending (COALESCE(due, start of time) DESC, number DESC),
    # the second index read backward. The first also serves `sla:breached`'s "past due" range, the status
    # in it so `status:open sla:breached` tests it in the index, not in each breached ticket's row.
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS ticket_due_number_desc ON ticket (({queries.DUE_SORT_ASC}),"
                   " number DESC, status)")
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS ticket_due_desc_number ON ticket (({queries.DUE_SORT_DESC}), number)")
    # `sla:at-risk`: past the at-risk time and not due (`queries.past_risk_not_due`), one range; and the
    # tickets the sweep marked, per state and status (a ticket keeps its mark when closed: years of marked
    # closed tickets are passed over in the index). Each holds what "and not breached" and `status:` test,
    # so SQLite reads no ticket row for them (a count of 50,000 at-risk tickets: 100 ms -> 12 ms).
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_sla_risk_at ON ticket (sla_risk_at, sla_due_at, status, sla_state)"
                   " WHERE sla_risk_at IS NOT NULL")
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_sla_state ON ticket (sla_state, status, sla_due_at)"
                   " WHERE sla_state IS NOT NULL")


@migration("0020_agent_tickets_newest_first")
def _agent_tickets_newest_first(db: pw.Database) -> None:
    if is_postgres(db):
        return  # 0018's partial index of the open tickets serves this there
    # SQLite: an agent's open tickets newest first (`assignee:me status:open`, the "My open" view). With
    # only (assignee, status) to go by, SQLite walks the whole ticket table newest first, testing each
    # row, and stops at the page's end: quick for an agent with many open tickets, every ticket read
    # for one with few or none (250 ms at a million tickets: a new agent's first view). By (assignee,
    # number) it reads the agent's tickets in order, and the filter on status from their rows.
    db.execute_sql("CREATE INDEX IF NOT EXISTS ticket_assignee_number ON ticket (assignee_id, number)")
    if db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        # an analysed desk: the new index measured now (0.3 s at a million), not guessed at until then
        db.execute_sql("ANALYZE ticket_assignee_number")
