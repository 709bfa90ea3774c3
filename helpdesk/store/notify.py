"""Change notifications: which tickets a committed write changed, for whoever shows them live (the TUI).

`publish(desk, numbers)` runs after the commit (`services.work` calls it for every unit of work that
changed tickets); `listen(target)` gives a `Listener` another process (or thread) polls for them.

- PostgreSQL: `NOTIFY` on a channel per desk (`helpdesk_changes`, or `helpdesk_changes_<schema>` for a
  desk in a schema), the payload the JSON list of ticket numbers. The listener holds a connection of its
  own in LISTEN and waits on its socket with select(); `Listener.fileno()` lets an event loop do that.
- SQLite: an append-only file beside the database (`<db>.changes`), one JSON line per commit. A
  listener's token is where it stopped reading: polling is one stat(), plus one small read when the
  file grew. The file is started again past `LOG_LIMIT`; a listener that was behind then gets
  "everything changed".

Notifications are a hint to refresh, not a record: a payload too large to list (or a listener that
lost track) says `everything`, and the listener reloads what it shows.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import select
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpdesk.store.urls import DatabaseUrl, parse_url

CHANNEL = "helpdesk_changes"
PAYLOAD_LIMIT = 4000  # bytes of ticket numbers in one notification (PostgreSQL allows 8000; one line
# of the SQLite log stays one atomic append): past it the notification says "everything"
LOG_LIMIT = 1 << 20  # bytes of the SQLite change log before it is started again
SQLITE_POLL = 0.05  # seconds between looks at the change log while a listener waits


@dataclass(frozen=True)
class Changes:
    """What changed since the last poll: these tickets, or (`everything`) more than can be listed."""

    tickets: frozenset[int] = frozenset()
    everything: bool = False

    def __bool__(self) -> bool:
        return self.everything or bool(self.tickets)

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.tickets | other.tickets, self.everything or other.everything)


NOTHING = Changes()
EVERYTHING = Changes(everything=True)


def _url(target) -> DatabaseUrl:
    if isinstance(target, DatabaseUrl):
        return target
    if isinstance(target, str):
        return parse_url(target)
    return target.url  # a desk


def channel(url: DatabaseUrl) -> str:
    """The desk's PostgreSQL channel: desks in two schemas of one database do not hear each other."""
    if not url.schema:
        return CHANNEL
    name = f"{CHANNEL}_{url.schema}"
    if len(name.encode()) > 63:  # PostgreSQL's identifier limit
        name = f"{CHANNEL}_{hashlib.sha256(url.schema.encode()).hexdigest()[:24]}"
    return name


def change_log(url: DatabaseUrl) -> Path:
    """The SQLite desk's change log, beside the database (as its lock files are)."""
    return Path(f"{url.path}.changes")


def _payload(numbers) -> str:
    text = json.dumps(sorted({int(n) for n in numbers}), separators=(",", ":"))
    return text if len(text) <= PAYLOAD_LIMIT else "null"


def _parse(payload: str) -> Changes:
    try:
        value = json.loads(payload)
    except ValueError:
        return EVERYTHING
    if not isinstance(value, list):
        return EVERYTHING
    return Changes(frozenset(n for n in value if isinstance(n, int)))


# ---------------------------------------------------------------- publishing


def publish(desk, numbers) -> None:
    """Announce that these tickets changed. Call it after the commit that changed them (never inside a
    transaction: on SQLite the listener would look before the data is there)."""
    numbers = list(numbers)
    if not numbers:
        return
    payload = _payload(numbers)
    if desk.url.backend == "postgresql":
        desk.db.execute_sql("SELECT pg_notify(%s, %s)", (channel(desk.url), payload))
    else:
        _append(change_log(desk.url), payload.encode() + b"\n")


def _append(path: Path, line: bytes) -> None:
    # Appenders share a lock the rotation takes alone, so no line goes to a file already replaced.
    for _ in range(5):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            stat = os.fstat(fd)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = None
            if current != stat.st_ino:
                continue  # rotated while we waited: append to the new file
            os.write(fd, line)
            full = stat.st_size + len(line) > LOG_LIMIT
        finally:
            os.close(fd)
        if full:
            _rotate(path)
        return


