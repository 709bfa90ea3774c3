"""The queue when its PostgreSQL goes away and comes back, for real: the TUI talks to the desk through
a TCP proxy this test stops (every connection cut, new ones refused) and starts again on the same
port. The queue shows a banner without a keypress, keeps its rows, and recovers by itself (the page
reads and the live-change feed both reconnect): the banner goes, and a change committed elsewhere
afterwards appears. The machine's PostgreSQL itself is never touched."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from conftest import BACKEND, run_subprocess
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.desk import TicketDesk
from test_tui_desk import SIZE, make_tickets, queue_ready
from tui_screen import screen_text

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(BACKEND != "postgres", reason="a database server that goes away: PostgreSQL")]


async def until(pilot, condition, seconds: float = 10.0) -> None:
    """Poll the screen (not waiting for workers: while the database is away, a worker that reads again
    is cancelled by the next one, and waiting for it would raise)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if condition():
            return
    raise AssertionError("the screen never got there:\n" + screen_text(pilot.app))


class Proxy:
    """A TCP proxy on 127.0.0.1 to the PostgreSQL server: `stop()` closes the listening socket and
    every connection through it (the server is gone, connections are refused); `start()` listens on
    the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._running = False

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        with self._lock:
            self._running = True
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:  # stopped
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self._running:  # accepted just as it stopped: cut too
                    for s in (client, upstream):
                        s.close()
                    return
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        with self._lock:
            self._running = False
            sockets, self._sockets = self._sockets, set()
        self._server.close()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def proxy(home):
    from helpdesk.store.db import parse_url

    params = parse_url(home.url).params
    running = Proxy((params.get("host", "127.0.0.1"), int(params.get("port", 5432))))
    running.start()
    yield running
    running.stop()


async def test_the_queue_shows_a_banner_while_the_database_is_away_and_recovers_by_itself(
        desk, home, proxy, monkeypatch, helpdesk_bin):
    from helpdesk.domain.desk import open_desk

    make_tickets(desk)
    direct = {"HELPDESK_DATABASE_URL": home.url}  # what the other process uses: not through the proxy
    through = home.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert through != home.url
    monkeypatch.setenv("HELPDESK_DATABASE_URL", through)
    app = HelpdeskApp(desk=TicketDesk(open_desk()))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 12)
        assert not app.banner.shown
        proxy.stop()
        # no keypress: the feed's connection breaks, the queue reads again and meets the failure
        await until(pilot, lambda: app.banner.shown, seconds=10)
        assert "The desk cannot be read" in app.banner.message and "trying again" in app.banner.message
        assert "cannot read, retrying" in screen_text(app)
        assert app.queue.count == 12 and "Printer 11 jammed" in screen_text(app)  # what it showed stays
        await pilot.pause(1.0)  # a few tries fail meanwhile (each waits longer)
        assert app.banner.shown and app.queue.failed is not None
        proxy.start()
        started = time.monotonic()
        await until(pilot, lambda: not app.banner.shown and app.queue.failed is None and queue_ready(app),
                    seconds=20)
        assert time.monotonic() - started < 15
        assert "cannot read" not in screen_text(app)
        # the live feed is back too: a ticket made by another process appears without a keypress
        proc = run_subprocess([*helpdesk_bin, "ticket", "create", "--title", "Made while we were away"], env=direct)
        assert proc.returncode == 0, proc.stderr
        await until(pilot, lambda: app.queue.count == 13 and "Made while we were away" in screen_text(app),
                    seconds=10)
