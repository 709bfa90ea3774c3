"""The TUI application around the queue: key bindings remapped by id and checked, the help screen, the
command palette with actions and saved views, themes by name, the banner for a source that fails."""

from __future__ import annotations

import pytest
from textual.command import CommandPalette

from helpdesk.tui import keys
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.errors import SettingsError
from helpdesk.tui.memory import MemoryRowSource, SyntheticRows
from helpdesk.tui.palette import HelpdeskCommands
from helpdesk.tui.screens.help import HelpScreen
from helpdesk.tui.settings import SavedView, TuiSettings
from tui_screen import screen_lines, screen_text

pytestmark = pytest.mark.anyio

SIZE = (120, 32)
ROWS = SyntheticRows(5_000)
VIEWS = (SavedView("Pending", "status:pending"), SavedView("Breached", "sla:breached"))


def rows_for(query: str) -> MemoryRowSource:
    """The rows of a query, as the services layer will give them; here the two views' queries only."""
    wanted = {"": lambda r: True, "status:pending": lambda r: r.status == "pending",
              "sla:breached": lambda r: r.sla_state == "breached"}[query]
    return MemoryRowSource([r for r in ROWS if wanted(r)])


async def settle(pilot) -> None:
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        queue = pilot.app.queue
        if not queue.fetching and queue.count is not None:
            return
    raise AssertionError("the queue never finished loading")


def status_line(app) -> str:
    """The queue's status line as on screen ("N of M" and what follows)."""
    return next(line.strip() for line in screen_lines(app) if " of " in line and "│" not in line)


# ---------------------------------------------------------------- key map


def test_every_binding_has_an_id_a_description_and_a_known_action():
    ids = [spec.id for spec in keys.CATALOGUE]
    assert len(ids) == len(set(ids))
    for spec in keys.CATALOGUE:
        assert spec.description and spec.scope in keys.ACTIVE_TOGETHER
    from helpdesk.tui.screens.dashboard import DashboardScreen
    from helpdesk.tui.screens.detail import DetailScreen
    from helpdesk.tui.widgets.queue_table import QueueTable

    owners = {keys.APP: HelpdeskApp, keys.QUEUE: QueueTable, keys.DETAIL: DetailScreen, keys.HELP: HelpScreen,
              keys.DASHBOARD: DashboardScreen}
    for spec in keys.CATALOGUE:
        owner, action = owners[spec.scope], spec.action
        if action.startswith("app."):  # a widget's key for an app action (`q` on the queue quits)
            owner, action = HelpdeskApp, action.removeprefix("app.")
        assert hasattr(owner, f"action_{action}"), f"{spec.id}: {owner.__name__} has no action {action}"


def test_the_default_keymap_has_no_clash_and_remaps_are_checked():
    defaults = keys.resolve_keymap({})
    assert defaults["sort"] == "s" and defaults["help"] == "f1,question_mark"
    assert keys.resolve_keymap({"sort": "o", "open": "enter,l"})["open"] == "enter,l"
    assert keys.resolve_keymap({"help": "?"})["help"] == "question_mark"  # Textual's name for it
    assert keys.resolve_keymap({"sort": "s", "sort_reverse": "ctrl+s"})["sort_reverse"] == "ctrl+s"
    # the help screen is modal: its keys may be the queue's
    assert keys.resolve_keymap({"help_close": "escape,s"})["help_close"] == "escape,s"
    # a key freed by a remap may be taken by another binding
    assert keys.resolve_keymap({"sort": "o", "select": "s"})["select"] == "s"

    with pytest.raises(SettingsError, match=r"no key binding has the id 'forward' \(ids: quit, help"):
        keys.resolve_keymap({"forward": "f"})
    with pytest.raises(SettingsError, match="'j' is given to both 'cursor_down' and 'sort'"):
        keys.resolve_keymap({"sort": "j"})
    with pytest.raises(SettingsError, match="'ctrl\\+q' is given to both 'quit' and 'open'"):
        keys.resolve_keymap({"open": "ctrl+q"})  # an app-wide key clashes with every queue key
    with pytest.raises(SettingsError, match="unknown key 'sortkey'"):
        keys.resolve_keymap({"sort": "sortkey"})
    with pytest.raises(SettingsError, match="'tab' is kept for moving the focus"):
        keys.resolve_keymap({"sort": "tab"})
    with pytest.raises(SettingsError, match="not a key"):
        keys.resolve_keymap({"sort": "cmd+s"})
    with pytest.raises(SettingsError, match="give the keys as a string"):
        keys.resolve_keymap({"sort": 5})  # type: ignore[dict-item]
    with pytest.raises(SettingsError, match="empty key name"):
        keys.resolve_keymap({"sort": "o,"})


