"""The services layer called directly, without the CLI (as the TUI, the daemon and scripts call it), and
the output options every printing command shares (--json where a command lacked it)."""

from __future__ import annotations

import ast
import json

import pytest

from conftest import ROOT
from test_cli import create, ok, one_error


# ---------------------------------------------------------------- services without a front end


def test_a_ticket_goes_through_its_life_by_services_alone(desk):
    from helpdesk.services import lifecycle, ratings, tickets

    view, created = tickets.create(desk, title="VPN drops", type="it_support", priority="P2",
                                   customer="ann@example.com", fields=["category=network"], tags=["vpn"])
    assert created and view.title == "VPN drops" and view.tags == ["vpn"]
    again, created_again = tickets.create(desk, title="VPN drops", key="k-1")
    assert created_again and again.number == view.number + 1
    same, created_now = tickets.create(desk, title="other title", key="k-1")
    assert (same.number, same.title, created_now) == (again.number, "VPN drops", False)

    assigned = lifecycle.take(desk, view.number)
    assert (assigned.assignee, assigned.status) == ("tester", "assigned")
    entry = tickets.reply(desk, view.number, "Please restart the client.")
    assert entry.kind == "reply"
    tickets.note(desk, view.number, "Vendor case 1234")
    resolved = lifecycle.resolve(desk, view.number, reason="fixed")
    assert resolved.status == "resolved"
    rated = ratings.rate(desk, view.number, 5, "quick")
    assert (rated.ticket, rated.score) == (view.number, 5)
    closed = lifecycle.close(desk, view.number)
    assert closed.status == "closed"

    follow_up, _ = tickets.create(desk, title="VPN drops again", follow_up=view.number)
    assert follow_up.parent == view.number and follow_up.customer == "ann@example.com"

    listed = tickets.list_(desk, "status:closed", limit=10)
    assert [t.number for t in listed.tickets] == [view.number] and listed.total is None
    assert tickets.count(desk, "") == 3
    actions = [e.action for e in tickets.history(desk, view.number)]
    assert {"created", "assigned", "replied", "noted", "resolved", "rated", "closed"} <= set(actions)


def test_a_writing_service_joins_the_callers_unit_of_work_and_says_what_changed(desk):
    from helpdesk.services import lifecycle, tickets
    from helpdesk.services.work import unit

    first, _ = tickets.create(desk, title="Printer jam")
    second, _ = tickets.create(desk, title="Printer jam again")
    with unit(desk) as work:
        lifecycle.assign(desk, first.number, "tester")
        tickets.update(desk, second.number, priority="P1")
        lifecycle.merge(desk, second.number, first.number)
    assert work.changed_tickets == {first.number, second.number}


def test_a_failing_action_inside_a_unit_of_work_leaves_nothing_behind(desk):
    from helpdesk.core.errors import IllegalTransition
    from helpdesk.services import lifecycle, tickets
    from helpdesk.services.work import unit

    view, _ = tickets.create(desk, title="Monitor flickers")
    with pytest.raises(IllegalTransition):
        with unit(desk):
            tickets.update(desk, view.number, title="Monitor flickers badly")
            lifecycle.reopen(desk, view.number)  # a new ticket cannot be reopened: all of it rolls back
    assert tickets.show(desk, view.number).title == "Monitor flickers"


def test_bulk_create_from_records_is_all_or_nothing(desk):
    from helpdesk.core.errors import InvalidInput, RowsRefused
    from helpdesk.services import tickets

    good = '{"title": "one", "key": "a"}\n{"title": "two", "key": "b"}\n'
    made = tickets.create_records(desk, good)
    assert made.single is None and made.created == 2
    assert [r["input"] for r in made.rows] == ["line 1", "line 2"]
    again = tickets.create_records(desk, good)
    assert again.created == 0 and [r["number"] for r in again.rows] == [r["number"] for r in made.rows]

    with pytest.raises(RowsRefused) as refused:
        tickets.create_records(desk, '[{"title": "three"}, {"priority": "P9"}, 7]')
    assert [row.split(":")[0] for row in refused.value.rows] == ["item 2", "item 3"]
    assert str(refused.value) == "2 of 3 tickets refused: nothing created"
    assert tickets.count(desk) == 2

    with pytest.raises(InvalidInput, match="^line 1: "):
        tickets.create_records(desk, '{"title": ""}')
    single = tickets.create_records(desk, '{"title": "four", "channel": "cli"}')
    assert single.single[1] and single.single[0].channel == "api"


