"""Concurrency: stale updates are refused, idempotency keys hold under a race, and many writers share
one desk (SQLite WAL + BEGIN IMMEDIATE, PostgreSQL row versions). Runs on both backends.

The Peewee models are bound to one global proxy, so in-process tests switch it between two opened
desks explicitly; real races run the installed console script in subprocesses. To make subprocesses
really collide, the test first holds the ticket table (PostgreSQL: a SHARE ROW EXCLUSIVE lock that lets
them read but not write; SQLite: the write lock), starts them, waits until they are all queued behind it
and then lets go.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BACKEND, PG_URL, reopen, run_subprocess
from helpdesk.domain import audit, lifecycle, tickets
from helpdesk.domain.desk import open_desk
from helpdesk.core.errors import StaleVersion
from helpdesk.store.db import database
from helpdesk.store.models import Ticket

SQLITE_SETTLE = 1.5  # seconds for subprocesses to start and queue behind the held write lock


def make(desk, title="Race me", **kw) -> int:
    view, created = tickets.intake(desk, tickets.TicketInput(title=title, **kw))
    assert created
    return view.number


def snapshot(desk, number):
    return tickets.get(desk, number, conversation=True).to_dict(), [e.id for e in audit.history(desk, number)]


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


class Hold:
    """Keep writers out of the ticket table until `release()`; subprocesses started meanwhile queue up."""

    def __init__(self, home):
        self.home = home
        self.appname = "hdtest-" + uuid.uuid4().hex[:12]
        self.env = {"PGAPPNAME": self.appname}
        self.conn = None

    def __enter__(self):
        if BACKEND == "postgres":
            import psycopg2

            from helpdesk.store.db import parse_url

            params = dict(parse_url(PG_URL).params)
            self.conn = psycopg2.connect(dbname=params.pop("database"), **params)
            with self.conn.cursor() as cur:
                cur.execute(f'SET search_path TO "{self.home.schema}"')
                cur.execute("LOCK TABLE ticket IN SHARE ROW EXCLUSIVE MODE")  # reads pass, writes wait
        else:
            self.conn = sqlite3.connect(str(self.home.path / "helpdesk.db"), timeout=10, isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        return self

    def wait_for(self, waiting: int, timeout: float = 30) -> None:
        """Until `waiting` subprocesses are blocked on the held table (PostgreSQL), or a while (SQLite)."""
        if BACKEND != "postgres":
            time.sleep(SQLITE_SETTLE)
            return
        deadline = time.monotonic() + timeout
        with self.conn.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SELECT pg_stat_clear_snapshot()")  # else the view is frozen for our transaction
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                            "AND wait_event_type = 'Lock' AND wait_event = 'relation'", [self.appname])
                if cur.fetchone()[0] >= waiting:
                    return
                time.sleep(0.02)
        raise AssertionError(f"{waiting} writers never queued behind the held table")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback() if BACKEND == "postgres" else self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None

    def __exit__(self, *exc):
        self.release()


def race(home, commands: list[list[str]], *, envs: list[dict] | None = None) -> list:
    """Run the commands at once, all queued behind a held table; returns their CompletedProcess."""
    envs = envs or [{} for _ in commands]
    with Hold(home) as hold, ThreadPoolExecutor(len(commands)) as pool:
        futures = [pool.submit(run_subprocess, cmd, env={**hold.env, **env}) for cmd, env in zip(commands, envs)]
        try:
            hold.wait_for(len(commands))
        finally:
            hold.release()
        return [f.result() for f in futures]


# ---------------------------------------------------------------- in process


def test_a_stale_expected_version_is_refused(desk):
    for move in ("update", "status", "reply", "transfer", "return", "reopen"):
        number = make(desk, type="it_support", customer="ann@globex.example")  # a reply is mailed to her
        lifecycle.assign(desk, number, "tester")
        if move == "reopen":
            lifecycle.change_status(desk, number, "resolved")
        seen = tickets.get(desk, number).version
        tickets.update(desk, number, title="Someone else edited this")  # version moves on
        before = snapshot(desk, number)
        call = {
            "update": lambda v: tickets.update(desk, number, priority="P0", expected_version=v),
            "status": lambda v: lifecycle.change_status(desk, number, "in_progress", expected_version=v),
            "reply": lambda v: tickets.reply(desk, number, "hello", expected_version=v),
            "transfer": lambda v: lifecycle.transfer_to_queue(desk, number, "care", expected_version=v),
            "return": lambda v: lifecycle.return_to_queue(desk, number, expected_version=v),
            "reopen": lambda v: lifecycle.reopen(desk, number, expected_version=v),
        }[move]
        with pytest.raises(StaleVersion, match=rf"#{number} changed \(version {seen + 1}, you had {seen}\)"):
            call(seen)
        assert snapshot(desk, number) == before, move
        call(seen + 1)  # with the current version the same change goes through
        assert tickets.get(desk, number).version == seen + 2, move


def test_assign_with_a_stale_version_is_refused(desk):
    from helpdesk.domain import agents

    agents.add(desk, "bob")
    number = make(desk)
    tickets.update(desk, number, priority="P1")
    before = snapshot(desk, number)
    with pytest.raises(StaleVersion):
        lifecycle.assign(desk, number, "bob", expected_version=1)
    assert snapshot(desk, number) == before
    assert lifecycle.assign(desk, number, "bob", expected_version=2).assignee == "bob"


def test_a_writer_between_read_and_write_is_caught(desk):
    """Two desks, two connections: what one read is stale once the other committed a change."""
    from helpdesk.domain import agents

    number = make(desk)
    agents.add(desk, "other")
    other = open_desk(actor="other")  # binds the models to its own connection
    try:
        reopen(desk)
        row = tickets.fetch(number)  # read through the first connection: version 1
        database.initialize(other.db)
        tickets.update(other, number, priority="P0")  # committed through the second one
        reopen(desk)
        with pytest.raises(StaleVersion, match="changed by someone else"):
            with desk.db.atomic():
                tickets.write(desk, row, None, priority="P3")
    finally:
        other.close()
        reopen(desk)
    view = tickets.get(desk, number)
    assert (view.priority, view.version) == ("P0", 2)
    assert [e.actor for e in audit.history(desk, number) if e.action == "updated"] == ["other"]


def test_cli_if_version(desk, cli):
    number = make(desk)
    r = cli("ticket", "update", str(number), "--priority", "P1", "--if-version", "1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"updated #{number} (version 2)"
    before = snapshot(desk, number)
    r = cli("ticket", "update", str(number), "--priority", "P3", "--if-version", "1")
    assert r.exit_code == 1
    assert "changed" in one_error_line(r.stderr)
    r = cli("ticket", "status", str(number), "resolved", "--if-version", "1")
    assert r.exit_code == 1 and "changed" in one_error_line(r.stderr)
    assert snapshot(desk, number) == before


def test_idempotency_key_in_process(desk):
    first, created = tickets.intake(desk, tickets.TicketInput(title="Mail 1", key="msg-1"))
    again, created_again = tickets.intake(desk, tickets.TicketInput(title="Mail 1 (resent)", key="msg-1"))
    assert (created, created_again) == (True, False)
    assert again.number == first.number and again.title == "Mail 1"
    batch = tickets.intake_many(desk, [tickets.TicketInput(title="a", key="k-a"),
                                       tickets.TicketInput(title="a again", key="k-a"),
                                       tickets.TicketInput(title="old", key="msg-1")])
    assert [(r.number, r.created) for r in batch] == [(batch[0].number, True), (batch[0].number, False),
                                                      (first.number, False)]
    assert Ticket.select().count() == 2


# ---------------------------------------------------------------- real processes


@pytest.mark.slow
def test_two_updates_at_once_exactly_one_wins(desk, home, helpdesk_bin):
    number = make(desk)
    version = tickets.get(desk, number).version
    results = race(home, [helpdesk_bin + ["ticket", "update", str(number), "--priority", p,
                                          "--if-version", str(version)] for p in ("P0", "P3")])
    codes = [r.returncode for r in results]
    assert sorted(codes) == [0, 1], [(r.returncode, r.stdout, r.stderr) for r in results]
    winner, loser = (results[0], results[1]) if codes[0] == 0 else (results[1], results[0])
    assert winner.stdout.strip() == f"updated #{number} (version {version + 1})"
    assert winner.stderr == ""
    assert "changed" in one_error_line(loser.stderr)
    assert loser.stdout == ""
    view = tickets.get(desk, number)
    assert view.version == version + 1
    assert view.priority == ("P0" if winner is results[0] else "P3")
    assert [e.action for e in audit.history(desk, number)].count("updated") == 1


@pytest.mark.slow
def test_two_agents_moving_one_ticket_at_once(desk, home, helpdesk_bin):
    """Without --if-version: the second move was decided on what the first changed, so it is refused."""
    number = make(desk)
    lifecycle.assign(desk, number, "tester")
    lifecycle.change_status(desk, number, "in_progress")
    version = tickets.get(desk, number).version
    def move_events():  # the winner's move, without the SLA clocks' own events
        return [e for e in audit.history(desk, number) if not e.action.startswith("sla_")]

    events = len(move_events())
    results = race(home, [helpdesk_bin + ["ticket", "status", str(number), "pending"],
                          helpdesk_bin + ["ticket", "return", str(number)]])
    codes = [r.returncode for r in results]
    assert sorted(codes) == [0, 1], [(r.returncode, r.stdout, r.stderr) for r in results]
    loser = results[codes.index(1)]
    one_error_line(loser.stderr)
    view = tickets.get(desk, number)
    assert view.version == version + 1
    assert view.status == ("pending" if codes[0] == 0 else "new")
    assert len(move_events()) == events + 1


@pytest.mark.slow
def test_same_idempotency_key_at_once_makes_one_ticket(desk, home, helpdesk_bin):
    make(desk, "Unrelated")
    cmd = helpdesk_bin + ["ticket", "create", "--title", "From mail", "--key", "msg-<abc@x.example>", "--json"]
    results = race(home, [cmd] * 4)
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    docs = [json.loads(r.stdout) for r in results]
    numbers = {d["number"] for d in docs}
    assert len(numbers) == 1
    assert sorted(d["created"] for d in docs) == [False, False, False, True]
    assert Ticket.select().where(Ticket.idempotency_key == "msg-<abc@x.example>").count() == 1
    assert Ticket.select().count() == 2
    (number,) = numbers
    assert [e.action for e in audit.history(desk, number)] == ["created"]


DRIVER = r"""
import sys, time
from pathlib import Path
from helpdesk.domain import tickets
from helpdesk.domain.desk import open_desk

