"""The dashboard's aggregate statements (`helpdesk report summary`, the TUI's dashboard): counts the
database makes from its indexes, never a row per ticket handed to Python, so a summary costs about the
same on a young desk and on a million tickets.

Each count reads one index range: created and resolved per day from `ticket (created_at)` and
`ticket (resolved_at)`; an agent's open tickets from `ticket (assignee_id, status)`; stopped clocks
from `sla_clock (stopped_at, ...)` WHERE state = 'stopped' (migration 0017)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee as pw

from helpdesk.core.vocabulary import OPEN_STATES
from helpdesk.store import queries, sql

UNION_PARTS = 100  # SELECTs joined by one UNION ALL (SQLite allows 500)


def _counts(db: pw.Database, part: str, params: Sequence[Sequence]) -> list[tuple]:
    """`part` (a SELECT of a few values) run once per parameter list, in UNION ALL statements of
    UNION_PARTS; the rows in the order of `params`. Each part carries its position: UNION ALL keeps
    no order of its own."""
    out: list[tuple] = []
    for start in range(0, len(params), UNION_PARTS):
        chunk = params[start:start + UNION_PARTS]
        text = " UNION ALL ".join(f"SELECT {start + i} AS p, c.* FROM ({part}) AS c" for i in range(len(chunk)))
        found = sql.rows(db, f"SELECT * FROM ({text}) AS u ORDER BY p", [v for p in chunk for v in p])
        out += [row[1:] for row in found]
    return out


def created_per_day(db: pw.Database, bounds: Sequence[dt.datetime]) -> list[int]:
    """Tickets created in each [bounds[i], bounds[i+1]) (naive UTC), one count per day."""
    return [n for (n,) in _counts(db, 'SELECT COUNT(*) FROM "ticket" WHERE "created_at" >= ? AND "created_at" < ?',
                                  list(zip(bounds, bounds[1:])))]


def resolved_per_day(db: pw.Database, bounds: Sequence[dt.datetime]) -> list[int]:
    """Tickets whose resolution time (`resolved_at`: resolved, then maybe closed; cleared on reopen)
    falls in each [bounds[i], bounds[i+1])."""
    return [n for (n,) in _counts(db, 'SELECT COUNT(*) FROM "ticket" WHERE "resolved_at" >= ? AND "resolved_at" < ?',
                                  list(zip(bounds, bounds[1:])))]


def open_per_agent(db: pw.Database, agent_ids: Sequence[int]) -> dict[int, int]:
    """agent id -> open tickets assigned to it (one seek of the (assignee_id, status) index each)."""
    states = sql.marks(len(OPEN_STATES))
    part = f'SELECT COUNT(*) FROM "ticket" WHERE "assignee_id" = ? AND "status" IN ({states})'
    ids = list(agent_ids)
    return dict(zip(ids, (n for (n,) in _counts(db, part, [(aid, *OPEN_STATES) for aid in ids]))))


def open_unassigned(db: pw.Database) -> int:
    """Open tickets nobody is assigned."""
    return sql.one(db, f'SELECT COUNT(*) FROM "ticket" WHERE "assignee_id" IS NULL AND "status" IN '
                       f"({sql.marks(len(OPEN_STATES))})", OPEN_STATES)[0]


def agents(db: pw.Database) -> list[tuple[int, str, str, int, bool]]:
    """(id, login, name, capacity, active) of every agent, by login."""
    return [(aid, login, name, capacity, bool(active)) for aid, login, name, capacity, active in sql.rows(
        db, 'SELECT "id", "login", "name", "capacity", "active" FROM "agent" ORDER BY "login"')]


def stopped_clocks(db: pw.Database, since: dt.datetime, until: dt.datetime) -> list[tuple[str, int, int]]:
    """(clock kind, met, missed) of the SLA clocks that stopped in [since, until): met when the business
    time used is within the target. Read from the covering index of stopped clocks (0017)."""
    return sql.rows(db, 'SELECT "kind", SUM(CASE WHEN "used_seconds" <= "target_minutes" * 60 THEN 1 ELSE 0 END),'
                        ' SUM(CASE WHEN "used_seconds" > "target_minutes" * 60 THEN 1 ELSE 0 END)'
                        ' FROM "sla_clock" WHERE "state" = \'stopped\' AND "stopped_at" >= ? AND "stopped_at" < ?'
                        ' GROUP BY "kind"', (since, until))


# Constants written into the text, not bound: a planner uses a partial index only for a query whose WHERE
# names the index's own values.
OPEN_STATES_SQL = "(" + ", ".join(f"'{state}'" for state in OPEN_STATES) + ")"
OPEN_BREACHED = f"\"sla_state\" = 'breached' AND \"status\" IN {OPEN_STATES_SQL}"  # the partial index of 0017


def open_breached_per_queue(db: pw.Database, now: dt.datetime) -> dict[int | None, int]:
    """queue id (None: no queue) -> open tickets breached: what `sla:breached status:open` finds. Two
    disjoint counts: those the sweep marked (the partial index of 0017), and those with a clock past its
    target no sweep has marked yet (the sweep's own predicates and partial indexes,
    `queries.tickets_past_due_unmarked`), each of those tickets then read by its number: a correlated
    subquery, so the planner cannot choose to read every open ticket instead (PostgreSQL guesses the
    unmarked clocks at a third of them all; there are a handful between two sweeps)."""
    counts: dict[int | None, int] = dict(sql.rows(
        db, f'SELECT "queue_id", COUNT(*) FROM "ticket" WHERE {OPEN_BREACHED} GROUP BY "queue_id"'))
    due, over = queries.tickets_past_due_unmarked(db, now)  # compiled for this database already
    # COALESCE(queue, 0): a ticket in no queue (ids start at 1); NULL: not open, or marked (counted above).
    queue_of = (f'(SELECT COALESCE("t"."queue_id", 0) FROM "ticket" AS "t" WHERE "t"."number" = "u"."ticket_id"'
                f" AND \"t\".\"status\" IN {OPEN_STATES_SQL} AND COALESCE(\"t\".\"sla_state\", '') <> 'breached')")
    text = (f'SELECT "q", COUNT(*) FROM (SELECT {queue_of} AS "q" FROM ({due.sql[1:-1]} UNION {over.sql[1:-1]})'
            ' AS "u") AS "b" WHERE "q" IS NOT NULL GROUP BY "q"')
    for queue_id, n in db.execute_sql(text, [*(due.params or ()), *(over.params or ())]).fetchall():
        queue_id = queue_id or None
        counts[queue_id] = counts.get(queue_id, 0) + n
    return counts