def test_the_sla_sweep_is_one_service_for_the_cli_and_the_daemon(desk):
    from helpdesk.services import sla

    swept = sla.sweep(desk)
    assert swept.to_dict() == {"at_risk": [], "breached": [], "escalations": [], "rules": []}
    daemon_source = (ROOT / "helpdesk" / "daemon.py").read_text()
    cli_source = (ROOT / "helpdesk" / "cli" / "sla.py").read_text()
    assert "sla.sweep(desk" in daemon_source and "sla.sweep(desk" in cli_source


def test_agents_and_the_desk_by_services(desk):
    from helpdesk.core.errors import NotFound
    from helpdesk.services import agents, desk as desk_service, location

    bob = agents.add(desk, "bob", name="Bob Keller", skills=["it"], queues=["it"], role="lead")
    assert (bob.login, bob.role, bob.skills) == ("bob", "lead", ["it"])
    assert agents.update(desk, "bob", capacity=5).capacity == 5
    assert [a.login for a in agents.list_(desk)] == ["bob", "tester"]
    assert agents.show(desk, "me").login == "tester"
    with pytest.raises(NotFound):
        agents.show(desk, "nobody")
    assert desk_service.migrate(desk) == {"applied": [], "types": []}
    assert set(location.locate()) == {"config", "config_dir", "data_dir", "database", "attachments"}


# ---------------------------------------------------------------- the layers of the front ends


FRONT_END_FORBIDDEN = ("helpdesk.domain", "helpdesk.store", "helpdesk.mail", "helpdesk.ai", "peewee", "psycopg2")


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_cli_and_daemon_reach_the_desk_only_through_services():
    files = sorted((ROOT / "helpdesk" / "cli").glob("*.py")) + [ROOT / "helpdesk" / "daemon.py"]
    offences = [f"{f.relative_to(ROOT)} imports {name}" for f in files for name in _imports(f)
                if any(name == p or name.startswith(p + ".") for p in FRONT_END_FORBIDDEN)]
    assert offences == []


def test_services_use_no_front_end_or_driver():
    files = sorted((ROOT / "helpdesk" / "services").glob("*.py"))
    assert len(files) >= 8
    forbidden = ("peewee", "psycopg2", "typer", "textual", "rich", "helpdesk.cli", "helpdesk.tui", "helpdesk.daemon")
    offences = [f"{f.relative_to(ROOT)} imports {name}" for f in files for name in _imports(f)
                if any(name == p or name.startswith(p + ".") for p in forbidden)]
    assert offences == []


# ---------------------------------------------------------------- --json everywhere


@pytest.mark.parametrize("command, expect", [
    (["transfer", "{n}", "--queue", "repairs"], {"queue": "repairs", "assignee": None}),
    (["return", "{n}", "--reason", "not mine"], {"status": "new"}),
    (["rate", "{n}", "4"], {"score": 4}),
])
def test_moves_that_printed_one_line_now_have_json(cli, command, expect):
    number = create(cli, "--title", "Printer jam", "--type", "it_support")["number"]
    ok(cli("ticket", "assign", str(number), "me", "--force"))
    run = ok(cli("ticket", *[part.format(n=number) for part in command], "--json"))
    doc = run.json()
    assert {k: doc[k] for k in expect} == expect


def test_reopen_and_merge_have_json(cli):
    first = create(cli, "--title", "VPN drops")["number"]
    second = create(cli, "--title", "VPN drops too")["number"]
    ok(cli("ticket", "status", str(first), "resolved"))
    assert ok(cli("ticket", "reopen", str(first), "--json")).json()["number"] == first
    merged = ok(cli("ticket", "merge", str(second), str(first), "--json")).json()
    assert merged["number"] == first and "VPN drops too" not in json.dumps(merged.get("title"))


