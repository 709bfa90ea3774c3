"""The TUI on a real desk (both backends): the queue paged from the database with "N of M", the filter
bar (a good query, a bad one shown inline), sorting, a ticket opened with its fields and conversation,
reply, note, assign and claim, an illegal status refused, bulk assign / status / priority on a selection
(an illegal move refused and reported), a stale edit refused, a change committed by another process
appearing without a keypress, hostile titles shown inert."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from conftest import run_subprocess
from helpdesk.services import lifecycle, tickets
from helpdesk.tui import app as app_module
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.errors import SettingsError
from helpdesk.tui import opening
from helpdesk.tui.opening import START_QUERY, START_SORT, FirstLook, OpeningDesk, first_page
from helpdesk.tui.settings import SavedView, TuiSettings
from helpdesk.tui.desk import TicketDesk
from helpdesk.tui.screens.detail import DetailScreen, clocks_text, conversation
from helpdesk.tui.screens.prompts import AskScreen, ChoiceScreen, ComposeScreen
from tui_screen import screen_text


def shown(app) -> str:
    """The screen's words in one line (toasts wrap theirs)."""
    return " ".join(screen_text(app).replace("▌", " ").split())

pytestmark = pytest.mark.anyio

SIZE = (140, 36)
# These tests read the whole desk newest first (the app opens on "All open", most urgent first).
ALL_NEWEST_FIRST = TuiSettings(start_view="All tickets")
HOSTILE = "[/] [link=https://evil.example]x[/link] \x1b]8;;http://e\x07esc\x1b[31m \u202eevil \x9b"


def make_tickets(desk, n: int = 12) -> None:
    for i in range(1, n + 1):
        tickets.create(desk, title=f"Printer {i} jammed" if i % 3 else f"VPN down {i}",
                       customer=f"user{i}@example.com", priority="P1" if i % 4 == 0 else "P3")


async def until(pilot, condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError("the screen never got there:\n" + screen_text(pilot.app))


def queue_ready(app) -> bool:
    queue = app.queue
    return not queue.fetching and queue.count is not None and all(r is not None for r in queue.visible_rows())


@pytest.fixture
def app(desk):
    make_tickets(desk)
    return HelpdeskApp(desk=TicketDesk(desk), settings=ALL_NEWEST_FIRST)


async def open_ticket(pilot, number: int) -> DetailScreen:
    queue = pilot.app.queue
    index = next(i for i, r in enumerate(queue.visible_rows()) if r.number == number)
    queue.move_cursor(index)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.view is not None)
    return pilot.app.screen


async def test_the_queue_pages_the_desk_and_filters(app):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        assert app.queue.count == 12
        text = screen_text(app)
        assert "1 of 12" in text and "Printer 11 jammed" in text and "user11@example.com" in text
        assert app.queue.visible_rows()[0].number == 12  # newest first
        # a good query
        await pilot.press("slash", *"VPN", "enter")
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 4)
        assert {r.title for r in app.queue.visible_rows()} == {"VPN down 3", "VPN down 6", "VPN down 9",
                                                                "VPN down 12"}
        assert "1 of 4" in screen_text(app)
        # a bad one: the message under the bar, the queue as it was
        await pilot.press("slash", *" priority:P9", "enter")
        await until(pilot, lambda: app.filter_error.has_class("-shown"))
        assert "P9" in screen_text(app) and app.queue.count == 4
        # sort by priority (P1 first), then back to all
        app.queue.sort_by("priority")
        await until(pilot, lambda: queue_ready(app))
        assert [r.priority for r in app.queue.visible_rows()][:1] == ["P1"]
        assert app.focused is app.query_one("#filter")  # still there, to fix the query
        app.query_one("#filter").value = ""
        await pilot.press("enter")
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 12)
        assert not app.filter_error.has_class("-shown")


