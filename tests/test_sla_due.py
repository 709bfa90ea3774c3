"""The ticket's stored nearest running SLA times (`sla_due_at`, `sla_risk_at`, migration 0019), on both
backends: they equal what the clocks say after every kind of clock change; `sla:breached` / `sla:at-risk`
/ `sla:ok` read from them select exactly what the clocks themselves say (the oracle below, computed from
sla_clock as the conditions were before the columns); the queue sorted by due pages by keyset across
the tickets with no running clock (last either way); and the migration fills the columns of a desk
that had none."""

from __future__ import annotations

import datetime as dt

from helpdesk.domain import lifecycle, sla, tickets
from helpdesk.store import migrations
from helpdesk.store.models import SlaClock, Ticket

from test_sla import new, sla_desk  # noqa: F401 - the fixture: SLA policies on a FixedClock desk


def nearest_running(numbers) -> dict[int, tuple]:
    """number -> (nearest due_at, nearest risk_at) of its running clocks, None when none runs."""
    out = {n: (None, None) for n in numbers}
    for c in SlaClock.select().where(SlaClock.state == "running"):
        due, risk = out[c.ticket_id]
        out[c.ticket_id] = (min(filter(None, (due, c.due_at)), default=None),
                            min(filter(None, (risk, c.risk_at)), default=None))
    return out


def stored() -> dict[int, tuple]:
    return {n: (due, risk) for n, due, risk in Ticket.select(Ticket.number, Ticket.sla_due_at, Ticket.sla_risk_at)
            .tuples()}


def oracle_states(now: dt.datetime) -> dict[int, str]:
    """Each ticket's SLA state from its clocks, as the conditions were written before the stored times
    (the sweep's mark, or an unmarked running clock past due / at risk, or a paused or stopped one over
    its target)."""
    marked = dict(Ticket.select(Ticket.number, Ticket.sla_state).tuples())
    due, risk, over = set(), set(), set()
    for c in SlaClock.select():
        if c.state == "running":
            if c.breached_fired_at is None and c.due_at < now:
                due.add(c.ticket_id)
            if c.at_risk_fired_at is None and c.risk_at <= now:
                risk.add(c.ticket_id)
        elif c.breached_fired_at is None and c.used_seconds > c.target_minutes * 60:
            over.add(c.ticket_id)
    states = {}
    for number, mark in marked.items():
        if mark == "breached" or number in due or number in over:
            states[number] = "breached"
        elif mark == "at_risk" or number in risk:
            states[number] = "at_risk"
        else:
            states[number] = "ok"
    return states


def found(desk, query: str) -> set[int]:
    numbers = {t.number for t in tickets.list_tickets(desk, query, limit=None)}
    assert tickets.count_tickets(desk, query) == len(numbers)
    return numbers


def every_situation(desk) -> dict[str, int]:
    """A ticket in each SLA situation at the end (P0: first response 15 min, at risk from 12, on 24x7;
    sweeps at +13 and +20 min; the end is +40 min)."""
    start = desk.now()
    at = lambda minutes: setattr(desk.clock, "current", start + dt.timedelta(minutes=minutes))  # noqa: E731
    t = {}
    t["risk_marked"] = new(desk, "P0")  # marked at +13, first response met at +14: resolution runs, far off
    t["due_marked"] = new(desk, "P0")  # marked at risk at +13, breached at +20, still running past due
    t["resolved_early"] = new(desk, "P2")  # every clock stopped within target: none runs
    t["no_clocks"] = new(desk, "P2")  # a ticket from before the desk had SLA policies
    SlaClock.delete().where(SlaClock.ticket == t["no_clocks"]).execute()
    sla.refresh_due_times(desk, [t["no_clocks"]])
    at(2)
    lifecycle.change_status(desk, t["resolved_early"], "resolved")
    at(7)
    t["due_after_risk_mark"] = new(desk, "P0")  # marked at risk at +20, past due at +22: breached unmarked
    at(9)
    t["paused_over"] = new(desk, "P0")  # pending at +25: first response used 16 of 15 min, no sweep since
    t["stopped_over"] = new(desk, "P0")  # answered at +25, 16 of 15 min
    lifecycle.assign(desk, t["paused_over"], "bob")
    at(13)
    sla.sweep(desk)
    at(14)
    tickets.reply(desk, t["risk_marked"], "On it")
    at(20)
    sla.sweep(desk)
    at(22)
    t["due_unmarked"] = new(desk, "P0")  # 18 of 15 min at the end
    at(25)
    lifecycle.change_status(desk, t["paused_over"], "pending")
    tickets.reply(desk, t["stopped_over"], "Looking")
    at(27)
    t["risk_unmarked"] = new(desk, "P0")  # 13 of 15 min at the end
    at(30)
    t["running_ok"] = new(desk, "P2")
    t["paused_ok"] = new(desk, "P2")
    lifecycle.assign(desk, t["paused_ok"], "bob")
    lifecycle.change_status(desk, t["paused_ok"], "pending")
    t["retargeted"] = new(desk, "P2")
    tickets.update(desk, t["retargeted"], priority="P0")  # clocks take the urgent targets from now
    at(40)
    return t


INTENDED = {"risk_marked": "at_risk", "due_marked": "breached", "resolved_early": "ok", "no_clocks": "ok",
            "due_after_risk_mark": "breached", "paused_over": "breached", "stopped_over": "breached",
            "due_unmarked": "breached", "risk_unmarked": "at_risk", "running_ok": "ok", "paused_ok": "ok",
            "retargeted": "ok"}


