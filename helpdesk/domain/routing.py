"""Routing: choose the agent a ticket goes to.

Candidates are active agents who have every skill the ticket's type needs, work its queue (when the
agent lists queues) and are below capacity; the least loaded wins (open tickets weighted by
priority), ties go to whoever was given a ticket longest ago (round-robin).
"""

from __future__ import annotations

from helpdesk.core.errors import IllegalTransition
from helpdesk.core.views import TicketView
from helpdesk.domain import audit, lifecycle, tickets
from helpdesk.domain.eligibility import (  # noqa: F401 - part of this module's interface
    PRIORITY_WEIGHT, _eligible, _routing_order, candidates, ineligible, mark_assigned, weighted_loads,
)
from helpdesk.store.models import Queue, Ticket


def auto_assign(desk, number: int, *, expected_version: int | None = None) -> TicketView:
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        pool, loads = _eligible(desk, ticket)
        pool = [a for a in pool if a.id != ticket.assignee_id]
        if not pool:
            raise IllegalTransition(f"no agent can take ticket #{number} now (skills, queue or capacity)")
        first = min(pool, key=_routing_order(loads))  # the first of `candidates`
        return lifecycle.assign(desk, number, first.login, expected_version=expected_version, force=True)


def route_new(desk, numbers: list[int]) -> None:
    """New tickets in a queue that auto-assigns go to an agent (same transaction); one nobody can take
    now waits in its queue, and the trail says why."""
    auto_queues = sorted(q.name for q in desk.config.queues if q.auto_assign)
    if not numbers or not auto_queues:
        return
    queued = (Ticket.select(Ticket.number).join(Queue)
              .where(Ticket.number.in_(numbers) & Queue.name.in_(auto_queues)).tuples())
    for (number,) in queued:
        try:
            auto_assign(desk, number)
        except IllegalTransition as exc:  # nobody can take it now: it waits in the queue
            audit.record(desk, number, "routing_skipped", reason=str(exc))
