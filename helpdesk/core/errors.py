"""Errors the domain raises, and the exit code each maps to.

Front ends catch `HelpdeskError` and print its message as one line: an expected failure is never a
traceback. Anything else is a bug.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit codes of the contract (INTERFACE.md)."""

    OK = 0
    FAILED = 1  # not found, invalid input, illegal transition, stale update
    USAGE = 2  # the command line itself is wrong
    UNAVAILABLE = 3  # a service (database, IMAP, SMTP, Ollama) could not be reached


class HelpdeskError(Exception):
    """An expected failure: one clear line for the user."""

    exit_code = ExitCode.FAILED


class NotFound(HelpdeskError):
    pass


class InvalidInput(HelpdeskError):
    pass


class IllegalTransition(HelpdeskError):
    pass


class StaleVersion(HelpdeskError):
    """The ticket changed since the caller read it (two agents editing at once)."""


class QueryError(InvalidInput):
    pass


class ConfigError(HelpdeskError):
    pass


class UsageError(HelpdeskError):
    exit_code = ExitCode.USAGE


class ServiceUnavailable(HelpdeskError):
    exit_code = ExitCode.UNAVAILABLE


class NoDesk(NotFound):
    """No desk where the configuration points: only `helpdesk init` creates one."""


class PermissionDenied(HelpdeskError):
    """The acting agent is unknown, inactive, or lacks the role for the action."""


class RowsRefused(InvalidInput):
    """Some rows of a bulk create or an import are bad, so nothing was stored: `rows` says what is wrong
    with each ("line 3: ..."), the message what that means for the whole."""

    def __init__(self, rows: list[str], summary: str):
        super().__init__(summary)
        self.rows = rows
