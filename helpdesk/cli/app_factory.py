"""The Typer app factory every command group uses."""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup

try:  # recent Typer vendors Click; its usage errors are those classes
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - Typer on top of Click
    from click.exceptions import NoArgsIsHelpError, UsageError

from helpdesk.cli.common import handle_errors


class HelpdeskGroup(TyperGroup):
    """Turns the domain's expected errors into one line on stderr and the contract's exit code."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            _usage_exit(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except UsageError as exc:
            _usage_exit(exc)
        except BrokenPipeError:
            # The reader went away (`helpdesk ticket list | head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
            code = handle_errors(exc)
            if code is None:
                if os.environ.get("HELPDESK_DEBUG"):
                    raise
                typer.echo(f"error: internal error: {exc.__class__.__name__}: {exc} "
                           "(run with HELPDESK_DEBUG=1 for the traceback)", err=True)
                code = 1
            raise typer.Exit(code) from None


def _usage_exit(exc: UsageError):
    """A wrong command line: exit 2 with one line (a group called bare shows its help, as before)."""
    if isinstance(exc, NoArgsIsHelpError):
        raise exc
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    typer.echo(f"error: {exc.format_message()}{hint}", err=True)
    raise typer.Exit(2) from None


def make_app(**kwargs) -> typer.Typer:
    kwargs.setdefault("no_args_is_help", True)  # a group that acts by itself (`mail outbox`) says False
    return typer.Typer(cls=HelpdeskGroup, pretty_exceptions_enable=False, pretty_exceptions_show_locals=False,
                       rich_markup_mode=None, add_completion=False, **kwargs)
