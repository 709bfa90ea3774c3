#!/usr/bin/env python
"""Benchmark the SLA sweep, the time rules and routing on a desk with a large open backlog.

    .venv/bin/python bench/sla_bench.py                          # 100,000 open tickets, SQLite and PostgreSQL
    .venv/bin/python bench/sla_bench.py --backend sqlite         # one backend only
    .venv/bin/python bench/sla_bench.py --tickets 20000 --profile

What it does, per backend (see bench/README.md):
 1. a fresh desk: a temp HELPDESK_HOME with config/helpdesk.toml copied to config.toml plus an [sla]
    section (an office calendar with public holidays, a late-shift calendar, the built-in 24x7 one,
    policies by priority, type and organisation), two time rules and queue leads; on PostgreSQL a schema
    of its own (?schema=bench_sla_xxx), dropped at the end; `helpdesk init`;
 2. N open tickets (mixed priorities, types, organisations) through helpdesk.domain.tickets.intake_bulk, in-process
    on a FixedClock, in arrival waves over a Monday (05:00-13:00 UTC), so every clock starts at a known time;
    then a realistic spread of states by direct SQL (benchmark only): new, assigned, in progress, a few
    pending (their clocks paused), some first responses already given (those clocks stopped);
 3. the clock moves to the moment when --crossing-share (default 20 %) of the clocks have crossed their
    at-risk share (some of them breached too), and `helpdesk.domain.sla.sweep` is timed: the first sweep does
    the real work (every crossing: an event, escalations), a second one at the same moment finds
    nothing, a third one a minute later is the steady state of a daemon sweeping every minute;
    then `helpdesk.domain.automation.run_time_rules`, twice;
 4. routing: 50 agents with varied skills, queues, capacities, shifts and starting loads, 1,000 new
    tickets, `helpdesk.domain.routing.auto_assign` for each (total and per ticket);
 5. a table of the figures next to the targets (sweep over 100,000 open tickets <= 1 s on both
    databases), plus digests of everything the sweep and the routing wrote (compare them between two
    runs of different code: equal digests, same behaviour). Results also go to bench/out/.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from desk_bench import code_state, helpdesk_cmd, log  # noqa: E402  (the desk benchmark's helpers)

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_SWEEP_S = 1.0  # a sweep over 100,000 open tickets, on SQLite and on PostgreSQL
ROUTING_AGENTS = 50
ROUTING_TICKETS = 1000

# Arrivals: waves from Monday 2 March 2026 05:00 UTC (06:00 Berlin, before the office opens) to 13:00 UTC;
# the sweep runs when --crossing-share of the clocks are at risk (at 13:24 UTC with the defaults).
FIRST_WAVE = dt.datetime(2026, 3, 2, 5, 0)
LAST_WAVE = dt.datetime(2026, 3, 2, 13, 0)
WAVES = 24

LEADS = {"it": "lead_it", "repairs": "lead_repairs", "care": "lead_care"}
TEAM = [  # the agents who own the backlog: login, skills, queues (capacity 20: at capacity for routing)
    ("ana", ["it", "network"], ["it"]), ("ben", ["it"], ["it"]), ("cem", ["it", "repair"], ["it", "repairs"]),
    ("dia", ["repair"], ["repairs"]), ("eli", ["repair"], ["repairs"]), ("fay", ["care"], ["care"]),
    ("gil", ["care", "it"], ["care"]), ("hal", ["it", "network"], ["it"]),
]
TEAM_BY_TYPE = {"it_support": ["ana", "ben", "cem", "gil", "hal"], "equipment_repair": ["cem", "dia", "eli"],
                "complaint": ["fay", "gil"], None: ["ana", "ben", "fay"]}

SLA_CONFIG = '''
# ---- added by bench/sla_bench.py
[sla]
at_risk = 0.8
calendar = "office"
business_day_hours = 9

[calendar.office]
timezone = "Europe/Berlin"
hours = { mon-fri = "08:00-17:00" }
holiday_country = "DE"
holiday_subdivision = "BE"
holidays = ["2026-03-06", "2026-12-24", "2026-12-31"]

[calendar.late]
timezone = "Europe/Berlin"
hours = { mon-fri = "13:00-22:00", sat = "10:00-16:00" }
holiday_country = "DE"

[[sla.policy]]
name = "P0 urgent"
priority = ["P0"]
calendar = "24x7"
first_response = "15m"
next_update = "1h"
resolution = "4h"
on_at_risk = ["notify"]
on_breach = ["notify", "queue:care"]

[[sla.policy]]
name = "P1 high"
priority = ["P1"]
first_response = "2h"
next_update = "4h"
resolution = "1bd"
on_at_risk = ["notify"]
on_breach = ["notify", "raise_priority"]

[[sla.policy]]
name = "P2 normal"
priority = ["P2"]
first_response = "24h"
next_update = "1bd"
resolution = "3bd"
on_at_risk = []
on_breach = ["notify"]

[[sla.policy]]
name = "P3 low"
priority = ["P3"]
first_response = "3bd"
resolution = "7bd"
on_at_risk = []
on_breach = ["notify"]

[[sla.policy]]
name = "repairs"
priority = ["P2", "P3"]
type = ["equipment_repair"]
first_response = "8h"
resolution = "5bd"
on_breach = ["notify"]

[[sla.policy]]
name = "complaints"
type = ["complaint"]
first_response = "4h"
next_update = "4h"
resolution = "2bd"
on_at_risk = ["notify"]
on_breach = ["notify", "raise_priority"]

[[sla.policy]]
name = "Globex key account"
organisation = ["Globex"]
priority = ["P1", "P2", "P3"]
first_response = "1h"
resolution = "1bd"
on_at_risk = ["notify"]
on_breach = ["notify", "raise_priority"]

[[sla.policy]]
name = "Umbrella Health repairs"
type = ["equipment_repair"]
organisation = ["Umbrella Health"]
calendar = "24x7"
first_response = "1h"
resolution = "8h"
on_at_risk = ["notify"]
on_breach = ["notify", "queue:repairs"]

[[macro]]
name = "reminder"
body = "Hello {customer}, we are still waiting for your answer on #{number}: {title}"

[[rule]]
name = "remind pending"
on = "time"
when = "status:pending in_status:>3d"
do = [{ reply = "reminder" }]

[[rule]]
name = "unassigned urgent"
on = "time"
when = "status:new assignee:none priority:P0 created:>1h"
do = [{ add_tag = "unassigned-1h" }, { escalate = "lead" }]
'''


def bench_config(shipped: str) -> str:
    """The shipped configuration with its calendars, SLA policies, macros and rules replaced by the
    benchmark's (SLA_CONFIG), and a lead (with an email) for every queue."""
    kept, drop = [], False
    for line in shipped.splitlines(keepends=True):
        if line.startswith("["):
            header = line.split("#", 1)[0].strip().strip("[]").strip()
            drop = header.split(".")[0] in ("calendar", "sla", "macro", "rule")
        if not drop and not line.startswith("lead = "):  # the shipped leads give way to the benchmark's
            kept.append(line)
    text = "".join(kept)
    for queue, lead in LEADS.items():
        text = text.replace(f'name = "{queue}"\n', f'name = "{queue}"\nlead = "{lead}"\n', 1)
    return text.rstrip() + "\n" + SLA_CONFIG


