"""Who reacts to which ticket event (see `domain.events`), in one place: new tickets in a queue that
auto-assigns are routed first, then the event rules run."""

from __future__ import annotations

from helpdesk.config.automation import EVENTS
from helpdesk.domain import automation, events, routing


def _route(desk, event: str, numbers: list[int]) -> list:
    routing.route_new(desk, numbers)
    return []


def _rules(desk, event: str, numbers: list[int]) -> list:
    return automation.emit_many(desk, event, numbers)


def wire() -> None:
    """Subscribe the listeners (idempotent)."""
    events.subscribe("created", _route)
    for event in EVENTS:
        if event != "time":  # time rules run in the sweep, not on an event
            events.subscribe(event, _rules)


wire()
