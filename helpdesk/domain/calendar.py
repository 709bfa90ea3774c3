"""Business calendars: weekly working hours in a time zone, public holidays, or 24x7.

SLA targets count business time only. All arithmetic walks the calendar's working intervals day by
day in local time and converts each interval to UTC with zoneinfo, so DST changes, weekends, holidays
and year ends fall out of the representation instead of special cases. Times in and out are naive UTC
(as stored).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk.core.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
MAX_SEARCH_DAYS = 3 * 366  # a calendar with no working time at all must not loop forever


@dataclass(frozen=True)
class Calendar:
    name: str
    timezone: str = "UTC"
    always_open: bool = False  # 24x7
    # weekday (0 = Monday) -> working intervals as (start minute, end minute) of the local day
    hours: tuple[tuple[tuple[int, int], ...], ...] = field(default_factory=lambda: ((),) * 7)
    holidays: frozenset[dt.date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def check(self, year: int = 2026) -> None:
        """Load the public holidays once (the holidays library costs ~150 ms, so this runs when the
        daemon or `sla check` starts, not on every command)."""
        if self.holiday_country:
            _country_holidays(self.holiday_country, self.holiday_subdivision, year)

    def is_holiday(self, day: dt.date) -> bool:
        if day in self.holidays:
            return True
        if self.holiday_country:
            return day in _country_holidays(self.holiday_country, self.holiday_subdivision, day.year)
        return False

    def intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working intervals of one local day, as naive UTC datetimes."""
        if self.always_open:
            start = dt.datetime.combine(day, dt.time(), self.zone)
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self.zone)
            return [(_utc(start), _utc(end))]
        if self.is_holiday(day):
            return []
        out = []
        for start_min, end_min in self.hours[day.weekday()]:
            start = _local(day, start_min, self.zone)
            end = _local(day, end_min, self.zone)
            if end > start:
                out.append((start, end))
        return out

    def add(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The moment `minutes` of business time after `start` (naive UTC)."""
        if minutes <= 0:
            return self.next_open(start) if minutes == 0 else start
        remaining = dt.timedelta(minutes=minutes)
        day = self._local_day(start)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self.intervals(day):
                if b <= start:
                    continue
                a = max(a, start)
                if b - a >= remaining:
                    return a + remaining
                remaining -= b - a
            day += dt.timedelta(days=1)
        raise ConfigError(f"calendar '{self.name}' has no working time in {MAX_SEARCH_DAYS} days")

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        day = self._local_day(moment)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self.intervals(day):
                if b > moment:
                    return max(a, moment)
            day += dt.timedelta(days=1)
        raise ConfigError(f"calendar '{self.name}' has no working time in {MAX_SEARCH_DAYS} days")

    def is_open(self, moment: dt.datetime) -> bool:
        return self.next_open(moment) == moment

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from `start` to `end` (zero if end is not after start)."""
        if end <= start:
            return dt.timedelta()
        total = dt.timedelta()
        day = self._local_day(start)
        last = end.replace(tzinfo=dt.timezone.utc).astimezone(self.zone).date()
        while day <= last:
            for a, b in self.intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total

    def _local_day(self, moment: dt.datetime) -> dt.date:
        # The local day that contains this UTC moment; the previous one too may hold an interval
        # reaching past midnight UTC, so start a day early (cheap, and never wrong).
        local = moment.replace(tzinfo=dt.timezone.utc).astimezone(self.zone)
        return local.date() - dt.timedelta(days=1)


def _local(day: dt.date, minute: int, zone: ZoneInfo) -> dt.datetime:
    if minute >= 24 * 60:
        moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    else:
        moment = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), zone)
    return _utc(moment)


def _utc(moment: dt.datetime) -> dt.datetime:
    # A local time that does not exist (spring forward) is read with the offset before the gap, which
    # zoneinfo does by default (fold=0): 02:30 on the change day counts as 03:30 summer time.
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"config: unknown time zone '{name}'") from None


@lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str | None, year: int):
    import holidays

    try:
        return holidays.country_holidays(country, subdiv=subdivision, years=year)
    except (NotImplementedError, KeyError) as exc:
        raise ConfigError(f"config: no holiday calendar for {country}{'/' + subdivision if subdivision else ''}: "
                          f"{exc}") from None


def parse_span(text: str, where: str) -> tuple[int, int]:
    match = SPAN_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ConfigError(f"config: {where}: '{text}' is not a span like 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < 24 * 60 and 0 < end <= 24 * 60 and m1 < 60 and m2 < 60) or end <= start:
        raise ConfigError(f"config: {where}: '{text}' is not a span within one day (end after start)")
    return start, end


def parse_calendar(name: str, raw: dict, default_timezone: str) -> Calendar:
    """A `[calendar.NAME]` table: timezone, hours per weekday ("mon-fri" keys allowed), holidays."""
    allowed = {"timezone", "hours", "holidays", "holiday_country", "holiday_subdivision", "always_open"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"config: unknown key '{key}' in [calendar.{name}] (allowed: {', '.join(sorted(allowed))})")
    timezone = raw.get("timezone", default_timezone)
    _zone(timezone)
    hours: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    if not isinstance(raw.get("hours") or {}, dict):
        raise ConfigError(f"config: calendar.{name}.hours must be a table, like {{ mon-fri = \"09:00-17:00\" }}")
    for key, spans in (raw.get("hours") or {}).items():
        days = _day_range(key, f"calendar.{name}.hours")
        if isinstance(spans, str):
            spans = [spans]
        if not isinstance(spans, list):
            raise ConfigError(f"config: calendar.{name}.hours.{key} must be a span or a list of spans")
        parsed = sorted(parse_span(s, f"calendar.{name}.hours.{key}") for s in spans)
        for (a1, b1), (a2, _b2) in zip(parsed, parsed[1:]):
            if a2 < b1:
                raise ConfigError(f"config: calendar.{name}.hours.{key}: spans overlap")
        for d in days:
            hours[d] = parsed
    dates = set()
    for value in raw.get("holidays", []):
        try:
            dates.add(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError:
            raise ConfigError(f"config: calendar.{name}.holidays: '{value}' is not a date YYYY-MM-DD") from None
    always = bool(raw.get("always_open", False))
    if not always and not any(hours):
        raise ConfigError(f"config: calendar '{name}' has no working hours (set hours, or always_open = true)")
    cal = Calendar(name=name, timezone=timezone, always_open=always, hours=tuple(tuple(h) for h in hours),
                   holidays=frozenset(dates), holiday_country=raw.get("holiday_country"),
                   holiday_subdivision=raw.get("holiday_subdivision"))
    if cal.holiday_country is not None and not re.match(r"^[A-Z]{2,3}$", str(cal.holiday_country)):
        raise ConfigError(f"config: calendar '{name}': holiday_country '{cal.holiday_country}' is not an "
                          "ISO country code like DE or US")
    return cal


def _day_range(key: str, where: str) -> list[int]:
    key = key.lower()
    if "-" in key:
        first, last = key.split("-", 1)
        if first not in DAYS or last not in DAYS:
            raise ConfigError(f"config: {where}: '{key}' is not a day range like mon-fri")
        a, b = DAYS.index(first), DAYS.index(last)
        return list(range(a, b + 1)) if a <= b else list(range(a, 7)) + list(range(0, b + 1))
    if key not in DAYS:
        raise ConfigError(f"config: {where}: '{key}' is not a day (mon..sun or mon-fri)")
    return [DAYS.index(key)]


ALWAYS = Calendar(name="24x7", always_open=True)