async def test_a_column_sql_cannot_sort_is_refused_with_a_notice(app):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        app.queue.sort_by("title")
        await until(pilot, lambda: "cannot be sorted by title" in shown(app))
        assert app.queue.sort is None


async def test_open_reply_note_assign_claim_and_an_illegal_status(app, desk):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 5)
        text = screen_text(app)
        assert "#5  Printer 5 jammed" in text and "user5@example.com" in text and "Conversation" in text
        assert "first response" in clocks_text(screen.view).plain  # the SLA clocks (below the fold)

        await pilot.press("r")
        assert isinstance(app.screen, ComposeScreen)
        await pilot.press(*"We are on it", "ctrl+s")
        await until(pilot, lambda: any(e.kind == "reply" for e in (screen.view.conversation or [])))
        await pilot.press("n")
        await pilot.press(*"Toner was empty", "ctrl+s")
        await until(pilot, lambda: any(e.kind == "note" for e in (screen.view.conversation or [])))
        talk = "".join(getattr(part, "plain", "") for part in conversation(screen.view).renderables)
        assert "Public reply" in talk and "We are on it" in talk
        assert "Internal note" in talk and "Toner was empty" in talk

        await pilot.press("c")
        await until(pilot, lambda: screen.view.assignee == "tester")
        await pilot.press("a")
        assert isinstance(app.screen, AskScreen)
        await pilot.press(*"nobody-here", "enter")
        await until(pilot, lambda: "nobody-here" in shown(app))
        assert screen.view.assignee == "tester"

        # closed straight from assigned is not a legal move: refused, said, nothing changed
        before = screen.view.status
        await pilot.press("s")
        assert isinstance(app.screen, ChoiceScreen)
        chooser = app.screen.query_one("#choices")
        chooser.highlighted = app.screen.choices.index("closed")
        await pilot.press("enter")
        await until(pilot, lambda: "Status closed:" in shown(app))
        assert tickets.show(desk, 5).status == before
        assert screen.view.status == before

        await pilot.press("p")
        app.screen.query_one("#choices").highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: screen.view.priority == "P0")
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_a_stale_edit_is_refused_and_the_ticket_read_again(app, desk):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 3)
        shown = screen.view.version
        # another agent changes it meanwhile; the screen has not heard yet
        screen._stop_listening()
        tickets.update(desk, 3, title="Changed by someone else")
        await pilot.press("c")
        await until(pilot, lambda: screen.banner.shown and screen.view.version > shown)
        assert "changed by someone else" in screen.banner.message
        assert screen.view.assignee is None and screen.view.title == "Changed by someone else"


async def test_a_change_by_another_process_appears_without_a_keypress(app, desk, helpdesk_bin):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        proc = run_subprocess([*helpdesk_bin, "ticket", "update", "7", "--title", "Renamed elsewhere"])
        assert proc.returncode == 0, proc.stderr
        started = time.monotonic()
        await until(pilot, lambda: "Renamed elsewhere" in screen_text(app), seconds=5)
        assert time.monotonic() - started < 3  # within a second or so, even on a loaded machine
        proc = run_subprocess([*helpdesk_bin, "ticket", "create", "--title", "Brand new one"])
        assert proc.returncode == 0, proc.stderr
        await until(pilot, lambda: app.queue.count == 13 and "Brand new one" in screen_text(app), seconds=5)


async def test_hostile_titles_are_shown_inert_in_the_queue_and_the_detail(desk):
    tickets.create(desk, title=HOSTILE, body=HOSTILE, customer="evil@example.com")
    app = HelpdeskApp(desk=TicketDesk(desk), settings=ALL_NEWEST_FIRST)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        text = screen_text(app)
        assert "[/] [link=https://evil" in text  # written, not parsed (cut by the column with "…")
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        await open_ticket(pilot, 1)
        text = screen_text(app)
        assert "#1  [/] [link=https://evil.example]x[/link]" in text
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        assert "href" not in app.export_screenshot()  # no live link


