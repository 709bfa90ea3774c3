"""Named statements: every SQL text the layers above need lives here (or in the models), so the domain
composes no SQL of its own. Plain SQL (see `sql.py`) where a statement is on a hot path."""

from __future__ import annotations

from typing import Any, Sequence

import peewee as pw

from helpdesk.core.errors import NotFound
from helpdesk.core.vocabulary import OPEN_STATES
from helpdesk.store import sql
from helpdesk.store.db import is_postgres
from helpdesk.store.models import SlaClock, Ticket, UndeliverableAddress


def ticket_row(number: int) -> Ticket:
    """The ticket row (every write starts here: plain SQL); a missing one is NotFound."""
    ticket = sql.get_row(Ticket, number)
    if ticket is None:
        raise NotFound(f"ticket #{number} not found")
    return ticket


CHUNK = 500  # values in one IN list (SQLite's variable limit, and plans stay cached)


def _by_parts(db: pw.Database, statement: str, values: Sequence[Any], head: Sequence[Any] = (),
              tail: str = "") -> list[tuple]:
    """`statement` ending in `IN` run for every CHUNK of `values` (see `sql.in_parts`)."""
    return sql.in_parts(db, statement, head, list(values), CHUNK, tail)


# ---------------------------------------------------------------- tickets


def update_ticket_if_version(db: pw.Database, numbers: Sequence[int], version: int, changes: dict[str, Any]) -> int:
    """The versioned ticket write (optimistic concurrency): set `changes` (model field names) on the
    tickets that still have `version`; returns how many were written (fewer: someone else wrote one
    meanwhile). Plain SQL: written for every reply and move (Peewee composing the UPDATE cost 10x its
    execution)."""
    fields = Ticket._meta.fields
    try:
        columns = [fields[key] for key in changes]
    except KeyError as exc:
        raise TypeError(f"ticket has no field {exc}") from None
    assignments = ", ".join(f'"{f.column_name}" = ?' for f in columns)
    values = [f.db_value(v) for f, v in zip(columns, changes.values())]
    return sum(sql.execute(db, f'UPDATE "ticket" SET {assignments} WHERE "version" = ? AND "number" IN '
                               f"({sql.marks(len(part))})", [*values, version, *part]).rowcount
               for part in _parts(numbers))


def _parts(values: Sequence[Any]) -> list[list[Any]]:
    values = list(values)
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]


def set_sla_state(db: pw.Database, numbers: Sequence[int], state: str) -> None:
    """Mark the tickets' SLA state without a version bump (no one's edit is overwritten); at risk never
    overwrites breached, even one a concurrent sweep has just written."""
    guard = '"sla_state" IS NULL AND ' if state == "at_risk" else ""
    _by_parts(db, f'UPDATE "ticket" SET "sla_state" = ? WHERE {guard}"number" IN', sorted(numbers), [state])


def ticket_columns(db: pw.Database, numbers: Sequence[int], names: Sequence[str]) -> list[tuple]:
    """(number, *the named fields' stored values) of these tickets."""
    columns = ", ".join(f'"{Ticket._meta.fields[n].column_name}"' for n in names)
    return _by_parts(db, f'SELECT "number", {columns} FROM "ticket" WHERE "number" IN', numbers)


def ticket_numbers_by_key(db: pw.Database, keys: Sequence[str]) -> dict[str, int]:
    """idempotency key -> ticket number, of the keys already used."""
    return dict(_by_parts(db, 'SELECT "idempotency_key", "number" FROM "ticket" WHERE "idempotency_key" IN', keys))


def ticket_tags(db: pw.Database, number: int) -> set[str]:
    return {t for (t,) in sql.rows(db, 'SELECT "tag" FROM "ticket_tag" WHERE "ticket_id" = ?', (number,))}


def add_tags(db: pw.Database, pairs: Sequence[tuple[int, str]]) -> None:
    """(ticket, tag) rows; a tag the ticket has is skipped. Plain SQL (a rule adding a tag writes one
    row: composing the statement cost 10x running it)."""
    for part in _parts(pairs):
        sql.execute(db, 'INSERT INTO "ticket_tag" ("ticket_id", "tag") VALUES '
                    + ", ".join(["(?, ?)"] * len(part)) + " ON CONFLICT DO NOTHING",
                    [v for row in part for v in row])


