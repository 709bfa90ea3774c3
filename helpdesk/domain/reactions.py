"""Who reacts to which ticket event (see `domain.events`), in one place: new tickets in a queue that
auto-assigns are routed first, then the event rules run.

Routing and the rule engine load with the first event, not with the package: a read-only command
(`ticket list`, `ticket show`) never publishes one and starts without them."""

from __future__ import annotations

from helpdesk.config.automation import EVENTS
from helpdesk.domain import events


def _route(desk, event: str, numbers: list[int]) -> list:
    from helpdesk.domain import routing  # lazy: loads with the first event (see the module's note)

    routing.route_new(desk, numbers)
    return []


def _rules(desk, event: str, numbers: list[int]) -> list:
    from helpdesk.domain import automation  # lazy: the rule engine loads with the first event

    return automation.emit_many(desk, event, numbers)


def wire() -> None:
    """Subscribe the listeners (idempotent)."""
    events.subscribe("created", _route)
    for event in EVENTS:
        if event != "time":  # time rules run in the sweep, not on an event
            events.subscribe(event, _rules)


wire()