def test_bad_settings_stop_the_app_before_it_draws():
    with pytest.raises(SettingsError, match="'j' is given to both"):
        HelpdeskApp(rows_for, settings=TuiSettings(keys={"sort": "j"}))
    with pytest.raises(SettingsError, match="unknown theme 'solarised'"):
        HelpdeskApp(rows_for, settings=TuiSettings(theme="solarised"))
    with pytest.raises(SettingsError, match="unknown column 'sla_left'"):
        HelpdeskApp(rows_for, settings=TuiSettings(columns=["number", "sla_left"]))
    with pytest.raises(SettingsError, match="two views are named 'Pending'"):
        HelpdeskApp(rows_for, settings=TuiSettings(views=VIEWS + (SavedView("Pending", "status:new"),)))


async def test_a_remapped_key_works_and_the_old_one_is_free():
    app = HelpdeskApp(rows_for, settings=TuiSettings(keys={"sort": "o", "last_row": "ctrl+e"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert app.queue.sort is None
        await pilot.press("o")
        await settle(pilot)
        assert app.queue.sort == ("number", False)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert app.queue.cursor == 4_999


async def test_the_key_bar_shows_the_keys_in_force_and_a_click_presses_one():
    from helpdesk.tui.widgets.key_bar import KeyBar

    app = HelpdeskApp(rows_for, settings=TuiSettings(keys={"sort": "o"}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.query_one(KeyBar)
        shown = dict(bar.keys_shown)
        assert shown["o"] == "Sort" and "s" not in shown  # the remapped key, not the default
        bottom = screen_lines(app)[-1]
        assert " o Sort " in bottom and "Open the command palette" in bottom
        await pilot.click(KeyBar, offset=(bottom.index(" o Sort ") + 1, 0))
        await settle(pilot)
        assert app.queue.sort == ("number", False)
        await pilot.click(KeyBar, offset=(bottom.index(" / Filter") + 1, 0))
        await pilot.pause()
        assert app.focused is app.query_one("#filter")
        after = dict(bar.keys_shown)  # the filter has the focus: its keys, not the queue's
        assert after != shown and "Sort" not in after.values()


async def test_q_quits_from_the_queue_and_types_a_q_in_the_filter():
    app = HelpdeskApp(rows_for)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", "q")
        assert app.query_one("#filter").value == "q" and app.is_running
        await pilot.press("escape")
        app.queue.focus()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_the_help_screen_lists_every_binding_with_its_keys():
    app = HelpdeskApp(rows_for, settings=TuiSettings(keys={"sort": "o"}))
    async with app.run_test(size=(120, 90)) as pilot:  # tall enough for the whole list
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(" ".join(line.split()) for line in screen_lines(app))
        for spec in keys.CATALOGUE:
            assert spec.description in text and spec.id in text
        assert "o Sort by the next column sort" in text
        assert "pgdn Go one page down page_down" in text
        assert "remap in [tui.keys] by id" in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


# ---------------------------------------------------------------- palette, views, themes


async def test_the_palette_lists_every_action_and_saved_view():
    app = HelpdeskApp(rows_for, settings=TuiSettings(views=VIEWS))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        provider = HelpdeskCommands(app.screen)
        found = [hit async for hit in provider.discover()]
        texts = [hit.text for hit in found]
        actions = [spec for spec in keys.CATALOGUE if spec.scope in (keys.APP, keys.QUEUE) and spec.id != "palette"]
        assert texts == [spec.description for spec in actions] + ["View: Pending", "View: Breached"]
        assert found[-2].prompt.plain == "View: Pending\nstatus:pending"
        hits = [hit async for hit in provider.search("breach")]
        assert [hit.text for hit in hits] == ["View: Breached"]
        hits = [hit async for hit in provider.search("last row")]
        assert hits[0].text == "Go to the last row" and "end G  ·  last_row" in hits[0].prompt.plain


async def test_a_saved_view_from_the_palette_opens_in_the_queue():
    app = HelpdeskApp(rows_for, settings=TuiSettings(views=VIEWS))
    pending = rows_for("status:pending")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.queue.count == 5_000
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"View: Pending")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.view == VIEWS[0]
        assert app.queue.count == pending.count() and 0 < pending.count() < 5_000
        assert {r.status for r in app.queue.visible_rows()} == {"pending"}
        assert status_line(app) == f"Pending · 1 of {pending.count():,}"


async def test_hostile_view_names_and_queries_are_inert_in_the_palette():
    hostile = (SavedView("[/]bad [link=http://evil.example]view[/link]", "status:pending"),
               SavedView("\x1b]0;owned\x07esc", "[/] \x9b31m"))
    app = HelpdeskApp(lambda q: rows_for(""), settings=TuiSettings(views=hostile))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        provider = HelpdeskCommands(app.screen)
        prompts = [hit.prompt.plain async for hit in provider.discover()]
        assert "View: [/]bad [link=http://evil.example]view[/link]\nstatus:pending" in prompts
        assert "View: ␛]0;owned␇esc\n[/] <U+009B>31m" in prompts
        hits = [hit async for hit in provider.search("bad view")]
        assert hits and hits[0].prompt.plain.startswith("View: [/]bad")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"owned")
        await pilot.pause(0.3)
        assert "View: ␛]0;owned␇esc" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.view == hostile[1]
        assert status_line(app) == "␛]0;owned␇esc · 1 of 5,000"


async def test_themes_by_name_and_the_toggle():
    app = HelpdeskApp(rows_for, settings=TuiSettings(theme="light"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "helpdesk-light" and not app.current_theme.dark
        background = app.queue.rich_style.bgcolor
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "helpdesk-dark" and app.current_theme.dark
        assert app.queue.rich_style.bgcolor != background
    app = HelpdeskApp(rows_for, settings=TuiSettings(theme="nord"))  # one of Textual's
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "helpdesk-light"


# ---------------------------------------------------------------- a source that fails


class FlakySource(MemoryRowSource):
    """A source over a list that fails while `down` is set, as a database that went away."""

    down = False

    def page(self, offset, limit):
        if self.down:
            raise ConnectionError("server closed the connection [/] \x1b[2J unexpectedly")
        return super().page(offset, limit)


async def test_a_failing_source_shows_a_banner_and_the_queue_recovers():
    source = FlakySource(list(ROWS[:300]))
    app = HelpdeskApp(lambda q: source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.queue.RETRY_SECONDS = 0.05
        source.down = True
        await pilot.press("end")
        for _ in range(40):
            await pilot.pause(0.05)
            if app.banner.shown:
                break
        assert app.banner.shown
        assert app.banner.message == "The desk cannot be read: server closed the connection [/] ␛[2J unexpectedly (trying again…)"
        assert "300 of 300 · cannot read, retrying…" in status_line(app)
        source.down = False
        for _ in range(40):
            await pilot.pause(0.05)
            if not app.banner.shown:
                break
        await settle(pilot)
        assert not app.banner.shown and app.queue.failed is None
        assert app.queue.visible_rows()[-1] == ROWS[299]