def customer_ids(db: pw.Database, emails: Sequence[str]) -> dict[str, int]:
    """email -> customer id, of the (lower-cased) addresses known."""
    return dict(_by_parts(db, 'SELECT "email", "id" FROM "customer" WHERE "email" IN', emails))


def add_customer(db: pw.Database, email: str, name: str, organisation_id: int | None, created_at) -> None:
    """A new customer (nothing if the address is known by now: a concurrent intake added it)."""
    sql.execute(db, 'INSERT INTO "customer" ("email", "name", "organisation_id", "created_at")'
                ' VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', (email, name, organisation_id, created_at))


def customer_email(db: pw.Database, customer_id: int) -> str | None:
    row = sql.one(db, 'SELECT "email" FROM "customer" WHERE "id" = ?', (customer_id,))
    return row[0] if row else None


def customer_organisations(db: pw.Database, ids: Sequence[int]) -> dict[int, str]:
    """customer id -> organisation name, of the customers who have one."""
    return dict(_by_parts(db, 'SELECT "c"."id", "o"."name" FROM "customer" AS "c" JOIN "organisation" AS "o"'
                              ' ON "o"."id" = "c"."organisation_id" WHERE "c"."id" IN', sorted(set(ids))))


def customer_organisation(db: pw.Database, customer_id: int | None) -> str | None:
    if not customer_id:
        return None
    return customer_organisations(db, [customer_id]).get(customer_id)


def queue_ids(db: pw.Database, names: Sequence[str]) -> dict[str, int]:
    """queue name -> id, of the named queues."""
    return dict(_by_parts(db, 'SELECT "name", "id" FROM "queue" WHERE "name" IN', names))


def queue_names(db: pw.Database) -> dict[int, str]:
    """queue id -> name, of every queue."""
    return dict(sql.rows(db, 'SELECT "id", "name" FROM "queue"'))


def agent_addresses(db: pw.Database) -> dict[int, tuple[str, str | None]]:
    """agent id -> (login, email), of every agent."""
    return {aid: (login, email) for aid, login, email in sql.rows(db, 'SELECT "id", "login", "email" FROM "agent"')}


# ---------------------------------------------------------------- routing


def mark_assigned(db: pw.Database, agent_id: int) -> None:
    """The agent was just given a ticket: last in the round-robin order."""
    sql.execute(db, 'UPDATE "agent" SET "last_assigned" = (SELECT COALESCE(MAX("last_assigned"), 0) + 1'
                ' FROM "agent") WHERE "id" = ?', (agent_id,))


def open_ticket_priorities(db: pw.Database, capacities: Sequence[tuple[int, int]]) -> list[tuple[int, str]]:
    """(agent id, priority) of each agent's open tickets, at most its capacity of them: one statement,
    one indexed (assignee, status) range per agent, however many tickets the busiest own."""
    parts, params = [], []
    states = sql.marks(len(OPEN_STATES))
    for agent_id, capacity in capacities:
        if capacity > 0:
            parts.append(f'SELECT "assignee_id", "priority" FROM (SELECT "assignee_id", "priority" FROM "ticket"'
                         f' WHERE "assignee_id" = ? AND "status" IN ({states}) LIMIT ?) AS "a{len(parts)}"')
            params += [agent_id, *OPEN_STATES, capacity]
    out: list[tuple[int, str]] = []
    per = 100  # SQLite joins at most 500 SELECTs with UNION ALL
    width = 2 + len(OPEN_STATES)
    for start in range(0, len(parts), per):
        out += sql.rows(db, " UNION ALL ".join(parts[start:start + per]), params[start * width:(start + per) * width])
    return out


# ---------------------------------------------------------------- SLA clocks


def sla_clocks(number: int, kinds: Sequence[str]) -> list[SlaClock]:
    """The ticket's clocks of these kinds. Plain SQL: read on every reply and status change."""
    return sql.model_rows(SlaClock, f'"ticket_id" = ? AND "kind" IN ({sql.marks(len(kinds))})', (number, *kinds))


