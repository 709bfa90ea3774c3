"""Bulk import (CSV, TSV, JSON array, NDJSON) and export, for teams moving over from spreadsheets.

Import is all or nothing: every row is checked first, every refused row is reported with its line and
reason, and only a clean file is stored, in one transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

from helpdesk import audit, sla, tickets
from helpdesk.formats import emit_rows
from helpdesk.errors import InvalidInput
from helpdesk.inputs import decode_utf8, load_json
from helpdesk.store.models import STATES, Agent, Ticket

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


def read_rows(source: Path | IO[bytes], format: str | None = None) -> Iterator[tuple[str, Any]]:
    """(where, row) pairs; `where` is the line (or array item) for error messages."""
    if isinstance(source, Path):
        data, name = source.read_bytes(), source.name
    else:
        data, name = source.read(), ""
    format = format or _detect(name, data[:64])
    # Spreadsheets may come from old Excel (cp1252); JSON is UTF-8 by definition: anything else is refused.
    text = _decode(data) if format in ("csv", "tsv") else decode_utf8(data, name or "stdin")
    if format in ("csv", "tsv"):
        # csv.reader, not DictReader: a blank line is skipped but still counted, so every row is
        # reported on the line where it starts (quoted cells may span lines).
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if format == "tsv" else ",")
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
                        yield f"line {start}", dict(zip(header, cells))
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
        try:
            value = dt.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"created_at '{created}' is not an ISO date/time") from None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        extra.created_at = value
    return extra


def import_file(desk, source: Path | IO[bytes], *, dry_run: bool = False, format: str | None = None) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    agents = dict(Agent.select(Agent.login, Agent.id).tuples())
    inputs: list[tickets.TicketInput] = []
    extras: list[_Extra] = []
    for where, raw in read_rows(source, format):
        report.rows += 1
        try:
            if isinstance(raw, Exception):
                raise raw
            if not isinstance(raw, dict):
                raise InvalidInput("expected an object with ticket keys")
            if "__extra__" in raw:
                raise InvalidInput("more cells than header columns")
            row = _normalise_row(raw)
            extra = _import_extras(row, agents)
            inp = tickets.parse_record(desk, row, flat_fields=True)
            if inp.channel == "cli":
                inp.channel = "import"
            checked = tickets.validate(desk, inp)
        except InvalidInput as exc:
            report.errors.append(f"{where}: {exc}")
            continue
        inputs.append(checked)
        extras.append(extra)
    if report.rows == 0:
        raise InvalidInput("the file holds no rows")
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
        from helpdesk.store.db import refresh_statistics

        refresh_statistics(desk.db, full=True)
    return report


def export(desk, query: str, format: str, stream: IO[str]) -> int:
    """Write every ticket matching the query; CSV flattens type fields into columns of their own."""
    field_names: list[str] = []
    for ttype in desk.config.types:
        for spec in ttype.fields:
            if spec.name not in field_names:
                field_names.append(spec.name)
    count = 0
    found = tickets.iter_tickets(desk, query)  # a bad query fails before anything is written

    def rows():
        nonlocal count
        for view in found:
            count += 1
            doc = view.to_dict()
            if format == "csv":
                for name in field_names:
                    doc[name] = view.fields.get(name)
                    if isinstance(doc[name], (dt.date,)):
                        doc[name] = doc[name].isoformat()
            yield doc

    emit_rows(rows(), format, EXPORT_COLUMNS + field_names, stream)
    return count
