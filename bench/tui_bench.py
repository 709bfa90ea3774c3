#!/usr/bin/env python
"""Benchmark the TUI as a person meets it: a real process in a real pseudo-terminal, timed from the
terminal's side (the bytes the app writes), against a bare Textual app measured the same way.

    .venv/bin/python bench/tui_bench.py                 # 7 runs of each, 140x34 terminal
    .venv/bin/python bench/tui_bench.py --runs 15 --rows 1000000

Scenarios (each a fresh process, `--runs` times, median and spread reported):
 1. bare: a Textual app that shows one static label; launch to the label painted, and a keypress to
    the label changed (the baselines: what Textual itself costs on this machine);
 2. queue: the queue over an in-memory source of `--rows` made-up rows (helpdesk.tui.memory); launch to
    the first rows painted, then in the same process: page down (keypress to the next page's first row
    painted), jump to the last row (End to the last row painted), and the process's peak memory (its
    maximum resident set size, written by the child at exit).
The queue scenario also runs over 100 rows: launch and peak memory should not grow with the row count.

The desk-backed figures (an empty desk and a 1,000,000-ticket SQLite / PostgreSQL desk: first page,
next page, last row, applying a filter, opening a 200-message ticket) come with the services layer,
which provides the RowSource over the desk. Needs the test extras (pexpect).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 140, 34
ROWS_ON_SCREEN = HEIGHT - 3  # the footer, the table's header and its status line take the rest
BARE_LABEL = "helpdesk bench: ready"
KEYS = {"pagedown": "\x1b[6~", "end": "\x1b[F", "quit": "\x11"}

TARGET_FIRST_PAINT_RATIO = 1.3  # first rows within 1.3x the bare app's first paint
TARGET_KEY_MS = 50.0  # keypress to redraw
TARGET_PEAK_MB = 150.0


# ---------------------------------------------------------------- the child apps


def child(kind: str, rows: int, rss_file: str) -> None:
    """Run one app in this process (the parent times it through the pseudo-terminal)."""
    import atexit
    import resource

    atexit.register(lambda: Path(rss_file).write_text(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
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
    from helpdesk.tui.app import HelpdeskApp
    from helpdesk.tui.memory import MemoryRowSource, SyntheticRows

    source = MemoryRowSource(SyntheticRows(rows))
    HelpdeskApp(lambda query: source).run()


# ---------------------------------------------------------------- the parent: timing through the pty


def spawn(kind: str, rows: int, rss_file: Path):
    import pexpect

    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(WIDTH), "LINES": str(HEIGHT)}
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


def number_cell(number: int) -> str:
    """How the number column draws a row's number (8 cells, right-aligned): unique on the screen."""
    return f"{number:>8}"


def run_bare(rss: Path) -> dict:
    started = time.perf_counter()
    process = spawn("bare", 0, rss)
    process.expect_exact(BARE_LABEL)
    first = time.perf_counter() - started
    drain(process)
    sent = time.perf_counter()
    process.send("x")
    process.expect_exact("pressed 001")
    key = time.perf_counter() - sent
    drain(process)
    process.send(KEYS["quit"])
    process.expect_exact(__import__("pexpect").EOF)
    process.close()
    return {"first_paint": first, "key": key, "peak_kb": int(rss.read_text())}


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
    result["peak_kb"] = int(rss.read_text())
    return result


def summarise(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"{statistics.median(ms):8.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=("bare", "queue"), help=argparse.SUPPRESS)
    parser.add_argument("--rss-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.rss_file)
        return

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "helpdesk"], cwd=ROOT, capture_output=True, text=True).stdout:
        commit += " + uncommitted changes"
    print(f"TUI benchmark · commit {commit} · Python {platform.python_version()} · {os.cpu_count()} CPUs · "
          f"load {os.getloadavg()[0]:.2f} · terminal {WIDTH}x{HEIGHT} · {args.runs} runs each")
    with tempfile.TemporaryDirectory() as tmp:
        rss = Path(tmp) / "rss"
        bare, big, small = [], [], []
        for _ in range(args.runs):  # interleaved, so load changes touch every scenario alike
            bare.append(run_bare(rss))
            big.append(run_queue(args.rows, rss))
            small.append(run_queue(100, rss))

    def col(results: list[dict], key: str) -> list[float]:
        return [r[key] for r in results]

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
    print()
    checks = [
        ("first rows / bare first paint", big_first / bare_first, TARGET_FIRST_PAINT_RATIO, "x"),
        (f"first rows {args.rows:,} / 100 rows", big_first / small_first, 1.1, "x"),
        ("page down", statistics.median(col(big, "page_down")) * 1000, TARGET_KEY_MS, " ms"),
        ("jump to last row", statistics.median(col(big, "last_row")) * 1000, TARGET_KEY_MS, " ms"),
        ("peak memory", peak_mb, TARGET_PEAK_MB, " MB"),
    ]
    for name, value, target, unit in checks:
        print(f"{'ok  ' if value <= target else 'MISS'} {name:<34} {value:8.2f}{unit}  (target <= {target}{unit})")


if __name__ == "__main__":
    main()
