"""Plain dataclasses the domain hands to front ends: never ORM rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class EntryView:
    id: int
    kind: str
    author: str | None
    body: str
    created_at: dt.datetime
    message_id: str | None = None
    full_body: str | None = None  # a mail's whole text (quoted history included); None: the body is all
    hidden_lines: int = 0  # non-blank lines of full_body the body leaves out

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def hidden_line_count(full: str | None, shown: str) -> int:
    """How many non-blank lines of a mail's whole text its shown text leaves out."""
    if not full:
        return 0
    return max(0, sum(1 for line in full.splitlines() if line.strip())
               - sum(1 for line in shown.splitlines() if line.strip()))


@dataclass
class EventView:
    id: int
    ticket: int | None
    actor: str
    action: str
    data: dict
    created_at: dt.datetime

    def to_dict(self) -> dict:
        return _plain(asdict(self))


@dataclass
class TicketView:
    number: int
    title: str
    status: str
    priority: str
    type: str | None
    queue: str | None
    assignee: str | None
    customer: str | None
    channel: str
    tags: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    description: str = ""
    organisation: str | None = None
    idempotency_key: str | None = None
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    merged_into: int | None = None
    parent: int | None = None
    sla_state: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    conversation: list[EntryView] | None = None
    attachments: list[dict] | None = None
    sla: list[dict] | None = None  # the SLA clocks: target, used, remaining, state
    rating: dict | None = None

    def to_dict(self) -> dict:
        data = _plain(asdict(self))
        for detail in ("conversation", "attachments", "sla"):  # details of `show` only (rating: None = unrated)
            if data[detail] is None:
                data.pop(detail)
        return data


@dataclass
class FieldView:
    """One field of a ticket type, as a form asks for it: its kind (text, int, number, bool, date,
    choice), whether it is required, and a choice's options."""

    name: str
    kind: str
    label: str = ""
    required: bool = False
    options: list[str] = field(default_factory=list)


@dataclass
class TypeView:
    """A ticket type with its own fields (the extension table's columns) and the queue it lands in."""

    name: str
    label: str
    queue: str | None = None
    fields: list[FieldView] = field(default_factory=list)


@dataclass
class TicketFormView:
    """What a new ticket can be: the desk's types, queues and priorities, and what is taken when none
    is given."""

    types: list[TypeView]
    queues: list[str]
    priorities: list[str]
    default_priority: str
    default_queue: str | None = None


@dataclass
class MacroView:
    """A configured quick reply: its text, whether it goes in as an internal note, the status it sets."""

    name: str
    body: str
    note: bool = False
    status: str | None = None


LIST_COLUMNS = ["number", "title", "status", "priority", "type", "queue", "assignee", "customer", "tags",
                "created_at", "updated_at"]
