"""SVG snapshots of the TUI at a fixed size (pytest-textual-snapshot): the queue over a million rows in
both themes, the help screen and the command palette. Update after a deliberate change of look with
`pytest tests/test_tui_snapshots.py --snapshot-update`, and look at the SVGs before committing them."""

from __future__ import annotations

from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.memory import MemoryRowSource, SyntheticRows
from helpdesk.tui.settings import SavedView, TuiSettings

SIZE = (140, 34)
MILLION = SyntheticRows(1_000_000)
VIEWS = (SavedView("My open", "assignee:me status:open"), SavedView("Breached [/]", "sla:breached"))


def rows_for(query: str) -> MemoryRowSource:
    return MemoryRowSource(MILLION)


async def loaded(pilot) -> None:
    """The rows on screen read, and no cursor blinking: the same picture every run."""
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not pilot.app.queue.fetching and all(r is not None for r in pilot.app.queue.visible_rows()):
            break
    await pilot.pause()  # the ended worker's state change (the status line drops "loading…")
    for widget in pilot.app.screen.query("*"):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False


async def until(pilot, condition) -> None:
    """Let the workers run until `condition()` holds (the screen shows what the snapshot is of)."""
    for _ in range(100):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError("the screen never got there")


async def select_some(pilot) -> None:
    await loaded(pilot)
    await pilot.press("down", "space", "down", "down", "shift+down", "shift+down")
    await loaded(pilot)


def test_queue(snap_compare):
    assert snap_compare(HelpdeskApp(rows_for), terminal_size=SIZE, run_before=select_some)


def test_queue_light_theme_sorted(snap_compare):
    async def sorted_by_sla(pilot) -> None:
        await loaded(pilot)
        pilot.app.queue.sort_by("sla")
        await loaded(pilot)

    app = HelpdeskApp(rows_for, settings=TuiSettings(theme="light"))
    assert snap_compare(app, terminal_size=SIZE, run_before=sorted_by_sla)


def test_help_screen(snap_compare):
    async def open_help(pilot) -> None:
        await loaded(pilot)
        await pilot.press("f1")
        await loaded(pilot)

    assert snap_compare(HelpdeskApp(rows_for, settings=TuiSettings(keys={"sort": "o"})), terminal_size=SIZE,
                        run_before=open_help)


def test_command_palette(snap_compare):
    async def open_palette(pilot) -> None:
        await loaded(pilot)
        await pilot.press("ctrl+p", *"view")
        await pilot.pause(0.3)
        await loaded(pilot)

    assert snap_compare(HelpdeskApp(rows_for, settings=TuiSettings(views=VIEWS)), terminal_size=SIZE,
                        run_before=open_palette)


def test_ticket_detail(snap_compare, desk):
    """A ticket on a real desk (fixed clock): fields, the type's fields by label, the description, clocks,
    the three kinds of conversation entry."""
    from helpdesk.services import tickets
    from helpdesk.tui.desk import TicketDesk
    from helpdesk.tui.screens.detail import DetailScreen

    tickets.create(desk, title="Printer on 3rd floor jams [/]", body="It jams on every job.",
                   customer="ana@example.com", priority="P1", type="it_support",
                   fields=["category=hardware", "asset_tag=PRN-3F"])
    tickets.reply(desk, 1, "We are sending someone.")
    tickets.note(desk, 1, "Toner looks empty.")

    async def open_it(pilot) -> None:
        await loaded(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.view is not None)
        await pilot.pause(0.1)

    assert snap_compare(HelpdeskApp(desk=TicketDesk(desk)), terminal_size=SIZE, run_before=open_it)


def test_new_ticket_form(snap_compare, desk):
    """The form on a real desk: a type chosen (its own fields under the common ones, the required one
    marked), then sent with a bad date and no serial number: each message beside its field."""
    from textual.widgets import Input, Select

    from helpdesk.tui.desk import TicketDesk
    from helpdesk.tui.screens.new_ticket import NewTicketScreen

    async def fill_in_badly(pilot) -> None:
        await loaded(pilot)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewTicketScreen) and pilot.app.screen.form)
        form = pilot.app.screen
        form.query_one("#type", Select).value = "equipment_repair"
        await until(pilot, lambda: "field.purchase_date" in form.inputs)
        form.query_one("#title", Input).value = "Laptop screen flickers"
        form.inputs["field.purchase_date"].widget.value = "2026-13-45"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "must be" in str(form.inputs["field.purchase_date"].problem.render()))
        for widget in form.query("*"):
            if hasattr(widget, "cursor_blink"):
                widget.cursor_blink = False
        await pilot.pause(0.1)

    assert snap_compare(HelpdeskApp(desk=TicketDesk(desk)), terminal_size=SIZE, run_before=fill_in_badly)


def test_dashboard(snap_compare, desk):
    """The dashboard on a real desk with a history at known times (fixed clock): the figures, 30 days
    of tickets created (bars) and resolved (line), load per agent, breaches per queue."""
    import datetime as dt

    from helpdesk.services import agents, lifecycle, tickets
    from helpdesk.tui.desk import TicketDesk
    from helpdesk.tui.screens.dashboard import DashboardScreen

    now = desk.clock.current
    for login in ("ann", "bob"):
        agents.add(desk, login, skills=["it", "repair", "care"], capacity=6)
    queues, priorities = ("it", "repairs", "care"), ("P3", "P2", "P1", "P0")
    number = 0
    for day in range(29, -1, -1):
        for i in range(2 + (day * 7) % 5):
            desk.clock.current = now - dt.timedelta(days=day, hours=1 + i)
            number = tickets.create(desk, title=f"day {day} #{i}", customer="ana@example.com",
                                    priority=priorities[(day + i) % 4], queue=queues[(day + i) % 3])[0].number
            if day > 2 and (day + i) % 3:
                desk.clock.current += dt.timedelta(hours=3 + i)
                lifecycle.resolve(desk, number)
            elif i % 2:
                lifecycle.assign(desk, number, ("ann", "bob", "tester")[day % 3], force=True)
    desk.clock.current = now

    async def open_dashboard(pilot) -> None:
        await loaded(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.summary is not None)
        await pilot.pause(0.1)

    assert snap_compare(HelpdeskApp(desk=TicketDesk(desk)), terminal_size=SIZE, run_before=open_dashboard)