class Digest:
    """An order-sensitive and an order-insensitive digest of rows (to compare two runs' writes)."""

    def __init__(self):
        self.ordered = hashlib.sha1()
        self.multiset = 0
        self.count = 0

    def add(self, row) -> None:
        data = json.dumps(row, default=str, sort_keys=True).encode()
        self.ordered.update(data + b"\n")
        self.multiset = (self.multiset + int.from_bytes(hashlib.sha1(data).digest()[:8], "big")) % (1 << 64)
        self.count += 1

    def result(self) -> dict:
        return {"rows": self.count, "ordered": self.ordered.hexdigest()[:12], "set": f"{self.multiset:016x}"[:12]}


class Bench:
    def __init__(self, args: argparse.Namespace, backend: str):
        self.args = args
        self.backend = backend
        self.n = args.tickets
        self.home = Path(tempfile.mkdtemp(prefix="helpdesk-sla-bench-"))
        self.schema = None
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("HELPDESK_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        self.env.update({"HELPDESK_HOME": str(self.home), "HELPDESK_AGENT": "bench", "NO_COLOR": "1",
                         "PYTHONPYCACHEPREFIX": str(self.home / "pycache")})
        if backend == "postgres":
            self.schema = "bench_sla_" + uuid.uuid4().hex[:10]
            base = args.pg_url
            self.pg_base = base
            self.env["HELPDESK_DATABASE_URL"] = base + ("&" if "?" in base else "?") + f"schema={self.schema}"
        else:
            self.env["HELPDESK_DATABASE_URL"] = f"sqlite:///{self.home / 'helpdesk.db'}"
        self.rng = random.Random(args.seed)
        self.desk = None
        self.res: dict = {"backend": backend, "tickets": self.n}

    # ---------------------------------------------------------------- helpers

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(helpdesk_cmd() + list(args), capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise RuntimeError(f"helpdesk {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return proc

    def sql(self, sql: str, params=()) -> list:
        if self.backend == "sqlite":  # stored as peewee stores them: 'YYYY-MM-DD HH:MM:SS'
            params = [str(v) if isinstance(v, dt.datetime) else v for v in params]
        cursor = self.desk.db.execute_sql(sql.replace("?", self.desk.db.param), list(params))
        try:
            return cursor.fetchall()
        except Exception:  # psycopg2: no results to fetch
            return []

    def in_chunks(self, sql: str, head: list, numbers: list[int], size: int = 500) -> None:
        """`sql` ends with `IN ({})`: run it for every chunk of `numbers` (direct SQL, benchmark only)."""
        for start in range(0, len(numbers), size):
            part = numbers[start:start + size]
            self.sql(sql.format(", ".join("?" * len(part))), head + part)

    def drop_schema(self) -> None:
        import psycopg2

        from helpdesk.store.db import parse_url

        params = dict(parse_url(self.pg_base).params)
        conn = psycopg2.connect(dbname=params.pop("database"), **params)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        conn.close()

    def timed(self, label: str, fn, *, profile: bool = False):
        profiler = cProfile.Profile() if profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        try:
            value = fn()
        finally:
            if profiler:
                profiler.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            self.res.setdefault("profiles", {})[label] = out.getvalue()
            log(f"profile of {label} (cProfile inflates the time of many small calls):\n{out.getvalue()}")
        return value, wall, cpu

    # ---------------------------------------------------------------- building the desk

    def setup(self) -> None:
        text = bench_config((ROOT / "config" / "helpdesk.toml").read_text())
        (self.home / "config.toml").write_text(text)
        t0 = time.perf_counter()
        self.cli("init")
        for key in [k for k in os.environ if k.startswith("HELPDESK_")]:
            del os.environ[key]
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("HELPDESK_") or k == "NO_COLOR"})
        from helpdesk.domain import agents
        from helpdesk.core.clock import FixedClock
        from helpdesk.domain.desk import open_desk

        self.clock = FixedClock(FIRST_WAVE - dt.timedelta(days=1))
        self.desk = open_desk(clock=self.clock)
        for queue, lead in LEADS.items():
            agents.add(self.desk, lead, name=f"Lead {queue}", email=f"{lead}@acme.example", capacity=0)
        for login, skills, queues in TEAM:
            agents.add(self.desk, login, email=f"{login}@acme.example", skills=skills, queues=queues)
        log(f"[{self.backend}] desk in {self.home}{' (schema ' + self.schema + ')' if self.schema else ''}, "
            f"init {time.perf_counter() - t0:.1f}s")

    def ticket_input(self, rng: random.Random, channel: str):
        from helpdesk.domain import sample

        t = sample.random_ticket(rng, channel=channel)
        if rng.random() < 0.08:  # walk-ins and phone calls typed in by an agent: no customer, no organisation
            t.customer, t.customer_name, t.organisation = None, "", None
        return t

    def create_backlog(self) -> None:
        from helpdesk.domain import tickets

        rng = random.Random(self.args.seed + 1)
        inputs = [self.ticket_input(rng, rng.choice(["email", "email", "api", "cli"])) for _ in range(self.n)]
        step = (LAST_WAVE - FIRST_WAVE) / (WAVES - 1)
        per_wave = -(-self.n // WAVES)
        self.wave_of: dict[int, dt.datetime] = {}
        t0 = time.perf_counter()
        for w in range(WAVES):
            part = inputs[w * per_wave:(w + 1) * per_wave]
            if not part:
                break
            self.clock.current = (FIRST_WAVE + step * w).replace(microsecond=0)
            results = tickets.intake_bulk(self.desk, part)
            for r in results:
                self.wave_of[r.number] = self.clock.current
        wall = time.perf_counter() - t0
        self.res["build_intake_s"] = round(wall, 1)
        log(f"[{self.backend}] {self.n:,} tickets through intake_bulk in {WAVES} waves "
            f"({FIRST_WAVE:%a %d %b %H:%M} .. {LAST_WAVE:%a %d %b %H:%M} UTC): {wall:.1f}s, {self.n / wall:,.0f}/s")

    def spread_states(self) -> None:
        """Statuses and owners by direct SQL (benchmark only): the backlog of a busy desk."""
        from helpdesk.domain import sla
        from helpdesk.store.db import refresh_statistics

        t0 = time.perf_counter()
        rng = random.Random(self.args.seed + 2)
        agent_ids = dict(self.sql("SELECT login, id FROM agent"))
        rows = self.sql("SELECT number, type FROM ticket ORDER BY number")
        groups: dict[tuple, list[int]] = {}
        answered: list[int] = []
        pending_by_wave: dict[dt.datetime, list[int]] = {}
        counts: dict[str, int] = {}
        for number, type_ in rows:
            status = rng.choices(["new", "assigned", "in_progress", "pending"], weights=[45, 28, 25, 2])[0]
            counts[status] = counts.get(status, 0) + 1
            if status == "new":
                continue
            owner = agent_ids[rng.choice(TEAM_BY_TYPE.get(type_, TEAM_BY_TYPE[None]))]
            groups.setdefault((status, owner), []).append(number)
            if status == "in_progress" and rng.random() < 0.6:
                answered.append(number)
            if status == "pending":
                pending_by_wave.setdefault(self.wave_of[number], []).append(number)
        with self.desk.db.atomic():
            for (status, owner), numbers in groups.items():
                self.in_chunks("UPDATE ticket SET status = ?, assignee_id = ?, version = version + 1 "
                               "WHERE number IN ({})", [status, owner], numbers)
            # First responses already given: those clocks are stopped, within their target.
            self.in_chunks("UPDATE sla_clock SET state = 'stopped', used_seconds = target_minutes * 30, "
                           "stopped_at = started_at, due_at = NULL, risk_at = NULL "
                           "WHERE kind = 'first_response' AND ticket_id IN ({})", [], answered)
            # Pending since an hour after arrival: the clocks paused with that hour used.
            for wave, numbers in pending_by_wave.items():
                since = wave + dt.timedelta(hours=1)
                self.in_chunks("UPDATE ticket SET status_changed_at = ? WHERE number IN ({})", [since], numbers)
                self.in_chunks("UPDATE sla_clock SET state = 'paused', used_seconds = 3600, started_at = NULL, "
                               "due_at = NULL, risk_at = NULL WHERE state = 'running' AND ticket_id IN ({})",
                               [], numbers)
            # The clocks were written directly: their tickets' nearest running times follow them.
            sla.refresh_due_times(self.desk, answered + [n for numbers in pending_by_wave.values() for n in numbers])
        refresh_statistics(self.desk.db, full=True)
        self.res["states"] = counts
        self.res["first_responses_given"] = len(answered)
        log(f"[{self.backend}] states by SQL in {time.perf_counter() - t0:.1f}s: {counts}, "
            f"{len(answered):,} first responses given")

    def choose_now(self) -> None:
        """The sweep runs when --crossing-share of all clocks have crossed their at-risk share."""
        total = self.sql("SELECT COUNT(*) FROM sla_clock")[0][0]
        want = int(total * self.args.crossing_share)
        paused_late = self.sql("SELECT COUNT(*) FROM sla_clock WHERE state = 'paused' "
                               "AND used_seconds > target_minutes * 60")[0][0]
        row = self.sql("SELECT risk_at FROM sla_clock WHERE state = 'running' AND risk_at IS NOT NULL "
                       "ORDER BY risk_at LIMIT 1 OFFSET ?", [max(0, want - paused_late)])
        moment = row[0][0] if row else LAST_WAVE
        if isinstance(moment, str):
            moment = dt.datetime.fromisoformat(moment)
        # Just before the clock that would take the share past the target (many clocks share a moment).
        now = max(moment - dt.timedelta(seconds=1), LAST_WAVE + dt.timedelta(minutes=1))
        self.clock.current = now
        risky = self.sql("SELECT COUNT(*) FROM sla_clock WHERE state = 'running' AND risk_at <= ?", [now])[0][0]
        late = self.sql("SELECT COUNT(*) FROM sla_clock WHERE (state = 'running' AND due_at <= ?) "
                        "OR (state <> 'running' AND used_seconds > target_minutes * 60)", [now])[0][0]
        by_state = dict(self.sql("SELECT state, COUNT(*) FROM sla_clock GROUP BY state"))
        self.res["clocks"] = {"total": total, **by_state, "crossing_at_risk": risky, "crossing_breached": late,
                              "sweep_at": now.isoformat(sep=" ")}
        log(f"[{self.backend}] {total:,} clocks {by_state}; sweep at {now:%a %d %b %H:%M} UTC: {risky:,} running clocks "
            f"past at-risk ({risky / total:.0%}), {late:,} past their target ({late / total:.0%})")
        if risky > want * 1.1 and now == LAST_WAVE + dt.timedelta(minutes=1):
            log(f"[{self.backend}] note: {risky / total:.0%} had crossed already when the last wave arrived: "
                f"--crossing-share {self.args.crossing_share} cannot be reached with these arrival waves")

    # ---------------------------------------------------------------- the measurements

    def sweeps(self) -> None:
        from helpdesk.domain import sla

        audit_before = self.sql("SELECT COALESCE(MAX(id), 0) FROM audit_event")[0][0]
        outbox_before = self.sql("SELECT COALESCE(MAX(id), 0) FROM outbox")[0][0]
        report, wall, cpu = self.timed("first sweep", lambda: sla.sweep(self.desk), profile=self.args.profile)
        self.res["sweep_1"] = {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "at_risk": len(report.at_risk),
                               "breached": len(report.breached), "escalations": len(report.escalations)}
        log(f"[{self.backend}] sweep 1: {wall:.3f}s ({len(report.at_risk):,} at risk, {len(report.breached):,} breached, "
            f"{len(report.escalations):,} escalations)")
        d = Digest()
        for part in ("at_risk", "breached"):
            for entry in getattr(report, part):
                d.add([part, entry])
        for line in report.escalations:
            d.add(line)
        self.res["digest_sweep_report"] = d.result()
        self.res["digest_sweep_writes"] = self.digest_writes(audit_before, outbox_before)

        report2, wall2, cpu2 = self.timed("second sweep", lambda: sla.sweep(self.desk))
        self.res["sweep_2"] = {"seconds": round(wall2, 3), "cpu_seconds": round(cpu2, 3),
                               "fired": len(report2.at_risk) + len(report2.breached)}
        log(f"[{self.backend}] sweep 2 (same moment): {wall2 * 1000:.1f} ms, {self.res['sweep_2']['fired']} fired")
        self.clock.advance(minutes=1)
        report3, wall3, cpu3 = self.timed("sweep a minute later", lambda: sla.sweep(self.desk))
        self.res["sweep_3"] = {"seconds": round(wall3, 3), "cpu_seconds": round(cpu3, 3), "at_risk": len(report3.at_risk),
                               "breached": len(report3.breached), "escalations": len(report3.escalations)}
        log(f"[{self.backend}] sweep 3 (a minute later): {wall3 * 1000:.1f} ms, {len(report3.at_risk)} at risk, "
            f"{len(report3.breached)} breached")
        if self.res["sweep_2"]["fired"]:
            raise RuntimeError("the second sweep fired again: a crossing fired twice")

    def digest_writes(self, audit_after: int, outbox_after: int) -> dict:
        """What the sweep wrote: events, outbox mail (minus random Message-IDs), tickets and clocks."""
        out = {}
        d = Digest()
        for row in self.sql("SELECT ticket_number, actor, action, data, created_at FROM audit_event WHERE id > ? "
                            "ORDER BY id", [audit_after]):
            d.add([row[0], row[1], row[2], json.loads(row[3]), str(row[4])])
        out["audit_events"] = d.result()
        d = Digest()
        for row in self.sql("SELECT ticket_id, kind, to_addr, subject, body, auto FROM outbox WHERE id > ? ORDER BY id",
                            [outbox_after]):
            d.add([row[0], row[1], row[2], row[3], row[4], bool(row[5])])
        out["outbox"] = d.result()
        d = Digest()
        for row in self.sql("SELECT number, status, priority, queue_id, assignee_id, sla_state, version, "
                            "updated_at, status_changed_at FROM ticket ORDER BY number"):
            d.add([str(v) for v in row])
        out["tickets"] = d.result()
        d = Digest()
        for row in self.sql("SELECT ticket_id, kind, state, at_risk_fired_at, breached_fired_at FROM sla_clock "
                            "ORDER BY ticket_id, kind"):
            d.add([str(v) for v in row])
        out["clocks"] = d.result()
        return out

    def time_rules(self) -> None:
        from helpdesk.domain import automation

        fired, wall, cpu = self.timed("time rules", lambda: automation.run_time_rules(self.desk))
        per_rule: dict[str, int] = {}
        for f in fired:
            per_rule[f["rule"]] = per_rule.get(f["rule"], 0) + 1
        self.res["rules_1"] = {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "fired": len(fired),
                               "per_rule": per_rule}
        log(f"[{self.backend}] time rules 1: {wall:.3f}s, {len(fired):,} fired {per_rule}")
        fired2, wall2, cpu2 = self.timed("time rules again", lambda: automation.run_time_rules(self.desk))
        self.res["rules_2"] = {"seconds": round(wall2, 3), "cpu_seconds": round(cpu2, 3), "fired": len(fired2)}
        log(f"[{self.backend}] time rules 2: {wall2 * 1000:.1f} ms, {len(fired2)} fired")

    def routing(self) -> None:
        from helpdesk.domain import agents, routing as assignment, tickets
        from helpdesk.core.errors import IllegalTransition
        from helpdesk.store.db import refresh_statistics

        rng = random.Random(self.args.seed + 3)
        # Routing happens during office hours: the next weekday 10:00 Berlin (09:00 UTC, CET) after the sweeps.
        now = self.clock.current
        day = now.date() + dt.timedelta(days=1 if now.hour >= 9 else 0)
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        self.clock.current = dt.datetime.combine(day, dt.time(9, 0))
        t0 = time.perf_counter()
        logins = []
        for i in range(ROUTING_AGENTS):
            skills = [s for s, p in (("it", 0.55), ("network", 0.25), ("repair", 0.35), ("care", 0.25)) if rng.random() < p]
            skills = skills or [rng.choice(["it", "repair", "care"])]
            own = sorted({{"it": "it", "network": "it", "repair": "repairs", "care": "care"}[s] for s in skills})
            queues = [] if rng.random() < 0.3 else own
            shift = rng.choices([None, "office", "late"], weights=[65, 25, 10])[0]
            capacity = rng.choice([10, 15, 20, 25, 30, 40])
            login = f"r{i + 1:02d}"
            agents.add(self.desk, login, email=f"{login}@acme.example", skills=skills, queues=queues,
                       capacity=capacity, shift=shift)
            logins.append((login, capacity))
        # Starting loads: each agent already owns some of the backlog (up to 40 % of its capacity).
        ids = dict(self.sql("SELECT login, id FROM agent"))
        free = [n for (n,) in self.sql("SELECT number FROM ticket WHERE status = 'new' AND assignee_id IS NULL "
                                       "ORDER BY number LIMIT 2000")]
        rng.shuffle(free)
        with self.desk.db.atomic():
            for login, capacity in logins:
                take = [free.pop() for _ in range(rng.randint(0, int(capacity * 0.4)))]
                self.in_chunks("UPDATE ticket SET status = 'assigned', assignee_id = ?, version = version + 1 "
                               "WHERE number IN ({})", [ids[login]], take)
        refresh_statistics(self.desk.db, full=True)
        new_inputs = [self.ticket_input(rng, "email") for _ in range(ROUTING_TICKETS)]
        numbers = [r.number for r in tickets.intake_bulk(self.desk, new_inputs)]
        setup_s = time.perf_counter() - t0
        log(f"[{self.backend}] routing: {ROUTING_AGENTS} agents, starting loads, {ROUTING_TICKETS} new tickets "
            f"in {setup_s:.1f}s; auto-assigning ...")

        picks: list[tuple[int, str | None]] = []

        def run():
            for number in numbers:
                try:
                    view = assignment.auto_assign(self.desk, number)
                    picks.append((number, view.assignee))
                except IllegalTransition:
                    picks.append((number, None))

        _, wall, cpu = self.timed("auto-assign", run, profile=self.args.profile)
        unassigned = sum(1 for _, who in picks if who is None)
        per_agent: dict[str, int] = {}
        for _, who in picks:
            if who:
                per_agent[who] = per_agent.get(who, 0) + 1
        d = Digest()
        for p in picks:
            d.add(p)
        self.res["routing"] = {"agents": ROUTING_AGENTS, "tickets": len(numbers), "seconds": round(wall, 3),
                               "cpu_seconds": round(cpu, 3), "per_ticket_ms": round(wall * 1000 / len(numbers), 2),
                               "assigned": len(numbers) - unassigned, "nobody_free": unassigned,
                               "agents_used": len(per_agent), "most_to_one": max(per_agent.values(), default=0),
                               "digest": d.result(), "at": self.clock.current.isoformat(sep=" ")}
        log(f"[{self.backend}] auto-assign: {len(numbers)} tickets in {wall:.2f}s ({wall * 1000 / len(numbers):.1f} ms "
            f"each), {unassigned} with nobody free, {len(per_agent)} agents used")

    def run(self) -> dict:
        try:
            self.setup()
            self.create_backlog()
            self.spread_states()
            self.choose_now()
            if self.args.build_only:
                return self.res
            self.sweeps()
            if not self.args.no_rules:
                self.time_rules()
            if not self.args.no_routing:
                self.routing()
            return self.res
        finally:
            try:
                if self.desk is not None:
                    self.desk.close()
            except Exception:
                pass
            if self.args.keep:
                log(f"kept: HELPDESK_HOME={self.home} HELPDESK_DATABASE_URL={self.env['HELPDESK_DATABASE_URL']}")
            else:
                if self.schema:
                    self.drop_schema()
                shutil.rmtree(self.home, ignore_errors=True)


# ====================================================================== report


def report(meta: dict, results: list[dict]) -> str:
    lines = []
    sizes = ", ".join(sorted({f"{r['tickets']:,}" for r in results}))
    title = f"helpdesk SLA and routing benchmark: {sizes} open tickets"
    lines += [title, "=" * len(title),
              f"python {meta['python']}, sqlite {meta['sqlite']}, {meta['machine']}, started {meta['started']}",
              f"code: commit {meta['code']['commit']}" + (f" + uncommitted helpdesk/ changes (diff {meta['code']['diff_sha1']})"
                                                          if meta['code']['helpdesk_dirty'] else "")
              + f"; load average before/after {meta['load_before'][0]} / {meta.get('load_after', ['?'])[0]}"]
    if any(r["tickets"] != 100_000 for r in results):
        lines.append("(the sweep target is set for 100,000 open tickets; shown here for orientation)")
    lines.append("")
    rows = []
    for r in results:
        b = r["backend"]
        c = r["clocks"]
        s1, s2, s3 = r["sweep_1"], r["sweep_2"], r["sweep_3"]
        ok = s1["seconds"] <= TARGET_SWEEP_S
        rows.append((b, f"sweep, first (catch-up): {s1['at_risk']:,} at risk, {s1['breached']:,} breached, "
                        f"{s1['escalations']:,} escalations", f"{s1['seconds']:.3f} s", f"<= {TARGET_SWEEP_S:.0f} s",
                     "ok" if ok else "MISSED"))
        rows.append((b, "  CPU time of this process", f"{s1['cpu_seconds']:.3f} s", "", ""))
        rows.append((b, "sweep, second at the same moment (finds nothing)", f"{s2['seconds'] * 1000:.1f} ms",
                     f"<= {TARGET_SWEEP_S:.0f} s", "ok" if s2["seconds"] <= TARGET_SWEEP_S else "MISSED"))
        rows.append((b, f"sweep, a minute later (steady state): {s3['at_risk']:,} at risk, {s3['breached']:,} breached",
                     f"{s3['seconds'] * 1000:.1f} ms", f"<= {TARGET_SWEEP_S:.0f} s",
                     "ok" if s3["seconds"] <= TARGET_SWEEP_S else "MISSED"))
        if "rules_1" in r:
            r1, r2 = r["rules_1"], r["rules_2"]
            rows.append((b, f"time rules, first run: {r1['fired']:,} fired "
                            f"({', '.join(f'{k} {v:,}' for k, v in r1['per_rule'].items()) or 'none'})",
                         f"{r1['seconds']:.3f} s", "", ""))
            rows.append((b, "time rules, second run (finds nothing)", f"{r2['seconds'] * 1000:.1f} ms", "", ""))
        if "routing" in r:
            ro = r["routing"]
            rows.append((b, f"auto-assign {ro['tickets']:,} tickets, {ro['agents']} agents: total",
                         f"{ro['seconds']:.2f} s", "", ""))
            rows.append((b, "  per ticket", f"{ro['per_ticket_ms']:.1f} ms", "", ""))
    w = [max(len(row[i]) for row in rows) for i in range(5)]
    head = ("backend", "measure", "measured", "target", "")
    w = [max(w[i], len(head[i])) for i in range(5)]
    lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
    lines.append("  ".join("-" * w[i] for i in range(5)))
    last = None
    for row in rows:
        if last is not None and row[0] != last:
            lines.append("")
        last = row[0]
        lines.append("  ".join(row[i].ljust(w[i]) for i in range(5)).rstrip())
    lines.append("")
    for r in results:
        c, st, ro = r["clocks"], r["states"], r.get("routing")
        lines.append(f"{r['backend']}: built in {r['build_intake_s']:.0f}s (intake_bulk); tickets "
                     + ", ".join(f"{k} {v:,}" for k, v in st.items())
                     + f"; clocks {c['total']:,} (running {c.get('running', 0):,}, paused {c.get('paused', 0):,}, "
                       f"stopped {c.get('stopped', 0):,}), swept at {c['sweep_at']} UTC: "
                       f"{c['crossing_at_risk'] / c['total']:.0%} crossing at-risk, {c['crossing_breached'] / c['total']:.0%} breached")
        if ro:
            lines.append(f"  routing at {ro['at']} UTC: {ro['assigned']} assigned, {ro['nobody_free']} with nobody free, "
                         f"{ro['agents_used']} agents used, at most {ro['most_to_one']} to one agent")
        dg = r["digest_sweep_writes"]
        lines.append("  digests (equal across runs = same behaviour): sweep report " + r["digest_sweep_report"]["ordered"]
                     + ", " + ", ".join(f"{k} {v['rows']}:{v['ordered']}/{v['set']}" for k, v in dg.items())
                     + (f", routing {ro['digest']['ordered']}" if ro else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=100_000, help="open tickets in the backlog (default 100000)")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--pg-url", default=os.environ.get("HELPDESK_TEST_PG_URL", DEFAULT_PG_URL),
                    help=f"PostgreSQL server/database (a schema bench_sla_xxx is made and dropped; default {DEFAULT_PG_URL})")
    ap.add_argument("--crossing-share", type=float, default=0.2,
                    help="share of the clocks past their at-risk share at the first sweep (default 0.2)")
    ap.add_argument("--seed", type=int, default=20260302)
    ap.add_argument("--profile", action="store_true", help="cProfile the first sweep and the auto-assign run")
    ap.add_argument("--no-rules", action="store_true", help="skip the time rules (experiments)")
    ap.add_argument("--no-routing", action="store_true", help="skip the routing part (experiments)")
    ap.add_argument("--build-only", action="store_true", help="build the desk and choose the sweep moment, measure nothing")
    ap.add_argument("--keep", action="store_true", help="keep the desks (temp home / schema) for experiments")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="where the results go")
    args = ap.parse_args(argv)
    if args.tickets < 2000:
        ap.error("--tickets must be at least 2000")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    meta = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
            "machine": f"{platform.machine()} {os.cpu_count()} cpu", "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "code": code_state(), "load_before": [round(x, 2) for x in os.getloadavg()], "seed": args.seed}
    results = []
    for backend in backends:
        results.append(Bench(args, backend).run())
    if args.build_only:
        print(json.dumps(results, indent=2, default=str))
        return 0
    meta["load_after"] = [round(x, 2) for x in os.getloadavg()]
    text = report(meta, results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-sla-{args.backend}-{args.tickets}"
    (args.out / f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    (args.out / f"{stem}.txt").write_text(text + "\n")
    log(f"results: {args.out / stem}.json / .txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
