"""Routing's choice: which agents may take a ticket, and in what order (`routing` hands it over).

Candidates are active agents who have every skill the ticket's type needs, work its queue (when the
agent lists queues) and are below capacity; the least loaded wins (open tickets weighted by
priority), ties go to whoever was given a ticket longest ago (round-robin).
"""

from __future__ import annotations

from peewee import fn

from helpdesk.core.vocabulary import OPEN_STATES
from helpdesk.domain import calendar
from helpdesk.store import queries
from helpdesk.store.models import Agent, Queue, Ticket


PRIORITY_WEIGHT = {"P0": 4, "P1": 3, "P2": 2, "P3": 1}


def weighted_loads(agent_id: int | None = None) -> dict[int, tuple[int, int]]:
    """agent id -> (weighted load, open tickets), of every agent or of one."""
    loads: dict[int, list[int]] = {}
    owner = Ticket.assignee.is_null(False) if agent_id is None else (Ticket.assignee == agent_id)
    query = (Ticket.select(Ticket.assignee, Ticket.priority, fn.COUNT(Ticket.number))
             .where(Ticket.status.in_(OPEN_STATES) & owner)
             .group_by(Ticket.assignee, Ticket.priority).tuples())
    for agent_id, priority, count in query:
        entry = loads.setdefault(agent_id, [0, 0])
        entry[0] += PRIORITY_WEIGHT.get(priority, 1) * count
        entry[1] += count
    return {k: (v[0], v[1]) for k, v in loads.items()}


def mark_assigned(agent_id: int) -> None:
    """The agent was just given a ticket: last in the round-robin order."""
    queries.mark_assigned(Agent._meta.database, agent_id)


class _Needs:
    """What a ticket asks of the agent who takes it (skills, queue, being on shift), worked out once
    for all the agents looked at."""

    def __init__(self, desk, ticket: Ticket):
        self.desk = desk
        self.ticket = ticket
        ttype = desk.config.type(ticket.type) if ticket.type else None
        self.skills = set(ttype.skills if ttype else ())
        self._queue: list[str | None] = []
        self._on_shift: dict[str, bool] = {}

    @property
    def queue(self) -> str | None:
        if not self._queue:
            self._queue.append(Queue.get_by_id(self.ticket.queue_id).name if self.ticket.queue_id else None)
        return self._queue[0]

    def unmet(self, agent: Agent) -> str | None:
        """Why the agent cannot take the ticket, capacity aside, or None."""
        if not agent.active:
            return f"agent '{agent.login}' is not active"
        missing = self.skills - set(agent.skills.split())
        if missing:
            return f"agent '{agent.login}' lacks the skill {', '.join(sorted(missing))} that {self.ticket.type} needs"
        queues = agent.queues.split()
        queue = self.queue
        if queue and queues and queue not in queues:
            return f"agent '{agent.login}' does not work queue {queue}"
        if agent.shift:
            if agent.shift not in self._on_shift:
                shift = calendar.of(self.desk.config.sla.calendar(agent.shift))
                self._on_shift[agent.shift] = shift.is_open(self.desk.now())
            if not self._on_shift[agent.shift]:
                return f"agent '{agent.login}' is off shift ({agent.shift})"
        return None


def ineligible(desk, ticket: Ticket, agent: Agent, loads: dict | None = None) -> str | None:
    """Why this agent cannot take this ticket now (skills, queue, shift, capacity), or None."""
    why = _Needs(desk, ticket).unmet(agent)
    if why:
        return why
    load = (loads if loads is not None else weighted_loads(agent.id)).get(agent.id, (0, 0))[1]
    if load >= agent.capacity:
        return f"agent '{agent.login}' is at capacity ({load}/{agent.capacity} open tickets)"
    return None


def _loads_below_capacity(agents: list[Agent]) -> dict[int, tuple[int, int]]:
    """`weighted_loads()` for these agents, reading at most `capacity` open tickets of each: exact for
    an agent below capacity; an agent at (or over) capacity shows `capacity` open tickets. One
    statement, one indexed (assignee, status) range per agent, however many tickets the busiest own."""
    loads: dict[int, list[int]] = {}
    for agent_id, priority in queries.open_ticket_priorities(Ticket._meta.database,
                                                             [(a.id, a.capacity) for a in agents]):
        entry = loads.setdefault(agent_id, [0, 0])
        entry[0] += PRIORITY_WEIGHT.get(priority, 1)
        entry[1] += 1
    return {k: (v[0], v[1]) for k, v in loads.items()}


def candidates(desk, ticket: Ticket) -> list[Agent]:
    """The agents who may take the ticket now, the one it goes to first (see the module's text).

    The same agents and order as checking `ineligible` for every active agent against
    `weighted_loads()`, with the ticket's needs worked out once and only the loads that decide read."""
    chosen, loads = _eligible(desk, ticket)
    chosen.sort(key=_routing_order(loads))
    return chosen


def _routing_order(loads: dict[int, tuple[int, int]]):
    """The sort key of candidates: least weighted load, then whoever was given a ticket longest ago."""
    return lambda a: (loads.get(a.id, (0, 0))[0], a.last_assigned, a.login)


def _eligible(desk, ticket: Ticket) -> tuple[list[Agent], dict[int, tuple[int, int]]]:
    """The agents who may take the ticket now (unordered) and their loads (see `candidates`)."""
    needs = _Needs(desk, ticket)
    fit = [a for a in Agent.select().where(Agent.active == True)  # noqa: E712
           if needs.unmet(a) is None]
    loads = _loads_below_capacity(fit)
    return [a for a in fit if loads.get(a.id, (0, 0))[1] < a.capacity], loads
