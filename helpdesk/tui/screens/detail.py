"""A ticket: every field, the type's extension fields, the description, the AI's suggestions, the SLA
clocks, the conversation (customer messages, public replies and internal notes each marked and coloured
their own way; a long one read a page at a time, newest first), the attachments and the audit history;
actions by key. Every read and write runs in a worker; a write carries the version the screen shows, so
an edit of a ticket someone else changed meanwhile is refused (the domain raises StaleVersion), said on a
banner, and the ticket read again."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from helpdesk.tui import keys
from helpdesk.tui.core import inert
from helpdesk.tui.desk import PRIORITIES, STATES, AiOff, HelpdeskError, StaleVersion, TicketDesk, parse_tags
from helpdesk.tui.notices import Banner, notify
from helpdesk.tui.rows import RowSource, duration
from helpdesk.tui.screens.live import LiveScreen
from helpdesk.tui.text import block_text, field_label, line_text
from helpdesk.tui.widgets.key_bar import KeyBar
from helpdesk.tui.widgets.queue_table import QueueTable

CONVERSATION_PAGE = 50  # conversation entries read at a time: the newest first, older ones on request
HISTORY_SHOWN = 100  # the newest audit events shown (a ticket with 2,000 replies has 2,000 of them)
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


def heading(label: str) -> list[Text]:
    """A section's heading as its lines: a blank one, then the label (configured text, so made inert)."""
    return [Text(""), line_text(label, style="bold underline")]


def stacked(parts: list) -> Group:
    """Sections one under the other in one widget: each text ends its line (the stored ones end
    without a newline, made to sit in a widget of their own)."""
    lines = []
    for part in parts:
        if isinstance(part, Text) and part.end != "\n":
            part = part.copy()
            part.end = "\n"
        lines.append(part)
    return Group(*lines)


def label_column(rows: list[tuple[Text, Text]]) -> Text:
    """Rows of a label (bold) and a value, the values lined up two cells right of the longest label,
    a row a line (a value too wide ends in an ellipsis): what a borderless rich Table drew, without
    its cost (it measures every cell, each time the screen is laid out)."""
    width = max((label.cell_len for label, _ in rows), default=0) + 2
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, (label, value) in enumerate(rows):
        if i:
            text.append("\n")
        start = len(text)
        text.append_text(label)
        text.stylize("bold", start, len(text))
        text.append(" " * (width - label.cell_len))
        text.append_text(value)
    return text


def fields_table(view) -> Text:
    rows = [("Status", view.status.replace("_", " ")), ("Priority", view.priority), ("Type", view.type),
            ("Queue", view.queue), ("Assignee", view.assignee or "unassigned"), ("Customer", view.customer),
            ("Organisation", view.organisation), ("Channel", view.channel), ("Tags", ", ".join(view.tags)),
            ("Created", _when(view.created_at)), ("Updated", _when(view.updated_at)),
            ("Version", str(view.version))]
    if view.merged_into:
        rows.append(("Merged into", f"#{view.merged_into}"))
    return label_column([(Text(label), line_text(value or "")) for label, value in rows])


def extension_table(view, specs) -> Text:
    """The type's extension fields, each by its label (the configured ones first, in their order)."""
    values = dict(view.fields or {})
    if not values and not specs:
        return Text("this ticket's type has no fields of its own", style="dim")
    named = {spec.name: spec for spec in specs}
    rows = []
    for name in [*named, *(n for n in values if n not in named)]:
        spec = named.get(name)
        label = line_text(field_label(spec) if spec else name)
        if spec is not None and spec.required:
            label.append(" *", "bold red")
        value = values.get(name)
        rows.append((label, line_text("") if value is None else line_text(value)))
    return label_column(rows)


def description_text(view) -> Text:
    return block_text(view.description) if (view.description or "").strip() else Text("no description", style="dim")


