"""A ticket: every field, the type's extension fields, the SLA clocks, the conversation (customer
messages, public replies and internal notes each marked and coloured their own way), the attachments
and the audit history; actions by key. Every read and write runs in a worker; a write carries the
version the screen shows, so an edit of a ticket someone else changed meanwhile is refused (the
domain raises StaleVersion), said on a banner, and the ticket read again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from helpdesk.tui import keys
from helpdesk.tui.desk import PRIORITIES, STATES, HelpdeskError, StaleVersion, TicketDesk
from helpdesk.tui.notices import Banner, notify
from helpdesk.tui.rows import duration
from helpdesk.tui.screens.prompts import AskScreen, ChoiceScreen, ComposeScreen, MacroScreen
from helpdesk.tui.text import block_text, line_text

# How each kind of conversation entry is marked: a label readable without colour, and its colour.
ENTRY_KINDS = {"inbound": ("Customer", "bold cyan"), "reply": ("Public reply", "bold green"),
               "note": ("Internal note", "bold yellow")}


def _when(value: Any) -> str:
    """A time as the queue shows it; the clocks come as ISO text ('2026-03-05T09:00:00Z')."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:16].replace("T", " ")
    return value.strftime("%Y-%m-%d %H:%M")


def fields_table(view) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows = [("Status", view.status.replace("_", " ")), ("Priority", view.priority), ("Type", view.type),
            ("Queue", view.queue), ("Assignee", view.assignee or "unassigned"), ("Customer", view.customer),
            ("Organisation", view.organisation), ("Channel", view.channel), ("Tags", ", ".join(view.tags)),
            ("Created", _when(view.created_at)), ("Updated", _when(view.updated_at)),
            ("Version", str(view.version))]
    if view.merged_into:
        rows.append(("Merged into", f"#{view.merged_into}"))
    for label, value in rows:
        table.add_row(Text(label), line_text(value or ""))
    for name, value in (view.fields or {}).items():  # the type's extension fields
        table.add_row(line_text(name, style="italic"), line_text("" if value is None else value))
    return table


def clocks_text(view) -> Text:
    text = Text()
    for clock in view.sla or []:
        state = clock.get("state")
        remaining = clock.get("remaining_minutes") or 0
        if clock.get("breached"):
            mark, style = f"breached {duration(remaining)} ago", "bold red"
        elif state == "paused":
            mark, style = f"paused, {duration(remaining)} left", "magenta"
        elif state != "running":
            mark, style = state or "", "dim"
        elif clock.get("at_risk"):
            mark, style = f"at risk, {duration(remaining)} left", "bold yellow"
        else:
            mark, style = f"{duration(remaining)} left", "green"
        text.append(f"{str(clock.get('kind', '')).replace('_', ' '):<16}", "bold")
        text.append(mark, style)
        text.append(f"  (target {duration(clock.get('target_minutes') or 0)}, due {_when(clock.get('due_at'))})\n",
                    "dim")
    if not text:
        text.append("no SLA clocks", "dim")
    return text


def conversation(view) -> Group:
    parts: list = []
    for entry in view.conversation or []:
        label, style = ENTRY_KINDS.get(entry.kind, (entry.kind, "bold"))
        head = Text()
        head.append(f"▌ {label}", style)
        head.append("  ")
        head.append_text(line_text(entry.author or "", style="bold"))
        head.append(f"  {_when(entry.created_at)}", "dim")
        parts += [head, block_text(entry.body), Text("")]
    return Group(*parts) if parts else Group(Text("no messages", style="dim"))


def attachments_text(view) -> Text:
    text = Text()
    for i, att in enumerate(view.attachments or [], 1):
        text.append(f"{i}. ")
        text.append_text(line_text(att.get("filename") or att.get("name") or ""))
        size = att.get("size")
        text.append(f"  {size:,} bytes\n" if isinstance(size, int) else "\n", "dim")
    return text or Text("no attachments", style="dim")


def history_text(events) -> Text:
    text = Text()
    for event in events:
        text.append(f"{_when(event.created_at)}  ", "dim")
        text.append_text(line_text(event.actor, style="bold"))
        text.append("  ")
        text.append_text(line_text(event.action))
        if event.data:
            text.append("  ")
            text.append_text(line_text(", ".join(f"{k}={v}" for k, v in event.data.items()), style="dim"))
        text.append("\n")
    return text or Text("no history", style="dim")


