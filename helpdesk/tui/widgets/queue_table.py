"""The queue: a line-API table that reads only the rows on screen, as fast at a million rows as at ten.

Textual's DataTable keeps every cell in Python and re-measures on each change (textual #1892, #5273);
this widget keeps nothing but pages of rows it was asked to show:

- rows come from a `RowSource` in pages of PAGE_SIZE, fetched by a thread worker (exclusive: a new
  request cancels the old one), never on the event loop; a page not yet read shows placeholder lines;
- fetched pages and rendered lines sit in LRU caches; a line is cached by the row itself (rows are
  frozen), so when the source signals a change the visible pages are read again and only the lines
  whose row differs are drawn anew;
- the header (click a column to sort) and the status line ("N of M") stay fixed; cursor, multi-select
  (space, shift+arrows), sort by key or click;
- every cell is stored text made inert by the one sanitiser and drawn as a plain segment: no markup
  parser ever sees it (a title `[/]` or `[link=...]` shows as written).
"""

from __future__ import annotations

import asyncio
import threading
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, on, work
from textual.cache import LRUCache
from textual.geometry import Region, Size, clamp
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, get_current_worker

from helpdesk.tui import keys
from helpdesk.tui.rows import COLUMNS, DEFAULT_COLUMNS, PAGE_SIZE, Column, Row, RowSource
from helpdesk.tui.core import inert

GAP = 1  # cells between columns
SLA_CLASSES = {"ok": "queue-table--sla-ok", "at_risk": "queue-table--sla-at-risk",
               "breached": "queue-table--sla-breached", "paused": "queue-table--sla-paused"}


class _PageLoaded(Message, bubble=False):
    """A worker read the count and/or one page (for the sort and source of `generation`)."""

    def __init__(self, generation: int, count: int | None, page: int | None, rows: list[Row] | None,
                 reloads: int = 0) -> None:
        super().__init__()
        self.generation = generation
        self.reloads = reloads  # the table's reloads when the read started
        self.count = count
        self.page = page
        self.rows = rows


class _SourceChanged(Message, bubble=False):
    def __init__(self, ids: frozenset[int]) -> None:
        super().__init__()
        self.ids = ids


def fit(text: str, width: int, right: bool = False) -> str:
    """`text` in exactly `width` cells: cut with an ellipsis (a cut is never silent), else padded.
    The common all-ASCII cell is measured by its length; anything else by rich's cell widths (wide
    characters, combining marks)."""
    length = len(text) if text.isascii() else cell_len(text)
    if length > width:
        if width <= 0:
            return ""
        return (text[:width - 1] if text.isascii() else set_cell_size(text, width - 1)) + "…"
    padding = " " * (width - length)
    return padding + text if right else text + padding