def test_a_bare_helpdesk_without_a_desk_says_how_to_start(home, helpdesk_bin):
    proc = run_subprocess(helpdesk_bin)
    assert proc.returncode != 0
    assert "helpdesk init" in proc.stderr and "Traceback" not in proc.stderr


async def test_bulk_assign_and_a_bulk_status_with_an_illegal_move_refused(app, desk):
    from helpdesk.services import agents

    agents.add(desk, "alice", name="Alice")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        queue = app.queue
        for number in (5, 6):
            queue.move_cursor(next(i for i, r in enumerate(queue.visible_rows()) if r.number == number))
            await pilot.press("space")
        assert queue.selected == {5, 6}

        await pilot.press("a")  # the agents, read in a worker, to choose from
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert "alice" in app.screen.choices and "tester" in app.screen.choices
        app.screen.query_one("#choices").highlighted = app.screen.choices.index("alice")
        await pilot.press("enter")
        await until(pilot, lambda: "Assigned to alice: 2 of 2 changed" in shown(app))
        assert [tickets.show(desk, n).assignee for n in (5, 6)] == ["alice", "alice"]
        assert tickets.show(desk, 7).assignee is None
        assert queue.selected == set()  # nothing refused, nothing left selected

        # #6 resolved meanwhile: closing both closes #6; #5 (assigned) cannot be closed, and says so
        lifecycle.change_status(desk, 6, "resolved")
        for number in (5, 6):
            queue.move_cursor(next(i for i, r in enumerate(queue.visible_rows()) if r.number == number))
            await pilot.press("space")
        await pilot.press("t")
        assert isinstance(app.screen, ChoiceScreen)
        app.screen.query_one("#choices").highlighted = app.screen.choices.index("closed")
        await pilot.press("enter")
        await until(pilot, lambda: "Status closed: 1 of 2 changed; refused: #5" in shown(app))
        assert tickets.show(desk, 6).status == "closed" and tickets.show(desk, 5).status == "assigned"
        assert queue.selected == {5}  # the refused one stays selected, to act on again

        await pilot.press("p")  # acts on the selection, now #5 alone
        app.screen.query_one("#choices").highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: "Priority P0: 1 of 1 changed" in shown(app))
        assert tickets.show(desk, 5).priority == "P0"


async def test_bulk_keys_are_remappable(desk):
    make_tickets(desk, 3)
    app = HelpdeskApp(desk=TicketDesk(desk), settings=TuiSettings(keys={"bulk_priority": "ctrl+y"}, start_view="All tickets"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await pilot.press("p")
        assert not isinstance(app.screen, ChoiceScreen)
        await pilot.press("ctrl+y")  # no selection: the cursor's row, #3
        assert isinstance(app.screen, ChoiceScreen) and app.screen.heading == "Priority of #3"
        app.screen.query_one("#choices").highlighted = app.screen.choices.index("P1")
        await pilot.press("enter")
        await until(pilot, lambda: tickets.show(desk, 3).priority == "P1")


async def test_the_sidebar_counts_the_views_and_choosing_one_filters_the_queue(app, desk):
    from helpdesk.services import queue as queue_service
    from helpdesk.tui.app import DESK_VIEWS

    lifecycle.take(desk, 2)
    lifecycle.take(desk, 4)
    lifecycle.change_status(desk, 4, "pending")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app) and app.sidebar.counts)
        sidebar = app.sidebar
        expected = {view.name: queue_service.count(desk, view.query) for view in DESK_VIEWS}
        assert sidebar.counts == expected
        assert expected["Unassigned"] == 10 and expected["Pending"] == 1 and expected["Breached"] == 0
        assert expected["My open"] >= 1 and expected["All open"] >= expected["Unassigned"]
        assert "Pending" in screen_text(app) and "Unassigned" in screen_text(app)

        # choosing a view shows its rows, with its name on the status line
        sidebar.focus()
        sidebar.highlighted = [v.name for v in sidebar.views].index("Pending")
        await pilot.press("enter")
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 1)
        assert [r.number for r in app.queue.visible_rows()] == [4] and app.view.name == "Pending"
        assert "Pending · 1 of 1" in screen_text(app)

        # a change anywhere recounts, without a keypress
        lifecycle.take(desk, 7)
        await until(pilot, lambda: sidebar.counts["Unassigned"] == 9)
        await pilot.press("f2")
        assert not sidebar.display


