"""Tickets: the one intake path every channel uses, reading, editing and the conversation.

No front end writes SQL: the CLI, the TUI, the mail channel and the daemon all come through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

import peewee as pw

from helpdesk.config import TicketType
from helpdesk.core import limits
from helpdesk.core.addresses import is_address
from helpdesk.core.errors import InvalidInput, NotFound, StaleVersion, UsageError
from helpdesk.core.inputs import load_json
from helpdesk.core.views import EntryView, hidden_line_count, TicketView
from helpdesk.core.vocabulary import CHANNELS, check_priority, ME, resolve_login
from helpdesk.domain import attachments, audit, events, organisations, outbox, query as query_mod, ratings, sla
from helpdesk.domain.fields import (  # noqa: F401 - part of this module's interface
    check_fields, coerce_field, normalise_tags, ticket_type,
)
from helpdesk.store import bulk, extensions, queries, search
from helpdesk.store.db import is_postgres, refresh_statistics
from helpdesk.store.models import Agent, ConversationEntry, Customer, Organisation, Queue, Ticket, TicketTag

INPUT_KEYS = {"title", "body", "description", "type", "priority", "customer", "customer_name", "organisation",
              "fields", "field", "key", "idempotency_key", "tags", "queue", "channel"}
CHUNK = 500


@dataclass
class TicketInput:
    """What any channel knows about a new ticket."""

    title: str
    body: str = ""
    type: str | None = None
    priority: str | None = None
    customer: str | None = None
    customer_name: str = ""
    organisation: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    tags: list[str] = field(default_factory=list)
    queue: str | None = None
    channel: str = "cli"


@dataclass
class IntakeResult:
    number: int
    created: bool  # False: the idempotency key named a ticket that already existed


# ---------------------------------------------------------------- validation


def parse_number(value: str | int) -> int:
    """`42` and `#42` both name ticket 42."""
    text = str(value).strip().lstrip("#")
    digits = text.lstrip("0")
    if not (text.isascii() and text.isdigit()) or not digits:  # '²' is a digit to isdigit(); 0 is no number
        raise InvalidInput(f"{limits.shown(value)} is not a ticket number")
    # Beyond the column's range: no such ticket (not a database overflow, nor int() of 4,300+ digits).
    if len(digits) > 10 or int(digits) > 2**31 - 1:
        raise NotFound(f"ticket #{digits if len(digits) <= 20 else digits[:20] + '...'} not found")
    return int(digits)


def parse_field_args(pairs: Iterable[str]) -> dict[str, str]:
    """`--field K=V` arguments into a dict."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise InvalidInput(f"--field {limits.shown(pair)}: write NAME=VALUE")
        name, value = pair.split("=", 1)
        out[name.strip()] = value
    return out


def parse_record(desk, raw: Any, *, flat_fields: bool = True) -> TicketInput:
    """One ticket from a JSON object or a CSV row; keys are the `ticket create` flags.

    With `flat_fields`, a key that is a field of the record's type is taken as that field (so a CSV
    column `serial_number` fills the field of that name).
    """
    if not isinstance(raw, dict):
        raise InvalidInput("expected a JSON object")
    ttype = ticket_type(desk, raw.get("type") or None)
    fields: dict[str, Any] = {}
    for source_key in ("fields", "field"):
        if source_key in raw and raw[source_key] not in (None, ""):
            value = raw[source_key]
            if isinstance(value, str):
                try:
                    value = load_json(value)
                except json.JSONDecodeError:
                    raise InvalidInput(f"'{source_key}' must be an object of field values") from None
            if not isinstance(value, dict):
                raise InvalidInput(f"'{source_key}' must be an object of field values")
            fields.update(value)
    for key, value in raw.items():
        if key in INPUT_KEYS:
            continue
        if flat_fields and ttype is not None and ttype.field(key) is not None:
            fields[key] = value
            continue
        if ttype is not None:
            known = ", ".join(f.name for f in ttype.fields)
            raise InvalidInput(f"unknown field {limits.shown(key)} for type '{ttype.name}' (fields: {known})")
        raise InvalidInput(f"unknown key {limits.shown(key)} (keys: {', '.join(sorted(INPUT_KEYS - {'field'}))})")

    def text(key: str, default: str | None = None) -> str | None:
        value = raw.get(key, default)
        if value is None:
            return default
        if isinstance(value, (dict, list, bool)):
            raise InvalidInput(f"'{key}' must be text")
        return str(value)

    return TicketInput(
        title=text("title") or "",
        body=text("body") or text("description") or "",
        type=ttype.name if ttype else None,
        priority=text("priority"),
        customer=text("customer"),
        customer_name=text("customer_name") or "",
        organisation=text("organisation"),
        fields=fields,
        key=text("key") or text("idempotency_key"),
        tags=normalise_tags(raw.get("tags")),
        queue=text("queue"),
        channel=text("channel") or "cli",
    )


@dataclass
class _Checked:
    inp: TicketInput
    ttype: TicketType | None
    fields: dict[str, Any]
    priority: str
    queue: str | None
    customer: str | None