def test_agent_show_and_update_have_json(cli):
    ok(cli("agent", "add", "bob", "--name", "Bob", "--skill", "it"))
    assert ok(cli("agent", "update", "bob", "--capacity", "7", "--json")).json()["capacity"] == 7
    doc = ok(cli("agent", "show", "bob", "--json")).json()
    assert (doc["login"], doc["capacity"], doc["skills"]) == ("bob", 7, ["it"])
    assert "bob" in ok(cli("agent", "show", "bob")).stdout
    rows = ok(cli("agent", "show", "me", "--csv")).stdout.splitlines()
    assert rows[0].startswith("login,name,email,role") and rows[1].startswith("tester,")
    assert "agent 'nobody' not found" in one_error(cli("agent", "show", "nobody", "--json"), 1)


def test_listings_share_json_ndjson_and_csv(cli, tmp_path):
    number = create(cli, "--title", "Screen broken")["number"]
    shot = tmp_path / "screen.png"
    shot.write_bytes(b"\x89PNG fake")
    ok(cli("ticket", "attach", str(number), str(shot)))
    listed = ok(cli("ticket", "attachment", "list", str(number), "--json")).json()
    assert [a["filename"] for a in listed] == ["screen.png"]
    lines = ok(cli("ticket", "attachment", "list", str(number), "--nl")).stdout.splitlines()
    assert [json.loads(line)["filename"] for line in lines] == ["screen.png"]
    csv_rows = ok(cli("ticket", "attachment", "list", str(number), "--csv")).stdout.splitlines()
    assert csv_rows[0] == "index,filename,content_type,size,sha256" and csv_rows[1].startswith("1,screen.png,")
    assert json.loads(ok(cli("ticket", "show", str(number), "--nl")).stdout)["number"] == number
    assert ok(cli("mail", "outbox", "--nl")).stdout == ""
    assert json.loads(ok(cli("locate", "--nl")).stdout)["database"]


def test_export_takes_the_flags_as_aliases_of_format(cli):
    create(cli, "--title", "Keyboard sticky")
    as_flag = ok(cli("export", "--json")).json()
    assert [t["title"] for t in as_flag] == ["Keyboard sticky"]
    assert ok(cli("export", "--format", "json")).json() == as_flag
    assert ok(cli("export", "--nl", "--format", "nl")).stdout.count("\n") == 1
    assert ok(cli("export")).stdout.startswith("number,")  # CSV stays the default


@pytest.mark.parametrize("args", [["ticket", "list", "--json", "--csv"], ["agent", "list", "--nl", "--json"],
                                  ["export", "--json", "--format", "csv"]])
def test_two_output_formats_at_once_are_a_usage_error(cli, args):
    assert "choose one of --json" in one_error(cli(*args), 2)


def test_a_bad_format_name_is_a_usage_error(cli):
    assert one_error(cli("export", "--format", "xml"), 2) == \
        "error: --format must be csv, json, nl or sqlite, not 'xml'"


def test_a_database_error_becomes_the_desks_error_without_peewee_above_the_store(desk):
    from helpdesk.core.errors import ExitCode, HelpdeskError, InvalidInput
    from helpdesk.services import desk as desk_service, tickets

    view, _ = tickets.create(desk, title="Duplicate")
    with pytest.raises(Exception) as raised:  # the driver's own exception, as it reaches a front end
        desk.db.execute_sql('INSERT INTO "ticket_tag" ("ticket_id", "tag") VALUES (%s, %s), (%s, %s)'
                            .replace("%s", desk.db.param), (view.number, "x", view.number, "x"))
    failure = desk_service.database_failure(raised.value)
    assert isinstance(failure, HelpdeskError) and str(failure).startswith("database refused the change: ")
    assert failure.exit_code == ExitCode.FAILED
    assert desk_service.database_failure(InvalidInput("not a database error")) is None


def test_init_and_migrate_report_as_json(bare_cli):
    made = ok(bare_cli("init", "--sample", "--json")).json()
    assert made["config_written"] and made["database_created"]
    assert (made["agent"]["login"], made["agent"]["role"]) == ("tester", "admin")
    assert made["sample"]["tickets"] > 0
    again = ok(bare_cli("init", "--json")).json()
    assert not again["config_written"] and not again["database_created"] and again["sample"] is None
    assert ok(bare_cli("db", "migrate", "--json")).json() == {"applied": [], "types": []}
