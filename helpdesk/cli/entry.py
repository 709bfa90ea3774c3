"""The `helpdesk` console script: as little as possible is imported before a command runs."""

from __future__ import annotations

import importlib
import os
import sys


COMPLETE_VAR = "_HELPDESK_COMPLETE"  # what Click's completion scripts set for a program named helpdesk
TOP_LEVEL = ("init", "locate", "export", "daemon")


def _skip_postgres_driver() -> None:
    """Peewee imports psycopg2 eagerly (18 ms); a desk on SQLite never needs it, so this process
    tells Python it is absent. Only the console script does this: it opens exactly one database."""
    try:
        from helpdesk.services.location import backend  # lazy: as little as possible before the command

        if backend() == "sqlite":
            for driver in ("psycopg2", "psycopg"):
                sys.modules.setdefault(driver, None)  # type: ignore[arg-type]
    except Exception:  # a bad config is reported by the command itself, with its exit code
        pass


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get(COMPLETE_VAR):
        # The shell asks for completions (set up by --install-completion): they need every command.
        from helpdesk.cli.app import build  # lazy: see the module docstring

        build()(args=args, prog_name="helpdesk")
        return
    if not args:
        # A bare `helpdesk` opens the TUI. The console script is the door to both front ends, and the
        # TUI is the CLI's sibling layer (neither imports the other), so it is named here, not imported.
        # Which driver to skip is decided where the TUI opens the desk (first in its launch child):
        # reading the config here would load the config package before Textual, on the launch's path.
        sys.exit(importlib.import_module("helpdesk.tui.launch").main(before_open=_skip_postgres_driver))
    _skip_postgres_driver()
    from helpdesk.cli.app import GROUPS, build  # lazy: see the module docstring

    # Build only the group named on the command line; unknown words get the full app and its error.
    first = args[0]
    only = first if first in GROUPS else ("" if not first.startswith("-") and first in TOP_LEVEL else None)
    build(only)(args=args, prog_name="helpdesk")


if __name__ == "__main__":
    main()
