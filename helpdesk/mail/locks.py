"""One fetcher per mailbox at a time, across processes and hosts.

PostgreSQL: a session advisory lock (two hosts on one database exclude each other). SQLite: an
exclusive `flock` on a file beside the database (one host by nature). Both are released by the
operating system or the server if the holder dies, so a crash never leaves a mailbox locked.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager

from helpdesk.store.db import is_postgres
from helpdesk.store.mail_queries import advisory_unlock, try_advisory_lock


def _key(schema: str, name: str) -> int:
    # A stable signed 64-bit key per desk and mailbox for pg_try_advisory_lock. Advisory locks are
    # shared by the whole database: two desks in two schemas, each with a mailbox "support", must not
    # skip each other's fetches (or outboxes).
    return int.from_bytes(hashlib.sha256(f"helpdesk-mailbox:{schema}:{name}".encode()).digest()[:8], "big",
                          signed=True)


@contextmanager
def mailbox_lock(desk, name: str):
    """Yields True if this process holds the mailbox, False if another one does (skip it).

    What runs under it talks to a mail server, so it must not run inside a write transaction: the
    database's write lock (row locks on PostgreSQL) would be held for as long as a slow server takes."""
    if desk.db.in_transaction():
        raise RuntimeError(f"mail for {name!r} must not be fetched or sent inside a database transaction")
    if is_postgres(desk.db):
        key = _key(desk.url.schema or "public", name)
        got = try_advisory_lock(desk.db, key)
        try:
            yield got
        finally:
            if got:
                advisory_unlock(desk.db, key)
        return

    path = f"{desk.url.path}.mailbox-{hashlib.sha256(name.encode()).hexdigest()[:12]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
