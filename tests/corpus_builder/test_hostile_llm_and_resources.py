"""Hostile LLM servers, foreign caches and damaged resources for `corpus build` and `corpus doctor` (issue 32): one
row per case, run in-process through the real CLI against the real scripted server (tests/llm_server.py).

The same contract as test_hostile_corpus_commands.py: the exit code, a fragment of the message (in the last stderr
line for exit 1 and 2, which starts with `failed:` or `error:`, and exit 2 has exactly one error line), no traceback,
the `unchanged` files byte for byte as they were, and a command that fails leaves no new file in {tmp} (no cache,
no -wal or -shm, no output). A row's `env` is set for the command ({tmp} filled in) and makes WordNet load afresh,
without the real cache folder on NLTK's path; `patch` sets names of corpus_builder.llm for the command.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nltk
import pytest
from test_hostile_corpus_commands import Case as CorpusCase
from test_hostile_corpus_commands import both, corrupt_cache, files, immutable, labels, timed_run

import corpus_builder.llm
from corpus_builder.prompts import PROMPTS_DIR
from corpus_builder.resources import _SENSE_FILES, _WORDNET_FILES, cache_dir, debian_wordnet_dir, ensure_wordnet, load_spacy, wordnet
from llm_server import Fault, LLMServer, ScriptedLLM

RETRY_AFTER = 100_000  # seconds a hostile server asks to wait


@pytest.fixture(scope="module")
def server():
    state = ScriptedLLM()
    state.persistent.update({"trickling": "trickle", "never ending": "endless", "unauthorized": "401",
                             "slow down": Fault("429", retry_after=RETRY_AFTER)})
    with LLMServer(state) as s:
        yield s


# ------------------------------------------------------------------ setups


def app_database(name: str, wal: bool = False, answers: str | None = None) -> Callable[[Path], None]:
    """{tmp}/name: another application's SQLite database (in WAL mode with `wal`), or, with `answers`, one whose
    answers table has these columns."""
    def setup(tmp: Path) -> None:
        db = sqlite3.connect(tmp / name)
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        if answers:
            db.execute(f"CREATE TABLE answers ({answers})")
            db.execute("INSERT INTO answers VALUES (1, 'kept')")
        else:
            db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
            db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user INTEGER, total REAL)")
            db.execute("INSERT INTO users VALUES (1, 'alice')")
        db.commit()
        db.close()
    return setup


def fifo(name: str) -> Callable[[Path], Callable[[], None]]:
    """{tmp}/name: a FIFO whose writing end a thread opens and closes at once (a command that opened it would read an
    empty file and fail otherwise, not hang the test)."""
    def setup(tmp: Path) -> Callable[[], None]:
        path = tmp / name
        os.mkfifo(path)
        writer = threading.Thread(target=lambda: os.close(os.open(path, os.O_WRONLY)), daemon=True)
        writer.start()

        def release() -> None:
            if writer.is_alive():
                os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
            writer.join(5)
        return release
    return setup


def prompts_copy(tmp: Path) -> None:
    """{tmp}/prompts: a copy of the packaged prompt files, without entities.txt."""
    shutil.copytree(PROMPTS_DIR, tmp / "prompts")
    (tmp / "prompts" / "entities.txt").unlink()


def wordnet_copy(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """{tmp}/cache/nltk_data/corpora/wordnet: a copy of the WordNet folder the toolkit reads, damaged by `damage`."""
    def setup(tmp: Path) -> None:
        copy = tmp / "cache" / "nltk_data" / "corpora" / "wordnet"
        shutil.copytree(ensure_wordnet(), copy)
        damage(copy)
    return setup


def debian_copy(damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """{tmp}/debian: a copy of Debian's WordNet dict files (ALT_WORDNET_DIR), damaged by `damage`."""
    def setup(tmp: Path) -> None:
        (tmp / "debian").mkdir()
        for name in [*_WORDNET_FILES, *_SENSE_FILES]:
            shutil.copyfile(debian_wordnet_dir() / name, tmp / "debian" / name)
        damage(tmp / "debian")
    return setup


