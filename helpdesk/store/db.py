"""Database URL -> a connected Peewee database.

SQLite runs in WAL mode with a busy timeout and `BEGIN IMMEDIATE` write transactions, so the daemon,
the TUI and the CLI can write to one file at once. PostgreSQL is reached by URL; an optional
`?schema=NAME` puts the desk in its own schema (tests use one schema each).
"""

from __future__ import annotations

import peewee as pw

from helpdesk.errors import ServiceUnavailable
from helpdesk.store.urls import DatabaseUrl, parse_url  # noqa: F401 - part of this module's interface

# Every model binds to this proxy; `connect()` points it at the real database.
database = pw.DatabaseProxy()

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),
    ("busy_timeout", 10000),  # ms: writers queue behind each other instead of failing
    ("foreign_keys", 1),
    ("synchronous", "normal"),  # safe in WAL mode, much faster than FULL
    ("cache_size", -32000),
)


def open_database(url: DatabaseUrl) -> pw.Database:
    """Open (and connect) the database the URL names, binding the models' proxy to it."""
    if url.backend == "sqlite":
        url.path.parent.mkdir(parents=True, exist_ok=True)
        db = pw.SqliteDatabase(str(url.path), pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE",
                               timeout=10, check_same_thread=False)
    else:
        params = dict(url.params)
        if url.schema:
            params["options"] = f"-c search_path={url.schema}"
        params.setdefault("connect_timeout", 5)
        db = pw.PostgresqlDatabase(params.pop("database"), **params)
    try:
        db.connect(reuse_if_open=True)
    except pw.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ServiceUnavailable(f"cannot open the database {url.display()}: {first}") from None
    if url.backend == "postgresql" and url.schema:
        try:
            db.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{url.schema}"')
        except pw.IntegrityError:
            pass  # IF NOT EXISTS races: another process created the schema at this very moment
    database.initialize(db)
    return db


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
