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


def ineligible(desk, ticket: Ticket, agent: Agent, loads: dict | None = None) -> str | None:
    """Why this agent cannot take this ticket now (skills, queue, shift, capacity), or None."""
    if not agent.active:
        return f"agent '{agent.login}' is not active"
    ttype = desk.config.type(ticket.type) if ticket.type else None
    missing = set(ttype.skills if ttype else ()) - set(agent.skills.split())
    if missing:
        return f"agent '{agent.login}' lacks the skill {', '.join(sorted(missing))} that {ticket.type} needs"
    queues = agent.queues.split()
    queue = Queue.get_by_id(ticket.queue_id).name if ticket.queue_id else None
    if queue and queues and queue not in queues:
        return f"agent '{agent.login}' does not work queue {queue}"
    if agent.shift:
        from helpdesk import sla

        if not sla.settings(desk).calendar(agent.shift).is_open(desk.now()):
            return f"agent '{agent.login}' is off shift ({agent.shift})"
    load = (loads if loads is not None else weighted_loads()).get(agent.id, (0, 0))[1]
    if load >= agent.capacity:
        return f"agent '{agent.login}' is at capacity ({load}/{agent.capacity} open tickets)"
    return None


def candidates(desk, ticket: Ticket) -> list[Agent]:
    loads = weighted_loads()
    chosen = [a for a in Agent.select().where(Agent.active == True)  # noqa: E712
              if ineligible(desk, ticket, a, loads) is None]
    order = last_assigned()
    chosen.sort(key=lambda a: (loads.get(a.id, (0, 0))[0], order.get(a.login, 0), a.login))
    return chosen


def auto_assign(desk, number: int, *, expected_version: int | None = None) -> TicketView:
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        pool = [a for a in candidates(desk, ticket) if a.id != ticket.assignee_id]
        if not pool:
            raise IllegalTransition(f"no agent can take ticket #{number} now (skills, queue or capacity)")
        return lifecycle.assign(desk, number, pool[0].login, expected_version=expected_version, force=True)