def organisation_and_clock(db: pw.Database, customer_id: int | None, number: int, kind: str) -> tuple:
    """(the customer's organisation name, the id of the ticket's clock of `kind`), each or None, in one
    plain statement (every customer reply)."""
    return sql.one(db, 'SELECT (SELECT "o"."name" FROM "customer" AS "c" JOIN "organisation" AS "o"'
                       ' ON "o"."id" = "c"."organisation_id" WHERE "c"."id" = ?),'
                       ' (SELECT "id" FROM "sla_clock" WHERE "ticket_id" = ? AND "kind" = ?)',
                   (customer_id, number, kind))


# Constants written into the text, not bound: SQLite matches an expression index only to the same
# expression, and a parameter is not the same. The queue sorted by due puts tickets with no running
# clock last either way: the empty due reads as the end of time ascending, the start of time descending.
_DUE_LAST = "'9999-12-31 23:59:59'"
_DUE_FIRST = "'0001-01-01 00:00:00'"

# The nearest running due and at-risk times of each ticket, as `ticket.sla_due_at` / `sla_risk_at` hold them.
_NEAREST = ('(SELECT MIN("{col}") FROM "sla_clock" WHERE "sla_clock"."ticket_id" = "ticket"."number"'
            ' AND "sla_clock"."state" = \'running\')')
_DUE_NOW, _RISK_NOW = _NEAREST.format(col="due_at"), _NEAREST.format(col="risk_at")
# Only rows whose times change are written (a reply usually changes none): on PostgreSQL each write is a
# new row version in every index of the ticket table, since these columns are indexed. (COALESCE to the
# start of time: no running clock, where the comparison must see NULL = NULL.)
_REFRESH_SLA_TIMES = (f'UPDATE "ticket" SET "sla_due_at" = {_DUE_NOW}, "sla_risk_at" = {_RISK_NOW}'
                      f' WHERE (COALESCE("sla_due_at", {_DUE_FIRST}) <> COALESCE({_DUE_NOW}, {_DUE_FIRST})'
                      f' OR COALESCE("sla_risk_at", {_DUE_FIRST}) <> COALESCE({_RISK_NOW}, {_DUE_FIRST})) AND "number" IN')
_REFRESHED = ' RETURNING "number"'

# Every ticket at once (migration 0019): one pass over the running clocks, grouped, instead of two
# lookups per ticket. UPDATE ... FROM: SQLite 3.33+ and PostgreSQL.
FILL_SLA_TIMES = ('UPDATE "ticket" SET "sla_due_at" = "c"."due", "sla_risk_at" = "c"."risk"'
                  ' FROM (SELECT "ticket_id", MIN("due_at") AS "due", MIN("risk_at") AS "risk" FROM "sla_clock"'
                  ' WHERE "state" = \'running\' GROUP BY "ticket_id") AS "c" WHERE "ticket"."number" = "c"."ticket_id"')


def refresh_sla_times(db: pw.Database, numbers: Sequence[int]) -> list[int]:
    """Set `sla_due_at` / `sla_risk_at` of these tickets from their running clocks, as they are now: one
    UPDATE per CHUNK tickets (no version bump: derived columns, no one's edit is overwritten). Returns
    the tickets whose times changed (only those are written)."""
    return [n for (n,) in _by_parts(db, _REFRESH_SLA_TIMES, sorted(set(numbers)), tail=_REFRESHED)]


DUE_SORT_ASC = f'COALESCE("sla_due_at", {_DUE_LAST})'  # the expressions of migration 0019's indexes
DUE_SORT_DESC = f'COALESCE("sla_due_at", {_DUE_FIRST})'


def due_sort_key(descending: bool = False) -> pw.Node:
    """A ticket's nearest running due time as a sort key, none last in either direction (each direction
    an index of migration 0019, with the number for ties)."""
    # coerce(False): the key is read and sent back as the backend has it (as page keys are), not as a datetime
    return pw.fn.COALESCE(Ticket.sla_due_at, pw.SQL(_DUE_FIRST if descending else _DUE_LAST)).coerce(False)


