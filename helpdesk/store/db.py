"""Database URL -> a connected Peewee database.

SQLite runs in WAL mode with a busy timeout and `BEGIN IMMEDIATE` write transactions, so the daemon,
the TUI and the CLI can write to one file at once. PostgreSQL is reached by URL; an optional
`?schema=NAME` puts the desk in its own schema (tests use one schema each).

Opening never creates anything: a missing file, database or schema is no desk (`helpdesk init`
creates one, see `helpdesk.domain.desk.create`).
"""

from __future__ import annotations

import os
import threading
import time
from urllib.parse import quote

import peewee as pw

from helpdesk.core.errors import HelpdeskError, NoDesk, ServiceUnavailable
from helpdesk.store.urls import DatabaseUrl, parse_url  # noqa: F401 - part of this module's interface

# Every model binds to this proxy; `connect()` points it at the real database.
database = pw.DatabaseProxy()

BUSY_TIMEOUT = 10.0  # seconds a connection waits for another's lock before it gives up
SQLITE_PRAGMAS = (
    ("busy_timeout", int(BUSY_TIMEOUT * 1000)),  # ms: writers queue behind each other instead of failing
    ("foreign_keys", 1),
    ("synchronous", "normal"),  # safe in WAL mode, much faster than FULL
    ("cache_size", -32000),
)
# The table every desk has from its first migration on: its presence is what makes a database a desk.
DESK_TABLE = "schema_migration"


class _Handoff:
    """Kept in a thread's connection state: when the thread ends and its state is freed, its open,
    idle connection goes back to the database's shelf for the next new thread."""

    __slots__ = ("db", "conn")

    def __init__(self, db: _ReusedConnections, conn) -> None:
        self.db, self.conn = db, conn

    def __del__(self) -> None:
        try:
            self.db._shelve(self.conn)
        except Exception:  # a finaliser never raises; the connection is simply not kept
            pass


class _ReusedConnections:
    """Peewee gives every thread its own connection, and the TUI runs each read in a new worker thread:
    each would open a connection (a PostgreSQL session with a cold catalogue cache, a SQLite one with
    an empty page cache). A thread that ends hands its idle connection to the next new thread instead;
    `close_all` closes them when the desk closes. A connection in a transaction is never handed on."""

    SHELF_SIZE = 4

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shelf: list = []
        self._shelf_lock = threading.Lock()
        self._shelving = True

    def _connect(self):
        with self._shelf_lock:
            while self._shelf:
                conn = self._shelf.pop()
                if self._idle(conn):
                    return conn
                self._discard(conn)
        return super()._connect()

    def connect(self, reuse_if_open: bool = False) -> bool:
        opened = super().connect(reuse_if_open)
        if opened:
            self._state.handoff = _Handoff(self, self._state.conn)
        return opened

    def close(self) -> bool:
        closed = super().close()
        self._state.handoff = None  # its connection is closed: nothing to hand on
        return closed

    def _shelve(self, conn) -> None:
        with self._shelf_lock:
            if self._shelving and len(self._shelf) < self.SHELF_SIZE and self._idle(conn):
                self._shelf.append(conn)
                return
        self._discard(conn)

    def close_all(self) -> None:
        """Close this thread's connection and every shelved one; ending threads close theirs from now on."""
        with self._shelf_lock:
            self._shelving = False
            shelf, self._shelf = self._shelf, []
        for conn in shelf:
            self._discard(conn)
        if not self.is_closed():
            self.close()

    @staticmethod
    def _discard(conn) -> None:
        try:
            conn.close()
        except Exception:  # already closed or broken: nothing to release
            pass


class _SqliteDatabase(_ReusedConnections, pw.SqliteDatabase):
    @staticmethod
    def _idle(conn) -> bool:
        try:
            return not conn.in_transaction
        except Exception:  # closed
            return False


def close_database(db: pw.Database) -> None:
    """Close the database: this thread's connection and those kept for reuse."""
    if isinstance(db, _ReusedConnections):
        db.close_all()
    elif not db.is_closed():
        db.close()


def limit_page_cache(db: pw.Database, kib: int) -> None:
    """SQLite: each connection of `db` (this thread's now, every later one) keeps at most `kib` KiB of
    database pages in its own cache; reads beyond it come from the operating system's file cache.
    PostgreSQL caches on the server: nothing to do."""
    if isinstance(db, pw.SqliteDatabase):
        db.pragma("cache_size", -int(kib), permanent=True)


