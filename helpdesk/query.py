"""The query language of the CLI, the TUI filter bar and saved views.

Space-separated terms, all of which must hold: `status:open priority:P0,P1 assignee:me tag:vpn
created:<7d field.serial_number:SN-1 "quoted phrase" words`. A term that is not understood is an
error naming it, never silently ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import peewee as pw

from helpdesk.errors import QueryError
from helpdesk.store import extensions, search
from helpdesk.store.models import (
    OPEN_STATES, PRIORITIES, STATES, Agent, Customer, Organisation, Queue, Ticket, TicketTag,
)

TOKEN_RE = re.compile(r'\s*(?:(?P<key>[A-Za-z_][\w.]*):(?:"(?P<qval>[^"]*)"|(?P<val>\S*))|"(?P<phrase>[^"]*)"|(?P<word>\S+))')
AGE_RE = re.compile(r"^(?P<op>[<>])(?P<n>\d+)(?P<unit>[mhdw])$")
DATE_RE = re.compile(r"^(?P<op>[<>])(?P<date>\d{4}-\d{2}-\d{2})$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
KEYS = ("status", "priority", "assignee", "type", "customer", "org", "queue", "tag", "created", "updated",
        "in_status", "sla", "number")
TIME_KEYS = ("created", "updated", "in_status")  # in_status: how long the ticket has been in its status
SLA_STATES = {"breached": "breached", "at-risk": "at_risk", "at_risk": "at_risk", "ok": None}


@dataclass
class Term:
    key: str
    value: str
    text: str  # as typed, for error messages


@dataclass
class Query:
    terms: list[Term] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # full-text words and phrases


def parse(text: str | None) -> Query:
    query = Query()
    text = (text or "").strip()
    pos = 0
    while pos < len(text):
        match = TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"query: cannot read '{text[pos:].strip()}' (an unclosed quote?)")
        pos = match.end()
        if match.group("key"):
            key = match.group("key").lower()
            value = match.group("qval") if match.group("qval") is not None else match.group("val")
            term_text = match.group(0).strip()
            if match.group("qval") is None and '"' in value:
                raise QueryError(f"query: cannot read '{term_text}' (an unclosed quote?)")
            if key not in KEYS and not key.startswith("field."):
                raise QueryError(f"query: unknown term '{term_text}' (terms: {', '.join(KEYS)}, field.NAME)")
            if value == "":
                raise QueryError(f"query: term '{term_text}' needs a value")
            query.terms.append(Term(key, value, term_text))
        elif match.group("phrase") is not None:
            if match.group("phrase").strip():
                query.words.append(match.group("phrase").strip())
        elif match.group("word"):
            word = match.group("word")
            if '"' in word:
                raise QueryError(f"query: cannot read '{word}' (an unclosed quote?)")
            query.words.append(word)
    return query


def _values(term: Term) -> list[str]:
    values = [v.strip() for v in term.value.split(",") if v.strip()]
    if not values:
        raise QueryError(f"query: term '{term.text}' needs a value")
    return values


def _since(desk, term: Term) -> pw.Expression:
    column = {"created": Ticket.created_at, "updated": Ticket.updated_at,
              "in_status": Ticket.status_changed_at}[term.key]
    age = AGE_RE.match(term.value)
    if age:
        try:
            cutoff = desk.now() - dt.timedelta(**{UNITS[age.group("unit")]: int(age.group("n"))})
        except OverflowError:
            raise QueryError(f"query: '{term.text}' reaches too far back") from None
        # created:<7d = created less than 7 days ago (newer than the cutoff)
        return column > cutoff if age.group("op") == "<" else column < cutoff
    date = DATE_RE.match(term.value)
    if date:
        try:
            day = dt.datetime.fromisoformat(date.group("date"))
        except ValueError:
            raise QueryError(f"query: '{term.text}' is not a real date") from None
        return column < day if date.group("op") == "<" else column >= day + dt.timedelta(days=1)
    raise QueryError(f"query: '{term.text}' must look like {term.key}:<7d, {term.key}:>2h or "
                     f"{term.key}:>2026-01-31")


def check_static(query: Query) -> None:
    """Check what can be checked without a database (rules are validated at start)."""
    from helpdesk.clock import FixedClock

    class _NoDesk:
        clock = FixedClock()

        def now(self):
            return self.clock.now()

    for term in query.terms:
        if term.key in TIME_KEYS:
            _since(_NoDesk(), term)
        elif term.key == "status":
            for v in _values(term):
                if v.lower() != "open" and v.lower() not in STATES:
                    raise QueryError(f"query: unknown status '{v}' in '{term.text}'")
        elif term.key == "priority":
            for v in _values(term):
                if v.upper() not in PRIORITIES:
                    raise QueryError(f"query: unknown priority '{v}' in '{term.text}' (P0..P3)")
        elif term.key == "sla":
            for v in _values(term):
                if v.lower() not in SLA_STATES:
                    raise QueryError(f"query: unknown SLA state '{v}' in '{term.text}' (breached, at-risk, ok)")


def _field_condition(desk, term: Term, type_names: list[str] | None) -> pw.Expression:
    from helpdesk.tickets import coerce_field

    name = term.key[len("field."):]
    records = extensions.type_records(desk)
    candidates = []
    for type_name, record in records.items():
        if type_names and type_name not in type_names:
            continue
        stored = extensions.stored_fields(record)
        if any(f["name"] == name and not f.get("hidden") for f in stored):
            candidates.append((type_name, stored))
    if not candidates:
        raise QueryError(f"query: unknown field '{name}' in '{term.text}'")
    clauses = []
    for type_name, stored in candidates:
        ttype = desk.config.type(type_name)
        spec = ttype.field(name) if ttype else None
        model = extensions.extension_model(type_name, stored)
        column = getattr(model, name)
        values = []
        for raw in _values(term):
            if raw.lower() in ("none", "null") and spec is not None:
                values.append(None)
                continue
            try:
                values.append(coerce_field(ttype, spec, raw) if spec else raw)
            except Exception as exc:
                raise QueryError(f"query: '{term.text}': {exc}") from None
        present = [v for v in values if v is not None]
        cond = column.in_(present) if present else None
        if None in values:
            cond = column.is_null() if cond is None else (cond | column.is_null())
        clauses.append(Ticket.number.in_(model.select(model.ticket).where(cond)))
    combined = clauses[0]
    for clause in clauses[1:]:
        combined = combined | clause
    return combined


def apply(desk, select: pw.ModelSelect, query: Query) -> pw.ModelSelect:
    """Add the query's conditions (all but full-text, see `find`) to a ticket select."""
    conditions: list[pw.Expression] = []
    type_filter: list[str] | None = None
    for term in query.terms:
        if term.key == "type":
            type_filter = _values(term)
    for term in query.terms:
        key = term.key
        if key == "status":
            states: list[str] = []
            for v in _values(term):
                v = v.lower()
                if v == "open":
                    states += OPEN_STATES
                elif v in STATES:
                    states.append(v)
                else:
                    raise QueryError(f"query: unknown status '{v}' in '{term.text}' "
                                     f"(statuses: open, {', '.join(STATES)})")
            conditions.append(Ticket.status.in_(sorted(set(states))))
        elif key == "priority":
            values = [v.upper() for v in _values(term)]
            bad = [v for v in values if v not in PRIORITIES]
            if bad:
                raise QueryError(f"query: unknown priority '{bad[0]}' in '{term.text}' (P0..P3)")
            conditions.append(Ticket.priority.in_(values))
        elif key == "assignee":
            values = _values(term)
            logins = [desk.actor if v == "me" else v for v in values if v != "none"]
            cond = None
            if logins:
                found = dict(Agent.select(Agent.login, Agent.id).where(Agent.login.in_(logins)).tuples())
                unknown = [l for l in logins if l not in found]
                if unknown:
                    raise QueryError(f"query: unknown agent '{unknown[0]}' in '{term.text}'")
                cond = Ticket.assignee.in_(list(found.values()))
            if "none" in values:
                cond = Ticket.assignee.is_null() if cond is None else (cond | Ticket.assignee.is_null())
            conditions.append(cond)
        elif key == "type":
            known = set(extensions.type_records(desk)) | {t.name for t in desk.config.types}
            values = _values(term)
            bad = [v for v in values if v not in known and v != "none"]
            if bad:
                raise QueryError(f"query: unknown type '{bad[0]}' in '{term.text}'")
            named = [v for v in values if v != "none"]
            cond = Ticket.type.in_(named) if named else None
            if "none" in values:
                cond = Ticket.type.is_null() if cond is None else (cond | Ticket.type.is_null())
            conditions.append(cond)
        elif key == "customer":
            conds = []
            for v in _values(term):
                v = v.lower()
                if v.startswith("@"):
                    conds.append(Customer.email.endswith(v))
                else:
                    conds.append(Customer.email == v)
            cond = conds[0]
            for c in conds[1:]:
                cond = cond | c
            conditions.append(Ticket.customer.in_(Customer.select(Customer.id).where(cond)))
        elif key == "org":
            orgs = Organisation.select(Organisation.id).where(Organisation.name.in_(_values(term)))
            conditions.append(Ticket.customer.in_(Customer.select(Customer.id).where(Customer.organisation.in_(orgs))))
        elif key == "queue":
            values = _values(term)
            unknown = [v for v in values if v != "none" and desk.config.queue(v) is None
                       and not Queue.select().where(Queue.name == v).exists()]
            if unknown:
                raise QueryError(f"query: unknown queue '{unknown[0]}' in '{term.text}'")
            named = [v for v in values if v != "none"]
            cond = Ticket.queue.in_(Queue.select(Queue.id).where(Queue.name.in_(named))) if named else None
            if "none" in values:
                cond = Ticket.queue.is_null() if cond is None else (cond | Ticket.queue.is_null())
            conditions.append(cond)
        elif key == "tag":
            # A comma list is any of them, as for every other term; `tag:a tag:b` asks for both.
            tags = [tag.lower() for tag in _values(term)]
            conditions.append(Ticket.number.in_(
                TicketTag.select(TicketTag.ticket).where(TicketTag.tag.in_(tags))))
        elif key in TIME_KEYS:
            conditions.append(_since(desk, term))
        elif key == "sla":
            states = []
            for v in _values(term):
                if v.lower() not in SLA_STATES:
                    raise QueryError(f"query: unknown SLA state '{v}' in '{term.text}' (breached, at-risk, ok)")
                states.append(SLA_STATES[v.lower()])
            named = [s for s in states if s]
            cond = Ticket.sla_state.in_(named) if named else None
            if None in states:
                cond = Ticket.sla_state.is_null() if cond is None else (cond | Ticket.sla_state.is_null())
            conditions.append(cond)
        elif key == "number":
            try:
                numbers = [int(v.lstrip("#")) for v in _values(term)]
            except ValueError:
                raise QueryError(f"query: '{term.text}' needs ticket numbers") from None
            numbers = [n for n in numbers if 0 < n <= 2**31 - 1]  # others cannot exist (nor overflow)
            conditions.append(Ticket.number.in_(numbers))
        elif key.startswith("field."):
            conditions.append(_field_condition(desk, term, type_filter))
    for cond in conditions:
        select = select.where(cond)
    return select


def find(desk, query: Query, select: pw.ModelSelect | None = None) -> tuple[pw.ModelSelect, pw.Node]:
    """The tickets a query selects, with the column that orders them newest first."""
    select = apply(desk, select if select is not None else Ticket.select(), query)
    if query.words:
        return search.restrict(select, Ticket.number, query.words)
    return select, Ticket.number
