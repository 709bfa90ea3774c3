"""Automation rules (event and time) and macros, with time injected."""

from __future__ import annotations

import datetime as dt

import pytest

from helpdesk.domain import audit, automation, lifecycle, tickets
from helpdesk.store.models import Outbox, Ticket

RULES = '''
[[macro]]
name = "reminder"
body = "Hello {customer}, we are still waiting for your answer on #{number}."

[[macro]]
name = "need-logs"
body = "Could you send us the VPN client log?"
status = "pending"

[[rule]]
name = "tag vpn"
on = "created"
when = "vpn"
do = [{ add_tag = "vpn" }, { set_priority = "P1" }]

[[rule]]
name = "assign to a ghost"
on = "created"
when = "haunted"
do = [{ assign = "ghost" }, { add_tag = "haunted" }]

[[rule]]
name = "no loops"
on = "updated"
when = "tag:loop"
do = [{ add_tag = "looped" }]

[[rule]]
name = "note on pending"
on = "status_changed"
when = "status:pending"
do = [{ note = "Waiting on the customer." }]

[[rule]]
name = "remind pending"
on = "time"
when = "status:pending in_status:>3d"
do = [{ reply = "reminder" }]

[[rule]]
name = "auto-resolve"
on = "time"
when = "status:pending in_status:>7d"
do = [{ status = "resolved" }]

[[rule]]
name = "close resolved"
on = "time"
when = "status:resolved in_status:>4d"
do = [{ status = "closed" }]

[[rule]]
name = "escalate unassigned"
on = "time"
when = "status:new assignee:none created:>1h priority:P0"
do = [{ escalate = "queue:care" }]
'''

START = dt.datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def auto_desk(configured):
    from helpdesk.domain import agents
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    configured.write_config(configured.default_config() + RULES)
    d = open_desk(clock=FixedClock(START))
    agents.ensure(d, "tester", role="admin")
    agents.update(d, "tester", skills=["it", "repair", "care"])
    yield d
    d.close()


def new(desk, title="Printer", **kw):
    kw.setdefault("customer", "ann@x.example")
    return tickets.intake(desk, tickets.TicketInput(title=title, **kw))[0].number


def fired(desk, number):
    return [e.data["rule"] for e in audit.history(desk, number) if e.action == "rule_fired"]


def test_event_rule_on_created(auto_desk):
    number = new(auto_desk, "VPN drops every hour")
    view = tickets.get(auto_desk, number)
    assert view.tags == ["vpn"] and view.priority == "P1"
    assert fired(auto_desk, number) == ["tag vpn"]
    other = new(auto_desk, "Printer jam")
    assert tickets.get(auto_desk, other).tags == [] and fired(auto_desk, other) == []
    events = audit.history(auto_desk, number)
    assert any(e.actor == "rule:tag vpn" and e.action == "updated" for e in events)


def test_created_rules_on_a_bulk_intake_fire_on_the_matching_tickets_only(auto_desk):
    # A bulk load asks each rule once for the whole batch: the same outcome as ticket by ticket.
    titles = ["VPN drops", "Printer jam", "vpn again", "A haunted printer", "Monitor flickers"]
    results = tickets.intake_bulk(auto_desk, [tickets.TicketInput(title=t, customer="ann@x.example") for t in titles])
    numbers = [r.number for r in results]
    assert [fired(auto_desk, n) for n in numbers] == [["tag vpn"], [], ["tag vpn"], ["assign to a ghost"], []]
    views = {v.number: v for v in (tickets.get(auto_desk, n) for n in numbers)}
    assert [(views[n].tags, views[n].priority) for n in numbers] == [
        (["vpn"], "P1"), ([], "P2"), (["vpn"], "P1"), (["haunted"], "P2"), ([], "P2")]


def test_a_rule_cannot_trigger_itself(auto_desk):
    number = new(auto_desk)
    tickets.update(auto_desk, number, tags_add=["loop"])
    assert fired(auto_desk, number) == ["no loops"]  # its own update raised no new event
    assert tickets.get(auto_desk, number).tags == ["loop", "looped"]


def test_status_changed_rule_and_macro(auto_desk, cli):
    number = new(auto_desk)
    lifecycle.assign(auto_desk, number, "tester")
    r = cli("ticket", "reply", str(number), "--macro", "need-logs")
    assert r.exit_code == 0, r.stderr
    view = tickets.get(auto_desk, number, conversation=True)
    assert view.status == "pending"
    assert [e.body for e in view.conversation] == ["Could you send us the VPN client log?", "Waiting on the customer."]
    r = cli("ticket", "reply", str(number), "--macro", "nope")
    assert r.exit_code == 1 and "macro 'nope' not found" in r.stderr
    r = cli("ticket", "reply", "99999", "--macro", "need-logs")
    assert r.exit_code != 0 and "ticket #99999 not found" in r.stderr and "Traceback" not in r.stderr


