"""The query language of the CLI, the TUI filter bar and saved views.

Space-separated terms, all of which must hold: `status:open priority:P0,P1 assignee:me tag:vpn
created:<7d field.serial_number:SN-1 "quoted phrase" words`. A term that is not understood is an
error naming it, never silently ignored. A query holds at most `limits.QUERY_TERMS_MAX` terms and
`limits.QUERY_CHARS_MAX` characters; its conditions are one flat AND (nested ones overflow SQLite's
parser stack and Python's recursion).
"""

from __future__ import annotations

import peewee as pw

from helpdesk.core import query_syntax
from helpdesk.core.errors import QueryError
from helpdesk.core.limits import shown
from helpdesk.core.query_syntax import (  # noqa: F401 - the language's syntax, part of this module's interface
    KEYS, SLA_STATES, TIME_KEYS, Query, Term, check_static, parse,
)
from helpdesk.core.vocabulary import OPEN_STATES, PRIORITIES, resolve_login, STATES
from helpdesk.domain.fields import coerce_field
from helpdesk.store import extensions, queries, search
from helpdesk.store.models import Agent, Customer, Organisation, Queue, Ticket, TicketTag


def _values(term: Term) -> list[str]:
    return query_syntax.values(term)


def _since(desk, term: Term) -> pw.Expression:
    column = {"created": Ticket.created_at, "updated": Ticket.updated_at,
              "in_status": Ticket.status_changed_at}[term.key]
    op, moment = query_syntax.time_bound(term, desk.now())
    return {">": column > moment, "<": column < moment, ">=": column >= moment}[op]


def _field_condition(desk, terms: list[Term], type_names: set[str] | None) -> pw.Expression:
    """Every `field.NAME:` term of one field: one subquery per type that has the field, each term a
    condition of it."""
    name = terms[0].key[len("field."):]
    records = extensions.type_records(desk)
    candidates = []
    for type_name, record in records.items():
        if type_names is not None and type_name not in type_names:
            continue
        stored = extensions.stored_fields(record)
        if any(f["name"] == name and not f.get("hidden") for f in stored):
            candidates.append((type_name, stored))
    if not candidates:
        raise QueryError(f"query: unknown field {shown(name)} in {shown(terms[0].text)}")
    clauses = []
    for type_name, stored in candidates:
        ttype = desk.config.type(type_name)
        spec = ttype.field(name) if ttype else None
        model = extensions.extension_model(type_name, stored)
        column = getattr(model, name)
        conds = []
        for term in terms:
            values = set()
            for raw in _values(term):
                if raw.lower() in ("none", "null") and spec is not None:
                    values.add(None)
                    continue
                try:
                    values.add(coerce_field(ttype, spec, raw) if spec else raw)
                except Exception as exc:
                    raise QueryError(f"query: {shown(term.text)}: {exc}") from None
            conds.append(_in_or_null(column, values))
        clauses.append(Ticket.number.in_(model.select(model.ticket).where(_joined(conds, " AND "))))
    return _joined(clauses, " OR ")


def _joined(conditions: list[pw.Node], glue: str) -> pw.Node:
    """Conditions joined flat (`a AND b AND c`): peewee's `&` nests a pair per operator, and a few
    hundred nested pairs overflow SQLite's parser stack and Python's recursion in building the SQL."""
    return conditions[0] if len(conditions) == 1 else pw.NodeList(conditions, glue, parens=True)


def _sla_condition(desk, states: set[str | None]) -> pw.Node:
    """`sla:breached` / `sla:at-risk` / `sla:ok` as the clocks stand at this moment, so the list agrees
    with `ticket show` without waiting for a sweep: a ticket is breached when the sweep marked it, a
    running clock is past its due time, or a paused or stopped one is over its target; at risk when
    marked or a running clock is past its at-risk time, and not breached; ok when neither.

    Read from the ticket row (its nearest running due and at-risk times, `sla.refresh_due_times`), each
    part an index range, so a count costs the tickets it finds, not the desk. A clock the sweep already
    marked has marked its ticket, so "past due" needs no test of the clock's own mark."""
    now = desk.now()
    due, risk = queries.past_due(now), queries.past_risk(now)
    over = queries.over_target_unmarked(desk.db)
    breached = _joined([Ticket.sla_state == "breached", due, over], " OR ")
    # COALESCE: `NOT (NULL = 'breached' OR ...)` would be NULL, and at-risk tickets never marked would drop out.
    not_breached = ~_joined([pw.fn.COALESCE(Ticket.sla_state, "") == "breached", due, over], " OR ")
    wanted = []
    if "breached" in states:
        wanted.append(breached)
    if "at_risk" in states:
        # (past its at-risk time and none past due: what "not breached" asks of the clocks anyway)
        risk_only = queries.past_risk_not_due(now)
        wanted.append(_joined([_joined([Ticket.sla_state == "at_risk", risk_only], " OR "), not_breached], " AND "))
    if None in states:  # ok
        wanted.append(~_joined([Ticket.sla_state.is_null(False), risk, due, over], " OR "))
    return _joined(wanted, " OR ")


