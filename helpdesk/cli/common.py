"""What every command shares: opening the desk, clean errors, output formats."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from typing import Annotated, Any, Iterable

import typer

from helpdesk.errors import ExitCode, HelpdeskError
from helpdesk.formats import emit_rows  # noqa: F401 - shared by every listing command

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document (an array for lists).")]
NlFlag = Annotated[bool, typer.Option("--nl", help="Print newline-delimited JSON, one object per line.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")]
IfVersion = Annotated[int | None, typer.Option("--if-version", help="Refuse the change if the ticket's version "
                                                                       "is no longer this one (optimistic locking).")]


def fail(message: str, code: int = ExitCode.FAILED) -> None:
    """One clear line on stderr, then the exit code."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(int(code))


def handle_errors(exc: BaseException) -> int | None:
    """Map an exception to (message, exit code); None when it is not ours to handle."""
    import peewee as pw

    if isinstance(exc, HelpdeskError):
        typer.echo(f"error: {exc}", err=True)
        return int(exc.exit_code)
    if isinstance(exc, pw.OperationalError):
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        typer.echo(f"error: database: {text}", err=True)
        return int(ExitCode.UNAVAILABLE)
    if isinstance(exc, pw.InterfaceError):
        typer.echo(f"error: database connection lost: {exc}", err=True)
        return int(ExitCode.UNAVAILABLE)
    if isinstance(exc, pw.DatabaseError):
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        typer.echo(f"error: database refused the change: {text}", err=True)
        return int(ExitCode.FAILED)
    return None


@contextmanager
def open_desk(migrate: bool = True):
    """The desk for one command, closed when it is done."""
    from helpdesk.desk import open_desk as _open

    desk = _open(migrate=migrate)
    try:
        yield desk
    finally:
        desk.close()


def output_format(json_: bool = False, nl: bool = False, csv_: bool = False) -> str:
    chosen = [name for name, on in (("json", json_), ("nl", nl), ("csv", csv_)) if on]
    if len(chosen) > 1:
        fail("choose one of --json, --nl, --csv", ExitCode.USAGE)
    return chosen[0] if chosen else "text"


def emit_one(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


def console(stderr: bool = False):
    """A rich console: colour on a terminal only, never with NO_COLOR."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped text output keeps whole lines (scripts should use --json, but grep works too).
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")), highlight=False,
                   soft_wrap=False, width=width)


def read_stdin_text() -> str:
    """All of stdin as UTF-8, strictly: bytes that are not UTF-8 are an error naming the line and the
    byte (`stdin line 3: not valid UTF-8 at byte 17`), never replaced or a traceback. The one way every
    command reads text from stdin."""
    from helpdesk.inputs import decode_utf8

    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    return decode_utf8(data, "stdin")
