"""The desk a command works on: configuration, the open database, the clock and the acting agent.

Every front end (CLI, TUI, daemon) opens one with `open_desk()` and hands it to the domain services.
Only `create()` (what `helpdesk init` runs) makes a desk: opening one that is not there is an error that
says how to make it, never a new empty desk (a typo in a path must not look like lost data).
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from helpdesk import config as config_mod
from helpdesk.config import Config
from helpdesk.core import limits, locations
from helpdesk.core.clock import SystemClock
from helpdesk.core.errors import HelpdeskError, InvalidInput, NoDesk
from helpdesk.core.sanitise import inert
from helpdesk.domain import agents, outbox
from helpdesk.store import cache, extensions, migrations
from helpdesk.store.db import close_database, create_schema, has_desk, limit_page_cache, open_database, refresh_statistics, table_count, use_wal
from helpdesk.store.models import Agent, Queue, Setting
from helpdesk.store.urls import DatabaseUrl, database_url, parse_url

if TYPE_CHECKING:
    import peewee as pw

    from helpdesk.domain.agents import AgentView

# The desk's own machinery acts under these names (agents.is_system): no agent login contains ':'.
SYSTEM_DAEMON = "system:daemon"  # daemon, mail fetch / send, the SLA sweep: cron needs no agent
SYSTEM_INIT = "system:init"  # registers the first admin
SYSTEM_MIGRATE = "system:migrate"  # helpdesk db migrate: schema upkeep, no ticket work


def acting_login(cfg: Config) -> str:
    """HELPDESK_AGENT, else `[me] agent`, else the OS login name."""
    return _acting_login(cfg)[0]


def _acting_login(cfg: Config) -> tuple[str, str]:
    """The acting login and where it came from (errors name the source)."""
    login = os.environ.get("HELPDESK_AGENT")
    if login:
        return login, "from HELPDESK_AGENT"
    if cfg.agent:
        return cfg.agent, f"from [me] agent in {cfg.source or 'the config'}"
    try:
        return getpass.getuser(), "your login name"
    except Exception:  # no login name (e.g. a container without /etc/passwd entry)
        return "", "your login name"


@dataclass(frozen=True)
class Desk:
    """Immutable, so one desk can serve several threads (each gets its own connection: Peewee's are
    per thread). Acting as someone else is a new desk (`acting_as`); what is read once per database
    (the Message-ID key, the type records) is kept in `store.cache`, not here."""

    config: Config
    db: pw.Database
    url: DatabaseUrl
    actor: str
    clock: object = field(default_factory=SystemClock)
    actor_source: str = ""  # where the acting login came from (HELPDESK_AGENT, [me] agent, the OS login)
    warnings: tuple[str, ...] = ()  # for the front end to show once (config exposure)
    rules_muted: bool = False  # changes made by a rule raise no further rules (no loops)

    def now(self):
        return self.clock.now()

    def acting_as(self, login: str, *, source: str = "", rules_muted: bool | None = None) -> Desk:
        """This desk, with another acting login (the original is unchanged)."""
        return dataclasses.replace(self, actor=login, actor_source=source,
                                   rules_muted=self.rules_muted if rules_muted is None else rules_muted)

    def close(self) -> None:
        if not self.db.is_closed():
            try:
                refresh_statistics(self.db)
            except Exception:  # statistics are an optimisation: never fail a command over them
                pass
            close_database(self.db)


def open_desk(cfg: Config | None = None, *, clock=None, actor: str | None = None, migrate: bool = True,
              page_cache_kib: int | None = None) -> Desk:
    """Open the existing desk: connect, apply pending migrations, bring extension tables in line with the
    types, and check who acts: a registered, active agent, unless `actor` names the system.
    `page_cache_kib`: SQLite's page cache per connection (default: the store's, sized for bulk work)."""
    cfg = cfg if cfg is not None else config_mod.load()
    url = database_url(cfg)
    _check_location(url)
    db = open_database(url)
    if page_cache_kib is not None:
        limit_page_cache(db, page_cache_kib)
    login, source = (actor, "") if actor else _acting_login(cfg)
    desk = Desk(config=cfg, db=db, url=url, actor=login, actor_source=source, clock=clock or SystemClock(),
                warnings=tuple(config_warnings(cfg)))
    try:
        if not has_desk(db):
            raise NoDesk(no_desk_message(url))
        if migrate:
            prepare(desk)
        if not agents.is_system(login):
            agents.require(desk, "work")
    except BaseException:
        desk.close()
        raise
    return desk


def _check_location(url: DatabaseUrl) -> None:
    """No desk where the configuration points: say so before anything is opened (or created)."""
    home = locations.home_override()
    if home is not None and not home.is_dir():
        raise NoDesk(f"no desk at {inert(str(home), layout=False)} (HELPDESK_HOME): there is no such folder; "
                     "create a desk there with `helpdesk init`")
    if url.backend == "sqlite" and not url.path.is_file():
        raise NoDesk(no_desk_message(url))


def no_desk_message(url: DatabaseUrl) -> str:
    if url.backend == "sqlite":
        return (f"no desk at {inert(str(url.path), layout=False)}: create one with `helpdesk init` (or point "
                "HELPDESK_HOME or HELPDESK_DATABASE_URL at an existing desk)")
    where = f" in schema '{url.schema}'" if url.schema else ""
    return (f"no desk at {inert(url.display(), layout=False)}: the database has no helpdesk tables{where}; "
            "create them with `helpdesk init`")


def config_warnings(cfg: Config) -> list[str]:
    """A config holding a mail password that others can read (the *_env forms hold none)."""
    path = cfg.source
    holds_password = any(m.imap_password for m in cfg.mailboxes) or bool(cfg.smtp and cfg.smtp.password)
    if not holds_password or path is None:
        return []
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return []
    if not mode & 0o044:
        return []
    shown = inert(str(path), layout=False)
    return [f"{shown} holds a mail password and is readable by others (mode {mode:04o}): chmod 600 {shown}, "
            "or move the password to the environment (imap_password_env, password_env)"]


@dataclass
class Created:
    """What `create` did, for `helpdesk init` to report."""

    config: Path
    config_written: bool
    database: str
    database_created: bool
    agent: AgentView
    sample: dict | None = None
    warnings: list[str] = field(default_factory=list)


def create(*, sample: bool = False) -> Created:
    """`helpdesk init`: create the desk where the configuration points, all or nothing.

    Writes the shipped config if there is none (0600), creates the folders (0700), the database (a 0600
    SQLite file, or the tables in the PostgreSQL database / schema) and registers the acting login (the
    OS login unless HELPDESK_AGENT or [me] agent say otherwise) as its first admin; with `sample`, sample
    agents, customers and tickets. On an existing desk it migrates, keeps everything, and registers the
    acting login as admin only if the desk has no admin yet. A failure leaves nothing behind: the database
    work is one transaction, and every file and folder this call made is removed again.
    """
    config_path = locations.config_file()
    made: list[Path] = []  # files and folders this call created, in order
    tmp_config: Path | None = None
    db = None
    try:
        config_text = None
        if config_path.exists():
            cfg = config_mod.load(config_path)
        else:
            config_text = locations.default_config_source().read_text()
            cfg = config_mod.parse(tomllib.loads(config_text), config_path)
        login, source = _acting_login(cfg)
        _check_first_login(login, source)
        url = database_url(cfg)
        if config_text is not None:
            made += _making(config_path.parent, locations.make_private_dirs, config_path.parent)
            tmp_config = config_path.with_name(f".{config_path.name}.{os.getpid()}.init")
            _making(config_path, locations.create_private_file, tmp_config, config_text.encode())
        made += _making(locations.attachments_dir(), locations.make_private_dirs, locations.attachments_dir())
        if url.backend == "sqlite":
            made += _making(url.path.parent, locations.make_private_dirs, url.path.parent)
            if not url.path.exists():
                _making(url.path, locations.create_private_file, url.path)
                made.append(url.path)
        db = open_database(url)
        existed = has_desk(db)
        if url.backend == "sqlite" and not existed and table_count(db):
            raise InvalidInput(f"{inert(str(url.path), layout=False)} is a SQLite database of something else, "
                               "not a desk: choose another path")
        if url.backend == "sqlite":
            use_wal(db, url)
        desk = Desk(config=cfg, db=db, url=url, actor=SYSTEM_INIT, actor_source=source)
        counts = None
        with db.atomic():  # one transaction: a desk is made whole or not at all
            create_schema(db, url)
            prepare(desk)
            me, desk = _first_admin(desk, login, source)
            if sample:
                from helpdesk.domain import sample as sample_mod  # lazy: only `init --sample` loads it (and the lifecycle it drives)

                counts = sample_mod.load(desk)
            if tmp_config is not None:
                if config_path.exists():
                    raise HelpdeskError(f"{config_path} was written by someone else meanwhile: run `helpdesk "
                                        "init` again to use it")
                os.replace(tmp_config, config_path)
                made.append(config_path)
                tmp_config = None
        desk.close()
        return Created(config=config_path, config_written=config_text is not None,
                       database=url.display(), database_created=not existed, agent=me,
                       sample=counts, warnings=config_warnings(cfg))
    except BaseException:
        if db is not None and not db.is_closed():
            close_database(db)
        _remove(made, tmp_config)
        raise


def _making(target: Path, make, *args):
    """Run `make(*args)` to create `target`; an OSError becomes one clear line naming it."""
    try:
        return make(*args)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise HelpdeskError(f"cannot create {inert(str(target), layout=False)}: {reason}") from None


def _remove(made: list[Path], tmp_config: Path | None) -> None:
    """Undo what a failed `create` made: its files (a SQLite file with its -wal/-shm/-journal), then its
    folders, innermost first."""
    if tmp_config is not None:
        tmp_config.unlink(missing_ok=True)
    for path in reversed(made):
        try:
            if path.is_dir():
                path.rmdir()
            else:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        except OSError:
            pass  # not empty (someone else's files): leave it


def _check_first_login(login: str, source: str) -> None:
    if not login:
        raise InvalidInput("cannot tell who you are: set HELPDESK_AGENT to your agent login "
                           "(HELPDESK_AGENT=ann helpdesk init)")
    try:
        limits.check_login(login)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc} ({source}); set HELPDESK_AGENT to the agent login you want "
                           "(HELPDESK_AGENT=ann helpdesk init)") from None


def _first_admin(desk: Desk, login: str, source: str) -> tuple[AgentView, Desk]:
    """The acting login, made the desk's admin if it has none; on a desk with an admin, init acts as the
    acting agent like any command (an unknown login is refused). Returns the agent and the desk acting
    as them."""
    if not Agent.select().where((Agent.role == "admin") & Agent.active).exists():
        if Agent.get_or_none(Agent.login == login) is None:
            agents.add(desk, login, role="admin")
        else:  # a desk made before roles by first use: its agent becomes the admin
            agents.update(desk, login, role="admin", active=True)
    desk = desk.acting_as(login, source=source)
    agents.require(desk, "work")
    return agents.get(desk, login), desk


def prepare(desk: Desk, *, force: bool = False) -> tuple[list[str], list[str]]:
    """Apply pending migrations, sync extension tables and queues; returns (migrations, type changes)."""
    applied = migrations.migrate(desk.db)
    changes = extensions.sync_types(desk.config.types, None if force else desk.config.types_fingerprint())
    if force:
        extensions.sync_types(desk.config.types, desk.config.types_fingerprint())
    sync_queues(desk)
    cache.for_database(desk.db).drop(extensions.TYPE_RECORDS, outbox.MESSAGE_ID_SECRET)
    ensure_message_id_secret(desk)
    return applied, changes


def ensure_message_id_secret(desk: Desk) -> bytes:
    """The key our Message-IDs are signed with: made once per database, cached for it (`store.cache`)."""
    # Outside any transaction (made and autocommitted only in a new database): safe to cache at once.
    return cache.for_database(desk.db).put(outbox.MESSAGE_ID_SECRET, outbox.desk_secret(desk))


def sync_queues(desk: Desk) -> None:
    """Configured queues exist in the database (tickets reference them); none is ever deleted."""
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
