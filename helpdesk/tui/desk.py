"""The desk as the TUI reads and changes it, through the services layer (imported here and nowhere
else in the TUI): a `RowSource` over a query, the ticket actions of the detail screen, and a feed of
changes other processes commit. Every method may block on I/O: screens call them from workers."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from helpdesk.core.errors import HelpdeskError, NoDesk, StaleVersion
from helpdesk.core.views import EntryView, EventView, MacroView, TicketFormView, TicketView
from helpdesk.core.vocabulary import PRIORITIES, SENTIMENTS, STATES
from helpdesk.services import agents, changes, desk as desk_service, lifecycle, queue, report, tickets
from helpdesk.services.report import SLA_COMPLIANCE_MEANS, ReportSummary
from helpdesk.tui.rows import COLUMN_SORTS, Row

__all__ = ["PRIORITIES", "SLA_COMPLIANCE_MEANS", "STATES", "AiOff", "BulkOutcome", "ChangeFeed", "DeskRowSource",
           "FormRefused", "HelpdeskError", "MacroView", "NoDesk", "ReportSummary", "StaleVersion", "TicketDesk",
           "TicketFormView", "TicketView", "parse_tags", "row_of"]

POLL_SECONDS = 0.3  # how long the feed's thread waits for a change before looking again (SQLite: a stat())
RETRY_MAX_SECONDS = 5.0  # the longest wait between tries at a listener that keeps failing
# SQLite's page cache per connection (the store's default, 32 MB, suits bulk work): the app keeps a few
# connections for its workers for hours, and the counts of a big desk would fill each cache, so its
# memory would grow with the desk. Beyond this, pages come from the operating system's file cache.
PAGE_CACHE_KIB = 4_000


def row_of(ticket: TicketView, due: dt.datetime | None, now: dt.datetime) -> Row:
    """The queue's row of a ticket: its SLA state (at risk / breached as the sweep marked it, else ok
    while a clock runs) and the minutes to its nearest due time."""
    minutes = (due - now).total_seconds() / 60 if due is not None else None
    state = ticket.sla_state
    if state is None and due is not None:
        state = "breached" if minutes < 0 else "ok"
    return Row(id=ticket.number, number=ticket.number, priority=ticket.priority, status=ticket.status,
               title=ticket.title, sla_state=state, sla_minutes=minutes, customer=ticket.customer,
               assignee=ticket.assignee, type=ticket.type, queue=ticket.queue, updated=ticket.updated_at)


class FormRefused(HelpdeskError):
    """A new ticket refused before anything was stored: every problem, by the input it concerns."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(next(iter(problems.values())))
        self.problems = problems


class AiOff(HelpdeskError):
    """An AI action on a desk whose `[ai]` is turned off."""

    def __init__(self, message: str = "AI assistance is off on this desk: set enabled = true in the [ai] section "
                                      "of the configuration to use it") -> None:
        super().__init__(message)


def parse_tags(text: str) -> tuple[list[str], list[str]]:
    """'urgent, -printer vip': (tags to add, tags to remove); a leading '-' removes."""
    words = [w for w in re.split(r"[,\s]+", text) if w]
    return ([w for w in words if not w.startswith("-")], [w[1:] for w in words if w.startswith("-") and w[1:]])


@dataclass
class BulkOutcome:
    """What a bulk action did: the tickets changed, and those refused with the reason (in order)."""

    changed: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


