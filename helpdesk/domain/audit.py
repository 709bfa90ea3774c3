"""The audit trail: every change to a ticket is an event, appended in the same transaction."""

from __future__ import annotations

import json
from typing import Any

from helpdesk.core.views import EventView
from helpdesk.store import sql
from helpdesk.store.bulk import insert_rows
from helpdesk.store.models import AuditEvent


def _json_default(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def record(desk, ticket: int | None, action: str, **data: Any) -> None:
    # Plain SQL: one of the commonest writes (Peewee composing the INSERT cost 10x its execution).
    sql.insert(desk.db, "audit_event", ("ticket_number", "actor", "action", "data", "created_at"),
               (ticket, desk.actor, action, encode(data), desk.now()))


def record_many(desk, events: list[tuple[int | None, str, dict]]) -> None:
    record_encoded(desk, [(t, a, encode(d)) for t, a, d in events])


def encode(data: dict) -> str:
    """An event's data as stored (JSON, keys sorted)."""
    return json.dumps(data, default=_json_default, sort_keys=True)


def record_encoded(desk, events: list[tuple[int | None, str, str]]) -> None:
    """Events whose data is already `encode`d (a sweep encodes each shape of data once), in bulk."""
    now = desk.now()
    insert_rows(AuditEvent, ("ticket", "actor", "action", "data", "created_at"),
                [(t, desk.actor, a, text, now) for t, a, text in events])


def history(desk, number: int, *, newest: int | None = None) -> list[EventView]:
    """A ticket's events, oldest first; `newest`: only the last N."""
    query = AuditEvent.select().where(AuditEvent.ticket == number)
    if newest is None:
        rows = list(query.order_by(AuditEvent.id))
    else:
        rows = list(query.order_by(AuditEvent.id.desc()).limit(max(0, newest)))[::-1]
    return [EventView(id=e.id, ticket=e.ticket, actor=e.actor, action=e.action, data=json.loads(e.data),
                      created_at=e.created_at) for e in rows]
