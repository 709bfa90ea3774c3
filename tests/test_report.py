"""The dashboard's figures (`services.report.summary`, `helpdesk report summary`) on a desk built with
known tickets at known times, checked against what was done to it and against the query language's own
counts (`status:open`, `sla:breached status:open queue:X`)."""

from __future__ import annotations

import datetime as dt

import pytest

from helpdesk.core.clock import FixedClock, utcnow
from helpdesk.core.errors import InvalidInput
from helpdesk.services import agents, lifecycle, report, tickets


def at(desk, when: dt.datetime) -> None:
    desk.clock.current = when


def build(desk, now: dt.datetime) -> dict:
    """A desk of known history, `now` (UTC) being the moment of the summary; the desk's time zone is
    Europe/Berlin (UTC+1 in winter), so 23:30 UTC yesterday is today there. Returns what was done."""
    for login, capacity in (("ann", 5), ("bob", 3), ("cid", 20), ("dan", 20)):
        agents.add(desk, login, skills=["it", "repair", "care"], capacity=capacity)
    done = {"created": {}, "resolved": {}}

    def create(when: dt.datetime, title: str, **kw) -> int:
        at(desk, when)
        number = tickets.create(desk, title=title, customer="ana@example.com", **kw)[0].number
        day = (when + dt.timedelta(hours=1)).date()  # the Berlin day (no DST in these months)
        done["created"][day] = done["created"].get(day, 0) + 1
        return number

    def resolve(when: dt.datetime, number: int) -> None:
        at(desk, when)
        lifecycle.resolve(desk, number)
        day = (when + dt.timedelta(hours=1)).date()
        done["resolved"][day] = done["resolved"].get(day, 0) + 1

    old = create(now - dt.timedelta(days=40), "before the period", priority="P3")
    # (not exactly 3 days: a P3's 3-day first response would fall due exactly now, where the sweep's `<=`
    # and the query language's `<` disagree)
    three_ago = [create(now - dt.timedelta(days=3, hours=-1), f"three days ago {i}", priority="P3") for i in range(2)]
    late_night = create(now.replace(hour=0, minute=0) - dt.timedelta(minutes=30), "23:30 UTC, 00:30 in Berlin",
                        priority="P3", queue="repairs")
    # P0 (24x7: first response 15 min, resolution 4 h): one met twice, one response late, one never answered.
    met = create(now - dt.timedelta(hours=3), "answered in 10 min, solved in 2 h", priority="P0")
    late = create(now - dt.timedelta(hours=3), "answered in 30 min", priority="P0", queue="care")
    ignored = create(now - dt.timedelta(hours=5), "never answered", priority="P0", queue="repairs")

    at(desk, now - dt.timedelta(hours=2, minutes=50))
    lifecycle.assign(desk, met, "ann")
    tickets.reply(desk, met, "On it.")
    at(desk, now - dt.timedelta(hours=2, minutes=30))
    lifecycle.assign(desk, late, "bob")
    tickets.reply(desk, late, "Sorry for the wait.")
    resolve(now - dt.timedelta(hours=1), met)
    resolve(now - dt.timedelta(days=2), three_ago[0])
    at(desk, now - dt.timedelta(hours=1))
    lifecycle.assign(desk, three_ago[1], "ann")
    lifecycle.assign(desk, old, "cid")
    lifecycle.assign(desk, late_night, "bob")
    agents.update(desk, "bob", active=False)  # still holds two open tickets: listed, marked inactive
    agents.update(desk, "dan", active=False)  # inactive with nothing open: not listed
    at(desk, now)
    done.update(open={old, three_ago[1], late_night, late, ignored}, ignored=ignored,
                load={"ann": 1, "bob": 2, "cid": 1, "tester": 0})
    return done


@pytest.fixture
def summary_now():
    return dt.datetime(2026, 3, 2, 9, 0, 0)  # the desk fixture's clock: 10:00 in Berlin


