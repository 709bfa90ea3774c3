"""Toasts and banners show stored text as written: never parsed as markup, never obeyed by the terminal."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widgets import Static

from helpdesk.tui.notices import Banner, notify
from helpdesk.tui.text import block_text, line_content, line_text, plain
from tui_screen import screen_text

pytestmark = pytest.mark.anyio

TITLE = "[/] [link=http://evil.example]click[/link] \x1b]0;owned\x07 \u202eevil"
SHOWN = "[/] [link=http://evil.example]click[/link] ␛]0;owned␇ <U+202E>evil"


class NoticeApp(App):
    def compose(self) -> ComposeResult:
        yield Banner()
        yield Static("queue")


async def test_notify_with_a_hostile_title_does_not_raise_and_shows_it_inert():
    app = NoticeApp()
    async with app.run_test(size=(120, 20), notifications=True) as pilot:
        notify(app, f"Ticket #5 updated: {TITLE}", title=TITLE, severity="warning")
        notify(app.query_one(Static), Text("[bold]not bold[/bold] \x9b31m"), timeout=30)
        await pilot.pause(0.2)
        shown = " ".join(screen_text(app).replace("▌", " ").split())  # toasts wrap their lines
        assert f"{SHOWN} Ticket #5 updated: {SHOWN}" in shown  # title, then message
        assert "[bold]not bold[/bold] <U+009B>31m" in shown
        notices = list(app._notifications)
        assert [n.markup for n in notices] == [False, False]
        assert all("\x1b" not in n.message + n.title for n in notices)


async def test_the_banner_shows_stored_text_inert_until_cleared():
    app = NoticeApp()
    async with app.run_test(size=(120, 20)) as pilot:
        banner = app.query_one(Banner)
        assert not banner.shown and banner.region.height == 0
        banner.show(f"Ticket #7 changed since you opened it: {TITLE}", "warning")
        await pilot.pause()
        assert banner.shown and banner.region.height == 1
        assert f"Ticket #7 changed since you opened it: {SHOWN}" in screen_text(app)
        banner.show(Content("desk unreachable, retrying"))
        await pilot.pause()
        assert banner.has_class("-error") and not banner.has_class("-warning")
        banner.clear()
        await pilot.pause()
        assert not banner.shown and "desk unreachable" not in screen_text(app)


def test_text_helpers_make_stored_text_inert_and_literal():
    assert line_text("a\nb\tc\x1b[2J").plain == "a␊b␉c␛[2J"
    assert block_text("a\nb\tc\x1b[2J").plain == "a\nb\tc␛[2J"
    assert line_text("[b]x[/b]").spans == [] and line_text("[b]x[/b]").plain == "[b]x[/b]"
    assert line_content("[/]").plain == "[/]"
    # a Text or Content made elsewhere from raw stored text is made inert too
    assert plain(Text("raw \x1b]8;;http://x\x1b\\")) == "raw ␛]8;;http://x␛\\"
    assert plain(Content("\u202e")) == "<U+202E>"
    assert plain("fine") == "fine"
