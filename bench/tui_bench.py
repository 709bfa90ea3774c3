#!/usr/bin/env python
"""Benchmark the TUI as a person meets it: a real process in a real pseudo-terminal, timed from the
terminal's side (the bytes the app writes), against a bare Textual app measured the same way.

    .venv/bin/python bench/tui_bench.py                 # 7 runs of each, 140x34 terminal; builds the desks
    .venv/bin/python bench/tui_bench.py --runs 15 --rows 1000000
    .venv/bin/python bench/tui_bench.py --sqlite-desk HOME [--pg-desk HOME --pg-schema bench_xxx]
                                                        # desks kept by `bench/desk_bench.py --keep`
    .venv/bin/python bench/tui_bench.py --empty-only    # the bare app, the in-memory queue, the empty desk

helpdesk's modules are compiled to bytecode first, as installing it does (`--source-only`: not), and each
launch also reports the CPU the app's threads used until its first paint: on a busy machine wall times
grow with the load, CPU times much less, so their ratio is the check on the wall-time ratio.

Scenarios (each a fresh process, `--runs` times, median and spread reported):
 1. bare: a Textual app that shows one static label; launch to the label painted, and a keypress to
    the label changed (the baselines: what Textual itself costs on this machine);
 2. queue: the queue over an in-memory source of `--rows` made-up rows (helpdesk.tui.memory); launch to
    the first rows painted, then in the same process: page down (keypress to the next page's first row
    painted), jump to the last row (End to the last row painted), and the process's peak memory (its
    maximum resident set size, written by the child at exit). Also over 100 rows: launch and peak
    memory should not grow with the row count;
 3. desk: the real `helpdesk` TUI (helpdesk.tui.launch, as a bare `helpdesk` runs it) on an empty
    desk (one ticket: the 200-message one below) and on a `--desk-tickets` SQLite desk (and a
    PostgreSQL one with --postgres or --pg-desk): launch to the first page of rows painted (and to the
    "1 of N" count), page down, End to the last row, opening a ticket with a 200-message conversation
    (Enter to its title painted), applying a filter (Enter in the filter bar to its first row
    painted), and peak memory. The big desks are built with bench/desk_bench.py's builder (or reused
    from its --keep), then analysed; the 200-message ticket is added through the services.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):  # helpdesk, and desk_bench's builder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

WIDTH, HEIGHT = 140, 34
ROWS_ON_SCREEN = HEIGHT - 3  # the footer, the table's header and its status line take the rest
BARE_LABEL = "helpdesk bench: ready"
KEYS = {"pagedown": "\x1b[6~", "end": "\x1b[F", "home": "\x1b[H", "enter": "\r", "escape": "\x1b",
        "quit": "\x11"}

TARGET_FIRST_PAINT_RATIO = 1.3  # first rows within 1.3x the bare app's first paint
TARGET_KEY_MS = 50.0  # keypress to redraw
TARGET_OPEN_MS = 100.0  # applying a filter, opening a ticket
TARGET_PEAK_MB = 150.0


# ---------------------------------------------------------------- the child apps


def child(kind: str, rows: int, rss_file: str) -> None:
    """Run one app in this process (the parent times it through the pseudo-terminal)."""
    import atexit
    import resource

    def peak_kb() -> int:
        # VmHWM is this program's own peak; ru_maxrss survives exec, so it would also count the parent's
        # (the benchmark process, which holds a desk) at the fork.
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    # and the peak of the processes it forked and reaped (a bare `helpdesk`'s launch child)
    atexit.register(lambda: Path(rss_file).write_text(
        f"{peak_kb()} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}"))
    if kind == "bare":
        from textual.app import App
        from textual.widgets import Static

        class Bare(App):
            BINDINGS = [("ctrl+q", "quit"), ("x", "press")]
            presses = 0

            def compose(self):
                yield Static(BARE_LABEL)

            def action_press(self) -> None:
                self.presses += 1
                self.query_one(Static).update(f"pressed {self.presses:03d}")

        Bare().run()
        return
    if kind == "desk":  # the real thing, on the desk the environment points at: what a bare `helpdesk` runs
        from helpdesk.cli.entry import main as helpdesk

        helpdesk([])
        return
    from helpdesk.tui.app import HelpdeskApp
    from helpdesk.tui.memory import MemoryRowSource, SyntheticRows

    source = MemoryRowSource(SyntheticRows(rows))
    HelpdeskApp(lambda query: source).run()


# ---------------------------------------------------------------- the parent: timing through the pty


def spawn(kind: str, rows: int, rss_file: Path, desk_env: dict | None = None):
    import pexpect

    env = {**(desk_env or os.environ), "TERM": "xterm-256color", "COLUMNS": str(WIDTH), "LINES": str(HEIGHT)}
    env.pop("NO_COLOR", None)
    process = pexpect.spawn(sys.executable, [__file__, "--child", kind, "--rows", str(rows), "--rss-file", str(rss_file)],
                            env=env, cwd=str(ROOT), dimensions=(HEIGHT, WIDTH), timeout=60, encoding="utf-8",
                            codec_errors="replace")
    process.delaybeforesend = None  # pexpect sleeps 50 ms before every send by default
    return process


def drain(process) -> None:
    """Read what the app has written so far, so the next marker is looked for in new output only."""
    import pexpect

    while True:
        try:
            process.read_nonblocking(65536, timeout=0.2)
        except pexpect.TIMEOUT:
            return


def cpu_used(pid: int) -> float:
    """Seconds of CPU the process's threads, and its child processes', have run so far (the scheduler's
    own count, in ns; children already reaped by their clock ticks): a launch's cost that, unlike its
    wall time, does not grow when other work shares the machine. A bare `helpdesk` forks a child that
    opens the desk while it starts Textual (helpdesk.tui.opening): its CPU is the launch's too."""
    total = 0
    children: list[str] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
            children += (task / "children").read_text().split()
        except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
            pass
    for child in children:
        total += cpu_used(int(child)) * 1e9
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK") * 1e9  # cutime, cstime
    except (OSError, ValueError, IndexError):
        pass
    return total / 1e9