def test_figures_match_what_was_done(desk, summary_now):
    done = build(desk, summary_now)
    found = report.summary(desk)

    assert found.as_of == summary_now and found.timezone == "Europe/Berlin" and found.days == 30
    assert found.open == len(done["open"]) == tickets.count(desk, "status:open")
    assert found.unassigned == 1 == tickets.count(desk, "status:open assignee:none")
    today = dt.date(2026, 3, 2)
    assert found.new_today == done["created"][today] == 4  # the Berlin day: 23:30 UTC yesterday counts
    assert found.resolved_today == done["resolved"][today] == 1

    assert [d.date for d in found.volume] == [today - dt.timedelta(days=29 - i) for i in range(30)]
    assert {d.date: d.created for d in found.volume if d.created} == {
        day: n for day, n in done["created"].items() if day > today - dt.timedelta(days=30)}
    assert {d.date: d.resolved for d in found.volume if d.resolved} == done["resolved"]
    assert sum(d.created for d in found.volume) == sum(done["created"].values()) - 1  # not the one of 40 days ago

    # Clocks stopped in the period: `met` answered in 10 of 15 min and solved in 2 of 4 h; `late`
    # answered in 30 min; three_ago[0] (P3: 3 and 7 business days) resolved after a day, which stops
    # both its clocks. The others still run.
    assert vars(found.sla_by_kind["first_response"]) == {"met": 2, "missed": 1}
    assert vars(found.sla_by_kind["resolution"]) == {"met": 2, "missed": 0}
    assert list(found.sla_by_kind) == ["first_response", "resolution"]
    assert (found.sla.met, found.sla.missed, found.sla.compliance) == (4, 1, 0.8)

    assert {a.agent: a.open for a in found.load} == done["load"]
    assert {a.agent: a.active for a in found.load}["bob"] is False
    assert [a.agent for a in found.load] == sorted(done["load"])

    per_queue = {b.queue: b.breached for b in found.breaches}
    assert list(per_queue) == ["care", "it", "repairs"]  # every queue, by name
    for queue, n in per_queue.items():
        assert n == tickets.count(desk, f"sla:breached status:open queue:{queue}")
    assert per_queue["repairs"] >= 1  # the P0 nobody answered is past its 15 minutes
    assert found.breached == tickets.count(desk, "sla:breached status:open")


def test_the_sweep_marking_breaches_changes_no_figure(desk, summary_now):
    """Breaches the sweep has marked and those it has not seen yet count the same."""
    from helpdesk.services import sla

    build(desk, summary_now)
    before = report.summary(desk).to_dict()
    sla.sweep(desk, check_calendars=False)
    after = report.summary(desk).to_dict()
    assert after["breaches"] == before["breaches"] and after["open"] == before["open"]


def test_an_empty_desk_and_bad_days(desk):
    found = report.summary(desk, days=7)
    assert (found.open, found.new_today, found.resolved_today, found.breached) == (0, 0, 0, 0)
    assert found.sla.compliance is None and len(found.volume) == 7
    assert [a.agent for a in found.load] == ["tester"]
    for bad in (0, 367, -1, True, "7"):
        with pytest.raises(InvalidInput):
            report.summary(desk, days=bad)


def test_cli_json_and_text(desk, cli):
    """The CLI on a desk whose history is relative to the real clock (the command opens its own desk)."""
    now = utcnow().replace(microsecond=0)
    desk.clock.current = now
    tickets.create(desk, title="today's", priority="P1")
    tickets.create(desk, title="today's too", priority="P2", queue="care")

    run = cli("report", "summary", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert list(doc) == ["as_of", "timezone", "days", "open", "unassigned", "new_today", "resolved_today", "sla",
                         "volume", "load", "breaches"]
    assert list(doc["sla"]) == ["met", "missed", "compliance", "by_kind", "measures"]
    assert list(doc["volume"][0]) == ["date", "created", "resolved"]
    assert list(doc["load"][0]) == ["agent", "name", "open", "capacity", "active"]
    assert list(doc["breaches"][0]) == ["queue", "breached"]
    expected = report.summary(desk).to_dict()
    for key in ("open", "unassigned", "volume", "load", "breaches", "timezone", "days"):
        assert doc[key] == expected[key], key
    assert doc["open"] == 2 and sum(d["created"] for d in doc["volume"]) == 2

    text = cli("report", "summary", "--days", "7")
    assert text.exit_code == 0, text.stderr
    assert "Open tickets" in text.stdout and "SLA compliance" in text.stdout
    assert "Load per agent" in text.stdout and "Breaches per queue" in text.stdout
    assert text.stdout.count("\n  20") == 7  # one line a day (dates of this century)
    assert cli("report", "summary", "--days", "0").exit_code == 2


def test_breaches_of_tickets_in_no_queue(home):
    """A desk without queues: its breached tickets are counted under no queue, marked by a sweep or not."""
    from conftest import make_desk
    from helpdesk.domain.desk import open_desk
    from helpdesk.services import sla

    home.write_config('[desk]\nname = "No queues"\n')
    make_desk()
    desk = open_desk(clock=FixedClock(dt.datetime(2026, 3, 2, 9, 0)))
    try:
        for priority in ("P0", "P0", "P3"):
            tickets.create(desk, title=f"{priority} ticket", customer="ana@example.com", priority=priority)
        desk.clock.advance(hours=1)  # past the P0s' 15-minute first response, not the P3's
        found = report.summary(desk)
        assert [(b.queue, b.breached) for b in found.breaches] == [(None, 2)] == [(None, tickets.count(desk, "sla:breached"))]
        sla.sweep(desk, check_calendars=False)
        assert [(b.queue, b.breached) for b in report.summary(desk).breaches] == [(None, 2)]
        assert found.timezone == "UTC" and found.open == 3
    finally:
        desk.close()
