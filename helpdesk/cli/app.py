"""The root of the CLI: command groups and the top-level commands."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app


# Command groups by name: only the group a command line names is imported and introspected, which
# keeps the start-up of every command short (Typer inspects every registered function up front).
GROUPS = {
    "ticket": ("helpdesk.cli.ticket", "Create, find, move and answer tickets."),
    "db": ("helpdesk.cli.db", "The database: schema and migrations."),
    "agent": ("helpdesk.cli.agent", "The agents working the desk."),
    "mail": ("helpdesk.cli.mail", "The email channel: fetch, send, status, quarantine, outbox."),
    "sla": ("helpdesk.cli.sla", "Service levels: the sweep over every open clock."),
}


def build(only: str | None = None) -> typer.Typer:
    """The root app; with `only`, just that group (or just the top-level commands)."""
    import importlib

    root = make_app(help="helpdesk: a terminal-first helpdesk. A bare `helpdesk` opens the TUI.")
    for name, (module, help_text) in GROUPS.items():
        if only is None or only == name:
            root.add_typer(importlib.import_module(module).app, name=name, help=help_text)
    if only is None or only not in GROUPS:
        for command in (init, locate, export, daemon):
            root.command()(command)
    return root


def __getattr__(name: str):
    if name == "app":  # the complete app, built on first use (tests, help, docs)
        globals()["app"] = full = build()
        return full
    raise AttributeError(name)


def init(
    sample: Annotated[bool, typer.Option("--sample", help="Add sample agents, customers and tickets.")] = False,
) -> None:
    """Create the desk: config file, database and the first agent (your login, an admin).

    Example: helpdesk init --sample
    """
    from helpdesk import agents, locations, sample as sample_mod
    from helpdesk.cli.common import open_desk

    target = locations.config_file()
    wrote = False
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(locations.default_config_source().read_text())
        wrote = True
    with open_desk() as desk:
        me = agents.ensure(desk, desk.actor, admin=True)
        typer.echo(f"config: {target}{' (written)' if wrote else ' (kept)'}")
        typer.echo(f"database: {desk.url.display()}")
        typer.echo(f"agent: {me.login}{' (admin)' if me.is_admin else ''}")
        if sample:
            counts = sample_mod.load(desk)
            typer.echo(f"sample: {counts['agents']} agents, {counts['tickets']} new tickets")
    typer.echo("next: helpdesk ticket list")


def daemon(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between cycles.", min=1)] = 60.0,
) -> None:
    """Fetch mail and deliver the outbox in a loop; logs to stderr, stops cleanly on SIGTERM. A step that
    fails is logged and the loop goes on; with --once, one cycle, then exit 3 if a mailbox or the SMTP
    server could not be reached (1 if another step failed).

    Example: helpdesk daemon --interval 30
    """
    import logging

    from helpdesk.cli.common import open_desk
    from helpdesk.mail import daemon as daemon_mod

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    with open_desk() as desk:
        daemon_mod.run(desk, once=once, interval=interval)


def locate(json_: Annotated[bool, typer.Option("--json", help="Print the paths as JSON.")] = False) -> None:
    """Print the config file, data directory and database in use.

    Example: helpdesk locate
    """
    from helpdesk import config, locations
    from helpdesk.cli.common import emit_one
    from helpdesk.desk import database_url

    cfg = config.load()
    paths = {
        "config": str(locations.config_file()),
        "config_dir": str(locations.config_dir()),
        "data_dir": str(locations.data_dir()),
        "database": database_url(cfg).display(),
        "attachments": str(locations.attachments_dir()),
    }
    if json_:
        emit_one(paths)
    else:
        for key, value in paths.items():
            typer.echo(f"{key:12} {value}")


def export(
    query: Annotated[Optional[str], typer.Argument(help="Only tickets matching this query.")] = None,
    format: Annotated[str, typer.Option("--format", help="csv, json or nl.")] = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file, not stdout.")] = None,
) -> None:
    """Export tickets with their type fields (CSV or JSON), newest first.

    Example: helpdesk export --format json "status:open type:equipment_repair" > open-repairs.json
    """
    from helpdesk import transfer
    from helpdesk.cli.common import fail, open_desk
    from helpdesk.errors import ExitCode

    if format not in ("csv", "json", "nl"):
        fail(f"--format must be csv, json or nl, not '{format}'", ExitCode.USAGE)
    with open_desk() as desk:
        if output:
            try:
                fh = output.open("w", newline="", encoding="utf-8")
            except OSError as exc:
                fail(f"{output}: {exc.strerror or exc}")
            with fh:
                count = transfer.export(desk, query or "", format, fh)
            typer.echo(f"exported {count} tickets to {output}", err=True)
        else:
            transfer.export(desk, query or "", format, sys.stdout)