def _check(desk, inp: TicketInput, problems: dict[str, str] | None = None) -> _Checked:
    """The ticket checked; the first problem raises InvalidInput, unless `problems` is given: then every
    problem goes there by the input it concerns (a common one by its key, a type's field as
    `field.NAME`) and checking goes on (the result is then only good when `problems` stayed empty)."""

    def refuse(key: str, error: InvalidInput | str) -> None:
        if problems is None:
            raise error if isinstance(error, InvalidInput) else InvalidInput(error)
        problems.setdefault(key, str(error))

    title = (inp.title or "").strip()
    if not title:
        refuse("title", "a ticket needs a title")
    inp.title = title
    for key, what, value, maximum in (("title", "title", title, limits.TITLE_MAX),
                                      ("body", "body", inp.body, limits.BODY_MAX),
                                      ("customer", "customer", inp.customer, limits.EMAIL_MAX),
                                      ("customer_name", "customer name", inp.customer_name, limits.PERSON_NAME_MAX),
                                      ("organisation", "organisation", inp.organisation, limits.ORGANISATION_MAX),
                                      ("key", "idempotency key", inp.key, limits.IDEMPOTENCY_KEY_MAX)):
        try:
            limits.check_text(what, value, maximum)
        except InvalidInput as error:
            refuse(key, error)
    if len(inp.tags) > limits.TAGS_PER_TICKET:
        refuse("tags", f"more than {limits.TAGS_PER_TICKET} tags")
    ttype = type_known = None
    try:
        ttype = ticket_type(desk, inp.type)
        type_known = True
    except InvalidInput as error:
        refuse("type", error)
    priority = inp.priority
    try:
        priority = check_priority(inp.priority or desk.config.default_priority)
    except InvalidInput as error:
        refuse("priority", error)
    queue = inp.queue or (ttype.queue if ttype else None) or desk.config.default_queue
    if queue and desk.config.queue(queue) is None:
        refuse("queue", f"unknown queue {limits.shown(queue)}")
    customer = None
    if inp.customer:
        customer = inp.customer.strip().lower()
        if not is_address(customer):
            refuse("customer", f"customer {limits.shown(inp.customer)} is not an email address")
    if inp.channel not in CHANNELS:
        refuse("channel", f"channel {limits.shown(inp.channel)} is not one of {', '.join(CHANNELS)}")
    fields: dict[str, Any] = {}
    if type_known:  # an unknown type has no fields to check against: its own message says enough
        field_problems: dict[str, str] | None = None if problems is None else {}
        try:
            fields = check_fields(ttype, inp.fields, creating=True, problems=field_problems)
        except InvalidInput as error:  # fields given without a type
            refuse("type", error)
        for name, message in (field_problems or {}).items():
            refuse(f"field.{name}", message)
    return _Checked(inp, ttype, fields, priority, queue, customer)


def validate(desk, inp: TicketInput) -> "_Checked":
    """Check a ticket without storing it (bulk intake checks every row first); the result can be
    handed to `intake_many`, which then does not check it again."""
    return _check(desk, inp)


def problems(desk, inp: TicketInput) -> dict[str, str]:
    """Every problem of a ticket not yet stored, by the input it concerns ('title', 'customer', 'queue',
    'priority', 'type', 'field.NAME', ...), by the same rules as intake: what a form shows beside each
    input. Empty: intake would take it."""
    found: dict[str, str] = {}
    _check(desk, TicketInput(**{**vars(inp), "fields": dict(inp.fields), "tags": list(inp.tags)}), found)
    return found


# ---------------------------------------------------------------- intake


def _customer_ids(desk, checked: list[_Checked]) -> dict[str, int]:
    wanted: dict[str, _Checked] = {}
    for c in checked:
        if c.customer and c.customer not in wanted:
            wanted[c.customer] = c
    if not wanted:
        return {}
    emails = list(wanted)
    ids = queries.customer_ids(desk.db, emails)
    missing = [e for e in emails if e not in ids]
    if missing:
        # A new customer: the organisation the input names, else the one owning their mail domain.
        org_of = {e: wanted[e].inp.organisation or organisations.for_address(desk, e) for e in missing}
        org_ids = organisation_ids(o for o in org_of.values() if o)
        rows = [{"email": e, "name": wanted[e].inp.customer_name or "",
                 "organisation": org_ids.get(org_of[e]), "created_at": desk.now()}
                for e in missing]
        if len(rows) == 1:  # the usual case (a new sender): one plain statement
            row = rows[0]
            queries.add_customer(desk.db, row["email"], row["name"], row["organisation"], row["created_at"])
        else:
            for start in range(0, len(rows), CHUNK):
                Customer.insert_many(rows[start:start + CHUNK]).on_conflict_ignore().execute()
        ids.update(queries.customer_ids(desk.db, missing))
    return ids


