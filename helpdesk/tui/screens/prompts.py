"""Small modal questions the detail screen asks: the text of a reply or note (inline, or in $EDITOR),
one of a few choices (a status, a priority, an agent), a line of text (an agent's login), a macro by name
(completed as it is typed). Each dismisses with the answer, or None when the person backs out."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from helpdesk.tui.core import EditorFailed
from helpdesk.tui.desk import HelpdeskError, MacroView, StaleVersion, TicketDesk
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

    # ctrl+e before the text area, which would take it as "end of line"
    BINDINGS = [Binding("ctrl+s", "send", "Send"), Binding("ctrl+e", "editor", "Editor", priority=True),
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


def macro_outcome(macro: MacroView) -> str:
    """What applying a macro does, said after it is done."""
    what = "internal note added" if macro.note else "public reply queued in the outbox"
    status = f", status {macro.status.replace('_', ' ')}" if macro.status else ""
    return f"Macro {macro.name} applied: {what}{status}"


def macro_option(macro: MacroView) -> Content:
    """A macro in the list: its name, what it does, its text's first line (all inert)."""
    kind = "note" if macro.note else "reply"
    status = f" → {macro.status.replace('_', ' ')}" if macro.status else ""
    first_line = (macro.body.strip().splitlines() or [""])[0]
    return (line_content(macro.name).stylize("bold") + Content.styled(f"  {kind}{status}  ", "dim")
            + line_content(first_line))


class MacroScreen(ModalScreen[str | None]):
    """A macro by name, applied to a ticket: the name completes as it is typed (right arrow takes the
    completion), the list below shows the macros that match; enter on the name, or on one in the list,
    applies it (in a worker, with the version of the ticket shown). Dismissed with what was done; a
    macro the desk refuses (an illegal status move, a ticket changed since) leaves the prompt open
    with the reason, nothing stored."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = ("MacroScreen {" + PROMPT_CSS + "& OptionList { height: auto; max-height: 10; } "
                   "& #macro-problem { color: $error; } }")

    def __init__(self, desk: TicketDesk, number: int, version: int | None) -> None:
        super().__init__()
        self.desk = desk
        self.number = number
        self.version = version
        self.heading = f"Macro for #{number}"
        self.macros: list[MacroView] = []
        self.shown: list[MacroView] = []  # the macros in the list, in its order

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = line_content(self.heading)
            yield Input(placeholder="a macro's name (→ completes)", id="macro-name")
            yield Static("", id="macro-problem", markup=False)
            yield OptionList(id="macro-list")
            yield Static(Content("enter apply · → complete · ↓ the list · esc cancel"), classes="prompt--hint")

    def on_mount(self) -> None:
        self.query_one("#macro-name", Input).focus()
        self.load()

    @work(thread=True, exclusive=True, group="macros-load", exit_on_error=False)
    def load(self) -> None:
        try:
            macros = self.desk.macros()
        except Exception as error:  # the desk's failure is said in the prompt
            self.app.call_from_thread(self._problem, f"The macros could not be read: {error}")
            return
        self.app.call_from_thread(self._loaded, macros)

    def _loaded(self, macros: list[MacroView]) -> None:
        self.macros = macros
        self.query_one("#macro-name", Input).suggester = SuggestFromList([m.name for m in macros],
                                                                          case_sensitive=False)
        if not macros:
            self._problem("No macros are configured ([[macro]] in the configuration)")
        self._show_matching("")

    def _problem(self, message: str) -> None:
        self.query_one("#macro-problem", Static).update(Content("✗ ") + line_content(message) if message else "")

    def _show_matching(self, typed: str) -> None:
        typed = typed.strip().casefold()
        self.shown = [m for m in self.macros if typed in m.name.casefold()]
        options = self.query_one("#macro-list", OptionList)
        options.set_options(Option(macro_option(m)) for m in self.shown)
        if self.shown:
            options.highlighted = 0

    @on(Input.Changed, "#macro-name")
    def _typed(self, event: Input.Changed) -> None:
        self._problem("")
        self._show_matching(event.value)

    def chosen(self, typed: str) -> MacroView | None:
        """The macro a typed name means: its exact name (any case), else the only one it begins."""
        typed = typed.strip().casefold()
        exact = [m for m in self.macros if m.name.casefold() == typed]
        starting = [m for m in self.macros if m.name.casefold().startswith(typed)]
        if exact:
            return exact[0]
        return starting[0] if typed and len(starting) == 1 else None

    @on(Input.Submitted, "#macro-name")
    def _submitted(self, event: Input.Submitted) -> None:
        macro = self.chosen(event.value)
        if macro is not None:
            self.apply(macro)
        elif self.macros:
            known = ", ".join(m.name for m in self.macros)
            self._problem(f"No macro is called {event.value.strip()!r} (macros: {known})")

    def key_down(self) -> None:
        if self.query_one("#macro-name", Input).has_focus and self.shown:
            self.query_one("#macro-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#macro-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.apply(self.shown[event.option_index])

    @work(thread=True, exclusive=True, group="macro-apply", exit_on_error=False)
    def apply(self, macro: MacroView) -> str | None:
        """What was done (the prompt closes once this worker has ended), or None and the reason shown."""
        try:
            self.desk.apply_macro(self.number, macro.name, version=self.version)
            return macro_outcome(macro)
        except StaleVersion:
            self.app.call_from_thread(self._problem, f"#{self.number} was changed by someone else since you "
                                      "opened it: nothing was saved; look at it again (esc) and retry")
        except HelpdeskError as error:
            self.app.call_from_thread(self._problem, f"Macro {macro.name} not applied: {error}")
        except Exception as error:  # the desk's failure is said in the prompt, not a crash
            self.app.call_from_thread(self._problem, f"Macro {macro.name} failed: {error}")
        return None

    @on(Worker.StateChanged)
    def _worker_ended(self, event: Worker.StateChanged) -> None:
        # Closed only after the worker has ended: closing from inside it would cancel it mid-call.
        if event.worker.group == "macro-apply" and event.state == WorkerState.SUCCESS and event.worker.result:
            self.dismiss(event.worker.result)

    def action_cancel(self) -> None:
        self.dismiss(None)
