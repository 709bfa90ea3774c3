"""A bare `helpdesk` opens the desk in a second process, so its first rows do not wait for the imports.

Importing the layers under the TUI (configuration, store, domain, services) and opening the desk costs a
Python process about half of what starting Textual does, and one process does the two one after the
other. Where the system can fork, `helpdesk` forks at launch: the child (`FirstLook`) opens the desk
and reports the `[tui]` settings, then reads the start view's first page, while this process starts
Textual on another core and builds the app with those settings; the app's first frame shows the
child's rows through an `OpeningDesk`, which opens the desk in this process once they are painted
(before, its imports would hold the interpreter while the rows are drawn). The queue's source then
reads its rows again from the desk it opened: a change committed between the child's read and this
process listening for changes is not lost.

Nothing here imports textual or the services at module level: this process imports it before Textual.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

from helpdesk.tui.rows import COLUMN_SORTS, PAGE_SIZE, Row

# The view a desk opens on unless `[tui] start_view` names another: all open tickets, most urgent first
# (helpdesk.tui.app's "All open" view), and the rows of its first page.
START_QUERY = "status:open"
START_SORT = ("priority", False)  # most urgent first (ties newest first): what a shift starts with
# The views of the sidebar on a desk, by name and query (then the saved views of `[tui.views]`): here, as
# plain data, so the launch child can read the first page of the one `[tui] start_view` names.
DESK_VIEWS = (("My open", "assignee:me status:open"), ("Unassigned", "assignee:none status:open"),
              ("At risk", "sla:at-risk"), ("Breached", "sla:breached"), ("Pending", "status:pending"),
              ("All open", START_QUERY), ("All tickets", ""))
# How long the queue's first read waits for the child's page before it stops the child and reads the
# desk itself (a desk that hangs then shows the queue's banner rather than nothing).
FIRST_PAGE_WAIT_SECONDS = 2.0
# How long a read waits for the first rows to be painted before it opens the desk anyway (a view
# switched before the first paint must not wait for a paint that will not come).
PAINT_WAIT_SECONDS = 1.0
TUI_FIELDS = ("theme", "columns", "keys", "views", "start_view")


class FirstLook:
    """The child process that opens the desk for the launch, and what it found, in two reports: the
    configuration's `[tui]` section and where it was read from (or the desk's error), once the desk is
    open; then the start view's first page, which it reads while this process builds and starts the
    app (the app's first frame waits for it: `HelpdeskApp.on_mount`)."""

    def __init__(self, before_open: Callable[[], None]) -> None:
        """Fork now (the caller has imported nothing heavy yet): the child opens the desk and reports."""
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # else the child would write the parent's buffered output again at exit
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(read)
            try:
                with os.fdopen(write, "wb") as out:
                    _look(before_open, out)
            finally:
                os._exit(0)  # no atexit handlers, no buffers of the parent's flushed twice
        os.close(write)
        self._reports: int | None = read  # the pipe's end, until the last report (or none will come)
        self._lock = threading.Lock()
        # Reaped off the launch's path: the child closes the desk after its last report.
        threading.Thread(target=_reap, args=(self.pid,), name="first-look-reaper", daemon=True).start()

    def report(self) -> dict:
        """What the child found (waits for it): `error`/`exit_code`/`no_desk`; or `settings` and `source`
        (the first page follows); or `fallback` (the child failed: open the desk here)."""
        found = self._next(None)
        if found is None or "settings" not in found:
            self._close()  # nothing follows
        return found or {"fallback": True}

    def first_page(self) -> tuple[str, tuple[str, bool] | None, list[Row]] | None:
        """The start view's query, sort and first page (waits for the child, at most
        FIRST_PAGE_WAIT_SECONDS; None: it read none, failed, or is still reading: it is stopped, and the
        queue reads the desk). Once."""
        try:
            found = self._next(FIRST_PAGE_WAIT_SECONDS) or {}
            if found.get("rows") is None:  # no page read (no such view, or the read failed)
                return None
            query, sort = found["view"]
            return query, sort, found["rows"]
        except TimeoutError:
            _stop(self.pid)  # a desk that hangs: its reads are the queue's now, with their banner
            return None
        finally:
            self._close()

    def _next(self, timeout: float | None) -> dict | None:
        """The child's next report (None: it died, or wrote nothing more); TimeoutError after `timeout`."""
        with self._lock:
            if self._reports is None:
                return None
            deadline = None if timeout is None else time.monotonic() + timeout
            try:
                size = int.from_bytes(_read_exactly(self._reports, 8, deadline), "big")
                return pickle.loads(_read_exactly(self._reports, size, deadline))
            except TimeoutError:
                raise
            except Exception:  # EOF, a broken report: as if none came
                return None

    def _close(self) -> None:
        with self._lock:
            if self._reports is not None:
                os.close(self._reports)
                self._reports = None


def _send(out, report: dict) -> None:
    """One report to the parent: its length, then the pickle (see _read_exactly)."""
    data = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "big") + data)
    out.flush()


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    """`size` bytes from the pipe, or TimeoutError once `deadline` (time.monotonic) passes, or EOFError."""
    got = bytearray()
    while len(got) < size:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("the launch child did not report in time")
        chunk = os.read(fd, size - len(got))
        if not chunk:
            raise EOFError("the launch child ended before it reported")
        got += chunk
    return bytes(got)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)  # it holds nothing worth a clean end: a read, a connection
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _look(before_open: Callable[[], None], out) -> None:
    """In the child: open the desk; report the `[tui]` section (as plain data: the parent has not
    imported the config package) at once, then the first page of the start view it names (`start_view`)."""

    try:
        before_open()
        from helpdesk.tui.desk import HelpdeskError, NoDesk, open_desk  # lazy: the child's job, the services

        try:
            desk = open_desk()
        except HelpdeskError as error:
            _send(out, {"error": str(error), "exit_code": int(error.exit_code), "no_desk": isinstance(error, NoDesk)})
            return
        section = desk.settings_section
        source_file = desk.desk.config.source
        _send(out, {"settings": {name: getattr(section, name) for name in TUI_FIELDS},
                "source": str(source_file) if source_file else None})
    except BaseException:  # any surprise: the parent opens the desk itself and meets it there
        _send(out, {"fallback": True})
        return
    start = start_view(section.start_view, section.views)
    rows = None
    try:
        if start is not None:
            rows = first_page(desk, *start)
    except BaseException:  # the queue reads it again, and says why if it still cannot
        rows = None
    _send(out, {"rows": rows, "view": start})
    desk.close()
    desk.desk.close()  # its database connection, closed as a command closes it


