"""The desk's vocabulary, in one place: ticket states, priorities, channels, conversation entry kinds,
SLA clock kinds and states, and the checks that a word is one of them.

Everything above (config, store, domain, front ends) imports these; nothing here imports the desk.
"""

from __future__ import annotations

from helpdesk.core.errors import InvalidInput
from helpdesk.core.limits import shown

STATES = ("new", "assigned", "in_progress", "pending", "resolved", "closed")
OPEN_STATES = ("new", "assigned", "in_progress", "pending")
DONE_STATES = ("resolved", "closed")
PRIORITIES = ("P0", "P1", "P2", "P3")
CHANNELS = ("cli", "email", "api", "agent", "import", "sample")
ENTRY_KINDS = ("reply", "note", "inbound")  # conversation entries
SLA_KINDS = ("first_response", "next_update", "resolution")  # SLA clocks
SLA_OUTCOMES = ("at_risk", "breached")  # what a sweep marks a clock (and its ticket's sla_state)
SLA_ACTIONS = ("notify", "raise_priority")  # escalation steps, plus "queue:NAME"
SENTIMENTS = ("very_negative", "negative", "neutral", "positive", "very_positive")  # AI suggestions
CONFIDENCE_LEVELS = ("low", "medium", "high")  # of an AI suggestion, in rising order

ME = "me"  # in an agent argument or query: the acting agent


def check_priority(value: str | None) -> str:
    """A priority as typed (any case) -> P0..P3; anything else is refused by name."""
    priority = str(value or "").upper()
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority {shown(value)} is not one of {', '.join(PRIORITIES)}")
    return priority


def check_status(name: str) -> str:
    """A ticket status, exactly as stored; anything else is refused by name."""
    if name not in STATES:
        raise InvalidInput(f"unknown status {shown(name)} (statuses: {', '.join(STATES)})")
    return name


def resolve_login(login: str, actor: str) -> str:
    """An agent login as given: `me` is the acting agent."""
    return actor if login == ME else login
