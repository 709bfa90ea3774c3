"""A bare `helpdesk`: the TUI on the desk the configuration points at, with the settings of its `[tui]`
section. An expected failure (no desk yet, a bad config file or `[tui]` setting, an unknown agent, a
database out of reach) is one line on stderr and its exit code."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable


def main(before_open: Callable[[], None] = lambda: None) -> int:
    """`before_open`: what the console script does before a desk is opened (it may tell Python that a
    database driver the desk does not use is absent)."""
    # Start-up makes a few hundred thousand objects that live as long as the app (modules, classes,
    # CSS rules); the cyclic collector ran ~140 times over them before the first rows, a third of the
    # CPU from launch to first paint, and freed nothing. Off while they are made, then set aside for
    # good (gc.freeze): later collections look only at what the app makes as it runs.
    gc.disable()
    if hasattr(os, "fork"):
        from helpdesk.tui.opening import FirstLook  # lazy: nothing heavy before the fork

        return _run_opening(FirstLook(before_open), before_open)
    return _open_here(before_open)


def _open_here(before_open: Callable[[], None]) -> int:
    """The launch that opens the desk in this process, then starts Textual."""
    before_open()
    from helpdesk.tui.desk import HelpdeskError, NoDesk, open_desk  # lazy: the services load with the desk

    try:
        desk = open_desk()
    except HelpdeskError as error:  # no desk yet, a bad config file, an unknown agent, no database
        return _refused(str(error), int(error.exit_code), isinstance(error, NoDesk))
    from helpdesk.tui.errors import SettingsError  # lazy: textual loads only once there is a desk to show

    try:
        app = app_for(desk)
    except SettingsError as error:
        desk.close()
        source = desk.desk.config.source
        return _refused(f"config{f' {source}' if source else ''}: {error}", 1)
    return _run(app)


def _run_opening(look, before_open: Callable[[], None]) -> int:
    """The launch where a child process opens the desk (helpdesk.tui.opening): Textual starts here
    meanwhile; the child's report decides whether there is anything to show."""
    from helpdesk.tui.app import HelpdeskApp  # lazy: textual loads while the child opens the desk
    from helpdesk.tui.errors import SettingsError
    from helpdesk.tui.opening import OpeningDesk, tui_section
    from helpdesk.tui.settings import TuiSettings

    report = look.report()
    if report.get("fallback"):  # the child could not say: open the desk here, the usual way
        return _open_here(before_open)
    if "error" in report:  # no desk yet, a bad config file, an unknown agent, no database
        return _refused(report["error"], report["exit_code"], report["no_desk"])
    try:
        settings = TuiSettings.from_config(tui_section(report["settings"]))
    except SettingsError as error:
        source = report["source"]
        return _refused(f"config{f' {source}' if source else ''}: {error}", 1)
    # The child reads the start view's first page meanwhile: the queue's first read takes it (in a worker).
    return _run(HelpdeskApp(desk=OpeningDesk(look.first_page, before_open), settings=settings))


def _refused(message: str, exit_code: int, no_desk: bool = False) -> int:
    hint = "\nTry: helpdesk init --sample, then helpdesk" if no_desk else ""
    sys.stderr.write(f"helpdesk: {message}{hint}\n")
    return exit_code


def _run(app) -> int:
    gc.freeze()  # the collector comes on again once the app's first frame is built (HelpdeskApp.on_mount)
    app.run()
    return 0


def app_for(desk):
    """The app on this `TicketDesk` with the settings of its configuration's `[tui]` section (a setting
    the TUI cannot use raises SettingsError, before anything is drawn)."""
    from helpdesk.tui.app import HelpdeskApp  # lazy: textual loads only once there is a desk to show
    from helpdesk.tui.settings import TuiSettings  # lazy: it loads textual's key names

    return HelpdeskApp(desk=desk, settings=TuiSettings.from_config(desk.settings_section))