def organisation_ids(names: Iterable[str]) -> dict[str, int]:
    names = sorted({n.strip() for n in names if n and n.strip()})
    if not names:
        return {}
    Organisation.insert_many([{"name": n} for n in names]).on_conflict_ignore().execute()
    return dict(Organisation.select(Organisation.name, Organisation.id).where(Organisation.name.in_(names)).tuples())


def _queue_ids(names: Iterable[str | None]) -> dict[str, int]:
    names = sorted({n for n in names if n})
    if not names:
        return {}
    return queries.queue_ids(Queue._meta.database.obj, names)


def intake_many(desk, inputs: list[TicketInput | _Checked]) -> list[IntakeResult]:
    """Create tickets, deduplicating on the idempotency key: a repeated key returns the existing ticket.

    Everything is checked before anything is written (inputs already `validate`d are not checked
    twice); the whole batch is one transaction.
    """
    rows = [inp if isinstance(inp, _Checked) else _check(desk, inp) for inp in inputs]
    try:
        with desk.db.atomic():
            return _created_events(desk, _insert(desk, rows))
    except pw.IntegrityError:
        # Another writer stored one of our idempotency keys between our check and our insert: the
        # second attempt finds it and returns that ticket instead.
        with desk.db.atomic():
            return _created_events(desk, _insert(desk, rows))


def _created_events(desk, results: list[IntakeResult]) -> list[IntakeResult]:
    """After new tickets are stored (same transaction): `created` is published (routing for queues
    that auto-assign, then the rules; see `domain.reactions`)."""
    events.publish(desk, "created", [r.number for r in results if r.created])
    return results


def _insert(desk, rows: list[_Checked]) -> list[IntakeResult]:
    now = desk.now()
    keys = [r.inp.key for r in rows if r.inp.key]
    existing = queries.ticket_numbers_by_key(desk.db, keys)
    customers = _customer_ids(desk, rows)
    queues = _queue_ids(r.queue for r in rows)

    results: list[IntakeResult | None] = [None] * len(rows)
    new_rows: list[tuple[int, _Checked]] = []
    pending_keys: dict[str, int] = {}  # key -> index of the first row in this batch carrying it
    for i, r in enumerate(rows):
        key = r.inp.key
        if key and key in existing:
            results[i] = IntakeResult(existing[key], False)
        elif key and key in pending_keys:
            results[i] = pending_keys[key]  # resolved once the first one has its number
        else:
            if key:
                pending_keys[key] = i
            new_rows.append((i, r))

    orgs = _organisations_of(customers.values())
    clocks = sla.new_clocks(desk, [(r.priority, r.ttype.name if r.ttype else None,
                                    r.inp.organisation or orgs.get(customers.get(r.customer))) for _, r in new_rows], now)
    columns = ("title", "description", "type", "status", "priority", "queue", "customer", "channel",
               "idempotency_key", "created_at", "updated_at", "status_changed_at", "version", "sla_due_at",
               "sla_risk_at")
    payload = [(r.inp.title, r.inp.body, r.ttype.name if r.ttype else None, "new", r.priority, queues.get(r.queue),
                customers.get(r.customer), r.inp.channel, r.inp.key, now, now, now, 1, c.due, c.risk)
               for (_, r), c in zip(new_rows, clocks)]
    # Numbers are handed out in insertion order within the write lock; sorting the RETURNING values
    # does not depend on the order the database emits them in.
    numbers = sorted(bulk.insert_rows(Ticket, columns, payload, returning="number"))
    for (i, _), number in zip(new_rows, numbers):
        results[i] = IntakeResult(number, True)

    for i, res in enumerate(results):
        if isinstance(res, int):
            results[i] = IntakeResult(results[res].number, False)

    created = [(results[i].number, r) for i, r in new_rows]
    _write_tags([(n, r.inp.tags) for n, r in created])
    by_type: dict[str, list[dict]] = {}
    for number, r in created:
        if r.ttype is not None:
            by_type.setdefault(r.ttype.name, []).append({"ticket": number, **r.fields})
    records = extensions.type_records(desk) if by_type else {}
    for type_name, ext_rows in by_type.items():
        model = extensions.extension_model(type_name, extensions.stored_fields(records[type_name]))
        names = sorted({k for row in ext_rows for k in row})
        bulk.insert_rows(model, names, [tuple(row.get(k) for k in names) for row in ext_rows])
    audit.record_many(desk, [(n, "created", {"title": r.inp.title, "channel": r.inp.channel,
                                             "priority": r.priority, "type": r.ttype.name if r.ttype else None,
                                             **({"key": r.inp.key} if r.inp.key else {})})
                             for n, r in created])
    search.index_documents((n, r.inp.title, r.inp.body) for n, r in created)
    sla.start_for_new(desk, [(n, c) for (n, _), c in zip(created, clocks)], now)
    return results  # type: ignore[return-value]


def _organisations_of(customer_ids) -> dict[int, str]:
    return queries.customer_organisations(Customer._meta.database.obj, list(customer_ids))


