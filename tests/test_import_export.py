"""Bulk import (CSV, TSV, JSON array, NDJSON; all or nothing) and export, through the CLI."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from conftest import BACKEND, PG_URL, Run, _drop_schema, make_desk
from helpdesk.store.models import AuditEvent, Ticket
from helpdesk.domain.import_export import EXPORT_COLUMNS


# ---------------------------------------------------------------- helpers


def ok(run: Run) -> Run:
    assert run.exit_code == 0, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr
    return run


def refused(run: Run) -> list[str]:
    """The import failed (exit 1, no traceback): the 'error: ...' lines, without the summary line."""
    assert run.exit_code == 1, f"exit {run.exit_code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), run.stderr
    return lines


def one_error(run: Run) -> str:
    lines = refused(run)
    assert len(lines) == 1, lines
    return lines[0]


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def import_(cli, path, *args: str) -> Run:
    return cli("ticket", "import", str(path), *args)


def count() -> int:
    return Ticket.select().count()


def by_title(cli, query: str = "") -> dict[str, dict]:
    args = ["ticket", "list", "--json", "--fields", "--limit", "0"] + ([query] if query else [])
    return {t["title"]: t for t in ok(cli(*args)).json()}


# ---------------------------------------------------------------- import formats


def test_csv_columns_map_to_fields_by_name(cli, desk, tmp_path):
    path = write(tmp_path, "repairs.csv",
                 "Title,Type,Priority,Customer,Tags,Serial Number,fault-code,field.under_warranty,purchase_date,body\n"
                 "Pump P-200 leaking,equipment_repair,P1,ann@a.example,\"onsite, warranty\",SN-200,E17,yes,"
                 "2024-05-01,Water at the seal\n"
                 "Compressor dead,equipment_repair,p3,,,SN-300,,no,,\n"
                 "Scanner roller,equipment_repair,,BEN@B.example,,SN-400,F12,,,\n")
    run = ok(import_(cli, path))
    assert run.stdout.strip() == "imported 3 tickets (0 already there by key) from 3 rows"
    found = by_title(cli)
    pump = found["Pump P-200 leaking"]
    assert pump["type"] == "equipment_repair" and pump["queue"] == "repairs" and pump["priority"] == "P1"
    assert pump["customer"] == "ann@a.example" and pump["tags"] == ["onsite", "warranty"]
    assert pump["description"] == "Water at the seal" and pump["channel"] == "import"
    assert pump["fields"] == {"serial_number": "SN-200", "fault_code": "E17", "spare_parts": None,
                              "under_warranty": True, "purchase_date": "2024-05-01"}
    assert found["Compressor dead"]["fields"]["under_warranty"] is False
    assert found["Compressor dead"]["priority"] == "P3"
    assert found["Compressor dead"]["fields"]["fault_code"] is None
    assert found["Scanner roller"]["customer"] == "ben@b.example"
    assert found["Scanner roller"]["priority"] == desk.config.default_priority
    assert [t["title"] for t in ok(cli("ticket", "list", "field.serial_number:SN-300", "--json")).json()] == [
        "Compressor dead"]
    assert count() == 3


def test_tsv(cli, desk, tmp_path):
    path = write(tmp_path, "it.tsv", "title\ttype\tcategory\taffected_users\tbody\n"
                                     "VPN drops, again\tit_support\tnetwork\t12\tsince Monday, every hour\n"
                                     "Password reset\tit_support\taccount\t1\t\n")
    ok(import_(cli, path))
    found = by_title(cli)
    assert found["VPN drops, again"]["fields"]["category"] == "network"
    assert found["VPN drops, again"]["fields"]["affected_users"] == 12
    assert found["VPN drops, again"]["description"] == "since Monday, every hour"
    assert found["Password reset"]["fields"]["affected_users"] == 1
    # --format tsv overrides the name
    other = write(tmp_path, "more.txt", "title\tpriority\nTabbed, with comma\tP0\n")
    ok(import_(cli, other, "--format", "tsv"))
    assert by_title(cli)["Tabbed, with comma"]["priority"] == "P0"


def test_json_array(cli, desk, tmp_path):
    rows = [
        {"title": "Order damaged", "type": "complaint", "fields": {"severity": "high", "order_number": "ORD-1"},
         "customer": "cy@c.example", "tags": ["delivery"]},
        {"title": "Refund please", "type": "complaint", "severity": "low", "compensation_offered": 12.5},
        {"title": "Plain one", "priority": "P0", "key": "legacy-7"},
    ]
    path = write(tmp_path, "complaints.json", json.dumps(rows, indent=2))
    report = ok(import_(cli, path, "--json")).json()
    assert report["rows"] == 3 and report["created"] == 3 and report["errors"] == []
    assert len(report["numbers"]) == 3
    found = by_title(cli)
    assert found["Order damaged"]["fields"]["severity"] == "high"
    assert found["Order damaged"]["fields"]["order_number"] == "ORD-1"
    assert found["Order damaged"]["tags"] == ["delivery"]
    assert found["Refund please"]["fields"]["compensation_offered"] == 12.5
    assert found["Plain one"]["idempotency_key"] == "legacy-7" and found["Plain one"]["priority"] == "P0"


def test_ndjson_by_extension_and_by_content(cli, desk, tmp_path):
    lines = [{"title": "one", "type": "it_support", "category": "software"}, {"title": "two"}]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"  # a trailing blank line is fine
    ok(import_(cli, write(tmp_path, "a.ndjson", text)))
    ok(import_(cli, write(tmp_path, "b.txt", text.replace("one", "three").replace("two", "four"))))
    ok(import_(cli, write(tmp_path, "c.jsonl", json.dumps({"title": "five"}))))
    assert set(by_title(cli)) == {"one", "two", "three", "four", "five"}
    assert by_title(cli)["one"]["fields"]["category"] == "software"


def test_import_from_stdin(cli, desk):
    run = ok(cli("ticket", "import", "-", input="title,priority\nFrom a pipe,P1\n"))
    assert "imported 1 tickets" in run.stdout
    assert by_title(cli)["From a pipe"]["priority"] == "P1"
    ok(cli("ticket", "import", "-", input='[{"title": "JSON from a pipe"}]'))
    assert "JSON from a pipe" in by_title(cli)


def test_reimport_with_keys_creates_nothing_twice(cli, desk, tmp_path):
    path = write(tmp_path, "keyed.csv", "key,title\nold-1,First\nold-2,Second\n")
    assert ok(import_(cli, path, "--json")).json()["created"] == 2
    again = ok(import_(cli, path, "--json")).json()
    assert (again["created"], again["existing"]) == (0, 2)
    assert count() == 2
    assert "0 tickets (2 already there by key)" in ok(import_(cli, path)).stdout


# ---------------------------------------------------------------- all or nothing


def test_every_refused_row_is_reported_and_nothing_is_imported(cli, desk, tmp_path):
    ok(cli("ticket", "create", "--title", "already here"))
    path = write(tmp_path, "mixed.csv",
                 "title,type,priority,serial_number,under_warranty,colour\n"
                 "Good pump,equipment_repair,P1,SN-1,yes,\n"             # line 2: fine
                 ",equipment_repair,P1,SN-2,,\n"                         # line 3: no title
                 "Bad bool,equipment_repair,P2,SN-3,perhaps,\n"          # line 4
                 "Good two,,P2,,,\n"                                     # line 5: fine
                 "No serial,equipment_repair,P2,,,\n"                    # line 6: required field
                 "Bad priority,,P7,,,\n"                                 # line 7
                 "Bad type,spaceship,P1,,,\n"                            # line 8
                 "Unknown column,,P1,,,red\n"                            # line 9: unknown key
                 "Good three,equipment_repair,P3,SN-9,no,\n")            # line 10: fine
    before = count()
    lines = refused(import_(cli, path))
    assert lines[-1] == "error: 6 of 9 rows refused: nothing imported"
    reported = {int(line.split(":")[1].split()[1]): line for line in lines[:-1]}
    assert sorted(reported) == [3, 4, 6, 7, 8, 9]
    assert "title" in reported[3]
    assert "under_warranty" in reported[4] and "perhaps" in reported[4]
    assert "serial_number" in reported[6] and "required" in reported[6]
    assert "P7" in reported[7]
    assert "spaceship" in reported[8]
    assert "colour" in reported[9]
    assert count() == before
    # the same file as JSON lines: items are named by line too
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    nd = write(tmp_path, "mixed.ndjson", "\n".join(json.dumps({k: v for k, v in r.items() if v}) for r in rows))
    lines = refused(import_(cli, nd))
    assert [line.split(":")[1].strip() for line in lines[:-1]] == [f"line {n}" for n in (2, 3, 5, 6, 7, 8)]
    assert count() == before


def test_a_bad_last_row_of_a_large_file_stores_nothing(cli, desk, tmp_path):
    rows = [f"Ticket {i},P{i % 4}" for i in range(1500)] + ["Broken,P9"]
    path = write(tmp_path, "big.csv", "title,priority\n" + "\n".join(rows) + "\n")
    lines = refused(import_(cli, path))
    assert lines == ["error: line 1502: priority 'P9' is not one of P0, P1, P2, P3",
                     "error: 1 of 1501 rows refused: nothing imported"]
    assert count() == 0
    ok(import_(cli, write(tmp_path, "fixed.csv", path.read_text().replace("Broken,P9", "Fixed,P0"))))
    assert count() == 1501


def test_dry_run_stores_nothing(cli, desk, tmp_path):
    path = write(tmp_path, "dry.csv", "title,type,category\nVPN,it_support,network\nMail,it_support,software\n")
    run = ok(import_(cli, path, "--dry-run"))
    assert run.stdout.strip() == "2 rows checked: all would import (dry run, nothing stored)"
    report = ok(import_(cli, path, "--dry-run", "--json")).json()
    assert report["dry_run"] is True and report["rows"] == 2 and report["created"] == 0 and report["numbers"] == []
    assert count() == 0
    assert AuditEvent.select().where(AuditEvent.ticket.is_null(False)).count() == 0
    bad = write(tmp_path, "bad.csv", "title,type,category\nVPN,it_support,toaster\n")
    lines = refused(import_(cli, bad, "--dry-run"))
    assert lines[0].startswith("error: line 2:") and "toaster" in lines[0]
    assert count() == 0


def test_imported_tickets_have_been_in_their_status_since_their_created_at(cli, desk, tmp_path):
    # `in_status:` (and the time rules) count from when a ticket entered its status.
    path = write(tmp_path, "old.csv", "title,status,created_at\nLong resolved,resolved,2024-01-15T08:30:00Z\n"
                 "Just now,resolved,\n")
    ok(import_(cli, path))
    found = [t["title"] for t in ok(cli("ticket", "list", "--json", "in_status:>30d")).json()]
    assert found == ["Long resolved"]


def test_import_status_assignee_and_created_at(cli, desk, tmp_path):
    ok(cli("agent", "add", "bob"))
    path = write(tmp_path, "history.csv",
                 "title,status,assignee,created_at\n"
                 "Old and done,closed,bob,2024-01-15T08:30:00Z\n"
                 "Resolved one,resolved,,2024-02-01 10:00:00+02:00\n"
                 "In progress,In Progress,bob,2024-03-01\n"
                 "Fresh,new,,\n"
                 "Assigned only,,tester,\n")
    ok(import_(cli, path))
    found = by_title(cli)
    done = found["Old and done"]
    assert (done["status"], done["assignee"], done["created_at"]) == ("closed", "bob", "2024-01-15T08:30:00Z")
    assert done["closed_at"] == done["resolved_at"] == "2024-01-15T08:30:00Z"
    resolved = found["Resolved one"]
    assert resolved["status"] == "resolved" and resolved["created_at"] == "2024-02-01T08:00:00Z"
    assert resolved["resolved_at"] == "2024-02-01T08:00:00Z" and resolved["closed_at"] is None
    progress = found["In progress"]
    assert (progress["status"], progress["assignee"], progress["created_at"]) == (
        "in_progress", "bob", "2024-03-01T00:00:00Z")
    assert found["Fresh"]["status"] == "new" and found["Fresh"]["assignee"] is None
    assert found["Assigned only"]["assignee"] == "tester"
    events = [e for e in ok(cli("ticket", "history", str(done["number"]), "--json")).json()
              if not e["action"].startswith("sla_")]
    assert [e["action"] for e in events] == ["created", "imported"]
    assert events[1]["data"]["status"] == "closed" and events[1]["data"]["assignee"] == "bob"
    # the imported states are real states: a closed ticket stays final
    run = cli("ticket", "status", str(done["number"]), "in_progress")
    assert run.exit_code == 1
    assert ok(cli("ticket", "list", "assignee:bob", "status:open", "--json")).json()[0]["title"] == "In progress"


def test_import_refuses_bad_status_assignee_and_dates(cli, desk, tmp_path):
    path = write(tmp_path, "bad-history.csv",
                 "title,status,assignee,created_at\n"
                 "a,sleeping,,\n"
                 "b,,nobody,\n"
                 "c,in_progress,,\n"
                 "d,,,last tuesday\n"
                 "e,pending,tester,2024-13-01\n")
    lines = refused(import_(cli, path))
    assert len(lines) == 6
    assert "line 2" in lines[0] and "sleeping" in lines[0]
    assert "line 3" in lines[1] and "nobody" in lines[1]
    assert "line 4" in lines[2] and "needs an assignee" in lines[2]
    assert "line 5" in lines[3] and "last tuesday" in lines[3]
    assert "line 6" in lines[4] and "2024-13-01" in lines[4]
    assert count() == 0


# ---------------------------------------------------------------- line numbers and odd files


def test_multi_line_quoted_cell_keeps_line_numbers_right(cli, desk, tmp_path):
    path = write(tmp_path, "multi.csv",
                 'title,body,priority\n'
                 'Printer,"first line\nsecond line\nthird, with comma",P1\n'   # lines 2-4
                 'Scanner,"a ""quoted"" word",P2\n'                           # line 5
                 'Broken,"one\r\ntwo",P9\n'                                   # lines 6-7
                 'Also broken,,P8\n')                                         # line 8
    lines = refused(import_(cli, path))
    assert lines[0].startswith("error: line 6:") and "P9" in lines[0]
    assert lines[1].startswith("error: line 8:") and "P8" in lines[1]
    assert count() == 0
    ok(import_(cli, write(tmp_path, "fixed.csv", path.read_text().replace("P9", "P0").replace("P8", "P3"))))
    found = by_title(cli)
    assert found["Printer"]["description"] == "first line\nsecond line\nthird, with comma"
    assert found["Scanner"]["description"] == 'a "quoted" word'


def test_blank_lines_are_skipped_but_counted(cli, desk, tmp_path):
    path = write(tmp_path, "gaps.csv", "title,priority\n\nFirst,P1\n\n\nSecond,P9\n\n")
    lines = refused(import_(cli, path))
    assert lines == ["error: line 6: priority 'P9' is not one of P0, P1, P2, P3",
                     "error: 1 of 2 rows refused: nothing imported"]


def test_windows_line_endings(cli, desk, tmp_path):
    path = write(tmp_path, "excel.csv", b"title,priority\r\nOne,P1\r\nTwo,P5\r\n")
    assert refused(import_(cli, path))[0].startswith("error: line 3:")
    ok(import_(cli, write(tmp_path, "excel2.csv", b"title,priority\r\nOne,P1\r\nTwo,P2\r\n")))
    assert set(by_title(cli)) == {"One", "Two"}


def test_empty_and_header_only_files(cli, desk, tmp_path):
    assert "empty" in one_error(import_(cli, write(tmp_path, "empty.csv", "")))
    assert "no rows" in one_error(import_(cli, write(tmp_path, "header.csv", "title,priority\n")))
    assert "no rows" in one_error(import_(cli, write(tmp_path, "blank.ndjson", "\n\n")))
    assert "no rows" in one_error(import_(cli, write(tmp_path, "empty.json", "[]")))
    assert count() == 0


def test_byte_order_mark_and_cp1252(cli, desk, tmp_path):
    ok(import_(cli, write(tmp_path, "bom.csv", "\ufefftitle,priority\nWith BOM,P1\n".encode("utf-8"))))
    assert by_title(cli)["With BOM"]["priority"] == "P1"
    text = "title,body\nCafé “Zürich” printer,Straße – 5 €\n"
    ok(import_(cli, write(tmp_path, "legacy.csv", text.encode("cp1252"))))
    t = by_title(cli)["Café “Zürich” printer"]
    assert t["description"] == "Straße – 5 €"
    ok(import_(cli, write(tmp_path, "bom.json", '\ufeff[{"title": "JSON with BOM"}]'.encode("utf-8"))))
    assert "JSON with BOM" in by_title(cli)


def test_hostile_files_are_refused_cleanly(cli, desk, tmp_path):
    cases = [
        ("extra.csv", "title,priority\nOne,P1,surplus\n", "line 2: more cells than header columns"),
        ("nul.csv", "title\nbad\x00title\n", "line 2: the title contains a NUL character"),
        ("nul.ndjson", json.dumps({"title": "ok", "body": "a\u0000b"}) + "\n", "line 1: the body contains a NUL"),
        ("huge.csv", 'title,body\nBig,"' + "x" * 200_000 + '"\n', "line 2"),
        ("broken.json", '[{"title": "a"}, {"title": ]', "not valid JSON"),
        ("scalars.json", "[1, 2]", "item 1: expected an object"),
        ("broken.ndjson", '{"title": "a"}\n{"title": \n', "line 2: not valid JSON"),
        ("list-tags.json", '[{"title": "a", "tags": {"x": 1}}]', "item 1: tags"),
        ("nested.json", '[{"title": {"text": "a"}}]', "item 1: 'title' must be text"),
        ("long.csv", "title\n" + "t" * 600 + "\n", "longer than 500"),
    ]
    for name, content, needle in cases:
        run = import_(cli, write(tmp_path, name, content))
        lines = refused(run)
        assert needle in lines[0], (name, lines)
        assert count() == 0, name
    assert "unknown format 'xml'" in one_error(import_(cli, write(tmp_path, "x.csv", "title\na\n"), "--format", "xml"))


def test_undecodable_bytes_do_not_crash(cli, desk, tmp_path):
    # not UTF-8, not cp1252 (0x81 is undefined there): read as Latin-1, never a traceback
    ok(import_(cli, write(tmp_path, "odd.csv", b"title\nodd \x81 byte\n")))
    assert count() == 1


# ---------------------------------------------------------------- export


@pytest.fixture
def stocked(cli, desk):
    ok(cli("agent", "add", "bob", "--skill", "repair"))
    rows = [
        {"title": "Pump leaking", "type": "equipment_repair", "priority": "P1", "customer": "ann@a.example",
         "tags": ["onsite", "warranty"], "body": "Water at the seal, \"a lot\".\nSecond line.",
         "fields": {"serial_number": "SN-1", "fault_code": "E17", "under_warranty": False,
                    "purchase_date": "2023-11-30"}},
        {"title": "VPN drops", "type": "it_support", "key": "mail-42",
         "fields": {"category": "network", "affected_users": 12, "asset_tag": "LT-9"}},
        {"title": "Invoice charged twice", "type": "complaint", "priority": "P3",
         "fields": {"severity": "medium", "compensation_offered": 12.5, "order_number": "ORD-7"}},
        {"title": "Kaffeemaschine kaputt – Büro 3", "priority": "P0", "organisation": "Globex",
         "customer": "jo@globex.example"},
    ]
    ok(cli("ticket", "create", "-", input="\n".join(json.dumps(r) for r in rows)))
    numbers = {t["title"]: t["number"] for t in ok(cli("ticket", "list", "--json")).json()}
    ok(cli("ticket", "assign", str(numbers["Pump leaking"]), "bob"))
    ok(cli("ticket", "status", str(numbers["Pump leaking"]), "in_progress"))
    ok(cli("ticket", "status", str(numbers["Invoice charged twice"]), "resolved"))
    return numbers


def test_export_csv_json_nl_with_a_query(cli, stocked):
    text = ok(cli("export", "--format", "csv", "type:equipment_repair,it_support")).stdout
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames[:len(EXPORT_COLUMNS)] == EXPORT_COLUMNS
    # type fields as the README documents them, booleans as the import reads them back
    assert {"field.serial_number", "field.category", "field.severity"} <= set(reader.fieldnames)
    rows = {r["title"]: r for r in reader}
    assert set(rows) == {"Pump leaking", "VPN drops"}
    assert rows["Pump leaking"]["field.serial_number"] == "SN-1"
    assert rows["Pump leaking"]["field.under_warranty"] == "false"
    assert rows["Pump leaking"]["field.purchase_date"] == "2023-11-30"
    assert rows["Pump leaking"]["description"] == "Water at the seal, \"a lot\".\nSecond line."
    assert rows["Pump leaking"]["tags"] == "onsite warranty"
    assert rows["Pump leaking"]["assignee"] == "bob"
    assert rows["VPN drops"]["field.affected_users"] == "12" and rows["VPN drops"]["field.serial_number"] == ""

    docs = ok(cli("export", "--format", "json", "status:open")).json()
    assert isinstance(docs, list)
    assert [d["number"] for d in docs] == sorted((d["number"] for d in docs), reverse=True)
    assert {d["title"] for d in docs} == set(stocked) - {"Invoice charged twice"}
    vpn = next(d for d in docs if d["title"] == "VPN drops")
    assert vpn["fields"]["affected_users"] == 12 and vpn["idempotency_key"] == "mail-42"

    lines = ok(cli("export", "--format", "nl", "priority:P0")).stdout.splitlines()
    assert [json.loads(line)["title"] for line in lines] == ["Kaffeemaschine kaputt – Büro 3"]
    assert json.loads(lines[0])["organisation"] == "Globex"


def test_export_of_nothing(cli, stocked):
    assert ok(cli("export", "--format", "json", "status:pending")).json() == []
    assert ok(cli("export", "--format", "nl", "status:pending")).stdout == ""
    rows = list(csv.reader(io.StringIO(ok(cli("export", "status:pending")).stdout)))
    assert len(rows) == 1 and rows[0][:len(EXPORT_COLUMNS)] == EXPORT_COLUMNS


# ---------------------------------------------------------------- round trip into a fresh desk


@pytest.fixture
def switch_database(home, monkeypatch, tmp_path):
    """Point the CLI at another, empty database (a second desk), on this suite's backend or the one
    named; dropped afterwards."""
    schemas = []

    def switch(backend: str = BACKEND) -> str:
        if backend == "postgres":
            schema = "t_" + uuid.uuid4().hex[:16]
            schemas.append(schema)
            url = f"{PG_URL}?schema={schema}"
        else:
            url = f"sqlite:///{tmp_path / f'second-{uuid.uuid4().hex[:8]}.db'}"
        monkeypatch.setenv("HELPDESK_DATABASE_URL", url)
        make_desk()  # as `helpdesk init` makes it
        return url

    yield switch
    from helpdesk.store.db import database

    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()
    for schema in schemas:
        _drop_schema(schema)


KEPT = ("title", "type", "priority", "status", "assignee", "customer", "organisation", "tags", "description",
        "fields", "idempotency_key", "created_at", "queue")


@pytest.mark.parametrize("fmt,suffix,raw", [("csv", "csv", False), ("csv", "csv", True), ("json", "json", False),
                                            ("nl", "ndjson", False)])
def test_export_import_round_trip_into_a_fresh_desk(cli, switch_database, tmp_path, fmt, suffix, raw):
    ok(cli("agent", "add", "bob", "--skill", "repair"))
    rows = [
        {"title": "Pump leaking", "type": "equipment_repair", "priority": "P1", "customer": "ann@a.example",
         "tags": ["onsite", "warranty"], "body": "Water at the seal, \"a lot\".\nSecond line.",
         "fields": {"serial_number": "SN-1", "fault_code": "E17", "under_warranty": False,
                    "purchase_date": "2023-11-30"}},
        {"title": "VPN drops", "type": "it_support", "key": "mail-42",
         "fields": {"category": "network", "affected_users": 12, "asset_tag": "LT-9"}},
        {"title": "Invoice charged twice", "type": "complaint", "priority": "P3",
         "fields": {"severity": "medium", "compensation_offered": 12.5}},
        {"title": "Kaffeemaschine kaputt – Büro 3", "priority": "P0", "organisation": "Globex",
         "customer": "jo@globex.example", "body": "=SUM(A1:A2), 'quoted'"},
        {"title": "-5 degrees in the server room", "body": "@ops +1 'as is'", "tags": ["hvac"]},
    ]
    ok(cli("ticket", "create", "-", input="\n".join(json.dumps(r) for r in rows)))
    numbers = {t["title"]: t["number"] for t in ok(cli("ticket", "list", "--json")).json()}
    ok(cli("ticket", "assign", str(numbers["Pump leaking"]), "bob"))
    ok(cli("ticket", "status", str(numbers["Pump leaking"]), "in_progress"))
    ok(cli("ticket", "status", str(numbers["Invoice charged twice"]), "resolved"))
    original = by_title(cli)

    exported = tmp_path / f"desk.{suffix}"
    # A spreadsheet-safe CSV puts "'" before "=SUM(...)" and "-5 degrees"; the import takes it off again
    # (--raw writes the cells as stored): either way the tickets come back as they were.
    ok(cli("export", "--format", fmt, "--output", str(exported), *(["--raw"] if raw else [])))
    if fmt == "csv":
        assert ("'-5 degrees" in exported.read_text()) != raw

    switch_database()
    assert ok(cli("ticket", "list", "--json")).json() == []  # really a fresh desk
    ok(cli("agent", "add", "bob"))
    report = ok(cli("ticket", "import", str(exported), "--json")).json()
    assert report["created"] == len(rows) and report["errors"] == []
    copy = by_title(cli)
    assert set(copy) == set(original)
    for title, before in original.items():
        after = copy[title]
        for key in KEPT:
            if key == "idempotency_key" and before[key] is None and fmt == "csv":
                # a CSV row without a key gets one made from its content: importing it again finds it
                assert after[key].startswith("import:")
                continue
            assert after[key] == before[key], (fmt, title, key, before[key], after[key])
    # importing the export again is harmless where keys exist, and the query language sees the fields
    assert ok(cli("ticket", "list", "field.serial_number:SN-1", "--json")).json()[0]["title"] == "Pump leaking"


# ---------------------------------------------------------------- delimiters and re-imports


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_the_delimiter_is_sniffed_from_the_header(cli, desk, tmp_path, delimiter):
    # European Excel writes semicolons (and decimal commas); other tools tabs or pipes
    text = delimiter.join(["Title", "Priority", "Type", "compensation_offered", "Body"]) + "\r\n" + delimiter.join(
        ['"Refund, please"', "P1", "complaint", "12.5", '"two; three | four, five"']) + "\r\n"
    ok(import_(cli, write(tmp_path, "excel.csv", text.encode("cp1252"))))
    found = by_title(cli)["Refund, please"]
    assert found["priority"] == "P1" and found["fields"]["compensation_offered"] == 12.5
    assert found["description"] == "two; three | four, five"


def test_delimiter_option_overrides_the_sniffing(cli, desk, tmp_path):
    path = write(tmp_path, "semi.csv", "title;priority\nOne;P0\n")
    assert "unknown key 'title;priority'" in refused(import_(cli, path, "--delimiter", ","))[0]
    ok(import_(cli, path, "--delimiter", ";"))
    assert by_title(cli)["One"]["priority"] == "P0"
    ok(import_(cli, write(tmp_path, "tabs.txt", "title\tpriority\nTabbed\tP3\n"), "--delimiter", "tab"))
    assert by_title(cli)["Tabbed"]["priority"] == "P3"
    run = import_(cli, path, "--delimiter", ";;")
    assert run.exit_code == 2 and "one character" in run.stderr


def test_reimporting_a_file_without_keys_creates_nothing_twice(cli, desk, tmp_path):
    path = write(tmp_path, "legacy.csv", "title,priority,customer\nPrinter jam,P2,ann@a.example\n"
                                         "VPN down,P1,\nPrinter jam,P2,ann@a.example\n")
    first = ok(import_(cli, path, "--json")).json()
    assert (first["created"], first["existing"]) == (3, 0)  # identical rows in one file are still two tickets
    assert count() == 3
    again = ok(import_(cli, path))
    assert again.stdout.strip() == "imported 0 tickets (3 already there by key) from 3 rows"
    assert count() == 3
    # the same content with other spacing, case of headers and column order is the same row
    same = write(tmp_path, "same.csv", "Customer , PRIORITY,Title\nann@a.example,P2,  Printer jam\n")
    assert ok(import_(cli, same, "--json")).json()["existing"] == 1
    # a changed row is a new ticket; --allow-duplicates imports everything again
    assert ok(import_(cli, write(tmp_path, "changed.csv", "title,priority\nVPN down,P0\n"), "--json")
              ).json()["created"] == 1
    assert ok(import_(cli, path, "--allow-duplicates", "--json")).json()["created"] == 3
    assert count() == 7
    keys = [t["idempotency_key"] for t in ok(cli("ticket", "list", "--json", "--limit", "0")).json()]
    assert sum(1 for k in keys if k and k.startswith("import:")) == 4 and keys.count(None) == 3


def test_export_to_a_file_is_all_or_nothing(cli, stocked, tmp_path):
    target = tmp_path / "open.csv"
    target.write_text("yesterday's export\n")
    run = cli("export", "--format", "csv", "-o", str(target), "bogus:term")
    assert run.exit_code == 1 and "bogus" in run.stderr
    assert target.read_text() == "yesterday's export\n"  # not emptied by the failed export
    run = cli("export", "--format", "csv", "-o", str(tmp_path / "missing" / "out.csv"))
    assert run.exit_code == 1 and "missing" in run.stderr
    ok(cli("export", "--format", "csv", "-o", str(target), "status:open"))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    run = cli("export", "--format", "csv", "-o", str(tmp_path))
    assert run.exit_code == 1 and "is a directory" in run.stderr
