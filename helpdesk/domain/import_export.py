"""Bulk import (CSV, TSV, JSON array, NDJSON) and export, for teams moving over from spreadsheets.

Import is all or nothing: every row is checked first, every refused row is reported with its line and
reason, and only a clean file is stored, in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import hashlib
import heapq
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, IO, Iterator

from helpdesk.core import limits
from helpdesk.core.errors import InvalidInput
from helpdesk.core.formats import emit_rows
from helpdesk.core.inputs import decode_utf8, load_json
from helpdesk.core.sanitise import FORMULA_START
from helpdesk.core.vocabulary import CHANNELS, ENTRY_KINDS, PRIORITIES, SLA_KINDS as KINDS, STATES
from helpdesk.domain import attachments, audit, organisations, sla, tickets
from helpdesk.store import bulk, extensions, queries, search, sql
from helpdesk.store.db import is_postgres, refresh_statistics
from helpdesk.store.models import (
    Agent, Attachment, AuditEvent, ConversationEntry, Customer, Outbox, Queue, Rating, RuleRun, SlaClock, Ticket,
    TicketContact, TicketTag,
)

# Columns an export writes that an import accepts and ignores (they describe the old system's state).
READ_ONLY_COLUMNS = {"number", "updated_at", "first_response_at", "resolved_at", "closed_at", "version",
                     "sla_state", "merged_into", "parent", "conversation", "id"}
IMPORT_ONLY_KEYS = {"status", "assignee", "created_at"}
EXPORT_COLUMNS = ["number", "title", "description", "type", "status", "priority", "queue", "assignee", "customer",
                  "organisation", "channel", "tags", "idempotency_key", "created_at", "updated_at",
                  "first_response_at", "resolved_at", "closed_at", "version"]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    existing: int = 0
    numbers: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False
    restored: bool = False  # the file was a backup, restored whole (`restore`)
    notes: list[str] = field(default_factory=list)  # what a restore could not keep (links out of the file, ...)

    def to_dict(self) -> dict:
        return asdict(self)


def _detect(name: str, head: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix in (".ndjson", ".jsonl"):
        return "nl"
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 byte order mark is not content
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "nl"
    return "csv"


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


CSV_DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV file, read from its header row: the candidate (comma, semicolon as
    European Excel writes, tab, pipe) found most often outside quotes; a comma when none is."""
    counts = dict.fromkeys(CSV_DELIMITERS, 0)
    quoted = False
    for char in text[:65536]:
        if char == '"':
            quoted = not quoted
        elif not quoted:
            if char in "\r\n":
                break
            if char in counts:
                counts[char] += 1
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])  # ties: the first listed
    return best if counts[best] else ","


def csv_cell_value(cell: str) -> str:
    """A CSV cell's value: the apostrophe our CSV export puts before a cell a spreadsheet would run as a
    formula (`'=SUM(A1)`, `'-5 degrees`) is taken off again, so an export imports back as it was."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_START):
        return cell[1:]
    return cell


def read_rows(source: Path | IO[bytes], format: str | None = None,
              delimiter: str | None = None) -> Iterator[tuple[str, Any]]:
    """(where, row) pairs; `where` is the line (or array item) for error messages. A CSV file's
    delimiter is `delimiter`, else a tab for TSV, else sniffed from its header row."""
    if isinstance(source, Path):
        data, name = source.read_bytes(), source.name
    else:
        data, name = source.read(), ""
    format = format or _detect(name, data[:64])
    # Spreadsheets may come from old Excel (cp1252); JSON is UTF-8 by definition: anything else is refused.
    text = _decode(data) if format in ("csv", "tsv") else decode_utf8(data, name or "stdin")
    if format in ("csv", "tsv"):
        if delimiter is None:
            delimiter = "\t" if format == "tsv" else sniff_delimiter(text.removeprefix("\ufeff"))
        # csv.reader, not DictReader: a blank line is skipped but still counted, so every row is
        # reported on the line where it starts (quoted cells may span lines).
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = next(reader, None)
            if not header:
                raise InvalidInput("the file is empty: a header row is needed")
            start = reader.line_num + 1
            for cells in reader:
                if cells:
                    if len(cells) > len(header):
                        yield f"line {start}", {"__extra__": cells[len(header):]}
                    else:
                        yield f"line {start}", dict(zip(header, (csv_cell_value(c) for c in cells)))
                start = reader.line_num + 1
        except csv.Error as exc:  # e.g. a cell over the size limit: the file cannot be read on
            raise InvalidInput(f"line {reader.line_num}: not readable as {format.upper()}: {exc}") from None
    elif format == "json":
        try:
            doc = load_json(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(doc, list):
            doc = [doc]
        for i, row in enumerate(doc, 1):
            yield f"item {i}", row
    elif format == "nl":
        for lineno, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON strings may hold U+2028
            if not line.strip():
                continue
            try:
                yield f"line {lineno}", load_json(line)
            except json.JSONDecodeError as exc:
                yield f"line {lineno}", InvalidInput(f"not valid JSON: {exc.msg}")
            except InvalidInput as exc:
                yield f"line {lineno}", exc
    else:
        raise InvalidInput(f"unknown format '{format}' (csv, tsv, json, nl)")


def _normalise_row(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if key is None:
            continue
        name = str(key).strip().lower().replace(" ", "_").replace("-", "_")
        if name.startswith("field."):
            name = name[len("field."):]
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        if value is None or name in READ_ONLY_COLUMNS:
            continue
        out[name] = value
    return out



def parse_time(value: Any, what: str) -> dt.datetime:
    """An ISO date/time (any offset, or none: UTC) as the store keeps it: naive UTC."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} '{value}' is not an ISO date/time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