def open_database(url: DatabaseUrl) -> pw.Database:
    """Connect to the existing database the URL names and bind the models' proxy to it."""
    db = _open_sqlite(url) if url.backend == "sqlite" else _open_postgres(url)
    database.initialize(db)
    return db


def _open_sqlite(url: DatabaseUrl) -> pw.Database:
    # mode=rw: a missing file is an error, never a new empty database (a typo must not look like data loss).
    db = _SqliteDatabase(f"file:{quote(str(url.path))}?mode=rw", uri=True, pragmas=SQLITE_PRAGMAS,
                           lock_type="IMMEDIATE", timeout=BUSY_TIMEOUT, check_same_thread=False)

    def connect() -> None:
        db.connect(reuse_if_open=True)
        if has_desk(db):  # someone else's database is left as it is
            _wal(db)

    _retry_busy(db, url, connect)
    return db


def use_wal(db: pw.Database, url: DatabaseUrl) -> None:
    """Put a new SQLite desk in WAL mode (persistent, and impossible inside a transaction)."""
    _retry_busy(db, url, lambda: _wal(db))


def _wal(db: pw.Database) -> None:
    if db.execute_sql("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        db.execute_sql("PRAGMA journal_mode = wal")


def _retry_busy(db: pw.Database, url: DatabaseUrl, step) -> None:
    # Switching a database to WAL needs it to itself and fails at once (the busy handler is not asked)
    # while another connection writes: opening retries for as long as the busy timeout, like any lock.
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            step()
            return
        except pw.DatabaseError as exc:
            if _busy(exc) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            db.close()
            raise _sqlite_open_error(url, exc) from None


def _busy(exc: Exception) -> bool:
    name = getattr(getattr(exc, "orig", None), "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc)


def _sqlite_open_error(url: DatabaseUrl, exc: Exception) -> HelpdeskError:
    path = url.path
    name = getattr(getattr(exc, "orig", None), "sqlite_errorname", "") or ""
    if not path.exists():
        return NoDesk(f"no desk at {path}: create one with `helpdesk init`")
    if name == "SQLITE_NOTADB" or "not a database" in str(exc):
        return NoDesk(f"no desk at {path}: the file is not a SQLite database")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) and not (
            os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        return HelpdeskError(f"cannot open the desk at {path}: permission denied (you need to read and write "
                             f"the database and write its folder {path.parent}, where SQLite keeps its -wal "
                             "and -shm files)")
    return ServiceUnavailable(f"cannot open the database {url.display()}: {_first_line(exc)}")


class _PostgresqlDatabase(_ReusedConnections, pw.PostgresqlDatabase):
    """A connection the server dropped (a restart, a network cut) is replaced by a new one at the
    thread's next statement outside a transaction, instead of failing every later call ("connection
    already closed"): a screen or the daemon recovers once the database is back. The statement that
    met the broken connection still fails (it may have been a write); nothing is retried here."""

    @staticmethod
    def _idle(conn) -> bool:
        return not conn.closed and conn.get_transaction_status() == 0  # psycopg2: TRANSACTION_STATUS_IDLE

    def cursor(self, named_cursor=None):
        conn = self._state.conn
        if conn is not None and conn.closed and not self._state.closed and not self.in_transaction():
            self._state.reset()  # psycopg2 closed it on the error; autoconnect opens a new one
        return super().cursor(named_cursor)


def _open_postgres(url: DatabaseUrl) -> pw.Database:
    params = dict(url.params)
    if url.schema:
        params["options"] = f"-c search_path={url.schema}"
    params.setdefault("connect_timeout", 5)
    name = params.pop("database")
    db = _PostgresqlDatabase(name, **params)
    try:
        db.connect(reuse_if_open=True)
    except pw.OperationalError as exc:
        first = _first_line(exc)
        if f'database "{name}" does not exist' in first:  # the server answered: no unreachable service
            raise NoDesk(f"no desk at {url.display()}: the database '{name}' does not exist; create it "
                         f"(createdb {name}), then run `helpdesk init`") from None
        raise ServiceUnavailable(f"cannot open the database {url.display()}: {first}") from None
    return db


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def has_desk(db: pw.Database) -> bool:
    """Whether the database holds a desk (in the URL's schema on PostgreSQL)."""
    if is_postgres(db):
        return db.execute_sql(f"SELECT to_regclass('{DESK_TABLE}') IS NOT NULL").fetchone()[0]
    return db.execute_sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (DESK_TABLE,)).fetchone() is not None


def table_count(db: pw.Database) -> int:
    """Tables in a SQLite file: a file with tables but no desk is someone else's database."""
    return db.execute_sql("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]


def create_schema(db: pw.Database, url: DatabaseUrl) -> None:
    """The URL's PostgreSQL schema, for a new desk (inside the caller's transaction)."""
    if url.backend == "postgresql" and url.schema:
        try:
            with db.atomic():  # a savepoint: losing the race below must not abort the caller's transaction
                db.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{url.schema}"')
        except pw.IntegrityError:
            pass  # IF NOT EXISTS races: another init created the schema at this very moment


def is_postgres(db: pw.Database | None = None) -> bool:
    target = db if db is not None else database.obj
    return isinstance(target, pw.PostgresqlDatabase)


def refresh_statistics(db: pw.Database, *, full: bool = False) -> None:
    """Keep the planners' statistics current: without them SQLite sorts every open ticket for a queue
    query (114 ms instead of 4 ms at a million tickets). `full` after bulk loads; else the cheap check
    SQLite recommends at the end of every connection."""
    if is_postgres(db):
        # Autovacuum keeps PostgreSQL's statistics; after a bulk load only the tables the queue and
        # search queries plan on are refreshed at once (all of them took seconds on a big desk).
        if full:
            db.execute_sql('ANALYZE "ticket", "ticket_tag", "ticket_search"')
        return
    if full:
        db.execute_sql("PRAGMA analysis_limit = 1000")
        db.execute_sql("ANALYZE")
    else:
        db.execute_sql("PRAGMA optimize")
    _stand_in_statistics(db)


def _stand_in_statistics(db: pw.Database) -> None:
    """SQLite: ANALYZE writes no statistics for an empty index (a partial one before its first row, such
    as the tickets a sweep marked), and `PRAGMA optimize` then analyses that index's whole table again
    at the end of every command for want of them: 1.5 s of every command on a million tickets. A row
    stands in until the next ANALYZE of the table replaces it, saying the index is as big as its table:
    the planner must never think walking it cheap, since it fills as the desk runs (an earlier stand-in,
    "one entry", sent `MIN(due_at)` of one ticket's clocks through every running clock: 2,000x slower).
    Only for tables ANALYZE has measured (their other indexes' rows give the size): an empty table's
    indexes get none, so its first real statistics come from `PRAGMA optimize` once it has rows.
    (A sampled ANALYZE is no way out: its estimates sent the due-sorted queue through a sort of every
    open ticket.)"""
    if not db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        return
    missing = db.execute_sql(
        "SELECT m.name, m.tbl_name FROM sqlite_master AS m WHERE m.type = 'index' AND m.sql IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM sqlite_stat1 AS s WHERE s.idx = m.name)").fetchall()
    if not missing:
        return
    sizes = {table: int(size) for table, size in db.execute_sql(
        "SELECT tbl, MAX(CAST(stat AS INTEGER)) FROM sqlite_stat1 GROUP BY tbl").fetchall() if size}
    stand_ins = [(table, index) for index, table in missing if sizes.get(table)]
    if not stand_ins:
        return
    with db.atomic():
        for table, index in stand_ins:
            columns = len(db.execute_sql(f'PRAGMA index_info("{index}")').fetchall())
            db.execute_sql("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)",
                           (table, index, " ".join([str(sizes[table])] + ["1"] * columns)))


def failure(exc: BaseException) -> HelpdeskError | None:
    """A database exception as the desk's error with the message and exit code front ends show (a
    lost or refused connection: unavailable; a refused statement: failed); None for anything else.
    Front ends and the daemon use it so that only the store knows Peewee's exception classes."""
    if isinstance(exc, pw.OperationalError):
        return ServiceUnavailable(f"database: {_first_line(exc)}")
    if isinstance(exc, pw.InterfaceError):
        return ServiceUnavailable(f"database connection lost: {exc}")
    if isinstance(exc, pw.DatabaseError):
        return HelpdeskError(f"database refused the change: {_first_line(exc)}")
    return None
