"""`helpdesk ticket`: create, find, move and answer tickets."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import CsvFlag, IfVersion, JsonFlag, NlFlag, emit_one, emit_rows, fail, open_desk, output_format

app = make_app()

TicketArg = Annotated[str, typer.Argument(help="Ticket number (42 or #42).", metavar="ID")]
BULK_CHUNK = 2000


def _number(value: str) -> int:
    from helpdesk.tickets import parse_number

    return parse_number(value)


def _print_ticket(view, as_json: bool, full: bool = False) -> None:
    if as_json:
        emit_one(view.to_dict())
    else:
        from helpdesk.cli import render

        render.ticket(view, full=full)


@app.command()
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
    json_: JsonFlag = False,
    nl: NlFlag = False,
) -> None:
    """Create a ticket from flags, or many from JSON on stdin (one object, an array, or NDJSON).

    Examples:
      helpdesk ticket create --title "VPN drops" --type it_support --priority P1 --customer ann@x.example
      cat tickets.ndjson | helpdesk ticket create --json -
    """
    from helpdesk import tickets
    from helpdesk.errors import ExitCode, InvalidInput

    if source not in (None, "-"):
        fail(f"unexpected argument '{source}': use '-' to read JSON from stdin, or --title", ExitCode.USAGE)
    if source == "-":
        if any(v is not None for v in (title, body, type_, priority, customer, key, queue)) or field or tag:
            fail("read tickets from stdin or from flags, not both", ExitCode.USAGE)
        _create_from_stdin(json_, nl)
        return
    if title is None:
        fail("a ticket needs --title (or '-' to read JSON from stdin)", ExitCode.USAGE)
    if body == "-":
        body = sys.stdin.read()
    with open_desk() as desk:
        inp = tickets.TicketInput(title=title, body=body or "", type=type_, priority=priority, customer=customer,
                                  fields=tickets.parse_field_args(field or []), key=key,
                                  tags=tickets.normalise_tags(tag or []), queue=queue, channel="cli")
        view, created = tickets.intake(desk, inp)
    if json_ or nl:
        doc = view.to_dict()
        doc["created"] = created
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=None if nl else 2) + "\n")
    else:
        typer.echo(f"{'created' if created else 'exists'} #{view.number} {view.title}")


def _read_json_records(text: str) -> list[tuple[str, object]]:
    """(where, value) pairs from one JSON document (object or array) or NDJSON; `where` names the
    line (NDJSON) or the array item, for error messages."""
    from helpdesk.errors import InvalidInput

    stripped = text.strip()
    if not stripped:
        raise InvalidInput("no JSON on stdin")
    if stripped[0] == "[":
        try:
            doc = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(doc, list):
            raise InvalidInput("expected a JSON object, an array of objects, or NDJSON")
        return [(f"item {i + 1}", item) for i, item in enumerate(doc)]
    if stripped[0] == "{":
        try:
            return [("line 1", json.loads(stripped))]
        except json.JSONDecodeError:
            pass  # more than one object: NDJSON
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"line {lineno}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {lineno}: not valid JSON: {exc.msg}") from None
    return out


def _create_from_stdin(json_: bool, nl: bool) -> None:
    from helpdesk import tickets
    from helpdesk.errors import InvalidInput

    records = _read_json_records(sys.stdin.read())
    with open_desk() as desk:
        inputs = []
        for where, raw in records:  # everything is checked before anything is stored
            try:
                inp = tickets.parse_record(desk, raw)
                if inp.channel == "cli":
                    inp.channel = "api"
                checked = tickets.validate(desk, inp)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc}") from None
            inputs.append(checked)
        if len(inputs) == 1:
            view, created = tickets.intake(desk, inputs[0].inp)
            if json_ or nl:
                doc = view.to_dict()
                doc["created"] = created
                sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=None if nl else 2) + "\n")
            else:
                typer.echo(f"{'created' if created else 'exists'} #{view.number} {view.title}")
            return
        results = _bulk_intake(desk, inputs)
    rows = ({"input": where, "number": r.number, "created": r.created} for (where, _), r in zip(records, results))
    if json_ or nl:
        emit_rows(rows, "json" if json_ else "nl", ["input", "number", "created"])
    else:
        made = sum(1 for r in results if r.created)
        typer.echo(f"created {made} tickets, {len(results) - made} already existed (idempotency key)")


def _bulk_intake(desk, inputs):
    """Store checked tickets in short transactions, with a progress bar on a terminal."""
    from helpdesk import tickets

    if not (sys.stderr.isatty() and len(inputs) > BULK_CHUNK):
        return tickets.intake_bulk(desk, inputs, chunk=BULK_CHUNK)
    from rich.progress import Progress

    from helpdesk.cli.common import console

    with Progress(console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("creating tickets", total=len(inputs))
        return tickets.intake_bulk(desk, inputs, chunk=BULK_CHUNK,
                                   on_progress=lambda n: progress.advance(task, n))


@app.command("list")
def list_(
    query: Annotated[Optional[list[str]], typer.Argument(help="Query terms, e.g. status:open priority:P0,P1 vpn")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many tickets (0: all).")] = 50,
    json_: JsonFlag = False,
    nl: NlFlag = False,
    csv_: CsvFlag = False,
    fields: Annotated[bool, typer.Option("--fields", help="Include type fields in JSON/CSV.")] = False,
) -> None:
    """List tickets, newest first, filtered by the query language.

    Examples:
      helpdesk ticket list status:open priority:P0,P1
      helpdesk ticket list 'assignee:me "paper jam"' --json
    """
    from helpdesk import tickets
    from helpdesk.errors import ExitCode
    from helpdesk.views import LIST_COLUMNS

    fmt = output_format(json_, nl, csv_)
    if limit < 0:
        fail("--limit cannot be negative", ExitCode.USAGE)
    text = " ".join(query or [])
    with open_desk() as desk:
        found = tickets.list_tickets(desk, text, limit=limit if 0 < limit < 2**31 else None, with_fields=fields)
    if fmt == "text":
        from helpdesk.cli import render

        render.ticket_table(found)
        return
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
    emit_rows(rows, fmt, columns)


@app.command()
def show(
    ticket: TicketArg,
    json_: JsonFlag = False,
    full: Annotated[bool, typer.Option("--full", help="Show each mail whole, with the quoted history and "
                                                      "signature its sender's client added.")] = False,
) -> None:
    """One ticket with its type fields and conversation. A customer's mail shows what they wrote; the
    quoted history below it is hidden (the line under it says how much) and --full shows it. --json
    carries both: "body" (what they wrote) and "full_body" (the whole mail).

    Examples:
      helpdesk ticket show 42
      helpdesk ticket show 42 --full
    """
    from helpdesk import tickets

    with open_desk() as desk:
        view = tickets.get(desk, _number(ticket), conversation=True)
    _print_ticket(view, json_, full=full)


@app.command()
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
    json_: JsonFlag = False,
) -> None:
    """Edit a ticket's fields; each change is recorded in its history.

    Example: helpdesk ticket update 42 --priority P1 --field fault_code=E17 --tag onsite
    """
    from helpdesk import tickets

    with open_desk() as desk:
        view = tickets.update(desk, _number(ticket), title=title, priority=priority, type=type_,
                              fields=tickets.parse_field_args(field or []), queue=queue, customer=customer,
                              tags_add=tag or [], tags_remove=untag or [], expected_version=if_version)
    _print_ticket(view, json_) if json_ else typer.echo(f"updated #{view.number} (version {view.version})")


@app.command()
def assign(
    ticket: TicketArg,
    agent: Annotated[Optional[str], typer.Argument(help="Agent login, or 'me'.")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Pick the agent by skills and load.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Assign even if the agent is at capacity.")] = False,
    if_version: IfVersion = None,
    json_: JsonFlag = False,
) -> None:
    """Assign a ticket to an agent (a transfer if it has one), or --auto by skills and load.

    Examples: helpdesk ticket assign 42 me; helpdesk ticket assign 42 --auto
    """
    from helpdesk import assignment, lifecycle
    from helpdesk.errors import ExitCode

    if bool(agent) == auto:
        fail("name an agent or use --auto (not both)", ExitCode.USAGE)
    with open_desk() as desk:
        number = _number(ticket)
        if auto:
            view = assignment.auto_assign(desk, number, expected_version=if_version)
        else:
            view = lifecycle.assign(desk, number, agent, expected_version=if_version, force=force)
    _print_ticket(view, True) if json_ else typer.echo(f"#{view.number} assigned to {view.assignee} ({view.status})")


@app.command()
def status(
    ticket: TicketArg,
    state: Annotated[str, typer.Argument(help="new, assigned, in_progress, pending, resolved, closed")],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why; kept in the history.")] = None,
    if_version: IfVersion = None,
    json_: JsonFlag = False,
) -> None:
    """Move a ticket through its lifecycle; an illegal move exits 1 and changes nothing.

    Example: helpdesk ticket status 42 pending --reason "waiting for the log files"
    """
    from helpdesk import lifecycle

    with open_desk() as desk:
        view = lifecycle.change_status(desk, _number(ticket), state, reason=reason, expected_version=if_version)
    _print_ticket(view, True) if json_ else typer.echo(f"#{view.number} is {view.status}")


@app.command()
def transfer(
    ticket: TicketArg,
    agent: Annotated[Optional[str], typer.Argument(help="Agent login.")] = None,
    queue: Annotated[Optional[str], typer.Option("--queue", help="Hand over to this queue (unassigned).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Even if the agent is at capacity.")] = False,
    if_version: IfVersion = None,
) -> None:
    """Transfer a ticket to another agent, or to another queue.

    Examples: helpdesk ticket transfer 42 bob; helpdesk ticket transfer 42 --queue repairs
    """
    from helpdesk import lifecycle
    from helpdesk.errors import ExitCode

    if bool(agent) == bool(queue):
        fail("name an agent or a --queue", ExitCode.USAGE)
    with open_desk() as desk:
        if queue:
            view = lifecycle.transfer_to_queue(desk, _number(ticket), queue, expected_version=if_version)
        else:
            view = lifecycle.assign(desk, _number(ticket), agent, expected_version=if_version, force=force)
    typer.echo(f"#{view.number} -> {view.assignee or 'queue ' + str(view.queue)} ({view.status})")


@app.command("return")
def return_(
    ticket: TicketArg,
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    if_version: IfVersion = None,
) -> None:
    """Return a ticket to its queue: unassigned, status new.

    Example: helpdesk ticket return 42 --reason "not my area"
    """
    from helpdesk import lifecycle

    with open_desk() as desk:
        view = lifecycle.return_to_queue(desk, _number(ticket), reason=reason, expected_version=if_version)
    typer.echo(f"#{view.number} returned to {'queue ' + view.queue if view.queue else 'the desk'} ({view.status})")


@app.command()
def reopen(
    ticket: TicketArg,
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    if_version: IfVersion = None,
) -> None:
    """Reopen a resolved ticket (back to its owner, or the queue).

    Example: helpdesk ticket reopen 42 --reason "still broken"
    """
    from helpdesk import lifecycle

    with open_desk() as desk:
        view = lifecycle.reopen(desk, _number(ticket), reason=reason, expected_version=if_version)
    typer.echo(f"#{view.number} reopened ({view.status})")


@app.command()
def reply(
    ticket: TicketArg,
    body: Annotated[Optional[str], typer.Option("--body", help="The text; '-' reads stdin.")] = None,
    note: Annotated[bool, typer.Option("--note", help="An internal note, not mailed to the customer.")] = False,
    macro: Annotated[Optional[str], typer.Option("--macro", help="Send a named quick reply from the config.")] = None,
    if_version: IfVersion = None,
    json_: JsonFlag = False,
) -> None:
    """Reply to the customer (queued for mail) or add an internal note. No body on a terminal opens $EDITOR;
    --macro NAME sends a configured quick reply (and moves the ticket if the macro says so).

    Examples:
      helpdesk ticket reply 42 --body "Fixed, please try again."
      helpdesk ticket reply 42 --note --body "Vendor case 1234 opened"
    """
    from helpdesk import tickets
    from helpdesk.errors import ExitCode

    if macro is not None:
        if body is not None or note:
            fail("--macro sends the macro's own text: no --body or --note with it", ExitCode.USAGE)
        from helpdesk import automation

        with open_desk() as desk:
            automation.apply_macro(desk, _number(ticket), macro)
        typer.echo(f"macro '{macro}' applied to #{_number(ticket)}")
        return
    if body == "-":
        body = sys.stdin.read()
    elif body is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            body = typer.edit("\n# Write your " + ("note" if note else "reply") + " above. Lines starting with # are dropped.\n")
            body = "\n".join(l for l in (body or "").splitlines() if not l.startswith("#")) if body else None
            if not body or not body.strip():
                fail("nothing written: no reply added")
        elif not sys.stdin.isatty():
            body = sys.stdin.read()
        else:
            fail("give --body TEXT or '-' to read stdin", ExitCode.USAGE)
    with open_desk() as desk:
        entry = tickets.reply(desk, _number(ticket), body, note=note, expected_version=if_version)
    if json_:
        emit_one(entry.to_dict())
    else:
        typer.echo(f"{'note added to' if note else 'reply queued for'} #{_number(ticket)}")


@app.command()
def merge(
    source: Annotated[str, typer.Argument(help="The ticket merged away (closed).", metavar="SOURCE")],
    target: Annotated[str, typer.Argument(help="The ticket that remains.", metavar="TARGET")],
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
) -> None:
    """Merge SOURCE into TARGET: conversation and tags move over, SOURCE is closed.

    Example: helpdesk ticket merge 43 42
    """
    from helpdesk import lifecycle

    with open_desk() as desk:
        view = lifecycle.merge(desk, _number(source), _number(target), reason=reason)
    typer.echo(f"#{_number(source)} merged into #{view.number}")


@app.command()
def rate(
    ticket: TicketArg,
    score: Annotated[int, typer.Argument(help="1 (poor) .. 5 (excellent).", metavar="SCORE")],
    comment: Annotated[Optional[str], typer.Option("--comment")] = None,
) -> None:
    """Record the customer's satisfaction score given another way (phone, chat); mail replies are automatic.

    Example: helpdesk ticket rate 42 5 --comment "quick and friendly"
    """
    from helpdesk import ratings

    with open_desk() as desk:
        view = ratings.record(desk, _number(ticket), score, comment or "", via="agent")
    typer.echo(f"#{view.ticket} rated {view.score}/5" + (" (negative feedback alert raised)" if view.score <= 2 else ""))


@app.command()
def attach(
    ticket: TicketArg,
    files: Annotated[list[Path], typer.Argument(help="Files to attach.", metavar="FILE...")],
    json_: JsonFlag = False,
) -> None:
    """Attach files to a ticket (stored once by content hash).

    Example: helpdesk ticket attach 42 screenshot.png vpn.log
    """
    import mimetypes

    from helpdesk import attachments

    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
    done = []
    with open_desk() as desk:
        number = _number(ticket)
        for path in files:
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            done.append(attachments.add(desk, number, path.name, path.read_bytes(), content_type=ctype))
    if json_:
        emit_rows((a.to_dict() for a in done), "json", [])
    else:
        for a in done:
            typer.echo(f"attached {a.filename} ({a.size} bytes) to #{number}")


@app.command()
def history(ticket: TicketArg, json_: JsonFlag = False, nl: NlFlag = False) -> None:
    """The audit events of a ticket, oldest first.

    Example: helpdesk ticket history 42 --json
    """
    from helpdesk import audit, tickets

    with open_desk() as desk:
        number = _number(ticket)
        tickets.fetch(number)
        events = audit.history(desk, number)
    if json_ or nl:
        emit_rows((e.to_dict() for e in events), "json" if json_ else "nl", [])
        return
    from helpdesk.cli import render

    render.history(events)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV, JSON (array) or NDJSON file; '-' for stdin.", metavar="FILE")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row, store nothing.")] = False,
    format: Annotated[Optional[str], typer.Option("--format", help="csv, tsv, json or nl (default: detect).")] = None,
    json_: JsonFlag = False,
) -> None:
    """Import tickets from a spreadsheet or a JSON file: all rows or none.

    Columns are matched to ticket keys and type fields by name (title, body, type, priority, customer,
    tags, queue, key, status, assignee, created_at, or any field of the row's type). Every refused row
    is listed with its line and reason, and then nothing is stored.

    Example: helpdesk ticket import repairs.csv --dry-run
    """
    from helpdesk import transfer
    from helpdesk.errors import ExitCode

    if str(file) != "-" and not file.is_file():
        fail(f"{file}: {'not a file' if file.exists() else 'no such file'}")
    with open_desk() as desk:
        report = transfer.import_file(desk, sys.stdin.buffer if str(file) == "-" else file, dry_run=dry_run,
                                      format=format)
    if report.errors:
        for err in report.errors[:200]:
            typer.echo(f"error: {err}", err=True)
        if len(report.errors) > 200:
            typer.echo(f"error: ... and {len(report.errors) - 200} more", err=True)
        typer.echo(f"error: {len(report.errors)} of {report.rows} rows refused: nothing imported", err=True)
        raise typer.Exit(int(ExitCode.FAILED))
    if json_:
        emit_one(report.to_dict())
    elif dry_run:
        typer.echo(f"{report.rows} rows checked: all would import (dry run, nothing stored)")
    else:
        typer.echo(f"imported {report.created} tickets ({report.existing} already there by key) from {report.rows} rows")