class DetailScreen(Screen):
    """One ticket, read in a worker and shown whole; the actions of the DETAIL scope."""

    BINDINGS = keys.bindings(keys.DETAIL)
    DEFAULT_CSS = """
    DetailScreen {
        & #ticket { padding: 0 1; }
        & .detail--title { text-style: bold; color: $accent; margin-bottom: 1; }
        & .detail--heading { text-style: bold underline; margin-top: 1; }
    }
    """

    def __init__(self, desk: TicketDesk, number: int) -> None:
        super().__init__()
        self.desk = desk
        self.number = number
        self.view = None  # the TicketView shown (its version goes with every edit)
        self.history: list = []
        self._stop_listening: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield Banner(id="detail-banner")
        with VerticalScroll(id="ticket"):
            yield Static(f"#{self.number} …", id="title", classes="detail--title", markup=False)
            yield Static("", id="fields", markup=False)
            for name, heading in (("clocks", "SLA"), ("conversation", "Conversation"),
                                  ("attachments", "Attachments"), ("history", "History")):
                yield Static(heading, classes="detail--heading", markup=False)
                yield Static("", id=name, markup=False)
        yield Footer()

    @property
    def banner(self) -> Banner:
        return self.query_one("#detail-banner", Banner)

    def on_mount(self) -> None:
        self._stop_listening = self.desk.feed.subscribe(self._changed_elsewhere)
        self.load()

    def on_unmount(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:  # the feed's thread
        if not ids or self.number in ids:
            self.app.call_from_thread(self.load)

    # ------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group="detail-load", exit_on_error=False)
    def load(self) -> None:
        try:
            view = self.desk.show(self.number)
            events = self.desk.history(self.number)
        except Exception as error:  # the desk's failure is shown, not a crash
            self.app.call_from_thread(self.banner.show, f"Ticket #{self.number} could not be read: {error}")
            return
        self.app.call_from_thread(self._show, view, events)

    def _show(self, view, events) -> None:
        self.view, self.history = view, events
        title = Text(f"#{view.number}  ")
        title.append_text(line_text(view.title))
        self.query_one("#title", Static).update(title)
        self.query_one("#fields", Static).update(fields_table(view))
        self.query_one("#clocks", Static).update(clocks_text(view))
        self.query_one("#conversation", Static).update(conversation(view))
        self.query_one("#attachments", Static).update(attachments_text(view))
        self.query_one("#history", Static).update(history_text(events))
        if self.banner.shown and self.banner.has_class("-information"):
            return
        if self.banner.shown and not self.banner.has_class("-warning"):
            self.banner.clear()

    # ------------------------------------------------------------ writing

    @work(thread=True, exclusive=True, group="detail-write", exit_on_error=False)
    def write(self, what: str, action: Callable[[int], Any]) -> None:
        """Run `action(version)` (one service call) with the version shown; say how it went."""
        if self.view is None:
            return
        try:
            action(self.view.version)
        except StaleVersion:
            self.app.call_from_thread(
                self.banner.show, f"#{self.number} was changed by someone else since you opened it: nothing "
                "was saved; it has been read again, look and try once more", "warning")
        except HelpdeskError as error:
            self.app.call_from_thread(notify, self, f"{what}: {error}", severity="error")
            return
        except Exception as error:
            self.app.call_from_thread(notify, self, f"{what} failed: {error}", severity="error")
            return
        else:
            self.app.call_from_thread(self._done, what)
        self.app.call_from_thread(self.load)

    def _done(self, what: str) -> None:
        if self.banner.shown:
            self.banner.clear()
        notify(self, what)

    def _when_loaded(self) -> bool:
        if self.view is None:
            self.app.bell()
            return False
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    def action_reply(self) -> None:
        if self._when_loaded():
            self.app.push_screen(ComposeScreen(f"Reply to #{self.number}",
                                               f"Reply to #{self.number}; the customer gets this by mail."),
                                 self._send_reply)

    def _send_reply(self, body: str | None) -> None:
        if body:
            self.write("Reply queued in the outbox",
                       lambda version: self.desk.reply(self.number, body, note=False, version=version))

    def action_note(self) -> None:
        if self._when_loaded():
            self.app.push_screen(ComposeScreen(f"Internal note on #{self.number}",
                                               f"Internal note on #{self.number}; never mailed."),
                                 self._send_note)

    def _send_note(self, body: str | None) -> None:
        if body:
            self.write("Note added", lambda version: self.desk.reply(self.number, body, note=True, version=version))

    def action_assign(self) -> None:
        if self._when_loaded():
            self.app.push_screen(AskScreen(f"Assign #{self.number} to", "an agent's login ('me' for yourself)"),
                                 self._assign)

    def _assign(self, agent: str | None) -> None:
        if agent:
            self.write(f"Assigned to {agent}",
                       lambda version: self.desk.assign(self.number, agent, version=version))

    def action_take(self) -> None:
        if self._when_loaded():
            self.write("Claimed", lambda version: self.desk.take(self.number, version=version))

    def action_status(self) -> None:
        if self._when_loaded():
            self.app.push_screen(ChoiceScreen(f"Status of #{self.number}", STATES, self.view.status),
                                 self._status)

    def _status(self, state: str | None) -> None:
        if state:
            self.write(f"Status {state.replace('_', ' ')}",
                       lambda version: self.desk.change_status(self.number, state, version=version))

    def action_priority(self) -> None:
        if self._when_loaded():
            self.app.push_screen(ChoiceScreen(f"Priority of #{self.number}", PRIORITIES, self.view.priority),
                                 self._priority)

    def _priority(self, priority: str | None) -> None:
        if priority:
            self.write(f"Priority {priority}",
                       lambda version: self.desk.set_priority(self.number, priority, version=version))

    def action_macro(self) -> None:
        if self._when_loaded():
            self.app.push_screen(MacroScreen(self.desk, self.number, self.view.version), self._macro_applied)

    def _macro_applied(self, outcome: str | None) -> None:
        if outcome:
            notify(self, outcome)
            self.load()
