"""`ticket list` as an agent scans a queue (issue 8, 3.7 and 3.13): the "50 of N" footer, --sort in
SQL with a stable tie-break, the customer/queue/SLA-due columns and how the table gives way on narrow
terminals, --fields in the table; `ticket show`'s SLA clocks in the desk's zone, in words."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rich.cells import cell_len

from conftest import reopen
from test_cli import create, ok, one_error


def numbers(run) -> list[int]:
    return [t["number"] for t in run.json()]


@pytest.fixture
def queue(cli, desk):
    """Eight tickets of every priority, some resolved (no running SLA clock), some updated later."""
    made = {}
    for title, priority, extra in [
        ("Mail server down", "P0", ["--type", "it_support", "--customer", "ann@globex.example"]),
        ("Laptop fan loud", "P3", ["--type", "equipment_repair", "--field", "serial_number=SN-7"]),
        ("VPN drops hourly", "P1", ["--type", "it_support", "--customer", "bob@initech.example"]),
        ("Printer jams", "P2", ["--type", "equipment_repair", "--field", "serial_number=SN-8"]),
        ("Second P0 outage", "P0", []),
        ("Refund request", "P2", ["--type", "complaint", "--customer", "cy@c.example"]),
        ("Password expired", "P1", []),
        ("Old resolved issue", "P2", []),
    ]:
        made[title] = create(cli, "--title", title, "--priority", priority, *extra)["number"]
    ok(cli("ticket", "status", str(made["Old resolved issue"]), "resolved"))
    ok(cli("ticket", "status", str(made["Printer jams"]), "resolved"))
    ok(cli("ticket", "update", str(made["Laptop fan loud"]), "--tag", "noisy"))  # updated last
    return made


def test_default_order_stays_newest_first(cli, queue):
    assert numbers(ok(cli("ticket", "list", "--json"))) == sorted(queue.values(), reverse=True)


def test_sort_by_each_key_ascending_and_descending(cli, queue):
    by_number = sorted(queue.values())
    newest = list(reversed(by_number))
    priority = {n: p for n, p in zip(by_number, ["P0", "P3", "P1", "P2", "P0", "P2", "P1", "P2"])}
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "number"))) == by_number
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "-number"))) == newest
    # priority: most urgent first, ties newest first (the same page on every run and backend)
    expected = sorted(newest, key=lambda n: priority[n])
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "priority"))) == expected
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "-priority"))) == \
        sorted(newest, key=lambda n: priority[n], reverse=True)
    # updated: the tagged ticket was touched last
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "-updated")))[0] == queue["Laptop fan loud"]
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "updated")))[-1] == queue["Laptop fan loud"]
    # created: in the order they came (the stored times are finer than the seconds JSON shows)
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "created"))) == by_number
    assert numbers(ok(cli("ticket", "list", "--json", "--sort", "-created"))) == newest


def test_sort_by_sla_due_puts_tickets_without_a_running_clock_last(cli, queue):
    from helpdesk.domain import sla
    from helpdesk.store.models import Ticket

    due = ok(cli("ticket", "list", "--json", "--sort", "due", "--limit", "0"))
    order = numbers(due)
    resolved = {queue["Old resolved issue"], queue["Printer jams"]}
    assert set(order[-2:]) == resolved and order[-2:] == sorted(resolved, reverse=True)
    # the running ones by their nearest due time: P0 (15 min) before P1 (2 h) before P2 / P3
    running = order[:-2]
    assert set(running[:2]) == {queue["Mail server down"], queue["Second P0 outage"]}
    from helpdesk.domain.desk import open_desk

    desk = open_desk()
    try:
        nearest = sla.next_due(desk, running)
    finally:
        desk.close()
    assert [nearest[n] for n in running] == sorted(nearest[n] for n in running)
    assert set(nearest) == set(running) and Ticket.select().count() == len(order)
    backwards = numbers(ok(cli("ticket", "list", "--json", "--sort", "-due")))
    assert set(backwards[-2:]) == resolved  # still last
    assert [nearest[n] for n in backwards[:-2]] == sorted((nearest[n] for n in running), reverse=True)


def test_sort_with_a_query_full_text_and_every_page(cli, queue):
    p = numbers(ok(cli("ticket", "list", "status:open", "--json", "--sort", "priority")))
    assert p[:2] == sorted([queue["Mail server down"], queue["Second P0 outage"]], reverse=True)
    assert queue["Old resolved issue"] not in p
    assert numbers(ok(cli("ticket", "list", "outage", "--json", "--sort", "-priority"))) == [queue["Second P0 outage"]]
    whole = numbers(ok(cli("ticket", "list", "--json", "--sort", "priority", "--limit", "0")))
    paged = numbers(ok(cli("ticket", "list", "--json", "--sort", "priority", "--limit", "3")))
    assert paged == whole[:3]


def test_bad_sort_key_is_a_usage_error(cli, queue):
    for bad in ("colour", "--priority", "pri ority", ""):
        run = cli("ticket", "list", "--sort", bad)
        if bad == "":  # an empty sort is the default order
            assert run.exit_code == 0
            continue
        line = one_error(run, 2)
        assert "--sort" in line and "priority" in line


def test_footer_says_how_many_match_when_the_page_is_short(cli, queue):
    run = ok(cli("ticket", "list", "--limit", "3"))
    assert run.stderr == "3 of 8 (--limit N for more, --limit 0 for all)\n"
    run = ok(cli("ticket", "list", "--limit", "3", "--json"))  # any format: the footer is on stderr
    assert len(run.json()) == 3 and run.stderr.startswith("3 of 8 ")
    run = ok(cli("ticket", "list", "status:open", "--limit", "2", "--csv"))
    assert run.stderr.startswith("2 of 6 ")
    for args in (["--limit", "8"], ["--limit", "0"], ["status:open"], ["--limit", "50", "--nl"]):
        assert ok(cli("ticket", "list", *args)).stderr == ""  # everything shown: nothing to say


def test_count_matches_the_list_and_stops_at_its_cap(cli, queue, desk):
    from helpdesk.domain import tickets

    reopen(desk)
    for query in ("", "status:open", "priority:P0,P1", "outage", "type:it_support status:open", "number:1,2,99"):
        assert tickets.count_tickets(desk, query) == len(tickets.list_tickets(desk, query, limit=None)), query
    assert tickets.count_tickets(desk, "", cap=3) == 4  # counted to one past the cap: "more than 3"
    from helpdesk.cli.common import list_footer

    assert list_footer(50, 8512) == "50 of 8,512 (--limit N for more, --limit 0 for all)"
    assert list_footer(50, 100_001, capped=True).startswith("50 of more than 100,000 ")


# ---------------------------------------------------------------- the table on terminals of any width


LONG = "Outlook keeps asking for credentials after the password change on Monday"


def table(cli, monkeypatch, width: int, *args) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(width))
    return ok(cli("ticket", "list", *args)).stdout.splitlines()


def test_table_shows_customer_queue_and_sla_due(cli, queue, monkeypatch):
    lines = table(cli, monkeypatch, 200)
    header = lines[0].split()
    assert header[:4] == ["#", "pri", "status", "title"]
    for column in ("type", "queue", "assignee", "customer", "SLA", "due", "updated"):
        assert column in header
    row = next(line for line in lines if "VPN drops hourly" in line)
    assert "bob@initech.example" in row and " it " in row
    resolved = next(line for line in lines if "Old resolved issue" in line)
    assert resolved.split()[-3] == "-"  # no running clock: no due time


def test_narrow_terminals_shorten_titles_before_dropping_columns(cli, desk, monkeypatch):
    for i in range(3):
        create(cli, "--title", f"{LONG} #{i}", "--type", "it_support", "--customer", f"someone{i}@globex.example")
    wide = table(cli, monkeypatch, 300)
    assert LONG in wide[1]  # room enough: whole titles
    all_columns = wide[0].split()
    full = max(cell_len(line) for line in wide)
    # a little narrower: every column stays, the titles give way
    lines = table(cli, monkeypatch, full - 12)
    assert lines[0].split() == all_columns
    assert all("…" in line and cell_len(line) <= full - 12 for line in lines[1:])
    previous_missing: set[str] = set()
    for width in (120, 80, 60):
        lines = table(cli, monkeypatch, width)
        assert all(cell_len(line) <= width for line in lines), width
        header = lines[0].split()
        assert header[:4] == ["#", "pri", "status", "title"]  # never dropped
        missing = set(all_columns) - set(header)
        assert previous_missing <= missing  # a narrower terminal never brings a column back
        previous_missing = missing
        titles = [line for line in lines[1:] if "Outlook" in line]
        assert len(titles) == 3 and all("…" in line for line in titles)  # cut, with an ellipsis
    assert {"customer", "assignee", "SLA"} <= set(table(cli, monkeypatch, 120)[0].split())
    assert previous_missing  # at 60 columns some had to go


def test_layout_gives_the_title_way_first():
    from rich.text import Text

    from helpdesk.cli.render import TITLE_MIN, Column, layout_columns

    def columns():
        number = Column("#", [Text("42")], keep=99)
        title = Column("title", [Text("t" * 70)], keep=99)
        a = Column("aaaaaaaaaa", [Text("x")], keep=1)  # 10 wide, dropped first
        b = Column("bbbbbbbbbb", [Text("y")], keep=2)
        return [number, title, a, b], title

    fixed = 2 + 10 + 10 + 3 * 2  # '#', a, b and the gaps between four columns
    for width, kept, title_width in [(fixed + 70, 4, 70), (fixed + 30, 4, 30), (fixed + TITLE_MIN, 4, TITLE_MIN),
                                     (fixed + TITLE_MIN - 1, 3, TITLE_MIN - 1 + 12), (2 + 2 + TITLE_MIN, 2, TITLE_MIN)]:
        cols, title = columns()
        shown, widths = layout_columns(cols, title, width)
        assert (len(shown), widths[id(title)]) == (kept, title_width), width


def test_fields_are_table_columns_too(cli, queue, monkeypatch):
    lines = table(cli, monkeypatch, 200, "type:equipment_repair", "--fields")
    header = lines[0].split()
    assert "serial_number" in header and "under_warranty" in header
    assert any("SN-7" in line for line in lines) and any("SN-8" in line for line in lines)
    assert "serial_number" not in table(cli, monkeypatch, 200, "type:equipment_repair")[0]


def test_wide_characters_are_cut_on_cell_boundaries(cli, desk, monkeypatch):
    create(cli, "--title", "打印机卡纸了请尽快来修理一下谢谢你们的帮助" * 2)
    for width in (60, 61):
        lines = table(cli, monkeypatch, width)
        assert all(cell_len(line) <= width for line in lines)
        assert "…" in lines[1]


# ---------------------------------------------------------------- SLA in `ticket show`


def test_sla_times_in_the_desk_zone_and_targets_in_words(cli, configured, monkeypatch):
    configured.write_config(configured.shipped_config())  # office hours in Europe/Berlin, 8 h business days
    p1 = create(cli, "--title", "VPN", "--priority", "P1")["number"]
    p0 = create(cli, "--title", "Down", "--priority", "P0")["number"]
    text = ok(cli("ticket", "show", str(p1))).stdout
    assert "SLA (times in Europe/Berlin)" in text
    assert "target 2 h " in text and "target 1 business day (8 h)" in text
    assert "1.0d" not in text and "-0m" not in text
    doc = ok(cli("ticket", "show", str(p1), "--json")).json()
    due = dt.datetime.fromisoformat(doc["sla"][0]["due_at"].rstrip("Z")).replace(tzinfo=dt.timezone.utc)
    from zoneinfo import ZoneInfo

    local = due.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"due {local:%Y-%m-%d %H:%M} {local.tzname()}" in text  # CET or CEST, as the date has it
    assert f"created " in text and (" CET" in text or " CEST" in text)
    text = ok(cli("ticket", "show", str(p0))).stdout
    assert "target 15 min" in text and "target 4 h " in text


def test_overdue_clocks_say_by_how_much(cli, desk):
    # the desk fixture's clock is months behind the real one the CLI runs on: every clock is overdue
    from helpdesk.domain import tickets

    view, _ = tickets.intake(desk, tickets.TicketInput(title="Old outage", priority="P0"))
    text = ok(cli("ticket", "show", str(view.number))).stdout
    lines = [line for line in text.splitlines() if "first_response" in line or "resolution" in line]
    assert len(lines) == 2
    for line in lines:
        assert "overdue " in line and "breached" in line and "remaining" not in line
        assert " -" not in line.split("(")[0]  # no negative numbers anywhere


def test_duration_words():
    from helpdesk.cli.render import duration, remaining, target

    assert [duration(m) for m in (0, 0.4, 15, 60, 125, 24 * 60, 56 * 60 + 1)] == \
        ["0 min", "0 min", "15 min", "1 h", "2 h 5 min", "24 h", "56 h 1 min"]
    assert target(480, 480) == "1 business day (8 h)"
    assert target(3 * 480, 480) == "3 business days (24 h)"
    assert target(240, 480) == "4 h" and target(15, 480) == "15 min" and target(600, 480) == "10 h"
    assert target(3 * 1440, None) == "3 days (72 h)" and target(1440, None) == "1 day (24 h)"
    assert remaining(125) == "remaining 2 h 5 min"
    assert remaining(-125) == "overdue 2 h 5 min"
    assert remaining(-0.3) == remaining(0.2) == "due now"  # never "-0m"
