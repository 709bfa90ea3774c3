"""The Typer app factory every command group uses."""

from __future__ import annotations

import os
import re

import typer
from typer.core import TyperGroup

try:  # recent Typer vendors Click; its usage errors are those classes
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - Typer on top of Click
    from click.exceptions import NoArgsIsHelpError, UsageError

from helpdesk.cli.common import error, handle_errors


def keep_example_lines(text: str | None) -> str | None:
    """Help text whose example paragraphs keep their lines (Click rewraps every paragraph unless it
    starts with its no-rewrap marker, which would run several example commands into one line)."""
    if not text:
        return text
    return "\n\n".join("\b\n" + part if part.lstrip().startswith("Example") else part
                       for part in text.split("\n\n"))

_SURROGATE = re.compile("[\ud800-\udfff]")


class HelpdeskGroup(TyperGroup):
    """Turns the domain's expected errors into one line on stderr and the contract's exit code."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.help = keep_example_lines(self.help)

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None and not isinstance(command, HelpdeskGroup) and "\b" not in (command.help or ""):
            command.help = keep_example_lines(command.help)
        return command

    def parse_args(self, ctx, args):
        if ctx.parent is None:  # the whole command line, once
            _check_arguments(args)
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
                error(f"internal error: {exc.__class__.__name__}: {exc} "
                      "(run with HELPDESK_DEBUG=1 for the traceback)")
                code = 1
            raise typer.Exit(code) from None


def _check_arguments(args: list[str]) -> None:
    """Arguments that are not UTF-8 (Python hands their bytes over as lone surrogates) are a usage
    error naming the argument, before any command could store or print them."""
    for position, arg in enumerate(args, 1):
        if not _SURROGATE.search(arg):
            continue
        try:
            raw = arg.encode("utf-8", "surrogateescape")  # the bytes as they were given
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogatepass")
        from helpdesk.core.limits import shown  # lazy: only a bad argument needs it

        option = args[position - 2] if position > 1 and args[position - 2].startswith("-") else None
        what = f"argument {position}" + (f" (after {option})" if option and "=" not in option else "")
        error(f"{what} is not valid UTF-8: {shown(raw.decode('utf-8', 'backslashreplace'))}")
        raise typer.Exit(2)


def _usage_exit(exc: UsageError):
    """A wrong command line: exit 2 with one line (a group called bare shows its help, as before)."""
    if isinstance(exc, NoArgsIsHelpError):
        raise exc
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    error(f"{exc.format_message()}{hint}")
    raise typer.Exit(2) from None


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # subcommands inherit them from the root's context


def make_app(**kwargs) -> typer.Typer:
    kwargs.setdefault("add_completion", False)
    kwargs.setdefault("no_args_is_help", True)  # a group that acts by itself (`mail outbox`) says False
    return typer.Typer(cls=HelpdeskGroup, pretty_exceptions_enable=False, pretty_exceptions_show_locals=False,
                       rich_markup_mode=None, context_settings=HELP_OPTIONS, **kwargs)
