"""`helpdesk agent`: the people working the desk."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import CsvFlag, JsonFlag, NlFlag, echo, emit_one, emit_rows, open_desk, output_format

app = make_app()

COLUMNS = ["login", "name", "email", "role", "is_admin", "skills", "queues", "capacity", "active", "shift", "open_tickets"]


@app.command()
def add(
    login: Annotated[str, typer.Argument(help="The agent's login name.")],
    name: Annotated[str, typer.Option("--name")] = "",
    email: Annotated[Optional[str], typer.Option("--email")] = None,
    skill: Annotated[Optional[list[str]], typer.Option("--skill", help="A skill (repeatable).")] = None,
    queue: Annotated[Optional[list[str]], typer.Option("--queue", help="A queue the agent works (repeatable).")] = None,
    capacity: Annotated[int, typer.Option("--capacity", help="Open tickets the agent can hold.")] = 20,
    role: Annotated[str, typer.Option("--role", help="admin (manages agents), lead or agent.")] = "agent",
    shift: Annotated[Optional[str], typer.Option("--shift", help="A [calendar.NAME] of working hours.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Register an agent (admins only).

    Example: helpdesk agent add bob --name "Bob Keller" --skill it --skill repair --queue it --role lead
    """
    from helpdesk.domain import agents

    with open_desk() as desk:
        view = agents.add(desk, login, name=name, email=email, skills=skill or [], queues=queue or [],
                          capacity=capacity, role=role, shift=shift)
    emit_one(view.to_dict()) if json_ else echo(f"added agent {view.login}")


@app.command()
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
) -> None:
    """Change an agent's role, skills, queues, capacity or state (admins only).

    Example: helpdesk agent update bob --role lead --capacity 10
    """
    from helpdesk.domain import agents

    with open_desk() as desk:
        target = desk.actor if login == "me" else login
        view = agents.update(desk, target, name=name, email=email, skills=skill, queues=queue,
                             capacity=capacity, active=active, shift=shift, role=role)
    echo(f"updated agent {view.login}")


@app.command("list")
def list_(json_: JsonFlag = False, nl: NlFlag = False, csv_: CsvFlag = False) -> None:
    """List agents with their role and open tickets.

    Example: helpdesk agent list --json
    """
    from helpdesk.domain import agents

    fmt = output_format(json_, nl, csv_)
    with open_desk() as desk:
        found = agents.list_agents(desk)
    if fmt != "text":
        emit_rows((a.to_dict() for a in found), fmt, COLUMNS)
        return
    from helpdesk.core.sanitise import inert

    for a in found:
        login, name, skills = (inert(text, layout=False) for text in (a.login, a.name, " ".join(a.skills)))
        echo(f"{login:12} {name:20} {a.role:6} open {a.open_tickets}/{a.capacity}  skills {skills or '-'}"
             f"  queues {' '.join(a.queues) or '-'}{'' if a.active else '  inactive'}")
