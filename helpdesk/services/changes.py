"""Change notifications for a live screen: which tickets other processes (another TUI, the CLI, the
daemon) committed changes to. A thin door onto `helpdesk.store.notify` for the front ends, which do
not import the store."""

from __future__ import annotations

from helpdesk.store import notify

Changes = notify.Changes


def listen(desk) -> notify.Listener:
    """A listener for the desk's changes from now on: `poll(timeout)` gives the `Changes` since the
    last poll; on PostgreSQL `fileno()` is a socket an event loop can wait on (SQLite: None, poll
    every 0.2-0.5 s). Close it when done."""
    return notify.listen(desk)
