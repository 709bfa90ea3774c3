"""The CLI contract (INTERFACE.md): every command, the output formats, exit codes and clean errors.

Most tests run the Typer app in-process (fixture `cli`) next to an open desk (fixture `desk`), so the
database can be inspected directly; a few run the installed console script in a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

import pytest
import typer.main

from conftest import Run, run_subprocess
from helpdesk.store.models import Agent, ConversationEntry, Outbox, Ticket
from helpdesk.core.views import LIST_COLUMNS


# ---------------------------------------------------------------- helpers


def count_tickets() -> int:
    return Ticket.select().count()


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr
    return run


def one_error(run: Run, code: int) -> str:
    """The run failed with `code` and exactly one 'error: ...' line on stderr, no traceback."""
    assert run.exit_code == code, f"exit {run.exit_code} (wanted {code})\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {run.stderr!r}"
    assert lines[0].startswith("error: "), lines[0]
    assert "internal error" not in lines[0], lines[0]
    return lines[0]


def create(cli, *args: str, **kw) -> dict:
    """Create a ticket through the CLI and return its JSON document."""
    run = ok(cli("ticket", "create", *args, "--json", **kw))
    return run.json()


def show(cli, number: int) -> dict:
    return ok(cli("ticket", "show", str(number), "--json")).json()


def actions(cli, number: int) -> list[str]:
    # The SLA clocks' own events (tests/test_sla.py) are left out: these tests follow the ticket.
    return [e["action"] for e in ok(cli("ticket", "history", str(number), "--json")).json()
            if not e["action"].startswith("sla_")]


@pytest.fixture
def bob(cli, desk):
    """A second agent who repairs equipment."""
    ok(cli("agent", "add", "bob", "--name", "Bob Keller", "--skill", "repair", "--queue", "repairs"))
    return "bob"


# ---------------------------------------------------------------- init, locate, db migrate


def test_init_writes_config_database_and_first_admin(bare_cli, home):
    assert not home.config_file.exists()
    run = ok(bare_cli("init"))
    assert home.config_file.exists()
    assert home.config_file.read_text() == home.shipped_config()
    assert "(written)" in run.stdout
    assert "agent: tester (admin)" in run.stdout
    # again: the config is kept and the agent not added twice
    run = ok(bare_cli("init"))
    assert "(kept)" in run.stdout
    agents = ok(bare_cli("agent", "list", "--json")).json()
    assert [(a["login"], a["is_admin"]) for a in agents] == [("tester", True)]
    assert ok(bare_cli("ticket", "list", "--json")).json() == []


def test_init_sample_fills_the_desk_and_is_safe_twice(bare_cli):
    run = ok(bare_cli("init", "--sample"))
    line = next(line for line in run.stdout.splitlines() if line.startswith("sample:"))
    made = int(line.split(",")[1].split()[0])
    assert made > 0
    found = ok(bare_cli("ticket", "list", "--json", "--limit", "0")).json()
    assert len(found) == made
    assert {t["type"] for t in found} == {"it_support", "equipment_repair", "complaint"}
    assert len({t["status"] for t in found}) > 1  # some were moved through the lifecycle
    logins = {a["login"] for a in ok(bare_cli("agent", "list", "--json")).json()}
    assert {"tester", "alice", "bob", "carol", "dave"} <= logins
    run = ok(bare_cli("init", "--sample"))
    assert "0 new tickets" in run.stdout
    assert len(ok(bare_cli("ticket", "list", "--json", "--limit", "0")).json()) == made


def test_locate_prints_the_paths_in_use(cli, configured):
    from helpdesk.store.db import parse_url

    doc = ok(cli("locate", "--json")).json()
    assert doc["config"] == str(configured.config_file)
    assert doc["data_dir"] == str(configured.path)
    assert doc["database"] == parse_url(configured.url).display()
    text = ok(cli("locate")).stdout
    assert str(configured.config_file) in text
    assert doc["database"] in text


def older_desk(name: str = "0014_agent_role") -> None:
    """Turn the test's desk back into one made before migration `name` (which adds agent.role)."""
    from helpdesk.domain.desk import open_desk

    desk = open_desk()
    desk.db.execute_sql("DELETE FROM schema_migration WHERE name = " + desk.db.param, (name,))
    desk.db.execute_sql("ALTER TABLE agent DROP COLUMN role")
    desk.db.close()


def test_db_migrate_brings_an_older_desk_up_to_date(cli):
    assert ok(cli("db", "migrate", "--json")).json() == {"applied": [], "types": []}  # init made it whole
    assert "up to date" in ok(cli("db", "migrate")).stdout
    older_desk()
    assert ok(cli("db", "migrate", "--json")).json() == {"applied": ["0014_agent_role"], "types": []}
    assert [(a["login"], a["role"]) for a in ok(cli("agent", "list", "--json")).json()] == [("tester", "admin")]
    older_desk()  # an older desk migrates on first use too
    assert ok(cli("ticket", "list", "--json")).json() == []
    assert ok(cli("db", "migrate", "--json")).json() == {"applied": [], "types": []}


