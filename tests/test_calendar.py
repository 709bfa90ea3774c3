"""Business calendar arithmetic: properties over random moments, and the edges (DST, holidays, year end)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.domain.calendar import ALWAYS, parse_calendar
from helpdesk.core.errors import ConfigError

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


# ---------------------------------------------------------------- spans that start or end inside a DST change
# Europe/Berlin: on Sun 29 Mar 2026 the clocks jump from 02:00 to 03:00 (a gap); on Sun 25 Oct 2026 they
# go back from 03:00 to 02:00 (02:00-03:00 happens twice). Business time is real elapsed time between the
# span's two ends; an end the clock skips is read with the offset before the change (it lands an hour
# later: 02:30 is 03:30 summer time), an end the clock shows twice is its first occurrence (summer time).

SPRING, FALL = dt.date(2026, 3, 29), dt.date(2026, 10, 25)


def night(span: str):
    return parse_calendar("night", {"timezone": "Europe/Berlin", "hours": {"sun": span}}, "UTC")


def utc(day: int, month: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute)


@pytest.mark.parametrize("span,start,end,hours", [
    ("02:30-06:00", utc(29, 3, 1, 30), utc(29, 3, 4), 2.5),   # starts in the gap: at 03:30 CEST
    ("00:00-02:30", utc(28, 3, 23), utc(29, 3, 1, 30), 2.5),  # ends in the gap: at 03:30 CEST, as long as written
    ("02:15-02:45", utc(29, 3, 1, 15), utc(29, 3, 1, 45), 0.5),  # inside the gap: 03:15-03:45 CEST
    ("01:00-04:00", utc(29, 3, 0), utc(29, 3, 2), 2.0),       # across the gap: the hour that never was is not worked
])
def test_a_span_with_an_end_in_the_spring_gap(span, start, end, hours):
    cal = night(span)
    assert cal.intervals(SPRING) == [(start, end)]
    assert cal.between(utc(28, 3, 0), utc(30, 3, 0)) == dt.timedelta(hours=hours)
    assert cal.add(utc(28, 3, 0), hours * 60) == end


@pytest.mark.parametrize("span,start,end,hours", [
    ("02:30-06:00", utc(25, 10, 0, 30), utc(25, 10, 5), 4.5),  # starts in the repeated hour: its first pass
    ("00:00-02:30", utc(24, 10, 22), utc(25, 10, 0, 30), 2.5),  # ends at the first 02:30: as long as written
    ("02:15-02:45", utc(25, 10, 0, 15), utc(25, 10, 0, 45), 0.5),  # inside it: the first pass only
    ("01:00-04:00", utc(24, 10, 23), utc(25, 10, 3), 4.0),     # across it: the repeated hour is worked twice
])
def test_a_span_with_an_end_in_the_autumn_overlap(span, start, end, hours):
    cal = night(span)
    assert cal.intervals(FALL) == [(start, end)]
    assert cal.between(utc(24, 10, 0), utc(26, 10, 0)) == dt.timedelta(hours=hours)
    assert cal.add(utc(24, 10, 0), hours * 60) == end


NIGHT_SHIFT = parse_calendar("nights", {"timezone": "Europe/Berlin", "hours": {
    "mon-sun": ["00:00-02:30", "02:45-03:15", "22:00-24:00"]}}, "UTC")
dst_moments = st.sampled_from([utc(28, 3, 20), utc(29, 3, 0, 30), utc(29, 3, 1, 10), utc(24, 10, 21),
                               utc(25, 10, 0, 10), utc(25, 10, 0, 50), utc(25, 10, 1, 20)])


@settings(max_examples=150, deadline=None)
@given(start=st.one_of(dst_moments, moments), mins=st.integers(min_value=1, max_value=60 * 30))
def test_spans_touching_dst_changes_add_and_measure_alike(start, mins):
    due = NIGHT_SHIFT.add(start, mins)
    assert due > start and NIGHT_SHIFT.between(start, due) == dt.timedelta(minutes=mins)
    assert NIGHT_SHIFT.add(NIGHT_SHIFT.add(start, mins // 2), mins - mins // 2) == due
