"""The queue widget over a source of a million rows, driven with Pilot: only the rows on screen are
read, the end is one key away, and stored text is always shown inert."""

from __future__ import annotations

import threading

import pytest
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.color import Color

from helpdesk.tui.memory import MemoryRowSource, SyntheticRows
from helpdesk.tui.rows import COLUMNS, Row, columns_from_ids, sla_cell
from helpdesk.tui.widgets.queue_table import QueueTable

pytestmark = pytest.mark.anyio

MILLION = 1_000_000
SIZE = (140, 30)
ROWS = 28  # rows on screen: the header and the status line take the rest


class CountingSource(MemoryRowSource):
    """The memory source, remembering which pages were asked for (proves only visible ones are read)."""

    def __init__(self, rows) -> None:
        super().__init__(rows)
        self.pages_read: list[tuple[int, int]] = []
        self.threads: set[str] = set()

    def page(self, offset: int, limit: int) -> list[Row]:
        self.pages_read.append((offset, limit))
        self.threads.add(threading.current_thread().name)
        return super().page(offset, limit)


class QueueApp(App):
    def __init__(self, source, columns=None) -> None:
        super().__init__()
        self.source = source
        self.columns = columns
        self.selections: list[frozenset[int]] = []
        self.opened: list[Row] = []

    def compose(self) -> ComposeResult:
        yield QueueTable(self.source, columns=self.columns)

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    def on_queue_table_selection_changed(self, message: QueueTable.SelectionChanged) -> None:
        self.selections.append(message.ids)

    def on_queue_table_row_opened(self, message: QueueTable.RowOpened) -> None:
        self.opened.append(message.row)


async def settle(pilot) -> None:
    """Wait until the table's workers have delivered and the screen is drawn."""
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not pilot.app.table.fetching and not any(r is None for r in pilot.app.table.visible_rows()):
            return
    raise AssertionError("the queue never finished loading")


def screen_lines(table: QueueTable) -> list[str]:
    return ["".join(s.text for s in table.render_line(y)) for y in range(table.scrollable_content_region.height)]


def status(table: QueueTable) -> str:
    return screen_lines(table)[-1].strip()


@pytest.fixture(scope="module")
def million() -> SyntheticRows:
    return SyntheticRows(MILLION)


async def test_first_paint_reads_only_the_pages_on_screen(million):
    source = CountingSource(million)
    app = QueueApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        assert table.count == MILLION
        rows = table.visible_rows()
        assert len(rows) == ROWS and [r.number for r in rows] == list(range(1, ROWS + 1))
        lines = screen_lines(table)
        assert lines[0].split()[:4] == ["#", "Pri", "Status", "SLA"]
        assert lines[1].split()[0] == "1" and million[0].title[:20] in lines[1]
        assert status(table) == "1 of 1,000,000"
        # the first page and the one after (read ahead), from a worker thread, never the event loop
        assert sorted(source.pages_read) == [(0, 100)]
        assert threading.main_thread().name not in source.threads


async def test_page_down_to_the_end_and_jump_to_the_last_row(million):
    source = CountingSource(million)
    app = QueueApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        await pilot.press("pagedown")
        await settle(pilot)
        assert table.cursor == ROWS and table.visible_rows()[0].number == ROWS + 1
        assert status(table) == f"{ROWS + 1} of 1,000,000"
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor == MILLION - 1
        assert table.visible_rows()[-1] == million[MILLION - 1]
        assert screen_lines(table)[-2].split()[0] == "1000000"
        assert status(table) == "1,000,000 of 1,000,000"
        await pilot.press("pagedown")  # at the end: nothing moves, nothing breaks
        await settle(pilot)
        assert table.cursor == MILLION - 1
        await pilot.press("pageup", "up")
        await settle(pilot)
        assert table.cursor == MILLION - 1 - ROWS - 1
        await pilot.press("home")
        await settle(pilot)
        assert table.cursor == 0 and table.visible_rows()[0].number == 1
        # a handful of pages read in all, never the million rows
        assert len(source.pages_read) < 12
        assert all(limit == QueueTable.PAGE_SIZE for _, limit in source.pages_read)


async def test_placeholder_lines_while_a_page_loads(million):
    class SlowSource(MemoryRowSource):
        """A source whose pages wait while the test holds the gate (a slow database)."""

        def __init__(self, rows) -> None:
            super().__init__(rows)
            self.gate = threading.Event()
            self.gate.set()

        def page(self, offset, limit):
            assert self.gate.wait(10)
            return super().page(offset, limit)

    source = SlowSource(million)
    app = QueueApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        source.gate.clear()
        await pilot.press("end")
        await pilot.pause(0.05)
        assert table.fetching
        lines = screen_lines(table)
        assert lines[1].strip() == "···" and lines[ROWS].strip() == "···"
        assert lines[-1].strip() == "1,000,000 of 1,000,000 · loading…"
        await pilot.press("up", "up")  # keys work while the page is read
        assert table.cursor == MILLION - 3
        source.gate.set()
        await settle(pilot)
        assert screen_lines(table)[ROWS].split()[0] == "1000000"
        assert status(table) == "999,998 of 1,000,000"