class ChangeFeed:
    """One thread listening for the desk's change notifications (PostgreSQL LISTEN, or the SQLite change
    log polled), calling every subscriber with the ticket numbers that changed (an empty set: more
    than can be listed, reload everything). Started by the first subscriber; stopped by `close`."""

    def __init__(self, desk) -> None:
        self._desk = desk
        self._subscribers: list[Callable[[frozenset[int]], None]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener = None

    def subscribe(self, callback: Callable[[frozenset[int]], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)
            if self._thread is None and not self._stopped.is_set():
                self._listener = changes.listen(self._desk)  # hears what is committed from now on
                self._thread = threading.Thread(target=self._run, name="helpdesk-changes", daemon=True)
                self._thread.start()

        def stop() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return stop

    def _run(self) -> None:
        delay = POLL_SECONDS
        connected = True
        while not self._stopped.is_set():
            try:
                found = self._listener.poll(POLL_SECONDS)
            except Exception:  # a listener that fails is tried again, less often each time
                self._stopped.wait(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = POLL_SECONDS
            if connected and not self._listener.connected:
                # The database went away: every subscriber reads again now (and meets the failure, which
                # it shows), rather than at its next keypress. The listener reconnects by itself and then
                # reports everything changed, which makes them read again once more.
                found = changes.Changes(everything=True)
            connected = self._listener.connected
            if found and not self._stopped.is_set():
                self._publish(frozenset() if found.everything else frozenset(found.tickets))

    def _publish(self, ids: frozenset[int]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(ids)

    def close(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._listener is not None:
            self._listener.close()


@contextmanager
def desk_errors():
    """A database driver's failure (the server went away, refused the connection) raised as the desk's
    error, with the one-line message front ends show; anything else as it is."""
    try:
        yield
    except HelpdeskError:
        raise
    except Exception as error:
        failure = desk_service.database_failure(error)
        if failure is None:
            raise
        raise failure from None


class DeskRowSource:
    """The tickets of a query, a page at a time, the count from the database, changes from the desk's
    feed. Pages are read by keyset: the source remembers the key of the first and last row of each
    page it read, and reads a neighbour by seeking past one of them (page down, page up: one index
    seek at any depth). A page with no neighbour read (End, a jump) is read from the nearer end: the
    last page in reverse order costs what the first does. Remembered keys are dropped when the sort
    changes or the desk does (rows may have moved)."""

    sortable = frozenset(COLUMN_SORTS)  # the columns this source can order by
    KEYS_KEPT = 20_000  # row keys remembered (two a page): past it they are dropped and learnt again

    def __init__(self, desk, feed: ChangeFeed, query: str = "") -> None:
        self._desk = desk
        self._feed = feed
        self.query = query
        self._sort: str | None = None
        self._count: int | None = None  # the last count read (where the end is)
        self._keys: dict[int, tuple] = {}  # position -> key of a row read there
        self._epoch = 0  # bumped when remembered keys become wrong; a read from before keeps none
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise QueryError when the query cannot be read (a bounded read, not a count of every match)."""
        with desk_errors():
            queue.check_query(self._desk, self.query)

    def count(self) -> int:
        epoch = self._epoch
        with desk_errors():
            found = queue.count(self._desk, self.query)
        with self._lock:
            if epoch == self._epoch:
                self._count = found
        return found

    def page(self, offset: int, limit: int) -> list[Row]:
        offset, limit = max(0, offset), max(0, limit)
        with self._lock:
            epoch, count = self._epoch, self._count
            after, before = self._keys.get(offset - 1), self._keys.get(offset + limit)
        if count is not None:
            limit = min(limit, count - offset)
        if limit <= 0:
            return []
        with desk_errors():
            found = self._read(offset, limit, count, after, before)
        with self._lock:
            if epoch == self._epoch and found.keys:
                if len(self._keys) > self.KEYS_KEPT:
                    self._keys.clear()
                self._keys[offset] = found.keys[0]
                self._keys[offset + len(found.keys) - 1] = found.keys[-1]
        now = self._desk.now()
        return [row_of(t, found.due.get(t.number), now) for t in found.tickets]

    def _read(self, offset: int, limit: int, count: int | None, after: tuple | None,
              before: tuple | None) -> queue.QueuePage:
        if offset == 0:
            found = queue.page(self._desk, self.query, sort=self._sort, limit=limit)
        elif after is not None:
            found = queue.page(self._desk, self.query, sort=self._sort, limit=limit, after=after)
        elif before is not None:
            found = queue.page(self._desk, self.query, sort=self._sort, limit=limit, before=before)
        elif count is not None and offset + limit / 2 > count / 2:  # nearer the end: count from there
            found = queue.page(self._desk, self.query, sort=self._sort, limit=limit,
                               offset=count - offset - limit, from_end=True)
        else:
            found = queue.page(self._desk, self.query, sort=self._sort, limit=limit, offset=offset)
        return found

    def sort_by(self, column: str, descending: bool) -> None:
        if column not in COLUMN_SORTS:
            raise ValueError(f"the queue cannot be sorted by {column!r}")
        sort = ("-" if descending else "") + COLUMN_SORTS[column]
        if sort != self._sort:  # the same order keeps what was read in it
            self._sort = sort
            self._forget()

    def _forget(self) -> None:
        with self._lock:
            self._epoch += 1
            self._keys = {}
            # and where the end is: a page read before the next count must not be cut at the old one
            # (a new ticket on a desk smaller than a page would never show its last row)
            self._count = None

    def on_change(self, callback: Callable[[frozenset[int]], None]) -> Callable[[], None]:
        def changed(ids: frozenset[int]) -> None:
            self._forget()  # rows may have come, gone or moved: positions of remembered keys are stale
            callback(ids)
        return self._feed.subscribe(changed)


class TicketDesk:
    """What the TUI does on the desk, one method per user action (each one service call)."""

    def __init__(self, desk) -> None:
        self.desk = desk
        self.feed = ChangeFeed(desk)

    @property
    def actor(self) -> str:
        return self.desk.actor

    def rows_for(self, query: str) -> DeskRowSource:
        return DeskRowSource(self.desk, self.feed, query)

    def check_query(self, query: str) -> None:
        with desk_errors():
            queue.check_query(self.desk, query)

    def show(self, number: int) -> TicketView:
        return tickets.show(self.desk, number)

    def read_ticket(self, number: int, newest: int) -> tuple[TicketView, int]:
        """The ticket with only the newest `newest` entries of its conversation, and how many entries
        come before them (read with `earlier_entries`)."""
        view = tickets.show(self.desk, number, conversation=False)
        page = tickets.conversation(self.desk, number, limit=newest)
        view.conversation = page.entries
        return view, page.earlier

    def read_detail(self, number: int, newest: int, events: int) -> tuple[tickets.TicketDetail, list]:
        """What the ticket's page shows, in as few queries as the services can: the ticket with its
        newest `newest` entries (`.earlier`: how many come before them), its newest `events` audit
        events; and its AI suggestions (see `suggestions`)."""
        with desk_errors():
            return tickets.detail(self.desk, number, newest=newest, events=events), self.suggestions(number)

    def earlier_entries(self, number: int, before: int, limit: int) -> tickets.ConversationPage:
        """The `limit` conversation entries before entry `before` (oldest first), and how many precede them."""
        return tickets.conversation(self.desk, number, before=before, limit=limit)

    def reply(self, number: int, body: str, *, note: bool, version: int) -> EntryView:
        return tickets.reply(self.desk, number, body, note=note, expected_version=version)

    def new_ticket_form(self) -> TicketFormView:
        """The types (with their fields), queues and priorities a new ticket can have."""
        return tickets.new_ticket_form(self.desk)

    def create_ticket(self, *, title: str, body: str, type: str | None, priority: str | None,
                      customer: str | None, queue: str | None, fields: dict[str, str]) -> TicketView:
        """A new ticket, created by an agent; FormRefused (nothing stored) with every problem, by input
        ('title', 'customer', 'field.NAME', ...), when the desk would not take it."""
        given = {name: value for name, value in fields.items() if value.strip()}
        problems = tickets.check_new(self.desk, title=title, body=body, type=type, priority=priority,
                                     customer=customer, queue=queue, fields=given)
        if problems:
            raise FormRefused(problems)
        view, _ = tickets.create(self.desk, title=title, body=body, type=type, priority=priority,
                                 customer=customer or None, queue=queue,
                                 fields=[f"{name}={value}" for name, value in given.items()], channel="agent")
        return view

    def macros(self) -> list[MacroView]:
        return tickets.macros(self.desk)

    def apply_macro(self, number: int, name: str, *, version: int | None) -> str:
        return tickets.apply_macro(self.desk, number, name, expected_version=version)

    def agent_logins(self) -> list[str]:
        """The active agents, by login (whom a ticket can be assigned to)."""
        return [agent.login for agent in agents.list_(self.desk) if agent.active]

    def assign(self, number: int, agent: str, *, version: int | None) -> TicketView:
        return lifecycle.assign(self.desk, number, agent, expected_version=version)

    def take(self, number: int, *, version: int | None) -> TicketView:
        return lifecycle.take(self.desk, number, expected_version=version)

    def change_status(self, number: int, state: str, *, version: int | None) -> TicketView:
        return lifecycle.change_status(self.desk, number, state, expected_version=version)

    def set_priority(self, number: int, priority: str, *, version: int | None) -> TicketView:
        return tickets.update(self.desk, number, priority=priority, expected_version=version)

    def queue_names(self) -> list[str]:
        """The desk's queues, by name (where a ticket can be transferred to)."""
        return [q.name for q in self.desk.config.queues]

    def transfer(self, number: int, *, agent: str | None = None, queue: str | None = None,
                 version: int | None) -> TicketView:
        return lifecycle.transfer(self.desk, number, agent=agent, queue=queue, expected_version=version)

    def return_to_queue(self, number: int, *, version: int | None) -> TicketView:
        return lifecycle.return_to_queue(self.desk, number, expected_version=version)

    def tag(self, number: int, add: list[str], remove: list[str], *, version: int | None) -> TicketView:
        return tickets.tag(self.desk, number, add, remove, expected_version=version)

    def ticket_type(self, name: str | None):
        """A ticket type of the configuration (its label and extension `fields`: name, label, kind,
        options, required), or None (no type, or one no longer configured)."""
        return self.desk.config.type(name) if name else None

    def edit(self, number: int, *, title: str | None, fields: dict[str, str], version: int | None) -> TicketView:
        """A new title and extension field values (text, checked by the field's kind; '' clears one)."""
        return tickets.update(self.desk, number, title=title, fields=[f"{k}={v}" for k, v in fields.items()],
                              expected_version=version)

    def parse_number(self, text: str) -> int:
        """A ticket number as people write it (42 or #42); InvalidInput otherwise."""
        return tickets.parse_number(text)

    def merge(self, number: int, into: int, *, version: int | None = None) -> TicketView:
        """Ticket `number` merged into ticket `into` (closed, its conversation moved); returns `into`
        (`version`: the one shown, refused as stale if it moved)."""
        return lifecycle.merge(self.desk, number, into, expected_version=version)

    def attachment(self, number: int, which: str) -> tickets.AttachmentContent:
        """One attachment (by its number in the list, or name) with its bytes, and where it saves to."""
        return tickets.attachment(self.desk, number, which)

    # ------------------------------------------------------------ AI assistance (issue 11)

    @property
    def ai_enabled(self) -> bool:
        return self.desk.config.ai.enabled

    def _ai(self):
        if not self.ai_enabled:
            raise AiOff()
        from helpdesk.services import ai  # lazy: the AI modules load only when an agent asks for them

        return ai

    def suggestions(self, number: int) -> list:
        """The ticket's AI suggestions in force (`SuggestionView`s: kind, value, confidence, level, source,
        status); none on a desk with AI off (whose detail screen never loads the AI modules, ~0.1 s)."""
        if not self.ai_enabled:
            return []
        return self._ai().suggestions_of(self.desk, number)

    def suggestion_choices(self, kind: str) -> list[str]:
        """The values a suggestion of `kind` can be changed to ([] : any text)."""
        if kind == "priority":
            return list(PRIORITIES)
        if kind == "sentiment":
            return list(SENTIMENTS)
        if kind == "category":
            return list(self.desk.config.ai.categories or [t.name for t in self.desk.config.types])
        return []

    def decide(self, number: int, kind: str, value: str | None = None, *, version: int | None):
        """Accept the ticket's `kind` suggestion (value None) or change it to `value` (`version`: the
        one shown, refused as stale if it moved)."""
        return self._ai().decide(self.desk, number, kind, value, expected_version=version)

    def similar(self, number: int, count: int = 5) -> list[dict]:
        """Solved tickets like this one, best first: {ticket, score, title, resolution}."""
        return self._ai().similar(self.desk, number, count)

    def draft(self, number: int):
        """A reply draft (`Written`: text, source llm or offline, notes saying why a source was not used);
        the model can take seconds. Never sent: the agent sends it."""
        return self._ai().draft(self.desk, number)

    def apply_each(self, action: str, numbers: Iterable[int], value: str) -> BulkOutcome:
        """A bulk action (`assign` to an agent, `status`, `priority`, `tag` with 'a, -b', `merge` into the
        ticket numbered `value`): one service call per ticket, each
        its own unit of work, so a refused one (an illegal transition) leaves the others changed."""
        call = {"assign": self.assign, "status": self.change_status, "priority": self.set_priority,
                "tag": self._tag_each, "merge": self._merge_into}[action]
        outcome = BulkOutcome()
        for number in numbers:
            try:
                call(number, value, version=None)
            except Exception as error:  # refused (HelpdeskError) or failed: said per ticket, the rest go on
                outcome.refused.append((number, str(error) or error.__class__.__name__))
            else:
                outcome.changed.append(number)
        return outcome

    def _tag_each(self, number: int, tags: str, *, version: int | None) -> TicketView:
        add, remove = parse_tags(tags)
        return self.tag(number, add, remove, version=version)

    def _merge_into(self, number: int, into: str, *, version: int | None) -> TicketView:
        return self.merge(number, int(into))

    def summary(self, *, days: int = 30) -> ReportSummary:
        """The dashboard's figures (what `helpdesk report summary` prints)."""
        return report.summary(self.desk, days=days)

    @property
    def settings_section(self):
        """The configuration's `[tui]` section, as the config package read it (plain data)."""
        return self.desk.config.tui

    def close(self) -> None:
        self.feed.close()


def open_desk() -> TicketDesk:
    """The desk the configuration points at, opened for the acting agent (HelpdeskError if it cannot
    be: no desk, an unknown agent, a database that cannot be reached)."""
    with desk_errors():
        return TicketDesk(desk_service.open(page_cache_kib=PAGE_CACHE_KIB))