def clocks_text(view) -> Text:
    text = Text()
    for clock in view.sla or []:
        state = clock.get("state")
        remaining = clock.get("remaining_minutes") or 0
        if clock.get("breached"):
            mark, style = f"breached {duration(remaining)} ago", "bold red"
        elif state == "paused":
            mark, style = f"paused, {duration(remaining)} left", "magenta"
        elif state == "stopped" and clock.get("used_minutes") is not None:
            used, target = clock["used_minutes"], clock.get("target_minutes") or 0
            mark, style = ((f"met in {duration(used)}", "green") if used <= target
                           else (f"missed by {duration(used - target)}", "red"))
        elif state != "running":
            mark, style = state or "", "dim"
        elif clock.get("at_risk"):
            mark, style = f"at risk, {duration(remaining)} left", "bold yellow"
        else:
            mark, style = f"{duration(remaining)} left", "green"
        text.append(f"{str(clock.get('kind', '')).replace('_', ' '):<16}", "bold")
        text.append(mark, style)
        due = f", due {_when(clock['due_at'])}" if clock.get("due_at") else ""  # a stopped clock is due no more
        text.append(f"  (target {duration(clock.get('target_minutes') or 0)}{due})\n", "dim")
    if not text:
        text.append("no SLA clocks", "dim")
    return text


def conversation(view) -> Group:
    """The entries of `view.conversation` read so far, oldest first."""
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


INJECTION_WARNING = ("⚠ Likely injection attempt: this ticket's text tries to instruct the AI. Nothing the "
                     "model said was applied by itself; read it with care.")


def suggestion_label(suggestion) -> Text:
    """One suggestion on a line: kind, value, confidence (level and figure), source, what became of it."""
    text = Text()
    text.append(f"{suggestion.kind:<10}", "bold")
    text.append_text(line_text(suggestion.value))
    text.append(f"  {suggestion.level} {suggestion.confidence:.0%}, {suggestion.source}", "dim")
    if suggestion.status == "offered":
        text.append("  (offered)", "italic")
    else:
        text.append(f"  ({suggestion.status}", "italic")
        if suggestion.final_value and suggestion.final_value != suggestion.value:
            text.append(" to ", "italic")
            text.append_text(line_text(suggestion.final_value, style="italic"))
        if suggestion.decided_by:
            text.append(" by ", "italic")
            text.append_text(line_text(suggestion.decided_by, style="italic"))
        text.append(")", "italic")
    return text


def suggestions_text(suggestions, hint: str = "") -> Text:
    text = Text()
    if any(s.kind == "injection" for s in suggestions):
        text.append(INJECTION_WARNING + "\n", "bold red")
    for suggestion in suggestions:
        if suggestion.kind != "injection":
            text.append_text(suggestion_label(suggestion))
            text.append("\n")
    if not text:
        return Text("no AI suggestions yet", style="dim")
    text.append(hint, "dim")
    return text


def attachments_text(view) -> Text:
    text = Text()
    for i, att in enumerate(view.attachments or [], 1):
        text.append(f"{i}. ")
        text.append_text(line_text(att.get("filename") or att.get("name") or ""))
        size = att.get("size")
        text.append(f"  {size:,} bytes\n" if isinstance(size, int) else "\n", "dim")
    return text or Text("no attachments", style="dim")


def history_text(events, *, more: bool = False) -> Text:
    """The events given, oldest first; `more`: older ones exist (the CLI lists them all)."""
    text = Text()
    if more and events:
        text.append(f"… older events not shown: `helpdesk ticket history {events[0].ticket}` lists them all\n", "dim")
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


def neighbour(source: RowSource, index: int, number: int, step: int) -> tuple[int, int] | None:
    """(index, ticket number) of the row `step` (+1 / -1) from ticket `number` in the queue's `source`,
    which was at `index` when last seen; None past either end. A ticket that left the view meanwhile (a
    status change under a status filter) leaves its place to the next one."""
    start = max(0, index - 1)
    rows = source.page(start, 3)
    at = next((start + i for i, row in enumerate(rows) if row is not None and row.number == number), None)
    target = (index if step > 0 else index - 1) if at is None else at + step
    if target < 0:
        return None
    if start <= target < start + len(rows):
        row = rows[target - start]
    else:
        found = source.page(target, 1)
        row = found[0] if found else None
    return (target, row.number) if row is not None else None


