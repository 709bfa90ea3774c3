"""Backups: `export --format json|nl` carries every ticket whole, `ticket import` restores it into an empty
desk as it was (numbers, conversation, attachments, links, ratings, history), on either backend and
across them; `export --format sqlite` writes a snapshot any SQLite tool can explore."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from conftest import BACKEND, Run
from test_import_export import switch_database  # noqa: F401 - the fixture, shared

OUR = "support@acme.example"


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr
    return run


def failed(run: Run) -> str:
    assert run.exit_code == 1, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    return run.stderr


def mail(subject: str, body: str, *, sender: str = "ann@globex.example", cc: str = "",
         attachment: tuple[str, bytes] | None = None) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = f"Ann <{sender}>"
    msg["To"] = OUR
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@globex.example>"
    msg["Date"] = "Mon, 2 Mar 2026 09:00:00 +0000"
    msg.set_content(body)
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="octet-stream", filename=attachment[0])
    return msg.as_bytes()


def receive(desk, raw: bytes, uid: int):
    """One mail through the real intake (parse, thread, store), as `mail fetch` hands it over."""
    from helpdesk.config import MailboxSpec
    from helpdesk.mail import intake

    spec = MailboxSpec(name="support", address=OUR, imap_host="imap.invalid")
    return intake.process(desk, spec, intake.Source("support", "INBOX", 1, uid), raw)


@pytest.fixture
def databases(switch_database):
    """Point the CLI at another, empty database: `to("sqlite")` / `to("postgres")`."""
    return switch_database


def stock(cli, desk, tmp_path) -> dict[str, int]:
    """A desk with a bit of everything a backup must keep."""
    ok(cli("agent", "add", "bob", "--skill", "repair", "--skill", "it", "--email", "bob@acme.example"))
    ok(cli("agent", "add", "carol", "--skill", "care", "--queue", "care"))
    rows = [
        {"title": "Pump leaking", "type": "equipment_repair", "priority": "P1", "customer": "ann@globex.example",
         "customer_name": "Ann", "organisation": "Globex", "tags": ["onsite", "warranty"],
         "body": "Water at the seal.\nSecond line.",
         "fields": {"serial_number": "SN-1", "fault_code": "E17", "under_warranty": False,
                    "purchase_date": "2023-11-30"}},
        {"title": "VPN drops", "type": "it_support", "key": "legacy-42",
         "fields": {"category": "network", "affected_users": 12}},
        {"title": "Invoice charged twice", "type": "complaint", "priority": "P3", "customer": "cy@initech.example",
         "fields": {"severity": "medium", "compensation_offered": 12.5}},
        {"title": "Scanner still broken", "customer": "cy@initech.example"},
    ]
    ok(cli("ticket", "create", "-", input="\n".join(json.dumps(r) for r in rows)))
    n = {t["title"]: t["number"] for t in ok(cli("ticket", "list", "--json")).json()}
    pump, vpn, invoice, scanner = (n[t] for t in ("Pump leaking", "VPN drops", "Invoice charged twice",
                                                  "Scanner still broken"))
    ok(cli("ticket", "assign", str(pump), "bob", "--force"))
    ok(cli("ticket", "status", str(pump), "in_progress"))
    ok(cli("ticket", "reply", str(pump), "--body", "A technician comes on Tuesday."))
    ok(cli("ticket", "reply", str(pump), "--note", "--body", "Seal kit ordered, vendor case 1234"))
    shot = tmp_path / "photo.jpg"
    shot.write_bytes(bytes(range(256)) * 8)
    ok(cli("ticket", "attach", str(pump), str(shot)))
    # a customer's mail with a CC and an attachment becomes a ticket; a second mail replies to the pump
    outcome = receive(desk, mail("Printer jam on floor 3", "The printer says paper jam in tray 2.",
                                 cc="dora@globex.example", attachment=("jam.log", b"E-0203 tray 2\n")), 1)
    assert outcome.outcome == "new_ticket"
    printer = outcome.ticket
    assert receive(desk, mail(f"Re: [#{pump}] Pump leaking",
                              "Tuesday works, thank you.\n\nOn Mon, 2 Mar 2026 at 10:00, Acme IT wrote:\n"
                              "> When may our technician come?\n"), 2).outcome == "reply"
    # merged, resolved, rated, closed, followed up
    ok(cli("ticket", "merge", str(scanner), str(invoice)))
    ok(cli("ticket", "assign", str(invoice), "carol", "--force"))
    ok(cli("ticket", "status", str(invoice), "resolved"))
    ok(cli("ticket", "rate", str(invoice), "2", "--comment", "slow"))
    ok(cli("ticket", "status", str(invoice), "closed"))
    follow = ok(cli("ticket", "create", "--follow-up", str(invoice), "--title", "Refund still missing",
                    "--json")).json()
    assert follow["parent"] == invoice and follow["customer"] == "cy@initech.example"
    ok(cli("ticket", "update", str(vpn), "--priority", "P0", "--tag", "vpn"))
    ok(cli("sla", "check"))
    return {"pump": pump, "vpn": vpn, "invoice": invoice, "scanner": scanner, "printer": printer,
            "follow": follow["number"]}


def export(cli, path, fmt: str = "json"):
    run = ok(cli("export", "--format", fmt, "-o", str(path)))
    assert "exported" in run.stderr
    if fmt == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fresh_desk(cli, to, backend: str) -> None:
    to(backend)
    ok(cli("init"))
    assert ok(cli("ticket", "list", "--json")).json() == []  # really an empty desk


def restore_into(cli, to, backend: str, path) -> dict:
    fresh_desk(cli, to, backend)
    ok(cli("agent", "add", "bob"))
    ok(cli("agent", "add", "carol"))
    report = ok(cli("ticket", "import", str(path), "--json")).json()
    assert report["restored"] is True and report["errors"] == [] and report["notes"] == []
    return report


@pytest.mark.parametrize("fmt", ["json", "nl"])
def test_a_backup_restores_into_an_empty_desk_exactly(cli, desk, databases, tmp_path, fmt):
    numbers = stock(cli, desk, tmp_path)
    first = export(cli, tmp_path / f"one.{fmt}", fmt)
    by_number = {d["number"]: d for d in first}
    pump = by_number[numbers["pump"]]
    # what a backup carries
    assert [e["kind"] for e in pump["conversation"]] == ["reply", "note", "inbound"]
    assert pump["conversation"][0]["message_id"] and pump["conversation"][2]["author_customer"] == "ann@globex.example"
    assert pump["conversation"][0]["author_agent"] == "tester"
    # a customer's mail: what they wrote, and the whole mail with the quote it carried
    assert pump["conversation"][2]["body"] == "Tuesday works, thank you."
    assert "> When may our technician come?" in pump["conversation"][2]["full_body"]
    assert pump["mail"][0]["entry"] == pump["conversation"][0]["id"]  # the reply queued for the customer
    assert pump["attachments"][0]["filename"] == "photo.jpg" and pump["attachments"][0]["size"] == 2048
    assert pump["fields"]["under_warranty"] is False and pump["organisation"] == "Globex"
    assert pump["customer_name"] == "Ann"
    assert {"first_response", "resolution"} <= {c["kind"] for c in pump["sla_clocks"]}
    assert by_number[numbers["scanner"]]["merged_into"] == numbers["invoice"]
    assert by_number[numbers["follow"]]["parent"] == numbers["invoice"]
    assert by_number[numbers["invoice"]]["rating"]["score"] == 2
    assert {"email": "dora@globex.example", "role": "cc"} in by_number[numbers["printer"]]["contacts"]
    assert by_number[numbers["printer"]]["attachments"][0]["filename"] == "jam.log"
    assert "created" in [e["action"] for e in pump["history"]] and "replied" in [e["action"] for e in pump["history"]]

    by_due = [t["number"] for t in ok(cli("ticket", "list", "--sort", "due", "--json", "--limit", "0")).json()]

    restore_into(cli, databases, BACKEND, tmp_path / f"one.{fmt}")
    second = export(cli, tmp_path / f"two.{fmt}", fmt)
    assert second == first  # every ticket, entry, attachment, link, rating, clock, mail and event as it was
    # the tickets' nearest running due times come back with their clocks (the queue sorted by due)
    assert [t["number"] for t in ok(cli("ticket", "list", "--sort", "due", "--json", "--limit", "0")).json()] == by_due

    # the restored desk works on from there: numbers and ids continue past the restored ones
    top = max(by_number)
    new = ok(cli("ticket", "create", "--title", "After the restore", "--json")).json()
    assert new["number"] == top + 1
    ok(cli("ticket", "reply", str(numbers["pump"]), "--note", "--body", "still on it"))
    shown = ok(cli("ticket", "show", str(numbers["pump"]), "--json")).json()
    ids = [e["id"] for e in shown["conversation"]]
    assert ids[-1] > max(e["id"] for d in first for e in d["conversation"])
    assert [t["number"] for t in ok(cli("ticket", "list", "tray", "--json")).json()] == [numbers["printer"]]
    assert [t["number"] for t in ok(cli("ticket", "list", '"technician comes"', "--json")).json()] == [numbers["pump"]]
    ok(cli("ticket", "attachment", "save", str(numbers["printer"]), "jam.log", "-o", str(tmp_path / "jam.log")))
    assert (tmp_path / "jam.log").read_bytes() == b"E-0203 tray 2\n"
    # a closed ticket stays final, with its rating
    failed(cli("ticket", "status", str(numbers["invoice"]), "in_progress"))
    assert ok(cli("ticket", "show", str(numbers["invoice"]), "--json")).json()["rating"]["score"] == 2


def test_a_backup_moves_between_backends(cli, databases, tmp_path):
    # SQLite -> PostgreSQL when the suite runs on PostgreSQL, PostgreSQL -> SQLite when it runs on SQLite:
    # the two passes of the suite cover both directions.
    fresh_desk(cli, databases, "sqlite" if BACKEND == "postgres" else "postgres")
    ok(cli("agent", "add", "bob", "--skill", "repair", "--skill", "it"))
    ok(cli("agent", "add", "carol"))
    ok(cli("ticket", "create", "--title", "Pump leaking", "--type", "equipment_repair", "--field",
           "serial_number=SN-9", "--field", "under_warranty=yes", "--customer", "ann@globex.example"))
    ok(cli("ticket", "reply", "1", "--body", "On our way. Ünïcödé – ok"))
    ok(cli("ticket", "create", "--title", "Duplicate pump", "--customer", "ann@globex.example"))
    ok(cli("ticket", "merge", "2", "1"))
    ok(cli("ticket", "assign", "1", "bob", "--force"))
    ok(cli("ticket", "status", "1", "resolved"))
    ok(cli("ticket", "rate", "1", "5"))
    source = tmp_path / "from-other.json"
    first = export(cli, source)
    assert {d["number"] for d in first} == {1, 2}

    restore_into(cli, databases, BACKEND, source)
    assert export(cli, tmp_path / "here.json") == first
    assert ok(cli("ticket", "create", "--title", "next", "--json")).json()["number"] == 3


def test_a_restore_refuses_a_desk_with_tickets_and_missing_agents(cli, desk, databases, tmp_path):
    numbers = stock(cli, desk, tmp_path)
    path = tmp_path / "backup.json"
    export(cli, path)
    # into the same desk: it has tickets
    err = failed(cli("ticket", "import", str(path)))
    assert "restores only into an empty desk" in err and "nothing stored" in err
    fresh_desk(cli, databases, BACKEND)
    err = failed(cli("ticket", "import", str(path)))
    assert "agents this desk does not have: bob, carol" in err
    assert ok(cli("ticket", "list", "--json")).json() == []
    ok(cli("agent", "add", "bob"))
    ok(cli("agent", "add", "carol"))
    dry = ok(cli("ticket", "import", str(path), "--dry-run")).stdout
    assert "would restore" in dry and ok(cli("ticket", "list", "--json")).json() == []
    ok(cli("ticket", "import", str(path)))
    assert numbers["pump"] in [t["number"] for t in ok(cli("ticket", "list", "--json", "--limit", "0")).json()]


def test_a_damaged_backup_stores_nothing(cli, desk, databases, tmp_path):
    numbers = stock(cli, desk, tmp_path)
    docs = export(cli, tmp_path / "backup.json")
    item = {d["number"]: i + 1 for i, d in enumerate(docs)}  # "item N" in the errors
    by_number = {d["number"]: d for d in docs}
    by_number[numbers["follow"]]["status"] = "sleeping"
    by_number[numbers["vpn"]]["conversation"] = [{"id": "x"}]
    by_number[numbers["pump"]]["attachments"][0]["content_base64"] = "AAAA"  # not the bytes its sha256 names
    by_number[numbers["scanner"]]["number"] = numbers["invoice"]
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(docs))
    fresh_desk(cli, databases, BACKEND)
    ok(cli("agent", "add", "bob"))
    ok(cli("agent", "add", "carol"))
    lines = failed(cli("ticket", "import", str(damaged))).splitlines()
    assert lines[-1] == "error: the backup was not restored: nothing stored"
    errors = {line.split(":")[1].strip(): line for line in lines[:-1]}
    assert "status 'sleeping' is not one of" in errors[f"item {item[numbers['follow']]}"]
    assert "conversation[0].id must be a whole number" in errors[f"item {item[numbers['vpn']]}"]
    assert "does not match its sha256" in errors[f"item {item[numbers['pump']]}"]
    assert "is in the file twice" in errors[f"item {max(item[numbers['scanner']], item[numbers['invoice']])}"]
    assert len(errors) == 4
    assert ok(cli("ticket", "list", "--json")).json() == []


def test_a_partial_backup_keeps_what_it_can_and_says_what_it_dropped(cli, desk, databases, tmp_path):
    numbers = stock(cli, desk, tmp_path)
    path = tmp_path / "part.json"
    docs = json.loads(ok(cli("export", "--format", "json", f"number:{numbers['scanner']}")).stdout)
    assert [d["number"] for d in docs] == [numbers["scanner"]]
    path.write_text(json.dumps(docs))
    fresh_desk(cli, databases, BACKEND)
    ok(cli("agent", "add", "bob"))
    ok(cli("agent", "add", "carol"))
    run = ok(cli("ticket", "import", str(path)))
    assert f"note: #{numbers['scanner']} merged into #{numbers['invoice']}, which is not in the file" in run.stderr
    restored = ok(cli("ticket", "show", str(numbers["scanner"]), "--json")).json()
    assert restored["status"] == "closed" and restored["merged_into"] is None


def test_sqlite_snapshot_opens_in_any_sqlite_tool(cli, desk, tmp_path):
    numbers = stock(cli, desk, tmp_path)
    target = tmp_path / "desk.db"
    run = ok(cli("export", "--format", "sqlite", "-o", str(target)))
    assert "exported 6 tickets" in run.stderr
    con = sqlite3.connect(target)
    try:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"tickets", "conversation", "attachments", "events", "ratings", "tags",
                "tickets_fts", "conversation_fts"} <= tables
        row = con.execute("SELECT title, type, field_serial_number, field_under_warranty, assignee, organisation"
                          " FROM tickets WHERE number = ?", (numbers["pump"],)).fetchone()
        assert row == ("Pump leaking", "equipment_repair", "SN-1", "false", "bob", "Globex")
        # full-text search: a word of a ticket's description, and a word of a reply
        found = [n for (n,) in con.execute(
            "SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH 'seal'")]
        assert found == [numbers["pump"]]
        found = [t for (t,) in con.execute(
            "SELECT c.ticket FROM conversation_fts f JOIN conversation c ON c.rowid = f.rowid"
            " WHERE conversation_fts MATCH 'technician'")]
        assert found == [numbers["pump"]]
        assert con.execute("SELECT score FROM ratings WHERE ticket = ?", (numbers["invoice"],)).fetchone() == (2,)
        actions = [a for (a,) in con.execute("SELECT action FROM events WHERE ticket = ? ORDER BY id",
                                             (numbers["pump"],))]
        assert actions[0] == "created" and "replied" in actions
        assert con.execute("SELECT COUNT(*) FROM tags WHERE tag = 'onsite'").fetchone() == (1,)
    finally:
        con.close()
    # a query narrows it; without -o it is a usage error; a bad query leaves an existing file alone
    ok(cli("export", "--format", "sqlite", "-o", str(tmp_path / "p1.db"), "priority:P1"))
    con = sqlite3.connect(tmp_path / "p1.db")
    assert [n for (n,) in con.execute("SELECT number FROM tickets")] == [numbers["pump"]]
    con.close()
    assert cli("export", "--format", "sqlite").exit_code == 2
    before = target.read_bytes()
    failed(cli("export", "--format", "sqlite", "-o", str(target), "bogus:term"))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