def intake_bulk(desk, inputs: list[TicketInput | _Checked], *, chunk: int = 2000,
                on_progress=None) -> list[IntakeResult]:
    """Many tickets (bulk create), all or nothing: checked first, then stored in one transaction, so a
    failure or a kill -9 midway leaves none of them (as `ticket import`). `chunk` tickets at a time,
    for `on_progress`; the planner statistics are refreshed at the end."""
    rows = [inp if isinstance(inp, _Checked) else _check(desk, inp) for inp in inputs]
    results: list[IntakeResult] = []
    with desk.db.atomic():
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            results.extend(intake_many(desk, part))
            if on_progress:
                on_progress(len(part))
    if len(rows) >= 1000:
        refresh_statistics(desk.db, full=True)
    return results


def intake(desk, inp: TicketInput) -> tuple[TicketView, bool]:
    """Create one ticket (any channel). Returns the ticket and whether it is new."""
    result = intake_many(desk, [inp])[0]
    return get(desk, result.number), result.created


def _write_tags(pairs: list[tuple[int, list[str]]]) -> None:
    queries.add_tags(TicketTag._meta.database, [(n, t) for n, tags in pairs for t in tags])


# ---------------------------------------------------------------- reading


def fetch(number: int) -> Ticket:
    """The ticket row (every write starts here: plain SQL, see store/sql.py)."""
    return queries.ticket_row(number)


def views(desk, tickets: list[Ticket], *, with_fields: bool = True) -> list[TicketView]:
    """Turn ticket rows into views, loading names, tags and extension fields in a few batched queries."""
    if not tickets:
        return []
    numbers = [t.number for t in tickets]
    agent_ids = {t.assignee_id for t in tickets if t.assignee_id}
    customer_ids = {t.customer_id for t in tickets if t.customer_id}
    queue_ids = {t.queue_id for t in tickets if t.queue_id}
    agents = dict(Agent.select(Agent.id, Agent.login).where(Agent.id.in_(list(agent_ids))).tuples()) if agent_ids else {}
    customers = {}
    if customer_ids:
        query = (Customer.select(Customer.id, Customer.email, Organisation.name)
                 .join(Organisation, pw.JOIN.LEFT_OUTER).where(Customer.id.in_(list(customer_ids))).tuples())
        customers = {cid: (email, org) for cid, email, org in query}
    queues = dict(Queue.select(Queue.id, Queue.name).where(Queue.id.in_(list(queue_ids))).tuples()) if queue_ids else {}
    tags: dict[int, list[str]] = {}
    for number, tag in (TicketTag.select(TicketTag.ticket, TicketTag.tag)
                        .where(TicketTag.ticket.in_(numbers)).order_by(TicketTag.id).tuples()):
        tags.setdefault(number, []).append(tag)
    fields: dict[int, dict] = {}
    if with_fields:
        fields = _extension_values(desk, tickets)
    out = []
    for t in tickets:
        email, org = customers.get(t.customer_id, (None, None))
        out.append(TicketView(
            number=t.number, title=t.title, status=t.status, priority=t.priority, type=t.type,
            queue=queues.get(t.queue_id), assignee=agents.get(t.assignee_id), customer=email,
            organisation=org, channel=t.channel, tags=tags.get(t.number, []), created_at=t.created_at,
            updated_at=t.updated_at, version=t.version, description=t.description,
            idempotency_key=t.idempotency_key, first_response_at=t.first_response_at,
            resolved_at=t.resolved_at, closed_at=t.closed_at, merged_into=t.merged_into_id,
            parent=t.parent_id, sla_state=t.sla_state, fields=fields.get(t.number, {}),
        ))
    return out


def _extension_values(desk, tickets: list[Ticket]) -> dict[int, dict]:
    by_type: dict[str, list[int]] = {}
    for t in tickets:
        if t.type:
            by_type.setdefault(t.type, []).append(t.number)
    if not by_type:
        return {}
    records = extensions.type_records(desk)
    out: dict[int, dict] = {}
    for type_name, numbers in by_type.items():
        record = records.get(type_name)
        if record is None:
            continue
        stored = extensions.stored_fields(record)
        visible = [f["name"] for f in stored if not f.get("hidden")]
        model = extensions.extension_model(type_name, stored)
        for row in model.select().where(model.ticket.in_(numbers)):
            out[row.ticket_id] = {name: getattr(row, name) for name in visible}
        for number in numbers:
            out.setdefault(number, {name: None for name in visible})
    return out


def get(desk, number: int, *, conversation: bool = False, details: bool | None = None) -> TicketView:
    """The ticket's view; `details` (default: with `conversation`): its attachments, SLA clocks and
    rating too; `conversation`: every entry of its conversation."""
    view = views(desk, [fetch(number)])[0]
    if conversation:
        view.conversation = entries(number)
    if conversation if details is None else details:
        view.attachments = [a.to_dict() for a in attachments.list_for(number)]
        view.sla = [c.to_dict() for c in sla.clocks(desk, number)]

        rating = ratings.get(number)
        view.rating = rating.to_dict() if rating else None
    return view


