"""Running a Typer app as a console script: user errors become one line on stderr and exit code 2,
never a traceback (shared by `corpus`, `alt-explain` and the other commands)."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

UsageError = typer.BadParameter.__base__  # click's UsageError, wherever this typer version keeps click


def run(app: typer.Typer, user_errors: tuple[type[Exception], ...], err: Console, out: Console) -> NoReturn:
    """Run `app` on sys.argv and exit: 0, the command's own code, 2 for user errors, 130 on Ctrl-C."""
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except user_errors as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except UsageError as exc:
        if exc.ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":  # bare command: show help
            out.print(exc.ctx.get_help(), highlight=False)
            sys.exit(0)
        hint = f"; see '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
        err.print(f"error: {exc.format_message().rstrip('.')}{hint}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted; nothing was written")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