def test_db_migrate_picks_up_a_new_type_field(cli, configured):
    ok(cli("db", "migrate"))
    configured.write_config(configured.default_config().replace(
        'fault_code = "text",', 'fault_code = "text", site = "text",'))
    run = ok(cli("db", "migrate"))
    assert "added field 'site' to type 'equipment_repair'" in run.stdout
    doc = create(cli, "--title", "Pump", "--type", "equipment_repair", "--field", "serial_number=S1",
                 "--field", "site=Berlin")
    assert doc["fields"]["site"] == "Berlin"


# ---------------------------------------------------------------- ticket create


def test_create_with_flags(cli, desk):
    doc = create(cli, "--title", "Pump P-200 leaking", "--body", "Water at the seal", "--type", "equipment_repair",
                 "--priority", "p1", "--customer", "Ann@Example.COM", "--field", "serial_number=SN-200",
                 "--field", "under_warranty=yes", "--field", "purchase_date=2024-05-01", "--tag", "onsite",
                 "--tag", "Warranty")
    assert doc["created"] is True
    assert doc["title"] == "Pump P-200 leaking"
    assert doc["description"] == "Water at the seal"
    assert doc["type"] == "equipment_repair" and doc["queue"] == "repairs"
    assert doc["priority"] == "P1" and doc["status"] == "new"
    assert doc["customer"] == "ann@example.com"
    assert doc["channel"] == "cli"
    assert doc["tags"] == ["onsite", "warranty"]
    assert doc["fields"]["serial_number"] == "SN-200"
    assert doc["fields"]["under_warranty"] is True
    assert doc["fields"]["purchase_date"] == "2024-05-01"
    assert doc["fields"]["fault_code"] is None
    assert show(cli, doc["number"])["fields"] == doc["fields"]
    assert count_tickets() == 1


def test_create_text_output_and_default_priority(cli, desk):
    run = ok(cli("ticket", "create", "--title", "Printer jam"))
    number = int(run.stdout.split()[1].lstrip("#"))
    assert run.stdout.startswith(f"created #{number} Printer jam")
    t = show(cli, number)
    assert t["priority"] == desk.config.default_priority
    assert t["type"] is None and t["fields"] == {}


def test_create_body_from_stdin(cli, desk):
    doc = create(cli, "--title", "Long story", "--body", "-", input="line one\nline two\n")
    assert doc["description"].strip() == "line one\nline two"


def test_create_one_json_object_from_stdin(cli, desk):
    record = {"title": "Laptop fan loud", "type": "equipment_repair", "priority": "P3",
              "customer": "bo@x.example", "fields": {"serial_number": "SN-7", "fault_code": "F1"},
              "tags": ["noise"], "key": "mail-123"}
    doc = ok(cli("ticket", "create", "--json", "-", input=json.dumps(record, indent=2))).json()
    assert doc["created"] is True
    assert doc["title"] == "Laptop fan loud" and doc["priority"] == "P3"
    assert doc["fields"]["serial_number"] == "SN-7" and doc["fields"]["fault_code"] == "F1"
    assert doc["tags"] == ["noise"] and doc["idempotency_key"] == "mail-123"
    assert doc["channel"] == "api"
    assert count_tickets() == 1


