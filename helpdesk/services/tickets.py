"""Tickets: create (one, or many from JSON records, all or nothing), find, show, edit, answer, tag,
attach, history. Each function is one user action, `(desk, ...) -> view`; the writing ones run in one
unit of work and say which tickets they changed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from helpdesk.core.errors import InvalidInput, RowsRefused
from helpdesk.core.inputs import load_json
from helpdesk.core.views import (
    EntryView, EventView, FieldView, MacroView, TicketFormView, TicketView, TypeView,
)
from helpdesk.core.vocabulary import PRIORITIES
from helpdesk.domain import tickets
from helpdesk.services.work import unit

BULK_CHUNK = 2000  # tickets per INSERT batch of a bulk create


def parse_number(value: str | int) -> int:
    """A ticket number as people write it (42 or #42)."""
    return tickets.parse_number(value)


# ---------------------------------------------------------------- create


def _classify_after_commit(work, numbers: list[int]) -> None:
    """New tickets go to AI classification once the intake has committed (`[ai] enabled` only)."""
    if work.desk.config.ai.enabled and numbers:
        from helpdesk.services import ai  # lazy: the AI modules load only on desks that use them

        ai.after_intake(work, numbers)


def create(desk, *, title: str, body: str = "", type: str | None = None, priority: str | None = None,
           customer: str | None = None, fields: list[str] = (), key: str | None = None, tags: list[str] = (),
           queue: str | None = None, follow_up: int | None = None, channel: str = "cli") -> tuple[TicketView, bool]:
    """One ticket (or the one an idempotency key names already: created False); `fields` are NAME=VALUE
    pairs; `follow_up` links it to that resolved or closed ticket."""
    inp = tickets.TicketInput(title=title, body=body or "", type=type, priority=priority, customer=customer,
                              fields=tickets.parse_field_args(fields or []), key=key,
                              tags=tickets.normalise_tags(list(tags or [])), queue=queue, channel=channel)
    with unit(desk) as work:
        if follow_up is not None:
            from helpdesk.domain import lifecycle  # lazy: only follow-ups need the lifecycle

            view, created = lifecycle.create_follow_up(desk, follow_up, inp)
        else:
            view, created = tickets.intake(desk, inp)
        work.changed(view.number)
        if created:
            _classify_after_commit(work, [view.number])
    return view, created


def new_ticket_form(desk) -> TicketFormView:
    """The desk's ticket types with their fields, its queues and priorities: what a new-ticket form offers."""
    config = desk.config
    types = [TypeView(t.name, t.label, t.queue,
                      [FieldView(f.name, f.kind, f.label, f.required, list(f.options)) for f in t.fields])
             for t in config.types]
    return TicketFormView(types, [q.name for q in config.queues], list(PRIORITIES), config.default_priority,
                          config.default_queue)


def check_new(desk, *, title: str, body: str = "", type: str | None = None, priority: str | None = None,
              customer: str | None = None, queue: str | None = None,
              fields: dict[str, str] | None = None) -> dict[str, str]:
    """Every problem of a ticket before it is created, by the input it concerns ('title', 'customer',
    'type', 'field.NAME', ...), by the rules `create` applies; {}: `create` would take it. Stores nothing."""
    return tickets.problems(desk, tickets.TicketInput(title=title, body=body or "", type=type or None,
                                                      priority=priority or None, customer=customer or None,
                                                      queue=queue or None, fields=dict(fields or {})))


def read_records(text: str) -> list[tuple[str, object]]:
    """(where, value) pairs from one JSON document (object or array) or NDJSON; `where` names the
    line (NDJSON) or the array item, for error messages. An NDJSON line that is not JSON gives its
    error as the value, so every bad line is reported, not just the first."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("no JSON on stdin")
    if stripped[0] == "[":
        try:
            doc = load_json(stripped)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(doc, list):
            raise InvalidInput("expected a JSON object, an array of objects, or NDJSON")
        return [(f"item {i + 1}", item) for i, item in enumerate(doc)]
    if stripped[0] == "{":
        try:
            return [("line 1", load_json(stripped))]
        except json.JSONDecodeError:
            pass  # more than one object: NDJSON
        except InvalidInput as exc:
            raise InvalidInput(f"line 1: {exc}") from None
    out: list[tuple[str, object]] = []
    # Lines end at "\n" only: str.splitlines would also split at U+2028 and others, which JSON strings may hold.
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append((f"line {lineno}", load_json(line)))
        except json.JSONDecodeError as exc:
            out.append((f"line {lineno}", InvalidInput(f"not valid JSON: {exc.msg}")))
        except InvalidInput as exc:
            out.append((f"line {lineno}", exc))
    return out


@dataclass
class RecordsCreated:
    """What a create from JSON records did: one record gives `single` (its view, created); several give
    `rows` ({"input", "number", "created"} per record, in order)."""

    single: tuple[TicketView, bool] | None = None
    rows: list[dict] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for r in self.rows if r["created"])


def create_records(desk, records: str | list[tuple[str, object]], *,
                   progress: Callable[[int], Any] | None = None) -> RecordsCreated:
    """Tickets from JSON records (text: one object, an array, or NDJSON; or what `read_records` made of
    it), all or nothing: every record is checked
    before anything is stored, and any bad one refuses them all (RowsRefused lists each). `progress(total)`
    gives a context manager whose `advance(n)` is called as tickets are stored (a progress bar)."""
    if isinstance(records, str):
        records = read_records(records)
    inputs, errors = [], []
    for where, raw in records:  # every record is checked before anything is stored
        try:
            if isinstance(raw, InvalidInput):
                raise raw
            inp = tickets.parse_record(desk, raw)
            if inp.channel == "cli":
                inp.channel = "api"
            inputs.append(tickets.validate(desk, inp))
        except InvalidInput as exc:
            errors.append(f"{where}: {exc}")
    if errors and len(records) == 1:
        raise InvalidInput(errors[0])
    if errors:
        raise RowsRefused(errors, f"{len(errors)} of {len(records)} tickets refused: nothing created")
    if len(inputs) == 1:
        with unit(desk) as work:
            view, created = tickets.intake(desk, inputs[0].inp)
            work.changed(view.number)
            if created:
                _classify_after_commit(work, [view.number])
        return RecordsCreated(single=(view, created))
    with unit(desk) as work:
        if progress is None:
            results = tickets.intake_bulk(desk, inputs, chunk=BULK_CHUNK)
        else:
            with progress(len(inputs)) as bar:
                results = tickets.intake_bulk(desk, inputs, chunk=BULK_CHUNK, on_progress=bar.advance)
        work.changed(*(r.number for r in results if r.created))
        _classify_after_commit(work, [r.number for r in results if r.created])
    return RecordsCreated(rows=[{"input": where, "number": r.number, "created": r.created}
                                for (where, _), r in zip(records, results)])


# ---------------------------------------------------------------- find and show


@dataclass
class TicketList:
    """A page of tickets; `total`: how many match when the page is full (None otherwise; capped at
    `count_cap` + 1); `due`: each ticket's nearest SLA due time (with `with_due`)."""

    tickets: list[TicketView]
    total: int | None = None
    due: dict = field(default_factory=dict)


def list_(desk, query: str = "", *, limit: int | None = 50, with_fields: bool = False, sort: str | None = None,
          count_cap: int | None = None, with_due: bool = False) -> TicketList:
    """Tickets matching the query language, newest first (or in `sort` order), at most `limit` (None: all)."""
    found = tickets.list_tickets(desk, query, limit=limit, with_fields=with_fields, sort=sort)
    total = None
    if limit is not None and len(found) == limit:
        total = tickets.count_tickets(desk, query, cap=count_cap)
    due = {}
    if with_due:
        from helpdesk.domain import sla  # lazy: only the table for people shows due times

        due = sla.next_due(desk, [t.number for t in found])
    return TicketList(found, total, due)


def count(desk, query: str = "", *, cap: int | None = None) -> int:
    """How many tickets match (at most `cap` + 1 counted)."""
    return tickets.count_tickets(desk, query, cap=cap)


def show(desk, number: int, *, conversation: bool = True) -> TicketView:
    """One ticket with its type fields, SLA clocks, attachments and conversation (`conversation`
    False: without it; `conversation()` reads it a page at a time)."""
    return tickets.get(desk, number, conversation=conversation, details=True)


@dataclass
class ConversationPage:
    """Entries of a ticket's conversation, oldest first, and how many entries come before them."""

    entries: list[EntryView]
    earlier: int


def conversation(desk, number: int, *, before: int | None = None, limit: int = 50) -> ConversationPage:
    """The newest `limit` entries of a ticket's conversation (those earlier than entry `before`): a long
    thread is read a page at a time, never all of its bodies at once."""
    tickets.fetch(number)
    return _conversation_page(number, before, limit)


def _conversation_page(number: int, before: int | None, limit: int) -> ConversationPage:
    found = tickets.entries(number, newest=limit, before=before)
    # fewer than asked for: nothing comes before them (no count to read)
    earlier = tickets.count_entries(number, before=found[0].id) if len(found) >= limit > 0 else 0
    return ConversationPage(found, earlier)


def history(desk, number: int, *, newest: int | None = None) -> list[EventView]:
    """The audit events of a ticket, oldest first (`newest`: only the last N)."""
    from helpdesk.domain import audit  # lazy: only the history reads the audit trail

    tickets.fetch(number)
    return audit.history(desk, number, newest=newest)


@dataclass
class TicketDetail:
    """What a ticket's page shows: the ticket (its conversation only the newest entries), how many
    entries come before those, and its newest audit events, oldest first."""

    view: TicketView
    earlier: int
    events: list[EventView]


def detail(desk, number: int, *, newest: int = 50, events: int | None = None) -> TicketDetail:
    """A ticket as its page shows it, in one call: the ticket read once (on PostgreSQL every query is
    a round trip), its newest `newest` conversation entries and its newest `events` audit events."""
    from helpdesk.domain import audit  # lazy: only the history reads the audit trail

    view = tickets.get(desk, number, details=True)
    page = _conversation_page(number, None, newest)
    view.conversation = page.entries
    return TicketDetail(view, page.earlier, audit.history(desk, number, newest=events))


# ---------------------------------------------------------------- change and answer


def update(desk, number: int, *, title: str | None = None, priority: str | None = None, type: str | None = None,
           fields: list[str] = (), queue: str | None = None, customer: str | None = None,
           tags_add: list[str] = (), tags_remove: list[str] = (), expected_version: int | None = None) -> TicketView:
    """Edit a ticket's fields (NAME=VALUE pairs), queue, customer and tags; each change is in its history."""
    with unit(desk) as work:
        view = tickets.update(desk, number, title=title, priority=priority, type=type,
                              fields=tickets.parse_field_args(fields or []), queue=queue, customer=customer,
                              tags_add=list(tags_add or []), tags_remove=list(tags_remove or []),
                              expected_version=expected_version)
        work.changed(number)
    return view


def tag(desk, number: int, add: list[str] = (), remove: list[str] = (), *,
        expected_version: int | None = None) -> TicketView:
    """Add and remove tags."""
    return update(desk, number, tags_add=add, tags_remove=remove, expected_version=expected_version)


def reply(desk, number: int, body: str, *, note: bool = False, expected_version: int | None = None) -> EntryView:
    """A public reply (queued in the outbox for the customer) or an internal note."""
    with unit(desk) as work:
        entry = tickets.reply(desk, number, body, note=note, expected_version=expected_version)
        work.changed(number)
    return entry


def note(desk, number: int, body: str, *, expected_version: int | None = None) -> EntryView:
    """An internal note, never mailed."""
    return reply(desk, number, body, note=True, expected_version=expected_version)


def macros(desk) -> list[MacroView]:
    """The configured quick replies, by name."""
    from helpdesk.domain import automation  # lazy: macros load the automation config

    return [MacroView(m.name, m.body, m.note, m.status) for _, m in sorted(automation.settings(desk).macros.items())]


def apply_macro(desk, number: int, name: str, *, expected_version: int | None = None) -> str:
    """Send a configured quick reply and apply what else the macro says (status, tags, ...); with
    `expected_version`, a ticket changed since then is refused (StaleVersion)."""
    from helpdesk.domain import automation  # lazy: macros load the automation config

    with unit(desk) as work:
        result = automation.apply_macro(desk, number, name, expected_version=expected_version)
        work.changed(number)
    return result


# ---------------------------------------------------------------- attachments


def attach(desk, number: int, files: list[tuple[str, bytes]]) -> list[tuple[Any, bool]]:
    """Attach (name, bytes) pairs, all or none; each gives (its view, whether it is new to the ticket)."""
    import mimetypes  # lazy: reads the system's MIME tables; only attaching needs it

    from helpdesk.domain import attachments  # lazy: only attachment commands need the blob store

    done = []
    with unit(desk) as work:
        for filename, data in files:
            ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            done.append(attachments.add(desk, number, filename, data, content_type=ctype))
        work.changed(number)
    return done


def attachments(desk, number: int) -> list:
    """A ticket's attachments, numbered as `attachment` takes them (each file once)."""
    from helpdesk.domain import attachments as attachments_mod  # lazy: see attach

    tickets.fetch(number)
    return attachments_mod.list_for(number)


@dataclass
class AttachmentContent:
    """One attachment's view and bytes, and where saving it to `target` writes."""

    view: Any
    data: bytes

    def target(self, target: Path | None) -> Path:
        """The stored name made a plain, safe file name in `target` (a directory, default the current
        one), or `target` itself when it names a file."""
        from helpdesk.domain import attachments as attachments_mod  # lazy: see attach

        return attachments_mod.save_path(self.view, target)

    def save(self, target: Path, *, overwrite: bool = False) -> None:
        """Write the bytes to `target` whole or not at all; an existing file only with `overwrite`
        (InvalidInput otherwise)."""
        from helpdesk.core import files  # lazy: tempfile is only needed to write files

        with files.writing(target, binary=True, overwrite=overwrite) as fh:
            fh.write(self.data)


def attachment(desk, number: int, which: str) -> AttachmentContent:
    """One attachment (by name or number in the list) and its bytes."""
    from helpdesk.domain import attachments as attachments_mod  # lazy: see attach

    found = attachments_mod.find(number, which)
    return AttachmentContent(found, attachments_mod.content(found))

