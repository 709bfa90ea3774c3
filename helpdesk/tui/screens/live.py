"""A screen over the desk that stays live: it reads in a worker (`load`), and reads again when the
desk says something changed (`_changed_elsewhere`, called on the change feed's thread); a read that
fails is said in its banner (the widget with id BANNER_ID)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.screen import Screen

from helpdesk.tui.notices import Banner


class LiveScreen(Screen):
    BANNER_ID: ClassVar[str]

    desk: object  # a tui.desk.TicketDesk, set by the screen
    _stop_listening: Callable[[], None] | None = None

    @property
    def banner(self) -> Banner:
        return self.query_one(f"#{self.BANNER_ID}", Banner)

    def on_mount(self) -> None:
        self.go_live()

    def go_live(self) -> None:
        """Listen for the desk's changes, then read; once. A screen whose first read is most of its
        wait starts it from `compose`, while its widgets mount (see `when_mounted`)."""
        if self._stop_listening is None:
            self._stop_listening = self.desk.feed.subscribe(self._changed_elsewhere)
            self.load()

    def when_mounted(self, callback: Callable[..., object], *args: object) -> None:
        """`callback(*args)` now, or once the widgets are mounted (a read started from compose may be
        back before them)."""
        if self.is_mounted:
            callback(*args)
        else:
            self.call_later(callback, *args)  # the screen's own queue: run after its mount

    def on_unmount(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def load(self) -> None:
        raise NotImplementedError

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:  # the feed's thread
        raise NotImplementedError
