"""The root of the CLI: command groups and the top-level commands."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

import importlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from helpdesk import __version__
from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import Progress, RawFlag, echo, emit, fail, open_desk, output_options
from helpdesk.core.errors import ExitCode
from helpdesk.core.sanitise import InertLogFormatter


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
    "report": ("helpdesk.cli.report", "The dashboard's figures: open, today, SLA compliance, volume, load, "
                                      "breaches.\n\nExample: helpdesk report summary --json"),
    "ai": ("helpdesk.cli.ai", "AI assistance: classify, train, eval, similar, summary, draft.\n\nExample: helpdesk ai classify 42"),
}


def build(only: str | None = None) -> typer.Typer:
    """The root app; with `only`, just that group (or just the top-level commands)."""
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
        echo(f"helpdesk {__version__}")
        raise typer.Exit()


def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    """helpdesk: a terminal-first helpdesk."""


@output_options("json")
def init(
    sample: Annotated[bool, typer.Option("--sample", help="Add sample agents, customers and tickets.")] = False,
    fmt: str = "text",
) -> None:
    """Create the desk: config file (0600), database and the first agent, an admin: HELPDESK_AGENT, else
    [me] agent, else your login name. The only command that creates a desk; on an existing desk it
    migrates and keeps everything. A failed init leaves nothing behind.

    Example: HELPDESK_AGENT=ann helpdesk init --sample
    """
    from helpdesk.services import desk as desk_service  # lazy: services load the store

    made = desk_service.create(sample=sample)
    for line in made.warnings:
        echo(f"warning: {line}", err=True)
    if fmt != "text":
        emit({"config": str(made.config), "config_written": made.config_written, "database": made.database,
              "database_created": made.database_created, "agent": made.agent.to_dict(), "sample": made.sample}, fmt)
        return
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
    import logging  # lazy: only the daemon logs

    from helpdesk import daemon as daemon_mod  # lazy: the loop and its services load the store
    from helpdesk.services.desk import SYSTEM_DAEMON  # lazy: see daemon_mod

    handler = logging.StreamHandler(sys.stderr)  # log messages quote mail subjects and addresses: inert
    handler.setFormatter(InertLogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    with open_desk(actor=SYSTEM_DAEMON) as desk:
        daemon_mod.run(desk, once=once, interval=interval)


@output_options("json", "nl")
def locate(fmt: str = "text") -> None:
    """Print the config file, data directory and database in use.

    Example: helpdesk locate
    """
    from helpdesk.services import location  # lazy: as little as possible before the command

    paths = location.locate()
    if fmt != "text":
        emit(paths, fmt)
    else:
        for key, value in paths.items():
            echo(f"{key:12} {value}")


@output_options("json", "nl", "csv", default="csv", format_option=("csv", "json", "nl", "sqlite"))
def export(
    query: Annotated[Optional[str], typer.Argument(help="Only tickets matching this query.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to a file, not stdout "
                                                                           "(replaced only when complete).")] = None,
    raw: RawFlag = False,
    fmt: str = "csv",
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
    from helpdesk.core import files  # lazy: tempfile is only needed to write files
    from helpdesk.services import import_export  # lazy: services load the store

    if fmt == "sqlite" and output is None:
        fail("--format sqlite writes a database file: name it with -o FILE", ExitCode.USAGE)
    with open_desk() as desk:
        if fmt == "sqlite":
            with files.replacing(output) as tmp:  # an empty file is an empty SQLite database
                count = import_export.export_sqlite(desk, query or "", tmp)
            echo(f"exported {count} tickets to {output}", err=True)
        elif output:
            # Written beside FILE and renamed over it when complete: a bad query leaves FILE as it was.
            with files.writing(output) as fh:
                count = import_export.export(desk, query or "", fmt, fh, raw=raw, count=sys.stderr.isatty(),
                                             progress=lambda total: Progress("exporting tickets", total=total))
            echo(f"exported {count} tickets to {output}", err=True)
        else:
            import_export.export(desk, query or "", fmt, sys.stdout, raw=raw)
