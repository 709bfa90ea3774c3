"""What every command shares: opening the desk, clean errors, output formats."""

from __future__ import annotations

import functools
import inspect
import os
import sys
import time
from contextlib import contextmanager
from typing import Annotated, Any, Iterable, Optional

import typer

from helpdesk.core.errors import ExitCode, HelpdeskError, RowsRefused
from helpdesk.core.formats import emit_rows
from helpdesk.core.inputs import decode_utf8
from helpdesk.core.sanitise import inert, json_dumps

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document (an array for lists).")]
NlFlag = Annotated[bool, typer.Option("--nl", help="Print newline-delimited JSON, one object per line.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")]
RawFlag = Annotated[bool, typer.Option("--raw", help="CSV cells exactly as stored: no formula guard, control "
                                                      "characters kept (for a consumer you trust).")]
ROWS_SHOWN = 200  # refused rows of a bulk input listed one by one; the rest are counted
IfVersion = Annotated[int | None, typer.Option("--if-version", help="Refuse the change if the ticket's version "
                                                                       "is no longer this one (optimistic locking).")]


def echo(message: Any, *, err: bool = False) -> None:
    """One line for a person (a notice on stdout, or on stderr): the one way commands print text.
    Whatever stored text or user input it quotes is shown inert, its newlines too, so it stays one line
    and a terminal obeys none of it."""
    typer.echo(inert(message, layout=False), err=err)


def error(message: Any) -> None:
    """The one error line on stderr (every refusal, usage error and internal error goes through it)."""
    echo(f"error: {message}", err=True)


def fail(message: str, code: int = ExitCode.FAILED) -> None:
    """One clear line on stderr, then the exit code."""
    error(message)
    raise typer.Exit(int(code))


def handle_errors(exc: BaseException) -> int | None:
    """Report an expected failure (one line on stderr; a refused bulk input lists its rows first) and
    return its exit code; None when it is not ours to handle."""
    if isinstance(exc, RowsRefused):
        for row in exc.rows[:ROWS_SHOWN]:
            error(row)
        if len(exc.rows) > ROWS_SHOWN:
            error(f"... and {len(exc.rows) - ROWS_SHOWN} more")
    if not isinstance(exc, HelpdeskError):
        from helpdesk.services.desk import database_failure  # lazy: only on an error path

        exc = database_failure(exc)
        if exc is None:
            return None
    error(exc)
    return int(exc.exit_code)


@contextmanager
def open_desk(migrate: bool = True, actor: str | None = None):
    """The desk for one command, closed when it is done. The acting agent must be registered and active,
    unless `actor` names the system (the desk's own machinery: services.desk.SYSTEM_*)."""
    from helpdesk.services import desk as desk_service  # lazy: opening a desk loads the store

    desk = desk_service.open(migrate=migrate, actor=actor)
    for line in desk.warnings:
        typer.echo(f"warning: {line}", err=True)
    try:
        yield desk
    finally:
        desk.close()


_FORMAT_FLAGS = {"json": ("json_", JsonFlag), "nl": ("nl", NlFlag), "csv": ("csv_", CsvFlag)}


def output_options(*formats: str, default: str = "text", format_option: tuple[str, ...] = ()):
    """The output options of a command that prints records, the same on every command: --json, --nl,
    --csv (those of `formats`; all three by default) and, with `format_option`, a --format NAME
    taking those names (an alias of the flags, as `export` has). The command receives the choice as
    its `fmt` argument: "json", "nl", "csv", a `format_option` name, or `default`."""
    formats = formats or ("json", "nl", "csv")

    def decorate(command):
        signature = inspect.signature(command)
        kept = [p for p in signature.parameters.values() if p.name != "fmt"]
        added = [inspect.Parameter(_FORMAT_FLAGS[f][0], inspect.Parameter.KEYWORD_ONLY, default=False,
                                   annotation=_FORMAT_FLAGS[f][1]) for f in formats]
        if format_option:
            names = ", ".join(format_option[:-1]) + " or " + format_option[-1]
            added.append(inspect.Parameter("format_", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
                Optional[str], typer.Option("--format", help=f"{names} (default: {default}).")]))

        @functools.wraps(command)
        def run(*args, **kwargs):
            chosen = [f for f in formats if kwargs.pop(_FORMAT_FLAGS[f][0], False)]
            named = kwargs.pop("format_", None) if format_option else None
            if named is not None:
                if named not in format_option:
                    fail(f"--format must be {names}, not '{named}'", ExitCode.USAGE)
                if named not in chosen:
                    chosen.append(named)
            if len(chosen) > 1:  # say which flags clash, not just that they do
                fail("choose one of " + ", ".join(f"--{f}" for f in formats)
                     + (" or --format" if format_option else ""), ExitCode.USAGE)
            return command(*args, fmt=chosen[0] if chosen else default, **kwargs)

        run.__signature__ = signature.replace(parameters=kept + added)
        run.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != "fmt"},
                               **{p.name: p.annotation for p in added}}
        return run

    return decorate


