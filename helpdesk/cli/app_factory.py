"""The Typer app factory every command group uses."""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup

from helpdesk.cli.common import handle_errors


class HelpdeskGroup(TyperGroup):
    """Turns the domain's expected errors into one line on stderr and the contract's exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
            code = handle_errors(exc)
            if code is None:
                if os.environ.get("HELPDESK_DEBUG"):
                    raise
                typer.echo(f"error: internal error: {exc.__class__.__name__}: {exc} "
                           "(run with HELPDESK_DEBUG=1 for the traceback)", err=True)
                code = 1
            raise typer.Exit(code) from None


def make_app(**kwargs) -> typer.Typer:
    return typer.Typer(cls=HelpdeskGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                       pretty_exceptions_show_locals=False, rich_markup_mode=None, add_completion=False,
                       **kwargs)
