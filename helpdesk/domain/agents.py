"""Agents: the people working the desk, with a role, skills, queues and capacity (used by routing), and
who may do what (`may`).

Only registered, active agents act. The desk's own machinery (the daemon, mail fetch and send, the SLA
sweep, automation rules) acts as the system, under a name no agent login can have (`system:daemon`,
`rule:NAME`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from peewee import fn

from helpdesk.core import limits
from helpdesk.core.addresses import is_address
from helpdesk.core.errors import InvalidInput, NotFound, PermissionDenied
from helpdesk.core.sanitise import inert
from helpdesk.core.vocabulary import OPEN_STATES, resolve_login
from helpdesk.domain import audit
from helpdesk.store.models import Agent, Ticket

ROLES = ("admin", "lead", "agent")
SYSTEM = "system"  # the role of the desk's own machinery
ACTIONS = {"work": "work on tickets", "manage_agents": "add, change or deactivate agents"}
# What each role may do. A lead works like an agent today; per-queue rights (a lead managing the queues
# they lead) will be decided in `may` from its `queue` argument, without new call sites.
GRANTS = {
    "admin": frozenset({"work", "manage_agents"}),
    "lead": frozenset({"work"}),
    "agent": frozenset({"work"}),
    SYSTEM: frozenset(ACTIONS),
}


@dataclass(frozen=True)
class Actor:
    login: str
    role: str  # one of ROLES, or SYSTEM
    queues: tuple[str, ...] = ()


def is_system(login: str) -> bool:
    """Whether a name is the desk's own machinery ('system:daemon', 'rule:NAME'): ':' is in no login."""
    return login.startswith(("system:", "rule:"))


