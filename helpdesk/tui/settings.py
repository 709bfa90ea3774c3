"""The TUI's settings (the `[tui]` section of the configuration, and its saved views), checked whole
before the app starts: a mistake is one SettingsError line, never a half-working screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from helpdesk.tui import keys, themes
from helpdesk.tui.errors import SettingsError
from helpdesk.tui.rows import DEFAULT_COLUMNS, Column, columns_from_ids


@dataclass(frozen=True)
class SavedView:
    """A named query of the query language (`[tui.views]`), offered in the palette."""

    name: str
    query: str


@dataclass(frozen=True)
class TuiSettings:
    theme: str = "dark"  # dark | light | a Textual theme name
    keys: Mapping[str, str] = field(default_factory=dict)  # binding id -> keys, over the defaults
    columns: Sequence[str] = DEFAULT_COLUMNS  # the queue's column ids, in order
    views: Sequence[SavedView] = ()
    start_view: str | None = None  # the view the queue opens on, by name (None: all open, most urgent first)

    @classmethod
    def from_config(cls, section) -> TuiSettings:
        """The settings a configuration's `[tui]` section gives (as the config package reads it: theme,
        keys, columns, views as plain data), checked (SettingsError)."""
        given = {}
        if section.theme is not None:
            given["theme"] = section.theme
        if section.columns is not None:
            given["columns"] = tuple(section.columns)
        return cls(keys=dict(section.keys), views=tuple(SavedView(name, query) for name, query in section.views),
                   start_view=section.start_view, **given).check()

    def theme_name(self) -> str:
        return themes.theme_name(self.theme)

    def keymap(self) -> dict[str, str]:
        return keys.resolve_keymap(self.keys)

    def queue_columns(self) -> list[Column]:
        return columns_from_ids(self.columns)

    def check(self) -> TuiSettings:
        """Every setting checked (raises SettingsError); returns itself."""
        self.theme_name()
        self.keymap()
        self.queue_columns()
        names = [v.name for v in self.views]
        for view in self.views:
            if not view.name.strip() or not view.query.strip():
                raise SettingsError("[tui.views]: every saved view needs a name and a query")
            if names.count(view.name) > 1:
                raise SettingsError(f"[tui.views]: two views are named {view.name!r}")
        return self
