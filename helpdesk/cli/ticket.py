"""`helpdesk ticket`: create, find, move and answer tickets.

Module notes: each command imports its service inside the function ("lazy"): a service loads the store
and Peewee, which `--help`, completion and the other command groups never need.
"""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import (
    IfVersion, Progress, RawFlag, echo, emit, fail, list_footer, open_desk, output_options, read_stdin_text,
)
from helpdesk.core.errors import ExitCode
from helpdesk.core.limits import ATTACHMENT_MAX_BYTES
from helpdesk.core.views import LIST_COLUMNS

app = make_app()

TicketArg = Annotated[str, typer.Argument(help="Ticket number (42 or #42).", metavar="ID")]
# The "50 of 8,512" footer counts at most this many matches ("50 of more than 10,000" beyond): a bounded
# index scan, ~1 ms on a desk of a million tickets.
FOOTER_COUNT_CAP = 10_000


def _number(value: str) -> int:
    from helpdesk.services.tickets import parse_number  # lazy: services load the store (see module notes)

    return parse_number(value)


@app.command()
@output_options("json", "nl")
def create(
    source: Annotated[Optional[str], typer.Argument(help="'-' reads one JSON object or NDJSON from stdin.",
                                                    metavar="[-]")] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="One-line summary.")] = None,
    body: Annotated[Optional[str], typer.Option("--body", help="The request; '-' reads stdin.")] = None,
    type_: Annotated[Optional[str], typer.Option("--type", help="Ticket type (see config).")] = None,
    priority: Annotated[Optional[str], typer.Option("--priority", help="P0 (urgent) .. P3 (low).")] = None,
    customer: Annotated[Optional[str], typer.Option("--customer", help="The customer's email.")] = None,
    field: Annotated[Optional[list[str]], typer.Option("--field", help="A type field, NAME=VALUE (repeatable).")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Idempotency key: a repeat returns the same ticket.")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="A tag (repeatable).")] = None,
    queue: Annotated[Optional[str], typer.Option("--queue", help="The queue (default: the type's).")] = None,
    follow_up: Annotated[Optional[str], typer.Option(
        "--follow-up", metavar="ID", help="Link the new ticket to this resolved or closed one (same customer "
                                          "unless --customer).")] = None,
    fmt: str = "text",
) -> None:
    """Create a ticket from flags, or many from JSON on stdin (one object, an array, or NDJSON): all or
    nothing, every bad line is listed and then nothing is stored.

    Examples:
      helpdesk ticket create --title "VPN drops" --type it_support --priority P1 --customer ann@x.example
      helpdesk ticket create --follow-up 42 --title "VPN drops again"
      cat tickets.ndjson | helpdesk ticket create --json -
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    if source not in (None, "-"):
        fail(f"unexpected argument '{source}': use '-' to read JSON from stdin, or --title", ExitCode.USAGE)
    if source == "-":
        if any(v is not None for v in (title, body, type_, priority, customer, key, queue, follow_up)) or field or tag:
            fail("read tickets from stdin or from flags, not both", ExitCode.USAGE)
        records = tickets.read_records(read_stdin_text())
        with open_desk() as desk:
            made = tickets.create_records(desk, records, progress=lambda total: Progress("creating tickets", total))
        if made.single is not None:
            _created(*made.single, fmt)
        elif fmt != "text":
            emit(made.rows, fmt, ["input", "number", "created"])
        else:
            echo(f"created {made.created} tickets, {len(made.rows) - made.created} already existed (idempotency key)")
        return
    if title is None:
        fail("a ticket needs --title (or '-' to read JSON from stdin)", ExitCode.USAGE)
    if body == "-":
        body = read_stdin_text()
    with open_desk() as desk:
        view, created = tickets.create(desk, title=title, body=body or "", type=type_, priority=priority,
                                       customer=customer, fields=field or [], key=key, tags=tag or [], queue=queue,
                                       follow_up=None if follow_up is None else _number(follow_up))
    _created(view, created, fmt)


def _created(view, created: bool, fmt: str) -> None:
    if fmt != "text":
        emit({**view.to_dict(), "created": created}, fmt)
    else:
        echo(f"{'created' if created else 'exists'} #{view.number} {view.title}"
             + (f" (follow-up of #{view.parent})" if view.parent else ""))


@app.command("list")
@output_options()
def list_(
    query: Annotated[Optional[list[str]], typer.Argument(help="Query terms, e.g. status:open priority:P0,P1 vpn")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many tickets (0: all).")] = 50,
    fields: Annotated[bool, typer.Option("--fields", help="Include type fields (table columns, JSON, CSV).")] = False,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", help="Order by priority, due (nearest SLA due time), updated, created or number; "
                       "'-' before it for descending (-updated). Default: newest first.")] = None,
    raw: RawFlag = False,
    fmt: str = "text",
) -> None:
    """List tickets, newest first, filtered by the query language.

    When more tickets match than --limit shows, a line on stderr says how many ("50 of 8,512").

    Examples:
      helpdesk ticket list status:open priority:P0,P1
      helpdesk ticket list status:open --sort due
      helpdesk ticket list 'assignee:me "paper jam"' --json
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    if limit < 0:
        fail("--limit cannot be negative", ExitCode.USAGE)
    text = " ".join(query or [])
    page = limit if 0 < limit < 2**31 else None
    with open_desk() as desk:
        listed = tickets.list_(desk, text, limit=page, with_fields=fields, sort=sort, count_cap=FOOTER_COUNT_CAP,
                               with_due=fmt == "text")
        if fmt == "text":
            from helpdesk.cli import render  # lazy: rich is for people only; scripted output never loads it

            local = render.Local.of(desk)
    found, total = listed.tickets, listed.total
    if fmt == "text":
        names = sorted({k for v in found for k in v.fields}) if fields else []
        render.ticket_table(found, local=local, due=listed.due, field_names=names)
    else:
        rows = []
        for v in found:
            d = v.to_dict()
            d.pop("description", None) if fmt == "csv" else None
            rows.append(d)
        columns = list(LIST_COLUMNS)
        if fields and fmt == "csv":
            extra = sorted({k for v in found for k in v.fields})
            for row in rows:
                for k in extra:
                    row[f"field.{k}"] = row["fields"].get(k)
            columns += [f"field.{k}" for k in extra]
        emit(rows, fmt, columns, raw=raw)
    if total is not None and total > len(found):
        echo(list_footer(len(found), total, capped=total > FOOTER_COUNT_CAP), err=True)


