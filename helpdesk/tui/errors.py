"""The one error the TUI's settings raise (bad key map, theme or column list): one clear line, which
the configuration layer reports as a configuration error."""

from __future__ import annotations


class SettingsError(ValueError):
    """A `[tui]` setting that cannot be used, with what is wrong and what would be right."""
