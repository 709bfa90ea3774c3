"""A `RowSource` over rows held in memory, and a deterministic sequence of a million made-up rows that
costs no memory until read: the queue's tests, snapshots and benchmark run on these without a desk.

`MemoryRowSource` is a whole implementation of the protocol (count, pages, sorting, change
signals), so the queue meets the same contract here as over the desk.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any, overload

from helpdesk.tui.rows import COLUMNS, Row

# The Row attribute each column sorts by.
SORT_ATTRIBUTE = {"sla": "sla_minutes"}


class MemoryRowSource:
    """Rows from a sequence (a list, or anything with `len` and indexing), sorted on request; a row
    replaced with `replace` is signalled to every listener. Safe to call from several threads."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows
        self._replaced: dict[int, Row] = {}  # index in `rows` -> the row that stands there now
        self._sort: tuple[str, bool] | None = None
        self._order: list[int] | None = None  # position -> index in `rows`, once sorted
        self._listeners: list[Callable[[frozenset[int]], None]] = []
        self._lock = threading.RLock()

    def _row(self, index: int) -> Row:
        row = self._replaced.get(index)
        return self._rows[index] if row is None else row

    def count(self) -> int:
        return len(self._rows)

    def page(self, offset: int, limit: int) -> list[Row]:
        with self._lock:
            start = max(0, offset)
            stop = min(len(self._rows), start + max(0, limit))
            if self._order is None:
                return [self._row(i) for i in range(start, stop)]
            return [self._row(i) for i in self._order[start:stop]]

    def sort_by(self, column: str, descending: bool) -> None:
        if column not in COLUMNS:
            raise ValueError(f"no column {column!r} to sort by")
        with self._lock:
            self._sort = (column, descending)
            self._order = self._sorted_order(column, descending)

    def _sorted_order(self, column: str, descending: bool) -> list[int]:
        attribute = SORT_ATTRIBUTE.get(column, column)
        fast = getattr(self._rows, "column_values", None)
        if fast is not None:
            values = fast(attribute)
            for index, row in self._replaced.items():
                values[index] = getattr(row, attribute)
        else:
            values = [getattr(self._row(i), attribute) for i in range(len(self._rows))]
        # Rows without a value come last either way; ties keep the list's order (a stable sort).
        present = [i for i, v in enumerate(values) if v is not None]
        present.sort(key=values.__getitem__, reverse=descending)
        if len(present) < len(values):
            present += [i for i, v in enumerate(values) if v is None]
        return present

    def on_change(self, callback: Callable[[frozenset[int]], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(callback)

        def stop() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)
        return stop

    def replace(self, index: int, row: Row) -> None:
        """Put `row` at `index` of the list given (whatever the sort), keep the sort order true and
        tell the listeners which ids changed."""
        with self._lock:
            old = self._row(index)
            self._replaced[index] = row
            if self._sort is not None:
                attribute = SORT_ATTRIBUTE.get(self._sort[0], self._sort[0])
                if getattr(old, attribute) != getattr(row, attribute):
                    self._order = self._sorted_order(*self._sort)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(frozenset({old.id, row.id}))


# ---------------------------------------------------------------- made-up rows


TITLES = (
    "Printer on 3rd floor jams on every duplex job", "VPN drops every hour since the update",
    "Cannot log in to the expenses portal", "Laptop fan loud, battery drains in an hour",
    "New starter needs accounts and a laptop", "Outlook asks for the password again and again",
    "Wi-Fi in meeting room B keeps disconnecting", "Shared drive S: not mapped after reboot",
    "Monitor flickers when docked", "Request: licence for the diagram editor",
    "Phone not syncing mail since Monday", "Excel macro fails with error 1004",
    "Badge reader at the side door rejects my card", "Printer \"paper jam\" but there is no paper stuck",
    "MFA codes arrive late", "Teams calls drop after ten minutes", "Keyboard missing keys after spill",
    "Access to the finance folder for the audit", "Server room temperature alarm", "Password reset",
)
CUSTOMERS = ("ana.souza@example.com", "ben.ito@example.org", "chloe@example.net", "dmitri.k@example.com",
             "emma.larsen@example.com", "farah@example.org", "george.b@example.com", "hana.sato@example.net",
             None)
AGENTS = ("alice", "bob", "carol", "dave", "erin", "frank")
KINDS = (("it_support", "it"), ("it_support", "it"), ("equipment_repair", "repairs"), ("access", "it"),
         ("question", "care"))
STATUSES = ("new", "assigned", "in_progress", "in_progress", "pending", "resolved")
PRIORITIES = ("P0",) + ("P1",) * 4 + ("P2",) * 10 + ("P3",) * 5
START = dt.datetime(2026, 1, 5, 9, 0)


def _mix(index: int) -> int:
    """A fixed scramble of the index (Knuth's multiplicative hash): varied rows, same every run."""
    return (index * 2654435761) & 0xFFFFFFFF


class SyntheticRows(Sequence[Row]):
    """`count` made-up tickets, row i computed from i when read: a million rows cost nothing until
    shown. Ids and numbers run 1..count in list order; `titles` is the pool titles are drawn from."""

    def __init__(self, count: int, *, titles: Sequence[str] = TITLES) -> None:
        self._count = count
        self._titles = tuple(titles)
        self._fields: dict[str, Callable[[int, int], Any]] = {
            "id": lambda i, h: i + 1,
            "number": lambda i, h: i + 1,
            "priority": lambda i, h: PRIORITIES[h % len(PRIORITIES)],
            "status": lambda i, h: STATUSES[(h >> 5) % len(STATUSES)],
            "title": lambda i, h: self._titles[(h >> 8) % len(self._titles)],
            "sla_state": self._sla_state,
            "sla_minutes": self._sla_minutes,
            "customer": lambda i, h: CUSTOMERS[(h >> 12) % len(CUSTOMERS)],
            "assignee": lambda i, h: None if STATUSES[(h >> 5) % len(STATUSES)] == "new"
            else AGENTS[(h >> 16) % len(AGENTS)],
            "type": lambda i, h: KINDS[(h >> 20) % len(KINDS)][0],
            "queue": lambda i, h: KINDS[(h >> 20) % len(KINDS)][1],
            "updated": lambda i, h: START + dt.timedelta(seconds=37 * i),
        }

    def _sla_state(self, index: int, h: int) -> str | None:
        status = STATUSES[(h >> 5) % len(STATUSES)]
        if status == "resolved":
            return None
        if status == "pending":
            return "paused"
        pick = (h >> 24) % 10
        return "breached" if pick == 0 else "at_risk" if pick < 3 else "ok"

    def _sla_minutes(self, index: int, h: int) -> float | None:
        state = self._sla_state(index, h)
        spread = (h >> 10) % 480
        return {None: None, "paused": 60 + spread, "breached": -1 - spread, "at_risk": 5 + spread % 55,
                "ok": 60 + spread}[state]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        h = _mix(index)
        return Row(**{name: field(index, h) for name, field in self._fields.items()})

    def column_values(self, attribute: str) -> list[Any]:
        """One attribute of every row, computed without building the rows (sorting a million)."""
        field = self._fields[attribute]
        return [field(i, _mix(i)) for i in range(self._count)]
