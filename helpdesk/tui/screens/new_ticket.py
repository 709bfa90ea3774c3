"""The new-ticket form: the fields every ticket has (title, description, priority, customer, queue), a
type chosen from the desk's, and that type's own fields below (the T-shape: a common trunk, then the
type's extension), each with its kind, a mark when required, and a choice's options in a list.

Nothing is checked here: the desk checks the whole ticket by the rules every channel's intake uses
(`TicketDesk.create_ticket`, in a worker) and a refused ticket comes back with every problem by the
input it concerns; each is shown beside its input, and nothing is stored. Type labels, field labels
and options are configuration text, shown inert like any stored text."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Select, Static, TextArea
from textual.worker import Worker, WorkerState

from helpdesk.tui.desk import FormRefused, HelpdeskError, TicketDesk, TicketFormView, TicketView
from helpdesk.tui.notices import Banner
from helpdesk.tui.text import line_content, line_text
from helpdesk.tui.widgets.key_bar import KeyBar

# What each kind of field takes, as its input's placeholder and beside its name.
KIND_HINTS = {"text": "text", "int": "a whole number", "number": "a number", "bool": "yes or no",
              "date": "a date YYYY-MM-DD", "choice": "one of the list"}
COMMON = (("title", "Title", True), ("body", "Description", False), ("priority", "Priority", False),
          ("customer", "Customer email", False), ("queue", "Queue", False))


@dataclass
class FieldInput:
    """One input of the form: its widget and the line beside it where its problem is said."""

    widget: Input | Select | TextArea
    problem: Static

    def value(self) -> str:
        if isinstance(self.widget, TextArea):
            return self.widget.text
        if isinstance(self.widget, Select):
            return self.widget.value if isinstance(self.widget.value, str) else ""
        return self.widget.value


def field_label(name: str, label: str = "", *, required: bool = False, kind: str = "") -> Content:
    """A field's name as the form shows it (its configured label first, inert), '*' when required, its kind."""
    text = line_content(label) + Content(f" ({name})") if label and label != name else line_content(name)
    if required:
        text += Content.styled(" *", "bold $error")
    if kind:
        text += Content.styled(f"  {kind}", "dim")
    return text


