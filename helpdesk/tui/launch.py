"""A bare `helpdesk`: the TUI on the desk the configuration points at. An expected failure (no desk
yet, an unknown agent, a database out of reach) is one line on stderr and its exit code."""

from __future__ import annotations

import sys


def main() -> int:
    from helpdesk.tui.desk import HelpdeskError, open_desk  # lazy: the services load with the desk

    try:
        desk = open_desk()
    except HelpdeskError as error:
        sys.stderr.write(f"helpdesk: {error}\nTry: helpdesk init --sample, then helpdesk\n")
        return int(error.exit_code)
    from helpdesk.tui.app import HelpdeskApp  # lazy: textual loads only once there is a desk to show

    HelpdeskApp(desk=desk).run()
    return 0