def _before(number: int, before: int | None):
    """The condition 'earlier in the conversation than entry `before`' (in (created_at, id) order)."""
    if before is None:
        return ConversationEntry.ticket == number
    mark = ConversationEntry.select(ConversationEntry.created_at).where(ConversationEntry.id == before)
    return (ConversationEntry.ticket == number) & (
        (ConversationEntry.created_at < mark) | ((ConversationEntry.created_at == mark) & (ConversationEntry.id < before)))


def entries(number: int, *, newest: int | None = None, before: int | None = None) -> list[EntryView]:
    """The ticket's conversation, oldest first; `newest`: only the last N entries (of those earlier than
    entry `before`), read newest first with a LIMIT so a long thread's other bodies stay in the database."""
    query = (ConversationEntry.select(ConversationEntry, Agent.login, Customer.email)
             .join(Agent, pw.JOIN.LEFT_OUTER, on=(ConversationEntry.author_agent == Agent.id))
             .switch(ConversationEntry)
             .join(Customer, pw.JOIN.LEFT_OUTER, on=(ConversationEntry.author_customer == Customer.id))
             .where(_before(number, before)))
    if newest is None:
        rows = list(query.order_by(ConversationEntry.created_at, ConversationEntry.id).objects())
    else:
        rows = list(query.order_by(ConversationEntry.created_at.desc(), ConversationEntry.id.desc())
                    .limit(max(0, newest)).objects())[::-1]
    out = []
    for e in rows:
        out.append(EntryView(id=e.id, kind=e.kind, author=e.login or e.email, body=e.body,
                             created_at=e.created_at, message_id=e.message_id, full_body=e.full_body,
                             hidden_lines=hidden_line_count(e.full_body, e.body)))
    return out


def count_entries(number: int, *, before: int | None = None) -> int:
    """How many conversation entries the ticket has (earlier than entry `before`)."""
    return ConversationEntry.select().where(_before(number, before)).count()


def list_tickets(desk, query: str = "", *, limit: int | None = 50, offset: int = 0,
                 with_fields: bool = False, sort: str | None = None) -> list[TicketView]:
    """Tickets matching a query in the query language, newest first (or in `sort` order)."""
    parsed = query_mod.parse(query)
    ordering = sort_order(sort)
    select, order = query_mod.find(desk, parsed)
    if ordering is not None:
        return _sorted_views(desk, select.order_by(*ordering), limit, offset, with_fields)
    select = select.order_by(order.desc())
    if limit is None:  # in batches: one IN list per batch stays within SQLite's variable limit
        return list(iter_tickets(desk, query, with_fields=with_fields))[offset:]
    walked = _walk_search(desk, parsed, None, False, limit) if offset <= 0 and limit > 0 else None
    if walked is not None:
        rows = {t.number: t for t in Ticket.select().where(Ticket.number.in_([n for n, _ in walked]))}
        return views(desk, [rows[n] for n, _ in walked if n in rows], with_fields=with_fields)
    return views(desk, list(select.limit(limit).offset(offset)), with_fields=with_fields)


SORT_KEYS = ("number", "created", "updated", "priority", "due")


def sort_terms(sort: str | None) -> list[tuple[pw.Node, bool]] | None:
    """(expression, descending) pairs for `--sort KEY` (`-KEY`: descending), ties broken newest first so
    the order is total and the same on every run and backend; None for the default order (newest first).
    `priority` ascending is the most urgent first; `due` is the nearest running SLA due time."""
    if not sort:
        return None
    key, descending = sort.lstrip("-").strip().lower(), sort.startswith("-")
    if key not in SORT_KEYS or sort.count("-") > 1:
        raise UsageError(f"--sort: unknown key '{sort}' (one of {', '.join(SORT_KEYS)}; '-' before it for "
                         "descending, e.g. -updated)")
    if key == "due":
        terms = [(sla.next_due_key(descending), descending)]
    else:
        column = {"number": Ticket.number, "created": Ticket.created_at, "updated": Ticket.updated_at,
                  "priority": Ticket.priority}[key]
        terms = [(column, descending)]
    if key != "number":
        terms.append((Ticket.number, True))
    return terms


def sort_order(sort: str | None) -> list | None:
    """ORDER BY terms for `--sort KEY` (see `sort_terms`); None for the default order (newest first)."""
    terms = sort_terms(sort)
    return None if terms is None else _order_by(terms)


def _order_by(terms: list[tuple[pw.Node, bool]], reverse: bool = False) -> list:
    return [e.desc() if descending != reverse else e.asc() for e, descending in terms]


def _past(terms: list[tuple[pw.Node, bool]], key: tuple, reverse: bool = False) -> pw.Node:
    """The rows strictly after `key` in the order of `terms` (`reverse`: strictly before it). Written as
    `first >= v AND (first > v OR rest after)`: the leading range is what an index on the first term
    can seek to; the rest only sorts out the rows that tie with the key."""
    (expr, descending), value = terms[0], pw.Value(key[0], converter=False)  # the key as read: no conversion
    down = descending != reverse
    beyond = expr < value if down else expr > value
    if len(terms) == 1:
        return beyond
    reached = expr <= value if down else expr >= value
    return reached & (beyond | _past(terms[1:], key[1:], reverse))


