"""A bare `helpdesk`: the TUI on the desk the configuration points at, with the settings of its `[tui]`
section. An expected failure (no desk yet, a bad config file or `[tui]` setting, an unknown agent, a
database out of reach) is one line on stderr and its exit code."""

from __future__ import annotations

import gc
import sys


def main() -> int:
    # Start-up makes a few hundred thousand objects that live as long as the app (modules, classes,
    # CSS rules); the cyclic collector ran ~140 times over them before the first rows, a third of the
    # CPU from launch to first paint, and freed nothing. Off while they are made, then set aside for
    # good (gc.freeze): later collections look only at what the app makes as it runs.
    gc.disable()
    from helpdesk.tui.desk import HelpdeskError, NoDesk, open_desk  # lazy: the services load with the desk

    try:
        desk = open_desk()
    except HelpdeskError as error:  # no desk yet, a bad config file, an unknown agent, no database
        hint = "\nTry: helpdesk init --sample, then helpdesk" if isinstance(error, NoDesk) else ""
        sys.stderr.write(f"helpdesk: {error}{hint}\n")
        return int(error.exit_code)
    from helpdesk.tui.errors import SettingsError  # lazy: textual loads only once there is a desk to show

    try:
        app = app_for(desk)
    except SettingsError as error:
        desk.close()
        source = desk.desk.config.source
        sys.stderr.write(f"helpdesk: config{f' {source}' if source else ''}: {error}\n")
        return 1
    app.read_ahead()
    gc.freeze()
    gc.enable()
    app.run()
    return 0


def app_for(desk):
    """The app on this `TicketDesk` with the settings of its configuration's `[tui]` section (a setting
    the TUI cannot use raises SettingsError, before anything is drawn)."""
    from helpdesk.tui.app import HelpdeskApp  # lazy: textual loads only once there is a desk to show
    from helpdesk.tui.settings import TuiSettings  # lazy: it loads textual's key names

    return HelpdeskApp(desk=desk, settings=TuiSettings.from_config(desk.settings_section))
