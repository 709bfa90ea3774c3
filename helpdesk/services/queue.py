"""The triage queue's reads (the TUI's `RowSource` over the desk): one page of a query's tickets at a
place in a sort order (keyset: after or before a row's key, or at an offset from either end), each with
its nearest SLA due time, and how many match. Read only: no unit of work."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from helpdesk.core.views import TicketView
from helpdesk.domain import sla, tickets

SORT_KEYS = tickets.SORT_KEYS  # what `sort` may name (`-KEY`: descending); None: newest first


@dataclass
class QueuePage:
    """Tickets in order (without their extension fields: the queue shows none), each one's key (its place in the order: pass it back as `after` / `before` to
    read the next / previous page), and each one's nearest running SLA due time (absent: none)."""

    tickets: list[TicketView]
    keys: list[tuple] = field(default_factory=list)
    due: dict[int, dt.datetime] = field(default_factory=dict)


def page(desk, query: str = "", *, sort: str | None = None, limit: int = 100, after: tuple | None = None,
         before: tuple | None = None, offset: int = 0, from_end: bool = False) -> QueuePage:
    """Up to `limit` tickets matching the query in `sort` order: just after the key `after`, just before
    `before`, or `offset` rows from the first (`from_end`: from the last) row. A bad query or sort
    raises QueryError / UsageError."""
    found = tickets.page_tickets(desk, query, sort=sort, limit=limit, after=after, before=before,
                                 offset=offset, from_end=from_end, with_fields=False)
    numbers = [t.number for t in found.tickets]
    return QueuePage(found.tickets, found.keys, sla.next_due(desk, numbers) if numbers else {})


def count(desk, query: str = "") -> int:
    """How many tickets match the query."""
    return tickets.count_tickets(desk, query)


def check_query(desk, query: str) -> None:
    """Raise QueryError (with its message) when the query is not one the query language reads."""
    tickets.count_tickets(desk, query, cap=0)