@dataclass
class TicketPage:
    """Tickets in the requested order, and each one's key: its place in that order, which `page_tickets`
    takes as `after` or `before` to read the neighbouring page by seeking, not by counting."""

    tickets: list[TicketView]
    keys: list[tuple]


def page_tickets(desk, query: str = "", *, sort: str | None = None, limit: int = 100, after: tuple | None = None,
                 before: tuple | None = None, offset: int = 0, from_end: bool = False,
                 with_fields: bool = True) -> TicketPage:
    """One page of a query's tickets in `sort` order (None: newest first), read by keyset: the `limit`
    rows just after the row whose key is `after`, or just before `before` (read in reverse order), each
    an index seek whatever the depth. Without a key: the rows `offset` from the first row, or with
    `from_end` from the last one (read in reverse, so the last page costs what the first does).
    `with_fields=False`: the views without their type's extension fields (a query per type less)."""
    if (after is not None) + (before is not None) > 1 or limit <= 0:
        raise UsageError("a page starts after one key or before one, and holds at least one ticket")
    parsed = query_mod.parse(query)
    select, order = query_mod.find(desk, parsed)
    terms = sort_terms(sort) or [(order, True)]
    reverse = before is not None or (after is None and from_end)
    key = after if after is not None else before

    def read(where: pw.Node | None, count: int, tied: bool = False) -> list[tuple[int, tuple]]:
        chosen = select.where(where) if where is not None else select
        # `tied`: one value of the first term, so only the rest orders (SQLite sees an expression index's
        # order only when the ORDER BY leaves out the expression the WHERE holds equal)
        ordering = terms[1:] if tied else terms
        keyed = (chosen.select(Ticket.number, *[e for e, _ in terms]).order_by(*_order_by(ordering, reverse))
                 .limit(count).offset(max(0, offset) if key is None and offset > 0 else None))
        return [(row[0], tuple(row[1:])) for row in keyed.coerce(False).tuples()]  # raw keys, sent back as read

    first = terms[0][0]
    walked = _walk_search(desk, parsed, key, reverse, limit) if sort is None and offset <= 0 else None
    if walked is not None:
        found = walked
    elif key is not None and len(terms) == 2 and isinstance(first, (pw.Field, pw.Function)):
        # Two seeks instead of one range with an OR: the rest of the key's tie group, by number (an index
        # on (column, number) reads just those; due's expression has its own, migration 0019), then the
        # rows past the group, so a page deep inside a big group (a million tickets share four
        # priorities, every ticket with no running clock shares the empty due) costs what the first does.
        value, number = (pw.Value(v, converter=False) for v in key)
        tied = read((first == value) & (Ticket.number > number if reverse else Ticket.number < number), limit, True)
        found = tied + (read(_past(terms[:1], key[:1], reverse), limit - len(tied)) if len(tied) < limit else [])
    else:
        found = read(_past(terms, key, reverse) if key is not None else None, limit)
    if reverse:
        found.reverse()
    rows = {t.number: t for t in Ticket.select().where(Ticket.number.in_([n for n, _ in found]))} if found else {}
    kept = [(n, key) for n, key in found if n in rows]
    return TicketPage(views(desk, [rows[n] for n, _ in kept], with_fields=with_fields), [key for _, key in kept])


SEARCH_WINDOWS = (5_000, 50_000)  # tickets walked, newest first, before a search asks its index


def _walk_search(desk, parsed, key: tuple | None, reverse: bool, limit: int) -> list[tuple[int, tuple]] | None:
    """PostgreSQL, a search newest first (or oldest first): the matches among the next few thousand
    tickets from where the page starts, walked in order and tested one by one, then ten times as many;
    None when that found fewer than `limit` (the caller asks the full-text index). A common phrase is
    found in the first window whatever the planner believes: without statistics it takes any search
    for rare, reads every match from the GIN index and sorts them (0.5-1 s for a phrase 10 % of a
    million tickets hold, against a millisecond walked)."""
    if not parsed.words or not is_postgres():
        return None
    select, order = query_mod.find(desk, parsed, indexed_search=False)
    if key is not None:
        start = key[0]
    else:
        start = Ticket.select(pw.fn.MIN(Ticket.number) if reverse else pw.fn.MAX(Ticket.number)).scalar()
        if start is None:
            return []
        start = start - 1 if reverse else start + 1
    for window in SEARCH_WINDOWS:
        bounded = ((order > start) & (order < start + window)) if reverse else ((order < start) & (order > start - window))
        rows = list(select.where(bounded).select(Ticket.number, order)
                    .order_by(order.asc() if reverse else order.desc()).limit(limit).tuples())
        if len(rows) == limit:
            return [(number, (value,)) for number, value in rows]
    return None