@app.command()
@output_options("json", "nl")
def show(
    ticket: TicketArg,
    full: Annotated[bool, typer.Option("--full", help="Show each mail whole, with the quoted history and "
                                                      "signature its sender's client added.")] = False,
    fmt: str = "text",
) -> None:
    """One ticket with its type fields and conversation. A customer's mail shows what they wrote; the
    quoted history below it is hidden (the line under it says how much) and --full shows it. --json
    carries both: "body" (what they wrote) and "full_body" (the whole mail).

    Examples:
      helpdesk ticket show 42
      helpdesk ticket show 42 --full
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = tickets.show(desk, _number(ticket))
        if fmt == "text":
            from helpdesk.cli import render  # lazy: rich is for people only

            render.ticket(view, local=render.Local.of(desk, sla_targets=True), full=full)
            return
    emit(view.to_dict(), fmt)


@app.command()
@output_options("json")
def update(
    ticket: TicketArg,
    title: Annotated[Optional[str], typer.Option("--title")] = None,
    priority: Annotated[Optional[str], typer.Option("--priority", help="P0..P3")] = None,
    type_: Annotated[Optional[str], typer.Option("--type", help="Change the ticket's type.")] = None,
    field: Annotated[Optional[list[str]], typer.Option("--field", help="NAME=VALUE (repeatable).")] = None,
    queue: Annotated[Optional[str], typer.Option("--queue", help="Move to another queue (keeps the owner).")] = None,
    customer: Annotated[Optional[str], typer.Option("--customer", help="The customer's email.")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="Add a tag (repeatable).")] = None,
    untag: Annotated[Optional[list[str]], typer.Option("--untag", help="Remove a tag (repeatable).")] = None,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Edit a ticket's fields; each change is recorded in its history.

    Example: helpdesk ticket update 42 --priority P1 --field fault_code=E17 --tag onsite
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = tickets.update(desk, _number(ticket), title=title, priority=priority, type=type_, fields=field or [],
                              queue=queue, customer=customer, tags_add=tag or [], tags_remove=untag or [],
                              expected_version=if_version)
    _moved(view, fmt, f"updated #{view.number} (version {view.version})")


def _moved(view, fmt: str, line: str) -> None:
    """A changed ticket: the one line for people, or the ticket as JSON."""
    if fmt == "text":
        echo(line)
    else:
        emit(view.to_dict(), fmt)


@app.command()
@output_options("json")
def assign(
    ticket: TicketArg,
    agent: Annotated[Optional[str], typer.Argument(help="Agent login, or 'me'.")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Pick the agent by skills and load.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Assign even if the agent is at capacity.")] = False,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Assign a ticket to an agent (a transfer if it has one), or --auto by skills and load.

    Examples: helpdesk ticket assign 42 me; helpdesk ticket assign 42 --auto
    """
    from helpdesk.services import lifecycle  # lazy: services load the store (see module notes)

    if bool(agent) == auto:
        fail("name an agent or use --auto (not both)", ExitCode.USAGE)
    with open_desk() as desk:
        view = lifecycle.assign(desk, _number(ticket), agent, auto=auto, force=force, expected_version=if_version)
    _moved(view, fmt, f"#{view.number} assigned to {view.assignee} ({view.status})")


