"""The TUI application: the queue with its filter bar, the ticket detail, the help screen, the command
palette, themes and key map, the editor runner and the banner. It is given its rows as a function from
a query (the filter bar's, a saved view's, or "" for the opening queue) to a `RowSource`; with a
`TicketDesk` (the desk through the services layer) it also opens tickets and acts on them."""

from __future__ import annotations

import gc
from collections.abc import Callable
from functools import partial

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Static

from helpdesk.tui import keys, themes
from helpdesk.tui.core import Runner
from helpdesk.tui.editor import compose_in_app
from helpdesk.tui.text import line_content
from helpdesk.tui.notices import Banner, notify
from helpdesk.tui import opening
from helpdesk.tui.opening import OpeningDesk
from helpdesk.tui.rows import RowSource
from helpdesk.tui.errors import SettingsError
from helpdesk.tui.settings import SavedView, TuiSettings
from helpdesk.tui.widgets.key_bar import KeyBar
from helpdesk.tui.widgets.queue_table import QueueTable
from helpdesk.tui.widgets.views_sidebar import ViewsSidebar

RowsFor = Callable[[str], RowSource]
# The views of the sidebar on a desk (then the saved views of `[tui.views]`), counted live.
DESK_VIEWS = tuple(SavedView(name, query) for name, query in opening.DESK_VIEWS)
ALL_OPEN = DESK_VIEWS[-2]
# How long the first frame waits for the queue's first rows (a slow desk: drawn without them first).
FIRST_ROWS_WAIT_SECONDS = 0.5
FILTER_HINT = "filter: a query, e.g. status:open priority:P1 printer  (/ to focus, enter to apply, empty for all)"


def _palette_commands() -> type:
    from helpdesk.tui.palette import HelpdeskCommands  # lazy: loaded when the palette first opens

    return HelpdeskCommands


class QueueScreen(Screen):
    """The app's own screen (the queue, the filter bar, the views): the queue has the focus from the
    start. Textual's default focuses the first focusable widget, the filter bar, and moving it to the
    queue then restyled both (and every part of their looks) before the first frame."""

    AUTO_FOCUS = "#queue"