def _sorted_views(desk, select: pw.ModelSelect, limit: int | None, offset: int,
                  with_fields: bool) -> list[TicketView]:
    """The page in `select`'s order: numbers first (the sort then reads only index columns, 2-3x
    faster on a big desk than sorting whole rows), then the rows, in batches (IN lists stay short)."""
    ordered = select.select(Ticket.number)
    if limit is not None:
        ordered = ordered.limit(limit)
    numbers = [n for (n,) in ordered.offset(offset or None).tuples()]
    out: list[TicketView] = []
    for start in range(0, len(numbers), 1000):
        part = numbers[start:start + 1000]
        rows = {t.number: t for t in Ticket.select().where(Ticket.number.in_(part))}
        out += views(desk, [rows[n] for n in part if n in rows], with_fields=with_fields)
    return out


def count_tickets(desk, query: str = "", *, cap: int | None = None) -> int:
    """How many tickets match (the same conditions as `list_tickets`); with `cap`, counting stops
    after cap + 1 matches, so a footer on a huge desk costs a bounded scan."""
    select, _ = query_mod.find(desk, query_mod.parse(query))
    select = select.select(Ticket.number)
    if cap is not None:
        select = select.limit(cap + 1)
    return select.count()


def iter_tickets(desk, query: str = "", *, batch: int = 1000, with_fields: bool = True):
    """Every matching ticket, newest first, in batches (exports of any size). A bad query fails here,
    at the call, not at the first ticket asked for (an export has written nothing yet)."""
    parsed = query_mod.parse(query)
    query_mod.find(desk, parsed)
    return _batches(desk, parsed, batch, with_fields)


def _batches(desk, parsed, batch: int, with_fields: bool):
    last = None
    while True:
        select, order = query_mod.find(desk, parsed)
        if last is not None:
            select = select.where(order < last)
        rows = list(select.order_by(order.desc()).limit(batch))
        if not rows:
            return
        yield from views(desk, rows, with_fields=with_fields)
        last = rows[-1].number


# ---------------------------------------------------------------- writing


def check_version(ticket: Ticket, expected_version: int | None) -> None:
    """StaleVersion when the caller saw another version of the ticket than the row read now (None:
    the caller saw none: nothing to check)."""
    if expected_version is not None and expected_version != ticket.version:
        raise StaleVersion(f"ticket #{ticket.number} changed (version {ticket.version}, you had {expected_version}): "
                           "reload it and try again")


def write(desk, ticket: Ticket, expected_version: int | None = None, **changes: Any) -> Ticket:
    """Update a ticket row if nobody changed it since it was read (optimistic concurrency).

    `expected_version` is what the caller saw (e.g. `--if-version`); without it, the version read
    inside this transaction guards against a writer slipping in between read and write.
    """
    check_version(ticket, expected_version)
    seen = ticket.version
    changes["version"] = seen + 1
    changes.setdefault("updated_at", desk.now())
    if "status" in changes and changes["status"] != ticket.status:
        changes["status_changed_at"] = changes["updated_at"]
    if queries.update_ticket_if_version(desk.db, [ticket.number], seen, changes) != 1:
        raise StaleVersion(f"ticket #{ticket.number} was changed by someone else meanwhile: reload it and try again")
    for key, value in changes.items():
        setattr(ticket, key, value)
    return ticket


def update(desk, number: int, **edits: Any) -> TicketView:
    """Edit a ticket's fields (see `apply_update`) and return it as it is now."""
    apply_update(desk, number, **edits)
    return get(desk, number)