async def test_paging_to_the_end_of_a_10000_ticket_desk_and_back_in_two_sorts(desk):
    import json

    from helpdesk.domain.tickets import list_tickets

    tickets.create_records(desk, "\n".join(json.dumps({"title": f"Bulk ticket {i}", "customer": f"bulk{i % 50}@example.com",
                                                       "priority": f"P{i * 7 % 4}"}) for i in range(10_000)))
    app = HelpdeskApp(desk=TicketDesk(desk), settings=ALL_NEWEST_FIRST)

    def shown_in_order(expected: list[int]) -> bool:
        queue = app.queue
        top = queue.scroll_offset.y
        rows = queue.visible_rows()
        return queue_ready(app) and [r.number for r in rows] == expected[top:top + len(rows)]

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 10_000)
        newest_first = list(range(10_000, 0, -1))
        assert shown_in_order(newest_first) and "1 of 10,000" in screen_text(app)
        for _ in range(4):
            await pilot.press("pagedown")
        await until(pilot, lambda: shown_in_order(newest_first))
        assert app.queue.scroll_offset.y > 100  # past the first page of rows read
        await pilot.press("end")
        await until(pilot, lambda: shown_in_order(newest_first) and app.queue.visible_rows()[-1].number == 1)
        assert "10,000 of 10,000" in screen_text(app) and "Bulk ticket 0 " in screen_text(app)
        for _ in range(5):  # back up across a page boundary of the reads
            await pilot.press("pageup")
        await until(pilot, lambda: shown_in_order(newest_first))
        assert app.queue.scroll_offset.y < 10_000 - 100
        # most urgent first (ties newest first): to the end and back up
        by_priority = [t.number for t in list_tickets(desk, "", limit=None, sort="priority")]
        app.queue.sort_by("priority")
        await until(pilot, lambda: shown_in_order(by_priority))
        await pilot.press("end")
        await until(pilot, lambda: shown_in_order(by_priority) and app.queue.cursor == 9_999)
        assert app.queue.visible_rows()[-1].priority == "P3"
        for _ in range(3):
            await pilot.press("pageup")
        await until(pilot, lambda: shown_in_order(by_priority))
        await pilot.press("home")
        await until(pilot, lambda: shown_in_order(by_priority) and app.queue.scroll_offset.y == 0)
        assert app.queue.visible_rows()[0].priority == "P0" and "1 of 10,000" in screen_text(app)


async def test_the_queue_opens_on_all_open_most_urgent_first_or_on_the_start_view(desk):
    make_tickets(desk, 12)  # #4, #8, #12 are P1, the rest P3
    lifecycle.change_status(desk, 12, "resolved")
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 11)
        assert app.queue.sort == ("priority", False) and app.queue.label == "All open"
        assert [r.number for r in app.queue.visible_rows()][:3] == [8, 4, 11]  # P1 newest first, then P3

    settings = TuiSettings(views=(SavedView("VPN", '"VPN"'),), start_view="VPN")
    app = HelpdeskApp(desk=TicketDesk(desk), settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 4)
        assert app.queue.label == "VPN" and app.queue.sort is None
        assert [r.number for r in app.queue.visible_rows()] == [12, 9, 6, 3]


