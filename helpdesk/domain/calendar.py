"""Business calendars: weekly working hours in a time zone, public holidays, or 24x7.

SLA targets count business time only. All arithmetic walks the calendar's working intervals day by
day in local time and converts each interval to UTC with zoneinfo, so DST changes, weekends, holidays
and year ends fall out of the representation instead of special cases. Times in and out are naive UTC
(as stored).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from functools import lru_cache
from zoneinfo import ZoneInfo

from helpdesk.config import calendar as config_calendar
from helpdesk.config.calendar import ALWAYS_OPEN, CalendarSpec, check_zone
from helpdesk.core.errors import ConfigError

MAX_SEARCH_DAYS = 3 * 366  # a calendar with no working time at all must not loop forever


@dataclass(frozen=True)
class Calendar(CalendarSpec):
    """A calendar as the configuration states it (`config.calendar.CalendarSpec`), with its arithmetic."""

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
    return check_zone(name)


@lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str | None, year: int):
    import holidays  # lazy: the holidays library costs ~150 ms to import, most commands never need it

    try:
        return holidays.country_holidays(country, subdiv=subdivision, years=year)
    except (NotImplementedError, KeyError) as exc:
        raise ConfigError(f"config: no holiday calendar for {country}{'/' + subdivision if subdivision else ''}: "
                          f"{exc}") from None


@lru_cache(maxsize=256)
def of(spec: CalendarSpec) -> Calendar:
    """The calendar a configured spec describes (made once per spec)."""
    if isinstance(spec, Calendar):
        return spec
    return Calendar(**{f.name: getattr(spec, f.name) for f in fields(CalendarSpec)})


def parse_calendar(name: str, raw: dict, default_timezone: str) -> Calendar:
    """A `[calendar.NAME]` table (see `config.calendar.parse_calendar`), ready to compute with."""
    return of(config_calendar.parse_calendar(name, raw, default_timezone))


ALWAYS = of(ALWAYS_OPEN)
