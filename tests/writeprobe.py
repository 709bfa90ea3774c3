"""Whether the database's write lock is free right now: a write from a second, independent connection
that refuses to wait.

SQLite: `BEGIN IMMEDIATE` (takes the one write lock) with no busy timeout, an UPDATE, COMMIT.
PostgreSQL: an UPDATE of the given rows with a short lock_timeout, so a row lock still held by the
first connection's transaction fails it instead of blocking.
"""

from __future__ import annotations

import sqlite3
import time

LOCK_TIMEOUT_MS = 300


def write_now(url: str, statement: str, params: tuple = ()) -> float:
    """Run one write (SQL with `?` placeholders) in its own transaction on a new connection; returns the
    seconds it took. Raises if the write lock (or a row lock) is held by someone else."""
    from helpdesk.store.db import parse_url

    parsed = parse_url(url)
    started = time.monotonic()
    if parsed.backend == "sqlite":
        conn = sqlite3.connect(str(parsed.path), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(statement, params)
            conn.execute("COMMIT")
        finally:
            conn.close()
    else:
        import psycopg2

        params_ = dict(parsed.params)
        conn = psycopg2.connect(dbname=params_.pop("database"), **params_,
                                options=f"-c search_path={parsed.schema or 'public'}")
        try:
            with conn, conn.cursor() as cur:
                cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
                cur.execute(f"SET LOCAL statement_timeout = '{LOCK_TIMEOUT_MS * 3}ms'")
                cur.execute(statement.replace("?", "%s"), params)
        finally:
            conn.close()
    return time.monotonic() - started
