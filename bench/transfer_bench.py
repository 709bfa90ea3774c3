#!/usr/bin/env python
"""Benchmark exports and backups: CSV, the JSON backup, its restore into an empty desk, the SQLite snapshot.

    .venv/bin/python bench/transfer_bench.py                        # 20,000 tickets, SQLite and PostgreSQL
    .venv/bin/python bench/transfer_bench.py --tickets 5000 --backend sqlite

Per backend: a fresh desk (temp HELPDESK_HOME, the shipped config; on PostgreSQL a schema of its own,
dropped at the end) with N tickets of the sample types (helpdesk.domain.tickets.intake_bulk, in-process), a
public reply on 30 % of them, a note on 20 %, an attachment on 5 %, a third resolved. Then, timed, in
process: `transfer.export` as CSV and as JSON (the backup), `transfer.restore` of that backup into a
second, empty database of the same backend, `transfer.export_sqlite`. The restored desk is exported
again and compared with the first backup (they must be equal). No target is set; the figures say what
a team can expect from a nightly backup.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def log(text: str) -> None:
    print(text, flush=True)


def drop_schema(pg_url: str, schema: str) -> None:
    import psycopg2

    from helpdesk.store.urls import parse_url

    params = dict(parse_url(pg_url).params)
    conn = psycopg2.connect(dbname=params.pop("database"), **params)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def database_url(backend: str, home: Path, pg_url: str, schemas: list[str], name: str) -> str:
    if backend == "postgres":
        schema = f"bench_transfer_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        return f"{pg_url}?schema={schema}"
    return f"sqlite:///{home / name}"


def open_desk_at(url: str):
    from helpdesk.domain.desk import create, open_desk

    os.environ["HELPDESK_DATABASE_URL"] = url
    create()  # as `helpdesk init`: the acting agent (bench) becomes the desk's admin
    return open_desk()


def build(desk, tickets_count: int, seed: int) -> None:
    from helpdesk.domain import agents, attachments, lifecycle, sample, tickets

    rng = random.Random(seed)
    for login, name, skills, queues, capacity in sample.AGENTS:
        agents.add(desk, login, name=name, email=f"{login}@acme.example", skills=skills, queues=queues,
                   capacity=10**6)
    inputs = [sample.random_ticket(rng, key=f"bench-{i}") for i in range(tickets_count)]
    results = tickets.intake_bulk(desk, inputs, chunk=2000)
    numbers = [r.number for r in results]
    owner = {"it_support": "alice", "equipment_repair": "dave", "complaint": "carol"}
    for number, inp in zip(numbers, inputs):
        roll = rng.random()
        if roll < 0.3:
            tickets.reply(desk, number, rng.choice(sample.REPLIES))
        if roll < 0.2:
            tickets.reply(desk, number, rng.choice(sample.NOTES), note=True)
        if roll < 0.05:
            attachments.add(desk, number, f"log-{number}.txt", f"log of {number}\n".encode() * 50)
        if roll > 0.66:
            lifecycle.assign(desk, number, owner[inp.type], force=True)
            lifecycle.change_status(desk, number, "resolved")


def timed(what: str, fn):
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    return result, wall, used


def run_backend(backend: str, args) -> dict:
    from helpdesk.domain import import_export as transfer

    home = Path(tempfile.mkdtemp(prefix="hd-transfer-bench-"))
    schemas: list[str] = []
    os.environ["HELPDESK_HOME"] = str(home)
    os.environ["HELPDESK_AGENT"] = "bench"
    shutil.copy(ROOT / "config" / "helpdesk.toml", home / "config.toml")
    figures = {}
    try:
        desk = open_desk_at(database_url(backend, home, args.pg_url, schemas, "source.db"))
        _, wall, _ = timed("build", lambda: build(desk, args.tickets, args.seed))
        log(f"[{backend}] built {args.tickets:,} tickets in {wall:.1f} s")
        csv_path, json_path, snap = home / "desk.csv", home / "backup.json", home / "desk.sqlite"
        def to_file(path: Path, fmt: str) -> int:
            with path.open("w", encoding="utf-8", newline="") as fh:
                return transfer.export(desk, "", fmt, fh)

        for name, fn in (("export csv", lambda: to_file(csv_path, "csv")),
                         ("export json (backup)", lambda: to_file(json_path, "json")),
                         ("export sqlite", lambda: transfer.export_sqlite(desk, "", snap))):
            count, wall, cpu = timed(name, fn)
            figures[name] = (count, wall, cpu)
        desk.close()
        target = open_desk_at(database_url(backend, home, args.pg_url, schemas, "restored.db"))
        for login in ("alice", "bob", "carol", "dave"):
            from helpdesk.domain import agents

            agents.add(target, login)
        rows = list(transfer.read_rows(json_path))
        report, wall, cpu = timed("restore", lambda: transfer.restore(target, rows))
        assert not report.errors, report.errors[:5]
        figures["restore json (backup)"] = (report.created, wall, cpu)
        again = home / "again.json"
        with again.open("w", encoding="utf-8") as fh:
            transfer.export(target, "", "json", fh)
        same = again.read_bytes() == json_path.read_bytes()
        target.close()
        sizes = {"csv": csv_path.stat().st_size, "json": json_path.stat().st_size, "sqlite": snap.stat().st_size}
        log(f"[{backend}] {'figure':24} {'tickets':>8} {'wall s':>8} {'CPU s':>7} {'tickets/s':>10}")
        for name, (count, wall, cpu) in figures.items():
            log(f"[{backend}] {name:24} {count:>8,} {wall:>8.2f} {cpu:>7.2f} {count / wall:>10,.0f}")
        log(f"[{backend}] sizes: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
        log(f"[{backend}] the restored desk exports the same backup: {'yes' if same else 'NO'}")
        return {"figures": figures, "sizes": sizes, "same": same}
    finally:
        from helpdesk.store.db import database

        if database.obj is not None and not database.obj.is_closed():
            database.obj.close()
        for schema in schemas:
            drop_schema(args.pg_url, schema)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for backend in (("sqlite", "postgres") if args.backend == "both" else (args.backend,)):
        result = run_backend(backend, args)
        if not result["same"]:
            sys.exit(1)


if __name__ == "__main__":
    main()
