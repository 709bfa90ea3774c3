"""Automation rules and macros from the configuration.

```toml
[[macro]]
name = "need-logs"
body = "Could you send us the log files?"
status = "pending"                     # optional: also move the ticket

[[rule]]
name = "remind pending"
on = "time"                            # created | updated | customer_replied | status_changed |
                                       # sla_at_risk | sla_breached | time
when = "status:pending in_status:>3d"  # a condition in the query language
do = [{ reply = "reminder" }]          # actions: set_priority, set_queue, set_field, assign, add_tag,
                                       # note, reply (a macro), status, escalate
```

Event rules run inside the change that raised the event; time rules run in the sweep (`helpdesk sla
check`, every daemon cycle), once per ticket and state. Changes made by rules raise no events, so a
rule can never trigger itself (or another rule) in a loop.
"""

from __future__ import annotations

from typing import Any

from peewee import fn

from helpdesk.config.automation import (  # noqa: F401 - part of this module's interface
    ACTIONS, EVENTS, Automation, Macro, Rule, parse,
)
from helpdesk.core.errors import HelpdeskError, NotFound
from helpdesk.domain import audit, lifecycle, query as query_mod, routing, sla, tickets
from helpdesk.store import queries
from helpdesk.store.db import is_postgres
from helpdesk.store.models import Customer, RuleRun, Ticket


def settings(desk) -> Automation:
    """The rules and macros of the desk's configuration (parsed once, when it was read)."""
    return desk.config.automation


def _as_rule(desk, rule: Rule):
    """The desk a rule acts with: under the rule's name, raising no further rules (a new desk: the
    caller's is unchanged)."""
    return desk.acting_as(f"rule:{rule.name}", rules_muted=True)


def emit(desk, event: str, number: int) -> list[str]:
    """Run the event rules for this ticket (the names of those that fired); changes made by rules
    raise nothing (no loops)."""
    return [name for name, _ in emit_many(desk, event, [number])]


def emit_many(desk, event: str, numbers: list[int]) -> list[tuple[str, int]]:
    """`emit` for a batch of tickets (a bulk intake): each rule's condition is asked once for the whole
    batch, then the rule runs on the tickets it matches, rules in their order; returns (rule, ticket)
    for each firing."""
    if desk.rules_muted:
        return []
    auto = settings(desk)
    fired = []
    for rule in auto.rules:
        if rule.on != event:
            continue
        select, _ = query_mod.find(desk, query_mod.parse(rule.when), Ticket.select(Ticket.number))
        matched: set[int] = set()
        for start in range(0, len(numbers), 500):
            part = numbers[start:start + 500]
            matched.update(n for (n,) in select.where(Ticket.number.in_(part)).tuples())
        for number in numbers:
            if number in matched:
                _run(desk, rule, number, auto)
                fired.append((rule.name, number))
    return fired


def run_time_rules(desk) -> list[dict]:
    """Time rules over every matching ticket, each once per ticket and state."""
    auto = settings(desk)
    postgres = is_postgres(desk.db)
    report = []
    for rule in auto.rules:
        if rule.on != "time":
            continue
        # Once per ticket and stretch in a status: the anchor is when it entered its status.
        select, _ = query_mod.find(desk, query_mod.parse(rule.when),
                                   Ticket.select(Ticket.number, Ticket.status_changed_at))
        # Tickets it already fired on in this stretch are left out by the query (an indexed anti-join),
        # so a sweep with nothing new to do does not try thousands of claims.
        done = RuleRun.select(RuleRun.id).where((RuleRun.rule == rule.name) & (RuleRun.ticket == Ticket.number)
                                                & (RuleRun.anchor == Ticket.status_changed_at))
        for number, anchor in list(select.where(~fn.EXISTS(done)).tuples()):
            with desk.db.atomic():
                # The claim and the actions commit together; a second sweep finds the claim and skips.
                if postgres:
                    # A crash may lose the newest firings, claims and actions alike (they run again
                    # next sweep), never half of one; no flush to disk per firing (10x faster).
                    queries.commit_without_flush(desk.db)
                if not queries.claim_rule_run(desk.db, rule.name, number, anchor, desk.now()):
                    continue
                _run(desk, rule, number, auto)
                report.append({"rule": rule.name, "ticket": number})
    return report


def _run(desk, rule: Rule, number: int, auto: Automation) -> None:
    desk = _as_rule(desk, rule)
    audit.record(desk, number, "rule_fired", rule=rule.name, on=rule.on)
    for kind, value in rule.do:
        try:
            _act(desk, number, kind, value, auto)
        except HelpdeskError as exc:
            # A rule that cannot act (an illegal move, nobody to assign) is recorded, not fatal.
            audit.record(desk, number, "rule_failed", rule=rule.name, step=kind, error=str(exc))


def apply_macro(desk, number: int, name: str, *, expected_version: int | None = None) -> str:
    """An agent applies a named quick reply: the text goes out (or in as a note), the status may move.
    With `expected_version`, a ticket changed since then is refused (StaleVersion)."""
    auto = settings(desk)
    macro = auto.macros.get(name)
    if macro is None:
        known = ", ".join(sorted(auto.macros)) or "none configured"
        raise NotFound(f"macro '{name}' not found (macros: {known})")
    with desk.db.atomic():
        _apply_macro(desk, number, macro, expected_version=expected_version)
    return macro.body


def _apply_macro(desk, number: int, macro: Macro, *, expected_version: int | None = None) -> None:
    ticket = tickets.fetch(number)  # a missing ticket is a clear error, not a traceback
    body = macro.body
    if "{" in body:
        customer = Customer.get_or_none(Customer.id == ticket.customer_id) if ticket.customer_id else None
        body = body.replace("{number}", str(number)).replace("{title}", ticket.title).replace(
            "{customer}", (customer.name or customer.email) if customer else "")
    tickets.reply(desk, number, body, note=macro.note, expected_version=expected_version)
    if macro.status and Ticket.get_by_id(number).status != macro.status:
        lifecycle.change_status(desk, number, macro.status, reason=f"macro {macro.name}")


def _act(desk, number: int, kind: str, value: Any, auto: Automation) -> None:
    if kind == "set_priority":
        tickets.apply_update(desk, number, priority=value)
    elif kind == "set_queue":
        tickets.apply_update(desk, number, queue=value)
    elif kind == "set_field":
        tickets.apply_update(desk, number, fields=dict(value))
    elif kind == "add_tag":
        tickets.apply_update(desk, number, tags_add=[value] if isinstance(value, str) else list(value))
    elif kind == "assign":
        if value == "auto":
            routing.auto_assign(desk, number)
        else:
            lifecycle.assign(desk, number, value)
    elif kind == "note":
        tickets.reply(desk, number, str(value), note=True)
    elif kind == "reply":
        _apply_macro(desk, number, auto.macros[value])
    elif kind == "status":
        if Ticket.get_by_id(number).status != value:
            lifecycle.change_status(desk, number, value, reason="automation")
    elif kind == "escalate":
        # Raise the priority and tell the assignee and the queue lead; `escalate = "queue:NAME"` also
        # hands the ticket to that queue.
        steps = ["raise_priority", "notify"]
        if isinstance(value, str) and value.startswith("queue:"):
            steps.append(value)
        sla.escalate(desk, number, "rule", "escalated", steps)
