"""The help screen: every key binding, as the key map has it now (remaps included), by where it works."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from helpdesk.tui import keys


def bindings_table(keymap: Mapping[str, str]) -> Table:
    table = Table(box=None, expand=True, show_header=True, header_style="bold", padding=(0, 2, 0, 0))
    table.add_column("Keys", no_wrap=True)
    table.add_column("Does")
    table.add_column("Id", style="dim", no_wrap=True)
    for scope, title in keys.SCOPE_TITLES.items():
        table.add_row(Text(title, style="bold underline"), Text(""), Text(""))
        for spec in keys.CATALOGUE:
            if spec.scope == scope:
                table.add_row(Text(keys.key_display(keymap.get(spec.id, spec.keys)), style="bold"),
                              Text(spec.description), Text(spec.id))
        table.add_row(Text(""), Text(""), Text(""))
    return table


class HelpScreen(ModalScreen[None]):
    """Every binding with its keys, what it does and its id (the name `[tui.keys]` remaps)."""

    BINDINGS = keys.bindings(keys.HELP)

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 90;
            max-width: 100%;
            height: 80%;
            border: round $primary;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    def __init__(self, keymap: Mapping[str, str]) -> None:
        super().__init__()
        self.keymap = dict(keymap)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = Content("remap in [tui.keys] by id · esc closes")
            yield Static(bindings_table(self.keymap))

    def action_close(self) -> None:
        self.dismiss()
