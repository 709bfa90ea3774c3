"""The key bar at the bottom of every screen: the bindings in force, drawn as one line.

Textual's Footer is a container of one widget per key, composed again each time the bindings change
(focus moves, a screen opens): at launch it mounted ~30 widgets in four rounds, about a third of the
CPU the app spent between its imports and its first rows. This is one widget that draws one line, and
draws it again only when the keys it shows change. A click on a key presses that key, as on Footer.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-bar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        .key-bar--description { color: $footer-description-foreground; background: $footer-description-background; }
        .key-bar--disabled { text-style: dim; }
        .key-bar--separator { color: $foreground 20%; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description", "key-bar--disabled",
                                                 "key-bar--separator"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple = ()  # (key, key display, description, enabled) of each key drawn
        self._palette: tuple | None = None  # the command palette's key, drawn at the right end
        self._spans: list[tuple[int, int, str]] = []  # (first cell, end cell, key) of each drawn key

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._read_bindings()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            self._read_bindings()

    def _read_bindings(self) -> None:
        """The keys to show now; a repaint only when they differ from those drawn."""
        app = self.app
        shown, seen_actions, palette = [], set(), None
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if app.ENABLE_COMMAND_PALETTE and binding.key == app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, app.get_key_display(binding), binding.description, enabled)
                continue
            if not binding.show or binding.action in seen_actions:  # one key per action, as Footer does
                continue
            seen_actions.add(binding.action)
            shown.append((binding.key, app.get_key_display(binding), binding.description, enabled))
        if (tuple(shown), palette) != (self._shown, self._palette):
            self._shown, self._palette = tuple(shown), palette
            self.refresh()

    @property
    def keys_shown(self) -> list[tuple[str, str]]:
        """(key as displayed, description) of each key on the bar, the palette's last."""
        keys = [(display, description) for _key, display, description, _enabled in self._shown]
        return keys + ([(self._palette[1], self._palette[2])] if self._palette else [])

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        description_style = self.get_component_rich_style("key-bar--description", partial=True)
        disabled = self.get_component_rich_style("key-bar--disabled", partial=True)
        line, spans = Text(no_wrap=True, overflow="crop", end=""), []

        def add(key: str, display: str, description: str, enabled: bool, into: Text, offset: int) -> None:
            start = offset + into.cell_len
            into.append(f" {display} ", key_style if enabled else key_style + disabled)
            if description:
                into.append(f"{description} ", description_style if enabled else description_style + disabled)
            spans.append((start, offset + into.cell_len, key))

        for key, display, description, enabled in self._shown:
            add(key, display, description, enabled, line, 0)
        if self._palette is not None:
            right = Text("▏", style=self.get_component_rich_style("key-bar--separator", partial=True), end="")
            width = self.size.width
            right_width = cell_len(f"▏ {self._palette[1]} {self._palette[2]} ")
            add(*self._palette, right, width - right_width)
            if line.cell_len + right.cell_len <= width:
                line.append(" " * (width - line.cell_len - right.cell_len))
                line.append_text(right)
            else:
                spans.pop()  # no room: the palette's key stays reachable by its key and the palette
        self._spans = [span for span in spans if span[0] < self.size.width]
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key.split(",")[0].strip())
                return