def own_cpu_and_wait(pid: int) -> tuple[float, float]:
    """Seconds the process's own threads (not its children) have run, and have waited runnable for a
    core (the scheduler's run-queue delay): where an app's first paint went besides its own work."""
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
            ran, waited = ran + int(fields[0]), waited + int(fields[1])
        except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
            pass
    return ran / 1e9, waited / 1e9


def peaks(rss: Path) -> tuple[int, int]:
    """What a child app wrote at exit: its own peak memory and its forked children's, in kB."""
    own, forked = rss.read_text().split()
    return int(own), int(forked)


def number_cell(number: int) -> str:
    """How the number column draws a row's number (8 cells, right-aligned): unique on the screen."""
    return f"{number:>8}"


def run_bare(rss: Path) -> dict:
    started = time.perf_counter()
    process = spawn("bare", 0, rss)
    process.expect_exact(BARE_LABEL)
    first = time.perf_counter() - started
    first_cpu = cpu_used(process.pid)
    own_cpu, waited = own_cpu_and_wait(process.pid)
    drain(process)
    sent = time.perf_counter()
    process.send("x")
    process.expect_exact("pressed 001")
    key = time.perf_counter() - sent
    drain(process)
    process.send(KEYS["quit"])
    process.expect_exact(__import__("pexpect").EOF)
    process.close()
    return {"first_paint": first, "first_paint_cpu": first_cpu, "own_cpu": own_cpu, "waited": waited, "key": key,
            "peak_kb": peaks(rss)[0]}


