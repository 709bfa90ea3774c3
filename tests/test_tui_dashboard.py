"""The TUI's dashboard on a real desk (both backends): opened by its key and from the palette, showing
the figures of `report summary`, counted again when another process changes the desk, back to the
queue with escape. And the `[tui]` section of the config file at launch: a remapped key works, a bad
key or theme stops the launch with one line."""

from __future__ import annotations

import re

import pytest

from conftest import run_subprocess
from test_tui_desk import until
from helpdesk.services import lifecycle, report, tickets
from helpdesk.tui import launch
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.desk import TicketDesk, open_desk
from helpdesk.tui.screens.dashboard import DashboardScreen
from tui_screen import screen_text

pytestmark = pytest.mark.anyio
SIZE = (140, 40)


def on_dashboard(app) -> bool:
    return isinstance(app.screen, DashboardScreen) and app.screen.summary is not None


def fill(desk) -> None:
    for i, (priority, queue) in enumerate((("P1", "it"), ("P2", "care"), ("P0", "repairs"), ("P3", "it"))):
        tickets.create(desk, title=f"ticket {i}", customer="ana@example.com", priority=priority, queue=queue)
    lifecycle.assign(desk, 1, "tester")
    lifecycle.resolve(desk, 2)
    desk.clock.advance(hours=1)  # the P0's 15-minute first response is breached


async def test_the_dashboard_shows_the_summary_and_escape_goes_back(desk):
    fill(desk)
    expected = report.summary(desk)
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.queue.count is not None)
        await pilot.press("f3")
        await until(pilot, lambda: on_dashboard(app))
        assert app.screen.summary.to_dict() == expected.to_dict()
        text = screen_text(app)
        for label in ("Open", "New today", "Resolved today", "SLA compliance", "Breached open",
                      "Load per agent", "Breaches per queue", "Tickets a day, last 30 days"):
            assert label in text, label
        lines = text.splitlines()
        figures = next(line for line in lines if "Open" in line and "New today" in line)
        numbers = lines[lines.index(figures) - 1].split()
        assert numbers[:3] == [str(expected.open), str(expected.new_today), str(expected.resolved_today)] == ["3", "4", "1"]
        assert re.search(r"\brepairs +1\b", text) and re.search(r"\bcare +0\b", text)
        assert re.search(r"\btester +1 +20\b", text)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.queue.has_focus or app.focused is not None


async def test_the_palette_opens_the_dashboard(desk):
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.queue.count is not None)
        await pilot.press("ctrl+p", *"dashboard")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: on_dashboard(app))
        assert app.screen.summary.open == 0


async def test_a_change_elsewhere_is_counted_without_a_keypress(desk, helpdesk_bin):
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.queue.count is not None)
        await pilot.press("f3")
        await until(pilot, lambda: on_dashboard(app))
        assert app.screen.summary.open == 0
        for title in ("one", "two"):
            proc = run_subprocess([*helpdesk_bin, "ticket", "create", "--title", title])
            assert proc.returncode == 0, proc.stderr
        await until(pilot, lambda: app.screen.summary.open == 2, seconds=6)


async def test_a_burst_of_changes_is_counted_once_a_second(desk):
    from helpdesk.tui.screens import dashboard

    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.queue.count is not None)
        await pilot.press("f3")
        await until(pilot, lambda: on_dashboard(app))
        screen = app.screen
        screen.load()  # a count has just started
        first = screen._last_read
        for _ in range(20):  # what the change feed calls on the event loop, once per commit it hears
            screen._count_soon()
        assert screen._last_read == first and screen._pending is not None  # waiting for its second
        await until(pilot, lambda: screen._pending is None, seconds=3)
        assert dashboard.REFRESH_SECONDS * 0.9 <= screen._last_read - first < dashboard.REFRESH_SECONDS * 3
        assert screen._pending is None


# ---------------------------------------------------------------- [tui] from the config file


async def test_a_key_remapped_in_the_config_file_works(configured):
    configured.write_config(configured.default_config()
                            + '\n[tui]\ntheme = "light"\n[tui.keys]\ndashboard = "f4"\nsort = "o"\n'
                            + '[tui.views]\n"Urgent" = "priority:P0"\n'
                            + '[[view]]\nname = "Mine"\nquery = "assignee:me"\n')
    app = launch.app_for(open_desk())
    assert app.theme == "helpdesk-light"
    assert [(v.name, v.query) for v in app.settings.views] == [("Urgent", "priority:P0"), ("Mine", "assignee:me")]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.queue.count is not None)
        await pilot.press("f3")  # the old key is free: nothing opens
        await pilot.pause(0.2)
        assert not isinstance(app.screen, DashboardScreen)
        await pilot.press("f4")
        await until(pilot, lambda: on_dashboard(app))


@pytest.mark.parametrize("tui, says", [
    ('[tui.keys]\ndashboard = "f99"\n', "unknown key 'f99'"),
    ('[tui.keys]\nno_such_binding = "x"\n', "no key binding has the id 'no_such_binding'"),
    ('[tui.keys]\ndashboard = "f1"\n', "is given to both"),
    ('[tui]\ntheme = "no-such-theme"\n', "unknown theme 'no-such-theme'"),
    ('[tui]\ntheme = 5\n', "[tui] theme must be str"),
    ('[tui]\ncolumns = ["number", "nope"]\n', "nope"),
])
def test_a_bad_tui_setting_stops_the_launch_with_one_line(configured, helpdesk_bin, tui, says):
    configured.write_config(configured.default_config() + "\n" + tui)
    proc = run_subprocess(helpdesk_bin, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and says in proc.stderr, proc.stderr
    assert proc.stderr.startswith("helpdesk: config") and "Traceback" not in proc.stderr


def test_the_shipped_tui_example_works_uncommented(configured):
    """The commented `[tui]` example of config/helpdesk.toml, uncommented, is a working configuration."""
    lines = configured.default_config().splitlines()
    start = lines.index("# [tui]")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    example = [line[2:] for line in lines[start:end] if line.startswith("# ")]
    configured.write_config("\n".join(lines[:start] + example + lines[end:]) + "\n")
    app = launch.app_for(open_desk())
    assert app.keymap["sort"] == "o" and app.keymap["open"] == "enter,l"
    assert [v.name for v in app.settings.views] == ["My breaches", "Unassigned P0"]
    app.desk.close()
