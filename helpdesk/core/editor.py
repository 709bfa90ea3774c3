"""Writing text in the person's own editor ($VISUAL, else $EDITOR, else vi), as git does.

`compose` puts a template in a private temporary file, hands its path to a runner and reads the file
back. The runner is replaceable: the CLI runs the editor in the foreground on its terminal
(`run_editor`); the TUI wraps the same call in its own suspend. Nothing here touches the desk, so a
failed or empty edit stores nothing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from helpdesk.core.errors import HelpdeskError, InvalidInput

# Everything from this line down is instructions, dropped when the text comes back (git's scissors):
# a reply may itself hold lines starting with '#'.
SCISSORS = "# ------------------------ >8 ------------------------"

Runner = Callable[[str], None]


class EditorFailed(HelpdeskError):
    """The editor could not be started, or it exited with an error: nothing is stored."""


def editor_command() -> list[str]:
    """The editor to run, as an argument list ($VISUAL / $EDITOR may carry options: 'code --wait')."""
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError:
                raise EditorFailed(f"${var} cannot be read as a command: {value}") from None
            if words:
                return words
    return ["vi"]


def run_editor(path: str) -> None:
    """The default runner: the editor in the foreground on this terminal, until it exits."""
    command = editor_command()
    try:
        status = subprocess.call([*command, path])
    except FileNotFoundError:
        raise EditorFailed(f"editor '{command[0]}' not found (set $EDITOR)") from None
    except OSError as exc:
        raise EditorFailed(f"editor '{command[0]}' could not start: {exc.strerror or exc}") from None
    if status != 0:
        raise EditorFailed(f"editor '{command[0]}' exited with status {status}")


def compose(instructions: str, *, runner: Runner | None = None) -> str:
    """Text a person writes in their editor: an empty file but for `instructions` below the scissors
    line; whatever is above it comes back, with surrounding blank space removed ('' for nothing)."""
    handle, path = tempfile.mkstemp(prefix="helpdesk-", suffix=".txt")  # 0600, like git's COMMIT_EDITMSG
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as fh:
            fh.write("\n\n" + SCISSORS + "\n"
                     + "".join(f"# {line}\n" for line in instructions.splitlines()))
        (runner or run_editor)(path)
        try:
            data = Path(path).read_bytes()
        except OSError:
            raise EditorFailed("the editor left no file to read") from None
    finally:
        try:
            os.unlink(path)
        except OSError:  # an editor that replaced or removed the file
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the editor saved text that is not UTF-8 (byte {exc.start + 1})") from None
    lines = text.splitlines()
    if SCISSORS in lines:
        lines = lines[:lines.index(SCISSORS)]
    return "\n".join(lines).strip()