def start_view(name: str | None, saved: tuple[tuple[str, str], ...]) -> tuple[str, tuple[str, bool] | None] | None:
    """The query and sort the queue opens on: the view `[tui] start_view` names among the desk's and the
    saved ones (None: it names none, the app says so), all open tickets most urgent first by default."""
    if name is None:
        return START_QUERY, START_SORT
    query = next((query for view, query in (*DESK_VIEWS, *saved) if view == name), None)
    return None if query is None else (query, start_sort(query))


def start_sort(query: str) -> tuple[str, bool] | None:
    """The order a view opens in: all open tickets most urgent first, any other in the source's own."""
    return START_SORT if query == START_QUERY else None


def first_page(desk, query: str = START_QUERY, sort: tuple[str, bool] | None = START_SORT) -> list[Row]:
    """The first page of a view (by default the one a desk opens on), from this TicketDesk."""
    source = desk.rows_for(query)
    if sort is not None:
        source.sort_by(*sort)
    return source.page(0, PAGE_SIZE)


def tui_section(settings: dict) -> SimpleNamespace:
    """The `[tui]` section the child sent, as `TuiSettings.from_config` reads one."""
    return SimpleNamespace(**settings)


class OpeningDesk:
    """The app's desk while this process opens the real one (`helpdesk.tui.desk.TicketDesk`): the start
    view's first page as the child read it, then everything from the real desk. It is opened in a
    thread once the app says its first rows are painted (`first_rows_shown`), or by the first call
    that needs it; a call waits for it (screens call the desk from workers)."""

    def __init__(self, first_page: Callable[[], tuple[str, tuple[str, bool] | None, list[Row]] | None] | None,
                 before_open: Callable[[], None]) -> None:
        """`first_page`: gives the start view's query, sort and first page as the launch read them (it
        may wait for the child; None: the launch reads none)."""
        self._first_page = first_page
        self._before_open = before_open
        self._desk = None  # the TicketDesk, once open
        self._closed = False
        self._opening = threading.Lock()  # one opening at a time
        self._lock = threading.Lock()  # the desk and the sources waiting for it (never held while opening)
        self._painted = threading.Event()
        if first_page is None:
            self._painted.set()  # nothing shown ahead: reads need not wait for a paint
        self._pending: list[OpeningRows] = []  # sources made before the desk was open, to bind to it

    def first_rows_shown(self) -> None:
        """The app painted its first rows: open the desk now, in a thread (a read may open it first)."""
        if self._painted.is_set() and self._desk is not None:
            return
        self._painted.set()
        threading.Thread(target=self._open_quietly, name="desk-opening", daemon=True).start()

    def _open_quietly(self) -> None:
        try:
            self.real()
        except Exception:  # the reads that need the desk meet the error, and the app shows it there
            pass

    def real(self):
        """The TicketDesk (opened here if no one has yet; HelpdeskError if it cannot be: the next call
        tries again)."""
        if self._desk is not None:
            return self._desk
        if threading.current_thread() is not threading.main_thread():  # the event loop cannot wait for its own paint
            self._painted.wait(PAINT_WAIT_SECONDS)
        pending: list[OpeningRows] = []
        with self._opening:
            if self._desk is None:
                self._before_open()
                from helpdesk.tui.desk import open_desk  # lazy: after the first paint (the module docstring)

                desk = open_desk()
                if self._closed:
                    desk.close()
                    raise RuntimeError("the app has closed its desk")
                with self._lock:
                    self._desk = desk
                    pending, self._pending = self._pending, []
        for rows in pending:  # outside the lock: a subscriber called here may wait on the event loop
            rows.bind(self._desk)
        return self._desk

    def rows_for(self, query: str):
        with self._lock:
            if self._desk is None:
                rows = OpeningRows(self, query)
                self._pending.append(rows)
                return rows
        return self._desk.rows_for(query)

    def take_first_page(self, query: str, sort: tuple[str, bool] | None, limit: int) -> list[Row] | None:
        """The child's first page, once, if it is the one asked for (the start view, in its order)."""
        first_page, self._first_page = self._first_page, None
        found = first_page() if first_page is not None and limit == PAGE_SIZE else None
        if found is None or found[:2] != (query, sort):
            self._painted.set()  # no rows to paint first: reads need not wait for them
            return None
        return found[2]

    def close(self) -> None:
        self._closed = True
        self._painted.set()
        if self._desk is not None:
            self._desk.close()

    def __getattr__(self, name: str):
        # Every other action of the desk is the real desk's (waits for it to open).
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.real(), name)