class HelpdeskApp(App, inherit_bindings=False):
    TITLE = "helpdesk"
    BINDINGS = [*keys.bindings(keys.APP), Binding("ctrl+c", "help_quit", show=False, system=True)]
    COMMANDS = {_palette_commands}  # the palette's provider, as Textual takes a lazy one
    CSS = """
    #filter { dock: top; border: none; height: 1; padding: 0 1; }
    #filter-error { dock: top; display: none; color: $error; padding: 0 1; }
    #filter-error.-shown { display: block; }
    """

    def __init__(self, rows_for: RowsFor | None = None, *, settings: TuiSettings | None = None,
                 editor_runner: Runner | None = None, desk=None) -> None:
        """`rows_for(query)`: the rows of a query (default: the desk's); `settings`: the `[tui]` section
        (checked here: SettingsError before anything is drawn); `editor_runner`: replaces the
        suspend-and-run-$EDITOR runner (tests); `desk`: a `desk.TicketDesk`, for the ticket screens."""
        settings = (settings or TuiSettings()).check()
        super().__init__()
        self.settings = settings
        if rows_for is None and desk is None:
            raise ValueError("the app needs rows_for or a desk")
        self.desk = desk
        self.rows_for = rows_for or desk.rows_for
        self.query_text = ""  # the filter applied now
        self.keymap = settings.keymap()
        self.editor_runner = editor_runner
        self.view: SavedView | None = None
        # The sidebar's views: the desk's own (their queries are the desk's language), then the saved ones.
        self.sidebar_views = [*DESK_VIEWS, *settings.views] if desk is not None else []
        self.start = self._start_view(settings.start_view)
        self._start_sort = opening.start_sort(self.start.query) if self.start is not None else None
        self._start_rows = self.rows_for(self.start.query if self.start else "")
        self._stop_counting: Callable[[], None] | None = None
        self._first_rows_shown = False  # the sidebar's first count (and the desk's opening) wait for them
        self._counting = self._count_again = False  # a count is running / asked for while it ran
        for theme in themes.THEMES.values():
            self.register_theme(theme)
        self.theme = settings.theme_name()
        self.set_keymap(self.keymap)

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        yield Input(placeholder=FILTER_HINT, id="filter", select_on_focus=False)
        yield Static("", id="filter-error", markup=False)
        if self.desk is not None:
            yield ViewsSidebar(self.sidebar_views, id="views")
        start = self.start
        yield QueueTable(self._start_rows, columns=self.settings.queue_columns(), id="queue",
                         label=start.name if start else "", sort=self._start_sort)
        yield KeyBar()

    def _start_view(self, name: str | None) -> SavedView | None:
        """The view the queue opens on (`[tui] start_view`, by name; on a desk, by default all open
        tickets, most urgent first); an unknown name is a SettingsError before anything is drawn."""
        if name is None:
            return ALL_OPEN if self.desk is not None else None
        found = next((view for view in self.sidebar_views if view.name == name), None)
        if found is None:
            names = ", ".join(view.name for view in self.sidebar_views) or "none on this screen"
            raise SettingsError(f"[tui] start_view = {name!r} names no view (views: {names})")
        return found

    @property
    def queue(self) -> QueueTable:
        return self.query_one("#queue", QueueTable)

    @property
    def banner(self) -> Banner:
        return self.query_one("#banner", Banner)

    @property
    def filter_error(self) -> Static:
        return self.query_one("#filter-error", Static)

    @property
    def sidebar(self) -> ViewsSidebar | None:
        found = self.query("#views")
        return found.first(ViewsSidebar) if found else None

    def get_default_screen(self) -> Screen:
        return QueueScreen(id="_default")

    async def on_mount(self) -> None:
        if self.sidebar_views:  # counted once the queue's first rows are in (they come first)
            self._stop_counting = self.rows_for("").on_change(self._changed_elsewhere)
        # Textual draws nothing until the app is mounted: the first frame waits here (the event loop
        # does not) for the queue's first rows, read in a worker since the queue was mounted, rather
        # than drawing an empty queue and then drawing it again with its rows.
        await self.queue.first_read(FIRST_ROWS_WAIT_SECONDS)
        # The launch keeps the cyclic collector off while start-up makes objects that live as long as
        # the app (helpdesk.tui.launch): on after the first frame, which ran it ~20 times (~2.5 ms) for nothing.
        self.call_after_refresh(gc.enable)

    def on_unmount(self) -> None:
        if self._stop_counting is not None:
            self._stop_counting()
        if self.desk is not None:
            self.desk.close()

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:  # the feed's thread
        self.call_from_thread(self.count_views)

    def count_views(self) -> None:
        """Count every view of the sidebar in a worker; asked again while it counts, it counts once more
        when done (a burst of changes costs two rounds, and no round is cut short)."""
        if self._counting:
            self._count_again = True
            return
        self._counting = True
        self._count_views()

    @work(thread=True, group="view-counts", exit_on_error=False)
    def _count_views(self) -> None:
        """Count every view of the sidebar (a view whose query fails: None, shown as '?')."""
        counts: dict[str, int | None] = {}
        for view in self.sidebar_views:
            try:
                counts[view.name] = self.rows_for(view.query).count()
            except Exception:  # a saved view with a bad query, or the desk gone: '?' beside it
                counts[view.name] = None
        self.call_from_thread(self._counted, counts)

    def _counted(self, counts: dict[str, int | None]) -> None:
        self._counting = False
        if self.sidebar is not None:
            self.sidebar.show_counts(counts)
        if self._count_again:
            self._count_again = False
            self.count_views()

    # ------------------------------------------------------------ actions

    def action_focus_filter(self) -> None:
        if self.screen is self.screen_stack[0]:
            self.query_one("#filter", Input).focus()

    def action_help(self) -> None:
        from helpdesk.tui.screens.help import HelpScreen  # lazy: not on the launch's path

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_toggle_views(self) -> None:
        if self.sidebar is not None:
            self.sidebar.toggle_class("-hidden")

    def action_dashboard(self) -> None:
        from helpdesk.tui.screens.dashboard import DashboardScreen  # lazy: plotext loads with the first dashboard

        if self.desk is None:
            self.bell()
        elif not isinstance(self.screen, DashboardScreen):
            self.push_screen(DashboardScreen(self.desk))

    def action_toggle_theme(self) -> None:
        self.theme = themes.opposite(self.theme)

    def action_new_ticket(self) -> None:
        from helpdesk.tui.screens.new_ticket import NewTicketScreen  # lazy: loaded by the first new ticket

        if self.desk is None or isinstance(self.screen, NewTicketScreen):
            self.bell()
            return
        self.push_screen(NewTicketScreen(self.desk), self._ticket_created)

    def _ticket_created(self, view) -> None:
        """Say so, and show the queue of every ticket, newest first: the new one on top, the cursor on it."""
        if view is None:
            return
        from helpdesk.tui.screens.new_ticket import created_message  # lazy: loaded with the form

        notify(self, created_message(view))
        while self.screen is not self.screen_stack[0]:
            self.pop_screen()
        self.query_one("#filter", Input).value = ""
        self.view = None
        self._filter_applied("", self.rows_for(""))

    async def run_binding(self, binding_id: str) -> None:
        """Do what the binding with this id does (the palette's way to every action)."""
        spec = keys.BY_ID[binding_id]
        target = self.queue if spec.scope == keys.QUEUE else self
        await target.run_action(spec.action)

    def open_view(self, view: SavedView) -> None:
        """Show a saved view's rows in the queue."""
        self.view = view
        self.queue.set_source(self.rows_for(view.query), label=view.name)
        self.queue.focus()

    def compose_text(self, instructions: str) -> str:
        """Text from the person's editor, the app suspended meanwhile (see `editor.compose_in_app`)."""
        return compose_in_app(self, instructions, runner=self.editor_runner)

    # ------------------------------------------------------------ the filter bar

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value.strip())

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def apply_filter(self, query: str) -> None:
        """Show the rows of `query` (checked first, in this worker: a bad query leaves the queue as it
        was and says why under the bar)."""
        try:
            source = self.rows_for(query)
            check = getattr(source, "check", None)  # a source that can check without counting every match
            check() if check is not None else source.count()
        except Exception as error:  # a query the language cannot read: its message, inert, inline
            self.call_from_thread(self._filter_failed, error)
            return
        self.call_from_thread(self._filter_applied, query, source)

    def _filter_failed(self, error: Exception) -> None:
        self.filter_error.update(Content("✗ ") + line_content(str(error) or error.__class__.__name__))
        self.filter_error.add_class("-shown")

    def _filter_applied(self, query: str, source: RowSource) -> None:
        self.query_text = query
        self.filter_error.update("")
        self.filter_error.remove_class("-shown")
        self.queue.set_source(source, label=query)
        self.queue.focus()

    # ------------------------------------------------------------ events

    @on(ViewsSidebar.ViewChosen)
    def _view_chosen(self, message: ViewsSidebar.ViewChosen) -> None:
        self.open_view(message.view)

    @on(QueueTable.RowOpened)
    def _row_opened(self, message: QueueTable.RowOpened) -> None:
        if self.desk is not None:
            from helpdesk.tui.screens.detail import DetailScreen  # lazy: the first ticket opened loads it

            # The queue's rows and the ticket's place in them: the detail's next / previous ticket.
            self.push_screen(DetailScreen(self.desk, message.row.number, source=message.table.source,
                                          index=message.table.cursor))

    # ------------------------------------------------------------ bulk actions

    @on(QueueTable.BulkRequested)
    def _bulk_requested(self, message: QueueTable.BulkRequested) -> None:
        if self.desk is None:
            self.bell()
            return
        from helpdesk.tui.desk import PRIORITIES, STATES  # lazy: the vocabulary comes with the desk
        from helpdesk.tui.screens.prompts import AskScreen, ChoiceScreen  # lazy: loaded by the first prompt

        numbers = sorted(message.ids)
        what = f"#{numbers[0]}" if len(numbers) == 1 else f"{len(numbers)} tickets"
        if message.action == "assign":
            self._ask_agent(numbers, what)
        elif message.action == "tag":
            self.push_screen(AskScreen(f"Tags of {what}", "tags to add; -tag removes one (e.g. urgent, -printer)"),
                             partial(self._chosen, "tag", numbers))
        elif message.action == "merge":
            if len(numbers) < 2:
                notify(self, "Select two or more tickets to merge (space selects); on a ticket, M merges it",
                       severity="warning")
                return
            # The newest stays, as a rule of thumb; the person chooses (the others are merged into it).
            choices = [f"#{number}" for number in reversed(numbers)]
            self.push_screen(ChoiceScreen(f"Merge {what} into", choices),
                             lambda chosen: self._merge_chosen(numbers, chosen))
        elif message.action == "status":
            self.push_screen(ChoiceScreen(f"Status of {what}", STATES),
                             partial(self._chosen, "status", numbers))
        else:
            self.push_screen(ChoiceScreen(f"Priority of {what}", PRIORITIES),
                             partial(self._chosen, "priority", numbers))

    @work(thread=True, group="bulk", exit_on_error=False)
    def _ask_agent(self, numbers: list[int], what: str) -> None:
        from helpdesk.tui.screens.prompts import ChoiceScreen  # lazy: loaded by the first prompt

        try:
            logins = self.desk.agent_logins()
        except Exception as error:  # the desk's failure is said, not a crash
            self.call_from_thread(notify, self, f"The agents could not be read: {error}", severity="error")
            return
        self.call_from_thread(self.push_screen, ChoiceScreen(f"Assign {what} to", logins),
                              partial(self._chosen, "assign", numbers))

    def _chosen(self, action: str, numbers: list[int], value: str | None) -> None:
        if value and value.strip():
            self.bulk_apply(action, numbers, value)

    def _merge_chosen(self, numbers: list[int], chosen: str | None) -> None:
        if chosen:
            into = int(chosen.lstrip("#"))
            self.bulk_apply("merge", [n for n in numbers if n != into], str(into))

    @work(thread=True, group="bulk", exit_on_error=False)
    def bulk_apply(self, action: str, numbers: list[int], value: str) -> None:
        """Apply a bulk action ticket by ticket (one service call each), then say how many changed
        and which were refused, why; the refused ones stay selected."""
        outcome = self.desk.apply_each(action, numbers, value)
        self.call_from_thread(self._bulk_done, action, value, len(numbers), outcome)

    def _bulk_done(self, action: str, value: str, asked: int, outcome) -> None:
        label = {"assign": "Assigned to", "status": "Status", "priority": "Priority", "tag": "Tags",
                 "merge": "Merged into #"}[action]
        message = f"{label}{'' if action == 'merge' else ' '}{value.replace('_', ' ')}: {len(outcome.changed)} of {asked} changed"
        if outcome.refused:
            message += "; refused: " + "; ".join(f"#{number} ({reason})" for number, reason in outcome.refused)
        notify(self, message, severity="warning" if outcome.refused else "information")
        self.queue.select_only({number for number, _ in outcome.refused})
        self.queue.reload()

    @on(QueueTable.LoadFailed)
    def _queue_failed(self, message: QueueTable.LoadFailed) -> None:
        self.banner.show(f"The desk cannot be read: {message.error} (trying again…)", "error")

    @on(QueueTable.Loaded)
    def _queue_loaded(self) -> None:
        if self.banner.shown:
            self.banner.clear()
        if not self._first_rows_shown:
            self._first_rows_shown = True
            # After the rows are on screen: the opening and counting threads would hold the interpreter
            # while they are drawn.
            self.call_after_refresh(self._after_first_rows)

    def _after_first_rows(self) -> None:
        if isinstance(self.desk, OpeningDesk):
            self.desk.first_rows_shown()
        if self.sidebar_views:
            self.count_views()
