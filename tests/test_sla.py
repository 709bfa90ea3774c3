"""SLA clocks and the sweep, with time injected (a FixedClock), never slept."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from helpdesk.domain import audit, lifecycle, sla, tickets
from helpdesk.core.errors import ConfigError
from helpdesk.store.models import Outbox, SlaClock, Ticket

SLA_CONFIG = '''
[sla]
at_risk = 0.8
calendar = "office"

[calendar.office]
timezone = "Europe/Berlin"
hours = { mon-fri = "09:00-17:00" }
holidays = ["2026-03-06"]

[[sla.policy]]
name = "urgent"
priority = ["P0"]
calendar = "24x7"
first_response = "15m"
resolution = "4h"
on_breach = ["notify", "queue:care"]

[[sla.policy]]
name = "normal"
priority = ["P1", "P2", "P3"]
first_response = "2h"
next_update = "4h"
resolution = "2bd"
on_at_risk = ["notify"]
on_breach = ["notify", "raise_priority"]

[[sla.policy]]
name = "vip"
organisation = ["Globex"]
first_response = "30m"
resolution = "1bd"
'''

MONDAY_9 = dt.datetime(2026, 3, 2, 8, 0)  # 09:00 in Berlin (CET)


@pytest.fixture
def sla_desk(configured):
    from helpdesk.domain import agents
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    text = configured.default_config().replace('lead = "carol"', 'lead = "lead"')
    configured.write_config(text + SLA_CONFIG)
    d = open_desk(clock=FixedClock(MONDAY_9))
    agents.ensure(d, "tester", role="admin")
    agents.add(d, "bob", email="bob@desk.example")
    agents.add(d, "lead", email="lead@desk.example")
    yield d
    d.close()


def clock(number, kind):
    return SlaClock.get((SlaClock.ticket == number) & (SlaClock.kind == kind))


def new(desk, priority="P2", **kw):
    view, _ = tickets.intake(desk, tickets.TicketInput(title="Printer", priority=priority, customer="ann@x.example", **kw))
    return view.number


def views(desk, number):
    return {c.kind: c for c in sla.clocks(desk, number)}


def test_clocks_start_at_creation_on_the_business_calendar(sla_desk):
    number = new(sla_desk)
    fr, res = clock(number, "first_response"), clock(number, "resolution")
    assert (fr.policy, fr.state, fr.target_minutes) == ("normal", "running", 120)
    assert fr.due_at == MONDAY_9 + dt.timedelta(hours=2)
    assert res.target_minutes == 2 * 8 * 60  # two business days of 8 hours
    assert res.due_at == dt.datetime(2026, 3, 3, 16, 0)  # Tuesday 17:00 Berlin
    assert clock(number, "resolution").risk_at < res.due_at


def test_policy_choice_most_specific_wins(sla_desk):
    assert clock(new(sla_desk, priority="P0"), "first_response").policy == "urgent"
    vip = new(sla_desk, organisation="Globex")
    assert clock(vip, "first_response").policy == "vip"


def test_first_response_stops_at_a_public_reply_not_a_note(sla_desk):
    number = new(sla_desk)
    sla_desk.clock.advance(minutes=30)
    tickets.reply(sla_desk, number, "internal", note=True)
    assert clock(number, "first_response").state == "running"
    sla_desk.clock.advance(minutes=10)
    tickets.reply(sla_desk, number, "We are on it")
    fr = clock(number, "first_response")
    assert fr.state == "stopped" and fr.used_seconds == 40 * 60
    stopped = [e for e in audit.history(sla_desk, number) if e.action == "sla_stopped"]
    assert stopped[0].data["clock"] == "first_response" and stopped[0].data["met"] is True


def test_pending_pauses_and_the_customer_resumes(sla_desk):
    number = new(sla_desk)
    lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=60)
    lifecycle.change_status(sla_desk, number, "in_progress")
    lifecycle.change_status(sla_desk, number, "pending")
    res = clock(number, "resolution")
    assert res.state == "paused" and res.used_seconds == 3600 and res.due_at is None
    sla_desk.clock.advance(days=3)  # waiting on the customer does not count
    assert views(sla_desk, number)["resolution"].used_minutes == 60
    lifecycle.change_status(sla_desk, number, "in_progress")
    res = clock(number, "resolution")
    assert res.state == "running"
    # Resumed Thursday 10:00 Berlin with 15 of 16 business hours left: 7 h on Thursday, Friday 6 March
    # is a holiday, the weekend is off, the last 8 h are Monday 09:00-17:00 Berlin (16:00Z).
    assert res.due_at == dt.datetime(2026, 3, 9, 16, 0)
    actions = [e.action for e in audit.history(sla_desk, number) if e.action.startswith("sla_")]
    assert actions.count("sla_paused") == 2 and actions.count("sla_resumed") == 2  # first response + resolution


def test_resolution_stops_at_resolved_and_reopen_keeps_the_time_used(sla_desk):
    number = new(sla_desk)
    lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=90)
    lifecycle.change_status(sla_desk, number, "resolved")
    assert clock(number, "resolution").state == "stopped"
    sla_desk.clock.advance(hours=2)
    lifecycle.reopen(sla_desk, number)
    res = clock(number, "resolution")
    assert res.state == "running" and res.used_seconds == 90 * 60
    sla_desk.clock.advance(minutes=30)
    assert views(sla_desk, number)["resolution"].used_minutes == 120


def test_breach_fires_once_and_escalates(sla_desk):
    number = new(sla_desk)
    lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=100)  # 100 of 120 minutes: at risk (80 %)
    report = sla.sweep(sla_desk)
    assert [(r["ticket"], r["clock"]) for r in report.at_risk] == [(number, "first_response")]
    assert Ticket.get_by_id(number).sla_state == "at_risk"
    assert sla.sweep(sla_desk).at_risk == []
    sla_desk.clock.advance(minutes=30)
    report = sla.sweep(sla_desk)
    assert [(r["ticket"], r["clock"]) for r in report.breached] == [(number, "first_response")]
    ticket = Ticket.get_by_id(number)
    assert ticket.sla_state == "breached" and ticket.priority == "P1"  # raise_priority
    for _ in range(3):
        assert sla.sweep(sla_desk).breached == []
    actions = [e.action for e in audit.history(sla_desk, number)]
    assert actions.count("sla_breached") == 1 and actions.count("sla_at_risk") == 1
    notes = list(Outbox.select().where((Outbox.ticket == number) & (Outbox.kind == "notification")))
    assert {n.to_addr for n in notes} == {"bob@desk.example"}
    assert all(n.auto for n in notes)
    assert [t.number for t in tickets.list_tickets(sla_desk, "sla:breached")] == [number]


def test_a_crossing_is_one_event_saying_what_its_escalation_did(sla_desk):
    number = new(sla_desk)
    lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=130)  # at risk and breached in one sweep
    sla.sweep(sla_desk)
    events = [e for e in audit.history(sla_desk, number) if e.action.startswith("sla_") and "escalation" in e.data]
    assert [(e.action, e.data["clock"], e.data["policy"]) for e in events] == [
        ("sla_at_risk", "first_response", "normal"), ("sla_breached", "first_response", "normal")]
    assert events[1].data["escalation"] == [{"step": "notify", "notified": ["bob"]},
                                            {"step": "raise_priority", "priority": ["P2", "P1"]}]
    # One mail to bob about both crossings of his one ticket, on the ticket's thread.
    mails = list(Outbox.select().where(Outbox.to_addr == "bob@desk.example"))
    assert [(m.ticket_id, m.kind) for m in mails] == [(number, "notification")]


def test_agents_get_one_digest_per_sweep_not_a_mail_per_ticket(sla_desk):
    numbers = [new(sla_desk) for _ in range(5)]
    for number in numbers:
        lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=100)
    report = sla.sweep(sla_desk)
    assert sorted(r["ticket"] for r in report.at_risk) == numbers
    mails = list(Outbox.select().where(Outbox.to_addr == "bob@desk.example"))
    assert len(mails) == 1 and mails[0].ticket_id is None and mails[0].auto
    assert mails[0].subject == "SLA: 5 tickets need attention"
    assert all(f"Ticket #{n} (P2, assigned): the first response clock is at risk." in mails[0].body
               for n in numbers)
    from helpdesk.domain import outbox

    assert outbox.ticket_from_message_id(mails[0].message_id, sla_desk) is None  # answers start no thread


def test_notifications_over_the_hourly_cap_are_recorded_in_the_crossing(sla_desk):
    for round_ in range(4):  # each sweep sends bob one mail; the fourth within the hour is over the cap
        number = new(sla_desk)
        lifecycle.assign(sla_desk, number, "bob")
        sla_desk.clock.advance(minutes=100)
        sla.sweep(sla_desk)
        sla_desk.clock.advance(minutes=-95)  # back near the others: all four sweeps within one hour
    assert Outbox.select().where(Outbox.to_addr == "bob@desk.example").count() == 3
    crossing = [e for e in audit.history(sla_desk, number) if e.action == "sla_at_risk"][0]
    assert crossing.data["escalation"] == [{"step": "notify", "notified": [], "suppressed": ["bob"]}]


def test_breach_can_move_the_ticket_to_another_queue(sla_desk):
    number = new(sla_desk, priority="P0")
    lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=16)
    sla.sweep(sla_desk)
    view = tickets.get(sla_desk, number)
    assert view.queue == "care" and view.assignee is None and view.status == "new"
    notified = {o.to_addr for o in Outbox.select().where(Outbox.kind == "notification")}
    assert "bob@desk.example" in notified


def test_concurrent_sweeps_fire_each_crossing_once(sla_desk):
    numbers = [new(sla_desk) for _ in range(20)]
    sla_desk.clock.advance(hours=3)
    reports, errors = [], []

    def run():
        try:
            reports.append(sla.sweep(sla_desk))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    fired = sorted((r["ticket"], r["clock"]) for rep in reports for r in rep.breached)
    assert fired == sorted((n, "first_response") for n in numbers)
    events = [e for n in numbers for e in audit.history(sla_desk, n) if e.action == "sla_breached"]
    assert len(events) == 20


def test_a_pending_ticket_moved_to_another_queue_counts_again(sla_desk):
    number = new(sla_desk)
    lifecycle.assign(sla_desk, number, "bob")
    lifecycle.change_status(sla_desk, number, "pending")
    assert clock(number, "resolution").state == "paused"
    lifecycle.transfer_to_queue(sla_desk, number, "care")
    assert tickets.get(sla_desk, number).status == "new"
    assert clock(number, "resolution").state == "running" and clock(number, "first_response").state == "running"


def test_a_paused_clock_past_its_target_is_breached_too(sla_desk):
    number = new(sla_desk)
    lifecycle.assign(sla_desk, number, "bob")
    sla_desk.clock.advance(minutes=150)
    lifecycle.change_status(sla_desk, number, "pending")  # paused after the target, before any sweep
    assert [r["clock"] for r in sla.sweep(sla_desk).breached] == ["first_response"]


def test_next_update_clock_follows_customer_messages(sla_desk):
    number = new(sla_desk)
    ticket = Ticket.get_by_id(number)
    sla.start_next_update(sla_desk, number)
    nu = clock(number, "next_update")
    assert nu.state == "running" and nu.target_minutes == 240
    tickets.reply(sla_desk, number, "answer")
    assert clock(number, "next_update").state == "stopped"
    assert ticket.number == number


def test_priority_change_retargets(sla_desk):
    number = new(sla_desk)
    sla_desk.clock.advance(minutes=5)
    tickets.update(sla_desk, number, priority="P0")
    fr = clock(number, "first_response")
    assert (fr.policy, fr.target_minutes) == ("urgent", 15)
    assert fr.due_at == sla_desk.clock.now() + dt.timedelta(minutes=10)


def test_show_and_cli_list_the_clocks(sla_desk, cli):
    number = new(sla_desk)
    doc = cli("ticket", "show", str(number), "--json").json()
    assert [c["kind"] for c in doc["sla"]] == ["first_response", "resolution"]
    assert doc["sla"][0]["target_minutes"] == 120
    text = cli("ticket", "show", str(number)).stdout
    assert "first_response" in text and "target 2 h " in text and "target 2 business days (16 h)" in text
    # The CLI runs on the real clock, months after this ticket's (fixed-clock) creation: breached.
    r = cli("sla", "check", "--json")
    assert r.exit_code == 0, r.stderr
    assert {(b["ticket"], b["clock"]) for b in r.json()["breached"]} == {(number, "first_response"), (number, "resolution")}
    assert cli("sla", "check", "--json").json()["breached"] == []


@pytest.mark.parametrize("snippet,message", [
    ('[sla]\ncolour = 1\n', "unknown key 'colour' in [sla]"),
    ('[sla]\nat_risk = 2\n', "at_risk"),
    ('[[sla.policy]]\nname = "x"\nfirst_response = "soon"\n', "not a duration"),
    ('[[sla.policy]]\nname = "x"\nfirst_response = "1h"\ncalendar = "nope"\n', "unknown calendar 'nope'"),
    ('[[sla.policy]]\nname = "x"\nresolution = "1h"\non_breach = ["explode"]\n', "unknown action 'explode'"),
    ('[[sla.policy]]\nname = "x"\npriority = ["P9"]\nresolution = "1h"\n', "P9"),
    ('[[sla.policy]]\nname = "x"\n', "sets no target"),
    ('[[sla.policy]]\nname = "x"\nresolution = "1h"\nwhen = "always"\n', "unknown key 'when'"),
])
def test_bad_sla_configuration_is_a_clear_error_at_start(home, cli, snippet, message):
    home.write_config(snippet)
    r = cli("ticket", "list")
    assert r.exit_code == 1, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_defaults_without_an_sla_section(desk):
    number = tickets.intake(desk, tickets.TicketInput(title="x", priority="P0"))[0].number
    assert clock(number, "first_response").target_minutes == 15
    assert clock(number, "resolution").target_minutes == 240


# ---------------------------------------------------------------- routing with shifts and skills


def test_routing_skips_agents_off_shift(sla_desk, cli):
    from helpdesk.domain import agents, routing as assignment

    agents.update(sla_desk, "tester", skills=[])
    agents.add(sla_desk, "early", skills=["it"], shift="office")
    agents.add(sla_desk, "anytime", skills=["it"], capacity=50)
    number = tickets.intake(sla_desk, tickets.TicketInput(title="VPN", type="it_support"))[0].number
    ticket = Ticket.get_by_id(number)
    assert [a.login for a in assignment.candidates(sla_desk, ticket)] == ["anytime", "early"]
    sla_desk.clock.advance(hours=10)  # 19:00 in Berlin: the office shift is over
    assert [a.login for a in assignment.candidates(sla_desk, ticket)] == ["anytime"]
    with pytest.raises(Exception, match="off shift"):
        lifecycle.assign(sla_desk, number, "early")
    assert lifecycle.assign(sla_desk, number, "early", force=True).assignee == "early"
    r = cli("agent", "update", "early", "--shift", "nowhere")
    assert r.exit_code == 1 and "unknown shift calendar 'nowhere'" in r.stderr


def test_claims_respect_skills_unless_forced(sla_desk):
    from helpdesk.domain import agents
    from helpdesk.core.errors import IllegalTransition

    agents.add(sla_desk, "carol", skills=["care"])
    number = tickets.intake(sla_desk, tickets.TicketInput(title="Pump", type="equipment_repair",
                                                          fields={"serial_number": "SN-1"}))[0].number
    with pytest.raises(IllegalTransition, match="lacks the skill repair"):
        lifecycle.assign(sla_desk, number, "carol")
    assert Ticket.get_by_id(number).assignee_id is None
    assert lifecycle.assign(sla_desk, number, "carol", force=True).assignee == "carol"


def test_intake_routes_when_the_queue_auto_assigns(configured):
    from helpdesk.domain import agents
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    text = configured.default_config().replace('name = "repairs"\n', 'name = "repairs"\nauto_assign = true\n')
    configured.write_config(text)
    d = open_desk(clock=FixedClock(MONDAY_9))
    try:
        agents.add(d, "dave", skills=["repair"], queues=["repairs"])
        repair = tickets.intake(d, tickets.TicketInput(title="Pump", type="equipment_repair",
                                                       fields={"serial_number": "SN-1"}))[0]
        assert (repair.assignee, repair.status) == ("dave", "assigned")
        it = tickets.intake(d, tickets.TicketInput(title="VPN", type="it_support"))[0]
        assert it.assignee is None  # the it queue does not auto-assign
        agents.update(d, "dave", capacity=1)
        waiting = tickets.intake(d, tickets.TicketInput(title="Pump 2", type="equipment_repair",
                                                        fields={"serial_number": "SN-2"}))[0]
        assert waiting.assignee is None and waiting.status == "new"
        assert "routing_skipped" in [e.action for e in audit.history(d, waiting.number)]
    finally:
        d.close()