def test_a_start_view_that_names_no_view_stops_the_app_before_it_draws(desk):
    with pytest.raises(SettingsError, match=r"start_view = 'Mine' names no view \(views: My open, "):
        HelpdeskApp(desk=TicketDesk(desk), settings=TuiSettings(start_view="Mine"))


async def test_bulk_tag_and_bulk_merge(app, desk):
    make_tickets(desk, 6)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        queue = app.queue
        for number in (4, 5, 6):
            queue.move_cursor(next(i for i, r in enumerate(queue.visible_rows()) if r.number == number))
            await pilot.press("space")
        await pilot.press("plus")
        await until(pilot, lambda: isinstance(app.screen, AskScreen))
        app.screen.query_one("Input").value = "vpn, outage"
        await pilot.press("enter")
        await until(pilot, lambda: "Tags vpn, outage: 3 of 3 changed" in shown(app))
        assert all({"vpn", "outage"} <= set(tickets.show(desk, n).tags) for n in (4, 5, 6))
        assert tickets.show(desk, 3).tags == []

        # one ticket is not enough to merge
        queue.select_only(set())
        queue.move_cursor(0)
        await pilot.press("M")
        await until(pilot, lambda: "Select two or more tickets to merge" in shown(app))

        # #4 and #5 into #6 (the first choice: the newest)
        queue.select_only({4, 5, 6})
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert app.screen.choices == ["#6", "#5", "#4"]
        app.screen.query_one("#choices").highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: "Merged into #6: 2 of 2 changed" in shown(app))
        assert [tickets.show(desk, n).merged_into for n in (4, 5)] == [6, 6]
        assert tickets.show(desk, 6).merged_into is None


def first_look(desk) -> list:
    """The page a bare `helpdesk`'s child process reads for the launch (helpdesk.tui.opening)."""
    return first_page(TicketDesk(desk))


async def test_the_launch_shows_its_childs_first_page_then_opens_the_desk_after_the_paint(desk):
    make_tickets(desk)
    page = first_look(desk)
    painted_before_open = []  # what the queue showed when this process began opening the desk
    opening = OpeningDesk(lambda: (START_QUERY, START_SORT, page), lambda: painted_before_open.append([app.queue.row_at(i) for i in range(3)]))
    app = HelpdeskApp(desk=opening, settings=TuiSettings())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue_ready(app) and opening._desk is not None)
        # most urgent first: the P1 tickets (12, 8, 4), then the P3 ones newest first
        assert [r.number for r in app.queue.visible_rows()][:4] == [12, 8, 4, 11] == [r.number for r in page][:4]
        # the desk was first needed once the child's rows were on screen
        assert [r.number for r in painted_before_open[0]] == [12, 8, 4]
        assert app.queue.count == 12 and "1 of 12" in screen_text(app)
        await until(pilot, lambda: "All open 12" in shown(app))  # the sidebar counts from the real desk
        # the rest is the real desk's: a ticket opens
        await open_ticket(pilot, 8)


def test_the_launch_child_reports_the_settings_then_the_start_views_first_page(desk):
    make_tickets(desk)
    look = FirstLook(lambda: None)  # a real fork: the child opens the desk the environment points at
    report = look.report()
    assert set(report["settings"]) == set(opening.TUI_FIELDS) and report["settings"]["start_view"] is None
    assert report["source"] == str(desk.config.source)
    query, sort, rows = look.first_page()
    assert (query, sort) == (START_QUERY, START_SORT) and [r.number for r in rows][:4] == [12, 8, 4, 11]
    assert look.first_page() is None  # once


def test_the_launch_child_reads_the_first_page_of_the_start_view_the_config_names(configured, desk):
    make_tickets(desk)
    configured.write_config(configured.default_config() + '\n[tui]\nstart_view = "All tickets"\n')
    look = FirstLook(lambda: None)
    assert look.report()["settings"]["start_view"] == "All tickets"
    query, sort, rows = look.first_page()
    assert (query, sort) == ("", None)  # all tickets, in the source's own order: newest first
    assert [r.number for r in rows][:3] == [12, 11, 10]