def emit(records: Any, fmt: str, columns: list[str] = (), *, raw: bool = False) -> None:
    """Records in a machine format: a list (or any iterable of dicts) as a JSON array, NDJSON or CSV with
    `columns`; one dict as one JSON document (NDJSON: on one line; CSV: one row)."""
    if isinstance(records, dict):
        if fmt == "csv":
            emit_rows([records], fmt, list(columns) or list(records), raw=raw)
        else:
            emit_one(records, nl=fmt == "nl")
        return
    emit_rows(records, fmt, list(columns), raw=raw)


def list_footer(shown: int, total: int, *, capped: bool = False) -> str:
    """'50 of 8,512': a page shows fewer tickets than match (said on stderr, whatever the format)."""
    return f"{shown:,} of {'more than ' if capped else ''}{total - 1 if capped else total:,} (--limit N for more, --limit 0 for all)"


def emit_one(doc: Any, *, nl: bool = False) -> None:
    """One JSON document on stdout (`nl`: on one line), control and bidi characters escaped."""
    sys.stdout.write(json_dumps(doc, indent=None if nl else 2) + "\n")


def console(stderr: bool = False):
    """A rich console for people: colour and styles on a terminal only, and none at all with NO_COLOR
    (no bold or dim either: `no_color` alone keeps them). It never parses markup or emoji codes, so a
    string that reaches it by mistake is still printed as it is; stored text goes in as `Text` made
    inert. Piped output is 160 columns wide unless COLUMNS says otherwise."""
    from rich.console import Console  # lazy: rich is for people; scripted output never loads it

    stream = sys.stderr if stderr else sys.stdout
    plain = bool(os.environ.get("NO_COLOR"))
    width = None if stream.isatty() or os.environ.get("COLUMNS", "").isdigit() else 160
    return Console(stderr=stderr, no_color=plain, color_system=None if plain else "auto", highlight=False,
                   markup=False, emoji=False, soft_wrap=False, width=width)


# Seconds of work before a bar is worth showing; HELPDESK_PROGRESS_DELAY overrides it (tests show the bar
# on work of any length, whatever the machine's speed).
PROGRESS_DELAY = 1.0


class Progress:
    """A progress bar for bulk work, on stderr and only on a terminal, that appears once the work has
    taken PROGRESS_DELAY seconds (quick work, pipes and scripts see nothing). Use as a context manager;
    call `advance(n)` as work gets done."""

    def __init__(self, label: str, total: int | None = None):
        self.label, self.total, self.done = inert(label, layout=False), total, 0
        self.started = time.monotonic()
        self.delay = float(os.environ.get("HELPDESK_PROGRESS_DELAY") or PROGRESS_DELAY)
        self.enabled = sys.stderr.isatty()
        self.bar = None
        self.task = None

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            from rich.progress import (  # lazy: only a bar actually shown loads rich
                BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn,
            )

            self.bar = Bar(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), console=console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total, completed=self.done)
        else:
            self.bar.update(self.task, completed=self.done)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def read_stdin_text() -> str:
    """All of stdin as UTF-8, strictly: bytes that are not UTF-8 are an error naming the line and the
    byte (`stdin line 3: not valid UTF-8 at byte 17`), never replaced or a traceback. The one way every
    command reads text from stdin."""
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    return decode_utf8(data, "stdin")
