"""Stored text on screen: always a `rich.text.Text` / `Content` made through the one sanitiser, never a
markup string. Textual parses markup in plain strings (a title `[/]` raises, `[link=...]` makes a live
link: textual #5581, #5768, #6155) and passes control characters to the terminal; these helpers are
the only way stored text reaches a widget."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.content import Content

from helpdesk.tui.core import inert, is_inert


def line_text(value: Any, style: Style | str = "") -> Text:
    """One-line stored text (a title, a name, a cell): newlines and tabs shown, not obeyed."""
    return Text(inert(value, layout=False), style=style, no_wrap=True, overflow="ellipsis", end="")


def block_text(value: Any, style: Style | str = "") -> Text:
    """Multi-line stored text (a message body): newlines and tabs kept, every other control shown."""
    return Text(inert(value), style=style, end="")


def line_content(value: Any) -> Content:
    """One-line stored text as Textual `Content` (what toasts, the palette and labels take)."""
    return Content(inert(value, layout=False))


def field_label(spec) -> str:
    """How a type's field is named on screen: its configured label, else its name in words."""
    return spec.label or spec.name.replace("_", " ").capitalize()


def plain(value: str | Text | Content) -> str:
    """The inert one-line plain text of a str, Text or Content: what a notice may show. A Text or
    Content built elsewhere is checked too, so nothing raw slips through one already made."""
    text = value.plain if isinstance(value, (Text, Content)) else value
    return text if isinstance(text, str) and is_inert(text, layout=False) else inert(text, layout=False)
