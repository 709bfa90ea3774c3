"""The real `helpdesk` TUI in a pseudo-terminal over a real desk (both backends): a ticket opened, a reply
written in $EDITOR (the app suspends, a scripted editor gets the terminal and writes the text, the app
resumes), the reply stored, as `helpdesk ticket show N --json` then says."""

from __future__ import annotations

import json
import os

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
