"""Intake details: follow-ups of closed tickets, organisations by mail domain on every channel, the
default queue."""

from __future__ import annotations

import json
import uuid

import pytest

from test_attachments import error, ok

ORGS = '''
[[organisation]]
name = "Globex"
domains = ["globex.example"]

[[organisation]]
name = "Initech"
domains = ["initech.example", "initech.test"]

[[sla.policy]]
name = "normal"
priority = ["P0", "P1", "P2", "P3"]
first_response = "8h"

[[sla.policy]]
name = "key accounts"
organisation = ["Globex"]
first_response = "1h"
'''


# ---------------------------------------------------------------- follow-ups


def test_a_closed_ticket_points_to_a_follow_up(cli, desk):
    number = ok(cli("ticket", "create", "--title", "VPN drops", "--customer", "ann@a.example", "--type",
                    "it_support", "--json")).json()["number"]
    ok(cli("ticket", "status", str(number), "resolved"))
    ok(cli("ticket", "status", str(number), "closed"))
    # every way back into a closed ticket says how to go on
    assert f"--follow-up {number}" in error(cli("ticket", "reply", str(number), "--body", "more?"))
    assert f"--follow-up {number}" in error(cli("ticket", "reopen", str(number)))
    assert f"--follow-up {number}" in error(cli("ticket", "status", str(number), "in_progress"))

    run = ok(cli("ticket", "create", "--follow-up", f"#{number}", "--title", "VPN drops again"))
    assert run.stdout.strip().endswith(f"(follow-up of #{number})")
    follow = ok(cli("ticket", "list", "--json", "--limit", "1")).json()[0]
    shown = ok(cli("ticket", "show", str(follow["number"]), "--json")).json()
    assert shown["parent"] == number and shown["customer"] == "ann@a.example"  # the original's customer
    assert shown["queue"] == "it"  # no type: the default queue
    history = [e["action"] for e in ok(cli("ticket", "history", str(follow["number"]), "--json")).json()]
    assert history[:2] == ["created", "follow_up_of"]
    original = ok(cli("ticket", "history", str(number), "--json")).json()
    assert original[-1]["action"] == "followed_up" and original[-1]["data"] == {"by": follow["number"]}
    # another customer may be named; the key makes it idempotent
    again = ok(cli("ticket", "create", "--follow-up", str(number), "--title", "Also me", "--customer",
                   "bo@b.example", "--key", "f-1", "--json")).json()
    assert again["customer"] == "bo@b.example" and again["parent"] == number
    assert ok(cli("ticket", "create", "--follow-up", str(number), "--title", "Also me", "--key", "f-1",
                  "--json")).json()["number"] == again["number"]


def test_a_follow_up_needs_a_finished_ticket(cli, desk):
    number = ok(cli("ticket", "create", "--title", "Open one", "--json")).json()["number"]
    assert "still open (new): reply to it instead" in error(cli("ticket", "create", "--follow-up", str(number),
                                                                "--title", "x"))
    assert "not found" in error(cli("ticket", "create", "--follow-up", "999", "--title", "x"))
    assert error(cli("ticket", "create", "-", "--follow-up", str(number), input="{}"), 2)
    assert len(ok(cli("ticket", "list", "--json")).json()) == 1


# ---------------------------------------------------------------- organisations by mail domain


@pytest.fixture
def org_desk(configured):
    from helpdesk.domain import agents
    from helpdesk.domain.desk import open_desk

    configured.write_config(configured.default_config() + ORGS)
    desk = open_desk()
    agents.ensure(desk, "tester", role="admin")
    yield desk
    desk.close()


def organisation_of(cli, number: int) -> str | None:
    return ok(cli("ticket", "show", str(number), "--json")).json()["organisation"]


def policy_of(desk, number: int) -> str:
    from helpdesk.store.models import SlaClock

    return SlaClock.get((SlaClock.ticket == number) & (SlaClock.kind == "first_response")).policy


