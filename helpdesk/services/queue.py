"""The triage queue's reads (the TUI's `RowSource` over the desk): one page of a query's tickets at a
position in a sort order, each with its nearest SLA due time, and how many match. Read only: no unit
of work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from helpdesk.core.views import TicketView
from helpdesk.domain import sla, tickets

SORT_KEYS = tickets.SORT_KEYS  # what `sort` may name (`-KEY`: descending); None: newest first


@dataclass
class QueuePage:
    """Tickets in order, and each one's nearest running SLA due time (tickets without one absent)."""

    tickets: list[TicketView]
    due: dict[int, dt.datetime] = field(default_factory=dict)


def page(desk, query: str = "", *, sort: str | None = None, offset: int = 0, limit: int = 100) -> QueuePage:
    """Up to `limit` tickets matching the query, from position `offset` in `sort` order (a bad query or
    sort raises QueryError / UsageError)."""
    found = tickets.list_tickets(desk, query, limit=limit, offset=max(0, offset), sort=sort)
    return QueuePage(found, sla.next_due(desk, [t.number for t in found]) if found else {})


def count(desk, query: str = "") -> int:
    """How many tickets match the query."""
    return tickets.count_tickets(desk, query)


def check_query(desk, query: str) -> None:
    """Raise QueryError (with its message) when the query is not one the query language reads."""
    tickets.count_tickets(desk, query, cap=0)
