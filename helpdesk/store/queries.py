"""Named statements: every SQL text the layers above need lives here (or in the models), so the domain
composes no SQL of its own. Plain SQL (see `sql.py`) where a statement is on a hot path."""

from __future__ import annotations

from helpdesk.core.errors import NotFound
from helpdesk.store import sql
from helpdesk.store.models import Ticket


def ticket_row(number: int) -> Ticket:
    """The ticket row (every write starts here: plain SQL); a missing one is NotFound."""
    ticket = sql.get_row(Ticket, number)
    if ticket is None:
        raise NotFound(f"ticket #{number} not found")
    return ticket
