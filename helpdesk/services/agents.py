"""The agents working the desk: register, change, list, show (admins manage; anyone lists)."""

from __future__ import annotations

from helpdesk.core.vocabulary import resolve_login
from helpdesk.domain import agents
from helpdesk.domain.agents import AgentView
from helpdesk.services.work import unit

COLUMNS = ["login", "name", "email", "role", "is_admin", "skills", "queues", "capacity", "active", "shift",
           "open_tickets"]


def add(desk, login: str, *, name: str = "", email: str | None = None, skills: list[str] = (),
        queues: list[str] = (), capacity: int = 20, role: str = "agent", shift: str | None = None) -> AgentView:
    with unit(desk):
        return agents.add(desk, login, name=name, email=email, skills=list(skills or []),
                          queues=list(queues or []), capacity=capacity, role=role, shift=shift)


def update(desk, login: str, *, name: str | None = None, email: str | None = None, skills: list[str] | None = None,
           queues: list[str] | None = None, capacity: int | None = None, active: bool | None = None,
           shift: str | None = None, role: str | None = None) -> AgentView:
    """Change an agent ('me': the acting one); None leaves a setting as it is."""
    with unit(desk):
        return agents.update(desk, resolve_login(login, desk.actor), name=name, email=email, skills=skills,
                             queues=queues, capacity=capacity, active=active, shift=shift, role=role)


def list_(desk) -> list[AgentView]:
    """Every agent with their role and open tickets."""
    return agents.list_agents(desk)


def show(desk, login: str) -> AgentView:
    """One agent ('me': the acting one)."""
    return agents.get(desk, login)