def test_the_stored_times_and_the_sla_conditions_agree_with_the_clocks(sla_desk):  # noqa: F811
    t = every_situation(sla_desk)
    now = sla_desk.now()
    numbers = list(t.values())
    assert stored() == nearest_running(numbers)
    assert stored()[t["no_clocks"]] == stored()[t["resolved_early"]] == (None, None)
    assert stored()[t["running_ok"]][0] is not None
    states = oracle_states(now)
    assert {label: states[number] for label, number in t.items()} == INTENDED  # every situation is there
    by_state = {s: {n for n, v in states.items() if v == s} for s in ("breached", "at_risk", "ok")}
    for text, wanted in (("breached", {"breached"}), ("at-risk", {"at_risk"}), ("ok", {"ok"}),
                         ("at-risk,breached", {"at_risk", "breached"}), ("ok,breached", {"ok", "breached"}),
                         ("ok,at-risk", {"ok", "at_risk"})):
        expected = set().union(*(by_state[s] for s in wanted))
        assert found(sla_desk, f"sla:{text}") == expected, text
        open_ = {n.number for n in Ticket.select(Ticket.number).where(Ticket.status.in_(
            ["new", "assigned", "in_progress", "pending"]))}
        assert found(sla_desk, f"status:open sla:{text}") == expected & open_, text
    # a sweep marks what it finds; the conditions still agree
    sla.sweep(sla_desk)
    states = oracle_states(now)
    for state, text in (("breached", "breached"), ("at_risk", "at-risk"), ("ok", "ok")):
        assert found(sla_desk, f"sla:{text}") == {n for n, v in states.items() if v == state}


def test_a_reopened_and_a_merged_ticket_keep_their_stored_times(sla_desk):  # noqa: F811
    first, second = new(sla_desk, "P1"), new(sla_desk, "P1")
    lifecycle.assign(sla_desk, first, "bob")
    lifecycle.change_status(sla_desk, first, "resolved")
    sla_desk.clock.advance(hours=1)
    lifecycle.reopen(sla_desk, first)  # the resolution clock runs again
    assert stored()[first][0] is not None
    lifecycle.merge(sla_desk, second, first)
    assert stored() == nearest_running([first, second])
    assert stored()[second] == (None, None)


def test_only_tickets_whose_times_change_are_written(sla_desk):  # noqa: F811
    # A reply that changes no running clock leaves the ticket row alone (on PostgreSQL each write is a
    # new row version in every index of the table).
    number = new(sla_desk, "P1")
    lifecycle.assign(sla_desk, number, "bob")
    assert sla.refresh_due_times(sla_desk, [number]) == []  # kept as each change left them
    lifecycle.change_status(sla_desk, number, "pending")  # the clocks pause: none runs
    assert stored()[number] == (None, None)
    assert sla.refresh_due_times(sla_desk, [number]) == []
    lifecycle.change_status(sla_desk, number, "in_progress")  # running again: the times come back
    assert stored()[number] == nearest_running([number])[number] != (None, None)
    assert sla.refresh_due_times(sla_desk, [number]) == []
    Ticket.update(sla_risk_at=None).where(Ticket.number == number).execute()  # one of them stale
    other = new(sla_desk, "P2")
    assert sla.refresh_due_times(sla_desk, [number, other]) == [number]
    assert stored() == nearest_running([number, other])


def expected_due_order(descending: bool) -> list[int]:
    due = {n: d for n, (d, _) in nearest_running([n for (n,) in Ticket.select(Ticket.number).tuples()]).items()}
    timed = sorted((n for n in due if due[n] is not None), key=lambda n: (due[n], -n) if not descending else
                   (-due[n].timestamp(), -n))
    return timed + sorted((n for n in due if due[n] is None), reverse=True)  # none running: last, newest first


def test_sorted_by_due_pages_join_up_across_the_tickets_with_no_running_clock(sla_desk):  # noqa: F811
    for minute in range(3):  # tickets created together tie on their due times
        for priority in ("P0", "P2", "P2"):
            new(sla_desk, priority)
        sla_desk.clock.advance(minutes=minute + 1)
    done = [new(sla_desk, "P3") for _ in range(5)]
    for number in done:
        lifecycle.change_status(sla_desk, number, "resolved")
    for sort in ("due", "-due"):
        expected = expected_due_order(sort.startswith("-"))
        assert [v.number for v in tickets.list_tickets(sla_desk, "", limit=None, sort=sort)] == expected
        forward, after = [], None
        while True:
            page = tickets.page_tickets(sla_desk, "", sort=sort, limit=3, after=after)
            if not page.tickets:
                break
            forward += [v.number for v in page.tickets]
            after = page.keys[-1]
        assert forward == expected, sort
        backward, before = [], None
        while True:
            page = (tickets.page_tickets(sla_desk, "", sort=sort, limit=4, from_end=True) if before is None
                    else tickets.page_tickets(sla_desk, "", sort=sort, limit=4, before=before))
            if not page.tickets:
                break
            backward = [v.number for v in page.tickets] + backward
            before = page.keys[0]
        assert backward == expected, sort


def test_the_migration_fills_the_times_of_a_desk_that_had_none(sla_desk):  # noqa: F811
    numbers = list(every_situation(sla_desk).values())
    expected = stored()
    assert sum(due is not None for due, _ in expected.values()) >= 5
    Ticket.update(sla_due_at=None, sla_risk_at=None).execute()  # as on a desk before 0019
    dict(migrations.MIGRATIONS)["0019_ticket_sla_due"](sla_desk.db)
    assert stored() == expected == nearest_running(numbers)