@dataclass
class _Extra:
    status: str | None = None
    assignee: int | None = None
    created_at: dt.datetime | None = None


def _import_extras(row: dict, agents: dict[str, int]) -> _Extra:
    extra = _Extra()
    status = row.pop("status", None)
    login = row.pop("assignee", None)
    created = row.pop("created_at", None)
    if status is not None:
        status = str(status).strip().lower().replace(" ", "_")
        if status not in STATES:
            raise InvalidInput(f"status '{status}' is not one of {', '.join(STATES)}")
        extra.status = status
    if login is not None:
        if str(login) not in agents:
            raise InvalidInput(f"assignee '{login}' is not an agent (add it with helpdesk agent add)")
        extra.assignee = agents[str(login)]
    if extra.status in ("assigned", "in_progress", "pending") and extra.assignee is None:
        raise InvalidInput(f"status '{extra.status}' needs an assignee")
    if created is not None:
        extra.created_at = parse_time(created, "created_at")
    return extra


def content_key(row: dict, occurrence: int = 0) -> str:
    """The idempotency key of a row that brings none: a hash of its normalised content (`import:...`),
    so importing the same file twice finds every ticket already there. The n-th identical row of one
    file gets a key of its own, so identical rows are still as many tickets as the file has."""
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    if occurrence:
        text += f"\x00{occurrence}"
    return "import:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def import_file(desk, source: Path | IO[bytes], *, dry_run: bool = False, format: str | None = None,
                delimiter: str | None = None, allow_duplicates: bool = False, on_progress=None) -> ImportReport:
    """Import tickets; a backup (`export --format json` or `nl`) is restored whole instead (`restore`).

    A row without a key gets one derived from its content (`content_key`) unless `allow_duplicates`.
    `on_progress(n)`: called as rows are checked (a front end's progress bar)."""
    rows = list(read_rows(source, format, delimiter))
    if not rows:
        raise InvalidInput("the file holds no rows")
    backup = [is_backup_row(row) for _, row in rows]
    if any(backup):
        if not all(backup):
            where = next(w for (w, _), b in zip(rows, backup) if not b)
            raise InvalidInput(f"{where}: a backup's rows all carry their number and history; this one does not")
        return restore(desk, rows, dry_run=dry_run)
    report = ImportReport(dry_run=dry_run)
    agents = dict(Agent.select(Agent.login, Agent.id).tuples())
    inputs: list[tickets.TicketInput] = []
    extras: list[_Extra] = []
    occurrences: dict[str, int] = {}
    for where, raw in rows:
        report.rows += 1
        if on_progress:
            on_progress(1)
        try:
            if isinstance(raw, Exception):
                raise raw
            if not isinstance(raw, dict):
                raise InvalidInput("expected an object with ticket keys")
            if "__extra__" in raw:
                raise InvalidInput("more cells than header columns")
            row = _normalise_row(raw)
            derived = None
            if not allow_duplicates and not (row.get("key") or row.get("idempotency_key")):
                derived = content_key(row)
                occurrences[derived] = occurrences.get(derived, -1) + 1
                derived = content_key(row, occurrences[derived])
            extra = _import_extras(row, agents)
            inp = tickets.parse_record(desk, row, flat_fields=True)
            if derived:
                inp.key = derived
            if inp.channel == "cli":
                inp.channel = "import"
            checked = tickets.validate(desk, inp)
        except InvalidInput as exc:
            report.errors.append(f"{where}: {exc}")
            continue
        inputs.append(checked)
        extras.append(extra)
    if report.errors or dry_run:
        return report
    with desk.db.atomic():
        results = tickets.intake_many(desk, inputs)
        for result, extra in zip(results, extras):
            report.numbers.append(result.number)
            if not result.created:
                report.existing += 1
                continue
            report.created += 1
            changes: dict[str, Any] = {}
            if extra.created_at:
                # status_changed_at too: `in_status:` and the time rules count from it.
                changes.update(created_at=extra.created_at, updated_at=extra.created_at,
                               status_changed_at=extra.created_at)
            if extra.assignee:
                changes["assignee"] = extra.assignee
            if extra.status and extra.status != "new":
                changes["status"] = extra.status
                when = extra.created_at or desk.now()
                if extra.status in ("resolved", "closed"):
                    changes["resolved_at"] = when
                if extra.status == "closed":
                    changes["closed_at"] = when
            if changes:
                Ticket.update(**changes).where(Ticket.number == result.number).execute()
                audit.record(desk, result.number, "imported",
                             **{k: (v if not isinstance(v, dt.datetime) else v.isoformat()) for k, v in changes.items()
                                if k in ("status", "created_at")},
                             **({"assignee": next(l for l, i in agents.items() if i == extra.assignee)}
                                if extra.assignee else {}))
                if extra.status and extra.status != "new":
                    sla.on_status_change(desk, result.number, "new", extra.status)
    if report.created >= 1000:
        refresh_statistics(desk.db, full=True)
    return report