def run_queue(rows: int, rss: Path) -> dict:
    import pexpect

    from helpdesk.tui.memory import SyntheticRows

    result = {}
    started = time.perf_counter()
    process = spawn("queue", rows, rss)
    process.expect_exact(number_cell(1))
    result["first_rows"] = time.perf_counter() - started
    process.expect_exact(f"1 of {rows:,}")  # the count, after the first page
    result["count_shown"] = time.perf_counter() - started
    drain(process)
    if rows > 2 * ROWS_ON_SCREEN:
        # page down: the row just below the screen becomes the top row
        sent = time.perf_counter()
        process.send(KEYS["pagedown"])
        process.expect_exact(number_cell(ROWS_ON_SCREEN + 1))
        result["page_down"] = time.perf_counter() - sent
        drain(process)
        sent = time.perf_counter()
        process.send(KEYS["end"])
        process.expect_exact(number_cell(rows))
        result["last_row"] = time.perf_counter() - sent
        drain(process)
        assert SyntheticRows(rows)[rows - 1].number == rows
    process.send(KEYS["quit"])
    process.expect_exact(pexpect.EOF)
    process.close()
    result["peak_kb"], result["launch_child_peak_kb"] = peaks(rss)
    return result


# ---------------------------------------------------------------- desks


START_QUERY, START_SORT = "status:open", "priority"  # the view the app opens on (helpdesk.tui.app.ALL_OPEN)
CONVERSATION_TITLE = "TUI bench: a conversation of 200 messages"
CONVERSATION_KEY = "tui-bench-conversation-200"
FILTER_QUERY = 'printer "paper jam"'  # the common phrase of the desk benchmark (10 % of its tickets)


@dataclass
class Desk:
    """A desk to run the TUI on: the environment that points at it, and what the timings look for."""

    name: str
    env: dict
    tickets: int = 0  # how many it holds
    top: int = 0  # the first row's number (the 200-message ticket: P0, the newest)
    bottom: int = 0  # the last row's
    second_page: int = 0  # the row just below the first screen
    filter_first: int | None = None  # the first row of FILTER_QUERY (None: no match)
    filter_count: int = 0


def build_desk(name: str, tickets: int, backend: str, pg_url: str) -> Desk:
    """A desk made with bench/desk_bench.py's builder (init, tickets through the CLI, agents, states),
    then analysed; kept (its home, and schema on PostgreSQL) for the next run to reuse."""
    import desk_bench

    args = desk_bench.parse_args(["--backend", backend, "--pg-url", pg_url, "--keep"])
    args.tickets = tickets
    bench = desk_bench.Bench(args)
    bench.build()
    if tickets:
        bench.analyze()
    print(f"built {name}: HELPDESK_HOME={bench.home}" + (f" schema {bench.schema}" if bench.schema else ""),
          file=sys.stderr)
    env = dict(bench.env)
    env.pop("PYTHONPYCACHEPREFIX", None)  # the TUI's code compiled once, as for the bare app and the queue
    return Desk(name, env)