async def test_select_with_space_and_shift_arrows(million):
    app = QueueApp(MemoryRowSource(million))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        await pilot.press("space", "down", "down", "shift+down", "shift+down")
        await pilot.pause()
        assert table.selected == {1, 3, 4, 5}
        assert table.cursor == 4
        assert status(table) == "5 of 1,000,000 · 4 selected"
        await pilot.press("up", "space")  # unselect row 4
        await pilot.pause()
        assert table.selected == {1, 3, 5}
        assert app.selections[-1] == frozenset({1, 3, 5})
        # selection follows rows, not positions: far away and back it is still there
        await pilot.press("end", "home")
        await settle(pilot)
        assert table.selected == {1, 3, 5}
        await pilot.press("escape")
        await pilot.pause()
        assert table.selected == set() and status(table) == "1 of 1,000,000"
        assert app.selections[-1] == frozenset()
        # enter and a double click open the row under the cursor
        await pilot.press("down", "enter")
        await pilot.double_click(QueueTable, offset=(3, 4))
        await pilot.pause()
        assert [r.number for r in app.opened] == [2, 4]


async def test_sort_by_key_and_by_header_click(million):
    source = MemoryRowSource(million)
    app = QueueApp(source, columns_from_ids(["number", "priority", "sla", "title", "updated"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        await pilot.press("s")  # by the first column: number, ascending
        await settle(pilot)
        assert table.sort == ("number", False)
        await pilot.press("s")  # the next one: priority
        await settle(pilot)
        assert table.sort == ("priority", False)
        rows = table.visible_rows()
        assert {r.priority for r in rows} == {"P0"}
        assert [r.number for r in rows] == sorted(r.number for r in rows)  # ties in list order
        assert "by pri ▲" in status(table)
        assert "Pri▲" in screen_lines(table)[0]
        await pilot.press("S")
        await settle(pilot)
        assert table.sort == ("priority", True) and {r.priority for r in table.visible_rows()} == {"P3"}
        await pilot.press("end")
        await settle(pilot)
        assert table.visible_rows()[-1].priority == "P0"
        # a click on the SLA header sorts by time left: the most overdue first
        header = screen_lines(table)[0]
        await pilot.click(QueueTable, offset=(header.index("SLA") + 1, 0))
        await settle(pilot)
        assert table.sort == ("sla", False) and table.cursor == 0
        minutes = [r.sla_minutes for r in table.visible_rows()]
        assert minutes == sorted(minutes) and minutes[0] < 0
        await pilot.click(QueueTable, offset=(header.index("SLA") + 1, 0))  # again: the other way
        await settle(pilot)
        assert table.sort == ("sla", True)
        # rows without a clock come last either way
        await pilot.press("end")
        await settle(pilot)
        assert table.visible_rows()[-1].sla_minutes is None


async def test_a_change_redraws_only_the_changed_row(million):
    source = MemoryRowSource(million)
    app = QueueApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        await pilot.press("down")
        await pilot.pause()
        before = screen_lines(table)
        drawn = table.lines_rendered
        old = million[4]
        changed = Row(**{**{f: getattr(old, f) for f in old.__slots__}, "title": "Toner replaced",
                         "status": "resolved", "sla_state": None, "sla_minutes": None})
        # from another thread, as a LISTEN connection or a poller would
        threading.Thread(target=source.replace, args=(4, changed)).start()
        for _ in range(50):
            await pilot.pause(0.02)
            if table.row_at(4) == changed:
                break
        await settle(pilot)
        after = screen_lines(table)
        assert table.lines_rendered - drawn == 1
        assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [5]
        assert "Toner replaced" in after[5] and "resolved" in after[5]
        assert table.cursor == 1  # the cursor stays where it was


async def test_rows_that_come_and_go_change_the_count(million):
    rows = list(million[:50])
    source = MemoryRowSource(rows)
    app = QueueApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        assert table.count == 50
        del rows[10:]  # the list shrank (others resolved tickets); the source says so
        source.replace(0, rows[0])
        await settle(pilot)
        assert table.count == 10
        assert status(table) == "1 of 10"
        assert screen_lines(table)[11].strip() == ""


async def test_the_cursor_stays_on_its_ticket_when_rows_come_above_it(million):
    rows = list(million[:500])
    source = MemoryRowSource(rows)
    app = QueueApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        await pilot.press("down", "down", "down")
        assert table.cursor_row.number == 4
        newcomers = [Row(id=1_000_000 + i, number=1_000_000 + i, priority="P0", status="new", title=f"Outage {i}")
                     for i in range(3)]
        rows[0:0] = newcomers  # three new tickets at the top, as another agent's view would show them
        source.replace(0, newcomers[0])
        await settle(pilot)
        assert table.count == 503
        assert table.cursor == 6 and table.cursor_row.number == 4
        assert [r.title for r in table.visible_rows()[:3]] == ["Outage 0", "Outage 1", "Outage 2"]
        assert status(table) == "7 of 503"


HOSTILE = ("[/]", "[link=http://evil.example]click me[/link]", "\x1b]0;owned\x07Title", "\x1b[2Jwiped",
           "\u202eevil\u202c reversed", "C1 \x9b31m red", "[bold red]not bold[/]", "tab\there\nnewline",
           "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\")


async def test_hostile_titles_are_shown_inert(million):
    rows = SyntheticRows(MILLION, titles=HOSTILE)
    app = QueueApp(MemoryRowSource(rows), columns_from_ids(["number", "title", "customer"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        await pilot.press("end")
        await settle(pilot)
        await pilot.press("home")
        await settle(pilot)
        lines = screen_lines(table)
        shown = "\n".join(lines)
        for literal in ("[/]", "[link=http://evil.example]click me[/link]", "[bold red]not bold[/]",
                        "␛]0;owned␇Title", "␛[2Jwiped", "<U+202E>evil<U+202C> reversed", "C1 <U+009B>31m red",
                        "tab␉here␊newline"):
            assert literal in shown
        segments: list[Segment] = [s for y in range(len(lines)) for s in table.render_line(y)]
        for segment in segments:
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u202e\u202c" for c in segment.text)
            assert segment.style is None or (segment.style.link is None and not segment.style.meta)
        off_cursor = [s for y in range(2, len(lines)) for s in table.render_line(y) if "not bold" in s.text]
        assert off_cursor and not any(s.style and s.style.bold for s in off_cursor)
        assert "[/]" in app.export_screenshot()


def test_sla_cells_read_without_colour():
    base = dict(id=1, number=1, priority="P1", status="open", title="t")
    assert sla_cell(Row(**base)) == ""
    assert sla_cell(Row(**base, sla_state="ok", sla_minutes=125)) == "2 h 5 min"
    assert sla_cell(Row(**base, sla_state="at_risk", sla_minutes=20)) == "! 20 min"
    assert sla_cell(Row(**base, sla_state="breached", sla_minutes=-61)) == "-1 h 1 min"
    assert sla_cell(Row(**base, sla_state="paused", sla_minutes=240)) == "‖ 4 h"


async def test_sla_cells_take_the_theme_colours():
    states = ["ok", "at_risk", "breached", "paused"]
    rows = [Row(id=i + 1, number=i + 1, priority="P2", status="open", title=s, sla_state=s, sla_minutes=30 - 40 * (s == "breached"))
            for i, s in enumerate(states)]
    app = QueueApp(MemoryRowSource(rows), columns_from_ids(["number", "sla", "title"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.table
        table.move_cursor(3)  # the cursor's background off the rows looked at
        colours = {}
        for y, state in enumerate(states[:3], start=1):
            cell = next(s for s in table.render_line(y) if s.text.strip().endswith("min"))
            colours[state] = cell.style.color
        theme = app.current_theme

        def near(colour, hex_colour: str) -> bool:  # the theme's colour, give or take blending
            wanted = Color.parse(hex_colour)
            return all(abs(a - b) <= 3 for a, b in zip(colour.triplet, (wanted.r, wanted.g, wanted.b)))

        assert near(colours["ok"], theme.success)
        assert near(colours["at_risk"], theme.warning)
        assert near(colours["breached"], theme.error)
        assert len({c.triplet for c in colours.values()}) == 3


def test_column_ids_are_checked():
    from helpdesk.tui.errors import SettingsError

    assert [c.id for c in columns_from_ids(["title", "number"])] == ["title", "number"]
    with pytest.raises(SettingsError, match="unknown column 'titel'"):
        columns_from_ids(["number", "titel"])
    with pytest.raises(SettingsError, match="listed twice"):
        columns_from_ids(["number", "number"])
    with pytest.raises(SettingsError, match="non-empty list"):
        columns_from_ids([])
    assert set(COLUMNS) >= {"number", "priority", "status", "sla", "title", "customer", "assignee", "type",
                            "queue", "updated"}
