"""The LLM stage's client (supplementary B): any OpenAI-compatible chat-completions endpoint.

One `LLM` object asks many prompts at once through a bounded pool of worker threads. Every answer
is stored in a SQLite cache as soon as it arrives, keyed by the SHA-256 of (model, messages,
parameters), so a rebuild replays with no network, `offline=True` turns a miss into an error, and a
crash or Ctrl-C loses nothing already received. `LLM.close()` (or the end of a `with LLM(...)` block)
checkpoints the cache's write-ahead log, so the .sqlite file alone then holds every answer and can be
copied elsewhere and replayed. The first Ctrl-C lets the requests in flight finish (their answers are
cached) and sends no more; a second one stops at once. The timeout bounds each request as a whole (an answer
still arriving at its deadline is abandoned: `_Deadline`). Timeouts, dropped connections, malformed responses, 429
(honouring Retry-After up to MAX_RETRY_AFTER) and 5xx are retried with exponential backoff and jitter; any other 4xx
stops the build at once with a message saying what to fix. The API key comes from OPENAI_API_KEY and is never
written anywhere.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import queue
import random
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai

from alt_common.errors import Failed
from alt_common.io import NO_SPACE, check_regular
from alt_common.progress import step

from .errors import CorpusError

log = logging.getLogger(__name__)
_RETRYABLE = (
    openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError,
    openai.APIResponseValidationError, ValueError,  # ValueError: a body that is not JSON or not a chat completion
)
MAX_ANSWER_CHARS = 32_768  # an answer is a short list: a server that ignores max_tokens is cut here
MAX_RETRY_AFTER = 60.0  # seconds: the longest Retry-After obeyed (a longer one is cut to this, with a warning)


def redact_url(url: str | None) -> str:
    """`url` fit to record or print: no user name or password, no query string or fragment (where
    `?key=` secrets go)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def check_base_url(url: str, flag: str = "--llm-base-url") -> str:
    """`url` if it is an http(s) URL with a host; else a UserError naming `flag`, before any request."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        ok = False
    shown = redact_url(url) if ok else ("<a URL with a password>" if "@" in url else url)
    if not ok:
        raise CorpusError(f"{flag} {shown!r} is not an http(s) URL with a host; pass e.g. http://127.0.0.1:8080/v1")
    if parts.query or parts.fragment:  # the client would append its paths after them
        raise CorpusError(f"{flag} {shown!r}: a query string or fragment (?...) is not supported; pass the key in "
                          "$OPENAI_API_KEY and a URL such as http://127.0.0.1:8080/v1")
    return url


def _answer_text(response: Any) -> str:
    """The text of a chat completion; ValueError (retried) for anything else the server sent."""
    try:
        answer = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        kind = "an HTML page" if isinstance(response, str) and "<" in response[:200] else f"a {type(response).__name__}"
        raise ValueError(f"the server answered {kind}, not a chat completion; check --llm-base-url (it ends in /v1)") from None
    if answer is None:
        raise ValueError("the answer had no content")
    if not isinstance(answer, str):
        raise ValueError(f"the answer's content is a {type(answer).__name__}, not text")
    return answer


def _usage(response: Any) -> dict[str, Any]:
    try:
        usage = response.usage.model_dump() if response.usage else {}
    except AttributeError:
        return {}
    return {k: v for k, v in usage.items() if isinstance(v, (int, float, type(None)))}


class _Deadline(httpx2.SyncByteStream):
    """A response body that ends in httpx2.ReadTimeout (openai's APITimeoutError, retried) once its request's deadline
    has passed: httpx's timeouts bound each read, so a server that trickles its answer a byte at a time, or sends a
    chunked body that never ends, would otherwise hold a request forever."""

    def __init__(self, body: httpx2.SyncByteStream, deadline: float, seconds: float):
        self._body, self._deadline, self._seconds = body, deadline, seconds

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            if time.monotonic() > self._deadline:
                raise httpx2.ReadTimeout(f"the answer took longer than --llm-timeout {self._seconds:g} s")
            yield chunk

    def close(self) -> None:
        self._body.close()


def _deadline_client(seconds: float) -> httpx2.Client:
    """openai's default HTTP client (environment proxies and all), with every request bounded as a whole by `seconds`
    (`_Deadline`), not only each read: its deadline is set as it is sent and checked as each chunk of the answer arrives."""

    def start(request: httpx2.Request) -> None:
        request.extensions["alt_deadline"] = time.monotonic() + seconds

    def bound(response: httpx2.Response) -> None:
        response.stream = _Deadline(response.stream, response.request.extensions["alt_deadline"], seconds)

    return openai.DefaultHttpxClient(event_hooks={"request": [start], "response": [bound]})


@dataclass(frozen=True)
class LLMConfig:
    """How to reach the model and how hard to try."""

    model: str
    base_url: str | None = None  # None: only the cache can answer (offline replay)
    temperature: float = 0.0
    max_tokens: int = 256
    frequency_penalty: float = 0.0  # >0 discourages a small model's loops ("ice cream truck, ice cream truck, ...")
    timeout: float | None = 60.0  # seconds per request, the whole of it; None: no limit (a local server on a CPU)
    concurrency: int = 8
    retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time, with jitter
    max_backoff: float = 60.0
    offline: bool = False
    system: str | None = None  # optional system message
    backend: str = "openai-compatible"  # what serves the model, for the manifest
    weights: dict[str, str] | None = None  # where a locally served model came from (GGUF path, SHA-256)

    def params(self) -> dict[str, Any]:
        """The request parameters that change an answer (part of the cache key; a zero penalty is not sent)."""
        penalty = {"frequency_penalty": self.frequency_penalty} if self.frequency_penalty else {}
        return {"temperature": self.temperature, "max_tokens": self.max_tokens} | penalty


@dataclass
class LLMStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cut_answers: int = 0  # answers longer than MAX_ANSWER_CHARS, kept only up to it
    failures: list[dict[str, str]] = field(default_factory=list)


_COLUMNS = ("key", "model", "messages", "params", "answer", "usage", "seconds", "created")  # the answers table, in order
_OURS = ("answers", "sqlite_autoindex_answers_1")  # what the schema creates: the table and its primary key's index
_SCHEMA = ("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT, messages TEXT, params TEXT, answer TEXT,"
           " usage TEXT, seconds REAL, created TEXT)")


class LLMCache:
    """SQLite store of every answer: safe across threads, committed per answer. It runs in WAL mode
    (answers are committed as they arrive, with no fsync of the whole file each time); `close`
    checkpoints the log into the file and empties it, so the closed cache is one self-contained file.

    Nothing is written before the first answer arrives: the file is created then (a command that
    fails before it leaves no cache behind), and an existing file is read, never changed, until then.
    An existing file that is not an LLM cache (another application's database, an `answers` table of
    another schema) is refused when the cache is opened, after a read that writes nothing."""

    def __init__(self, path: str | Path):
        self.path = check_regular(path, "--llm-cache", "pass a cache file (or a new file name) to --llm-cache")  # never a FIFO
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._writable = False
        self._closed = False
        self._filled = self._check_ours()  # whether the file holds an answers table to read

    def _check_ours(self) -> bool:
        """Whether the file is an LLM cache (False: no file or an empty database); CorpusError for any other file, read
        without writing a byte: in SQLite's `immutable` mode where no write-ahead log lies beside it (a read-only open of
        a WAL database leaves -wal and -shm files behind), in read-only mode where one does."""
        try:
            if self.path.stat().st_size == 0:
                return False  # an empty file is an empty database
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._unusable(exc) from None
        mode = "ro" if Path(f"{self.path}-wal").exists() else "ro&immutable=1"
        try:
            db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode={mode}", uri=True)
            try:
                names = sorted(name for (name,) in db.execute("SELECT name FROM sqlite_master"))  # tables, indexes, views...
                columns = tuple(row[1] for row in db.execute("PRAGMA table_info(answers)"))
                if columns == _COLUMNS:  # the first answers' pages: most damage shows here, before any work
                    db.execute("SELECT key, answer FROM answers LIMIT 1").fetchall()
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None
        foreign = [name for name in names if name not in _OURS]
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise CorpusError(f"{self.path}: a SQLite database of another application (it holds {shown}), not an LLM cache; "
                              "it was left as it is: pass another --llm-cache")
        if names and columns != _COLUMNS:
            raise CorpusError(f"{self.path}: its answers table has the columns ({', '.join(columns)}), not an LLM cache's; "
                              "it was left as it is: pass another --llm-cache")
        return bool(names)

    def _reader(self) -> sqlite3.Connection | None:
        """The connection (under the lock), opened on first use without writing anything; None while there is no
        answer to read."""
        if self._closed:
            raise RuntimeError(f"{self.path}: the LLM cache is closed")
        if self._db is None and self._filled:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        return self._db

    def _writer(self) -> sqlite3.Connection:
        """The connection (under the lock), ready to write: the file and its folder created, WAL mode, the table. A file it
        creates is removed again where these first writes fail (a full disk): a failed command leaves no cache."""
        created = self._db is None and not self.path.exists()
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CorpusError(f"{self.path}: cannot create the --llm-cache folder ({exc.strerror}); "
                                  "choose another --llm-cache") from None
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        if not self._writable:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(_SCHEMA)
                self._db.commit()
            except sqlite3.DatabaseError:
                if created:
                    self._db.close()
                    self._db = None
                    for path in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                        path.unlink(missing_ok=True)
                raise
            self._writable = True
        return self._db

    def _unusable(self, exc: Exception) -> CorpusError | Failed:
        """CorpusError naming a cache SQLite cannot use; on a full disk (SQLite's "database or disk is full", a shared-memory
        index that cannot grow, or the cache's filesystem now full) the `failed: no space left on device writing PATH` of
        every writer (`alt_common.io.writing`): the answers committed before stay."""
        full = getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR_SHMSIZE)
        if full or _filesystem_full(self.path.parent):
            return Failed(f"{NO_SPACE[errno.ENOSPC]} writing {self.path}")
        return CorpusError(f"{self.path}: not a usable LLM cache ({exc}); delete it or pass another --llm-cache")

    def get(self, key: str) -> str | None:
        try:
            with self._lock:
                db = self._reader()
                row = db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone() if db is not None else None
        except sqlite3.DatabaseError as exc:  # corrupt pages show only when they are read
            raise self._unusable(exc) from None
        return row[0] if row and isinstance(row[0], str) else None

    def put(self, key: str, model: str, messages: list, params: dict, answer: str, usage: dict, seconds: float) -> None:
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            with self._lock:
                if self._closed:  # a request abandoned by a second Ctrl-C answered late
                    return
                db = self._writer()
                try:
                    db.execute(
                        "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, model, json.dumps(messages), json.dumps(params), answer, json.dumps(usage), seconds, created),
                    )
                    db.commit()
                except sqlite3.DatabaseError:
                    _roll_back(db)  # the answers committed before stay: the cache is left consistent
                    raise
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    def __len__(self) -> int:
        try:
            with self._lock:
                db = self._reader()
                return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] if db is not None else 0
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    def close(self) -> None:
        """Checkpoint the write-ahead log into the file, empty it, close; idempotent. (Another process
        reading the cache at this moment can keep part of the log until it closes in turn.)"""
        with self._lock:
            self._closed = True
            if self._db is None:
                return
            db, self._db = self._db, None
            try:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.DatabaseError as exc:  # busy or damaged: closing still checkpoints what it can
                log.debug("%s: checkpoint at close failed: %s", self.path, exc)
            finally:
                db.close()


def _filesystem_full(folder: Path) -> bool:
    """Whether `folder`'s filesystem has no block left (SQLite's I/O errors keep no errno; `alt_common.io.writing` asks the same)."""
    try:
        fs = os.statvfs(folder)
    except OSError:
        return False
    return fs.f_blocks > 0 and fs.f_bavail == 0


def _roll_back(db: sqlite3.Connection) -> None:
    """End a write that failed (SQLite may leave its transaction open): what it wrote is dropped."""
    try:
        if db.in_transaction:
            db.rollback()
    except sqlite3.Error:
        pass


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """SHA-256 of (model, messages, parameters): the identity of one request."""
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def retry_after(exc: Exception) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or an HTTP date), if it said."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class LLM:
    """Ask many prompts of one model, through the cache, concurrently, with retries."""

    def __init__(self, config: LLMConfig, cache: str | Path):
        if config.base_url is None and not config.offline:
            raise CorpusError("no LLM endpoint: pass --llm-base-url URL (or --llm-offline to replay the cache)")
        self.config = config
        self.cache = LLMCache(cache)
        self.stats = LLMStats()
        self._stats_lock = threading.Lock()
        self._fatal: CorpusError | None = None  # set by a 4xx: the prompts not yet sent are not sent
        self._in_flight = 0  # prompts a worker is asking now (for the Ctrl-C message)
        self._last_error = ""  # the last error retried, for the progress line
        self._capped_wait = threading.Event()  # set once a Retry-After was cut to MAX_RETRY_AFTER (warned once)
        self._client = None
        if config.base_url is not None:
            self._client = openai.OpenAI(
                base_url=config.base_url,
                api_key=os.environ.get("OPENAI_API_KEY") or "no-key",  # local servers need none
                timeout=config.timeout,
                max_retries=0,  # we retry ourselves, with the cache in between
                http_client=_deadline_client(config.timeout) if config.timeout else None,
            )

    def close(self) -> None:
        """Close the cache (its .sqlite file then holds every answer, no -wal beside it) and the client."""
        self.cache.close()
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> "LLM":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def messages(self, prompt: str) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.config.system}] if self.config.system else []
        return system + [{"role": "user", "content": prompt}]

    def key(self, prompt: str) -> str:
        """The cache key of a prompt as this LLM would send it."""
        return cache_key(self.config.model, self.messages(prompt), self.config.params())

    def _count(self, **deltas: int) -> None:
        with self._stats_lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _request(self, prompt: str, stop: threading.Event) -> str:
        """One prompt to the server, retried (not once `stop` is set); stored in the cache before it is returned."""
        cfg = self.config
        messages = self.messages(prompt)
        attempt = 0
        while True:
            if self._fatal is not None:
                raise self._fatal
            started = time.perf_counter()
            try:
                self._count(calls=1)
                response = self._client.chat.completions.create(
                    model=cfg.model, messages=messages, **cfg.params()
                )
                answer = self._cut(_answer_text(response), prompt)
            except openai.APIStatusError as exc:
                if not isinstance(exc, _RETRYABLE):
                    self._fatal = CorpusError(self._redact(
                        f"{self.host} answered HTTP {exc.status_code} for model {cfg.model!r}: {exc.message}; "
                        "check --llm-base-url, --llm-model and OPENAI_API_KEY"
                    ))
                    raise self._fatal from None
                error: Exception = exc
            except _RETRYABLE as exc:
                error = exc
            else:
                usage = _usage(response)
                self._count(prompt_tokens=usage.get("prompt_tokens") or 0, completion_tokens=usage.get("completion_tokens") or 0)
                self.cache.put(self.key(prompt), cfg.model, messages, cfg.params(), answer, usage, time.perf_counter() - started)
                return answer
            if attempt == cfg.retries or stop.is_set():
                raise error
            wait = self._retry_wait(error, attempt)
            self._count(retries=1)
            self._last_error = self._redact(f"{type(error).__name__}: {error}")[:100]
            log.debug("retrying after %s (%.2fs): %s", type(error).__name__, wait, prompt[:60])
            if stop.wait(wait):  # Ctrl-C: no more attempts
                raise error
            attempt += 1

    def _retry_wait(self, error: Exception, attempt: int) -> float:
        """Seconds before retrying after `error`: the server's Retry-After, at most MAX_RETRY_AFTER (saying so, once:
        a server asking for hours would stall the build, and the retry counts against --llm-retries all the same),
        else exponential backoff with jitter."""
        cfg = self.config
        asked = retry_after(error)
        if asked is None:
            return min(cfg.max_backoff, cfg.backoff * 2**attempt) * random.uniform(0.5, 1.0)
        if asked > MAX_RETRY_AFTER and not self._capped_wait.is_set():
            self._capped_wait.set()
            log.warning("%s asked to wait %.0f s before retrying (Retry-After); waiting %.0f s instead, each wait counted "
                        "as one of the %d --llm-retries", self.host, asked, MAX_RETRY_AFTER, cfg.retries)
        return min(asked, MAX_RETRY_AFTER)

    def _cut(self, answer: str, prompt: str) -> str:
        """The answer, cut at MAX_ANSWER_CHARS (with a warning) so a runaway server cannot flood the build."""
        if len(answer) <= MAX_ANSWER_CHARS:
            return answer
        self._count(cut_answers=1)
        log.warning("LLM answer to %r was %d characters; kept the first %d", prompt[:60], len(answer), MAX_ANSWER_CHARS)
        return answer[:MAX_ANSWER_CHARS]

    @property
    def host(self) -> str:
        """Where the model is, fit to record and print: host and port only (never a user name or password)."""
        if not self.config.base_url:
            return "cache"
        try:
            parts = urlsplit(self.config.base_url)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            return "<unparsable URL>"
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{port}" if port else host

    def ask_many(self, prompts: list[str], what: str = "LLM", show_progress: bool = False) -> dict[str, str | None]:
        """Answers for every prompt (None for one that failed after its retries, recorded in stats).

        Progress: a bar with `show_progress`, else lines on the log (`alt_common.progress`). On Ctrl-C
        no request is sent or retried any more; the ones in flight end first (their answers are
        cached), after a warning saying so, unless a second Ctrl-C stops the wait."""
        cfg = self.config
        unique = list(dict.fromkeys(prompts))
        answers: dict[str, str | None] = {}
        missing = []
        for prompt in unique:
            cached = self.cache.get(self.key(prompt))
            if cached is None:
                missing.append(prompt)
            else:
                answers[prompt] = self._cut(cached, prompt)  # a cache filled before the cap was kept
        self._count(cache_hits=len(unique) - len(missing))
        if missing and cfg.offline:
            shown = "; ".join(repr(p) for p in missing[:3])
            raise CorpusError(
                f"--llm-offline: {len(missing)} prompt(s) of model {cfg.model!r} are not in the cache {self.cache.path} "
                f"(e.g. {shown}); run once with --llm-base-url to fill it"
            )
        if not missing:
            return answers
        todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        for prompt in missing:
            todo.put(prompt)
        done: queue.Queue[tuple[str, str | None, BaseException | None]] = queue.Queue()
        stop = threading.Event()
        # Daemon threads, not a ThreadPoolExecutor: Python joins an executor's threads at exit, so a
        # second Ctrl-C could not stop a command whose requests are still waiting on the server.
        workers = [threading.Thread(target=self._work, args=(todo, done, stop), name=f"llm-{i}", daemon=True)
                   for i in range(min(max(1, cfg.concurrency), len(missing)))]
        retries, failures = self.stats.retries, len(self.stats.failures)

        def detail() -> str:
            failed, retried = len(self.stats.failures) - failures, self.stats.retries - retries
            shown = [f"{failed} failed"] if failed else []
            if retried:
                last = f" (last: {self._last_error})" if self._last_error else ""
                shown.append(f"{retried} {'retry' if retried == 1 else 'retries'}{last}")
            return ", ".join(shown)

        try:
            with step(f"{what} ({self.host})", len(missing), unit="prompts answered", detail=detail, bar=show_progress) as progress:
                try:
                    for worker in workers:
                        worker.start()
                    for _ in missing:
                        prompt, answer, error = done.get()
                        if isinstance(error, (CorpusError, Failed)):  # a bad cache, a full disk: the build stops
                            raise error
                        if error is not None:  # every other failure is recorded, never dropped
                            answers[prompt] = None
                            with self._stats_lock:
                                self.stats.failures.append({"prompt": prompt, "error": self._redact(f"{type(error).__name__}: {error}")})
                        else:
                            answers[prompt] = answer
                            progress.advance()
                except KeyboardInterrupt:
                    self._finish(workers, stop)
                    raise
                except (CorpusError, Failed):
                    stop.set()
                    for worker in workers:
                        worker.join()
                    raise
        finally:
            stop.set()
        return answers

    def _work(self, todo: queue.SimpleQueue, done: queue.Queue, stop: threading.Event) -> None:
        """A worker: ask the prompts in `todo` one at a time until none is left or `stop` is set."""
        while not stop.is_set():
            try:
                prompt = todo.get_nowait()
            except queue.Empty:
                return
            with self._stats_lock:
                self._in_flight += 1
            try:
                result: tuple[str, str | None, BaseException | None] = (prompt, self._request(prompt, stop), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which records it
                result = (prompt, None, exc)
            finally:
                with self._stats_lock:
                    self._in_flight -= 1
            done.put(result)

    def _finish(self, workers: list[threading.Thread], stop: threading.Event) -> None:
        """After a first Ctrl-C: send nothing more, let the requests in flight end (each answer is cached
        as it comes), saying so; a second Ctrl-C raises out of here at once and leaves them behind."""
        stop.set()
        busy = self._in_flight
        if busy:
            log.warning("interrupted: finishing %d request%s in flight (answers are cached); Ctrl-C again to stop now",
                        busy, "" if busy == 1 else "s")
        for worker in workers:
            while worker.is_alive():
                worker.join(0.5)

    def _redact(self, text: str) -> str:
        """An error text without the base URL's credentials or query string, one line, at most 300 characters."""
        url = self.config.base_url
        if url:
            text = text.replace(url, redact_url(url))
            parts = urlsplit(url)
            for secret in (parts.password, parts.username, parts.query):
                if secret:
                    text = text.replace(secret, "***")
        return " ".join(text.split())[:300]

    def manifest(self) -> dict[str, Any]:
        """What the corpus manifest records of the LLM (never the key)."""
        cfg = self.config
        return {
            "backend": cfg.backend,
            "weights": cfg.weights,
            "host": self.host,
            "model": cfg.model,
            "params": cfg.params(),
            "timeout": cfg.timeout,  # seconds per request; None: no limit
            "system": cfg.system,
            "offline": cfg.offline,
            "cache": str(self.cache.path),
            **asdict(self.stats),
            "failures": len(self.stats.failures),
            "failed_prompts": [f["prompt"] for f in self.stats.failures],
        }