class NewTicketScreen(Screen["TicketView | None"]):
    """Dismissed with the created ticket's view, or None when the person backs out."""

    BINDINGS = [Binding("ctrl+s", "create", "Create"), Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NewTicketScreen {
        & #form { padding: 0 1; }
        & .form--title { text-style: bold; color: $accent; margin-bottom: 1; }
        & .form--heading { text-style: bold underline; margin-top: 1; }
        & .form--row { height: auto; margin-bottom: 0; }
        & .form--label { width: 30; padding: 0 1 0 0; }
        & .form--input { width: 44; }
        & .form--problem { width: 1fr; color: $error; padding: 0 0 0 2; }
        & .form--note { color: $foreground-muted; }
        & TextArea.form--input { height: 4; }
    }
    """

    def __init__(self, desk: TicketDesk) -> None:
        super().__init__()
        self.desk = desk
        self.form: TicketFormView | None = None
        self.inputs: dict[str, FieldInput] = {}  # by the key the desk names problems with

    def compose(self) -> ComposeResult:
        yield Banner(id="form-banner")
        with VerticalScroll(id="form"):
            yield Static("New ticket", classes="form--title", markup=False)
            yield self._row("type", field_label("Type") + Content.styled("  its own fields below", "dim"),
                            Select([], prompt="no type", id="type", compact=True))
            yield Static("Every ticket", classes="form--heading", markup=False)
            for key, label, required in COMMON:
                yield self._row(key, field_label(label, required=required), self._common_input(key))
            yield Static("", id="type-heading", classes="form--heading", markup=False)
            yield Vertical(id="type-fields")
        yield KeyBar()

    def _common_input(self, key: str) -> Widget:
        if key == "body":
            return TextArea(id="body", soft_wrap=True, compact=True,
                            placeholder="what happened, what is needed")
        if key == "priority":
            return Select([], prompt="the desk's default", id="priority", compact=True)
        if key == "queue":
            return Select([], prompt="the type's queue", id="queue", compact=True)
        placeholder = {"title": "what the request is about", "customer": "who asked (an email address)"}[key]
        return Input(placeholder=placeholder, id=key, compact=True)

    def _row(self, key: str, label: Content, widget: Widget) -> Horizontal:
        widget.add_class("form--input")
        problem = Static("", classes="form--problem", markup=False)
        self.inputs[key] = FieldInput(widget, problem)
        return Horizontal(Static(label, classes="form--label"), widget, problem, classes="form--row")

    @property
    def banner(self) -> Banner:
        return self.query_one("#form-banner", Banner)

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()
        self.load()

    # ------------------------------------------------------------ reading the desk's types

    @work(thread=True, exclusive=True, group="new-ticket-load", exit_on_error=False)
    def load(self) -> None:
        try:
            form = self.desk.new_ticket_form()
        except Exception as error:  # the desk's failure is said, not a crash
            self.app.call_from_thread(self.banner.show, f"The ticket types could not be read: {error}")
            return
        self.app.call_from_thread(self._show_form, form)

    def _show_form(self, form: TicketFormView) -> None:
        self.form = form
        self.query_one("#type", Select).set_options(
            [(line_content(t.label) + Content.styled(f"  {t.name}", "dim"), t.name) for t in form.types])
        self.query_one("#priority", Select).set_options([(Content(p), p) for p in form.priorities])
        self.query_one("#priority", Select).value = form.default_priority
        self.query_one("#queue", Select).set_options([(line_content(q), q) for q in form.queues])
        self._show_type_fields(None)

    @on(Select.Changed, "#type")
    def _type_changed(self, event: Select.Changed) -> None:
        if self.form is not None:
            self._show_type_fields(event.value if isinstance(event.value, str) else None)

    def _show_type_fields(self, name: str | None) -> None:
        """The chosen type's own fields under the common ones (what was typed in the others stays)."""
        for key in [k for k in self.inputs if k.startswith("field.")]:
            del self.inputs[key]
        box = self.query_one("#type-fields", Vertical)
        box.remove_children()
        heading = self.query_one("#type-heading", Static)
        ttype = next((t for t in self.form.types if t.name == name), None) if self.form else None
        if ttype is None:
            heading.update(Content("Fields of the type"))
            box.mount(Static(Content("Choose a type above: its own fields appear here."), classes="form--note"))
            return
        heading.update(Content("Fields of ") + line_content(ttype.label) + Content(f" ({ttype.name})"))
        if not ttype.fields:
            box.mount(Static(Content("This type has no fields of its own."), classes="form--note"))
        rows = []
        for spec in ttype.fields:
            if spec.kind == "choice":
                widget = Select([(line_content(o), o) for o in spec.options], prompt="not given", compact=True)
            elif spec.kind == "bool":
                widget = Select([(Content("yes"), "true"), (Content("no"), "false")], prompt="not given",
                                compact=True)
            else:
                widget = Input(placeholder=KIND_HINTS.get(spec.kind, spec.kind), compact=True)
            rows.append(self._row(f"field.{spec.name}",
                                  field_label(spec.name, spec.label, required=spec.required, kind=spec.kind), widget))
        box.mount_all(rows)

    # ------------------------------------------------------------ creating

    def _value(self, key: str) -> str:
        found = self.inputs.get(key)
        return found.value() if found is not None else ""

    def action_create(self) -> None:
        if self.form is None:
            self.app.bell()
            return
        fields = {key.removeprefix("field."): self._value(key) for key in self.inputs if key.startswith("field.")}
        self.create(title=self._value("title"), body=self._value("body"), type=self._value("type") or None,
                    priority=self._value("priority") or None, customer=self._value("customer").strip() or None,
                    queue=self._value("queue") or None, fields=fields)

    @work(thread=True, exclusive=True, group="new-ticket-create", exit_on_error=False)
    def create(self, **values) -> TicketView | None:
        """The created ticket (the form closes once this worker has ended), or None and the problems shown."""
        try:
            return self.desk.create_ticket(**values)
        except FormRefused as refused:
            self.app.call_from_thread(self._refused, refused.problems)
        except HelpdeskError as error:
            self.app.call_from_thread(self._refused, {"": str(error)})
        except Exception as error:  # the desk's failure is said on the form, which keeps what was typed
            self.app.call_from_thread(self._refused, {"": f"The ticket could not be created: {error}"})
        return None

    @on(Worker.StateChanged)
    def _worker_ended(self, event: Worker.StateChanged) -> None:
        # Closed only after the worker has ended: closing from inside it would cancel it mid-call.
        if event.worker.group == "new-ticket-create" and event.state == WorkerState.SUCCESS and event.worker.result:
            self.dismiss(event.worker.result)

    def _refused(self, problems: dict[str, str]) -> None:
        """Each problem beside its input; one no input shows (or none beside one) on the banner."""
        for key, found in self.inputs.items():
            message = problems.get(key)
            found.problem.update(Content("✗ ") + line_content(message) if message else Content(""))
            found.widget.set_class(bool(message), "-invalid")
        elsewhere = [message for key, message in problems.items() if key not in self.inputs]
        if elsewhere:
            self.banner.show("Not created: " + "; ".join(elsewhere))
        else:
            self.banner.show("Not created: see the messages beside the fields", "warning")
        first = next((found.widget for key, found in self.inputs.items() if key in problems), None)
        if first is not None:
            first.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


def created_message(view: TicketView) -> Text:
    """What the app says once a ticket is created (its title inert)."""
    return Text(f"Ticket #{view.number} created: ") + line_text(view.title)
