"""The real `helpdesk` TUI in a pseudo-terminal over a real desk (both backends): a ticket opened, a reply
written in $EDITOR (the app suspends, a scripted editor gets the terminal and writes the text, the app
resumes), the reply stored, as `helpdesk ticket show N --json` then says."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import pytest

from conftest import run_subprocess
from helpdesk.services import tickets

pexpect = pytest.importorskip("pexpect", reason="pexpect runs the app in a pseudo-terminal")

REPLY = "Replaced the toner [/] - written in the editor"
# A scripted editor: it must have the terminal (the app handed it over), notes that it ran, and writes
# the reply above the template the app gave it.
EDITOR = f"""#!/bin/sh
[ -t 0 ] && [ -t 1 ] || exit 3
echo "$1" > "$EDITOR_LOG"
{{ printf '%s\\n' '{REPLY}'; cat "$1"; }} > "$1.new" && mv "$1.new" "$1"
"""


@pytest.mark.slow
def test_a_reply_written_in_editor_from_the_real_app_is_stored(desk, helpdesk_bin, tmp_path):
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals here")
    view, _ = tickets.create(desk, title="Printer offline", customer="ann@example.com")
    editor = tmp_path / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    log = tmp_path / "editor.log"
    env = {**os.environ, "EDITOR": str(editor), "EDITOR_LOG": str(log), "TERM": "xterm-256color"}
    env.pop("VISUAL", None)
    child = pexpect.spawn(helpdesk_bin[0], helpdesk_bin[1:], env=env, dimensions=(30, 120), timeout=30,
                          encoding="utf-8")
    try:
        child.expect("Printer offline")  # the queue, read from the desk
        child.send("\r")  # open the ticket under the cursor
        child.expect("Conversation")
        child.send("r")
        child.expect("write in \\$EDITOR")  # the compose prompt
        child.send("\x05")  # ctrl+e: the app suspends, the editor runs, the app resumes
        child.expect("Reply queued in the outbox")
        child.send("\x11")  # ctrl+q
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert log.exists()  # the editor ran, on the terminal
    shown = run_subprocess([*helpdesk_bin, "ticket", "show", str(view.number), "--json"])
    assert shown.returncode == 0, shown.stderr
    replies = [e["body"] for e in json.loads(shown.stdout)["conversation"] if e["kind"] == "reply"]
    assert replies == [REPLY]


@contextmanager
def running_app(helpdesk_bin):
    """A bare `helpdesk` in a pseudo-terminal; after the block, ctrl+q must end it cleanly (exit 0)."""
    child = pexpect.spawn(helpdesk_bin[0], helpdesk_bin[1:], env={**os.environ, "TERM": "xterm-256color"},
                          dimensions=(30, 120), timeout=30, encoding="utf-8")
    try:
        yield child
        child.send("\x11")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


@pytest.mark.slow
def test_the_real_app_shows_a_change_made_after_its_launch_read_the_first_page(desk, helpdesk_bin):
    """A bare `helpdesk` forks a child that reads the first page while Textual starts
    (helpdesk.tui.opening), then opens the desk itself: changes by others after that read still appear,
    and the app's own actions work on the desk it opened."""
    if not hasattr(os, "openpty") or not hasattr(os, "fork"):
        pytest.skip("no pseudo-terminals or fork here")
    tickets.create(desk, title="Printer offline", customer="ann@example.com")
    with running_app(helpdesk_bin) as child:
        child.expect("Printer offline")  # the first page, as the launch's child read it
        child.expect("1 of 1")  # the count, from the desk this process opened
        made = run_subprocess([*helpdesk_bin, "ticket", "create", "--title", "Scanner smoking",
                               "--customer", "bob@example.com", "--priority", "P1", "--json"])
        assert made.returncode == 0, made.stderr
        child.expect("Scanner smoking")  # no keypress: the change feed of the desk opened after the paint
        child.expect("1 of 2")
        child.send("\r")  # the P1 ticket is on top: it opens
        child.expect("Conversation")
        child.send("\x1b")
        child.expect("1 of 2")


def test_a_bare_helpdesk_with_no_desk_says_so_in_one_line(home, helpdesk_bin):
    proc = run_subprocess(helpdesk_bin, timeout=60)
    assert proc.returncode == 1, proc.stderr
    first, hint = proc.stderr.splitlines()
    assert first.startswith("helpdesk: no desk at") and hint == "Try: helpdesk init --sample, then helpdesk"
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert {p.name for p in home.path.iterdir()} <= {"config.toml"}  # nothing of a desk made


def test_a_bare_helpdesk_for_an_unknown_agent_says_so(configured, helpdesk_bin):
    proc = run_subprocess(helpdesk_bin, env={**os.environ, "HELPDESK_AGENT": "nobody"}, timeout=60)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("helpdesk: ") and "nobody" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_the_real_app_opens_on_the_start_view_of_its_config(configured, helpdesk_bin):
    # The launch's child reads the first page of the default view only; another start view is read by
    # the app from the desk it opens.
    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals here")
    configured.write_config(configured.default_config() + '\n[tui]\nstart_view = "All tickets"\n')
    made = run_subprocess([*helpdesk_bin, "ticket", "create", "--title", "Printer offline",
                           "--customer", "ann@example.com"])
    assert made.returncode == 0, made.stderr
    closed = run_subprocess([*helpdesk_bin, "ticket", "create", "--title", "Old and done",
                             "--customer", "ann@example.com", "--json"])
    number = json.loads(closed.stdout)["number"]
    assert run_subprocess([*helpdesk_bin, "ticket", "status", str(number), "resolved"]).returncode == 0
    with running_app(helpdesk_bin) as child:
        child.expect("Old and done")  # resolved: only "All tickets" shows it
        child.expect("1 of 2")
