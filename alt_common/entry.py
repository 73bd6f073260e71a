"""Running a Typer app as a console script under the exit-code contract of `errors`: user errors
become one line on stderr, never a traceback; the logging every command sets up; and the vocabulary every
console script shares: `--version`, `--device` (`DEVICE_HELP`, `pick_device`), the examples that end each
`--help` (`examples`) and usage lines as click writes them (`VIDEO`, `[CORPUS.PARQUET]`)."""

from __future__ import annotations

import _thread
import gc
import logging
import sys
import threading
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler

from .errors import BAD_INPUT, FAILED, INTERRUPTED, NOTHING_WRITTEN, OK, Failed, Interrupted, UserError, exit_with
from .labels import printable

REDELIVER_AFTER = 0.01  # seconds before a Ctrl-C a finalizer dropped is delivered again (`_keep_ctrl_c`)
UsageError = typer.BadParameter.__base__  # click's UsageError, wherever this typer version keeps click
DISTRIBUTION = "alt-toolkit"
DEVICE_HELP = "auto (this process's GPU where there is one, else the CPU), cpu, cuda, cuda:N."


def _show_version(value: bool) -> None:
    """--version: `alt-toolkit VERSION` on stdout, and exit 0 before anything else is parsed or loaded."""
    if value:
        from .resources import package_version

        print(f"{DISTRIBUTION} {package_version(DISTRIBUTION)}")
        raise typer.Exit(OK)


# every console script's --version: `version: VersionOption = None` in its command (or the group's callback)
VersionOption = Annotated[Optional[bool], typer.Option("--version", callback=_show_version, is_eager=True, expose_value=False,
                                                       help="Print the toolkit's version and exit.")]


def examples(*lines: str) -> str:
    """A command's epilog: its example invocations, one a line, kept as written (click's \\b keeps the lines from
    being rewrapped into one paragraph)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def pick_device(name: str) -> Any:
    """--device NAME as a torch device: `auto` is `auto_device`'s choice (a GPU torch can use, else the CPU); every
    name is then checked (`resolve_device`). Loads torch."""
    from .device import auto_device, resolve_device

    return resolve_device(auto_device() if name == "auto" else name)


def _plain_usage(command: Any) -> None:
    """Usage lines as click writes them, `VIDEO` and `[CORPUS.PARQUET]`, not typer's `{video}` for a required argument:
    each argument of `command` (and of its subcommands) shows its metavar (else its name in capitals), in brackets
    when it may be left out, with `...` when it takes several."""
    for param in command.params:
        if param.param_type_name == "argument":
            name = param.metavar or param.name.upper()
            name = name if param.required else f"[{name}]"
            name += "..." if param.nargs != 1 else ""
            param.get_usage_pieces = lambda ctx, name=name: [name]
    for sub in getattr(command, "commands", {}).values():
        _plain_usage(sub)


def setup_logging(err: Console, *packages: str, level: int = logging.INFO) -> None:
    """Our packages' messages from `level` up on `err` through rich; other libraries' root-logger noise
    (open_clip's) is dropped, and so is every HTTP request httpx logs."""
    logging.getLogger().addHandler(logging.NullHandler())
    for name in packages:
        ours = logging.getLogger(name)
        ours.setLevel(level)
        if not ours.handlers:
            ours.addHandler(RichHandler(console=err, show_time=False, show_path=False))


def run(app: typer.Typer, err: Console, out: Console) -> NoReturn:
    """Run `app` on sys.argv and exit: 0, 1 for `Failed`, 2 for user and usage errors, 130 on Ctrl-C
    (`Interrupted`'s message, else "interrupted; nothing was written": outputs are written atomically
    at the end, so a command stopped before then left nothing half-written). Messages print as written,
    not as rich markup, so `alt-toolkit[fast-video]` or a path with brackets stays whole, and with control characters
    escaped (`labels.printable`), so a file name with a line break or a terminal escape keeps the message one line."""
    sys.unraisablehook = _keep_ctrl_c
    try:  # a Ctrl-C while the command is built is answered too (one while the script's modules import: exit_interrupted)
        command = typer.main.get_command(app)
        _plain_usage(command)
        code = command.main(standalone_mode=False)
    except UserError as exc:
        err.print(f"error: {printable(exc)}", highlight=False, markup=False, soft_wrap=True)
        _exit(BAD_INPUT)
    except Failed as exc:
        err.print(f"failed: {printable(exc)}", highlight=False, markup=False, soft_wrap=True)
        _exit(FAILED)
    except Interrupted as exc:
        err.print(printable(exc), highlight=False, markup=False, soft_wrap=True)
        _exit(INTERRUPTED)
    except UsageError as exc:
        if exc.ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":  # bare command: show help
            out.print(exc.ctx.get_help(), highlight=False)
            _exit(OK)
        hint = f"; see '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
        err.print(f"error: {printable(exc.format_message().rstrip('.'))}{hint}", highlight=False, markup=False, soft_wrap=True)
        _exit(BAD_INPUT)
    except (typer.Abort, KeyboardInterrupt):
        code = INTERRUPTED
    if code == INTERRUPTED:  # typer turns a KeyboardInterrupt inside a command into a returned 130
        err.print(NOTHING_WRITTEN, highlight=False)
    _exit(code if isinstance(code, int) else OK)


def _keep_ctrl_c(unraisable: Any) -> None:
    """Python prints and drops an exception raised in a finalizer: a Ctrl-C whose KeyboardInterrupt
    lands in a `__del__` the garbage collector runs (regex's, while an LLM answers) would be lost and
    the command would run on. Deliver it to the main thread again a moment later, from another
    thread, once the finalizer is done (should it land in one again, this hook sends it again);
    print anything else as Python does."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        threading.Timer(REDELIVER_AFTER, _thread.interrupt_main).start()
    else:
        sys.__unraisablehook__(unraisable)


def _exit(code: int) -> NoReturn:
    """Exit with `code`, without the cyclic collections Python runs while it tears the process down:
    after a corpus build they take 2-3 s over WordNet's synsets and spaCy's and torch's objects, and
    nothing is left to collect that the ending process needs."""
    gc.freeze()
    exit_with(code)