def past_due(now) -> pw.Node:
    """Tickets with a running clock past its due time (the ascending due index's range; never NULL)."""
    return due_sort_key() < now


def past_risk(now) -> pw.Node:
    """Tickets with a running clock past its at-risk time (False, never NULL, for a ticket with none, so
    the condition can be negated)."""
    return Ticket.sla_risk_at.is_null(False) & (Ticket.sla_risk_at <= now)


def past_risk_not_due(now) -> pw.Node:
    """Tickets with a running clock past its at-risk time and none past its due time: those at risk and
    not (yet) breached, read from one range of migration 0019's (risk, due) index, so the tickets long
    breached (past their at-risk time too) are passed over in the index, not read."""
    return (Ticket.sla_risk_at <= now) & (Ticket.sla_due_at >= now)


def stored_due_times(db: pw.Database, numbers: Sequence[int]) -> list[tuple[int, Any]]:
    """(ticket, its nearest running due time as stored on the row) of these tickets that have one (as
    the backend returns them): a primary-key read, not a pass over their clocks."""
    return _by_parts(db, 'SELECT "number", "sla_due_at" FROM "ticket" WHERE "sla_due_at" IS NOT NULL'
                         ' AND "number" IN', sorted(set(numbers)))


_RETURNING = ' RETURNING "id", "ticket_id", "kind", "policy"'
# The sweep's claims: predicates that match the partial indexes of migration 0012 (only unfired clocks).
_CLAIM_AT_RISK = ('UPDATE "sla_clock" SET "at_risk_fired_at" = ? WHERE "state" = \'running\''
                  ' AND "at_risk_fired_at" IS NULL AND "risk_at" <= ?' + _RETURNING)
# A clock found breached before anyone saw it at risk was at risk too.
_CLAIM_BREACHED = ('UPDATE "sla_clock" SET "breached_fired_at" = ?, "at_risk_fired_at" = COALESCE("at_risk_fired_at", ?)'
                   ' WHERE "state" = \'running\' AND "breached_fired_at" IS NULL AND "due_at" <= ?' + _RETURNING)
# A clock paused or stopped after its target passed, before a sweep saw it running past it.
_CLAIM_OVER = ('UPDATE "sla_clock" SET "breached_fired_at" = ?, "at_risk_fired_at" = COALESCE("at_risk_fired_at", ?)'
               ' WHERE "state" <> \'running\' AND "breached_fired_at" IS NULL'
               ' AND "used_seconds" > "target_minutes" * 60' + _RETURNING)


def claim_at_risk(db: pw.Database, now) -> list[tuple]:
    """Mark every running clock past its at-risk time and not yet marked; returns (id, ticket, kind,
    policy) of each. One UPDATE ... RETURNING: overlapping sweeps each claim a crossing once."""
    return sql.rows(db, _CLAIM_AT_RISK, [now, now])


def claim_breached(db: pw.Database, now) -> list[tuple]:
    """`claim_at_risk` for clocks past their target: running past due, or stopped/paused over it."""
    return sql.rows(db, _CLAIM_BREACHED, [now, now, now]) + sql.rows(db, _CLAIM_OVER, [now, now])


# Clocks whose due time has passed (or paused or stopped over their target) but that no sweep has
# marked yet: the sweep's own predicates (the claims above), which the partial indexes of 0012 serve.
_DUE_UNMARKED = ('(SELECT "ticket_id" FROM "sla_clock" WHERE "state" = \'running\' AND "breached_fired_at" IS NULL'
                 ' AND "due_at" < ?)')
_OVER_UNMARKED = ('(SELECT "ticket_id" FROM "sla_clock" WHERE "state" <> \'running\' AND "breached_fired_at" IS NULL'
                  ' AND "used_seconds" > "target_minutes" * 60)')


def tickets_past_due_unmarked(db: pw.Database, now) -> list[pw.SQL]:
    """Subqueries of the tickets with a clock past its target that no sweep has marked yet."""
    return [pw.SQL(sql.compiled(db, _DUE_UNMARKED), [now]), pw.SQL(_OVER_UNMARKED)]


