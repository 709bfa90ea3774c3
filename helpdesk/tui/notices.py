"""Notices: toasts (`notify`) and a banner for a state that lasts (the database went away). Both take
stored text as str, Text or Content and show it inert and literal: Textual's own `notify()` parses
markup by default, and a ticket title `[/]` in it raises (textual #5581, #6155)."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import App
from textual.content import Content
from textual.dom import DOMNode
from textual.widgets import Static

from helpdesk.tui.text import plain

Severity = Literal["information", "warning", "error"]


def notify(target: App | DOMNode, message: str | Text | Content, *, title: str | Text | Content = "",
           severity: Severity = "information", timeout: float | None = None) -> None:
    """A toast whose message and title are shown as written (inert, never markup). Thread-safe."""
    app = target if isinstance(target, App) else target.app
    app.notify(plain(message), title=plain(title), severity=severity, timeout=timeout, markup=False)


class Banner(Static):
    """A line across the top of the screen until `clear()`: for what lasts, where a toast would
    vanish (the desk cannot be reached; a newer version of the ticket exists)."""

    DEFAULT_CSS = """
    Banner {
        dock: top;
        display: none;
        height: auto;
        padding: 0 1;
        text-style: bold;
        &.-shown { display: block; }
        &.-error { background: $error; color: $text; }
        &.-warning { background: $warning; color: $text; }
        &.-information { background: $primary; color: $text; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", markup=False, id=id, classes=classes)
        self.message = ""

    def show(self, message: str | Text | Content, severity: Severity = "error") -> None:
        self.message = plain(message)
        self.update(Content(self.message))
        self.remove_class("-error", "-warning", "-information")
        self.add_class("-shown", f"-{severity}")

    def clear(self) -> None:
        self.message = ""
        self.update("")
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")