class QueueTable(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows of a `RowSource`, read a page at a time as they scroll into view."""

    PAGE_SIZE: ClassVar[int] = PAGE_SIZE
    PAGE_CACHE: ClassVar[int] = 64  # pages kept (6,400 rows)
    RETRY_SECONDS: ClassVar[float] = 0.5  # after a failed read; doubled after each further failure
    RETRY_MAX_SECONDS: ClassVar[float] = 8.0
    LINE_CACHE: ClassVar[int] = 1024  # rendered lines kept

    BINDINGS = keys.bindings(keys.QUEUE)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "queue-table--header", "queue-table--sorted", "queue-table--status", "queue-table--cursor",
        "queue-table--selected", "queue-table--placeholder", *SLA_CLASSES.values(),
    }

    DEFAULT_CSS = """
    QueueTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .queue-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .queue-table--sorted { background: $panel; color: $accent; text-style: bold underline; }
        & > .queue-table--status { background: $panel; color: $foreground-muted; }
        & > .queue-table--cursor { background: $primary 30%; }
        &:focus > .queue-table--cursor { background: $primary 60%; text-style: bold; }
        & > .queue-table--selected { background: $accent 25%; }
        & > .queue-table--placeholder { color: $foreground 35%; }
        & > .queue-table--sla-ok { color: $success; }
        & > .queue-table--sla-at-risk { color: $warning; text-style: bold; }
        & > .queue-table--sla-breached { color: $error; text-style: bold; }
        & > .queue-table--sla-paused { color: $secondary; }
    }
    """

    class RowOpened(Message):
        """Enter (or a double click) on a row: open this ticket."""

        def __init__(self, table: QueueTable, row: Row) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> QueueTable:
            return self.table

    class SelectionChanged(Message):
        """The set of selected row ids changed (bulk actions act on these)."""

        def __init__(self, table: QueueTable, ids: frozenset[int]) -> None:
            super().__init__()
            self.table = table
            self.ids = ids

        @property
        def control(self) -> QueueTable:
            return self.table

    class BulkRequested(Message):
        """A bulk action (`assign`, `status`, `priority`, `tag`, `merge`) asked for on these row ids: the selection, or
        the cursor's row when nothing is selected. The app asks for the value and applies it."""

        def __init__(self, table: QueueTable, action: str, ids: frozenset[int]) -> None:
            super().__init__()
            self.table = table
            self.action = action
            self.ids = ids

        @property
        def control(self) -> QueueTable:
            return self.table

    class LoadFailed(Message):
        """The source raised while reading (a database that went away): the app shows a banner; the
        queue keeps what it has and tries again after RETRY_SECONDS, twice as long after each further
        failure (up to RETRY_MAX_SECONDS)."""

        def __init__(self, table: QueueTable, error: Exception) -> None:
            super().__init__()
            self.table = table
            self.error = error

        @property
        def control(self) -> QueueTable:
            return self.table

    class Loaded(Message):
        """The first rows of a source arrived, or rows were read again after a failure (the app takes
        its banner down; it starts what can wait for the first rows)."""

        def __init__(self, table: QueueTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> QueueTable:
            return self.table

    def __init__(self, source: RowSource, *, columns: list[Column] | None = None, label: str = "",
                 sort: tuple[str, bool] | None = None, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        """`label`: the view's name on the status line; `sort`: (column id, descending) to start with."""
        super().__init__(name=name, id=id, classes=classes)
        self._source = source
        self._columns = list(columns) if columns else [COLUMNS[c] for c in DEFAULT_COLUMNS]
        self._count: int | None = None  # None until the source has said
        self._count_stale = True
        self._pages: LRUCache[int, list[Row]] = LRUCache(self.PAGE_CACHE)
        self._stale: set[int] = set()  # pages shown as they were, read again
        self._lines: LRUCache[tuple, Strip] = LRUCache(self.LINE_CACHE)
        self._layouts: dict[int, list[tuple[Column, int, int]]] = {}
        self._styles: dict[str, Style] = {}  # component styles, until the theme or CSS changes
        self._base_style: Style | None = None
        self._generation = 0  # bumped by a sort or a new source: older pages are dropped on arrival
        self._sort: tuple[str, bool] | None = sort if sort and sort[0] in {c.id for c in self._columns} else None
        self._applied: tuple[RowSource, tuple[str, bool]] | None = None  # the sort a source has; under _source_lock
        self._source_lock = threading.Lock()  # the source sees one call at a time
        self._worker: Worker | None = None
        self._asked: tuple[int, frozenset[int], bool] = (-1, frozenset(), False)  # what the worker reads
        self._reloads = 0  # reloads asked (a change elsewhere); a read started before the last one is stale
        self._fetch_reloads = 0  # the reloads counted when the running worker started
        self._stop_listening = None
        self._request_pending = False
        self._running = False  # between mount and unmount
        self.label = label  # the view's name, first on the status line
        self.failed: Exception | None = None  # the last read failed with this (until one succeeds)
        self._failures = 0  # reads failed in a row (the retry waits longer each time)
        self._announced = False  # Loaded was posted for this source's first rows
        self._first_read = asyncio.Event()  # the first read ended (rows, or a failure): see first_read()
        self._retry = None  # the timer of the next try
        self.cursor = 0
        self._follow: int | None = None  # the id of the row the cursor was on when the source changed
        self.selected: set[int] = set()
        self.lines_rendered = 0  # row lines drawn anew (not from the cache): tests and the bench read it

    # ------------------------------------------------------------ what others read

    @property
    def count(self) -> int | None:
        """The M of "N of M": how many rows the source holds (None while unknown)."""
        return self._count

    @property
    def source(self) -> RowSource:
        return self._source

    @property
    def columns(self) -> list[Column]:
        return list(self._columns)

    @property
    def sort(self) -> tuple[str, bool] | None:
        return self._sort

    @property
    def fetching(self) -> bool:
        """True while rows or the count are being read."""
        return self._worker is not None and self._worker.is_running

    def row_at(self, index: int) -> Row | None:
        """The row at `index` if its page has been read (never reads)."""
        page = self._pages.get(index // self.PAGE_SIZE)
        if page is None:
            return None
        offset = index % self.PAGE_SIZE
        return page[offset] if offset < len(page) else None

    @property
    def cursor_row(self) -> Row | None:
        return self.row_at(self.cursor)

    def visible_rows(self) -> list[Row | None]:
        """The rows on screen now, top to bottom (None: still loading)."""
        top, height = self.scroll_offset.y, self._rows_height()
        stop = min(top + height, self._count or 0)
        return [self.row_at(i) for i in range(top, stop)]

    async def first_read(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, until the first page of rows is read (or fails to be)."""
        try:
            await asyncio.wait_for(self._first_read.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    # ------------------------------------------------------------ source and loading

    def on_mount(self) -> None:
        super().on_mount()
        self._stop_listening = self._source.on_change(self._changed_elsewhere)
        self._running = True
        self._request()  # now, not after the first paint: the first rows may make it into that paint

    def on_unmount(self) -> None:
        self._running = False
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:
        # Any thread (a LISTEN connection, a poller): post_message is thread-safe.
        self.post_message(_SourceChanged(frozenset(ids)))

    def set_source(self, source: RowSource, *, label: str = "") -> None:
        """Show another source (another view, named `label`): everything read so far is dropped."""
        if self._stop_listening is not None:
            self._stop_listening()
        self._source = source
        self.label = label
        self._sort = None
        self._announced = False
        self._reset(keep_count=False)
        self.selected.clear()
        self._stop_listening = source.on_change(self._changed_elsewhere) if self._running else None
        self._request()

    def reload(self) -> None:
        """Read the rows on screen and the count again (what is shown stays until they arrive)."""
        self._stale.update(self._pages.keys())
        self._count_stale = True
        # A read already running may have read before the change: what it brings is shown but stays
        # stale, and the pages are read again once it has ended (see on_worker_state_changed).
        self._reloads += 1
        self._request()

    def _reset(self, *, keep_count: bool) -> None:
        self._generation += 1
        self._pages.clear()
        self._stale.clear()
        self._count_stale = True
        if not keep_count:
            self._count = None
            self._update_virtual_size()
        self.cursor = 0
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def _rows_height(self) -> int:
        return max(0, self.scrollable_content_region.height - 2)  # header and status line

    def _wanted_pages(self) -> list[int]:
        """Pages of the rows on screen, then one screen above and below (read ahead), nearest first."""
        height = max(1, self._rows_height())
        top = self.scroll_offset.y
        last = (self._count if self._count is not None else self.PAGE_SIZE) - 1
        if last < 0:
            return []
        screen = range(top // self.PAGE_SIZE, min(top + height - 1, last) // self.PAGE_SIZE + 1)
        ahead = range(max(0, top - height) // self.PAGE_SIZE,
                      min(top + 2 * height, last) // self.PAGE_SIZE + 1)
        return list(screen) + [p for p in ahead if p not in screen]

    def _request(self) -> None:
        """Start a worker for the pages on screen that are missing or stale (and the count), unless the
        running one is already reading them."""
        self._request_pending = False
        if not self._running:
            return
        want = [p for p in self._wanted_pages() if p not in self._pages or p in self._stale]
        want_count = self._count_stale or self._count is None
        if not want and not want_count:
            return
        generation, asked, asked_count = self._asked
        if self.fetching and generation == self._generation:
            if self._fetch_reloads != self._reloads:
                return  # the running read may predate the change: read again when it ends, not cut it short
            if set(want) <= asked and asked_count >= want_count:
                return
        self._asked = (self._generation, frozenset(want), want_count)
        self._fetch_reloads = self._reloads
        self._worker = self._fetch(self._source, self._generation, self._sort, want, want_count, self._reloads)
        self._refresh_status()

    @work(thread=True, exclusive=True, group="queue-table-pages", exit_on_error=False)
    def _fetch(self, source: RowSource, generation: int, sort: tuple[str, bool] | None, pages: list[int],
               want_count: bool, reloads: int) -> None:
        # The first page on screen comes first (the first paint), then the count (it may take longer on a
        # big desk), then the rest; each is posted as soon as it is read.
        worker = get_current_worker()
        steps: list[int | None] = [*pages[:1], None, *pages[1:]] if want_count else list(pages)
        try:
            for page in steps:
                with self._source_lock:
                    if worker.is_cancelled:
                        return
                    if sort is not None and not (self._applied and self._applied[0] is source
                                                 and self._applied[1] == sort):
                        source.sort_by(*sort)
                        self._applied = (source, sort)
                    if page is None:
                        loaded = _PageLoaded(generation, source.count(), None, None, reloads)
                    else:
                        loaded = _PageLoaded(generation, None, page, source.page(page * self.PAGE_SIZE, self.PAGE_SIZE),
                                             reloads)
                self.post_message(loaded)
        except Exception as error:  # the source's failure is the app's to show, not a crash
            self.post_message(self.LoadFailed(self, error))

    @on(LoadFailed)
    def _load_failed(self, message: LoadFailed) -> None:
        self._first_read.set()
        self.failed = message.error
        self._refresh_status()
        if self._retry is None:  # one try pending at a time (a change notification also reads again)
            delay = min(self.RETRY_SECONDS * 2 ** self._failures, self.RETRY_MAX_SECONDS)
            self._failures += 1
            self._retry = self.set_timer(delay, self._try_again)

    def _try_again(self) -> None:
        self._retry = None
        self.reload()

    @on(_PageLoaded)
    def _page_loaded(self, message: _PageLoaded) -> None:
        if message.generation != self._generation:
            return
        if message.page is not None:
            self._first_read.set()
        if self.failed is not None or (message.page is not None and not self._announced):
            self.failed = None
            self._failures = 0
            self._announced = True
            self.post_message(self.Loaded(self))
        redraw_all = False
        current = message.reloads == self._reloads  # read after the last change heard, not before
        if message.count is not None:
            self._count_stale = self._count_stale and not current
            if message.count != self._count:
                self._count = message.count
                self._update_virtual_size()
                self.cursor = clamp(self.cursor, 0, max(0, message.count - 1))
                redraw_all = True
        if message.page is not None and message.rows is not None:
            old = self._pages.get(message.page)
            self._pages.discard(message.page)  # Textual's LRUCache.set keeps an existing key's value
            self._pages[message.page] = message.rows
            if current:
                self._stale.discard(message.page)
            first = message.page * self.PAGE_SIZE
            if self._follow is not None and self._follow in {r.id for r in message.rows}:
                # the ticket under the cursor moved (rows came or went above it): the cursor goes with it
                index = first + next(k for k, r in enumerate(message.rows) if r.id == self._follow)
                self._follow = None
                if index != self.cursor:
                    self.move_cursor(index)
            if not redraw_all:
                length = max(len(message.rows), len(old) if old else 0)
                for offset in range(length):
                    before = old[offset] if old and offset < len(old) else None
                    after = message.rows[offset] if offset < len(message.rows) else None
                    if old is None or before != after:
                        self._refresh_row(first + offset)
        if redraw_all:
            self.refresh()
        self._refresh_status()
        if not self.fetching:
            self._request()

    @on(_SourceChanged)
    def _source_changed(self, message: _SourceChanged) -> None:
        # Rows may have changed, moved, come or gone: read the count and the pages on screen again;
        # what arrives is compared with what is shown, and only rows that differ are drawn. The ids
        # alone cannot say which positions changed (a changed row may move, a new one push others down).
        row = self.cursor_row
        self._follow = row.id if row is not None else None
        self.reload()

    def _update_virtual_size(self) -> None:
        width = sum(c.width for c in self._columns) + GAP * len(self._columns)
        self.virtual_size = Size(width, (self._count or 0) + 2)

    # ------------------------------------------------------------ drawing

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()  # colours come from the theme
        self._styles.clear()
        self._base_style = None

    def _component_style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(name)
        return style

    def on_resize(self, event: events.Resize) -> None:
        self._layouts.clear()
        self._update_virtual_size()
        self._request()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self._request()

    def _layout(self, width: int) -> list[tuple[Column, int, int]]:
        """(column, x, width) for a line `width` cells wide: the flexible column takes the spare room."""
        layout = self._layouts.get(width)
        if layout is None:
            spare = max(0, width - (sum(c.width for c in self._columns) + GAP * len(self._columns)))
            flex = next((c for c in self._columns if c.flex), None)
            layout, x = [], 0
            for column in self._columns:
                w = column.width + (spare if column is flex else 0)
                layout.append((column, x, w))
                x += w + GAP
            self._layouts[width] = layout
        return layout

    def _refresh_row(self, index: int) -> None:
        y = index - self.scroll_offset.y + 1
        if 1 <= y <= self._rows_height():
            self.refresh(Region(0, y, self.scrollable_content_region.width, 1))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # The last page can arrive while its worker still runs: "loading…" must go once it has ended.
        if event.worker is self._worker and not self.fetching:
            self._refresh_status()
            if self._fetch_reloads != self._reloads:  # a change came while it read: read again now
                self._request()

    def _refresh_status(self) -> None:
        height = self.scrollable_content_region.height
        if height:
            self.refresh(Region(0, height - 1, self.scrollable_content_region.width, 1))

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base_style = self.rich_style  # once a paint, not once a line: it walks the CSS
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width, height = self.scrollable_content_region.size
        if y == 0:
            return self._header_line(width)
        if y == height - 1:
            return self._status_line(width)
        index = self.scroll_offset.y + y - 1
        if self._count is not None and index >= self._count:
            return Strip.blank(width, self._base_style or self.rich_style)
        row = self.row_at(index)
        if row is None:
            if not self._request_pending and self._count != 0:
                self._request_pending = True
                self.call_later(self._request)
            return self._placeholder_line(index, width)
        return self._row_line(index, row, width)

    def _cut(self, segments: list[Segment], width: int, style: Style) -> Strip:
        x = self.scroll_offset.x
        return Strip(segments).crop_extend(x, x + width, style).apply_style(style)

    def _header_line(self, width: int) -> Strip:
        key = ("header", width, self.scroll_offset.x, self._sort)
        strip = self._lines.get(key)
        if strip is None:
            header = self._component_style("queue-table--header")
            sorted_style = self._component_style("queue-table--sorted")
            segments = []
            for column, _, w in self._layout(width):
                label = column.label
                style = header
                if self._sort and self._sort[0] == column.id:
                    arrow = "▼" if self._sort[1] else "▲"
                    label = f"{label} {arrow}" if len(label) + 2 <= w else f"{label[:w - 1]}{arrow}"
                    style = sorted_style
                segments += [Segment(fit(label, w, column.right), style), Segment(" " * GAP, header)]
            strip = self._lines[key] = self._cut(segments, width, header)
        return strip

    def _row_style(self, index: int, row: Row | None) -> Style:
        style = self._base_style or self.rich_style
        if row is not None and row.id in self.selected:
            style += self._component_style("queue-table--selected")
        if index == self.cursor:
            style += self._component_style("queue-table--cursor")
        return style

    def _row_line(self, index: int, row: Row, width: int) -> Strip:
        is_cursor = index == self.cursor
        key = (row, is_cursor, row.id in self.selected, is_cursor and self.has_focus, width, self.scroll_offset.x)
        strip = self._lines.get(key)
        if strip is None:
            self.lines_rendered += 1
            # Runs of cells without a style of their own become one segment (fewer segments to crop and
            # style); every cell is stored text made inert, never parsed as markup.
            segments: list[Segment] = []
            plain: list[str] = []
            for column, _, w in self._layout(width):
                cell = fit(inert(column.cell(row), layout=False), w, column.right)
                if column.id == "sla" and row.sla_state in SLA_CLASSES:
                    if plain:
                        segments.append(Segment("".join(plain)))
                        plain = []
                    segments.append(Segment(cell, self._component_style(SLA_CLASSES[row.sla_state])))
                    plain.append(" " * GAP)
                else:
                    plain += [cell, " " * GAP]
            segments.append(Segment("".join(plain)))
            strip = self._lines[key] = self._cut(segments, width, self._row_style(index, row))
        return strip

    def _placeholder_line(self, index: int, width: int) -> Strip:
        style = self._row_style(index, None) + self._component_style("queue-table--placeholder")
        return Strip([Segment("  ···".ljust(width), style)], width)

    def _status_line(self, width: int) -> Strip:
        style = self._component_style("queue-table--status")
        parts = [inert(self.label, layout=False)] if self.label else []
        if self._count is None:
            parts.append("… of …")
        elif self._count == 0:
            parts.append("0 of 0")
        else:
            parts.append(f"{self.cursor + 1:,} of {self._count:,}")
        if self.selected:
            parts.append(f"{len(self.selected):,} selected")
        if self._sort:
            label = next((c.label for c in self._columns if c.id == self._sort[0]), self._sort[0])
            parts.append(f"by {label.lower()} {'▼' if self._sort[1] else '▲'}")
        if self.failed is not None:
            parts.append("cannot read, retrying…")
        elif self.fetching:
            parts.append("loading…")
        return Strip([Segment(fit(" " + " · ".join(parts), width), style)], width)

    # ------------------------------------------------------------ cursor and selection

    def move_cursor(self, index: int) -> None:
        """Put the cursor on row `index` (clamped) and scroll it into view."""
        count = self._count or 0
        if count == 0:
            return
        old, self.cursor = self.cursor, clamp(index, 0, count - 1)
        top, height = self.scroll_offset.y, max(1, self._rows_height())
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        else:
            self._refresh_row(old)
            self._refresh_row(self.cursor)
        self._refresh_status()

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def _page(self, direction: int) -> None:
        height = max(1, self._rows_height())
        self.scroll_to(y=clamp(self.scroll_offset.y + direction * height, 0, self.max_scroll_y), animate=False)
        self.move_cursor(self.cursor + direction * height)

    def action_page_down(self) -> None:
        self._page(+1)

    def action_page_up(self) -> None:
        self._page(-1)

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor((self._count or 1) - 1)

    def action_open(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.RowOpened(self, row))

    def _select(self, row: Row | None, on: bool) -> bool:
        if row is None:
            return False
        if on:
            self.selected.add(row.id)
        else:
            self.selected.discard(row.id)
        return True

    def _selection_changed(self) -> None:
        self._refresh_status()
        self.post_message(self.SelectionChanged(self, frozenset(self.selected)))

    def action_toggle_select(self) -> None:
        row = self.cursor_row
        if not self._select(row, row is not None and row.id not in self.selected):
            self.app.bell()
            return
        self._refresh_row(self.cursor)
        self._selection_changed()

    def _extend(self, direction: int) -> None:
        # The cursor row and the one it moves to are both selected, as in a file manager.
        self._select(self.cursor_row, True)
        self._refresh_row(self.cursor)
        self.move_cursor(self.cursor + direction)
        self._select(self.cursor_row, True)
        self._refresh_row(self.cursor)
        self._selection_changed()

    def action_select_up(self) -> None:
        self._extend(-1)

    def action_select_down(self) -> None:
        self._extend(+1)

    def action_clear_selection(self) -> None:
        if self.selected:
            self.selected.clear()
            self.refresh()
            self._selection_changed()

    def select_only(self, ids: set[int] | frozenset[int]) -> None:
        """Make these row ids the selection (after a bulk action: the ones it could not change)."""
        self.selected = set(ids)
        self.refresh()
        self._selection_changed()

    # ------------------------------------------------------------ bulk actions

    def _bulk(self, action: str) -> None:
        row = self.cursor_row
        ids = frozenset(self.selected) or (frozenset({row.id}) if row is not None else frozenset())
        if not ids:
            self.app.bell()
            return
        self.post_message(self.BulkRequested(self, action, ids))

    def action_bulk_assign(self) -> None:
        self._bulk("assign")

    def action_bulk_status(self) -> None:
        self._bulk("status")

    def action_bulk_priority(self) -> None:
        self._bulk("priority")

    def action_bulk_tag(self) -> None:
        self._bulk("tag")

    def action_bulk_merge(self) -> None:
        self._bulk("merge")

    # ------------------------------------------------------------ sorting

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by the column with this id (`descending` None: ascending, or the other way if it is
        already sorted by it). The pages are read again in the worker; the cursor goes to the top."""
        if column not in {c.id for c in self._columns}:
            raise ValueError(f"the queue shows no column {column!r}")
        if not self.can_sort_by(column):
            label = next(c.label for c in self._columns if c.id == column)
            self.app.notify(f"The queue cannot be sorted by {label.lower()}", severity="warning", markup=False)
            return
        if descending is None:
            descending = bool(self._sort and self._sort[0] == column and not self._sort[1])
        self._sort = (column, descending)
        self._reset(keep_count=True)
        self._request()

    def can_sort_by(self, column: str) -> bool:
        """Whether the source can order by this column (a source may name the ones it can: `sortable`)."""
        sortable = getattr(self._source, "sortable", None)
        return sortable is None or column in sortable

    async def action_filter(self) -> None:
        await self.run_action("app.focus_filter")

    def action_sort_next(self) -> None:
        ids = [c.id for c in self._columns if self.can_sort_by(c.id)]
        current = ids.index(self._sort[0]) if self._sort and self._sort[0] in ids else -1
        self.sort_by(ids[(current + 1) % len(ids)], False)

    def action_sort_reverse(self) -> None:
        if self._sort:
            self.sort_by(self._sort[0], not self._sort[1])
        else:
            self.sort_by(next(c.id for c in self._columns if self.can_sort_by(c.id)), True)

    # ------------------------------------------------------------ mouse

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x, y = offset
        height = self.scrollable_content_region.height
        if y == 0:
            x += self.scroll_offset.x
            for column, start, w in self._layout(self.scrollable_content_region.width):
                if start <= x < start + w + GAP:
                    self.sort_by(column.id)
                    break
        elif 1 <= y < height - 1:
            index = self.scroll_offset.y + y - 1
            if index < (self._count or 0):
                self.move_cursor(index)
                if event.chain == 2:
                    self.action_open()