def over_target_unmarked(db: pw.Database) -> pw.Node:
    """Tickets with a paused or stopped clock over its target no sweep has marked yet (the partial index
    of migration 0012: a handful between two sweeps). PostgreSQL: `number = ANY(ARRAY(subquery))`, a
    lookup of each number the subquery finds, which can be one arm of an index OR; `IN (subquery)` there
    is a filter tested on every row, and `sla:breached` read the whole table."""
    if is_postgres(db):
        found = pw.NodeList((pw.fn.ARRAY(pw.SQL(_OVER_UNMARKED)),), parens=True)
        return pw.NodeList((Ticket.number, pw.SQL("= ANY"), found))
    return Ticket.number.in_(pw.SQL(_OVER_UNMARKED))


# ---------------------------------------------------------------- automation


def claim_rule_run(db: pw.Database, rule: str, number: int, anchor, now) -> bool:
    """Claim a time rule's firing on a ticket for this stretch in its status; False: already claimed."""
    return bool(sql.rows(db, 'INSERT INTO "rule_run" ("rule", "ticket_id", "anchor", "fired_at") VALUES (?, ?, ?, ?)'
                             ' ON CONFLICT DO NOTHING RETURNING "id"', (rule, number, anchor, now)))


def commit_without_flush(db: pw.Database) -> None:
    """PostgreSQL: this transaction's commit does not wait for its flush to disk (a crash may lose it
    whole, never half of it)."""
    sql.execute(db, "SET LOCAL synchronous_commit TO OFF")


# ---------------------------------------------------------------- mail


def thread_message_ids(db: pw.Database, number: int) -> tuple[list[str], list[str]]:
    """The Message-IDs a mail on the ticket refers to: the customer's first mail (a list of at most one)
    and the conversation's latest nine, oldest first."""
    first = [m for (m,) in sql.rows(
        db, 'SELECT "message_id" FROM "mail_message" WHERE "ticket_number" = ? AND "outcome" = ?'
            ' AND "message_id" IS NOT NULL ORDER BY "id" LIMIT 1', (number, "new_ticket"))]
    latest = [m for (m,) in reversed(sql.rows(
        db, 'SELECT "message_id" FROM "conversation_entry" WHERE "ticket_id" = ? AND "message_id" IS NOT NULL'
            ' AND "kind" <> ? ORDER BY "id" DESC LIMIT 9', (number, "note")))]
    return first, latest


def undeliverable_until(db: pw.Database, address: str):
    """Until when mail to this (lower-cased) address is held back after a bounce, or None."""
    row = sql.one(db, 'SELECT "until" FROM "undeliverable_address" WHERE "email" = ? LIMIT 1', (address,))
    return UndeliverableAddress.until.python_value(row[0]) if row and row[0] is not None else None


def auto_mail_state(db: pw.Database, address: str, since) -> tuple:
    """(undeliverable until or None, automatic mails to the address since `since`), in one statement
    (outbox (to_addr, created_at) is indexed, 0011)."""
    until, recent = sql.one(db, 'SELECT (SELECT "until" FROM "undeliverable_address" WHERE "email" = ? LIMIT 1),'
                                ' (SELECT COUNT(*) FROM "outbox" WHERE "to_addr" = ? AND "auto" = ? AND "created_at" > ?)',
                            (address, address, True, since))
    return (UndeliverableAddress.until.python_value(until) if until is not None else None), recent


# ---------------------------------------------------------------- restore and export


def move_sequences_past_rows(db: pw.Database) -> None:
    """PostgreSQL, after rows were written with their numbers and ids (a restore): each sequence moves
    past the highest, so the next ticket is the highest restored number + 1 (as SQLite does by itself)."""
    for table, column in (("ticket", "number"), ("conversation_entry", "id"), ("attachment", "id"),
                          ("outbox", "id")):
        db.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                       f'(SELECT MAX("{column}") FROM "{table}"))')


def build_without_journal(execute) -> None:
    """A SQLite file being built (renamed into place when complete): no journal, no fsync per batch.
    `execute` runs a statement on it (e.g. a sqlite-utils Database's)."""
    execute("PRAGMA journal_mode = OFF")
    execute("PRAGMA synchronous = OFF")
