"""Time, injected: services ask `desk.clock.now()` so tests never sleep or patch datetime."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    # Stored times are naive UTC: both backends compare them the same way.
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class SystemClock:
    def now(self) -> dt.datetime:
        return utcnow()


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, start: dt.datetime | None = None):
        self.current = start or utcnow()

    def now(self) -> dt.datetime:
        return self.current

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current