def desk_env(home: str, pg_url: str | None = None, schema: str | None = None) -> dict:
    """The environment of a desk kept by bench/desk_bench.py --keep (its home; on PostgreSQL its schema)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update({"HELPDESK_HOME": home, "HELPDESK_AGENT": "bench"})
    if schema:
        env["HELPDESK_DATABASE_URL"] = pg_url + ("&" if "?" in pg_url else "?") + f"schema={schema}"
    return env


def prepare(desk: Desk) -> Desk:
    """Add the 200-message ticket (once: it is found again by its idempotency key) and read what the
    timings look for: the first and last rows, the filter's first row."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(desk.env)
    try:
        from helpdesk.domain.desk import open_desk
        from helpdesk.services import queue, tickets

        opened = open_desk()
        try:
            created = tickets.create_records(opened, json.dumps({
                "title": CONVERSATION_TITLE, "body": "The first message of a long conversation.",
                "customer": "long.talk@example.com", "key": CONVERSATION_KEY, "priority": "P0"}))
            number = created.single[0].number
            if tickets.show(opened, number).priority != "P0":  # kept by an older run of this bench
                tickets.update(opened, number, priority="P0")
            have = len(tickets.show(opened, number).conversation or [])
            if have < 200:
                for i in range(have + 1, 201):
                    tickets.reply(opened, number, f"Message {i} of the conversation: " + "words " * (i % 40 + 5),
                                  note=i % 3 == 0)
            # The app opens on all open tickets, most urgent first: the 200-message ticket (P0, the
            # newest) is its first row.
            desk.tickets = queue.count(opened, START_QUERY)
            first = queue.page(opened, START_QUERY, sort=START_SORT, limit=ROWS_ON_SCREEN + 1).tickets
            last = queue.page(opened, START_QUERY, sort=START_SORT, limit=1, from_end=True).tickets
            desk.top, desk.bottom = first[0].number, last[0].number
            desk.second_page = first[-1].number
            found = queue.page(opened, FILTER_QUERY, limit=1).tickets
            desk.filter_first = found[0].number if found else None
            desk.filter_count = queue.count(opened, FILTER_QUERY)
        finally:
            opened.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return desk


def run_desk(desk: Desk, rss: Path) -> dict:
    import pexpect

    result = {}
    started = time.perf_counter()
    process = spawn("desk", 0, rss, desk.env)
    process.expect_exact(number_cell(desk.top))
    result["first_rows"] = time.perf_counter() - started
    result["first_rows_cpu"] = cpu_used(process.pid)
    result["own_cpu"], result["waited"] = own_cpu_and_wait(process.pid)
    process.expect_exact(f"1 of {desk.tickets:,}")
    result["count_shown"] = time.perf_counter() - started
    drain(process)
    if desk.tickets > 2 * ROWS_ON_SCREEN:
        sent = time.perf_counter()
        process.send(KEYS["pagedown"])
        process.expect_exact(number_cell(desk.second_page))  # the row just below the first screen
        result["page_down"] = time.perf_counter() - sent
        drain(process)
        sent = time.perf_counter()
        process.send(KEYS["end"])
        process.expect_exact(number_cell(desk.bottom))
        result["last_row"] = time.perf_counter() - sent
        drain(process)
        process.send(KEYS["home"])
        process.expect_exact(f"1 of {desk.tickets:,}")
        drain(process)
    sent = time.perf_counter()
    process.send(KEYS["enter"])  # the first row: the 200-message ticket
    process.expect_exact(CONVERSATION_TITLE)
    result["open"] = time.perf_counter() - sent
    drain(process)
    process.send(KEYS["escape"])
    process.expect_exact("of {:,}".format(desk.tickets))
    drain(process)
    if desk.filter_first is not None:
        process.send("/")
        drain(process)  # the filter bar has the focus
        process.send(FILTER_QUERY)
        process.expect_exact("jam")  # the typed query echoed
        drain(process)
        sent = time.perf_counter()
        process.send(KEYS["enter"])
        process.expect_exact(number_cell(desk.filter_first))
        result["filter"] = time.perf_counter() - sent
        process.expect_exact(f"of {desk.filter_count:,}")
        result["filter_count"] = time.perf_counter() - sent
        drain(process)
    process.send(KEYS["quit"])
    process.expect_exact(pexpect.EOF)
    process.close()
    result["peak_kb"], result["launch_child_peak_kb"] = peaks(rss)
    return result