def test_create_ndjson_from_stdin(cli, desk):
    lines = [
        {"title": "VPN drops", "type": "it_support", "fields": {"category": "network"}},
        {"title": "Broken pump", "type": "equipment_repair", "serial_number": "SN-1"},  # flat field
        {"title": "Late delivery", "type": "complaint", "severity": "high", "priority": "P0"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    rows = ok(cli("ticket", "create", "-", "--json", input=text)).json()
    assert [r["input"] for r in rows] == ["line 1", "line 2", "line 3"]
    assert all(r["created"] for r in rows)
    assert count_tickets() == 3
    by_title = {t["title"]: t for t in ok(cli("ticket", "list", "--json", "--fields")).json()}
    assert by_title["Broken pump"]["fields"]["serial_number"] == "SN-1"
    assert by_title["Late delivery"]["fields"]["severity"] == "high"
    assert by_title["Late delivery"]["priority"] == "P0"
    assert by_title["VPN drops"]["fields"]["category"] == "network"
    # --nl: one object per line; text: a summary
    more = "\n".join(json.dumps({"title": f"more {i}"}) for i in range(2))
    out = ok(cli("ticket", "create", "-", "--nl", input=more)).stdout.splitlines()
    assert [json.loads(line)["created"] for line in out] == [True, True]
    assert "created 2 tickets" in ok(cli("ticket", "create", "-", input=more.replace("more", "again"))).stdout


def test_create_json_array_from_stdin(cli, desk):
    doc = [{"title": "one"}, {"title": "two", "priority": "P1"}]
    rows = ok(cli("ticket", "create", "-", "--json", input=json.dumps(doc))).json()
    assert [r["input"] for r in rows] == ["item 1", "item 2"]
    numbers = [r["number"] for r in rows]
    assert [show(cli, n)["title"] for n in numbers] == ["one", "two"]
    assert show(cli, numbers[1])["priority"] == "P1"


def test_idempotency_key_from_flags(cli, desk):
    first = ok(cli("ticket", "create", "--title", "Mail 1", "--key", "msg-1@x"))
    second = ok(cli("ticket", "create", "--title", "Mail 1 again", "--key", "msg-1@x"))
    n1 = int(first.stdout.split()[1].lstrip("#"))
    n2 = int(second.stdout.split()[1].lstrip("#"))
    assert first.stdout.startswith("created") and second.stdout.startswith("exists")
    assert n1 == n2
    assert Ticket.select().where(Ticket.idempotency_key == "msg-1@x").count() == 1
    assert count_tickets() == 1
    assert show(cli, n1)["title"] == "Mail 1"  # the repeat changed nothing
    again = create(cli, "--title", "Mail 1", "--key", "msg-1@x")
    assert again["number"] == n1 and again["created"] is False


def test_idempotency_key_in_a_batch(cli, desk):
    create(cli, "--title", "old", "--key", "k-old")
    text = "\n".join(json.dumps(r) for r in [{"title": "a", "key": "k-new"}, {"title": "b", "key": "k-old"},
                                               {"title": "c", "key": "k-new"}])
    rows = ok(cli("ticket", "create", "-", "--json", input=text)).json()
    assert [r["created"] for r in rows] == [True, False, False]
    assert rows[0]["number"] == rows[2]["number"]
    assert count_tickets() == 2


# ---------------------------------------------------------------- ticket list


@pytest.fixture
def mixed(cli, desk):
    """Five tickets of different types, priorities and customers; returns their numbers by title."""
    numbers = {}
    for args in [
        ("--title", "VPN drops at home", "--type", "it_support", "--priority", "P1", "--customer", "ann@a.example",
         "--tag", "vpn"),
        ("--title", "Pump leaking", "--type", "equipment_repair", "--field", "serial_number=SN-1",
         "--priority", "P0"),
        ("--title", "Compressor dead", "--type", "equipment_repair", "--field", "serial_number=SN-2"),
        ("--title", "Invoice charged twice", "--type", "complaint", "--customer", "ben@b.example",
         "--priority", "P3"),
        ("--title", "Paper jam on floor 3",),
    ]:
        numbers[args[1]] = create(cli, *args)["number"]
    return numbers


def test_list_json_is_an_array_newest_first(cli, mixed):
    found = ok(cli("ticket", "list", "--json")).json()
    assert isinstance(found, list)
    assert [t["number"] for t in found] == sorted(mixed.values(), reverse=True)
    assert {t["title"] for t in found} == set(mixed)


def test_list_query_terms(cli, mixed):
    def titles(*query):
        return {t["title"] for t in ok(cli("ticket", "list", *query, "--json")).json()}

    assert titles("type:equipment_repair") == {"Pump leaking", "Compressor dead"}
    assert titles("priority:P0,P1") == {"Pump leaking", "VPN drops at home"}
    assert titles("customer:ben@b.example") == {"Invoice charged twice"}
    assert titles("tag:vpn") == {"VPN drops at home"}
    assert titles("field.serial_number:SN-2") == {"Compressor dead"}
    assert titles("queue:repairs", "priority:P2") == {"Compressor dead"}
    assert titles("type:none") == {"Paper jam on floor 3"}
    assert titles("pump") == {"Pump leaking"}
    assert titles('"paper jam"') == {"Paper jam on floor 3"}
    assert titles("status:open") == set(mixed)
    assert titles("status:closed") == set()
    assert titles("assignee:none") == set(mixed)
    ok(cli("ticket", "assign", str(mixed["Pump leaking"]), "me"))
    assert titles("assignee:me") == {"Pump leaking"}
    assert titles("status:assigned type:equipment_repair") == {"Pump leaking"}


def test_list_nl_csv_limit_and_text(cli, mixed):
    # --nl: one object per line
    lines = ok(cli("ticket", "list", "--nl")).stdout.splitlines()
    assert len(lines) == len(mixed)
    docs = [json.loads(line) for line in lines]
    assert all(isinstance(d, dict) and "number" in d for d in docs)
    assert [d["number"] for d in docs] == sorted(mixed.values(), reverse=True)
    # --csv: a header row, then one row per ticket
    text = ok(cli("ticket", "list", "--csv")).stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == LIST_COLUMNS
    assert len(rows) == 1 + len(mixed)
    records = list(csv.DictReader(io.StringIO(text)))
    vpn = next(r for r in records if r["title"] == "VPN drops at home")
    assert vpn["priority"] == "P1" and vpn["tags"] == "vpn" and vpn["customer"] == "ann@a.example"
    with_fields = list(csv.DictReader(io.StringIO(ok(cli("ticket", "list", "--csv", "--fields",
                                                          "type:equipment_repair")).stdout)))
    assert {r["field.serial_number"] for r in with_fields} == {"SN-1", "SN-2"}
    # --limit
    newest = sorted(mixed.values(), reverse=True)
    assert [t["number"] for t in ok(cli("ticket", "list", "--json", "--limit", "2")).json()] == newest[:2]
    assert len(ok(cli("ticket", "list", "--json", "--limit", "0")).json()) == len(mixed)
    assert len(ok(cli("ticket", "list", "--nl", "--limit", "1")).stdout.splitlines()) == 1
    # text: a table for people
    text = ok(cli("ticket", "list")).stdout
    for title in mixed:
        assert title in text
    assert "no tickets match" in ok(cli("ticket", "list", "status:closed")).stdout


def test_list_empty_formats(cli, desk):
    assert ok(cli("ticket", "list", "--json")).json() == []
    assert ok(cli("ticket", "list", "--nl")).stdout == ""
    assert list(csv.reader(io.StringIO(ok(cli("ticket", "list", "--csv")).stdout))) == [LIST_COLUMNS]


# ---------------------------------------------------------------- show, update, history


def test_show_text_and_json(cli, desk):
    number = create(cli, "--title", "Scanner roller worn", "--body", "Pulls several sheets", "--type",
                    "equipment_repair", "--field", "serial_number=SN-55", "--customer", "cy@c.example")["number"]
    ok(cli("ticket", "reply", str(number), "--note", "--body", "vendor case 991"))
    doc = show(cli, number)
    assert doc["number"] == number and doc["title"] == "Scanner roller worn"
    assert doc["fields"]["serial_number"] == "SN-55"
    assert [(e["kind"], e["body"], e["author"]) for e in doc["conversation"]] == [("note", "vendor case 991", "tester")]
    text = ok(cli("ticket", "show", f"#{number}")).stdout
    for piece in ("Scanner roller worn", "SN-55", "Pulls several sheets", "vendor case 991", "cy@c.example"):
        assert piece in text


def test_update_fields_and_history(cli, desk):
    number = create(cli, "--title", "Pump", "--type", "equipment_repair", "--field", "serial_number=SN-1")["number"]
    run = ok(cli("ticket", "update", str(number), "--title", "Pump P-200", "--priority", "P0", "--field",
                 "fault_code=E17", "--field", "under_warranty=no", "--tag", "onsite"))
    assert run.stdout.startswith(f"updated #{number} (version 2)")
    doc = show(cli, number)
    assert doc["title"] == "Pump P-200" and doc["priority"] == "P0" and doc["version"] == 2
    assert doc["fields"]["fault_code"] == "E17" and doc["fields"]["under_warranty"] is False
    assert doc["fields"]["serial_number"] == "SN-1"
    assert doc["tags"] == ["onsite"]
    events = ok(cli("ticket", "history", str(number), "--json")).json()
    # A new priority means a new SLA policy: the clocks are re-targeted, and that is history too.
    assert [e["action"] for e in events if not e["action"].startswith("sla_")] == ["created", "updated"]
    assert {e["data"]["clock"] for e in events if e["action"] == "sla_retargeted"} == {"first_response", "resolution"}
    assert events[1]["data"]["priority"] == ["P2", "P0"]
    assert events[1]["data"]["fields"]["fault_code"] == [None, "E17"]
    assert events[1]["actor"] == "tester"
    # a type change to a type with different fields
    doc = ok(cli("ticket", "update", str(number), "--type", "complaint", "--field", "severity=low", "--json")).json()
    assert doc["type"] == "complaint" and doc["fields"]["severity"] == "low"


def test_update_refusals_change_nothing(cli, desk):
    number = create(cli, "--title", "Pump", "--type", "equipment_repair", "--field", "serial_number=SN-1")["number"]
    before = show(cli, number)
    one_error(cli("ticket", "update", str(number), "--priority", "P7"), 1)
    one_error(cli("ticket", "update", str(number), "--field", "under_warranty=perhaps", "--title", "X"), 1)
    one_error(cli("ticket", "update", str(number), "--field", "nope=1"), 1)
    one_error(cli("ticket", "update", str(number), "--type", "it_support_x"), 1)
    one_error(cli("ticket", "update", str(number), "--title", "T", "--if-version", "7"), 1)
    assert show(cli, number) == before
    assert actions(cli, number) == ["created"]


def test_history_formats(cli, desk):
    number = create(cli, "--title", "Laptop")["number"]
    ok(cli("ticket", "assign", str(number), "me"))
    ok(cli("ticket", "status", str(number), "in_progress", "--reason", "on it"))
    events = ok(cli("ticket", "history", str(number), "--json")).json()
    assert events[0]["action"] == "created" and events[0]["data"]["title"] == "Laptop"
    assert "assigned" in [e["action"] for e in events]
    assert events[-1]["action"] == "status_changed"
    assert events[-1]["data"] == {"from": "assigned", "to": "in_progress", "reason": "on it"}
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # oldest first
    nl = [json.loads(line) for line in ok(cli("ticket", "history", str(number), "--nl")).stdout.splitlines()]
    assert nl == events
    text = ok(cli("ticket", "history", str(number))).stdout
    assert "assigned" in text and "on it" in text
    one_error(cli("ticket", "history", "9999"), 1)


# ---------------------------------------------------------------- assignment and lifecycle


def test_assign_to_agent_me_and_auto(cli, desk, bob):
    a = create(cli, "--title", "VPN", "--type", "it_support")["number"]
    b = create(cli, "--title", "Pump", "--type", "equipment_repair", "--field", "serial_number=S")["number"]
    run = ok(cli("ticket", "assign", str(a), "me"))
    assert run.stdout.strip() == f"#{a} assigned to tester (assigned)"
    run = ok(cli("ticket", "assign", str(b), "--auto", "--json"))
    assert run.json()["assignee"] == "bob"  # the only agent with the repair skill
    assert show(cli, b)["status"] == "assigned"
    assert "assigned" in actions(cli, b)
    # assigning to the owner again is refused, and changes nothing
    one_error(cli("ticket", "assign", str(a), "tester"), 1)
    assert show(cli, a)["version"] == 2


def test_assign_usage_and_refusals(cli, desk):
    number = create(cli, "--title", "VPN")["number"]
    one_error(cli("ticket", "assign", str(number)), 2)  # neither an agent nor --auto
    one_error(cli("ticket", "assign", str(number), "me", "--auto"), 2)
    err = one_error(cli("ticket", "assign", str(number), "nobody"), 1)
    assert "nobody" in err
    err = one_error(cli("ticket", "assign", "777", "me"), 1)
    assert "#777" in err
    assert show(cli, number)["assignee"] is None and show(cli, number)["version"] == 1


def test_status_moves_and_illegal_moves(cli, desk):
    number = create(cli, "--title", "Outlook asks for password")["number"]
    err = one_error(cli("ticket", "status", str(number), "in_progress"), 1)  # no assignee yet
    assert "assign" in err
    ok(cli("ticket", "assign", str(number), "me"))
    assert ok(cli("ticket", "status", str(number), "in_progress")).stdout.strip() == f"#{number} is in_progress"
    doc = ok(cli("ticket", "status", str(number), "pending", "--reason", "waiting for logs", "--json")).json()
    assert doc["status"] == "pending"
    ok(cli("ticket", "status", str(number), "resolved"))
    assert show(cli, number)["resolved_at"] is not None
    ok(cli("ticket", "status", str(number), "closed"))
    before = show(cli, number)
    assert before["closed_at"] is not None
    err = one_error(cli("ticket", "status", str(number), "in_progress"), 1)
    assert "closed" in err
    err = one_error(cli("ticket", "status", str(number), "sleeping"), 1)
    assert "sleeping" in err
    assert show(cli, number) == before
    history = ok(cli("ticket", "history", str(number), "--json")).json()
    assert any(e["data"].get("reason") == "waiting for logs" for e in history)


def test_transfer_to_agent_and_queue(cli, desk, bob):
    number = create(cli, "--title", "Pump", "--type", "equipment_repair", "--field", "serial_number=S")["number"]
    ok(cli("ticket", "assign", str(number), "me"))
    ok(cli("ticket", "status", str(number), "in_progress"))
    run = ok(cli("ticket", "transfer", str(number), "bob"))
    assert run.stdout.strip() == f"#{number} -> bob (assigned)"
    assert show(cli, number)["assignee"] == "bob"
    run = ok(cli("ticket", "transfer", str(number), "--queue", "care"))
    doc = show(cli, number)
    assert (doc["queue"], doc["assignee"], doc["status"]) == ("care", None, "new")
    assert actions(cli, number).count("transferred") == 2
    one_error(cli("ticket", "transfer", str(number)), 2)
    one_error(cli("ticket", "transfer", str(number), "bob", "--queue", "it"), 2)
    one_error(cli("ticket", "transfer", str(number), "--queue", "nowhere"), 1)
    assert show(cli, number)["queue"] == "care"


def test_return_to_queue(cli, desk):
    number = create(cli, "--title", "Wifi slow", "--type", "it_support")["number"]
    ok(cli("ticket", "assign", str(number), "me"))
    run = ok(cli("ticket", "return", str(number), "--reason", "not my area"))
    assert run.stdout.strip() == f"#{number} returned to queue it (new)"
    doc = show(cli, number)
    assert doc["status"] == "new" and doc["assignee"] is None
    assert actions(cli, number)[-1] == "returned"
    one_error(cli("ticket", "return", str(number)), 1)  # already new


def test_reopen(cli, desk):
    number = create(cli, "--title", "Printer")["number"]
    one_error(cli("ticket", "reopen", str(number)), 1)  # not resolved
    ok(cli("ticket", "assign", str(number), "me"))
    ok(cli("ticket", "status", str(number), "resolved"))
    run = ok(cli("ticket", "reopen", str(number), "--reason", "still jams"))
    assert run.stdout.strip() == f"#{number} reopened (in_progress)"
    doc = show(cli, number)
    assert doc["status"] == "in_progress" and doc["assignee"] == "tester" and doc["resolved_at"] is None
    assert actions(cli, number)[-1] == "reopened"


def test_reply_queues_mail_for_the_customer_and_notes_do_not(cli, desk):
    with_customer = create(cli, "--title", "VPN", "--customer", "ann@a.example")["number"]
    without = create(cli, "--title", "Internal")["number"]
    ok(cli("ticket", "reply", str(with_customer), "--note", "--body", "checked the logs"))
    assert Outbox.select().count() == 0
    run = ok(cli("ticket", "reply", str(with_customer), "--body", "Please reconnect and try again."))
    assert run.stdout.strip() == f"reply queued for #{with_customer}"
    mail = list(Outbox.select())
    assert len(mail) == 1
    assert mail[0].to_addr == "ann@a.example"
    assert mail[0].body == "Please reconnect and try again."
    assert f"[#{with_customer}]" in mail[0].subject
    assert mail[0].ticket_id == with_customer
    # a public reply on a ticket without a customer could be mailed to nobody: refused, nothing stored
    error = one_error(cli("ticket", "reply", str(without), "--body", "done"), 1)
    assert f"#{without} has no customer" in error and "--note" in error
    assert Outbox.select().count() == 1
    assert ConversationEntry.select().where(ConversationEntry.ticket == without).count() == 0
    assert show(cli, without)["first_response_at"] is None and actions(cli, without)[-1] == "created"
    doc = show(cli, with_customer)
    assert [(e["kind"], e["body"]) for e in doc["conversation"]] == [
        ("note", "checked the logs"), ("reply", "Please reconnect and try again.")]
    assert doc["first_response_at"] is not None
    assert actions(cli, with_customer)[-2:] == ["noted", "replied"]


def test_reply_body_from_stdin(cli, desk):
    number = create(cli, "--title", "VPN", "--customer", "ann@a.example")["number"]
    entry = ok(cli("ticket", "reply", str(number), "--body", "-", "--json",
                   input="Hello Ann,\n\nplease try again.\n")).json()
    assert entry["kind"] == "reply" and entry["body"] == "Hello Ann,\n\nplease try again."
    assert Outbox.get().body == entry["body"]
    # no --body and stdin is not a terminal: stdin is the body
    ok(cli("ticket", "reply", str(number), "--note", input="note from a pipe\n"))
    assert ConversationEntry.select().where(ConversationEntry.kind == "note").get().body == "note from a pipe"


def test_reply_refusals(cli, desk):
    number = create(cli, "--title", "VPN", "--customer", "ann@a.example")["number"]
    one_error(cli("ticket", "reply", str(number), "--body", "   "), 1)
    one_error(cli("ticket", "reply", "4242", "--body", "hello"), 1)
    ok(cli("ticket", "assign", str(number), "me"))
    ok(cli("ticket", "status", str(number), "resolved"))
    ok(cli("ticket", "status", str(number), "closed"))
    one_error(cli("ticket", "reply", str(number), "--body", "hello?"), 1)
    # Resolving asked the customer for a rating; the refused reply added nothing.
    assert ConversationEntry.select().count() == 0
    assert [o.kind for o in Outbox.select()] == ["rating_request"]
    ok(cli("ticket", "reply", str(number), "--note", "--body", "notes are still fine"))


def test_merge(cli, desk):
    target = create(cli, "--title", "Printer jam floor 3", "--tag", "printer")["number"]
    source = create(cli, "--title", "Printer floor 3 broken", "--body", "again", "--tag", "urgent")["number"]
    ok(cli("ticket", "reply", str(source), "--note", "--body", "same as the other one"))
    run = ok(cli("ticket", "merge", str(source), f"#{target}"))
    assert run.stdout.strip() == f"#{source} merged into #{target}"
    src, dst = show(cli, source), show(cli, target)
    assert src["status"] == "closed" and src["merged_into"] == target
    assert set(dst["tags"]) == {"printer", "urgent"}
    bodies = [e["body"] for e in dst["conversation"]]
    assert "same as the other one" in bodies
    assert any(b.startswith(f"Merged from #{source}") for b in bodies)
    assert actions(cli, source)[-1] == "merged" and actions(cli, target)[-1] == "merged_from"
    one_error(cli("ticket", "merge", str(target), str(target)), 1)
    one_error(cli("ticket", "merge", str(target), str(source)), 1)  # into a closed ticket
    one_error(cli("ticket", "merge", str(target), "999"), 1)
    assert show(cli, target)["status"] == "new"


def test_ticket_numbers_accept_hash_and_refuse_garbage(cli, desk):
    number = create(cli, "--title", "VPN")["number"]
    assert show(cli, number)["number"] == number
    assert ok(cli("ticket", "show", f"#{number}", "--json")).json()["number"] == number
    for bad in ("abc", "0", "-3", "#"):
        err = one_error(cli("ticket", "show", "--", bad), 1)
        assert bad in err


# ---------------------------------------------------------------- export


def test_export_formats_with_a_query(cli, mixed):
    text = ok(cli("export", "--format", "csv", "type:equipment_repair")).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["title"] for r in rows} == {"Pump leaking", "Compressor dead"}
    assert {r["field.serial_number"] for r in rows} == {"SN-1", "SN-2"}
    docs = ok(cli("export", "--format", "json", "priority:P3")).json()
    assert [d["title"] for d in docs] == ["Invoice charged twice"]
    nl = ok(cli("export", "--format", "nl")).stdout.splitlines()
    assert len(nl) == len(mixed)
    err = one_error(cli("export", "--format", "xml"), 2)
    assert "xml" in err
    one_error(cli("export", "bogus:term"), 1)


def test_export_to_a_file(cli, mixed, tmp_path):
    target = tmp_path / "out.json"
    run = ok(cli("export", "--format", "json", "--output", str(target)))
    assert run.stdout == ""
    assert f"exported {len(mixed)} tickets" in run.stderr
    assert {d["title"] for d in json.loads(target.read_text())} == set(mixed)


# ---------------------------------------------------------------- agents


def test_agent_add_list_update(cli, desk):
    doc = ok(cli("agent", "add", "carol", "--name", "Carol Nguyen", "--email", "carol@acme.example",
                 "--skill", "care", "--skill", "Repair", "--queue", "care", "--capacity", "3", "--json")).json()
    assert doc == {"login": "carol", "name": "Carol Nguyen", "email": "carol@acme.example", "is_admin": False,
                   "role": "agent", "skills": ["care", "repair"], "queues": ["care"], "capacity": 3, "active": True,
                   "shift": None, "open_tickets": 0}
    assert ok(cli("agent", "add", "dave")).stdout.strip() == "added agent dave"
    listed = ok(cli("agent", "list", "--json")).json()
    assert [a["login"] for a in listed] == ["carol", "dave", "tester"]
    nl = [json.loads(line) for line in ok(cli("agent", "list", "--nl")).stdout.splitlines()]
    assert nl == listed
    rows = list(csv.reader(io.StringIO(ok(cli("agent", "list", "--csv")).stdout)))
    assert rows[0][0] == "login" and "capacity" in rows[0] and len(rows) == 4
    assert "carol" in ok(cli("agent", "list")).stdout

    number = create(cli, "--title", "Complaint", "--queue", "care")["number"]
    ok(cli("ticket", "assign", str(number), "carol"))
    assert {a["login"]: a["open_tickets"] for a in ok(cli("agent", "list", "--json")).json()}["carol"] == 1

    assert ok(cli("agent", "update", "carol", "--capacity", "10", "--inactive", "--skill", "billing")
              ).stdout.strip() == "updated agent carol"
    carol = next(a for a in ok(cli("agent", "list", "--json")).json() if a["login"] == "carol")
    assert (carol["capacity"], carol["active"], carol["skills"]) == (10, False, ["billing"])
    ok(cli("agent", "update", "me", "--name", "The Tester"))
    assert Agent.get(Agent.login == "tester").name == "The Tester"
    # an inactive agent gets no tickets
    other = create(cli, "--title", "Another")["number"]
    one_error(cli("ticket", "assign", str(other), "carol"), 1)


def test_agent_refusals(cli, desk):
    ok(cli("agent", "add", "erin"))
    before = ok(cli("agent", "list", "--json")).json()
    one_error(cli("agent", "add", "erin"), 1)
    one_error(cli("agent", "add", "frank", "--queue", "nowhere"), 1)
    one_error(cli("agent", "add", "me"), 1)
    one_error(cli("agent", "add", "gina", "--capacity", "-1"), 1)
    one_error(cli("agent", "update", "nobody", "--capacity", "1"), 1)
    one_error(cli("agent", "update", "erin", "--queue", "nowhere"), 1)
    one_error(cli("agent", "add", "hal", "--capacity", "many"), 2)
    assert ok(cli("agent", "list", "--json")).json() == before


# ---------------------------------------------------------------- bad input
# The table of bad inputs (exit code, message, nothing stored) is tests/test_bad_input.py.


def test_out_of_range_numbers_are_not_database_errors(cli, desk):
    number = create(cli, "--title", "VPN")["number"]
    assert ok(cli("ticket", "list", "number:" + "9" * 20, "--json")).json() == []
    assert [t["number"] for t in ok(cli("ticket", "list", f"number:{number}", "--json")).json()] == [number]
    assert len(ok(cli("ticket", "list", "--limit", "9" * 20, "--json")).json()) == 1


def test_a_group_without_a_command_shows_its_help(cli):
    for group in ("ticket", "agent", "db"):
        run = cli(group)
        assert run.exit_code in (0, 2)
        assert "Traceback" not in run.stdout + run.stderr
        assert "internal error" not in run.stdout + run.stderr
        assert f"helpdesk {group}" in run.stdout + run.stderr or "Usage" in run.stdout + run.stderr


# ---------------------------------------------------------------- help text


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, path + (name,))