def random_bytes(name: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        middle = len(data) // 3
        data[middle:middle + 4096] = random.Random(0).randbytes(4096)
        (folder / name).write_bytes(bytes(data))
    return damage


def cut_in_half(name: str, at_line: bool = False) -> Callable[[Path], None]:
    """`name` cut at half its size (in the middle of a line, or, `at_line`, after the line there)."""
    def damage(folder: Path) -> None:
        data = (folder / name).read_bytes()
        half = len(data) // 2
        (folder / name).write_bytes(data[:data.index(b"\n", half) + 1] if at_line else data[:half])
    return damage


# ------------------------------------------------------------------ checks after a row


def said(*fragments: str) -> Callable[[Path, str, str], None]:
    """Each fragment is on stderr (rich may have wrapped it)."""
    def check(tmp: Path, out: str, err: str) -> None:
        for fragment in fragments:
            assert fragment in " ".join(err.split()), err
    return check


# ------------------------------------------------------------------ the table


@dataclass
class Case(CorpusCase):
    env: dict[str, str] = field(default_factory=dict)  # {tmp} filled in; WordNet loads afresh
    patch: dict[str, Any] = field(default_factory=dict)  # names in corpus_builder.llm


LLM = ["--llm-model", "test-model", "--llm-base-url", "{url}"]
BUILD = ["build", "-l", "{tmp}/labels.txt", "-o", "{tmp}/corpus.parquet", "--no-body-parts"]
CACHE = ["--llm-cache", "{tmp}/cache.sqlite"]
WORDNET = "cache/nltk_data/corpora/wordnet/"
OWN_CACHE = {"ALT_CACHE_DIR": "{tmp}/cache"}
NO_LLM = [*BUILD, "--no-llm"]

CASES = [
    # 1. the whole request is bounded by --llm-timeout, not each read
    Case("an answer trickled a byte a second ends at --llm-timeout", [*BUILD, *LLM, *CACHE, "--llm-timeout", "3", "--llm-retries", "0"],
         "trickling\n", 1, "LLM prompt(s) failed", check=said("APITimeoutError"), seconds=12),
    Case("a chunked answer that never ends ends at --llm-timeout, retried", [*BUILD, *LLM, *CACHE, "--llm-timeout", "2", "--llm-retries", "1"],
         "never ending\n", 1, "LLM prompt(s) failed after 1 retries", check=said("APITimeoutError"), seconds=15),
    # 2. a Retry-After of days is capped and counted against --llm-retries
    Case("429 with Retry-After: 100000 waits the cap, counted as a retry", [*BUILD, *LLM, *CACHE, "--llm-retries", "1"], "slow down\n", 1,
         "LLM prompt(s) failed after 1 retries", patch={"MAX_RETRY_AFTER": 1.0},
         check=said(f"asked to wait {RETRY_AFTER} s before retrying (Retry-After); waiting 1 s instead", "RateLimitError"), seconds=15),
    # 3. a --llm-cache that is not ours is refused, read without writing a byte
    Case("--llm-cache is another application's database", [*BUILD, *LLM, "--llm-cache", "{tmp}/app.sqlite"],
         both(labels("dancing\n"), app_database("app.sqlite")), 2, "a SQLite database of another application (it holds orders, users)",
         ["app.sqlite", "labels.txt"]),
    Case("--llm-cache is another application's WAL database", [*BUILD, *LLM, "--llm-cache", "{tmp}/app.sqlite"],
         both(labels("dancing\n"), app_database("app.sqlite", wal=True)), 2, "not an LLM cache", ["app.sqlite", "labels.txt"]),
    Case("--llm-cache with an answers table of another schema", [*BUILD, "--llm-offline", "--llm-model", "m", "--llm-cache", "{tmp}/app.sqlite"],
         both(labels("dancing\n"), app_database("app.sqlite", answers="id INTEGER, text TEXT")), 2,
         "its answers table has the columns (id, text), not an LLM cache's", ["app.sqlite", "labels.txt"]),
    Case("--llm-cache is a FIFO", [*BUILD, *LLM, *CACHE], both(labels("dancing\n"), fifo("cache.sqlite")), 2,
         "cache.sqlite: --llm-cache is a FIFO (named pipe), not a regular file", ["labels.txt"]),
    Case("--prompts: entities.txt a FIFO", [*BUILD, *LLM, *CACHE, "--prompts", "{tmp}/prompts"],
         both(labels("dancing\n"), prompts_copy, fifo("prompts/entities.txt")), 2,
         "entities.txt: prompt file is a FIFO (named pipe), not a regular file", ["labels.txt"]),
    Case("--prompts: entities.txt not UTF-8", [*BUILD, *LLM, *CACHE, "--prompts", "{tmp}/prompts"],
         both(labels("dancing\n"), prompts_copy, labels(b"{label} \xff\xfe", "prompts/entities.txt")), 2,
         "entities.txt: prompt file is not UTF-8 text (byte 8); save it as UTF-8", ["labels.txt"]),
    Case("--prompts: entities.txt of 1 MiB", [*BUILD, *LLM, *CACHE, "--prompts", "{tmp}/prompts"],
         both(labels("dancing\n"), prompts_copy, labels(b"{label}" + b" x" * (1 << 19), "prompts/entities.txt")), 2,
         "entities.txt: prompt file is larger than 64 KiB", ["labels.txt"]),
    Case("embed: CORPUS.PARQUET a FIFO", ["embed", "{tmp}/corpus.parquet", "-o", "{tmp}/corpus.pt"], fifo("corpus.parquet"), 2,
         "corpus.parquet: a corpus is a FIFO (named pipe), not a regular file"),
    Case("report: CORPUS.PARQUET a FIFO", ["report", "{tmp}/corpus.parquet", "-o", "{tmp}/report.html"], fifo("corpus.parquet"), 2,
         "corpus.parquet: a corpus is a FIFO (named pipe), not a regular file"),
    # 4. a build that fails writes nothing: no cache is created before an answer arrives, an existing one is only read
    Case("HTTP 401 leaves no cache beside --out", [*BUILD, *LLM], "unauthorized\n", 2, "answered HTTP 401", ["labels.txt"]),
    Case("--llm-offline without a cache leaves none beside --out", [*BUILD, "--llm-offline", "--llm-model", "m"], "dancing\n", 2,
         "not in the cache", ["labels.txt"]),
    Case("a corrupt cache is left as it was", [*BUILD, "--llm-offline", "--llm-model", "m", *CACHE],
         both(labels("dancing\n"), corrupt_cache), 2, "not a usable LLM cache", ["cache.sqlite", "labels.txt"]),
    Case("a prompt that fails after its retries leaves no cache beside --out",
         [*BUILD, "--llm-model", "m", "--llm-base-url", "http://127.0.0.1:9/v1", "--llm-retries", "0"], "dancing\n", 1,
         "LLM prompt(s) failed", ["labels.txt"]),
    # 5. damaged WordNet files: one line naming the file and the fix (build: exit 2, as a missing WordNet), doctor fails
    Case("build: random bytes in data.noun", NO_LLM, both(labels("dancing\n"), wordnet_copy(random_bytes("data.noun"))), 2,
         "data.noun: WordNet file damaged (bytes that are not UTF-8", ["labels.txt", WORDNET + "data.noun"], env=OWN_CACHE,
         check=said("and it is built again from")),
    Case("build: index.noun cut in half", NO_LLM, both(labels("dancing\n"), wordnet_copy(cut_in_half("index.noun"))), 2,
         "index.noun: WordNet file damaged (its last line is cut)", [WORDNET + "index.noun"], env=OWN_CACHE),
    Case("build: index.noun cut at a line in its middle", NO_LLM, both(labels("dancing\n"), wordnet_copy(cut_in_half("index.noun", True))),
         2, "synsets of data.noun are not in it", [WORDNET + "index.noun"], env=OWN_CACHE),
    Case("build: a data line moved by a lost byte", NO_LLM,
         both(labels("dancing\n"), wordnet_copy(lambda f: (f / "data.verb").write_bytes((f / "data.verb").read_bytes().replace(b" ", b"", 1)))),
         2, "data.verb: WordNet file damaged (the line at byte", [WORDNET + "data.verb"], env=OWN_CACHE),
    Case("build: a line of cntlist.rev without its count", NO_LLM,
         both(labels("dancing\n"), wordnet_copy(lambda f: (f / "cntlist.rev").write_bytes(b"eye%1:08:00:: 1 lots\n" + (f / "cntlist.rev").read_bytes()))),
         2, "cntlist.rev: WordNet file damaged (invalid literal for int()", [WORDNET + "cntlist.rev"], env=OWN_CACHE),
    Case("build: Debian's data.noun damaged: refused before WordNet's folder is built from it", NO_LLM,
         both(labels("dancing\n"), debian_copy(random_bytes("data.noun"))), 2,
         "debian/data.noun: WordNet file damaged (bytes that are not UTF-8", ["debian/data.noun"],
         env={"ALT_CACHE_DIR": "{tmp}/cache", "ALT_WORDNET_DIR": "{tmp}/debian"}, check=said("apt-get install --reinstall wordnet-base")),
    Case("doctor: random bytes in data.noun", ["doctor"], wordnet_copy(random_bytes("data.noun")), 1,
         "data.noun: WordNet file damaged", [WORDNET + "data.noun"], env=OWN_CACHE),
    Case("doctor: index.noun cut in half", ["doctor", "--quiet"], wordnet_copy(cut_in_half("index.noun")), 1,
         "index.noun: WordNet file damaged", [WORDNET + "index.noun"], env=OWN_CACHE),
    # 6. a cache folder that cannot hold WordNet's folder
    Case("build: ALT_CACHE_DIR is a regular file", NO_LLM, both(labels("dancing\n"), files(afile=b"mine\n")), 2,
         "ALT_CACHE_DIR {tmp}/afile: cannot build WordNet's folder there (it is a file, not a folder); set ALT_CACHE_DIR",
         ["afile", "labels.txt"], env={"ALT_CACHE_DIR": "{tmp}/afile"}),
    Case("doctor: ALT_CACHE_DIR is a regular file", ["doctor", "-q"], files(afile=b"mine\n"), 1, "ALT_CACHE_DIR {tmp}/afile", ["afile"],
         env={"ALT_CACHE_DIR": "{tmp}/afile"}),
    Case("build: ALT_CACHE_DIR in an immutable folder", NO_LLM, both(labels("dancing\n"), immutable("ro")), 2,
         "ALT_CACHE_DIR {tmp}/ro/cache: cannot build WordNet's folder there", ["labels.txt"], env={"ALT_CACHE_DIR": "{tmp}/ro/cache"}),
    Case("doctor: ALT_CACHE_DIR in an immutable folder", ["doctor"], immutable("ro"), 1, "ALT_CACHE_DIR {tmp}/ro/cache",
         env={"ALT_CACHE_DIR": "{tmp}/ro/cache"}),
]


def test_the_table_has_unique_names():
    assert len({c.name for c in CASES}) == len(CASES)


def fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def fresh_wordnet(monkeypatch, env: dict[str, str]) -> None:
    """WordNet loads afresh under `env`, without the real cache folder on NLTK's path (restored, and loaded again
    later, after the test)."""
    real = str(cache_dir() / "nltk_data")
    monkeypatch.setattr(nltk.data, "path", [p for p in nltk.data.path if p != real])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    wordnet.cache_clear()


def listing(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile(case: Case, run_cli, server, tmp_path, monkeypatch, request):
    cleanup = None
    if isinstance(case.setup, (bytes, str)):
        labels(case.setup)(tmp_path)
    elif case.setup is not None:
        cleanup = case.setup(tmp_path)
    values = {"{tmp}": str(tmp_path), "{url}": server.url}
    if case.env:
        request.addfinalizer(wordnet.cache_clear)
        fresh_wordnet(monkeypatch, {key: fill(value, values) for key, value in case.env.items()})
    else:  # loaded before the clock starts
        wordnet(), load_spacy()
    for name, value in case.patch.items():
        monkeypatch.setattr(corpus_builder.llm, name, value)
    before = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in case.unchanged}
    existing = listing(tmp_path)
    code, out, err, seconds = timed_run(run_cli, [fill(arg, values) for arg in case.args], cleanup)
    assert code == case.code, err
    assert "Traceback" not in err and "Traceback" not in out
    if code in (1, 2):
        lines = err.strip().splitlines()
        assert lines[-1].startswith("error: " if code == 2 else "failed: "), err
        assert fill(case.message, values) in lines[-1], err
        if code == 2:
            assert len([ln for ln in lines if ln.startswith("error")]) == 1, err
        assert listing(tmp_path) == existing, "a command that failed wrote something"
    for name, digest in before.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, f"{name} changed"
    if case.seconds is not None:
        assert seconds < case.seconds, seconds
    if case.check is not None:
        case.check(tmp_path, out, err)
