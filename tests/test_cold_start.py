"""What a command loads before it answers: the console script asks which database the configuration
names before anything imports peewee, so a SQLite desk never loads the PostgreSQL driver, and a
read-only command never loads the rule engine, routing or the sample data (issue 9's cold start).
Checked on the modules a real process imported, not on timings."""

from __future__ import annotations

import sys

import pytest

from conftest import BACKEND, run_subprocess

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="a PostgreSQL desk needs its driver")

PROBE = """
import sys
from helpdesk.cli.entry import main
sys.argv = ["helpdesk", *sys.argv[1:]]
try:
    main()
except SystemExit as end:
    code = end.code
else:
    code = 0
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print("\\n".join(["--modules--", *loaded]))
sys.exit(code)
"""


def loaded_by(*args: str) -> set[str]:
    proc = run_subprocess([sys.executable, "-c", PROBE, *args])
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split("--modules--", 1)[1].split())


def test_a_read_only_command_on_sqlite_loads_no_postgres_driver_and_no_rule_engine(cli):
    assert cli("ticket", "create", "--title", "Printer jams", "--json").exit_code == 0
    loaded = loaded_by("ticket", "list", "--json")
    assert "peewee" in loaded and "helpdesk.domain.tickets" in loaded  # it did read the desk
    assert not {"psycopg2", "psycopg2._psycopg", "psycopg"} & loaded
    assert not {"helpdesk.domain.automation", "helpdesk.domain.routing", "helpdesk.domain.sample",
                "helpdesk.domain.lifecycle", "helpdesk.store.notify"} & loaded


def test_a_write_loads_the_rule_engine_when_its_event_is_published(configured):
    # Not at start-up, but a new ticket's "created" event must still reach routing and the rules
    # (their effects are tested in test_automation.py / test_lifecycle.py).
    loaded = loaded_by("ticket", "create", "--title", "VPN down for everyone", "--json")
    assert {"helpdesk.domain.automation", "helpdesk.domain.routing"} <= loaded
