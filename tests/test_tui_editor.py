"""$EDITOR from the TUI: the app suspends, the editor gets the terminal, the app resumes. Under
run_test the runner is replaced (the headless driver cannot suspend); one test runs a real Textual app
in a real pseudo-terminal with a scripted editor."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import ROOT
from helpdesk.core.editor import SCISSORS, EditorFailed
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.memory import MemoryRowSource, SyntheticRows

pytestmark = pytest.mark.anyio


def rows_for(query: str) -> MemoryRowSource:
    return MemoryRowSource(SyntheticRows(100))


async def test_compose_through_a_replaced_runner():
    seen: list[str] = []

    def person(path: str) -> None:
        """What a person does in the editor: reads the template, writes a reply above the scissors."""
        template = Path(path).read_text()
        seen.append(template)
        Path(path).write_text("Thanks, the toner is on its way.\n[/] stays as written\n" + template)

    app = HelpdeskApp(rows_for, editor_runner=person)
    async with app.run_test() as pilot:
        await pilot.pause()
        text = app.compose_text("Reply to #5: Printer jams\nLines below the scissors are dropped.")
    assert text == "Thanks, the toner is on its way.\n[/] stays as written"
    assert SCISSORS in seen[0] and "# Reply to #5: Printer jams" in seen[0]


async def test_the_real_runner_says_clearly_when_the_terminal_cannot_be_handed_over():
    app = HelpdeskApp(rows_for)  # the default runner: suspend, which the headless driver cannot do
    async with app.run_test() as pilot:
        await pilot.pause()
        with pytest.raises(EditorFailed, match="cannot hand over to an editor"):
            app.compose_text("Reply")


@pytest.mark.slow
def test_editor_end_to_end_in_a_pseudo_terminal(tmp_path):
    editor = tmp_path / "editor.sh"
    # A scripted editor that proves it has the terminal: it prompts on it and reads what is typed there
    # (the app, suspended, reads nothing), then writes that above the template.
    editor.write_text('#!/bin/sh\n'
                      '[ -t 0 ] && [ -t 1 ] || exit 3\n'
                      'printf "EDITOR RUNNING> "\n'
                      'read -r line\n'
                      '{ printf "%s\\n" "$line"; cat "$1"; } > "$1.new" && mv "$1.new" "$1"\n')
    editor.chmod(0o755)
    result = tmp_path / "result.txt"
    env = {**os.environ, "EDITOR": str(editor), "TERM": "xterm-256color"}
    env.pop("VISUAL", None)
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, [str(ROOT / "tests" / "tui_editor_app.py"), str(result)], env=env,
                          cwd=str(ROOT), dimensions=(24, 100), timeout=30, encoding="utf-8")
    try:
        child.expect("ready: press e")
        child.send("e")
        child.expect("EDITOR RUNNING> ")
        child.sendline("typed in the editor [/]")
        child.expect("composed: typed in the editor \\[/\\]")  # the app resumed and drew again
        child.send("\x11")  # ctrl+q
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert result.read_text() == "typed in the editor [/]"
    assert child.exitstatus == 0
