"""The toolkit's error type and the exit-code contract every command keeps (enforced by `entry.run`).

0 ok; 1 the command ran but failed (`Failed`: LLM prompts that failed, missing resources in
`corpus doctor`, a run that read no video); 2 bad input (`UserError`: a file, option or resource the
user can fix); 130 interrupted (Ctrl-C; `Interrupted` says what was kept).
"""

import sys
from typing import NoReturn

OK, FAILED, BAD_INPUT, INTERRUPTED = 0, 1, 2, 130


class UserError(Exception):
    """A problem with the user's input or environment, in a message that says what to change (exit 2)."""


class Failed(Exception):
    """The command ran to its end but did not succeed; the message says what failed (exit 1)."""


class Interrupted(Exception):
    """Ctrl-C reached a command that had already written something; the message says what it kept (exit 130)."""


NOTHING_WRITTEN = "interrupted; nothing was written"


def exit_interrupted() -> NoReturn:
    """Ctrl-C while a console script's modules import, before `entry.run` runs its command: the contract's line and
    exit 130, not a traceback (SystemExit leaves the import quietly)."""
    sys.stderr.write(NOTHING_WRITTEN + "\n")
    exit_with(INTERRUPTED)


def exit_with(code: int) -> NoReturn:
    """Exit with `code`, also after a caught Ctrl-C. CPython 3.11-3.13 remember a KeyboardInterrupt that left an
    `exec` of a string (dataclasses', typing's and scipy's, run while modules import) as "unhandled", and a process
    started as `python -m ...` then kills itself with SIGINT at exit whatever code it exits with (-2 for the parent,
    not 130). An `exec` of a string resets that memory."""
    exec("")  # noqa: S102 - the empty program: it only resets the interpreter's unhandled-Ctrl-C flag
    raise SystemExit(code)
