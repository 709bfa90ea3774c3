"""Agents: the people working the desk, with skills, queues and capacity (used by routing)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from helpdesk import audit, limits
from helpdesk.errors import InvalidInput, NotFound
from helpdesk.store.models import OPEN_STATES, Agent, Ticket


@dataclass
class AgentView:
    login: str
    name: str
    email: str | None
    is_admin: bool
    skills: list[str]
    queues: list[str]
    capacity: int
    active: bool
    shift: str | None = None
    open_tickets: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _words(values) -> str:
    if values is None:
        return ""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    return " ".join(sorted({v.strip().lower() for v in values if v.strip()}))


def view(agent: Agent, open_tickets: int = 0) -> AgentView:
    return AgentView(login=agent.login, name=agent.name, email=agent.email, is_admin=agent.is_admin,
                     skills=agent.skills.split(), queues=agent.queues.split(), capacity=agent.capacity,
                     active=agent.active, shift=agent.shift, open_tickets=open_tickets)


def _check_person(name: str | None, email: str | None) -> None:
    limits.check_text("agent's name", name, limits.PERSON_NAME_MAX)
    limits.check_text("agent's email", email, limits.EMAIL_MAX)


def _check_shift(desk, shift: str | None) -> None:
    if shift:
        from helpdesk import sla

        if shift not in sla.settings(desk).calendars:
            raise InvalidInput(f"unknown shift calendar '{shift}' (define [calendar.{shift}] in the config)")


def add(desk, login: str, *, name: str = "", email: str | None = None, skills=None, queues=None,
        capacity: int = 20, admin: bool = False, shift: str | None = None) -> AgentView:
    login = login.strip()
    if not login or " " in login or login in ("me", "none"):
        raise InvalidInput(f"'{login}' cannot be an agent login")
    _check_person(name, email)
    if capacity < 0:
        raise InvalidInput("capacity cannot be negative")
    if capacity >= 2**31:
        raise InvalidInput(f"capacity {capacity} is too large")
    for q in _words(queues).split():
        if desk.config.queue(q) is None:
            raise InvalidInput(f"unknown queue '{q}'")
    with desk.db.atomic():
        if Agent.select().where(Agent.login == login).exists():
            raise InvalidInput(f"agent '{login}' already exists")
        _check_shift(desk, shift)
        agent = Agent.create(login=login, name=name, email=email, skills=_words(skills), queues=_words(queues),
                             capacity=capacity, is_admin=admin, shift=shift or None, created_at=desk.now())
        audit.record(desk, None, "agent_added", login=login, admin=admin)
    return view(agent)


def ensure(desk, login: str, *, admin: bool = False, name: str = "") -> AgentView:
    """The agent of that login, registered if new (init registers the OS login as the first admin)."""
    agent = Agent.get_or_none(Agent.login == login)
    if agent is None:
        return add(desk, login, admin=admin, name=name)
    return view(agent)


def update(desk, login: str, *, name=None, email=None, skills=None, queues=None, capacity=None,
           active=None, shift=None) -> AgentView:
    with desk.db.atomic():
        agent = Agent.get_or_none(Agent.login == login)
        if agent is None:
            raise NotFound(f"agent '{login}' not found")
        changes = {}
        _check_person(name, email)
        if name is not None:
            changes["name"] = name
        if email is not None:
            changes["email"] = email
        if skills is not None:
            changes["skills"] = _words(skills)
        if queues is not None:
            for q in _words(queues).split():
                if desk.config.queue(q) is None:
                    raise InvalidInput(f"unknown queue '{q}'")
            changes["queues"] = _words(queues)
        if capacity is not None:
            if capacity < 0:
                raise InvalidInput("capacity cannot be negative")
            if capacity >= 2**31:
                raise InvalidInput(f"capacity {capacity} is too large")
            changes["capacity"] = capacity
        if active is not None:
            changes["active"] = active
        if shift is not None:
            _check_shift(desk, shift)
            changes["shift"] = shift or None  # "" clears it: always on shift
        if changes:
            Agent.update(**changes).where(Agent.id == agent.id).execute()
            audit.record(desk, None, "agent_updated", login=login, **changes)
    return get(desk, login)


def open_counts() -> dict[int, int]:
    from peewee import fn

    query = (Ticket.select(Ticket.assignee, fn.COUNT(Ticket.number))
             .where(Ticket.status.in_(OPEN_STATES) & Ticket.assignee.is_null(False))
             .group_by(Ticket.assignee).tuples())
    return dict(query)


def get(desk, login: str) -> AgentView:
    name = desk.actor if login == "me" else login
    agent = Agent.get_or_none(Agent.login == name)
    if agent is None:
        raise NotFound(f"agent '{name}' not found")
    return view(agent, open_counts().get(agent.id, 0))


def list_agents(desk) -> list[AgentView]:
    counts = open_counts()
    return [view(a, counts.get(a.id, 0)) for a in Agent.select().order_by(Agent.login)]
