"""The `helpdesk` console script: as little as possible is imported before a command runs."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        # A bare `helpdesk` opens the TUI; until it lands, say how to get going.
        sys.stdout.write(
            "helpdesk: the terminal UI is not built yet.\n"
            "Try: helpdesk init --sample, helpdesk ticket list, helpdesk --help\n")
        return
    from helpdesk.cli.app import app

    app(args=args, prog_name="helpdesk")


if __name__ == "__main__":
    main()