def summarise(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"{statistics.median(ms):8.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f})"


def compile_bytecode() -> None:
    """Compile helpdesk's modules to bytecode, as installing a package does. Textual, Rich and Peewee
    come compiled from their install; a checkout installed in editable mode is compiled on its first
    run, unless PYTHONDONTWRITEBYTECODE is set (it is on this machine), in which case every launch
    would compile ~80 modules from source again: a cost no user's second launch pays, and the bare
    app never pays at all."""
    import compileall

    compileall.compile_dir(str(ROOT / "helpdesk"), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--desk-tickets", type=int, default=1_000_000, help="tickets of the desks built (1000000)")
    parser.add_argument("--sqlite-desk", metavar="HOME", help="a SQLite desk kept by desk_bench.py --keep")
    parser.add_argument("--postgres", action="store_true", help="also build and measure a PostgreSQL desk")
    parser.add_argument("--pg-desk", metavar="HOME", help="a PostgreSQL desk kept by desk_bench.py --keep ...")
    parser.add_argument("--pg-schema", help="... in this schema")
    parser.add_argument("--pg-url", default=os.environ.get("HELPDESK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-desk", action="store_true", help="only the bare app and the in-memory queue")
    parser.add_argument("--empty-only", action="store_true", help="of the desks, only the empty one")
    parser.add_argument("--source-only", action="store_true",
                        help="do not compile helpdesk's bytecode first (see compile_bytecode)")
    parser.add_argument("--child", choices=("bare", "queue", "desk"), help=argparse.SUPPRESS)
    parser.add_argument("--rss-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.rss_file)
        return

    if not args.source_only:
        compile_bytecode()
    desks: list[Desk] = []
    if not args.no_desk:
        desks.append(prepare(build_desk("empty desk", 0, "sqlite", args.pg_url)))
    if not args.no_desk and not args.empty_only:
        sqlite = (Desk("SQLite desk", desk_env(args.sqlite_desk)) if args.sqlite_desk
                  else build_desk("SQLite desk", args.desk_tickets, "sqlite", args.pg_url))
        desks.append(prepare(sqlite))
        if args.pg_desk or args.postgres:
            pg = (Desk("PostgreSQL desk", desk_env(args.pg_desk, args.pg_url, args.pg_schema)) if args.pg_desk
                  else build_desk("PostgreSQL desk", args.desk_tickets, "postgres", args.pg_url))
            desks.append(prepare(pg))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "helpdesk"], cwd=ROOT, capture_output=True, text=True).stdout:
        commit += " + uncommitted changes"
    load_before = os.getloadavg()
    print(f"TUI benchmark · commit {commit} · Python {platform.python_version()} · {os.cpu_count()} CPUs · "
          f"load {load_before[0]:.2f} · terminal {WIDTH}x{HEIGHT} · {args.runs} runs each")
    with tempfile.TemporaryDirectory() as tmp:
        rss = Path(tmp) / "rss"
        bare, big, small = [], [], []
        on_desk: dict[str, list[dict]] = {d.name: [] for d in desks}
        for run in range(args.runs):  # interleaved, so load changes touch every scenario alike
            bare.append(run_bare(rss))
            big.append(run_queue(args.rows, rss))
            small.append(run_queue(100, rss))
            for desk in desks[run % len(desks):] + desks[:run % len(desks)] if desks else []:  # each goes first
                on_desk[desk.name].append(run_desk(desk, rss))

    def col(results: list[dict], key: str) -> list[float]:
        return [r[key] for r in results if key in r]

    bare_first = statistics.median(col(bare, "first_paint"))
    big_first = statistics.median(col(big, "first_rows"))
    small_first = statistics.median(col(small, "first_rows"))
    peak_mb = max(col(big, "peak_kb")) / 1024
    print()
    print(f"bare Textual app, launch to label painted       {summarise(col(bare, 'first_paint'))}")
    print(f"queue, {args.rows:>9,} rows, launch to first rows {summarise(col(big, 'first_rows'))}")
    print(f"queue, {args.rows:>9,} rows, launch to count shown {summarise(col(big, 'count_shown'))}")
    print(f"queue, {100:>9,} rows, launch to first rows {summarise(col(small, 'first_rows'))}")
    print(f"bare Textual app, keypress to label redrawn     {summarise(col(bare, 'key'))}")
    print(f"page down, keypress to next page painted        {summarise(col(big, 'page_down'))}")
    print(f"End, keypress to last row painted               {summarise(col(big, 'last_row'))}")
    print(f"peak memory: bare {max(col(bare, 'peak_kb')) / 1024:.0f} MB, queue {args.rows:,} rows {peak_mb:.0f} MB, "
          f"queue 100 rows {max(col(small, 'peak_kb')) / 1024:.0f} MB")
    print(f"bare Textual app, CPU to label painted          {summarise(col(bare, 'first_paint_cpu'))}")
    print(f"bare Textual app, waited for a core till then  {summarise(col(bare, 'waited'))}")
    labels = [("first_rows", "launch to first rows painted"), ("first_rows_cpu", "CPU to first rows painted"),
              ("own_cpu", "  of which the app's process"), ("waited", "app's process waited for a core"), ("count_shown", "launch to '1 of N' shown"),
              ("page_down", "page down to next page painted"), ("last_row", "End to last row painted"),
              ("open", "Enter to 200-message ticket shown"), ("filter", f"filter {FILTER_QUERY} to first row"),
              ("filter_count", "filter to its count shown")]
    for desk in desks:
        results = on_desk[desk.name]
        print()
        print(f"{desk.name}: {desk.tickets:,} tickets (the filter matches {desk.filter_count:,})")
        for key, label in labels:
            if col(results, key):
                print(f"  {label:<40} {summarise(col(results, key))}")
        forked = max(col(results, "launch_child_peak_kb"), default=0)
        print(f"  peak memory                              {max(col(results, 'peak_kb')) / 1024:.0f} MB"
              + (f" (its launch child's: {forked / 1024:.0f} MB, gone once it has read the first page)"
                 if forked else ""))
    print()
    checks = [
        ("first rows / bare first paint", big_first / bare_first, TARGET_FIRST_PAINT_RATIO, "x"),
        (f"first rows {args.rows:,} / 100 rows", big_first / small_first, 1.1, "x"),
        ("page down", statistics.median(col(big, "page_down")) * 1000, TARGET_KEY_MS, " ms"),
        ("jump to last row", statistics.median(col(big, "last_row")) * 1000, TARGET_KEY_MS, " ms"),
        ("peak memory", peak_mb, TARGET_PEAK_MB, " MB"),
    ]
    if desks:
        empty_first = statistics.median(col(on_desk[desks[0].name], "first_rows"))
        for desk in desks:
            results = on_desk[desk.name]
            first = statistics.median(col(results, "first_rows"))
            name = desk.name.split()[0] if desk is not desks[0] else "empty"
            checks.append((f"{name}: first rows / bare first paint", first / bare_first, TARGET_FIRST_PAINT_RATIO, "x"))
            cpu_ratio = statistics.median(col(results, "first_rows_cpu")) / statistics.median(col(bare, "first_paint_cpu"))
            print(f"     {name}: CPU to first rows / bare's CPU to first paint {cpu_ratio:.2f}x (a check on the "
                  "wall-time ratio when the machine is busy)")
            if desk is not desks[0]:
                checks.append((f"{name}: first rows / empty desk's", first / empty_first, 1.1, "x"))
            for key, target in (("page_down", TARGET_KEY_MS), ("last_row", TARGET_KEY_MS), ("open", TARGET_OPEN_MS),
                                ("filter", TARGET_OPEN_MS)):
                if col(results, key):
                    checks.append((f"{name}: {key.replace('_', ' ')}", statistics.median(col(results, key)) * 1000,
                                   target, " ms"))
            checks.append((f"{name}: peak memory", max(col(results, "peak_kb")) / 1024, TARGET_PEAK_MB, " MB"))
    for name, value, target, unit in checks:
        print(f"{'ok  ' if value <= target else 'MISS'} {name:<40} {value:8.2f}{unit}  (target <= {target}{unit})")
    load_after = os.getloadavg()
    print(f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in load_after)}")


if __name__ == "__main__":
    main()
