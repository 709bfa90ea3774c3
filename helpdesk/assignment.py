"""Routing: choose the agent a ticket goes to.

Candidates are active agents who have every skill the ticket's type needs, work its queue (when the
agent lists queues) and are below capacity; the least loaded wins (open tickets weighted by
priority), ties go to whoever was given a ticket longest ago (round-robin).
"""

from __future__ import annotations

from peewee import fn

from helpdesk import lifecycle, tickets
from helpdesk.errors import IllegalTransition
from helpdesk.store.models import OPEN_STATES, Agent, AuditEvent, Queue, Ticket
from helpdesk.views import TicketView

PRIORITY_WEIGHT = {"P0": 4, "P1": 3, "P2": 2, "P3": 1}


def weighted_loads() -> dict[int, tuple[int, int]]:
    """agent id -> (weighted load, open tickets)."""
    loads: dict[int, list[int]] = {}
    query = (Ticket.select(Ticket.assignee, Ticket.priority, fn.COUNT(Ticket.number))
             .where(Ticket.status.in_(OPEN_STATES) & Ticket.assignee.is_null(False))
             .group_by(Ticket.assignee, Ticket.priority).tuples())
    for agent_id, priority, count in query:
        entry = loads.setdefault(agent_id, [0, 0])
        entry[0] += PRIORITY_WEIGHT.get(priority, 1) * count
        entry[1] += count
    return {k: (v[0], v[1]) for k, v in loads.items()}


def last_assigned() -> dict[str, int]:
    """login -> id of the last assignment event naming that agent (0 if never): the round-robin order."""
    out: dict[str, int] = {}
    query = (AuditEvent.select(AuditEvent.id, AuditEvent.data)
             .where(AuditEvent.action.in_(["assigned", "transferred"]))
             .order_by(AuditEvent.id.desc()).limit(2000).tuples())
    import json

    for event_id, data in query:
        login = json.loads(data).get("to")
        if isinstance(login, str) and login not in out:
            out[login] = event_id
    return out


def candidates(desk, ticket: Ticket) -> list[Agent]:
    ttype = desk.config.type(ticket.type) if ticket.type else None
    needed = set(ttype.skills) if ttype else set()
    queue = Queue.get_by_id(ticket.queue_id).name if ticket.queue_id else None
    loads = weighted_loads()
    chosen = []
    for agent in Agent.select().where(Agent.active == True):  # noqa: E712
        skills = set(agent.skills.split())
        if not needed <= skills:
            continue
        queues = agent.queues.split()
        if queue and queues and queue not in queues:
            continue
        if loads.get(agent.id, (0, 0))[1] >= agent.capacity:
            continue
        chosen.append(agent)
    order = last_assigned()
    chosen.sort(key=lambda a: (loads.get(a.id, (0, 0))[0], order.get(a.login, 0), a.login))
    return chosen


def auto_assign(desk, number: int, *, expected_version: int | None = None) -> TicketView:
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        pool = [a for a in candidates(desk, ticket) if a.id != ticket.assignee_id]
        if not pool:
            raise IllegalTransition(f"no agent can take ticket #{number} now (skills, queue or capacity)")
        return lifecycle.assign(desk, number, pool[0].login, expected_version=expected_version)
