"""`helpdesk agent`: the people working the desk.

Each command imports its service inside the function (lazy): a service loads the store and Peewee,
which `--help` never needs.
"""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import echo, emit, open_desk, output_options
from helpdesk.core.sanitise import inert

app = make_app()


@app.command()
@output_options("json")
def add(
    login: Annotated[str, typer.Argument(help="The agent's login name.")],
    name: Annotated[str, typer.Option("--name")] = "",
    email: Annotated[Optional[str], typer.Option("--email")] = None,
    skill: Annotated[Optional[list[str]], typer.Option("--skill", help="A skill (repeatable).")] = None,
    queue: Annotated[Optional[list[str]], typer.Option("--queue", help="A queue the agent works (repeatable).")] = None,
    capacity: Annotated[int, typer.Option("--capacity", help="Open tickets the agent can hold.")] = 20,
    role: Annotated[str, typer.Option("--role", help="admin (manages agents), lead or agent.")] = "agent",
    shift: Annotated[Optional[str], typer.Option("--shift", help="A [calendar.NAME] of working hours.")] = None,
    fmt: str = "text",
) -> None:
    """Register an agent (admins only).

    Example: helpdesk agent add bob --name "Bob Keller" --skill it --skill repair --queue it --role lead
    """
    from helpdesk.services import agents  # lazy: services load the store

    with open_desk() as desk:
        view = agents.add(desk, login, name=name, email=email, skills=skill or [], queues=queue or [],
                          capacity=capacity, role=role, shift=shift)
    emit(view.to_dict(), fmt) if fmt != "text" else echo(f"added agent {view.login}")


@app.command()
@output_options("json")
def update(
    login: Annotated[str, typer.Argument(help="The agent's login name, or 'me'.")],
    name: Annotated[Optional[str], typer.Option("--name")] = None,
    email: Annotated[Optional[str], typer.Option("--email")] = None,
    skill: Annotated[Optional[list[str]], typer.Option("--skill", help="Replace the skills (repeatable).")] = None,
    queue: Annotated[Optional[list[str]], typer.Option("--queue", help="Replace the queues (repeatable).")] = None,
    capacity: Annotated[Optional[int], typer.Option("--capacity")] = None,
    active: Annotated[Optional[bool], typer.Option("--active/--inactive")] = None,
    shift: Annotated[Optional[str], typer.Option("--shift", help="A [calendar.NAME]; '' for always.")] = None,
    role: Annotated[Optional[str], typer.Option("--role", help="admin, lead or agent.")] = None,
    fmt: str = "text",
) -> None:
    """Change an agent's role, skills, queues, capacity or state (admins only).

    Example: helpdesk agent update bob --role lead --capacity 10
    """
    from helpdesk.services import agents  # lazy: services load the store

    with open_desk() as desk:
        view = agents.update(desk, login, name=name, email=email, skills=skill, queues=queue,
                             capacity=capacity, active=active, shift=shift, role=role)
    emit(view.to_dict(), fmt) if fmt != "text" else echo(f"updated agent {view.login}")


def _line(a) -> str:
    """One agent for people: login, name, role, load, skills, queues."""
    login, name, skills = (inert(text, layout=False) for text in (a.login, a.name, " ".join(a.skills)))
    return (f"{login:12} {name:20} {a.role:6} open {a.open_tickets}/{a.capacity}  skills {skills or '-'}"
            f"  queues {' '.join(a.queues) or '-'}{'' if a.active else '  inactive'}")


@app.command("list")
@output_options()
def list_(fmt: str = "text") -> None:
    """List agents with their role and open tickets.

    Example: helpdesk agent list --json
    """
    from helpdesk.services import agents  # lazy: services load the store

    with open_desk() as desk:
        found = agents.list_(desk)
    if fmt != "text":
        emit([a.to_dict() for a in found], fmt, agents.COLUMNS)
        return
    for a in found:
        echo(_line(a))


@app.command()
@output_options()
def show(login: Annotated[str, typer.Argument(help="The agent's login name, or 'me'.")], fmt: str = "text") -> None:
    """One agent: role, skills, queues, capacity, shift and open tickets.

    Example: helpdesk agent show me --json
    """
    from helpdesk.services import agents  # lazy: services load the store

    with open_desk() as desk:
        found = agents.show(desk, login)
    if fmt != "text":
        emit(found.to_dict(), fmt, agents.COLUMNS)
        return
    echo(_line(found))
    if found.email or found.shift:
        echo(f"{'':12} email {found.email or '-'}  shift {found.shift or 'always'}")
