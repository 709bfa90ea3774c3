"""`[calendar.NAME]` tables: what a business calendar says (time zone, weekly hours, holidays, or
24x7). `domain.calendar` does the arithmetic over them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk.core.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class CalendarSpec:
    name: str
    timezone: str = "UTC"
    always_open: bool = False  # 24x7
    # weekday (0 = Monday) -> working intervals as (start minute, end minute) of the local day
    hours: tuple[tuple[tuple[int, int], ...], ...] = field(default_factory=lambda: ((),) * 7)
    holidays: frozenset[dt.date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None


ALWAYS_OPEN = CalendarSpec(name="24x7", always_open=True)


def check_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"config: unknown time zone '{name}'") from None


def parse_span(text: str, where: str) -> tuple[int, int]:
    match = SPAN_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ConfigError(f"config: {where}: '{text}' is not a span like 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < 24 * 60 and 0 < end <= 24 * 60 and m1 < 60 and m2 < 60) or end <= start:
        raise ConfigError(f"config: {where}: '{text}' is not a span within one day (end after start)")
    return start, end


def parse_calendar(name: str, raw: dict, default_timezone: str) -> CalendarSpec:
    """A `[calendar.NAME]` table: timezone, hours per weekday ("mon-fri" keys allowed), holidays."""
    allowed = {"timezone", "hours", "holidays", "holiday_country", "holiday_subdivision", "always_open"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"config: unknown key '{key}' in [calendar.{name}] (allowed: {', '.join(sorted(allowed))})")
    timezone = raw.get("timezone", default_timezone)
    check_zone(timezone)
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
    spec = CalendarSpec(name=name, timezone=timezone, always_open=always, hours=tuple(tuple(h) for h in hours),
                        holidays=frozenset(dates), holiday_country=raw.get("holiday_country"),
                        holiday_subdivision=raw.get("holiday_subdivision"))
    if spec.holiday_country is not None and not re.match(r"^[A-Z]{2,3}$", str(spec.holiday_country)):
        raise ConfigError(f"config: calendar '{name}': holiday_country '{spec.holiday_country}' is not an "
                          "ISO country code like DE or US")
    return spec


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
