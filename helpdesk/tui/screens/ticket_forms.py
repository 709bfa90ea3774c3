"""The ticket detail's own forms: the reply compose box holding an AI draft, the list of similar solved
tickets, and the edit of a ticket's title and type fields (a value the field refuses is said in the form,
nothing stored)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static, TextArea

from helpdesk.tui.core import inert
from helpdesk.tui.desk import StaleVersion, TicketDesk
from helpdesk.tui.notices import notify
from helpdesk.tui.screens.prompts import PROMPT_CSS, ComposeScreen
from helpdesk.tui.text import field_label, line_content


class DraftComposeScreen(ComposeScreen):
    """The reply compose box holding an AI draft: nothing is sent until the agent sends it."""

    def __init__(self, title: str, instructions: str, draft: str) -> None:
        super().__init__(title, instructions)
        self.draft = draft

    def on_mount(self) -> None:
        self.query_one("#body", TextArea).load_text(self.draft)


class SimilarScreen(ModalScreen[int | None]):
    """Solved tickets like this one, best first, each with its resolution; enter opens one."""

    BINDINGS = [Binding("escape", "cancel", "Close")]
    DEFAULT_CSS = "SimilarScreen {" + PROMPT_CSS + "& OptionList { height: auto; max-height: 24; } }"

    def __init__(self, number: int, found: list[dict]) -> None:
        super().__init__()
        self.number = number
        self.found = found

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(f"Solved tickets like #{self.number}")
            options = []
            for item in self.found:
                head = Content(f"#{item['ticket']}  ") + line_content(item.get("title") or "") + Content(
                    f"  (similarity {item.get('score', 0):.2f})")
                resolution = " ".join(str(item.get("resolution") or "no public reply").split())
                options.append(Content("\n").join([head, Content("   ") + line_content(resolution[:300])
                                                    .stylize_before("dim")]))
            yield OptionList(*options, id="similar")
            yield Static(Content("enter opens the ticket · esc closes"), classes="prompt--hint")

    def on_mount(self) -> None:
        self.query_one("#similar", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.found[event.option_index]["ticket"])

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditFieldsScreen(ModalScreen[str | None]):
    """The title and the type's extension fields of a ticket, edited; ctrl+s saves (in a worker, with the
    version shown), a value the field refuses is said here in words and nothing is stored. Dismisses with
    what was done, "stale" when someone else changed the ticket meanwhile, or None."""

    BINDINGS = [Binding("ctrl+s", "save", "Save"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = ("EditFieldsScreen {" + PROMPT_CSS + "& Label { margin-top: 1; } & #edit-error { color: $error; "
                   "margin-top: 1; } & #edit-form { height: auto; max-height: 30; } }")

    def __init__(self, desk: TicketDesk, view, specs) -> None:
        super().__init__()
        self.desk = desk
        self.view = view
        self.specs = list(specs)
        # What each input starts with: stored text made inert (a control character is never typed back).
        self.initial = {"title": inert(view.title, layout=False)}
        for spec in self.specs:
            value = (view.fields or {}).get(spec.name)
            self.initial[spec.name] = "" if value is None else inert(str(value), layout=False)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(f"Edit #{self.view.number}")
            with VerticalScroll(id="edit-form"):
                yield Label(Content("Title"))
                yield Input(self.initial["title"], id="edit-title")
                for i, spec in enumerate(self.specs):
                    hint = {"choice": "one of " + ", ".join(spec.options), "bool": "true or false",
                            "date": "a date YYYY-MM-DD", "int": "a whole number", "number": "a number"}.get(spec.kind, "text")
                    label = line_content(field_label(spec)) + Content(f"  ({hint}{', required' if spec.required else ''})")
                    yield Label(label)
                    yield Input(self.initial[spec.name], placeholder=hint, id=f"edit-field-{i}")
            yield Static("", id="edit-error", markup=False)
            yield Static(Content("ctrl+s save · esc cancel · an empty field is cleared"), classes="prompt--hint")

    def on_mount(self) -> None:
        self.query_one("#edit-title", Input).focus()

    def changes(self) -> tuple[str | None, dict[str, str]]:
        title = self.query_one("#edit-title", Input).value
        fields = {spec.name: self.query_one(f"#edit-field-{i}", Input).value for i, spec in enumerate(self.specs)}
        return (title if title != self.initial["title"] else None,
                {name: value for name, value in fields.items() if value != self.initial[name]})

    def on_input_submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        title, fields = self.changes()
        if title is None and not fields:
            self.dismiss(None)
            notify(self.app, f"#{self.view.number}: nothing changed")
            return
        self.query_one("#edit-error", Static).update("")
        self.save(title, fields)

    @work(thread=True, exclusive=True, group="edit-save", exit_on_error=False)
    def save(self, title: str | None, fields: dict[str, str]) -> None:
        try:
            self.desk.edit(self.view.number, title=title, fields=fields, version=self.view.version)
        except StaleVersion:
            self.app.call_from_thread(self.dismiss, "stale")
            return
        except Exception as error:  # refused (a bad value) or failed: said here, the form stays
            self.app.call_from_thread(self._refused, error)
            return
        said = ", ".join([*(["title"] if title is not None else []), *fields])
        self.app.call_from_thread(self.dismiss, f"#{self.view.number}: saved {said}")

    def _refused(self, error: Exception) -> None:
        self.query_one("#edit-error", Static).update(
            Content("✗ Not saved: ") + line_content(str(error) or error.__class__.__name__))

    def action_cancel(self) -> None:
        self.dismiss(None)