# ---------------------------------------------------------------- backups: export --format json|nl, restore

# What a backup row carries beyond a ticket's own columns (see `backup_rows`).
BACKUP_DETAILS = ("conversation", "attachments", "contacts", "rating", "sla_clocks", "rule_runs", "mail", "history")


def is_backup_row(row: Any) -> bool:
    """A row of a backup: it names its ticket's number and carries its history."""
    return isinstance(row, dict) and "number" in row and "history" in row


def stamp(value: dt.datetime | dt.date | None) -> str | None:
    """A stored time, exactly (to the microsecond), as ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return value.isoformat()


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _backup_batch(desk, batch: list, with_bytes: bool) -> Iterator[dict]:
    """Backup rows of a batch of ticket views: every detail read with one query per table."""
    numbers = [v.number for v in batch]
    by_number: dict[int, dict] = {n: {k: [] for k in BACKUP_DETAILS} for n in numbers}
    for number in numbers:
        by_number[number]["rating"] = None
    rows = {t.number: t for t in Ticket.select().where(Ticket.number.in_(numbers))}
    customer_ids = sorted({t.customer_id for t in rows.values() if t.customer_id})
    names = dict(Customer.select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids)).tuples()) \
        if customer_ids else {}
    agents = dict(Agent.select(Agent.id, Agent.login).tuples())
    customers: dict[int, str] = {}
    entries = list(ConversationEntry.select().where(ConversationEntry.ticket.in_(numbers)).order_by(ConversationEntry.id))
    wanted = sorted({e.author_customer_id for e in entries if e.author_customer_id})
    for part in _chunks(wanted):
        customers.update(Customer.select(Customer.id, Customer.email).where(Customer.id.in_(part)).tuples())
    for e in entries:
        by_number[e.ticket_id]["conversation"].append({
            "id": e.id, "kind": e.kind, "author_agent": agents.get(e.author_agent_id),
            "author_customer": customers.get(e.author_customer_id), "body": e.body, "full_body": e.full_body,
            "message_id": e.message_id, "created_at": stamp(e.created_at)})
    for a in Attachment.select().where(Attachment.ticket.in_(numbers)).order_by(Attachment.id):
        path = attachments.blob_path(a.sha256)
        data = base64.b64encode(path.read_bytes()).decode("ascii") if with_bytes and path.exists() else None
        by_number[a.ticket_id]["attachments"].append({
            "id": a.id, "entry": a.entry_id, "filename": a.filename, "content_type": a.content_type,
            "size": a.size, "sha256": a.sha256, "created_at": stamp(a.created_at), "content_base64": data})
    for c in TicketContact.select().where(TicketContact.ticket.in_(numbers)).order_by(TicketContact.id):
        by_number[c.ticket_id]["contacts"].append({"email": c.email, "role": c.role})
    for r in Rating.select().where(Rating.ticket.in_(numbers)):
        by_number[r.ticket_id]["rating"] = {"score": r.score, "comment": r.comment, "via": r.via,
                                            "created_at": stamp(r.created_at)}
    for c in SlaClock.select().where(SlaClock.ticket.in_(numbers)).order_by(SlaClock.id):
        by_number[c.ticket_id]["sla_clocks"].append({
            "kind": c.kind, "policy": c.policy, "calendar": c.calendar, "target_minutes": c.target_minutes,
            "state": c.state, "started_at": stamp(c.started_at), "used_seconds": c.used_seconds,
            "due_at": stamp(c.due_at), "risk_at": stamp(c.risk_at), "stopped_at": stamp(c.stopped_at),
            "at_risk_fired_at": stamp(c.at_risk_fired_at), "breached_fired_at": stamp(c.breached_fired_at)})
    for r in RuleRun.select().where(RuleRun.ticket.in_(numbers)).order_by(RuleRun.id):
        by_number[r.ticket_id]["rule_runs"].append({"rule": r.rule, "anchor": stamp(r.anchor),
                                                    "fired_at": stamp(r.fired_at)})
    for m in Outbox.select().where(Outbox.ticket.in_(numbers)).order_by(Outbox.id):
        by_number[m.ticket_id]["mail"].append({
            "id": m.id, "entry": m.entry_id, "kind": m.kind, "to_addr": m.to_addr, "subject": m.subject,
            "body": m.body, "message_id": m.message_id, "in_reply_to": m.in_reply_to, "references": m.references,
            "auto": m.auto, "status": m.status, "attempts": m.attempts, "next_attempt_at": stamp(m.next_attempt_at),
            "last_error": m.last_error, "created_at": stamp(m.created_at), "sent_at": stamp(m.sent_at)})
    for e in AuditEvent.select().where(AuditEvent.ticket.in_(numbers)).order_by(AuditEvent.id):
        by_number[e.ticket]["history"].append({"actor": e.actor, "action": e.action, "data": json.loads(e.data),
                                               "created_at": stamp(e.created_at)})
    for view in batch:
        row = rows[view.number]
        doc = view.to_dict()
        doc.update({key: stamp(getattr(row, key)) for key in
                    ("created_at", "updated_at", "status_changed_at", "first_response_at", "resolved_at", "closed_at")})
        doc["customer_name"] = names.get(row.customer_id) if row.customer_id else None
        doc.update(by_number[view.number])
        yield doc


def backup_rows(desk, query: str = "", *, with_bytes: bool = True) -> Iterator[dict]:
    """Every matching ticket, newest first, whole: its columns and type fields exactly (times to the
    microsecond), conversation, attachments with their bytes (base64), CCs, rating, SLA clocks, the time
    rules that fired on it, its mail and its history. `restore` puts such rows back as they were.
    A bad query fails at the call, before the first row is asked for."""
    return _backup_rows(desk, tickets.iter_tickets(desk, query, batch=200), with_bytes)


def _backup_rows(desk, found, with_bytes: bool) -> Iterator[dict]:
    batch: list = []
    for view in found:
        batch.append(view)
        if len(batch) == 200:
            yield from _backup_batch(desk, batch, with_bytes)
            batch = []
    if batch:
        yield from _backup_batch(desk, batch, with_bytes)


class _Doc:
    """Typed reading of one object of a backup; a bad value is an error naming where it is."""

    def __init__(self, doc: Any, where: str):
        if not isinstance(doc, dict):
            raise InvalidInput(f"{where or 'the row'} must be an object")
        self.doc = doc
        self.where = where

    def _bad(self, key: str, what: str) -> InvalidInput:
        return InvalidInput(f"{self.where}{key} {what}")

    def get(self, key: str) -> Any:
        return self.doc.get(key)

    def text(self, key: str, *, maximum: int | None = None, required: bool = False) -> str | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                raise self._bad(key, "is missing")
            return None
        if not isinstance(value, str):
            raise self._bad(key, "must be text")
        if "\x00" in value:
            raise self._bad(key, "contains a NUL character")
        if maximum is not None and len(value) > maximum:
            raise self._bad(key, f"is longer than {maximum:,} characters")
        return value

    def choice(self, key: str, options, *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is not None and value not in options:
            raise self._bad(key, f"'{value}' is not one of {', '.join(o for o in options if o)}")
        return value

    def integer(self, key: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                raise self._bad(key, "is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not -2**63 <= value < 2**63:
            raise self._bad(key, f"must be a whole number, not {value!r}")
        if minimum is not None and value < minimum:
            raise self._bad(key, f"must be at least {minimum}, not {value}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.doc.get(key, False)
        if not isinstance(value, bool):
            raise self._bad(key, "must be true or false")
        return value

    def time(self, key: str, *, required: bool = False) -> dt.datetime | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                raise self._bad(key, "is missing")
            return None
        return parse_time(value, f"{self.where}{key}")

    def objects(self, key: str) -> list[_Doc]:
        value = self.doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._bad(key, "must be a list")
        return [_Doc(item, f"{self.where}{key}[{i}].") for i, item in enumerate(value)]


@dataclass
class _Backup:
    """A backup checked whole, as rows ready for their tables (agents and customers by name until written)."""

    tickets: list[dict] = field(default_factory=list)
    links: list[tuple[int, int | None, int | None]] = field(default_factory=list)  # number, merged_into, parent
    tags: list[tuple[int, str]] = field(default_factory=list)
    fields: dict[str, list[dict]] = field(default_factory=dict)  # type -> extension rows
    customers: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # email -> name, organisation
    entries: list[dict] = field(default_factory=list)
    attachments: list[tuple] = field(default_factory=list)
    blobs: dict[str, bytes] = field(default_factory=dict)
    contacts: list[tuple] = field(default_factory=list)
    ratings: list[tuple] = field(default_factory=list)
    clocks: list[tuple] = field(default_factory=list)
    rule_runs: list[tuple] = field(default_factory=list)
    mail: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # (created_at, number, actor, action, data), per ticket in order
    agents: set[str] = field(default_factory=set)


def _unique(seen: set, value: Any, what: str) -> None:
    """Numbers, ids, keys and Message-IDs are unique in a backup as they are in a desk."""
    if value in seen:
        raise InvalidInput(f"{what} is in the file twice")
    seen.add(value)


def _check_backup_row(desk, doc: _Doc, into: _Backup, seen: dict[str, set]) -> None:
    """Check one backup row and add what it holds to `into`; every problem is an InvalidInput."""
    number = doc.integer("number", required=True, minimum=1)
    if number > 2**31 - 1:
        raise InvalidInput(f"number {number} is beyond the range of ticket numbers")
    _unique(seen["numbers"], number, f"ticket #{number}")
    title = doc.text("title", required=True, maximum=limits.TITLE_MAX)
    if not title.strip():
        raise InvalidInput("title is empty")
    ttype = tickets.ticket_type(desk, doc.text("type"))
    values = doc.get("fields") or {}
    if not isinstance(values, dict):
        raise InvalidInput("fields must be an object")
    fields = tickets.check_fields(ttype, {k: v for k, v in values.items() if v is not None}, creating=False)
    queue = doc.text("queue")
    if queue is not None and desk.config.queue(queue) is None:
        raise InvalidInput(f"queue '{queue}' is not configured (add [[queue]] name = \"{queue}\")")
    assignee = doc.text("assignee")
    if assignee is not None:
        into.agents.add(assignee)
    customer = doc.text("customer", maximum=limits.EMAIL_MAX)
    if customer is not None:
        customer = customer.strip().lower()
        into.customers.setdefault(customer, (doc.text("customer_name", maximum=limits.PERSON_NAME_MAX) or "",
                                             doc.text("organisation", maximum=limits.ORGANISATION_MAX)))
    key = doc.text("idempotency_key", maximum=limits.IDEMPOTENCY_KEY_MAX)
    if key is not None:
        _unique(seen["keys"], key, f"idempotency key '{key}'")
    created = doc.time("created_at", required=True)
    into.tickets.append({
        "number": number, "title": title, "description": doc.text("description") or "",
        "type": ttype.name if ttype else None, "status": doc.choice("status", STATES),
        "priority": doc.choice("priority", PRIORITIES), "queue": queue, "assignee": assignee,
        "customer": customer, "channel": doc.choice("channel", CHANNELS),
        "idempotency_key": key, "created_at": created, "updated_at": doc.time("updated_at") or created,
        "status_changed_at": doc.time("status_changed_at"), "first_response_at": doc.time("first_response_at"),
        "resolved_at": doc.time("resolved_at"), "closed_at": doc.time("closed_at"),
        "sla_state": doc.choice("sla_state", (None, "at_risk", "breached"), required=False),
        "version": doc.integer("version", minimum=1) or 1,
    })
    into.links.append((number, doc.integer("merged_into", minimum=1), doc.integer("parent", minimum=1)))
    tags = doc.get("tags") or []
    if not isinstance(tags, list):
        raise InvalidInput("tags must be a list")
    into.tags += [(number, tag) for tag in tickets.normalise_tags(tags)]
    if ttype is not None:
        into.fields.setdefault(ttype.name, []).append({"ticket": number, **fields})

    for entry in doc.objects("conversation"):
        entry_id = entry.integer("id", required=True, minimum=1)
        _unique(seen["entries"], entry_id, f"conversation entry {entry_id}")
        message_id = entry.text("message_id", maximum=500)
        if message_id is not None:
            _unique(seen["message_ids"], message_id, f"Message-ID {message_id}")
        agent = entry.text("author_agent")
        if agent is not None:
            into.agents.add(agent)
        author = entry.text("author_customer", maximum=limits.EMAIL_MAX)
        if author is not None:
            author = author.strip().lower()
            into.customers.setdefault(author, ("", None))
        into.entries.append({"id": entry_id, "ticket": number, "kind": entry.choice("kind", ENTRY_KINDS),
                             "author_agent": agent, "author_customer": author, "body": entry.text("body") or "",
                             "full_body": entry.text("full_body"), "message_id": message_id, "created_at": entry.time("created_at", required=True)})
    for att in doc.objects("attachments"):
        att_id = att.integer("id", required=True, minimum=1)
        _unique(seen["attachments"], att_id, f"attachment {att_id}")
        digest = (att.text("sha256", required=True) or "").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InvalidInput(f"{att.where}sha256 is not a SHA-256 in hex")
        size = att.integer("size", required=True, minimum=0)
        encoded = att.text("content_base64")
        if encoded is not None:
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInput(f"{att.where}content_base64 is not base64") from None
            if hashlib.sha256(data).hexdigest() != digest or len(data) != size:
                raise InvalidInput(f"{att.where}content_base64 does not match its sha256 and size: "
                                   "the file is damaged")
            into.blobs[digest] = data
        into.attachments.append((att_id, number, att.integer("entry"), att.text("filename", required=True, maximum=255),
                                 att.text("content_type", maximum=200) or "application/octet-stream", size, digest,
                                 att.time("created_at", required=True)))
    for contact in doc.objects("contacts"):
        into.contacts.append((number, contact.text("email", required=True, maximum=limits.EMAIL_MAX),
                              contact.text("role", maximum=8) or "cc"))
    rating = doc.get("rating")
    if rating is not None:
        r = _Doc(rating, "rating.")
        score = r.integer("score", required=True, minimum=1)
        if score > 5:
            raise InvalidInput(f"rating.score must be 1 to 5, not {score}")
        into.ratings.append((number, score, r.text("comment") or "", r.text("via", maximum=16) or "email",
                             r.time("created_at", required=True)))
    for clock in doc.objects("sla_clocks"):
        into.clocks.append((number, clock.choice("kind", KINDS), clock.text("policy", required=True, maximum=100),
                            clock.text("calendar", required=True, maximum=100),
                            clock.integer("target_minutes", required=True, minimum=0),
                            clock.choice("state", ("running", "paused", "stopped")), clock.time("started_at"),
                            clock.integer("used_seconds", minimum=0) or 0, clock.time("due_at"), clock.time("risk_at"),
                            clock.time("stopped_at"), clock.time("at_risk_fired_at"), clock.time("breached_fired_at")))
    for run in doc.objects("rule_runs"):
        into.rule_runs.append((run.text("rule", required=True, maximum=100), number, run.time("anchor", required=True),
                               run.time("fired_at", required=True)))
    for mail in doc.objects("mail"):
        mail_id = mail.integer("id", required=True, minimum=1)
        _unique(seen["mail"], mail_id, f"mail {mail_id}")
        message_id = mail.text("message_id", required=True, maximum=500)
        _unique(seen["outbox_ids"], message_id, f"outgoing Message-ID {message_id}")
        into.mail.append((mail_id, number, mail.integer("entry"), mail.text("kind", maximum=24) or "reply",
                          mail.text("to_addr", required=True, maximum=limits.EMAIL_MAX),
                          mail.text("subject", maximum=500) or "", mail.text("body") or "", message_id,
                          mail.text("in_reply_to", maximum=500), mail.text("references") or "", mail.boolean("auto"),
                          mail.choice("status", ("queued", "sent", "failed")), mail.integer("attempts", minimum=0) or 0,
                          mail.time("next_attempt_at") or mail.time("created_at", required=True), mail.text("last_error"),
                          mail.time("created_at", required=True), mail.time("sent_at")))
    for event in doc.objects("history"):
        data = event.get("data") or {}
        if not isinstance(data, dict):
            raise InvalidInput(f"{event.where}data must be an object")
        when = event.time("created_at", required=True)
        into.events.append((when, number, event.text("actor", required=True, maximum=100),
                            event.text("action", required=True, maximum=48), audit.encode(data)))


def restore(desk, rows: list[tuple[str, Any]], *, dry_run: bool = False) -> ImportReport:
    """Put a backup (`backup_rows`) back into an empty desk, as it was: the same numbers, conversation
    (entry ids and Message-IDs), attachments, links, ratings, SLA clocks, mail and history. Nothing is
    started, routed, mailed or run: the tickets are restored, not created. All or nothing.

    Attachment bytes come from the file (base64); an attachment without them must already be in this
    desk's attachment store. Agents named in the backup (assignees, authors) must exist on this desk."""
    report = ImportReport(dry_run=dry_run, restored=True)
    into = _Backup()
    seen: dict[str, set] = {k: set() for k in ("numbers", "keys", "entries", "message_ids", "attachments",
                                               "mail", "outbox_ids")}
    for where, raw in rows:
        report.rows += 1
        try:
            if isinstance(raw, Exception):
                raise raw
            _check_backup_row(desk, _Doc(raw, ""), into, seen)
        except InvalidInput as exc:
            report.errors.append(f"{where}: {exc}")
    known = set(dict(Agent.select(Agent.login, Agent.id).tuples()))
    missing = sorted(into.agents - known)
    if missing:
        report.errors.append(f"the backup names agents this desk does not have: {', '.join(missing)} "
                             "(add them with helpdesk agent add, then import again)")
    have = Ticket.select().count()
    if have or Outbox.select().exists():
        report.errors.append(f"this file is a backup (numbers, conversation, history): it restores only into "
                             f"an empty desk, and this one has {have:,} tickets"
                             + ("" if have else " and mail in its outbox"))
    for _, _, _, _, _, _, digest, _ in into.attachments:
        if digest not in into.blobs and not attachments.blob_path(digest).exists():
            report.notes.append(f"attachment {digest[:12]}: its bytes are neither in the file nor in this desk's "
                                "attachment store (restored without them)")
    numbers = {t["number"] for t in into.tickets}
    links = []
    for number, merged_into, parent in into.links:
        for what, target in (("merged into", merged_into), ("follow-up of", parent)):
            if target is not None and target not in numbers:
                report.notes.append(f"#{number} {what} #{target}, which is not in the file: link dropped")
        links.append((number, merged_into if merged_into in numbers else None, parent if parent in numbers else None))
    entry_ids = {e["id"] for e in into.entries}
    into.attachments = [(*a[:2], a[2] if a[2] in entry_ids else None, *a[3:]) for a in into.attachments]
    into.mail = [(*m[:2], m[2] if m[2] in entry_ids else None, *m[3:]) for m in into.mail]
    report.numbers = sorted(numbers)
    if report.errors or dry_run:
        return report
    for data in into.blobs.values():  # bytes first: a row never names bytes that are not there
        attachments.store_bytes(data)
    with desk.db.atomic():
        if Ticket.select().exists():  # someone created a ticket since the check: numbers would collide
            raise InvalidInput("a ticket was created while the backup was checked: it restores only into an "
                               "empty desk")
        _write_backup(desk, into, links)
        audit.record(desk, None, "restored", tickets=len(into.tickets), entries=len(into.entries),
                     attachments=len(into.attachments), events=len(into.events))
    report.created = len(into.tickets)
    if report.created >= 1000:
        refresh_statistics(desk.db, full=True)
    return report