def _in_or_null(column: pw.Field, values: set) -> pw.Node:
    """`column IN (values)`, with None in `values` meaning NULL too; no values matches nothing."""
    named = sorted(v for v in values if v is not None)
    parts = [column.in_(named)] if named else []
    if None in values:
        parts.append(column.is_null())
    return _joined(parts, " OR ") if parts else column.in_([])


def _status_values(term: Term) -> set[str]:
    states: set[str] = set()
    for v in _values(term):
        v = v.lower()
        if v == "open":
            states.update(OPEN_STATES)
        elif v in STATES:
            states.add(v)
        else:
            raise QueryError(f"query: unknown status {shown(v)} in {shown(term.text)} "
                             f"(statuses: open, {', '.join(STATES)})")
    return states


def _priority_values(term: Term) -> set[str]:
    values = {v.upper() for v in _values(term)}
    bad = sorted(v for v in values if v not in PRIORITIES)
    if bad:
        raise QueryError(f"query: unknown priority {shown(bad[0])} in {shown(term.text)} (P0..P3)")
    return values


def _assignee_values(desk, term: Term) -> set[int | None]:
    values = _values(term)
    logins = [resolve_login(v, desk.actor) for v in values if v != "none"]
    ids: set[int | None] = {None} if "none" in values else set()
    if logins:
        found = dict(Agent.select(Agent.login, Agent.id).where(Agent.login.in_(logins)).tuples())
        unknown = [l for l in logins if l not in found]
        if unknown:
            raise QueryError(f"query: unknown agent {shown(unknown[0])} in {shown(term.text)}")
        ids.update(found.values())
    return ids


def _type_values(desk, term: Term) -> set[str | None]:
    known = set(extensions.type_records(desk)) | {t.name for t in desk.config.types}
    values = _values(term)
    bad = [v for v in values if v not in known and v != "none"]
    if bad:
        raise QueryError(f"query: unknown type {shown(bad[0])} in {shown(term.text)}")
    return {None if v == "none" else v for v in values}


def _queue_values(desk, term: Term) -> set[str | None]:
    values = _values(term)
    unknown = [v for v in values if v != "none" and desk.config.queue(v) is None
               and not Queue.select().where(Queue.name == v).exists()]
    if unknown:
        raise QueryError(f"query: unknown queue {shown(unknown[0])} in {shown(term.text)}")
    return {None if v == "none" else v for v in values}


def _sla_values(term: Term) -> set[str | None]:
    states = set()
    for v in _values(term):
        if v.lower() not in SLA_STATES:
            raise QueryError(f"query: unknown SLA state {shown(v)} in {shown(term.text)} (breached, at-risk, ok)")
        states.add(SLA_STATES[v.lower()])
    return states


def _number_values(term: Term) -> set[int]:
    numbers = set()
    for v in _values(term):
        digits = v.lstrip("#")
        if not (digits.isascii() and digits.isdigit()):
            raise QueryError(f"query: {shown(term.text)} needs ticket numbers")
        if len(digits.lstrip("0")) <= 10 and 0 < int(digits) <= 2**31 - 1:  # others cannot exist (nor overflow)
            numbers.add(int(digits))
    return numbers


def _customer_condition(term: Term) -> pw.Node:
    values = sorted({v.lower() for v in _values(term)})
    conds = [Customer.email.endswith(v) for v in values if v.startswith("@")]
    exact = [v for v in values if not v.startswith("@")]
    if exact:
        conds.append(Customer.email.in_(exact))
    return _joined(conds, " OR ")


