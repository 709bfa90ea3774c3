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
        self._stop_listening = self.desk.feed.subscribe(self._changed_elsewhere)
        self.load()

    def on_unmount(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def load(self) -> None:
        raise NotImplementedError

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:  # the feed's thread
        raise NotImplementedError
