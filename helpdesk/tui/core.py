"""What the TUI uses of the rest of helpdesk, imported here and only here: the one sanitiser and the
editor's `compose`. When these move (to `helpdesk.core`), this file is the only one that changes."""

from __future__ import annotations

from helpdesk.core.editor import EditorFailed, Runner, compose, run_editor
from helpdesk.core.sanitise import inert, is_inert

__all__ = ["EditorFailed", "Runner", "compose", "inert", "is_inert", "run_editor"]