def _write_backup(desk, into: _Backup, links: list[tuple[int, int | None, int | None]]) -> None:
    agents = dict(Agent.select(Agent.login, Agent.id).tuples())
    queues = dict(Queue.select(Queue.name, Queue.id).tuples())
    emails = sorted(into.customers)
    customers: dict[str, int] = {}
    for part in _chunks(emails):
        customers.update(Customer.select(Customer.email, Customer.id).where(Customer.email.in_(part)).tuples())
    new = [e for e in emails if e not in customers]
    if new:
        org_of = {e: into.customers[e][1] or organisations.for_address(desk, e) for e in new}
        org_ids = tickets.organisation_ids(o for o in org_of.values() if o)
        bulk.insert_rows(Customer, ("email", "name", "organisation", "created_at"),
                         [(e, into.customers[e][0], org_ids.get(org_of[e]), desk.now()) for e in new])
        for part in _chunks(new):
            customers.update(Customer.select(Customer.email, Customer.id).where(Customer.email.in_(part)).tuples())

    columns = ("number", "title", "description", "type", "status", "priority", "queue", "assignee", "customer",
               "channel", "idempotency_key", "created_at", "updated_at", "status_changed_at", "first_response_at",
               "resolved_at", "closed_at", "sla_state", "version")
    resolve = {"queue": queues.get, "assignee": agents.get, "customer": customers.get}
    bulk.insert_rows(Ticket, columns, [
        tuple(resolve[c](t[c]) if c in resolve and t[c] is not None else t[c] for c in columns)
        for t in sorted(into.tickets, key=lambda t: t["number"])])
    for number, merged_into, parent in links:  # after every ticket is there: links point either way
        if merged_into or parent:
            sql.update_row(Ticket, number, merged_into=merged_into, parent=parent)
    bulk.insert_rows(TicketTag, ("ticket", "tag"), into.tags)
    records = extensions.type_records(desk)
    for type_name, ext_rows in into.fields.items():
        model = extensions.extension_model(type_name, extensions.stored_fields(records[type_name]))
        names = sorted({k for row in ext_rows for k in row})
        bulk.insert_rows(model, names, [tuple(row.get(k) for k in names) for row in ext_rows])
    entry_columns = ("id", "ticket", "kind", "author_agent", "author_customer", "body", "full_body", "message_id",
                     "created_at")
    bulk.insert_rows(ConversationEntry, entry_columns, [
        (e["id"], e["ticket"], e["kind"], agents.get(e["author_agent"]) if e["author_agent"] else None,
         customers.get(e["author_customer"]) if e["author_customer"] else None, e["body"], e["full_body"],
         e["message_id"], e["created_at"]) for e in sorted(into.entries, key=lambda e: e["id"])])
    bulk.insert_rows(Attachment, ("id", "ticket", "entry", "filename", "content_type", "size", "sha256", "created_at"),
                     sorted(into.attachments))
    bulk.insert_rows(TicketContact, ("ticket", "email", "role"), into.contacts)
    bulk.insert_rows(Rating, ("ticket", "score", "comment", "via", "created_at"), into.ratings)
    bulk.insert_rows(SlaClock, ("ticket", "kind", "policy", "calendar", "target_minutes", "state", "started_at",
                                "used_seconds", "due_at", "risk_at", "stopped_at", "at_risk_fired_at",
                                "breached_fired_at"), into.clocks)
    sla.refresh_due_times(desk, sorted({clock[0] for clock in into.clocks}))
    bulk.insert_rows(RuleRun, ("rule", "ticket", "anchor", "fired_at"), into.rule_runs)
    bulk.insert_rows(Outbox, ("id", "ticket", "entry", "kind", "to_addr", "subject", "body", "message_id",
                              "in_reply_to", "references", "auto", "status", "attempts", "next_attempt_at",
                              "last_error", "created_at", "sent_at"), sorted(into.mail))
    # The audit trail is append-only: restored events are new rows (new ids). Each ticket's keep their
    # order; between tickets they interleave by time (merge never reorders one ticket's events).
    per_ticket: dict[int, list[tuple]] = {}
    for event in into.events:
        per_ticket.setdefault(event[1], []).append(event)
    bulk.insert_rows(AuditEvent, ("ticket", "actor", "action", "data", "created_at"),
                     [(number, actor, action, data, when) for when, number, actor, action, data
                      in heapq.merge(*per_ticket.values(), key=lambda e: (e[0], e[1]))])
    if is_postgres(desk.db):
        # Numbers and ids were written as they were: the sequences move past them.
        queries.move_sequences_past_rows(desk.db)
    search.reindex_tickets(t["number"] for t in into.tickets)