def apply_update(desk, number: int, *, title: str | None = None, priority: str | None = None,
                 type: str | None = None, fields: dict[str, Any] | None = None, queue: str | None = None,
                 tags_add: Iterable[str] = (), tags_remove: Iterable[str] = (),
                 customer: str | None = None, expected_version: int | None = None) -> None:
    """Edit a ticket's fields; every change is one audit event listing what changed. (Rules call this
    directly: they have no use for the ticket read back.)"""
    fields = dict(fields or {})
    with desk.db.atomic():
        ticket = fetch(number)
        changes: dict[str, Any] = {}
        diff: dict[str, Any] = {}
        if title is not None:
            title = title.strip()
            if not title:
                raise InvalidInput("the title cannot be empty")
            limits.check_text("title", title, limits.TITLE_MAX)
            if title != ticket.title:
                changes["title"] = title
                diff["title"] = [ticket.title, title]
        if priority is not None:
            priority = check_priority(priority.upper())
            if priority != ticket.priority:
                changes["priority"] = priority
                diff["priority"] = [ticket.priority, priority]
        new_type = ticket.type
        if type is not None:
            new_ttype = ticket_type(desk, type)
            new_type = new_ttype.name if new_ttype else None
            if new_type != ticket.type:
                changes["type"] = new_type
                diff["type"] = [ticket.type, new_type]
        if queue is not None:
            if queue and desk.config.queue(queue) is None:
                raise InvalidInput(f"unknown queue {limits.shown(queue)}")
            queue_id = _queue_ids([queue]).get(queue) if queue else None
            if queue_id != ticket.queue_id:
                changes["queue"] = queue_id
                diff["queue"] = [Queue.get_by_id(ticket.queue_id).name if ticket.queue_id else None, queue or None]
        if customer is not None:
            email = customer.strip().lower()
            limits.check_text("customer", email, limits.EMAIL_MAX)
            if not is_address(email):
                raise InvalidInput(f"customer {limits.shown(customer)} is not an email address")
            cid = _customer_ids(desk, [_Checked(TicketInput(title="", customer=email), None, {}, "", None, email)])[email]
            if cid != ticket.customer_id:
                changes["customer"] = cid
                diff["customer"] = email
        ttype = ticket_type(desk, new_type) if new_type else None
        clean_fields = check_fields(ttype, fields, creating=False) if fields else {}
        if "type" in changes and ttype is not None:
            # A ticket changing type must satisfy the new type's required fields.
            existing = _extension_values(desk, [ticket]).get(number, {}) if ticket.type == new_type else {}
            merged = {**existing, **clean_fields}
            for spec in ttype.fields:
                if spec.required and merged.get(spec.name) is None:
                    raise InvalidInput(f"field '{spec.name}' of type '{ttype.name}' is required")
        add = normalise_tags(list(tags_add))
        # Not checked against the name rule: a tag stored before the rule existed can still be removed.
        remove = [t for t in dict.fromkeys(str(t).strip().lower() for t in tags_remove) if t]
        current_tags = queries.ticket_tags(desk.db, number)
        add = [t for t in add if t not in current_tags]
        remove = [t for t in remove if t in current_tags]
        if add and len(current_tags) + len(add) - len(remove) > limits.TAGS_PER_TICKET:
            raise InvalidInput(f"ticket #{number} would have more than {limits.TAGS_PER_TICKET} tags")
        if add or remove:
            diff["tags"] = {"added": add, "removed": remove}
        field_diff = {}
        if clean_fields:
            before = _extension_values(desk, [ticket]).get(number, {}) if ticket.type == new_type else {}
            field_diff = {k: [before.get(k), v] for k, v in clean_fields.items() if before.get(k) != v}
            if field_diff:
                diff["fields"] = field_diff
        if not diff:
            return
        write(desk, ticket, expected_version, **changes)
        if add:
            _write_tags([(number, add)])
        if remove:
            TicketTag.delete().where((TicketTag.ticket == number) & (TicketTag.tag.in_(remove))).execute()
        if ttype is not None and (field_diff or "type" in changes):
            model = extensions.extension_model(ttype.name, extensions.stored_fields(extensions.type_records(desk)[ttype.name]))
            values = {k: v for k, v in clean_fields.items()}
            if model.select().where(model.ticket == number).exists():
                if values:
                    model.update(**values).where(model.ticket == number).execute()
            else:
                model.insert(ticket=number, **values).execute()
        audit.record(desk, number, "updated", **diff)
        if "priority" in changes or "type" in changes:
            sla.on_priority_change(desk, number)
        events.publish(desk, "updated", [number])
        if "title" in changes:
            search.reindex_tickets([number])


def agent_row(desk, login: str) -> Agent:
    """The agent a login names; `me` is the acting agent."""
    name = resolve_login(login, desk.actor)
    agent = Agent.get_or_none(Agent.login == name)
    if agent is None:
        raise NotFound(f"agent {limits.shown(name)} not found" + (" (the acting agent: set HELPDESK_AGENT or [me] agent)"
                                                     if login == ME else ""))
    return agent


def reply(desk, number: int, body: str, *, note: bool = False, expected_version: int | None = None) -> EntryView:
    """An agent's public reply (queued in the outbox for the customer) or internal note."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput("the reply is empty")
    limits.check_text("note" if note else "reply", body, limits.BODY_MAX)
    with desk.db.atomic():
        ticket = fetch(number)
        if ticket.status == "closed" and not note:
            raise InvalidInput(f"ticket #{number} is closed: a public reply would reopen nothing; add a note "
                               f"or create a follow-up: helpdesk ticket create --follow-up {number} --title ...")
        if ticket.customer_id is None and not note:
            raise InvalidInput(f"ticket #{number} has no customer: a public reply cannot be mailed to anyone; "
                               f"add an internal note (--note), or set the customer first "
                               f"(ticket update {number} --customer EMAIL)")
        agent = Agent.get_or_none(Agent.login == desk.actor)
        now = desk.now()
        kind = "note" if note else "reply"
        entry = ConversationEntry.create(ticket=number, kind=kind, author_agent=agent, body=body, created_at=now)
        changes: dict[str, Any] = {}
        if not note and ticket.first_response_at is None:
            changes["first_response_at"] = now
        write(desk, ticket, expected_version, **changes)
        queued = None
        if not note:
            queued = outbox.queue_reply(desk, ticket, entry)
        audit.record(desk, number, "noted" if note else "replied", entry=entry.id,
                     **({"outbox": queued} if queued else {}))
        if not note:
            sla.on_agent_reply(desk, number)
        search.reindex_tickets([number])
    return EntryView(id=entry.id, kind=kind, author=desk.actor, body=body, created_at=now)
