"""The TUI application: the queue, the help screen, the command palette, themes and key map, the
editor runner and the banner. It is given its rows as a function from a query (a saved view's, or ""
for the opening queue) to a `RowSource`, which the services layer provides over the desk."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from helpdesk.tui import keys, themes
from helpdesk.tui.core import Runner
from helpdesk.tui.editor import compose_in_app
from helpdesk.tui.notices import Banner
from helpdesk.tui.palette import HelpdeskCommands
from helpdesk.tui.rows import RowSource
from helpdesk.tui.screens.help import HelpScreen
from helpdesk.tui.settings import SavedView, TuiSettings
from helpdesk.tui.widgets.queue_table import QueueTable

RowsFor = Callable[[str], RowSource]


class HelpdeskApp(App, inherit_bindings=False):
    TITLE = "helpdesk"
    BINDINGS = [*keys.bindings(keys.APP), Binding("ctrl+c", "help_quit", show=False, system=True)]
    COMMANDS = {HelpdeskCommands}

    def __init__(self, rows_for: RowsFor, *, settings: TuiSettings | None = None,
                 editor_runner: Runner | None = None) -> None:
        """`rows_for(query)`: the rows of a query; `settings`: the `[tui]` section (checked here:
        SettingsError before anything is drawn); `editor_runner`: replaces the suspend-and-run-$EDITOR
        runner (tests)."""
        settings = (settings or TuiSettings()).check()
        super().__init__()
        self.settings = settings
        self.rows_for = rows_for
        self.keymap = settings.keymap()
        self.editor_runner = editor_runner
        self.view: SavedView | None = None
        for theme in themes.THEMES.values():
            self.register_theme(theme)
        self.theme = settings.theme_name()
        self.set_keymap(self.keymap)

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        yield QueueTable(self.rows_for(""), columns=self.settings.queue_columns(), id="queue")
        yield Footer()

    @property
    def queue(self) -> QueueTable:
        return self.query_one("#queue", QueueTable)

    @property
    def banner(self) -> Banner:
        return self.query_one("#banner", Banner)

    # ------------------------------------------------------------ actions

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_toggle_theme(self) -> None:
        self.theme = themes.opposite(self.theme)

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

    # ------------------------------------------------------------ events

    @on(QueueTable.LoadFailed)
    def _queue_failed(self, message: QueueTable.LoadFailed) -> None:
        self.banner.show(f"The queue could not be read: {message.error}", "error")

    @on(QueueTable.Loaded)
    def _queue_loaded(self) -> None:
        if self.banner.shown:
            self.banner.clear()
