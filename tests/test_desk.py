"""Where the desk lives and who may act on it, on both backends.

Only `helpdesk init` creates a desk: every other command says there is none (and how to make one), a
failed init leaves nothing behind, and what init writes is private whatever the umask. Only registered,
active agents act; admins manage agents; the desk's own machinery (daemon, mail, SLA sweep) acts as the
system.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import BACKEND, PG_URL, make_desk, run_subprocess
from helpdesk.store.models import AuditEvent, Ticket
from test_cli import ok, one_error

NO_DESK_COMMANDS = [
    ["ticket", "list"],
    ["ticket", "create", "--title", "Printer on fire"],
    ["ticket", "show", "1"],
    ["agent", "list"],
    ["agent", "add", "bob"],
    ["db", "migrate"],
    ["export"],
    ["mail", "status"],
    ["mail", "fetch"],
    ["sla", "check"],
]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def pg_schema_exists(schema: str) -> bool:
    import psycopg2

    from helpdesk.store.db import parse_url

    params = dict(parse_url(PG_URL).params)
    conn = psycopg2.connect(dbname=params.pop("database"), **params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
            return cur.fetchone() is not None
    finally:
        conn.close()


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")} if path.exists() else set()


def assert_no_desk_made(home) -> None:
    """Nothing of a desk in the home (the config is the user's) nor in the database."""
    assert files_under(home.path) <= {"config.toml"}, files_under(home.path)
    if BACKEND == "postgres":
        assert not pg_schema_exists(home.schema)


DAC_CAPS = "-dac_override,-dac_read_search"


def unprivileged(args: list[str]) -> list[str]:
    """Run so that file permissions apply (root ignores them): as root without the capabilities that
    override them, so the process still owns what the test made and still reaches the interpreter
    wherever the checkout lies (another user could not enter a 0700 clone)."""
    if os.geteuid() != 0:
        return args
    return ["setpriv", f"--bounding-set={DAC_CAPS}", f"--inh-caps={DAC_CAPS}", *args]


@pytest.fixture
def open_dir():
    """A folder another user can reach (pytest's own tmp folders are 0700 and root's)."""
    path = Path(tempfile.mkdtemp(prefix="helpdesk-test-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- no desk


def test_commands_refuse_a_missing_desk_and_create_nothing(home, bare_cli):
    for args in NO_DESK_COMMANDS:
        line = one_error(bare_cli(*args), 1)
        assert "no desk at" in line and "helpdesk init" in line, (args, line)
    assert_no_desk_made(home)
    doc = ok(bare_cli("locate", "--json")).json()  # locate needs no desk
    assert doc["config"] == str(home.config_file)
    assert_no_desk_made(home)


def test_daemon_refuses_a_missing_desk(home, helpdesk_bin):
    r = run_subprocess(helpdesk_bin + ["daemon", "--once"])
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: no desk at") and "helpdesk init" in r.stderr
    assert_no_desk_made(home)


def test_a_mistyped_home_or_database_is_no_desk(configured, cli, monkeypatch, tmp_path):
    """A typo must not look like data loss: each names where it looked, and nothing is created there."""
    number = ok(cli("ticket", "create", "--title", "Still here", "--json")).json()["number"]
    other_schema = "t_" + uuid.uuid4().hex[:16]
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("shopping list\n" * 100)
    cases = [
        ({"HELPDESK_HOME": str(tmp_path / "hoem")}, "(HELPDESK_HOME)"),
        ({"HELPDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'nope' / 'helpdesk.db'}"}, "helpdesk init"),
        ({"HELPDESK_DATABASE_URL": f"sqlite:///{not_a_database}"}, "not a SQLite database"),
        ({"HELPDESK_DATABASE_URL": f"{PG_URL}?schema={other_schema}"}, f"no helpdesk tables in schema '{other_schema}'"),
        ({"HELPDESK_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/no_such_db_x1"}, "does not exist"),
    ]
    for env, expected in cases:
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            line = one_error(cli("ticket", "list"), 1)
            assert line.startswith("error: no desk at") and expected in line, (env, line)
            one_error(cli("ticket", "create", "--title", "lost?"), 1)
    assert not (tmp_path / "hoem").exists() and not (tmp_path / "nope").exists()
    assert not_a_database.read_text() == "shopping list\n" * 100
    assert not pg_schema_exists(other_schema)
    assert [t["number"] for t in ok(cli("ticket", "list", "--json")).json()] == [number]


# ---------------------------------------------------------------- init


def test_init_makes_a_private_desk_whatever_the_umask(home, helpdesk_bin, tmp_path, monkeypatch):
    new_home = tmp_path / "new" / "home"
    monkeypatch.setenv("HELPDESK_HOME", str(new_home))
    if BACKEND == "sqlite":
        monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{new_home / 'helpdesk.db'}")
    umask_0 = ["sh", "-c", 'umask 000 && exec "$0" "$@"', *helpdesk_bin]
    r = run_subprocess(umask_0 + ["init"])
    assert r.returncode == 0, r.stderr
    assert "agent: tester (admin)" in r.stdout and "(created)" in r.stdout
    assert (mode(tmp_path / "new"), mode(new_home)) == (0o700, 0o700)
    assert mode(new_home / "config.toml") == 0o600
    assert mode(new_home / "attachments") == 0o700
    created = run_subprocess(umask_0 + ["ticket", "create", "--title", "Scan attached", "--json"])
    assert created.returncode == 0, created.stderr
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 customer data")
    attached = run_subprocess(umask_0 + ["ticket", "attach", str(json.loads(created.stdout)["number"]), str(scan)])
    assert attached.returncode == 0, attached.stderr
    stored = [p for p in (new_home / "attachments").rglob("*")]
    assert stored and {mode(p) for p in stored if p.is_file()} == {0o600}
    assert {mode(p) for p in stored if p.is_dir()} == {0o700}
    if BACKEND == "sqlite":
        database = new_home / "helpdesk.db"
        assert mode(database) == 0o600
        reader = sqlite3.connect(database)  # while a connection is open, the -wal and -shm files exist
        try:
            assert reader.execute("SELECT count(*) FROM ticket").fetchone() == (1,)
            assert {mode(Path(f"{database}{suffix}")) for suffix in ("-wal", "-shm")} == {0o600}
        finally:
            reader.close()


def test_init_refuses_a_login_that_cannot_be_an_agent(home, bare_cli, monkeypatch):
    monkeypatch.delenv("HELPDESK_AGENT")
    monkeypatch.setenv("LOGNAME", "John Doe")  # what getpass.getuser() reads first
    line = one_error(bare_cli("init"), 1)
    assert "'John Doe'" in line and "your login name" in line and "HELPDESK_AGENT" in line
    assert_no_desk_made(home)
    assert not home.config_file.exists()
    monkeypatch.setenv("HELPDESK_AGENT", "jdoe")
    assert "agent: jdoe (admin)" in ok(bare_cli("init")).stdout


def test_a_failed_init_leaves_nothing_behind(home, bare_cli):
    """init fails after it made the tables and the first admin (the sample's tickets need a holiday
    calendar that does not exist): the whole desk goes again, the user's config stays."""
    calendar = ('\n[calendar.office]\ntimezone = "Europe/Berlin"\nhours = { mon-fri = "09:00-17:00" }\n'
                'holiday_country = "XX"\n\n[sla]\ncalendar = "office"\n')
    home.write_config(home.default_config() + calendar)
    line = one_error(bare_cli("init", "--sample"), 1)
    assert "no holiday calendar for XX" in line
    assert_no_desk_made(home)
    home.write_config(home.default_config())
    assert "sample: " in ok(bare_cli("init", "--sample")).stdout


def test_init_into_another_applications_database_fails_cleanly(home, bare_cli, monkeypatch, tmp_path):
    """The database already holds someone else's `ticket` table: SQLite refuses the file before
    anything is made; PostgreSQL fails halfway through the migrations and rolls all of it back."""
    new_home = tmp_path / "fresh"
    monkeypatch.setenv("HELPDESK_HOME", str(new_home))
    if BACKEND == "postgres":
        import psycopg2

        from helpdesk.store.db import parse_url

        params = dict(parse_url(PG_URL).params)
        conn = psycopg2.connect(dbname=params.pop("database"), **params)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{home.schema}"')
            cur.execute(f'CREATE TABLE "{home.schema}".ticket (id int)')
        one_error(bare_cli("init"), 1)
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [home.schema])
            assert cur.fetchall() == [("ticket",)]
        conn.close()
    else:
        other = tmp_path / "app.db"
        conn = sqlite3.connect(other)
        conn.execute("CREATE TABLE ticket (id int)")
        conn.commit()
        conn.close()
        before = other.read_bytes()
        monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{other}")
        line = one_error(bare_cli("init"), 1)
        assert "a SQLite database of something else" in line
        assert other.read_bytes() == before
        assert not Path(f"{other}-wal").exists()
    assert not new_home.exists()  # neither the config init was writing nor the folders it made


def test_init_in_a_home_that_is_not_writable(home, open_dir, helpdesk_bin, monkeypatch):
    locked = open_dir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    monkeypatch.setenv("HELPDESK_HOME", str(locked))
    if BACKEND == "sqlite":
        monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{locked / 'helpdesk.db'}")
    r = run_subprocess(unprivileged(helpdesk_bin + ["init"]))
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("error: cannot create") and "permission denied" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    assert list(locked.iterdir()) == []
    if BACKEND == "postgres":
        assert not pg_schema_exists(home.schema)


def test_a_desk_whose_folder_is_not_writable(home, open_dir, helpdesk_bin, monkeypatch):
    """SQLite writes -wal and -shm files beside the database: a clear error says so. On PostgreSQL the
    folder only holds the config, and the desk answers."""
    desk_home = open_dir / "desk"
    monkeypatch.setenv("HELPDESK_HOME", str(desk_home))
    if BACKEND == "sqlite":
        monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{desk_home / 'helpdesk.db'}")
    make_desk()
    desk_home.chmod(0o555)  # the desk's files stay its owner's to read and write; the folder is locked
    r = run_subprocess(unprivileged(helpdesk_bin + ["ticket", "list", "--json"]))
    if BACKEND == "postgres":
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "[]"
    else:
        assert r.returncode == 1, r.stderr
        assert r.stderr.startswith("error: cannot open the desk at") and "permission denied" in r.stderr
        assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


# ---------------------------------------------------------------- opening


def test_opening_waits_for_a_busy_database(home, monkeypatch, tmp_path):
    """A desk not (yet) in WAL mode while another process writes: switching it to WAL fails at once
    without waiting, so opening retries for the busy timeout rather than fail."""
    from helpdesk.domain.desk import open_desk

    path = tmp_path / "busy.db"
    monkeypatch.setenv("HELPDESK_DATABASE_URL", f"sqlite:///{path}")
    make_desk()
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    assert writer.execute("PRAGMA journal_mode = delete").fetchone() == ("delete",)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO setting (key, value) VALUES ('busy', 'yes')")
    threading.Timer(1.0, lambda: writer.execute("COMMIT")).start()
    started = time.monotonic()
    desk = open_desk()
    try:
        assert time.monotonic() - started >= 0.9
        assert desk.db.execute_sql("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        desk.close()
        writer.close()


# ---------------------------------------------------------------- who may act


def test_may_by_role():
    from helpdesk.domain.agents import ACTIONS, Actor, may

    grants = {role: {a for a in ACTIONS if may(Actor("x", role), a)} for role in ("admin", "lead", "agent", "system")}
    assert grants == {"admin": {"work", "manage_agents"}, "lead": {"work"}, "agent": {"work"},
                      "system": {"work", "manage_agents"}}
    assert not may(Actor("x", "visitor"), "work")
    with pytest.raises(ValueError):
        may(Actor("x", "admin"), "fly")


def snapshot() -> tuple:
    return (list(Ticket.select().order_by(Ticket.number).dicts()),
            [(e.actor, e.action) for e in AuditEvent.select().order_by(AuditEvent.id)])


def test_an_unknown_agent_is_refused_by_every_command(cli, desk, monkeypatch, configured):
    number = ok(cli("ticket", "create", "--title", "VPN down", "--json")).json()["number"]
    before = snapshot()
    commands = [["ticket", "list"], ["ticket", "show", str(number)], ["ticket", "create", "--title", "x"],
                ["ticket", "reply", str(number), "--note", "--body", "hi"], ["ticket", "assign", str(number), "me"],
                ["ticket", "status", str(number), "resolved"], ["ticket", "history", str(number)],
                ["agent", "list"], ["agent", "add", "mallory"], ["export"], ["mail", "status"],
                ["mail", "quarantine", "list"]]
    sources = [({"HELPDESK_AGENT": "ghost"}, "'ghost' (from HELPDESK_AGENT) is not an agent of this desk"),
               ({"LOGNAME": "ghost"}, "'ghost' (your login name) is not an agent of this desk")]
    for env, expected in sources:
        with monkeypatch.context() as m:
            m.delenv("HELPDESK_AGENT")
            for key, value in env.items():
                m.setenv(key, value)
            for args in commands:
                line = one_error(cli(*args), 1)
                assert expected in line and "helpdesk agent add ghost" in line, (args, line)
    with monkeypatch.context() as m:
        m.delenv("HELPDESK_AGENT")
        configured.write_config(configured.default_config() + '\n[me]\nagent = "ghost"\n')
        line = one_error(cli("ticket", "list"), 1)
        assert f"'ghost' (from [me] agent in {configured.config_file}) is not an agent" in line
        m.setenv("HELPDESK_AGENT", "bad\x1b]0;owned\x07login")
        line = one_error(cli("ticket", "list"), 1)
        assert "\x1b" not in line and "\x07" not in line and "cannot be an agent login" in line
    assert snapshot() == before


def test_the_desks_machinery_acts_as_the_system(configured, imap, smtp, cli, monkeypatch, helpdesk_bin):
    """Cron or a service account runs the daemon's work (mail fetch and send, the SLA sweep) without
    being an agent; what it does is recorded as the system's."""
    from helpdesk.domain.desk import SYSTEM_DAEMON, open_desk
    from test_mail_intake import mail

    # A folder of its own: the shared Dovecot's INBOX UIDs stay as other tests expect them.
    client = imap.client()
    client.create_folder("Desk")
    client.logout()
    configured.write_config(configured.default_config() + "\n"
                            + imap.config_toml().replace('imap_folder = "INBOX"', 'imap_folder = "Desk"')
                            + smtp.config_toml())
    monkeypatch.setenv("HELPDESK_AGENT", "svc-helpdesk")
    imap.append(mail(subject="Printer jammed"), folder="Desk")
    assert ok(cli("mail", "fetch", "--json")).json()[0]["outcomes"] == {"new_ticket": 1}
    assert ok(cli("mail", "send", "--json")).json()["failed"] == 0
    assert set(ok(cli("sla", "check", "--json")).json()) >= {"at_risk", "breached"}
    imap.append(mail(subject="Monitor flickers"), folder="Desk")
    r = run_subprocess(helpdesk_bin + ["daemon", "--once"])
    assert r.returncode == 0, r.stderr
    one_error(cli("ticket", "list"), 1)  # the same login is no agent for ticket work
    desk = open_desk(actor=SYSTEM_DAEMON)
    try:
        created = [(e.actor, e.ticket) for e in AuditEvent.select().where(AuditEvent.action == "created")]
        assert [actor for actor, _ in created] == [SYSTEM_DAEMON, SYSTEM_DAEMON]
        assert sorted(t.title for t in Ticket.select()) == ["Monitor flickers", "Printer jammed"]
    finally:
        desk.close()


def test_an_inactive_agent_is_refused(cli, desk, monkeypatch):
    ok(cli("agent", "add", "bob"))
    ok(cli("agent", "update", "bob", "--inactive"))
    monkeypatch.setenv("HELPDESK_AGENT", "bob")
    before = snapshot()
    for args in (["ticket", "list"], ["ticket", "create", "--title", "x"], ["agent", "list"]):
        line = one_error(cli(*args), 1)
        assert "agent 'bob' is inactive" in line and "--active" in line
    assert snapshot() == before
    monkeypatch.setenv("HELPDESK_AGENT", "tester")
    ok(cli("agent", "update", "bob", "--active"))
    monkeypatch.setenv("HELPDESK_AGENT", "bob")
    assert ok(cli("ticket", "list", "--json")).json() == []


def test_only_admins_manage_agents(cli, desk, monkeypatch):
    ok(cli("agent", "add", "bob"))
    ok(cli("agent", "add", "lea", "--role", "lead", "--queue", "it"))
    listed = {a["login"]: a["role"] for a in ok(cli("agent", "list", "--json")).json()}
    assert listed == {"bob": "agent", "lea": "lead", "tester": "admin"}
    text = ok(cli("agent", "list")).stdout
    assert any(line.split()[:2] == ["lea", "lead"] for line in text.splitlines()), text
    before = ok(cli("agent", "list", "--json")).json()
    for login, role in (("bob", "an agent"), ("lea", "a lead")):
        monkeypatch.setenv("HELPDESK_AGENT", login)
        for args in (["agent", "add", "mallory"], ["agent", "add", "mallory", "--role", "admin"],
                     ["agent", "update", "tester", "--inactive"], ["agent", "update", login, "--role", "admin"],
                     ["agent", "update", "me", "--capacity", "99"]):
            line = one_error(cli(*args), 1)
            assert f"'{login}' is {role}: only an admin may add, change or deactivate agents" in line, line
        # both work tickets
        number = ok(cli("ticket", "create", "--title", f"from {login}", "--type", "it_support", "--json")).json()["number"]
        ok(cli("ticket", "reply", str(number), "--note", "--body", "on it"))
    monkeypatch.setenv("HELPDESK_AGENT", "tester")
    after = ok(cli("agent", "list", "--json")).json()
    assert [{k: v for k, v in a.items() if k != "open_tickets"} for a in after] == \
        [{k: v for k, v in a.items() if k != "open_tickets"} for a in before]
    # an admin makes bob an admin, who may then add agents
    ok(cli("agent", "update", "bob", "--role", "admin"))
    monkeypatch.setenv("HELPDESK_AGENT", "bob")
    ok(cli("agent", "add", "carol"))
    ok(cli("agent", "update", "lea", "--role", "agent"))
    roles = {a["login"]: (a["role"], a["is_admin"]) for a in ok(cli("agent", "list", "--json")).json()}
    assert roles == {"bob": ("admin", True), "carol": ("agent", False), "lea": ("agent", False),
                     "tester": ("admin", True)}
    events = [(e.actor, json.loads(e.data)) for e in AuditEvent.select().where(AuditEvent.action == "agent_updated")]
    assert ("bob", {"login": "lea", "role": "agent"}) in events


def test_the_last_admin_stays(cli, desk):
    for args in (["agent", "update", "tester", "--role", "lead"], ["agent", "update", "me", "--inactive"]):
        assert "last active admin" in one_error(cli(*args), 1)
    ok(cli("agent", "add", "ann", "--role", "admin"))
    ok(cli("agent", "update", "tester", "--role", "agent"))
    assert {a["login"]: a["role"] for a in ok(cli("agent", "list", "--json")).json()} == {"ann": "admin",
                                                                                         "tester": "agent"}


@pytest.mark.parametrize("args,message", [
    (["agent", "add", "x", "--role", "boss"], "unknown role 'boss'"),
    (["agent", "update", "tester", "--role", "root"], "unknown role 'root'"),
    (["agent", "add", "two words"], "is not allowed"),
    (["agent", "add", "e\x1b[2Jvil"], "is not allowed"),
    (["agent", "add", "x" * 65], "at most 64"),
    (["agent", "add", "none"], "reserved"),
    (["agent", "add", "ok", "--name", "n" * 201], "longer than 200"),
])
def test_bad_agent_input_is_refused(cli, desk, args, message):
    before = ok(cli("agent", "list", "--json")).json()
    line = one_error(cli(*args), 1)
    assert message in line and "\x1b" not in line
    assert ok(cli("agent", "list", "--json")).json() == before


def test_init_on_an_existing_desk(cli, desk, monkeypatch):
    """init keeps the desk and acts as the acting agent: an unknown login is refused, not made admin."""
    from helpdesk.store.models import Agent

    ok(cli("agent", "add", "bob"))
    monkeypatch.setenv("HELPDESK_AGENT", "mallory")
    assert "'mallory' (from HELPDESK_AGENT) is not an agent" in one_error(cli("init"), 1)
    monkeypatch.setenv("HELPDESK_AGENT", "bob")
    run = ok(cli("init"))
    assert "(kept)" in run.stdout and "agent: bob (agent)" in run.stdout
    # a desk with no admin (made by first use before roles): init makes the acting agent its admin
    Agent.update(role="agent", is_admin=False).execute()
    assert "agent: bob (admin)" in ok(cli("init")).stdout
    assert {a.login for a in Agent.select().where(Agent.role == "admin")} == {"bob"}


# ---------------------------------------------------------------- passwords in the config


@pytest.mark.parametrize("section,warned", [
    ('[smtp]\nhost = "smtp.example"\npassword = "hunter2"\n', True),
    ('[[mailbox]]\nname = "s"\naddress = "s@x.example"\nimap_host = "imap.x.example"\nimap_password = "pw"\n', True),
    ('[smtp]\nhost = "smtp.example"\npassword_env = "SMTP_PASSWORD"\n', False),
])
def test_a_password_in_a_config_others_can_read_is_warned(cli, desk, configured, section, warned):
    configured.write_config(configured.default_config() + "\n" + section)
    for file_mode, readable in ((0o644, True), (0o640, True), (0o600, False)):
        configured.config_file.chmod(file_mode)
        run = ok(cli("ticket", "list", "--json"))
        assert run.json() == []
        lines = run.stderr.splitlines()
        if warned and readable:
            assert len(lines) == 1 and lines[0].startswith("warning: ") and "chmod 600" in lines[0], lines
            assert f"(mode {file_mode:04o})" in lines[0]
        else:
            assert lines == []
