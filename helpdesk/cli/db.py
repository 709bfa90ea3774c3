"""`helpdesk db`: the schema."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from typing import Annotated

import typer

from helpdesk.cli.app_factory import make_app

app = make_app()


@app.command()
def migrate(json_: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False) -> None:
    """Apply pending migrations and bring type extension tables in line with the config.

    Example: helpdesk db migrate
    """
    from helpdesk.cli.common import echo, emit_one, open_desk
    from helpdesk.domain.desk import SYSTEM_MIGRATE, prepare

    with open_desk(migrate=False, actor=SYSTEM_MIGRATE) as desk:
        applied, changes = prepare(desk, force=True)
    if json_:
        emit_one({"applied": applied, "types": changes})
        return
    for name in applied:
        echo(f"applied {name}")
    for change in changes:
        echo(change)
    if not applied and not changes:
        echo("the schema is up to date")
