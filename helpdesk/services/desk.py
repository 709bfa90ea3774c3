"""The desk itself: create it (`helpdesk init`), open it for one action, migrate it, say where it is.

Opening and migrating run no unit of work: migrations commit step by step (DDL on PostgreSQL, table
rebuilds on SQLite) and `create` is one transaction of its own that also writes files.
"""

from __future__ import annotations

from helpdesk.core.errors import HelpdeskError
from helpdesk.domain import desk as desk_mod
from helpdesk.domain.desk import SYSTEM_DAEMON, SYSTEM_MIGRATE, Created, Desk  # noqa: F401 - for front ends


def create(*, sample: bool = False) -> Created:
    """Create the desk where the configuration points (or migrate the one there), all or nothing."""
    return desk_mod.create(sample=sample)


def open(*, migrate: bool = True, actor: str | None = None,  # noqa: A001 - the desk's verb
         page_cache_kib: int | None = None) -> Desk:
    """The desk for one action; the caller closes it. `actor`: one of the SYSTEM_* names, else the
    acting agent (HELPDESK_AGENT, [me] agent, the login name) must be registered and active.
    `page_cache_kib`: a smaller SQLite page cache per connection, for a long-running reader whose
    memory should not grow with the desk (the TUI)."""
    return desk_mod.open_desk(migrate=migrate, actor=actor, page_cache_kib=page_cache_kib)


def migrate(desk: Desk) -> dict:
    """Pending migrations applied and type extension tables brought in line with the config."""
    applied, changes = desk_mod.prepare(desk, force=True)
    return {"applied": applied, "types": changes}




def database_failure(exc: BaseException) -> HelpdeskError | None:
    """A database driver's exception as the desk's error (message and exit code); None if it is not one."""
    from helpdesk.store.db import failure  # lazy: only on an error path; the store alone knows Peewee

    return failure(exc)
