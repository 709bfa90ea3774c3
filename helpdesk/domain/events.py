"""Ticket events (created, updated, status_changed, customer_replied, sla_at_risk, sla_breached) and who
reacts to them, so the modules that raise an event need not know its listeners (routing, automation):
those sit above and subscribe (`domain.reactions` wires them, once, at import).

Listeners run inside the change that raised the event, in the order they subscribed: what they write
commits or rolls back with it.
"""

from __future__ import annotations

from typing import Any, Callable

# A listener: (desk, event, ticket numbers) -> what it did (a list; empty when it did nothing).
Listener = Callable[[Any, str, list[int]], list]

_listeners: dict[str, list[Listener]] = {}


def subscribe(event: str, listener: Listener) -> None:
    """Call `listener` on every `event` (subscribing the same listener twice keeps one)."""
    found = _listeners.setdefault(event, [])
    if listener not in found:
        found.append(listener)


def publish(desk, event: str, numbers: list[int]) -> list:
    """Tell the listeners of `event` about these tickets; returns what they did, all listeners' lists
    joined (empty: nothing reacted)."""
    done: list = []
    if numbers:
        for listener in _listeners.get(event, ()):
            done.extend(listener(desk, event, numbers))
    return done