def _rotate(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        stat = os.fstat(fd)
        if stat.st_ino != os.stat(path).st_ino or stat.st_size <= LOG_LIMIT:
            return  # another writer rotated it first
        new_fd, new = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        os.close(new_fd)
        os.replace(new, path)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- listening


@dataclass(frozen=True)
class Token:
    """Where a SQLite listener stopped reading the change log (file identity and offset)."""

    inode: int | None
    offset: int


def current_token(target) -> Token:
    """The change log's end now: `changes_since` from it reports only later changes."""
    try:
        stat = os.stat(change_log(_url(target)))
    except FileNotFoundError:
        return Token(None, 0)
    return Token(stat.st_ino, stat.st_size)


def changes_since(target, token: Token) -> tuple[Changes, Token]:
    """SQLite: what changed after `token`, and the token to ask from next time. One stat() when nothing
    changed; one small read when something did."""
    path = change_log(_url(target))
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return (NOTHING if token.inode is None else EVERYTHING), Token(None, 0)
    if stat.st_ino == token.inode and stat.st_size == token.offset:
        return NOTHING, token
    start = token.offset if stat.st_ino == token.inode and stat.st_size > token.offset else 0
    lost = token.inode is not None and start == 0  # the log was started again: we may have missed some
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_ino != stat.st_ino:  # rotated between stat and open
                return EVERYTHING, current_token(target)
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return EVERYTHING, Token(None, 0)
    complete = data.rfind(b"\n") + 1  # a line still being written is read next time
    changes = EVERYTHING if lost else NOTHING
    for line in data[:complete].splitlines():
        changes = changes | _parse(line.decode(errors="replace"))
    return changes, Token(stat.st_ino, start + complete)


class Listener:
    """Changed tickets of one desk, as other connections commit them. `poll(timeout)` returns what
    changed since the previous poll (waiting up to `timeout` seconds for something); iterating waits
    for each next change. Close it (or use it as a context manager) when done."""

    def __init__(self, target):
        self.url = _url(target)
        self._conn = None
        self._token: Token | None = None
        if self.url.backend == "postgresql":
            self._connect()
        else:
            self._token = current_token(self.url)

    def _connect(self) -> None:
        import psycopg2  # lazy: the driver is loaded only for a PostgreSQL desk

        params = dict(self.url.params or {})
        params.setdefault("connect_timeout", 5)
        conn = psycopg2.connect(dbname=params.pop("database"), **params)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute('LISTEN "{}"'.format(channel(self.url).replace('"', '""')))
        self._conn = conn

    @property
    def connected(self) -> bool:
        """PostgreSQL: whether the LISTEN connection is up (poll reconnects it; what was missed while it
        was down comes as `everything`). SQLite: always (a file beside the database)."""
        return self.url.backend != "postgresql" or (self._conn is not None and not self._conn.closed)

    def fileno(self) -> int | None:
        """PostgreSQL: the socket that becomes readable when a notification arrives (for an event
        loop's add_reader; then call `poll(0)`). SQLite: None (poll on a timer)."""
        return self._conn.fileno() if self._conn is not None else None

    def poll(self, timeout: float = 0.0) -> Changes:
        if self.url.backend == "postgresql":
            return self._poll_postgres(timeout)
        deadline = time.monotonic() + timeout
        while True:
            changes, self._token = changes_since(self.url, self._token)
            remaining = deadline - time.monotonic()
            if changes or remaining <= 0:
                return changes
            time.sleep(min(SQLITE_POLL, remaining))

    def _poll_postgres(self, timeout: float) -> Changes:
        import psycopg2  # lazy: the driver is loaded only for a PostgreSQL desk

        lost = NOTHING
        if self._conn is None or self._conn.closed:
            try:  # the connection was lost: listen again, and say what we may have missed
                self._connect()
                lost = EVERYTHING
            except psycopg2.Error:
                time.sleep(timeout)
                return NOTHING
        conn = self._conn
        try:
            if not conn.notifies and timeout > 0:
                select.select([conn], [], [], timeout)
            conn.poll()
        except (psycopg2.Error, OSError):
            self._close_connection()
            return lost
        changes = lost
        while conn.notifies:
            changes = changes | _parse(conn.notifies.pop(0).payload)
        return changes

    def __iter__(self):
        while True:
            changes = self.poll(60.0)
            if changes:
                yield changes

    def _close_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        self._close_connection()
        self._conn = None  # (a SQLite listener holds nothing open)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def listen(target) -> Listener:
    """A listener for the desk (a Desk, a DatabaseUrl or a database URL string): it hears what is
    committed from the moment it is made."""
    return Listener(target)
