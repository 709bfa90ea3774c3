"""The configuration `helpdesk init` writes: complete, valid, and working end to end."""

from __future__ import annotations

import datetime as dt

import pytest

from helpdesk.domain import sla


def test_init_sample_with_the_shipped_config(home, cli):
    home.config_file.unlink()  # the cli fixture wrote the core config: init writes the shipped one
    r = cli("init", "--sample")
    assert r.exit_code == 0, r.stderr
    assert home.config_file.read_text() == home.shipped_config()
    tickets = cli("ticket", "list", "--json", "--limit", "0").json()
    assert len(tickets) == 40
    shown = cli("ticket", "show", str(tickets[0]["number"]), "--json").json()
    assert {c["kind"] for c in shown["sla"]} >= {"first_response", "resolution"}
    r = cli("sla", "check", "--json")
    assert r.exit_code == 0, r.stderr
    assert set(r.json()) == {"at_risk", "breached", "escalations", "rules"}


def test_shipped_policies_and_calendar(home, cli):
    home.write_config(home.shipped_config())
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    desk = open_desk(clock=FixedClock(dt.datetime(2026, 12, 23, 14, 0)))
    try:
        settings = sla.settings(desk)
        office = sla.calendar_of(settings, "office")
        office.check()
        assert settings.policy_for("P0", None, None).calendar == "24x7"
        assert settings.policy_for("P2", "it_support", None).name == "P2 normal"
        assert settings.policy_for("P2", None, "Globex").name == "key accounts"
        # 24 business hours from Wed 23 Dec 2026 15:00 Berlin: 2h that day; the 24th (config), 25th and
        # 26th (public) and the weekend are closed; Mon 28th and Tue 29th give 8h each; the last 6h are
        # Wed 30th 08:00-12:00 and 13:00-15:00 Berlin = 14:00Z.
        due = office.add(dt.datetime(2026, 12, 23, 14, 0), 24 * 60)
        assert due == dt.datetime(2026, 12, 30, 14, 0)
    finally:
        desk.close()


SHIPPED_TYPES = [  # type, its fields, its queue, that queue's lead, the agent who works it
    ("it_support", {"category": "account"}, "it", "alice", "bob"),
    ("equipment_repair", {"serial_number": "SN-1"}, "repairs", "dave", "bob"),
    ("complaint", {"severity": "medium"}, "care", "carol", "erin"),
]


@pytest.fixture
def shipped_desk(home):
    from conftest import make_desk
    from helpdesk.domain import agents, sample
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    home.write_config(home.shipped_config())
    make_desk()
    desk = open_desk(clock=FixedClock(dt.datetime(2026, 3, 2, 8, 0)))  # Monday 09:00 in Berlin
    for login, name, skills, queues, capacity in sample.AGENTS:  # the leads the shipped queues name
        agents.add(desk, login, name=name, email=f"{login}@acme.example", skills=skills, queues=queues,
                   capacity=capacity)
    agents.add(desk, "erin", email="erin@acme.example", skills=["care"], queues=["care"])
    yield desk
    desk.close()


@pytest.mark.parametrize("type_name,fields,queue,lead,worker", SHIPPED_TYPES)
def test_a_breach_of_each_shipped_type_stays_in_its_queue_and_tells_its_lead(shipped_desk, type_name, fields,
                                                                              queue, lead, worker):
    from helpdesk.domain import automation, lifecycle, tickets
    from helpdesk.store.models import Outbox

    desk = shipped_desk

    def new(title: str, priority: str, owner: str | None, customer: str = "ann@initech.example") -> int:
        view, _ = tickets.intake(desk, tickets.TicketInput(title=title, type=type_name, priority=priority,
                                                           customer=customer, fields=dict(fields)))
        assert view.queue == queue
        if owner:
            lifecycle.assign(desk, view.number, owner)
            lifecycle.change_status(desk, view.number, "in_progress")
        return view.number

    urgent = new("Password reset for the CEO", "P0", worker)
    high = new("Laptop will not boot", "P1", worker)
    nobody = new("Server room too hot", "P0", None)
    key_account = new("Order stuck", "P2", worker, customer="jo@eu.globex.example")
    assert tickets.get(desk, key_account).organisation == "Globex"  # by its mail domain: the key accounts policy
    desk.clock.advance(hours=5)  # P0 (4 h, 24x7) and P1 first response (2 business hours) are over
    report = sla.sweep(desk)
    fired = automation.run_time_rules(desk)
    breached = {(b["ticket"], b["clock"]) for b in report.breached}
    assert {(urgent, "first_response"), (urgent, "resolution"), (high, "first_response"),
            (nobody, "first_response"), (key_account, "first_response")} <= breached

    for number, owner, priority in ((urgent, worker, "P0"), (high, worker, "P0"), (nobody, None, "P0"),
                                    (key_account, worker, "P1")):
        view = tickets.get(desk, number)
        # the breach never takes a ticket from its queue or its owner: P1 and key accounts are raised
        assert (view.queue, view.assignee, view.priority) == (queue, owner, priority), (number, view)
        assert view.status == ("in_progress" if owner else "new")
    told = {row.to_addr for row in Outbox.select().where(Outbox.kind == "notification")}
    assert {f"{lead}@acme.example", f"{worker}@acme.example"} <= told
    # the shipped time rule for urgent tickets nobody took escalates in place too (it tells the lead)
    assert {"rule": "escalate urgent tickets nobody took", "ticket": nobody} in fired
    assert tickets.get(desk, nobody).queue == queue
