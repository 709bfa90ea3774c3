"""The root of the CLI: command groups and the top-level commands."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import RawFlag, echo


# Command groups by name: only the group a command line names is imported and introspected, which
# keeps the start-up of every command short (Typer inspects every registered function up front).
GROUPS = {
    "ticket": ("helpdesk.cli.ticket", "Create, find, move and answer tickets.\n\n"
                                      "Example: helpdesk ticket list status:open assignee:me"),
    "db": ("helpdesk.cli.db", "The database: schema and migrations.\n\nExample: helpdesk db migrate"),
    "agent": ("helpdesk.cli.agent", "The agents working the desk.\n\nExample: helpdesk agent list"),
    "mail": ("helpdesk.cli.mail", "The email channel: fetch, send, status, quarantine, outbox.\n\n"
                                  "Example: helpdesk mail status --json"),
    "sla": ("helpdesk.cli.sla", "Service levels: the sweep over every open clock.\n\nExample: helpdesk sla check"),
}


def build(only: str | None = None) -> typer.Typer:
    """The root app; with `only`, just that group (or just the top-level commands)."""
    import importlib

    root = make_app(help="helpdesk: a terminal-first helpdesk. A bare `helpdesk` opens the TUI.\n\n"
                         "Example: helpdesk ticket list status:open --sort priority", add_completion=True)
    root.callback()(main)
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


def _print_version(value: bool) -> None:
    if value:
        from helpdesk import __version__

        echo(f"helpdesk {__version__}")
        raise typer.Exit()


def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    """helpdesk: a terminal-first helpdesk."""


def init(
    sample: Annotated[bool, typer.Option("--sample", help="Add sample agents, customers and tickets.")] = False,
) -> None:
    """Create the desk: config file (0600), database and the first agent, an admin: HELPDESK_AGENT, else
    [me] agent, else your login name. The only command that creates a desk; on an existing desk it
    migrates and keeps everything. A failed init leaves nothing behind.

    Example: HELPDESK_AGENT=ann helpdesk init --sample
    """
    from helpdesk.domain import desk as desk_mod

    made = desk_mod.create(sample=sample)
    for line in made.warnings:
        echo(f"warning: {line}", err=True)
    echo(f"config: {made.config} ({'written' if made.config_written else 'kept'})")
    echo(f"database: {made.database} ({'created' if made.database_created else 'kept'})")
    echo(f"agent: {made.agent.login} ({made.agent.role})")
    if made.sample is not None:
        echo(f"sample: {made.sample['agents']} agents, {made.sample['tickets']} new tickets")
    echo("next: helpdesk ticket list")


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
    from helpdesk.domain.desk import SYSTEM_DAEMON
    from helpdesk import daemon as daemon_mod

    from helpdesk.core.sanitise import InertLogFormatter

    handler = logging.StreamHandler(sys.stderr)  # log messages quote mail subjects and addresses: inert
    handler.setFormatter(InertLogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    with open_desk(actor=SYSTEM_DAEMON) as desk:
        daemon_mod.run(desk, once=once, interval=interval)


def locate(json_: Annotated[bool, typer.Option("--json", help="Print the paths as JSON.")] = False) -> None:
    """Print the config file, data directory and database in use.

    Example: helpdesk locate
    """
    from helpdesk import config
    from helpdesk.core import locations
    from helpdesk.cli.common import emit_one
    from helpdesk.domain.desk import database_url

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
            echo(f"{key:12} {value}")


def export(
    query: Annotated[Optional[str], typer.Argument(help="Only tickets matching this query.")] = None,
    format: Annotated[str, typer.Option("--format", help="csv, json, nl or sqlite.")] = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file, not stdout "
                                                                           "(replaced only when complete).")] = None,
    raw: RawFlag = False,
) -> None:
    """Export tickets, newest first: CSV (one row per ticket, type fields as field.NAME columns), JSON or
    NDJSON (a full backup: conversation, attachments, links, ratings, history; `ticket import` restores
    it into an empty desk), or a standalone SQLite file with full-text search (for Datasette).

    CSV cells a spreadsheet would run as a formula (starting with =, +, -, @, tab or CR) get a leading
    apostrophe and control characters are shown visibly, unless --raw. A long export to a file shows
    a progress bar on a terminal.

    Examples:
      helpdesk export --format csv "status:open type:equipment_repair" > open-repairs.csv
      helpdesk export --format json -o backup.json
      helpdesk export --format sqlite -o desk.db && datasette desk.db
    """
    from helpdesk.core import files
    from helpdesk.domain import tickets, import_export as transfer
    from helpdesk.cli.common import Progress, fail, open_desk
    from helpdesk.core.errors import ExitCode

    if format not in ("csv", "json", "nl", "sqlite"):
        fail(f"--format must be csv, json, nl or sqlite, not '{format}'", ExitCode.USAGE)
    if format == "sqlite" and output is None:
        fail("--format sqlite writes a database file: name it with -o FILE", ExitCode.USAGE)
    with open_desk() as desk:
        if format == "sqlite":
            with files.replacing(output) as tmp:  # an empty file is an empty SQLite database
                count = transfer.export_sqlite(desk, query or "", tmp)
            echo(f"exported {count} tickets to {output}", err=True)
        elif output:
            # Written beside FILE and renamed over it when complete: a bad query leaves FILE as it was.
            total = tickets.count_tickets(desk, query or "") if sys.stderr.isatty() else None
            with files.writing(output) as fh, Progress("exporting tickets", total=total) as progress:
                count = transfer.export(desk, query or "", format, fh, raw=raw, on_progress=progress.advance)
            echo(f"exported {count} tickets to {output}", err=True)
        else:
            transfer.export(desk, query or "", format, sys.stdout, raw=raw)