@app.command()
@output_options("json")
def status(
    ticket: TicketArg,
    state: Annotated[str, typer.Argument(help="new, assigned, in_progress, pending, resolved, closed")],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why; kept in the history.")] = None,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Move a ticket through its lifecycle; an illegal move exits 1 and changes nothing.

    Example: helpdesk ticket status 42 pending --reason "waiting for the log files"
    """
    from helpdesk.services import lifecycle  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = lifecycle.change_status(desk, _number(ticket), state, reason=reason, expected_version=if_version)
    _moved(view, fmt, f"#{view.number} is {view.status}")


@app.command()
@output_options("json")
def transfer(
    ticket: TicketArg,
    agent: Annotated[Optional[str], typer.Argument(help="Agent login.")] = None,
    queue: Annotated[Optional[str], typer.Option("--queue", help="Hand over to this queue (unassigned).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Even if the agent is at capacity.")] = False,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Transfer a ticket to another agent, or to another queue.

    Examples: helpdesk ticket transfer 42 bob; helpdesk ticket transfer 42 --queue repairs
    """
    from helpdesk.services import lifecycle  # lazy: services load the store (see module notes)

    if bool(agent) == bool(queue):
        fail("name an agent or a --queue", ExitCode.USAGE)
    with open_desk() as desk:
        view = lifecycle.transfer(desk, _number(ticket), agent=agent, queue=queue, force=force,
                                  expected_version=if_version)
    _moved(view, fmt, f"#{view.number} -> {view.assignee or 'queue ' + str(view.queue)} ({view.status})")


@app.command("return")
@output_options("json")
def return_(
    ticket: TicketArg,
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Return a ticket to its queue: unassigned, status new.

    Example: helpdesk ticket return 42 --reason "not my area"
    """
    from helpdesk.services import lifecycle  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = lifecycle.return_to_queue(desk, _number(ticket), reason=reason, expected_version=if_version)
    _moved(view, fmt, f"#{view.number} returned to {'queue ' + view.queue if view.queue else 'the desk'} ({view.status})")


@app.command()
@output_options("json")
def reopen(
    ticket: TicketArg,
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Reopen a resolved ticket (back to its owner, or the queue).

    Example: helpdesk ticket reopen 42 --reason "still broken"
    """
    from helpdesk.services import lifecycle  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = lifecycle.reopen(desk, _number(ticket), reason=reason, expected_version=if_version)
    _moved(view, fmt, f"#{view.number} reopened ({view.status})")


@app.command()
@output_options("json")
def reply(
    ticket: TicketArg,
    body: Annotated[Optional[str], typer.Option("--body", help="The text; '-' reads stdin.")] = None,
    note: Annotated[bool, typer.Option("--note", help="An internal note, not mailed to the customer.")] = False,
    macro: Annotated[Optional[str], typer.Option("--macro", help="Send a named quick reply from the config.")] = None,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Reply to the customer (queued for mail) or add an internal note. No body on a terminal opens $EDITOR;
    --macro NAME sends a configured quick reply (and moves the ticket if the macro says so).

    Examples:
      helpdesk ticket reply 42 --body "Fixed, please try again."
      helpdesk ticket reply 42 --note --body "Vendor case 1234 opened"
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    if macro is not None:
        if body is not None or note:
            fail("--macro sends the macro's own text: no --body or --note with it", ExitCode.USAGE)
        with open_desk() as desk:
            tickets.apply_macro(desk, _number(ticket), macro)
        echo(f"macro '{macro}' applied to #{_number(ticket)}")
        return
    if body == "-":
        body = read_stdin_text()
    elif body is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from helpdesk.core import editor  # lazy: only an interactive reply opens $EDITOR

            what = "note" if note else "reply"
            body = editor.compose(f"Write your {what} to #{_number(ticket)} above this line; everything from it "
                                  f"down is dropped.\nSave an empty {what} to store nothing.")
            if not body:
                fail(f"nothing written: no {what} added")
        elif not sys.stdin.isatty():
            body = read_stdin_text()
        else:
            fail("give --body TEXT or '-' to read stdin", ExitCode.USAGE)
    with open_desk() as desk:
        entry = tickets.reply(desk, _number(ticket), body, note=note, expected_version=if_version)
    if fmt != "text":
        emit(entry.to_dict(), fmt)
    else:
        echo(f"{'note added to' if note else 'reply queued for'} #{_number(ticket)}")


@app.command()
@output_options("json")
def merge(
    source: Annotated[str, typer.Argument(help="The ticket merged away (closed).", metavar="SOURCE")],
    target: Annotated[str, typer.Argument(help="The ticket that remains.", metavar="TARGET")],
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    if_version: IfVersion = None,
    fmt: str = "text",
) -> None:
    """Merge SOURCE into TARGET: conversation and tags move over, SOURCE is closed (--if-version: SOURCE's).

    Example: helpdesk ticket merge 43 42
    """
    from helpdesk.services import lifecycle  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = lifecycle.merge(desk, _number(source), _number(target), reason=reason, expected_version=if_version)
    _moved(view, fmt, f"#{_number(source)} merged into #{view.number}")


@app.command()
@output_options("json")
def rate(
    ticket: TicketArg,
    score: Annotated[int, typer.Argument(help="1 (poor) .. 5 (excellent).", metavar="SCORE")],
    comment: Annotated[Optional[str], typer.Option("--comment")] = None,
    fmt: str = "text",
) -> None:
    """Record the customer's satisfaction score given another way (phone, chat); mail replies are automatic.

    Example: helpdesk ticket rate 42 5 --comment "quick and friendly"
    """
    from helpdesk.services import ratings  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        view = ratings.rate(desk, _number(ticket), score, comment or "")
    if fmt != "text":
        emit(view.to_dict(), fmt)
    else:
        echo(f"#{view.ticket} rated {view.score}/5" + (" (negative feedback alert raised)" if view.score <= 2 else ""))


@app.command()
@output_options("json")
def attach(
    ticket: TicketArg,
    files: Annotated[list[str], typer.Argument(help="Files to attach; '-' reads stdin (with --name).",
                                               metavar="FILE...")],
    name: Annotated[Optional[str], typer.Option("--name", help="The attachment's name (needed for '-'; "
                                                               "renames a single FILE).")] = None,
    fmt: str = "text",
) -> None:
    """Attach files to a ticket (stored once by content hash; the same file twice is listed once).

    Only regular files are taken (not directories, FIFOs or devices), each at most 25 MiB; every
    file is read before anything is stored.

    Examples:
      helpdesk ticket attach 42 screenshot.png vpn.log
      journalctl -u vpn | helpdesk ticket attach 42 - --name vpn.log
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)
    from helpdesk.core import files as files_mod  # lazy: core.files loads tempfile, which only file commands need

    if name is not None and len(files) > 1:
        fail("--name names one file: attach several files one by one to rename them", ExitCode.USAGE)
    if "-" in files and name is None:
        fail("'-' reads the attachment from stdin: give it a name with --name", ExitCode.USAGE)
    if files.count("-") > 1:
        fail("stdin can be read once: give '-' only once", ExitCode.USAGE)
    number = _number(ticket)
    loaded = []  # (name, bytes): every file is read (and checked) before anything is stored
    for item in files:
        if item == "-":
            data = files_mod.read_limited(sys.stdin.buffer, ATTACHMENT_MAX_BYTES, "stdin")
        else:
            data = files_mod.read_regular(Path(item), ATTACHMENT_MAX_BYTES)
        loaded.append((name or Path(item).name, data))
    with open_desk() as desk:
        done = tickets.attach(desk, number, loaded)
    if fmt != "text":
        emit([{**a.to_dict(), "new": new} for a, new in done], fmt)
    else:
        for a, new in done:
            echo(f"attached {a.filename} ({a.size} bytes) to #{number} as {a.index}" if new else
                 f"{a.filename} is already attached to #{number} (as {a.index})")


attachment_app = make_app(help="The attachments of a ticket: list them, save one to a file.\n\n"
                                "Example: helpdesk ticket attachment save 42 1 -o ~/Downloads/")
app.add_typer(attachment_app, name="attachment")
ATTACHMENT_COLUMNS = ["index", "filename", "content_type", "size", "sha256"]


@attachment_app.command("list")
@output_options()
def attachment_list(ticket: TicketArg, fmt: str = "text") -> None:
    """A ticket's attachments, numbered as `attachment save` takes them (each file once).

    Example: helpdesk ticket attachment list 42
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        number = _number(ticket)
        listed = tickets.attachments(desk, number)
    if fmt != "text":
        emit([a.to_dict() for a in listed], fmt, ATTACHMENT_COLUMNS)
        return
    if not listed:
        echo(f"#{number} has no attachments")
    for a in listed:
        echo(f"{a.index:>3}  {a.filename}  ({a.content_type}, {a.size:,} bytes)  sha256 {a.sha256[:12]}")


@attachment_app.command("save")
def attachment_save(
    ticket: TicketArg,
    which: Annotated[str, typer.Argument(help="The attachment's name, or its number in the list (1, 2, ...).",
                                         metavar="NAME_OR_INDEX")],
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="PATH",
        help="Where to write: a file, a directory, or '-' for stdout (default: the attachment's name, "
             "made safe, in the current directory).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Write an attachment out to a file (never over an existing one without --force) or to stdout.

    The stored name only ever becomes a plain file name in the target directory: a name like
    '../../.bashrc' is saved as 'bashrc'.

    Examples:
      helpdesk ticket attachment save 42 1
      helpdesk ticket attachment save 42 screenshot.png -o /tmp/
      helpdesk ticket attachment save 42 vpn.log -o - | less
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        found = tickets.attachment(desk, _number(ticket), which)
    data = found.data
    if output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = found.target(Path(output) if output else None)
    found.save(target, overwrite=force)
    echo(f"saved {target} ({len(data):,} bytes)", err=True)


@app.command()
@output_options("json", "nl")
def history(ticket: TicketArg, fmt: str = "text") -> None:
    """The audit events of a ticket, oldest first.

    Example: helpdesk ticket history 42 --json
    """
    from helpdesk.services import tickets  # lazy: services load the store (see module notes)

    with open_desk() as desk:
        events = tickets.history(desk, _number(ticket))
        zone = desk.config.timezone
    if fmt != "text":
        emit([e.to_dict() for e in events], fmt)
        return
    from helpdesk.cli import render  # lazy: rich is for people only

    render.history(events, local=render.Local(zone=zone))


@app.command("import")
@output_options("json")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV, JSON (array) or NDJSON file; '-' for stdin.", metavar="FILE")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row, store nothing.")] = False,
    format: Annotated[Optional[str], typer.Option("--format", help="csv, tsv, json or nl (default: detect).")] = None,
    delimiter: Annotated[Optional[str], typer.Option(
        "--delimiter", help="The CSV delimiter: one character, or 'tab' (default: sniffed from the header: "
                            "comma, semicolon, tab or pipe).")] = None,
    allow_duplicates: Annotated[bool, typer.Option(
        "--allow-duplicates", help="Import rows without a key even if the same row was imported before.")] = False,
    fmt: str = "text",
) -> None:
    """Import tickets from a spreadsheet or a JSON file: all rows or none. A backup written by
    `helpdesk export --format json` (or nl) is restored whole into an empty desk instead.

    Columns are matched to ticket keys and type fields by name (title, body, type, priority, customer,
    tags, queue, key, status, assignee, created_at, or any field of the row's type). Every refused row
    is listed with its line and reason, and then nothing is stored. A row without a key gets one made
    from its content, so importing the same file twice creates nothing the second time.

    Examples:
      helpdesk ticket import repairs.csv --dry-run
      helpdesk ticket import excel-export.csv --delimiter ';'
      helpdesk ticket import backup.json
    """
    from helpdesk.services import import_export  # lazy: services load the store (see module notes)

    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
        if len(delimiter) != 1 or delimiter in "\"\r\n":
            fail(f"--delimiter must be one character (or 'tab'), not {delimiter!r}", ExitCode.USAGE)
    if str(file) != "-" and not file.is_file():
        fail(f"{file}: {'not a file' if file.exists() else 'no such file'}")
    with open_desk() as desk, Progress("checking rows") as progress:
        report = import_export.import_file(desk, sys.stdin.buffer if str(file) == "-" else file, dry_run=dry_run,
                                           format=format, delimiter=delimiter, allow_duplicates=allow_duplicates,
                                           on_progress=progress.advance)
    for note in report.notes[:200]:
        echo(f"note: {note}", err=True)
    if fmt != "text":
        emit(report.to_dict(), fmt)
    elif report.restored:
        echo(f"{report.rows} tickets checked: the backup would restore (dry run, nothing stored)" if dry_run
             else f"restored {report.created} tickets (#{report.numbers[0]}-#{report.numbers[-1]}) with their "
                  "conversation, attachments and history")
    elif dry_run:
        echo(f"{report.rows} rows checked: all would import (dry run, nothing stored)")
    else:
        echo(f"imported {report.created} tickets ({report.existing} already there by key) from {report.rows} rows")
