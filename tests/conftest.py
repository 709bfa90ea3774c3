"""Shared fixtures: every test gets its own desk, on the backend HELPDESK_TEST_DB names.

HELPDESK_TEST_DB=sqlite (default) or postgres; on PostgreSQL each test works in a schema of its own
(HELPDESK_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test) that is dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLA_MARKER = "# Service levels, routing, automation and ratings"
BACKEND = os.environ.get("HELPDESK_TEST_DB", "sqlite")
PG_URL = os.environ.get("HELPDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"HELPDESK_TEST_DB must be sqlite or postgres, not {BACKEND!r}")

# The CLI and the TUI size their output by COLUMNS / LINES when they are set, and pytest-xdist's workers
# set them (80x24): the tests run without them, whatever started pytest.
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)


def pytest_report_header(config):
    return f"helpdesk backend: {BACKEND}" + (f" ({PG_URL})" if BACKEND == "postgres" else "")


@dataclass
class Home:
    path: Path
    url: str
    schema: str | None

    @property
    def config_file(self) -> Path:
        return self.path / "config.toml"

    def write_config(self, text: str) -> None:
        self.config_file.write_text(text)
        self.config_file.chmod(0o600)  # as init makes it: mail tests' configs hold passwords

    def default_config(self) -> str:
        """The shipped configuration's core (desk, queues, types): tests add their own SLA policies,
        calendars and rules; tests/test_shipped_config.py checks the whole shipped file."""
        text = self.shipped_config()
        return text[:text.index(SLA_MARKER)] if SLA_MARKER in text else text

    def shipped_config(self) -> str:
        return (ROOT / "config" / "helpdesk.toml").read_text()


def _drop_schema(schema: str) -> None:
    import psycopg2

    from helpdesk.store.db import parse_url

    params = dict(parse_url(PG_URL).params)
    conn = psycopg2.connect(dbname=params.pop("database"), **params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Home:
    """An empty desk home (config + data) for this test, with the backend's database URL."""
    path = tmp_path / "home"
    path.mkdir()
    for var in list(os.environ):
        if var.startswith("HELPDESK_") and not var.startswith("HELPDESK_TEST"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HELPDESK_HOME", str(path))
    monkeypatch.setenv("HELPDESK_AGENT", "tester")
    monkeypatch.setenv("NO_COLOR", "1")
    schema = None
    if BACKEND == "postgres":
        schema = "t_" + uuid.uuid4().hex[:16]
        url = f"{PG_URL}?schema={schema}"
    else:
        url = f"sqlite:///{path / 'helpdesk.db'}"
    monkeypatch.setenv("HELPDESK_DATABASE_URL", url)
    yield Home(path, url, schema)
    from helpdesk.store.db import database

    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()
    if schema:
        _drop_schema(schema)


def make_desk() -> None:
    """Create the desk where the environment points, as `helpdesk init` does (the acting agent, `tester`,
    becomes its admin)."""
    from helpdesk.domain.desk import create

    create()


@pytest.fixture
def configured(home) -> Home:
    """A desk made by init in a home with the shipped default configuration (the three sample types and
    queues); the acting agent `tester` is its admin."""
    home.write_config(home.default_config())
    make_desk()
    return home


@pytest.fixture
def desk(configured):
    """An open desk with the shipped config and the acting agent `tester` registered (an admin)."""
    from helpdesk.domain import agents
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain.desk import open_desk

    import datetime as dt

    d = open_desk(clock=FixedClock(dt.datetime(2026, 3, 2, 9, 0, 0)))
    # Routing rules apply to claims too: the test agent has the skills of every shipped type.
    agents.update(d, "tester", skills=["it", "repair", "care"])
    yield d
    d.close()


def reopen(home_or_desk):
    """Point the models back at the test's desk after something else (a CLI run) opened its own."""
    from helpdesk.store.db import database

    database.initialize(home_or_desk.db)
    if home_or_desk.db.is_closed():
        home_or_desk.db.connect()


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        import json

        return json.loads(self.stdout)


@pytest.fixture
def cli(configured, request):
    """Run a CLI command in-process: cli("ticket", "list", "--json", input=...) -> Run."""
    from typer.testing import CliRunner

    from helpdesk.cli.app import app

    runner = CliRunner()
    desk_fixture = request.getfixturevalue("desk") if "desk" in request.fixturenames else None

    def run(*args: str, input: str | bytes | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        if desk_fixture is not None:
            reopen(desk_fixture)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def bare_cli(home):
    """The CLI against a home without a desk (for `init`, and what commands say when there is none)."""
    from typer.testing import CliRunner

    from helpdesk.cli.app import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def helpdesk_bin() -> list[str]:
    """The installed console script (subprocess tests run the real thing)."""
    exe = shutil.which("helpdesk", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "helpdesk.cli.entry"]


def run_subprocess(args: list[str], *, input: str | None = None, env: dict | None = None,
                   timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# ---------------------------------------------------------------- mail servers


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory):
    """One real Dovecot for the session; each test that uses `imap` gets it emptied."""
    from mailservers import start_dovecot

    root = Path("/tmp") / f"helpdesk-dovecot-{os.getpid()}"
    if root.exists():
        shutil.rmtree(root)
    server = start_dovecot(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap(dovecot):
    dovecot.reset_mailbox()
    return dovecot


@pytest.fixture
def smtp():
    from mailservers import start_smtp

    sink = start_smtp()
    yield sink
    sink.stop()


@pytest.fixture
def mail_desk(configured, imap, smtp):
    """A configured desk whose mailbox is the test Dovecot and whose SMTP is the test sink."""
    configured.write_config(configured.default_config() + "\n" + imap.config_toml() + smtp.config_toml())
    return configured
