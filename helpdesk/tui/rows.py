"""What the queue shows: one `Row` per ticket, the columns a person can choose, and the `RowSource`
protocol through which the queue reads only the rows on screen.

The services layer implements `RowSource` over the desk (keyset paging on the sort key, the count
from the database, change notifications after commit); `memory.MemoryRowSource` implements it over
a list. Nothing here imports textual: rows and columns are plain data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from helpdesk.tui.errors import SettingsError

PAGE_SIZE = 100  # the queue reads its rows in pages of this many
# The queue columns a desk orders by in SQL, and the services' sort key of each; others cannot be yet.
COLUMN_SORTS = {"number": "number", "priority": "priority", "sla": "due", "updated": "updated"}
# The SLA states a row's clock can be in (None: the ticket has no running clock).
SLA_STATES = ("ok", "at_risk", "breached", "paused")


@dataclass(frozen=True, slots=True)
class Row:
    """One ticket as the queue shows it. Frozen and hashable: the queue compares rows to redraw only
    those that changed, and caches rendered lines by row."""

    id: int  # what change notifications name (stable across sorts and pages)
    number: int
    priority: str
    status: str
    title: str
    sla_state: str | None = None  # ok | at_risk | breached | paused | None (no clock)
    sla_minutes: float | None = None  # business minutes left on the clock; negative: overdue
    customer: str | None = None
    assignee: str | None = None
    type: str | None = None
    queue: str | None = None
    updated: dt.datetime | None = None


@runtime_checkable
class RowSource(Protocol):
    """Where the queue reads its rows. Every method may block on I/O: the queue calls them from a
    worker thread, one call at a time, never on the event loop."""

    def count(self) -> int:
        """How many rows the current view holds (the M of "N of M")."""

    def page(self, offset: int, limit: int) -> list[Row]:
        """Up to `limit` rows from position `offset` in the current sort order."""

    def sort_by(self, column: str, descending: bool) -> None:
        """Order the rows by the column with this id (ties by row id); positions change."""

    def on_change(self, callback: Callable[[frozenset[int]], None]) -> Callable[[], None]:
        """Call `callback` with the ids of rows that changed (from any thread); returns the function
        that stops the calls."""


# ---------------------------------------------------------------- cells


def duration(minutes: float) -> str:
    """A length of business time in a cell: '15 min', '4 h', '2 h 5 min' (whole minutes)."""
    hours, mins = divmod(max(0, int(round(abs(minutes)))), 60)
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def sla_cell(row: Row) -> str:
    """The SLA-remaining cell: time left, a mark for at risk ('!'), overdue with a minus, paused with
    '‖'; readable without colour."""
    state, minutes = row.sla_state, row.sla_minutes
    if state is None:
        return ""
    if state == "paused":
        return "‖ paused" if minutes is None else f"‖ {duration(minutes)}"
    if minutes is None:
        return state.replace("_", " ")
    if state == "breached" or minutes < 0:
        return f"-{duration(minutes)}"
    return f"! {duration(minutes)}" if state == "at_risk" else duration(minutes)


def _updated(row: Row) -> str:
    return row.updated.strftime("%Y-%m-%d %H:%M") if row.updated else ""


@dataclass(frozen=True)
class Column:
    """A column of the queue: its id (what `[tui] columns` and `sort_by` name), its heading, its width
    in cells (the flexible column takes what is left, at least this), and its cell's text (shown
    inert, like all stored text)."""

    id: str
    label: str
    width: int
    cell: Callable[[Row], str]
    flex: bool = False
    right: bool = False  # right-aligned (numbers)


COLUMNS: dict[str, Column] = {c.id: c for c in (
    Column("number", "#", 8, lambda r: str(r.number), right=True),
    Column("priority", "Pri", 4, lambda r: r.priority),
    Column("status", "Status", 11, lambda r: r.status.replace("_", " ")),
    Column("sla", "SLA", 12, sla_cell),
    Column("title", "Title", 24, lambda r: r.title, flex=True),
    Column("customer", "Customer", 18, lambda r: r.customer or ""),
    Column("assignee", "Assignee", 10, lambda r: r.assignee or ""),
    Column("type", "Type", 12, lambda r: r.type or ""),
    Column("queue", "Queue", 10, lambda r: r.queue or ""),
    Column("updated", "Updated", 16, _updated),
)}

DEFAULT_COLUMNS = ("number", "priority", "status", "sla", "title", "customer", "assignee", "type", "queue",
                   "updated")


def columns_from_ids(ids: Sequence[str]) -> list[Column]:
    """The columns `[tui] columns` names, in its order; an unknown or repeated id is an error."""
    if isinstance(ids, str) or not ids:
        raise SettingsError("[tui] columns must be a non-empty list of column ids, e.g. "
                            f"{list(DEFAULT_COLUMNS[:4])}")
    unknown = [c for c in ids if c not in COLUMNS]
    if unknown:
        raise SettingsError(f"[tui] columns: unknown column {unknown[0]!r} "
                            f"(known: {', '.join(COLUMNS)})")
    repeated = sorted({c for c in ids if list(ids).count(c) > 1})
    if repeated:
        raise SettingsError(f"[tui] columns: {repeated[0]!r} is listed twice")
    return [COLUMNS[c] for c in ids]