async def test_the_app_shows_the_childs_page_of_its_configured_start_view(desk):
    make_tickets(desk)
    page = first_page(TicketDesk(desk), "", None)
    tickets.create(desk, title="Came in after the read", customer="late@example.com")
    app = HelpdeskApp(desk=OpeningDesk(lambda: ("", None, page), lambda: None), settings=ALL_NEWEST_FIRST)
    async with app.run_test(size=SIZE) as pilot:
        # the first frame: the child's page (it predates #13)
        assert [app.queue.row_at(i).number for i in range(3)] == [12, 11, 10]
        await until(pilot, lambda: queue_ready(app) and app.queue.visible_rows()[0].number == 13)


def test_a_launch_child_that_hangs_over_the_first_page_is_stopped_and_not_waited_for(desk, monkeypatch):
    make_tickets(desk)
    monkeypatch.setattr(opening, "first_page", lambda *_: time.sleep(60))  # the child's copy hangs
    monkeypatch.setattr(opening, "FIRST_PAGE_WAIT_SECONDS", 0.3)
    look = FirstLook(lambda: None)
    assert "settings" in look.report()
    started = time.monotonic()
    assert look.first_page() is None  # the queue reads the desk itself then
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # stopped, and reaped
        try:
            os.kill(look.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the launch child still runs")


async def test_the_first_frame_waits_for_the_childs_page_not_the_event_loop(desk, monkeypatch):
    # The child sends its first page after the app has started: the app's first frame waits for it
    # (an empty queue drawn, then drawn again, was slower), while the event loop goes on.
    monkeypatch.setattr(app_module, "FIRST_ROWS_WAIT_SECONDS", 30.0)  # however loaded the machine
    make_tickets(desk)
    page = first_look(desk)
    loop_ran = []  # when the event loop was free to run a task of its own
    waited = []  # (start, end) of the child's late page, as the queue's worker waited for it

    def page_after_a_while():
        started = time.monotonic()
        time.sleep(0.5)  # the child still reading (in the queue's worker)
        waited.append((started, time.monotonic()))
        return START_QUERY, START_SORT, page

    async def tick() -> None:
        while True:
            loop_ran.append(time.monotonic())
            await asyncio.sleep(0.01)

    app = HelpdeskApp(desk=OpeningDesk(page_after_a_while, lambda: None), settings=TuiSettings())
    ticking = asyncio.create_task(tick())
    try:
        async with app.run_test(size=SIZE) as pilot:
            # ready (the first frame is drawn now): the rows are in it already
            assert [app.queue.row_at(i).number for i in range(3)] == [12, 8, 4]
            started, ended = waited[0]
            assert any(started < t < ended for t in loop_ran)  # the event loop went on while the mount waited
            await until(pilot, lambda: queue_ready(app))
    finally:
        ticking.cancel()


async def test_a_change_committed_after_the_childs_read_is_not_lost(desk):
    make_tickets(desk)
    page = first_look(desk)
    tickets.create(desk, title="Came in after the read", customer="late@example.com", priority="P1")
    app = HelpdeskApp(desk=OpeningDesk(lambda: (START_QUERY, START_SORT, page), lambda: None), settings=TuiSettings())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue_ready(app) and app.queue.visible_rows()[0].number == 13)
        assert app.queue.count == 13 and "Came in after the read" in screen_text(app)


async def test_the_childs_page_is_not_shown_for_another_start_view(desk):
    make_tickets(desk)
    page = first_look(desk)
    app = HelpdeskApp(desk=OpeningDesk(lambda: (START_QUERY, START_SORT, page), lambda: None), settings=ALL_NEWEST_FIRST)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: queue_ready(app))
        assert [r.number for r in app.queue.visible_rows()][:3] == [12, 11, 10]  # all tickets, newest first
