"""The command palette's provider: every action of the catalogue and every saved view.

Hits are built as `Content` made inert: Textual's `Matcher.highlight` and a hit's `help` text are
parsed as markup (a saved view's query or a ticket title holding `[/]` would raise), so neither is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from helpdesk.tui import keys
from helpdesk.tui.text import line_content


@dataclass(frozen=True)
class Command:
    text: str  # what the query is matched against
    help: str  # the second line
    run: Callable[[], object]


def hit_display(text: str, help: str, matcher: Matcher | None = None) -> Content:
    """The two lines of a hit, inert; the letters the query matched highlighted."""
    title = line_content(text)
    if matcher is not None and title.plain == text:  # offsets index the text as written
        _, offsets = matcher.fuzzy_search.match(matcher.query, text)
        for offset in offsets:
            title = title.stylize(matcher.match_style, offset, offset + 1)
    return Content("\n").join([title, line_content(help).stylize_before("dim")])


class HelpdeskCommands(Provider):
    """Actions (by their description, with their keys: the app's and those of the screen it was opened
    over) and saved views (by name, with their query)."""

    def commands(self) -> Iterator[Command]:
        app = self.app
        keymap = getattr(app, "keymap", {})
        # The screen the palette was opened over: a ticket's detail offers its actions, the queue its own.
        scope = getattr(self.screen, "KEY_SCOPE", keys.QUEUE)
        for spec in keys.CATALOGUE:
            if spec.scope in (keys.APP, scope) and spec.id != "palette":
                run = (partial(self.screen.run_action, spec.action) if spec.scope == keys.DETAIL
                       else partial(app.run_binding, spec.id))
                yield Command(spec.description, f"{keys.key_display(keymap.get(spec.id, spec.keys))}  ·  {spec.id}",
                              run)
        for view in getattr(getattr(app, "settings", None), "views", ()):
            yield Command(f"View: {view.name}", view.query, partial(app.open_view, view))

    async def discover(self) -> Hits:
        for command in self.commands():
            yield DiscoveryHit(hit_display(command.text, command.help), command.run, text=command.text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(score, hit_display(command.text, command.help, matcher), command.run, text=command.text)
