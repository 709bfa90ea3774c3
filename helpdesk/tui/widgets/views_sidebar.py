"""The sidebar of views: each a named query with how many tickets match it now; choosing one shows
its rows in the queue. The counts are read by the app in a worker and handed in with `show_counts`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList

from helpdesk.tui.settings import SavedView
from helpdesk.tui.text import line_content

NAME_WIDTH = 14


class ViewsSidebar(OptionList):
    DEFAULT_CSS = """
    ViewsSidebar {
        split: left;  /* beside the filter bar and the queue, not over them */
        width: 26;
        height: 1fr;
        border: none;
        border-right: tall $panel;
        &.-hidden { display: none; }
    }
    """

    class ViewChosen(Message):
        def __init__(self, view: SavedView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, views: Sequence[SavedView], *, id: str | None = None) -> None:
        self.views = list(views)
        self.counts: dict[str, int | None] = {}  # view name -> its count (None: could not be read)
        super().__init__(*self._labels(), id=id)

    def _labels(self) -> list[Content]:
        labels = []
        for view in self.views:
            name = view.name if len(view.name) <= NAME_WIDTH else view.name[:NAME_WIDTH - 1] + "…"
            count = self.counts.get(view.name, ...)
            shown = "…" if count is ... else "?" if count is None else f"{count:,}"
            labels.append(line_content(name.ljust(NAME_WIDTH)) + Content(f"{shown:>9}"))
        return labels

    def show_counts(self, counts: Mapping[str, int | None]) -> None:
        self.counts = dict(counts)
        highlighted = self.highlighted
        self.set_options(self._labels())
        self.highlighted = highlighted

    def count_of(self, name: str) -> int | None:
        return self.counts.get(name)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ViewChosen(self.views[event.option_index]))