def test_a_new_customer_at_a_key_account_gets_its_organisation_on_every_channel(cli, org_desk, tmp_path):
    from conftest import reopen

    from helpdesk.config import MailboxSpec
    from helpdesk.mail import intake

    made = {}
    made["cli"] = ok(cli("ticket", "create", "--title", "From the CLI", "--customer", "Ann@Globex.example",
                         "--json")).json()["number"]
    made["json"] = ok(cli("ticket", "create", "--json", "-", input=json.dumps(
        {"title": "From JSON", "customer": "bo@eu.globex.example"}))).json()["number"]
    path = tmp_path / "in.csv"
    path.write_text("title;customer\nFrom a spreadsheet;cy@initech.test\n")
    made["import"] = ok(cli("ticket", "import", str(path), "--json")).json()["numbers"][0]
    reopen(org_desk)
    raw = (f"From: Dee <dee@globex.example>\r\nTo: support@acme.example\r\nSubject: From mail\r\n"
           f"Message-ID: <{uuid.uuid4().hex}@globex.example>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
           "Content-Type: text/plain\r\n\r\nHello\r\n").encode()
    outcome = intake.process(org_desk, MailboxSpec(name="support", address="support@acme.example",
                                                   imap_host="imap.invalid"),
                             intake.Source("support", "INBOX", 1, 1), raw)
    made["mail"] = outcome.ticket
    assert {k: organisation_of(cli, n) for k, n in made.items()} == {
        "cli": "Globex", "json": "Globex", "import": "Initech", "mail": "Globex"}
    reopen(org_desk)
    # and so the key accounts' SLA policy, from the first clock on
    assert {k: policy_of(org_desk, n) for k, n in made.items()} == {
        "cli": "key accounts", "json": "key accounts", "import": "normal", "mail": "key accounts"}
    assert ok(cli("ticket", "list", "org:Globex", "--json")).json()[0]["number"] == made["mail"]


def test_a_domain_does_not_match_lookalikes_and_a_named_organisation_wins(cli, org_desk):
    for customer, expected in (("x@notglobex.example", None), ("x@globex.example.evil", None),
                               ("x@globex.org", None), ("x@GLOBEX.EXAMPLE", "Globex")):
        number = ok(cli("ticket", "create", "--title", customer, "--customer", customer, "--json")).json()["number"]
        assert organisation_of(cli, number) == expected, customer
    number = ok(cli("ticket", "create", "--json", "-", input=json.dumps(
        {"title": "named", "customer": "new@globex.example", "organisation": "Globex Retail"}))).json()["number"]
    assert organisation_of(cli, number) == "Globex Retail"
    # a customer the desk knows keeps their organisation
    number = ok(cli("ticket", "create", "--title", "again", "--customer", "new@globex.example",
                    "--json")).json()["number"]
    assert organisation_of(cli, number) == "Globex Retail"


@pytest.mark.parametrize("extra,needle", [
    ('[[organisation]]\nname = "A"\ndomains = ["a.example"]\n[[organisation]]\nname = "B"\ndomains = ["A.example"]\n',
     "belongs to two organisations"),
    ('[[organisation]]\nname = "A"\ndomains = ["not a domain"]\n', "is not a mail domain"),
    ('[[organisation]]\ndomains = ["a.example"]\n', "organisation"),
    ('[[organisation]]\nname = "A"\ncolour = "red"\n', "unknown key 'colour'"),
])
def test_bad_organisation_config_is_a_clear_error(cli, configured, extra, needle):
    configured.write_config(configured.default_config() + extra)
    assert needle in error(cli("ticket", "list"))


# ---------------------------------------------------------------- the default queue


def test_a_ticket_without_a_type_lands_in_the_default_queue(cli, configured):
    shipped = configured.default_config()
    assert 'default_queue = "it"' in shipped
    text = "\n".join(line for line in shipped.splitlines() if not line.startswith("default_queue"))
    configured.write_config(text)
    assert ok(cli("ticket", "create", "--title", "no type", "--json")).json()["queue"] == "it"  # the first queue
    configured.write_config(text.replace('[desk]\n', '[desk]\ndefault_queue = "care"\n', 1))
    assert ok(cli("ticket", "create", "--title", "no type", "--json")).json()["queue"] == "care"
    assert ok(cli("ticket", "create", "--title", "typed", "--type", "equipment_repair", "--field",
                  "serial_number=SN-1", "--json")).json()["queue"] == "repairs"  # the type's own queue
    assert ok(cli("ticket", "create", "--title", "chosen", "--queue", "it", "--json")).json()["queue"] == "it"
    configured.write_config(text.replace('[desk]\n', '[desk]\ndefault_queue = "nowhere"\n', 1))
    assert "default_queue 'nowhere' is not a configured [[queue]]" in error(cli("ticket", "list"))
