"""The light and dark themes, through Textual's theme system: `[tui] theme = "dark"` (or "light", or the
name of any theme Textual ships, e.g. "nord"). The SLA colours come from the theme's success, warning
and error colours, so every theme shows ok / at risk / breached the same way."""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES, Theme

from helpdesk.tui.errors import SettingsError

DARK = Theme(
    name="helpdesk-dark",
    primary="#4C9BE8",
    secondary="#7A8CA3",
    accent="#F2A541",
    warning="#E8B43C",
    error="#E5534B",
    success="#57AB5A",
    foreground="#D7DCE2",
    background="#16191D",
    surface="#1E2227",
    panel="#262B31",
    dark=True,
)
LIGHT = Theme(
    name="helpdesk-light",
    primary="#0B63B5",
    secondary="#5A6B80",
    accent="#B35900",
    warning="#9A6700",
    error="#C62828",
    success="#2E7D32",
    foreground="#1F2328",
    background="#FAFBFC",
    surface="#FFFFFF",
    panel="#EAEEF2",
    dark=False,
)
THEMES = {"dark": DARK, "light": LIGHT}


def theme_name(name: str) -> str:
    """The registered name of the theme `[tui] theme` names ("dark" -> "helpdesk-dark"), or a
    SettingsError listing the choices."""
    if name in THEMES:
        return THEMES[name].name
    if name in BUILTIN_THEMES or name in (DARK.name, LIGHT.name):
        return name
    raise SettingsError(f"[tui] theme: unknown theme {name!r} (dark, light, or one of Textual's: "
                        f"{', '.join(sorted(BUILTIN_THEMES))})")


def opposite(name: str) -> str:
    """The theme the toggle goes to: ours of the other brightness."""
    theme = BUILTIN_THEMES.get(name) or {DARK.name: DARK, LIGHT.name: LIGHT}.get(name, DARK)
    return LIGHT.name if theme.dark else DARK.name
