"""Business calendar arithmetic: properties over random moments, and the edges (DST, holidays, year end)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.calendar import ALWAYS, parse_calendar
from helpdesk.errors import ConfigError

BERLIN = parse_calendar("office", {
    "timezone": "Europe/Berlin",
    "hours": {"mon-thu": ["08:00-12:00", "13:00-17:00"], "fri": "08:00-14:00"},
    "holiday_country": "DE", "holiday_subdivision": "BY", "holidays": ["2026-12-24", "2026-12-31"],
}, "UTC")
NEW_YORK = parse_calendar("ny", {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}, "UTC")
CALENDARS = [BERLIN, NEW_YORK, ALWAYS]

moments = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31))
minutes = st.integers(min_value=1, max_value=60 * 24 * 20)


@settings(max_examples=150, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=moments, mins=minutes)
def test_adding_then_measuring_agree(cal, start, mins):
    due = cal.add(start, mins)
    assert due > start
    assert cal.between(start, due) == dt.timedelta(minutes=mins)


@settings(max_examples=150, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=moments, a=minutes, b=minutes)
def test_adding_in_two_steps_is_adding_once(cal, start, a, b):
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@settings(max_examples=100, deadline=None)
@given(cal=st.sampled_from(CALENDARS), start=moments, mid=moments, end=moments)
def test_business_time_is_additive(cal, start, mid, end):
    start, mid, end = sorted([start, mid, end])
    assert cal.between(start, end) == cal.between(start, mid) + cal.between(mid, end)


@settings(max_examples=100, deadline=None)
@given(start=moments, mins=minutes)
def test_a_due_time_is_always_inside_working_hours(start, mins):
    due = BERLIN.add(start, mins)
    local = due.replace(tzinfo=dt.timezone.utc).astimezone(BERLIN.zone)
    day = local.date() if local.time() != dt.time(0) else local.date() - dt.timedelta(days=1)
    assert any(a < due <= b for a, b in BERLIN.intervals(day))


def test_dst_spring_forward_berlin():
    # Friday 13:00 CET (12:00Z) + 3h: 1h on Friday; Monday 08:00 CEST is 06:00Z, + 2h = 08:00Z.
    assert BERLIN.add(dt.datetime(2026, 3, 27, 12, 0), 180) == dt.datetime(2026, 3, 30, 8, 0)


def test_dst_fall_back_new_york():
    # Friday 16:00 EDT (20:00Z) + 2h: 1h Friday; Monday 09:00 EST is 14:00Z, + 1h = 15:00Z.
    assert NEW_YORK.add(dt.datetime(2026, 10, 30, 20, 0), 120) == dt.datetime(2026, 11, 2, 15, 0)


def test_24x7_across_dst_counts_real_hours():
    start = dt.datetime(2026, 3, 28, 12, 0)
    assert ALWAYS.add(start, 24 * 60) == dt.datetime(2026, 3, 29, 12, 0)


def test_holidays_and_year_end():
    # Wed 23 Dec 2026 17:00 Berlin (closing); 24th (config), 25th/26th (public), weekend skipped:
    # Monday 28th 08:00 + 1h = 09:00 Berlin = 08:00Z.
    start = dt.datetime(2026, 12, 23, 16, 0)
    assert BERLIN.add(start, 60) == dt.datetime(2026, 12, 28, 8, 0)
    # From Mon 28th 09:00 Berlin, 25h: 7h Mon, 8h Tue, 8h Wed; 31 Dec (config) and 1 Jan (public) are
    # off, 2-3 Jan is a weekend; the last 2h are Mon 4 Jan 08:00-10:00 Berlin = 09:00Z.
    due = BERLIN.add(dt.datetime(2026, 12, 28, 8, 0), 25 * 60)
    assert due == dt.datetime(2027, 1, 4, 9, 0)


def test_regional_holiday():
    # 6 January (Epiphany) is a holiday in Bavaria but not in Berlin.
    bavaria = BERLIN
    berlin = parse_calendar("b", {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"},
                                  "holiday_country": "DE", "holiday_subdivision": "BE"}, "UTC")
    day = dt.date(2027, 1, 6)
    assert bavaria.intervals(day) == [] and berlin.intervals(day)


def test_zero_and_measuring_backwards():
    start = dt.datetime(2026, 6, 6, 10, 0)  # a Saturday
    assert BERLIN.add(start, 0) == dt.datetime(2026, 6, 8, 6, 0)  # Monday 08:00 CEST
    assert BERLIN.between(start, start - dt.timedelta(hours=1)) == dt.timedelta()


@pytest.mark.parametrize("raw,message", [
    ({"timezone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}}, "unknown time zone"),
    ({"hours": {"mon": "9-5"}}, "not a span"),
    ({"hours": {"mon": "17:00-09:00"}}, "end after start"),
    ({"hours": {"funday": "09:00-17:00"}}, "not a day"),
    ({"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "overlap"),
    ({"hours": {}}, "no working hours"),
    ({"hours": {"mon": "09:00-17:00"}, "holidays": ["christmas"]}, "not a date"),
    ({"hours": {"mon": "09:00-17:00"}, "holiday_country": "Germany"}, "not an ISO country code"),
    ({"hours": {"mon": "09:00-17:00"}, "colour": "red"}, "unknown key 'colour'"),
    ({"hours": "09:00-17:00"}, "must be a table"),
    ({"hours": {"mon": [9, 17]}}, "not a span"),
])
def test_bad_calendar_configuration(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_calendar("bad", raw, "UTC")


def test_an_unknown_holiday_country_is_reported_when_checked():
    cal = parse_calendar("bad", {"hours": {"mon": "09:00-17:00"}, "holiday_country": "XX"}, "UTC")
    with pytest.raises(ConfigError, match="no holiday calendar for XX"):
        cal.check()