def _tag_condition(terms: list[Term]) -> pw.Node:
    """Tickets with, for every `tag:` term, one of its tags (a comma list is any of them, as for every
    other term; `tag:a tag:b` asks for both): one subquery however many terms."""
    wanted = sorted({tuple(sorted({t.lower() for t in _values(term)})) for term in terms})
    every = sorted({tag for tags in wanted for tag in tags})
    inner = TicketTag.select(TicketTag.ticket).where(TicketTag.tag.in_(every))
    if len(wanted) > 1:
        inner = inner.group_by(TicketTag.ticket).having(_joined(
            [pw.fn.MAX(pw.Case(None, [(TicketTag.tag.in_(list(tags)), 1)], 0)) == 1 for tags in wanted], " AND "))
    return Ticket.number.in_(inner)


def _all_of(terms: list[Term], values) -> set:
    """The values every term of one kind allows (`status:open status:pending` is pending)."""
    return set.intersection(*(set(values(term)) for term in terms))


def apply(desk, select: pw.ModelSelect, query: Query) -> pw.ModelSelect:
    """Add the query's conditions (all but full-text, see `find`) to a ticket select: one condition
    per kind of term (the terms of a kind combined), joined flat, so a long query costs the planners
    about what a short one does (a subquery per term took PostgreSQL 59 s to plan at 100 terms)."""
    by_key: dict[str, list[Term]] = {}
    for term in query.terms:
        by_key.setdefault(term.key, []).append(term)
    conditions: list[pw.Node] = []
    type_filter: set[str] | None = None
    if "type" in by_key:
        types = _all_of(by_key["type"], lambda t: _type_values(desk, t))
        type_filter = {t for t in types if t is not None}
        conditions.append(_in_or_null(Ticket.type, types))
    for key, terms in by_key.items():
        if key == "status":
            conditions.append(Ticket.status.in_(sorted(_all_of(terms, _status_values))))
        elif key == "priority":
            conditions.append(Ticket.priority.in_(sorted(_all_of(terms, _priority_values))))
        elif key == "assignee":
            conditions.append(_in_or_null(Ticket.assignee, _all_of(terms, lambda t: _assignee_values(desk, t))))
        elif key == "customer":
            each = _joined([_customer_condition(term) for term in terms], " AND ")
            conditions.append(Ticket.customer.in_(Customer.select(Customer.id).where(each)))
        elif key == "org":
            names = sorted(_all_of(terms, _values))
            orgs = Organisation.select(Organisation.id).where(Organisation.name.in_(names))
            conditions.append(Ticket.customer.in_(Customer.select(Customer.id).where(Customer.organisation.in_(orgs))))
        elif key == "queue":
            names = _all_of(terms, lambda t: _queue_values(desk, t))
            named = sorted(n for n in names if n is not None)
            parts = [Ticket.queue.in_(Queue.select(Queue.id).where(Queue.name.in_(named)))] if named else []
            if None in names:
                parts.append(Ticket.queue.is_null())
            conditions.append(_joined(parts, " OR ") if parts else Ticket.queue.in_([]))
        elif key == "tag":
            conditions.append(_tag_condition(terms))
        elif key in TIME_KEYS:
            conditions.extend(_since(desk, term) for term in terms)
        elif key == "sla":
            states = _all_of(terms, _sla_values)
            conditions.append(_sla_condition(desk, states) if states else Ticket.number.in_([]))
        elif key == "number":
            conditions.append(Ticket.number.in_(sorted(_all_of(terms, _number_values))))
        elif key.startswith("field."):
            conditions.append(_field_condition(desk, terms, type_filter))
    return select.where(_joined(conditions, " AND ")) if conditions else select


def find(desk, query: Query, select: pw.ModelSelect | None = None, *,
         indexed_search: bool = True) -> tuple[pw.ModelSelect, pw.Node]:
    """The tickets a query selects, with the column that orders them newest first (`indexed_search`
    False: words are tested on each row read, never looked up in the full-text index; see
    `search.restrict`)."""
    select = apply(desk, select if select is not None else Ticket.select(), query)
    if query.words:
        return search.restrict(select, Ticket.number, query.words, indexed=indexed_search)
    return select, Ticket.number
