"""`helpdesk agent`: the people working the desk."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import CsvFlag, JsonFlag, NlFlag, echo, emit_one, emit_rows, open_desk, output_format

app = make_app()

COLUMNS = ["login", "name", "email", "is_admin", "skills", "queues", "capacity", "active", "shift", "open_tickets"]


@app.command()
def add(
    login: Annotated[str, typer.Argument(help="The agent's login name.")],
    name: Annotated[str, typer.Option("--name")] = "",
    email: Annotated[Optional[str], typer.Option("--email")] = None,
    skill: Annotated[Optional[list[str]], typer.Option("--skill", help="A skill (repeatable).")] = None,
    queue: Annotated[Optional[list[str]], typer.Option("--queue", help="A queue the agent works (repeatable).")] = None,
    capacity: Annotated[int, typer.Option("--capacity", help="Open tickets the agent can hold.")] = 20,
    admin: Annotated[bool, typer.Option("--admin")] = False,
    shift: Annotated[Optional[str], typer.Option("--shift", help="A [calendar.NAME] of working hours.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Register an agent.

    Example: helpdesk agent add bob --name "Bob Keller" --skill it --skill repair --queue it
    """
    from helpdesk import agents

    with open_desk() as desk:
        view = agents.add(desk, login, name=name, email=email, skills=skill or [], queues=queue or [],
                          capacity=capacity, admin=admin, shift=shift)
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
) -> None:
    """Change an agent's skills, queues, capacity or state.

    Example: helpdesk agent update bob --capacity 10 --inactive
    """
    from helpdesk import agents

    with open_desk() as desk:
        target = desk.actor if login == "me" else login
        view = agents.update(desk, target, name=name, email=email, skills=skill, queues=queue,
                             capacity=capacity, active=active, shift=shift)
    echo(f"updated agent {view.login}")


@app.command("list")
def list_(json_: JsonFlag = False, nl: NlFlag = False, csv_: CsvFlag = False) -> None:
    """List agents with their open tickets.

    Example: helpdesk agent list --json
    """
    from helpdesk import agents

    fmt = output_format(json_, nl, csv_)
    with open_desk() as desk:
        found = agents.list_agents(desk)
    if fmt != "text":
        emit_rows((a.to_dict() for a in found), fmt, COLUMNS)
        return
    for a in found:
        echo(f"{a.login:12} {a.name:20} open {a.open_tickets}/{a.capacity}  skills {' '.join(a.skills) or '-'}"
                   f"  queues {' '.join(a.queues) or '-'}{'  admin' if a.is_admin else ''}{'' if a.active else '  inactive'}")