def test_every_command_has_help_text(cli):
    from helpdesk.cli.app import app

    root = typer.main.get_command(app)
    seen = list(_walk(root))
    paths = {" ".join(p) for p, _ in seen}
    for expected in ("init", "locate", "export", "db migrate", "agent add", "agent list", "agent update",
                     "ticket create", "ticket list", "ticket show", "ticket update", "ticket assign",
                     "ticket status", "ticket reply", "ticket merge", "ticket history", "ticket transfer",
                     "ticket return", "ticket reopen", "ticket import"):
        assert expected in paths
    for path, command in seen:
        text = (command.help or "").strip()
        assert text, f"'helpdesk {' '.join(path)}' has no help text"
        run = ok(cli(*path, "--help"))
        assert text.splitlines()[0][:40] in run.stdout
        for param in command.params:  # arguments name what they are in the help too
            if getattr(param, "param_type_name", "") == "argument":
                assert getattr(param, "help", None), f"'helpdesk {' '.join(path)}' argument {param.name} has no help"


# ---------------------------------------------------------------- the real console script


def test_console_script_round_trip_and_error_without_traceback(helpdesk_bin, configured):
    proc = run_subprocess(helpdesk_bin + ["ticket", "create", "--title", "From a script", "--json"])
    assert proc.returncode == 0, proc.stderr
    number = json.loads(proc.stdout)["number"]
    proc = run_subprocess(helpdesk_bin + ["ticket", "list", "--json"])
    assert proc.returncode == 0
    assert [t["number"] for t in json.loads(proc.stdout)] == [number]
    proc = run_subprocess(helpdesk_bin + ["ticket", "show", "31337"])
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: ticket #31337 not found"
    assert proc.stdout == ""
    proc = run_subprocess(helpdesk_bin + ["ticket", "create", "-"], input='{"title": "x", "type": "nope"}')
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = run_subprocess(helpdesk_bin + ["ticket", "list", "--nope"])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_database_unreachable_exits_3_with_one_line(helpdesk_bin, configured):
    for args in (["ticket", "list"], ["ticket", "create", "--title", "x"], ["db", "migrate"],
                 ["ticket", "show", "1", "--json"], ["agent", "list", "--json"]):
        proc = run_subprocess(helpdesk_bin + args,
                              env={"HELPDESK_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"})
        assert proc.returncode == 3, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "database" in lines[0], (args, lines)
        assert "Traceback" not in proc.stderr
        assert proc.stdout == ""


def test_broken_pipe_is_not_an_internal_error(helpdesk_bin, configured):
    rows = "\n".join(json.dumps({"title": f"ticket number {i} " + "x" * 200}) for i in range(400))
    assert run_subprocess(helpdesk_bin + ["ticket", "create", "-"], input=rows).returncode == 0
    proc = subprocess.Popen(helpdesk_bin + ["export", "--format", "csv"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=os.environ.copy())
    proc.stdout.read(100)
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "internal error" not in stderr and "Traceback" not in stderr


def test_output_format_does_not_depend_on_a_terminal(cli, desk):
    create(cli, "--title", "VPN")
    run = ok(cli("ticket", "list", "--json"))
    assert "\x1b[" not in run.stdout
    assert json.loads(run.stdout)[0]["title"] == "VPN"
