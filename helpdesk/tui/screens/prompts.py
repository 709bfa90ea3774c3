"""Small modal questions the detail screen asks: the text of a reply or note (inline, or in $EDITOR),
one of a few choices (a status, a priority, an agent), a line of text (an agent's login). Each dismisses with
the answer, or None when the person backs out."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea

from helpdesk.tui.core import EditorFailed
from helpdesk.tui.notices import notify
from helpdesk.tui.text import line_content

PROMPT_CSS = """
    align: center middle;
    & > Vertical {
        width: 80;
        max-width: 100%;
        height: auto;
        max-height: 80%;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    & .prompt--hint { color: $foreground-muted; }
"""


class ComposeScreen(ModalScreen[str | None]):
    """A reply or a note: written inline, or in the person's editor (ctrl+e); ctrl+s sends."""

    BINDINGS = [Binding("ctrl+s", "send", "Send"), Binding("ctrl+e", "editor", "Editor"),
                Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "ComposeScreen {" + PROMPT_CSS + "& TextArea { height: 12; } }"

    def __init__(self, title: str, instructions: str) -> None:
        super().__init__()
        self.heading = title
        self.instructions = instructions

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = line_content(self.heading)
            yield TextArea(id="body", soft_wrap=True, show_line_numbers=False)
            yield Static(Content("ctrl+s send · ctrl+e write in $EDITOR · esc cancel"), classes="prompt--hint")

    def action_send(self) -> None:
        text = self.query_one("#body", TextArea).text
        self.dismiss(text if text.strip() else None)

    def action_editor(self) -> None:
        try:
            text = self.app.compose_text(self.instructions)
        except EditorFailed as error:
            notify(self, str(error), severity="error")
            return
        if text.strip():
            self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """One of a few values (the current one marked); enter picks, escape backs out."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "ChoiceScreen {" + PROMPT_CSS + "& OptionList { height: auto; max-height: 12; } }"

    def __init__(self, title: str, choices: Sequence[str], current: str | None = None) -> None:
        super().__init__()
        self.heading = title
        self.choices = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = line_content(self.heading)
            labels = [line_content(c) + ("  (now)" if c == self.current else "") for c in self.choices]
            yield OptionList(*labels, id="choices")

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        options.highlighted = self.choices.index(self.current) if self.current in self.choices else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskScreen(ModalScreen[str | None]):
    """A line of text (an agent's login; a path, `value` its default); enter answers, escape backs out."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = "AskScreen {" + PROMPT_CSS + "}"

    def __init__(self, title: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.heading = title
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = line_content(self.heading)
            yield Input(self.value, placeholder=self.placeholder, id="answer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
