"""`helpdesk db`: the schema."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import echo, emit, open_desk, output_options

app = make_app()


@app.command()
@output_options("json")
def migrate(fmt: str = "text") -> None:
    """Apply pending migrations and bring type extension tables in line with the config.

    Example: helpdesk db migrate
    """
    from helpdesk.services import desk as desk_service  # lazy: services load the store

    with open_desk(migrate=False, actor=desk_service.SYSTEM_MIGRATE) as desk:
        done = desk_service.migrate(desk)
    if fmt != "text":
        emit(done, fmt)
        return
    for name in done["applied"]:
        echo(f"applied {name}")
    for change in done["types"]:
        echo(change)
    if not done["applied"] and not done["types"]:
        echo("the schema is up to date")