def may(actor: Actor, action: str, queue: str | None = None) -> bool:
    """Whether `actor` may do `action` (one of ACTIONS), in `queue` when the action concerns one."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return action in GRANTS.get(actor.role, frozenset())


def acting(desk) -> Actor:
    """Who is acting on `desk`: the system, or a registered, active agent (else PermissionDenied)."""
    login = desk.actor
    if is_system(login):
        return Actor(login, SYSTEM)
    agent = Agent.get_or_none(Agent.login == login) if login else None
    if agent is None:
        raise PermissionDenied(_not_an_agent(login, getattr(desk, "actor_source", "")))
    if not agent.active:
        raise PermissionDenied(f"agent '{inert(login, layout=False)}' is inactive: an admin can reactivate it "
                               f"(helpdesk agent update {inert(login, layout=False)} --active)")
    return Actor(agent.login, agent.role, tuple(agent.queues.split()))


def require(desk, action: str, queue: str | None = None) -> Actor:
    """The acting agent, if it may do `action`; else PermissionDenied naming what it lacks."""
    actor = acting(desk)
    if not may(actor, action, queue):
        allowed = " or ".join(_a(role) for role in ROLES if action in GRANTS[role])
        raise PermissionDenied(f"'{actor.login}' is {_a(actor.role)}: only {allowed} may {ACTIONS[action]}")
    return actor


def _a(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _not_an_agent(login: str, source: str) -> str:
    if not login:
        return "cannot tell who is acting: set HELPDESK_AGENT to your agent login"
    shown = inert(login, layout=False)
    whence = f" ({source})" if source else ""
    try:
        limits.check_login(login)
    except InvalidInput:
        return f"'{shown}'{whence} cannot be an agent login: set HELPDESK_AGENT to your agent login"
    if not Agent.select().where((Agent.role == "admin") & Agent.active).exists():
        return (f"'{shown}'{whence} is not an agent of this desk, which has no admin yet: `helpdesk init` "
                "registers you as its admin")
    return (f"'{shown}'{whence} is not an agent of this desk: an admin can add it (helpdesk agent add {shown}), "
            "or set HELPDESK_AGENT to your agent login")


@dataclass
class AgentView:
    login: str
    name: str
    email: str | None
    is_admin: bool
    role: str
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
    return AgentView(login=agent.login, name=agent.name, email=agent.email, is_admin=agent.role == "admin",
                     role=agent.role, skills=agent.skills.split(), queues=agent.queues.split(),
                     capacity=agent.capacity, active=agent.active, shift=agent.shift, open_tickets=open_tickets)


def _check_person(name: str | None, email: str | None) -> None:
    limits.check_text("agent's name", name, limits.PERSON_NAME_MAX)
    limits.check_text("agent's email", email, limits.EMAIL_MAX)
    if email and not is_address(email):  # notifications are mailed to it
        raise InvalidInput(f"agent's email {limits.shown(email)} is not an email address")


def _check_shift(desk, shift: str | None) -> None:
    if shift:
        if shift not in desk.config.sla.calendars:
            raise InvalidInput(f"unknown shift calendar '{shift}' (define [calendar.{shift}] in the config)")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role '{inert(role, layout=False)}' (roles: {', '.join(ROLES)})")


def _check_capacity(capacity: int) -> None:
    if capacity < 0:
        raise InvalidInput("capacity cannot be negative")
    if capacity >= 2**31:
        raise InvalidInput(f"capacity {capacity} is too large")


def _check_queues(desk, queues) -> str:
    words = _words(queues)
    for q in words.split():
        if desk.config.queue(q) is None:
            raise InvalidInput(f"unknown queue '{inert(q, layout=False)}'")
    return words


def add(desk, login: str, *, name: str = "", email: str | None = None, skills=None, queues=None,
        capacity: int = 20, role: str = "agent", shift: str | None = None) -> AgentView:
    """Register an agent (admins only)."""
    require(desk, "manage_agents")
    limits.check_login(login)
    _check_role(role)
    _check_person(name, email)
    _check_capacity(capacity)
    queue_words = _check_queues(desk, queues)
    with desk.db.atomic():
        if Agent.select().where(Agent.login == login).exists():
            raise InvalidInput(f"agent '{login}' already exists")
        _check_shift(desk, shift)
        agent = Agent.create(login=login, name=name, email=email, skills=_words(skills), queues=queue_words,
                             capacity=capacity, role=role, is_admin=role == "admin", shift=shift or None,
                             created_at=desk.now())
        audit.record(desk, None, "agent_added", login=login, role=role)
    return view(agent)


def ensure(desk, login: str, *, role: str = "agent", name: str = "") -> AgentView:
    """The agent of that login, registered if new (init registers the first admin this way)."""
    agent = Agent.get_or_none(Agent.login == login)
    if agent is None:
        return add(desk, login, role=role, name=name)
    return view(agent)


def update(desk, login: str, *, name=None, email=None, skills=None, queues=None, capacity=None,
           active=None, shift=None, role=None) -> AgentView:
    """Change an agent (admins only). The last active admin cannot be demoted or deactivated."""
    require(desk, "manage_agents")
    if role is not None:
        _check_role(role)
    _check_person(name, email)
    if capacity is not None:
        _check_capacity(capacity)
    with desk.db.atomic():
        agent = Agent.get_or_none(Agent.login == login)
        if agent is None:
            raise NotFound(f"agent '{inert(login, layout=False)}' not found")
        changes = {}
        if name is not None:
            changes["name"] = name
        if email is not None:
            changes["email"] = email
        if skills is not None:
            changes["skills"] = _words(skills)
        if queues is not None:
            changes["queues"] = _check_queues(desk, queues)
        if capacity is not None:
            changes["capacity"] = capacity
        if active is not None:
            changes["active"] = active
        if shift is not None:
            _check_shift(desk, shift)
            changes["shift"] = shift or None  # "" clears it: always on shift
        if role is not None:
            changes["role"] = role
        if agent.role == "admin" and agent.active and (role not in (None, "admin") or active is False):
            others = Agent.select().where((Agent.role == "admin") & Agent.active & (Agent.id != agent.id))
            if not others.exists():
                raise InvalidInput(f"'{login}' is the desk's last active admin: make another agent an admin first")
        if changes:
            columns = {**changes, **({"is_admin": role == "admin"} if role is not None else {})}
            Agent.update(**columns).where(Agent.id == agent.id).execute()
            audit.record(desk, None, "agent_updated", login=login, **changes)
    return get(desk, login)


def open_counts() -> dict[int, int]:
    query = (Ticket.select(Ticket.assignee, fn.COUNT(Ticket.number))
             .where(Ticket.status.in_(OPEN_STATES) & Ticket.assignee.is_null(False))
             .group_by(Ticket.assignee).tuples())
    return dict(query)


def get(desk, login: str) -> AgentView:
    name = resolve_login(login, desk.actor)
    agent = Agent.get_or_none(Agent.login == name)
    if agent is None:
        raise NotFound(f"agent '{name}' not found")
    return view(agent, open_counts().get(agent.id, 0))


def list_agents(desk) -> list[AgentView]:
    counts = open_counts()
    return [view(a, counts.get(a.id, 0)) for a in Agent.select().order_by(Agent.login)]