class OpeningRows:
    """A `RowSource` of the `OpeningDesk`: the child's first page if it is asked for, else the real
    desk's source of the same query (made when the desk opens, or by the first read that needs it).
    Change subscribers are moved to the real source; a source that showed the child's page tells
    them to read everything again once it is bound (see the module docstring)."""

    sortable = frozenset(COLUMN_SORTS)

    def __init__(self, desk: OpeningDesk, query: str) -> None:
        self._desk = desk
        self.query = query
        self._sort: tuple[str, bool] | None = None
        self._real = None  # the DeskRowSource, once bound
        self._lock = threading.Lock()
        self._listeners: dict[int, tuple[Callable[[frozenset[int]], None], Callable[[], None] | None]] = {}
        self._next_listener = 0
        self._showed_first_page = False

    def bind(self, desk) -> None:
        """Read from this TicketDesk from now on (called once, when it opens)."""
        with self._lock:
            if self._real is not None:
                return
            real = desk.rows_for(self.query)
            if self._sort is not None:
                real.sort_by(*self._sort)
            for key, (callback, _) in list(self._listeners.items()):
                self._listeners[key] = (callback, real.on_change(callback))
            self._real = real
            listeners = [callback for callback, _ in self._listeners.values()] if self._showed_first_page else []
        for callback in listeners:
            callback(frozenset())  # everything may have changed since the child read its page

    def _source(self):
        if self._real is None:
            self._desk.real()  # binds every pending source, this one too
            if self._real is None:  # made after the desk opened? (rows_for returns real sources then)
                self.bind(self._desk.real())
        return self._real

    def sort_by(self, column: str, descending: bool) -> None:
        if column not in COLUMN_SORTS:
            raise ValueError(f"the queue cannot be sorted by {column!r}")
        with self._lock:
            self._sort = (column, descending)
            real = self._real
        if real is not None:
            real.sort_by(column, descending)

    def page(self, offset: int, limit: int) -> list[Row]:
        if offset == 0 and self._real is None:
            rows = self._desk.take_first_page(self.query, self._sort, limit)
            if rows is not None:
                self._showed_first_page = True
                return rows
        return self._source().page(offset, limit)

    def count(self) -> int:
        return self._source().count()

    def check(self) -> None:
        self._source().check()

    def on_change(self, callback: Callable[[frozenset[int]], None]) -> Callable[[], None]:
        with self._lock:
            key = self._next_listener
            self._next_listener += 1
            real = self._real
            self._listeners[key] = (callback, real.on_change(callback) if real is not None else None)

        def stop() -> None:
            with self._lock:
                _, stop_real = self._listeners.pop(key, (None, None))
            if stop_real is not None:
                stop_real()

        return stop
