"""`$EDITOR` from the TUI: the app suspends (the editor gets the terminal), the editor runs, the app
resumes and redraws. The runner is replaceable: under `App.run_test()` the headless driver cannot
suspend (SuspendNotSupported), so tests hand the app a runner of their own."""

from __future__ import annotations

from textual.app import App, SuspendNotSupported

from helpdesk.tui.core import EditorFailed, Runner, compose, run_editor


def suspended_runner(app: App) -> Runner:
    """The runner that suspends `app` around the person's editor (call on the app's thread)."""

    def run(path: str) -> None:
        try:
            with app.suspend():
                run_editor(path)
        except SuspendNotSupported:
            raise EditorFailed("this terminal cannot hand over to an editor; write the text inline") from None

    return run


def compose_in_app(app: App, instructions: str, *, runner: Runner | None = None) -> str:
    """Text written in the person's editor with the app suspended meanwhile ('' for nothing written;
    EditorFailed if the editor failed: nothing is stored). Runs on the app's thread: nothing else of
    the app runs until the editor exits, as nothing can be shown meanwhile."""
    return compose(instructions, runner=runner or suspended_runner(app))
