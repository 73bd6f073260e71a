"""Progress of long steps: a rich bar where stderr is a terminal; elsewhere (a log file, CI, a pipe)
a plain line on the `alt_common.progress` logger at least every `INTERVAL` seconds, so that no long
step is silent: "Entities (127.0.0.1:8080): 120/530 prompts answered, 3 retries, 47 s".

`step(description, total)` is a context manager yielding a `Step` to `advance`. With `bar=True`
(stderr is a terminal) it shows a transient rich bar where `total` is known, nothing otherwise, and
logs no line. With `bar=False` it logs lines: from a timer thread, so a line comes while the
command waits on something that does not move (a server that does not answer, a model loading), and
on `advance` when one is due. Steps nest: the line names the innermost step running, so an outer
step (a whole corpus build, with a `status` saying what it is doing) keeps lines coming between its
inner steps, and a step that logged a line logs a last one when it ends. Commands route the logger
to stderr (`alt_common.entry.setup_logging`); a library caller who configures no logging sees
nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

INTERVAL = 10.0  # seconds between two lines, at most (tests lower it)
MIN_WAIT = 0.05  # the timer thread never wakes more often than this

log = logging.getLogger(__name__)
_lock = threading.Lock()
_stack: list["Step"] = []  # the steps logging lines, outermost first
_last = 0.0  # time.monotonic() of the last line
_timer: tuple[threading.Thread, threading.Event] | None = None


class Step:
    """One step in progress: `done` of `total` `unit` (total None: unknown), an optional `detail`
    callable (", 3 retries") and a `status` an outer step sets to say what it is doing now."""

    def __init__(self, description: str, total: int | None = None, unit: str = "",
                 detail: Callable[[], str] | None = None, advance_bar: Callable[[int], None] | None = None):
        self.description = description
        self.total = total
        self.unit = unit
        self.detail = detail
        self.status = ""
        self.done = 0
        self.lines = 0  # lines logged about this step
        self.started = time.monotonic()
        self._advance_bar = advance_bar

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._advance_bar is not None:
            self._advance_bar(n)
        else:
            _log_if_due()

    def line(self, final: bool = False) -> str:
        """"Entities (127.0.0.1:8080): 120/530 prompts answered, 3 retries, 47 s"."""
        parts = []
        if self.total is not None:
            parts.append(f"{self.done}/{self.total} {self.unit}".rstrip())
        elif self.done:
            parts.append(f"{self.done} {self.unit}".rstrip())
        detail = self.detail() if self.detail is not None else ""
        if detail:
            parts.append(detail)
        elapsed = time.monotonic() - self.started
        parts.append(f"done in {elapsed:.0f} s" if final else f"{elapsed:.0f} s")
        status = f" ({self.status})" if self.status and not final else ""
        return f"{self.description}{status}: {', '.join(parts)}"


@contextmanager
def step(description: str, total: int | None = None, *, unit: str = "", detail: Callable[[], str] | None = None,
         bar: bool = False) -> Iterator[Step]:
    """A `Step` for the block: a rich bar (`bar=True`, where `total` is known) or lines on the log."""
    if bar:
        if total is None:  # nothing to draw; and rich allows one live display at a time, an inner bar's
            yield Step(description, total, unit, detail, advance_bar=lambda n: None)
            return
        from rich.progress import Progress

        with Progress(transient=True) as progress:
            task = progress.add_task(description, total=total)
            yield Step(description, total, unit, detail, advance_bar=lambda n: progress.advance(task, n))
        return
    current = Step(description, total, unit, detail)
    _push(current)
    ended = False
    try:
        yield current
        ended = True
    finally:
        _pop(current, ended)


def _push(current: Step) -> None:
    global _last, _timer
    with _lock:
        if not _stack:
            _last = time.monotonic()
        _stack.append(current)
        if _timer is None:
            stop = threading.Event()
            thread = threading.Thread(target=_tick, args=(stop,), name="progress-lines", daemon=True)
            _timer = (thread, stop)
            thread.start()


def _pop(current: Step, ended: bool) -> None:
    global _last, _timer
    with _lock:
        if current in _stack:
            _stack.remove(current)
        final = ended and current.lines > 0
        if final:
            _last = time.monotonic()
        if not _stack and _timer is not None:
            _timer[1].set()
            _timer = None
    if final:
        log.info(current.line(final=True))


def _log_if_due() -> None:
    """Log the innermost step's line if INTERVAL has passed since the last line."""
    global _last
    with _lock:
        now = time.monotonic()
        if not _stack or now - _last < INTERVAL:
            return
        _last = now
        current = _stack[-1]
        current.lines += 1
    try:
        text = current.line()
    except Exception as exc:  # noqa: BLE001 - a detail that fails must not stop the step
        text = f"{current.description}: {type(exc).__name__} while reporting progress"
    log.info(text)


def _tick(stop: threading.Event) -> None:
    while True:
        with _lock:
            wait = max(MIN_WAIT, _last + INTERVAL - time.monotonic())
        if stop.wait(wait):
            return
        _log_if_due()