worker, count, gate = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
desk = open_desk()
(gate.parent / f"ready-{worker}").touch()
deadline = time.monotonic() + 30
while not gate.exists():
    if time.monotonic() > deadline:
        sys.exit("the start gate never opened")
    time.sleep(0.002)
for i in range(count):  # each call its own write transaction
    view, _ = tickets.intake(desk, tickets.TicketInput(title=f"worker {worker} ticket {i}", key=f"{worker}-{i}"))
    tickets.update(desk, view.number, priority="P1")
    print(view.number, flush=True)
desk.close()
"""


@pytest.mark.slow
def test_many_writers_at_once(desk, home, tmp_path):
    """4 processes x 20 tickets (two write transactions each), started together: none fails with
    'database is locked', every ticket is there once."""
    workers, count = 4, 20
    gate = tmp_path / "gate" / "go"
    gate.parent.mkdir()
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run_subprocess, [sys.executable, "-c", DRIVER, str(k), str(count), str(gate)])
                   for k in range(workers)]
        deadline = time.monotonic() + 30
        while len(list(gate.parent.glob("ready-*"))) < workers and time.monotonic() < deadline:
            if any(f.done() for f in futures):
                break
            time.sleep(0.01)
        gate.touch()
        results = [f.result() for f in futures]
    for r in results:
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        assert "locked" not in r.stdout
    printed = [int(line) for r in results for line in r.stdout.split()]
    assert len(printed) == len(set(printed)) == workers * count
    rows = list(Ticket.select().where(Ticket.title.startswith("worker ")))
    assert len(rows) == workers * count
    assert {r.number for r in rows} == set(printed)
    assert {(r.version, r.priority) for r in rows} == {(2, "P1")}
    titles = {r.title for r in rows}
    assert titles == {f"worker {k} ticket {i}" for k in range(workers) for i in range(count)}


@pytest.mark.slow
def test_a_new_desk_used_by_several_processes_at_once(home, helpdesk_bin):
    """`helpdesk init`, then four commands at once on the new desk: none fails (none waits for another to
    set the database up: init did)."""
    home.write_config(home.default_config())
    init = run_subprocess(helpdesk_bin + ["init"])
    assert init.returncode == 0, init.stderr
    start = threading.Barrier(4)

    def create(i):
        start.wait()
        return run_subprocess(helpdesk_bin + ["ticket", "create", "--title", f"first {i}", "--json"])

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(create, range(4)))
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    numbers = sorted(json.loads(r.stdout)["number"] for r in results)
    assert numbers == [1, 2, 3, 4]
    listed = run_subprocess(helpdesk_bin + ["ticket", "list", "--json"])
    assert listed.returncode == 0, listed.stderr
    assert sorted(t["title"] for t in json.loads(listed.stdout)) == [f"first {i}" for i in range(4)]


@pytest.mark.slow
def test_readers_are_not_blocked_by_a_writer(desk, home, helpdesk_bin):
    """While another process holds a write transaction, `ticket list` and `ticket show` still answer."""
    number = make(desk, "Readable")
    with Hold(home) as hold:
        started = time.monotonic()
        listed = run_subprocess(helpdesk_bin + ["ticket", "list", "--json"], env=hold.env, timeout=30)
        shown = run_subprocess(helpdesk_bin + ["ticket", "show", str(number), "--json"], env=hold.env, timeout=30)
        elapsed = time.monotonic() - started
    assert listed.returncode == 0, listed.stderr
    assert [t["number"] for t in json.loads(listed.stdout)] == [number]
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["title"] == "Readable"
    assert elapsed < 8, f"readers waited {elapsed:.1f}s for the writer"
