"""The desk a command works on: configuration, the open database, the clock and the acting agent.

Every front end (CLI, TUI, daemon) opens one with `open_desk()` and hands it to the domain services.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from helpdesk import config as config_mod
from helpdesk import locations
from helpdesk.clock import SystemClock
from helpdesk.config import Config
from helpdesk.store.urls import DatabaseUrl, parse_url

if TYPE_CHECKING:
    import peewee as pw


def database_url(cfg: Config) -> DatabaseUrl:
    """HELPDESK_DATABASE_URL, else `[database] url`, else the SQLite file in the data directory."""
    url = os.environ.get("HELPDESK_DATABASE_URL") or cfg.database_url
    if url:
        return parse_url(url)
    return DatabaseUrl("sqlite", path=locations.default_database_path())


def acting_login(cfg: Config) -> str:
    """HELPDESK_AGENT, else `[me] agent`, else the OS login name."""
    login = os.environ.get("HELPDESK_AGENT") or cfg.agent
    if login:
        return login
    try:
        return getpass.getuser()
    except Exception:  # no login name (e.g. a container without /etc/passwd entry)
        return "agent"


@dataclass
class Desk:
    config: Config
    db: pw.Database
    url: DatabaseUrl
    actor: str
    clock: object = field(default_factory=SystemClock)
    # Cached by `prepare` / on first use: the Message-ID key (outbox.desk_secret) and the ticket type
    # records (extensions.type_records; dropped by sync_types).
    message_id_secret: bytes | None = field(default=None, repr=False)
    type_records: dict | None = field(default=None, repr=False)

    def now(self):
        return self.clock.now()

    def close(self) -> None:
        if not self.db.is_closed():
            from helpdesk.store.db import refresh_statistics

            try:
                refresh_statistics(self.db)
            except Exception:  # statistics are an optimisation: never fail a command over them
                pass
            self.db.close()


def open_desk(cfg: Config | None = None, *, clock=None, actor: str | None = None, migrate: bool = True) -> Desk:
    """Open the desk: connect, apply pending migrations, bring extension tables in line with the types."""
    from helpdesk.store.db import open_database

    cfg = cfg if cfg is not None else config_mod.load()
    url = database_url(cfg)
    db = open_database(url)
    desk = Desk(config=cfg, db=db, url=url, actor=actor or acting_login(cfg), clock=clock or SystemClock())
    if migrate:
        prepare(desk)
    return desk


def prepare(desk: Desk, *, force: bool = False) -> tuple[list[str], list[str]]:
    """Apply pending migrations, sync extension tables and queues; returns (migrations, type changes)."""
    from helpdesk.store import extensions, migrations

    applied = migrations.migrate(desk.db)
    changes = extensions.sync_types(desk.config.types, None if force else desk.config.types_fingerprint())
    if force:
        extensions.sync_types(desk.config.types, desk.config.types_fingerprint())
    sync_queues(desk)
    desk.type_records = None
    desk.message_id_secret = None
    ensure_message_id_secret(desk)
    return applied, changes


def ensure_message_id_secret(desk: Desk) -> bytes:
    """The key our Message-IDs are signed with: made once per database, cached on the desk."""
    from helpdesk import outbox

    # Outside any transaction (made and autocommitted only in a new database): safe to cache at once.
    desk.message_id_secret = outbox.desk_secret(desk)
    return desk.message_id_secret


def sync_queues(desk: Desk) -> None:
    """Configured queues exist in the database (tickets reference them); none is ever deleted."""
    from helpdesk.store.models import Queue, Setting

    fingerprint = "|".join(f"{q.name}:{q.description}:{q.lead}:{q.auto_assign}" for q in desk.config.queues)
    row = Setting.get_or_none(Setting.key == "queues_fingerprint")
    if row is not None and row.value == fingerprint:
        return
    with desk.db.atomic():
        for spec in desk.config.queues:
            Queue.insert(name=spec.name, description=spec.description, auto_assign=spec.auto_assign).on_conflict(
                conflict_target=[Queue.name],
                update={Queue.description: spec.description, Queue.auto_assign: spec.auto_assign},
            ).execute()
        Setting.insert(key="queues_fingerprint", value=fingerprint).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: fingerprint}).execute()
