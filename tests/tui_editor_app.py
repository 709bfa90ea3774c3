"""A tiny real Textual app that composes text in $EDITOR through the TUI's runner (suspend, run the
editor, resume): tests/test_tui_editor.py runs it in a pseudo-terminal.

    python tests/tui_editor_app.py RESULT_FILE     # 'e' composes, ctrl+q quits
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Static

from helpdesk.tui.editor import compose_in_app
from helpdesk.tui.text import line_text


class EditorApp(App):
    BINDINGS = [("e", "compose", "Compose")]

    def __init__(self, result: Path) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        yield Static(line_text("ready: press e"), id="shown")

    def action_compose(self) -> None:
        text = compose_in_app(self, "Write the reply above this line.")
        self.result.write_text(text, encoding="utf-8")
        self.query_one("#shown", Static).update(line_text(f"composed: {text}"))


if __name__ == "__main__":
    EditorApp(Path(sys.argv[1])).run()