def test_time_rules_remind_resolve_and_close_each_once(auto_desk):
    number = new(auto_desk)
    lifecycle.assign(auto_desk, number, "tester")
    lifecycle.change_status(auto_desk, number, "pending")
    auto_desk.clock.advance(days=2)
    assert automation.run_time_rules(auto_desk) == []
    auto_desk.clock.advance(days=2)  # pending for 4 days: one reminder
    assert automation.run_time_rules(auto_desk) == [{"rule": "remind pending", "ticket": number}]
    assert automation.run_time_rules(auto_desk) == []
    reminders = [o for o in Outbox.select().where(Outbox.ticket == number) if "still waiting" in o.body]
    assert len(reminders) == 1 and "Hello Ann" not in reminders[0].body and f"#{number}" in reminders[0].body
    auto_desk.clock.advance(days=4)  # pending for 8 days: the reminder did not restart the wait
    assert automation.run_time_rules(auto_desk) == [{"rule": "auto-resolve", "ticket": number}]
    assert Ticket.get_by_id(number).status == "resolved"
    auto_desk.clock.advance(days=5)
    assert automation.run_time_rules(auto_desk) == [{"rule": "close resolved", "ticket": number}]
    assert Ticket.get_by_id(number).status == "closed"
    assert automation.run_time_rules(auto_desk) == []


def test_unassigned_escalation(auto_desk):
    from helpdesk.domain import agents

    agents.add(auto_desk, "lead", email="lead@desk.example")
    number = new(auto_desk, priority="P0")
    auto_desk.clock.advance(minutes=61)
    assert automation.run_time_rules(auto_desk) == [{"rule": "escalate unassigned", "ticket": number}]
    view = tickets.get(auto_desk, number)
    assert view.queue == "care"
    assert automation.run_time_rules(auto_desk) == []
    escalated = [e.data for e in audit.history(auto_desk, number) if e.action == "sla_escalated"]
    assert escalated == [{"clock": "rule", "state": "escalated", "escalation": [
        {"step": "notify", "notified": []}, {"step": "reassign", "queue": "care"}]}]  # P0: no raise; no lead


def test_a_failing_action_is_recorded_not_fatal(auto_desk):
    number = new(auto_desk, "A haunted printer")
    failed = [e for e in audit.history(auto_desk, number) if e.action == "rule_failed"]
    assert [(e.data["step"], "ghost" in e.data["error"]) for e in failed] == [("assign", True)]
    assert tickets.get(auto_desk, number).tags == ["haunted"]  # the next action still ran


@pytest.mark.parametrize("snippet,message", [
    ('[[rule]]\nname = "x"\non = "sometimes"\nwhen = ""\ndo = [{ note = "x" }]\n', "on = 'sometimes'"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = "colour:red"\ndo = [{ note = "x" }]\n', "unknown term 'colour:red'"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = "field.nothing:1"\ndo = [{ note = "x" }]\n', "unknown field 'nothing'"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = ""\ndo = [{ explode = 1 }]\n', "unknown action 'explode'"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = ""\ndo = [{ reply = "ghost" }]\n', "unknown macro 'ghost'"),
    ('[[rule]]\nname = "x"\non = "time"\nwhen = "status:pending"\ndo = [{ note = "x" }]\n', "needs an in_status:, created: or updated:"),
    ('[[rule]]\nname = "x"\non = "time"\nwhen = "in_status:>3x"\ndo = [{ note = "x" }]\n', "in_status:>3x"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = ""\nif = 1\ndo = [{ note = "x" }]\n', "unknown key 'if'"),
    ('[[macro]]\nname = "x"\n', "needs a name and a body"),
])
def test_bad_rules_are_clear_errors_at_start(configured, cli, snippet, message):
    configured.write_config(configured.default_config() + snippet)
    r = cli("ticket", "list")
    assert r.exit_code == 1, r.stdout
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


MORE_RULES = '''
[[rule]]
name = "breach to care"
on = "sla_breached"
when = "type:complaint"
do = [{ set_queue = "care" }, { set_field = { severity = "high" } }]

[[rule]]
name = "customer wrote"
on = "customer_replied"
when = "status:open"
do = [{ add_tag = "answered" }, { assign = "auto" }]
'''


@pytest.fixture
def more_desk(configured):
    from helpdesk.domain import agents
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    configured.write_config(configured.default_config() + MORE_RULES)
    d = open_desk(clock=FixedClock(START))
    agents.ensure(d, "tester", role="admin")
    yield d
    d.close()


def test_sla_breached_rule_sets_queue_and_field(more_desk):
    from helpdesk.domain import sla

    number = new(more_desk, "Late parcel", type="complaint", priority="P0", fields={"severity": "low"})
    more_desk.clock.advance(minutes=20)  # the default P0 first response is 15 minutes (24x7)
    sla.sweep(more_desk)
    view = tickets.get(more_desk, number)
    assert view.queue == "care" and view.fields["severity"] == "high"
    assert "breach to care" in fired(more_desk, number)


def test_customer_replied_rule_runs_on_mail(more_desk):
    from helpdesk.domain import agents
    from helpdesk.config import MailboxSpec
    from helpdesk.mail import intake

    agents.add(more_desk, "eve", skills=["it"])
    number = new(more_desk, "VPN", type="it_support", customer="ann@globex.example")
    raw = (f"From: ann@globex.example\r\nTo: support@desk.example\r\nSubject: Re: [#{number}] VPN\r\n"
           "Message-ID: <cr1@globex.example>\r\n\r\nStill broken.\r\n").encode()
    mailbox = MailboxSpec(name="support", address="support@desk.example", imap_host="127.0.0.1")
    outcome = intake.process(more_desk, mailbox, intake.Source("support", "INBOX", 1, 1), raw)
    assert (outcome.outcome, outcome.ticket) == ("reply", number)
    view = tickets.get(more_desk, number)
    assert view.tags == ["answered"] and view.assignee == "eve"
    assert fired(more_desk, number) == ["customer wrote"]