# ---------------------------------------------------------------- export


def _field_names(desk) -> list[str]:
    names: list[str] = []
    for ttype in desk.config.types:
        for spec in ttype.fields:
            if spec.name not in names:
                names.append(spec.name)
    return names


def _csv_scalar(value: Any) -> Any:
    """A value as a CSV cell holds it: booleans as true/false (as the import reads them), dates ISO."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def export(desk, query: str, format: str, stream: IO[str], *, raw: bool = False, on_progress=None) -> int:
    """Write every ticket matching the query, newest first. JSON and NDJSON are backups (`backup_rows`,
    which `ticket import` restores); CSV is one flat row per ticket, type fields as `field.NAME` columns,
    cells neutralised unless `raw`. `on_progress(n)`: called as tickets are written."""
    count = 0
    if format in ("json", "nl"):
        backup = backup_rows(desk, query)  # a bad query fails here, before anything is written

        def docs():
            nonlocal count
            for doc in backup:
                count += 1
                if on_progress:
                    on_progress(1)
                yield doc

        emit_rows(docs(), format, [], stream)
        return count
    field_names = _field_names(desk)
    found = tickets.iter_tickets(desk, query)  # a bad query fails before anything is written

    def rows():
        nonlocal count
        for view in found:
            count += 1
            if on_progress:
                on_progress(1)
            doc = view.to_dict()
            for name in field_names:
                doc[f"field.{name}"] = _csv_scalar(view.fields.get(name))
            yield doc

    emit_rows(rows(), format, EXPORT_COLUMNS + [f"field.{name}" for name in field_names], stream, raw=raw)
    return count


SNAPSHOT_TABLES = ("tickets", "conversation", "attachments", "events", "ratings", "tags")


def export_sqlite(desk, query: str, path: Path) -> int:
    """A standalone SQLite file of the matching tickets for Datasette or any SQLite tool (built with
    sqlite-utils, from either backend): `tickets` (type fields as `field_NAME` columns), `conversation`,
    `attachments` (metadata), `events` (the history), `ratings` and `tags`, with full-text search on
    ticket titles and descriptions and on conversation bodies. `path` must be a new, empty file."""
    import sqlite_utils  # lazy: sqlite-utils (and click) load only for `export --format sqlite`

    field_names = _field_names(desk)
    db = sqlite_utils.Database(str(path))
    queries.build_without_journal(db.execute)  # a file being built: the caller renames it into place when complete
    try:
        tables = {name: db.table(name) for name in SNAPSHOT_TABLES}
        tables["tickets"].create({
            "number": int, "title": str, "description": str, "type": str, "status": str, "priority": str,
            "queue": str, "assignee": str, "customer": str, "customer_name": str, "organisation": str,
            "channel": str, "tags": str, "idempotency_key": str, "created_at": str, "updated_at": str,
            "first_response_at": str, "resolved_at": str, "closed_at": str, "merged_into": int, "parent": int,
            "sla_state": str, "version": int, **{f"field_{name}": str for name in field_names}}, pk="number")
        tables["conversation"].create({"id": int, "ticket": int, "kind": str, "author": str, "body": str,
                                       "message_id": str, "created_at": str}, pk="id",
                                      foreign_keys=[("ticket", "tickets", "number")])
        tables["attachments"].create({"id": int, "ticket": int, "entry": int, "filename": str, "content_type": str,
                                      "size": int, "sha256": str, "created_at": str}, pk="id",
                                     foreign_keys=[("ticket", "tickets", "number")])
        tables["events"].create({"id": int, "ticket": int, "actor": str, "action": str, "data": str,
                                 "created_at": str}, pk="id", foreign_keys=[("ticket", "tickets", "number")])
        tables["ratings"].create({"ticket": int, "score": int, "comment": str, "via": str, "created_at": str},
                                 pk="ticket", foreign_keys=[("ticket", "tickets", "number")])
        tables["tags"].create({"ticket": int, "tag": str}, pk=("ticket", "tag"),
                              foreign_keys=[("ticket", "tickets", "number")])
        count = 0
        event_id = 0
        batch: dict[str, list[dict]] = {name: [] for name in SNAPSHOT_TABLES}

        def flush() -> None:
            for name, rows in batch.items():
                if rows:
                    tables[name].insert_all(rows, batch_size=500)
                    rows.clear()

        for doc in backup_rows(desk, query, with_bytes=False):
            count += 1
            fields = doc.pop("fields") or {}
            row = {k: doc[k] for k in ("number", "title", "description", "type", "status", "priority", "queue",
                                        "assignee", "customer", "customer_name", "organisation", "channel",
                                        "idempotency_key", "created_at", "updated_at", "first_response_at",
                                        "resolved_at", "closed_at", "merged_into", "parent", "sla_state", "version")}
            row["tags"] = " ".join(doc["tags"])
            for name in field_names:
                value = fields.get(name)
                row[f"field_{name}"] = _csv_scalar(value) if value is not None else None
            batch["tickets"].append(row)
            number = doc["number"]
            batch["tags"] += [{"ticket": number, "tag": tag} for tag in doc["tags"]]
            batch["conversation"] += [{"id": e["id"], "ticket": number, "kind": e["kind"],
                                       "author": e["author_agent"] or e["author_customer"], "body": e["body"],
                                       "message_id": e["message_id"], "created_at": e["created_at"]}
                                      for e in doc["conversation"]]
            batch["attachments"] += [{k: v for k, v in {**a, "ticket": number}.items() if k != "content_base64"}
                                     for a in doc["attachments"]]
            for event in doc["history"]:
                event_id += 1
                batch["events"].append({"id": event_id, "ticket": number, "actor": event["actor"],
                                        "action": event["action"], "data": json.dumps(event["data"], ensure_ascii=False),
                                        "created_at": event["created_at"]})
            if doc["rating"]:
                batch["ratings"].append({"ticket": number, **doc["rating"]})
            if len(batch["tickets"]) >= 500:
                flush()
        flush()
        tables["tickets"].enable_fts(["title", "description"], create_triggers=True)
        tables["conversation"].enable_fts(["body"], create_triggers=True)
        for name, columns in (("tickets", ["status", "priority"]), ("tickets", ["assignee"]),
                              ("tickets", ["customer"]), ("conversation", ["ticket"]), ("events", ["ticket"]),
                              ("attachments", ["ticket"])):
            tables[name].create_index(columns, if_not_exists=True)
    finally:
        db.close()
    return count