class EarlierEntries(Static):
    """The line above a conversation read in part: how many older entries there are; a click loads them."""

    def on_click(self) -> None:
        self.screen.action_load_earlier()


class DetailScreen(LiveScreen):
    """One ticket, read in a worker and shown whole (its conversation a page at a time); the actions of the
    DETAIL scope. Opened from the queue with the queue's rows (`source`) and the ticket's place in them
    (`index`), it moves to the next and previous ticket of that view."""

    BANNER_ID = "detail-banner"
    BINDINGS = keys.bindings(keys.DETAIL)
    KEY_SCOPE = keys.DETAIL  # the command palette offers this scope's actions over this screen
    DEFAULT_CSS = """
    DetailScreen {
        & #ticket { padding: 0 1; }
        & #title { text-style: bold; color: $accent; margin-bottom: 1; }
        & #earlier { display: none; }
        & #earlier.-shown { display: block; color: $accent; }
    }
    """

    def __init__(self, desk: TicketDesk, number: int, *, source: RowSource | None = None,
                 index: int | None = None) -> None:
        super().__init__()
        self.desk = desk
        self.number = number
        self.source = source
        self.index = index
        self.view = None  # the TicketView shown (its version goes with every edit)
        self.earlier = 0  # conversation entries older than those read (view.conversation)
        self.history: list = []
        self.suggestions: list = []
        self.draft_ready = None  # (ticket number, Written): a draft that arrived while a prompt was open

    def compose(self) -> ComposeResult:
        self.go_live()  # the read starts now, while the widgets mount (on PostgreSQL it is most of the wait)
        yield Banner(id="detail-banner")
        # Few widgets, each a run of whole sections: Textual styles, lays out and (on a focus change)
        # restyles every widget, so opening a ticket costs what their number does.
        with VerticalScroll(id="ticket"):
            yield Static(f"#{self.number} …", id="title", markup=False)
            yield Static("", id="summary", markup=False)  # fields, description, AI, clocks
            yield EarlierEntries("", id="earlier", markup=False)
            yield Static("", id="conversation", markup=False)
            yield Static("", id="attachments", markup=False)
            yield Static("", id="history", markup=False)
        yield KeyBar()

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:  # the feed's thread
        if not ids or self.number in ids:
            self.app.call_from_thread(self.load)

    # ------------------------------------------------------------ reading

    @work(thread=True, exclusive=True, group="detail-load", exit_on_error=False)
    def load(self) -> None:
        """Read the ticket, as many of its newest entries as are shown (at least a page; all of them when
        all were shown), its history and its AI suggestions."""
        number = self.number
        shown = len(self.view.conversation or []) if self.view is not None and self.view.number == number else 0
        if shown and not self.earlier:
            shown += CONVERSATION_PAGE  # all of it was shown: so it stays, with what arrived since
        try:
            detail, suggestions = self.desk.read_detail(number, max(CONVERSATION_PAGE, shown),
                                                        HISTORY_SHOWN + 1)  # one more: are there older events?
        except Exception as error:  # the desk's failure is shown, not a crash
            said = f"Ticket #{number} could not be read: {error}"
            self.app.call_from_thread(self.when_mounted, lambda: self.banner.show(said))
            return
        self.app.call_from_thread(self.when_mounted, self._show, detail.view, detail.earlier, detail.events, suggestions)

    def _show(self, view, earlier: int, events, suggestions) -> None:
        """The ticket read: what a screen shows first (title, fields, description, AI, clocks) now; the
        conversation, attachments and history, below them, after that is painted (they are most of the
        rendering: 50 entries, 100 events)."""
        if view.number != self.number:  # read before a move to another ticket
            return
        self.view, self.earlier, self.history, self.suggestions = view, earlier, events, suggestions
        title = Text(f"#{view.number}  ")
        title.append_text(line_text(view.title))
        self.query_one("#title", Static).update(title)
        ticket_type = self.desk.ticket_type(view.type)
        parts: list = [fields_table(view)]
        if ticket_type is not None or view.fields:  # a ticket without a type has no such fields
            specs = list(ticket_type.fields) if ticket_type is not None else []
            parts += heading(f"{ticket_type.label} fields" if ticket_type is not None else "Fields of the type")
            parts.append(extension_table(view, specs))
        parts += [*heading("Description"), description_text(view)]
        if self.desk.ai_enabled:
            hint = (f"{self._key('ai_suggestions')}: accept or change · {self._key('similar')}: similar solved "
                    f"tickets · {self._key('draft')}: draft a reply")
            parts += [*heading("AI suggestions"), suggestions_text(suggestions, hint)]
        parts += [*heading("SLA"), clocks_text(view), *heading("Conversation")]
        self.query_one("#summary", Static).update(stacked(parts))
        self.call_after_refresh(self._show_below, view)
        if self.banner.shown and self.banner.has_class("-information"):
            return
        if self.banner.shown and not self.banner.has_class("-warning"):
            self.banner.clear()

    def _show_below(self, view) -> None:
        if view is not self.view:  # read again meanwhile: that read shows its own
            return
        self._show_conversation()
        self.query_one("#attachments", Static).update(Text("\n").join([*heading("Attachments"), attachments_text(view)]))
        events = self.history
        self.query_one("#history", Static).update(Text("\n").join(
            [*heading("History"), history_text(events[-HISTORY_SHOWN:], more=len(events) > HISTORY_SHOWN)]))

    def _key(self, binding_id: str) -> str:
        """The keys of a binding as the person set them (`[tui.keys]`), as people read them."""
        return keys.key_display(getattr(self.app, "keymap", {}).get(binding_id, keys.BY_ID[binding_id].keys))

    def _show_conversation(self) -> None:
        earlier = self.query_one("#earlier", EarlierEntries)
        if self.earlier:
            earlier.update(Content(f"▲ {self.earlier:,} earlier message{'s' if self.earlier != 1 else ''} not "
                                   f"shown: press {self._key('load_earlier')} (or click here) to load "
                                   f"{min(self.earlier, CONVERSATION_PAGE)} more"))
        earlier.set_class(bool(self.earlier), "-shown")
        self.query_one("#conversation", Static).update(conversation(self.view))

    def action_load_earlier(self) -> None:
        if not self._when_loaded():
            return
        if not self.earlier or not self.view.conversation:
            notify(self, f"#{self.number}: the whole conversation is shown")
            return
        self.load_earlier(self.number, self.view.conversation[0].id)

    @work(thread=True, exclusive=True, group="detail-earlier", exit_on_error=False)
    def load_earlier(self, number: int, before: int) -> None:
        try:
            page = self.desk.earlier_entries(number, before, CONVERSATION_PAGE)
        except Exception as error:  # said, not a crash
            self.app.call_from_thread(notify, self, f"Older messages could not be read: {error}", severity="error")
            return
        self.app.call_from_thread(self._earlier_loaded, number, before, page)

    def _earlier_loaded(self, number: int, before: int, page) -> None:
        entries = self.view.conversation if self.view is not None else None
        if number != self.number or not entries or entries[0].id != before:
            return  # the ticket was read again or left meanwhile
        self.view.conversation = [*page.entries, *entries]
        self.earlier = page.earlier
        self._show_conversation()

    # ------------------------------------------------------------ writing

    @work(thread=True, exclusive=True, group="detail-write", exit_on_error=False)
    def write(self, what: str, action: Callable[[int], Any]) -> None:
        """Run `action(version)` (one service call) with the version shown; say how it went."""
        if self.view is None:
            return
        try:
            action(self.view.version)
        except StaleVersion:
            self.app.call_from_thread(self._stale)
        except HelpdeskError as error:
            self.app.call_from_thread(notify, self, f"{what}: {error}", severity="error")
            return
        except Exception as error:
            self.app.call_from_thread(notify, self, f"{what} failed: {error}", severity="error")
            return
        else:
            self.app.call_from_thread(self._done, what)
        self.app.call_from_thread(self.load)

    def _stale(self) -> None:
        self.banner.show(f"#{self.number} was changed by someone else since you opened it: nothing was saved; it "
                         "has been read again, look and try once more", "warning")

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
        from helpdesk.tui.screens.prompts import ComposeScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            self.app.push_screen(ComposeScreen(f"Reply to #{self.number}",
                                               f"Reply to #{self.number}; the customer gets this by mail."),
                                 self._send_reply)

    def _send_reply(self, body: str | None) -> None:
        if body:
            self.write("Reply queued in the outbox",
                       lambda version: self.desk.reply(self.number, body, note=False, version=version))

    def action_note(self) -> None:
        from helpdesk.tui.screens.prompts import ComposeScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            self.app.push_screen(ComposeScreen(f"Internal note on #{self.number}",
                                               f"Internal note on #{self.number}; never mailed."),
                                 self._send_note)

    def _send_note(self, body: str | None) -> None:
        if body:
            self.write("Note added", lambda version: self.desk.reply(self.number, body, note=True, version=version))

    def action_assign(self) -> None:
        from helpdesk.tui.screens.prompts import AskScreen  # lazy: loaded by the first prompt
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
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            self.app.push_screen(ChoiceScreen(f"Status of #{self.number}", STATES, self.view.status),
                                 self._status)

    def _status(self, state: str | None) -> None:
        if state:
            self.write(f"Status {state.replace('_', ' ')}",
                       lambda version: self.desk.change_status(self.number, state, version=version))

    def action_priority(self) -> None:
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            self.app.push_screen(ChoiceScreen(f"Priority of #{self.number}", PRIORITIES, self.view.priority),
                                 self._priority)

    def _priority(self, priority: str | None) -> None:
        if priority:
            self.write(f"Priority {priority}",
                       lambda version: self.desk.set_priority(self.number, priority, version=version))

    def action_macro(self) -> None:
        from helpdesk.tui.screens.prompts import MacroScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            self.app.push_screen(MacroScreen(self.desk, self.number, self.view.version), self._macro_applied)

    def _macro_applied(self, outcome: str | None) -> None:
        if outcome:
            notify(self, outcome)
            self.load()

    # ------------------------------------------------------------ transfer, return, tags, fields, merge

    def action_transfer(self) -> None:
        if self._when_loaded():
            self.ask_transfer()

    @work(thread=True, exclusive=True, group="detail-ask", exit_on_error=False)
    def ask_transfer(self) -> None:
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        try:
            logins = self.desk.agent_logins()
        except Exception as error:  # said, not a crash
            self.app.call_from_thread(notify, self, f"The agents could not be read: {error}", severity="error")
            return
        targets = {f"agent {login}": ("agent", login) for login in logins}
        targets |= {f"queue {name}": ("queue", name) for name in self.desk.queue_names()}
        current = f"agent {self.view.assignee}" if self.view.assignee else f"queue {self.view.queue}"
        self.app.call_from_thread(self.app.push_screen,
                                  ChoiceScreen(f"Transfer #{self.number} to", list(targets), current),
                                  lambda chosen: self._transfer(targets.get(chosen)) if chosen else None)

    def _transfer(self, target: tuple[str, str] | None) -> None:
        if target is None:
            return
        kind, name = target
        self.write(f"Transferred to {kind} {name}",
                   lambda version: self.desk.transfer(self.number, version=version, **{kind: name}))

    def action_return_to_queue(self) -> None:
        if self._when_loaded():
            self.write("Returned to the queue", lambda version: self.desk.return_to_queue(self.number, version=version))

    def action_tag(self) -> None:
        from helpdesk.tui.screens.prompts import AskScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            now = ", ".join(self.view.tags) or "none"
            self.app.push_screen(AskScreen(f"Tags of #{self.number} (now: {now})",
                                           "tags to add; -tag removes one (e.g. urgent, -printer)"), self._tag)

    def _tag(self, answer: str | None) -> None:
        add, remove = parse_tags(answer or "")
        if add or remove:
            said = ", ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove)])
            self.write(f"Tags {said}", lambda version: self.desk.tag(self.number, add, remove, version=version))

    def action_edit(self) -> None:
        from helpdesk.tui.screens.ticket_forms import EditFieldsScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            ticket_type = self.desk.ticket_type(self.view.type)
            specs = list(ticket_type.fields) if ticket_type is not None else []
            self.app.push_screen(EditFieldsScreen(self.desk, self.view, specs), self._edited)

    def _edited(self, outcome: str | None) -> None:
        if outcome == "stale":
            self._stale()
        elif outcome:
            notify(self, outcome)
        if outcome:
            self.load()

    def action_merge(self) -> None:
        from helpdesk.tui.screens.prompts import AskScreen  # lazy: loaded by the first prompt
        if self._when_loaded():
            self.app.push_screen(AskScreen(f"Merge #{self.number} into which ticket?", "its number, e.g. 42"),
                                 self._merge_target)

    def _merge_target(self, answer: str | None) -> None:
        if not answer:
            return
        try:
            target = self.desk.parse_number(answer)
        except HelpdeskError as error:
            notify(self, f"Merge: {error}", severity="error")
            return
        if target == self.number:
            notify(self, f"Merge: #{target} is this ticket; give another one", severity="error")
            return
        self.confirm_merge(target)

    @work(thread=True, exclusive=True, group="detail-ask", exit_on_error=False)
    def confirm_merge(self, target: int) -> None:
        """Read the target (a number that names no ticket is said now), then ask to confirm."""
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        try:
            into, _ = self.desk.read_ticket(target, 0)
        except HelpdeskError as error:
            self.app.call_from_thread(notify, self, f"Merge: {error}", severity="error")
            return
        except Exception as error:  # said, not a crash
            self.app.call_from_thread(notify, self, f"Merge failed: {error}", severity="error")
            return
        keep, merge = f"No, keep #{self.number} as it is", f"Yes, merge #{self.number} into #{target}: {into.title}"
        self.app.call_from_thread(
            self.app.push_screen, ChoiceScreen(f"Merge #{self.number} into #{target}? It is closed, its "
                                               "conversation and tags move over", [keep, merge]),
            lambda chosen: self._merge(target) if chosen == merge else None)

    def _merge(self, target: int) -> None:
        self.write(f"Merged into #{target}", lambda version: self.desk.merge(self.number, target, version=version))

    # ------------------------------------------------------------ next / previous ticket of the view

    def action_next_ticket(self) -> None:
        self._step(+1)

    def action_previous_ticket(self) -> None:
        self._step(-1)

    def _step(self, step: int) -> None:
        if self.source is None or self.index is None:
            notify(self, "This ticket was not opened from the queue: there is no next or previous one",
                   severity="warning")
            return
        self.move(step, self.number, self.index)

    @work(thread=True, exclusive=True, group="detail-move", exit_on_error=False)
    def move(self, step: int, number: int, index: int) -> None:
        try:
            found = neighbour(self.source, index, number, step)
        except Exception as error:  # said, not a crash
            self.app.call_from_thread(notify, self, f"The queue could not be read: {error}", severity="error")
            return
        self.app.call_from_thread(self._moved, step, number, found)

    def _moved(self, step: int, number: int, found: tuple[int, int] | None) -> None:
        if number != self.number:
            return
        if found is None:
            notify(self, f"#{self.number} is the {'last' if step > 0 else 'first'} ticket of the view")
            return
        self.index, self.number = found
        self._queue_follows()
        self.view, self.earlier, self.suggestions, self.draft_ready = None, 0, [], None
        self.query_one("#title", Static).update(Content(f"#{self.number} …"))
        self.query_one("#ticket", VerticalScroll).scroll_home(animate=False)
        if self.banner.shown:
            self.banner.clear()
        self.load()

    def _queue_follows(self) -> None:
        """The queue below puts its cursor on the ticket shown, so back there it is where the person is."""
        for table in self.app.screen_stack[0].query(QueueTable):
            if table.source is self.source:
                table.move_cursor(self.index)

    # ------------------------------------------------------------ attachments

    def action_save_attachment(self) -> None:
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        if not self._when_loaded():
            return
        found = self.view.attachments or []
        if not found:
            notify(self, f"#{self.number} has no attachments")
        elif len(found) == 1:
            self.read_attachment(self.number, "1")
        else:
            names = [f"{i}. {att.get('filename') or att.get('name') or ''}" for i, att in enumerate(found, 1)]
            self.app.push_screen(ChoiceScreen(f"Save which attachment of #{self.number}?", names),
                                 lambda chosen: self.read_attachment(self.number, str(names.index(chosen) + 1))
                                 if chosen else None)

    @work(thread=True, exclusive=True, group="detail-attachment", exit_on_error=False)
    def read_attachment(self, number: int, which: str) -> None:
        """Read the attachment, then ask where to save it (its name made safe, in the current folder)."""
        from helpdesk.tui.screens.prompts import AskScreen  # lazy: loaded by the first prompt
        try:
            content = self.desk.attachment(number, which)
            default = str(Path.cwd() / content.target(None))
        except Exception as error:  # said, not a crash
            self.app.call_from_thread(notify, self, f"The attachment could not be read: {error}", severity="error")
            return
        self.app.call_from_thread(self.app.push_screen,
                                  AskScreen(f"Save {content.view.filename} to",
                                            "a file or a folder", default),
                                  lambda path: self.save_attachment(content, path, overwrite=False) if path else None)

    @work(thread=True, exclusive=True, group="detail-attachment", exit_on_error=False)
    def save_attachment(self, content, path: str, *, overwrite: bool) -> None:
        """Write the attachment; an existing file is replaced only after the agent confirms."""
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        try:
            target = content.target(Path(path).expanduser())
            if not overwrite and (target.exists() or target.is_symlink()):
                keep, replace = "No, keep the existing file", f"Yes, overwrite {target}"
                self.app.call_from_thread(
                    self.app.push_screen, ChoiceScreen(f"{target} exists: overwrite it?", [keep, replace]),
                    lambda chosen: self.save_attachment(content, str(target), overwrite=True)
                    if chosen == replace else notify(self, f"Not saved: {target} exists"))
                return
            content.save(target, overwrite=overwrite)
        except Exception as error:  # refused (a folder that is not there) or failed: said, not a crash
            self.app.call_from_thread(notify, self, f"Not saved: {error}", severity="error")
            return
        self.app.call_from_thread(notify, self, f"Saved {target} ({len(content.data):,} bytes)")

    # ------------------------------------------------------------ AI assistance

    def action_ai_suggestions(self) -> None:
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt
        if not self._when_loaded():
            return
        open_ones = [s for s in self.suggestions if s.kind != "injection"]
        if not open_ones:
            notify(self, f"#{self.number} has no AI suggestions" + ("" if self.desk.ai_enabled else f": {AiOff()}"))
            return
        labels = {suggestion_label(s).plain: s for s in open_ones}
        self.app.push_screen(ChoiceScreen(f"AI suggestions for #{self.number}: which one?", list(labels)),
                             lambda chosen: self._decide_on(labels[chosen]) if chosen else None)

    def _decide_on(self, suggestion) -> None:
        from helpdesk.tui.screens.prompts import AskScreen, ChoiceScreen  # lazy: loaded by the first prompt

        value = suggestion.final_value or suggestion.value
        accept = f"Accept {suggestion.kind} {value}"
        options = {accept: value}
        options |= {f"Change {suggestion.kind} to {choice}": choice
                    for choice in self.desk.suggestion_choices(suggestion.kind) if choice != value}
        other = f"Change {suggestion.kind} to something else…"
        options[other] = None

        def chosen(answer: str | None) -> None:
            if answer == other:
                self.app.push_screen(AskScreen(f"{suggestion.kind.capitalize()} of #{self.number}", value),
                                     lambda typed: self._decide(suggestion.kind, typed) if typed else None)
            elif answer:
                self._decide(suggestion.kind, options[answer])

        self.app.push_screen(ChoiceScreen(f"{suggestion.kind.capitalize()} suggested for #{self.number}",
                                          list(options)), chosen)

    def _decide(self, kind: str, value: str) -> None:
        self.write(f"AI suggestion: {kind} {value}",
                   lambda version: self.desk.decide(self.number, kind, value, version=version))

    def _ask_ai(self, progress: str, failed: str, call: Callable[[], Any], then: Callable[[Any], None],
                group: str) -> None:
        """An AI action (the model can take seconds): `progress` on the banner meanwhile, `call()` in a
        worker, `then(result)` back on the screen; a failure said in words after `failed`."""
        if not self._when_loaded():
            return
        if not self.desk.ai_enabled:
            notify(self, str(AiOff()), severity="warning")
            return
        self.banner.show(progress, "information")

        def run() -> None:
            try:
                result = call()
            except Exception as error:  # the model or the desk failed: said, not a crash
                self.app.call_from_thread(self._ai_answered, notify, self, f"{failed}: {error}", severity="error")
                return
            self.app.call_from_thread(self._ai_answered, then, result)

        self.run_worker(run, thread=True, exclusive=True, group=group, exit_on_error=False)

    def _ai_answered(self, then: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self.banner.has_class("-information"):
            self.banner.clear()
        then(*args, **kwargs)

    def action_similar(self) -> None:
        number = self.number
        self._ask_ai(f"Looking for solved tickets like #{number}…", "Similar tickets could not be found",
                     lambda: self.desk.similar(number), partial(self._similar_found, number), "detail-similar")

    def _similar_found(self, number: int, found: list[dict]) -> None:
        from helpdesk.tui.screens.ticket_forms import SimilarScreen  # lazy: loaded by the first prompt
        if not found:
            notify(self, f"No solved tickets like #{number} were found")
            return
        self.app.push_screen(SimilarScreen(number, found), self._open_similar)

    def _open_similar(self, number: int | None) -> None:
        if number is not None:
            self.app.push_screen(DetailScreen(self.desk, number))

    def action_draft(self) -> None:
        if self.draft_ready is not None and self.draft_ready[0] == self.number:
            self._open_draft(*self.draft_ready)
            return
        number = self.number
        self._ask_ai(f"Drafting a reply to #{number}… the model can take a few seconds; keep working meanwhile",
                     "No draft", lambda: self.desk.draft(number), partial(self._drafted, number), "detail-draft")

    def _drafted(self, number: int, written) -> None:
        if written.notes:
            notify(self, "Draft written offline: " + "; ".join(written.notes), severity="warning")
        if number != self.number:
            return
        if self.app.screen is not self:  # a prompt is open: the draft waits for the agent
            self.draft_ready = (number, written)
            notify(self, f"The draft reply to #{number} is ready: press {self._key('draft')} to open it")
            return
        self._open_draft(number, written)

    def _open_draft(self, number: int, written) -> None:
        from helpdesk.tui.screens.ticket_forms import DraftComposeScreen  # lazy: loaded by the first prompt
        self.draft_ready = None
        source = "written by the model" if written.source == "llm" else "written offline"
        self.app.push_screen(DraftComposeScreen(
            f"DRAFT reply to #{number} ({source}): check and edit it; ctrl+s sends, esc drops it",
            f"Reply to #{number}; the customer gets this by mail. A DRAFT written by AI: check every line.",
            inert(written.text)), self._send_reply)
