"""Hostile input for the `corpus` command (issue 22): one row per case, run in-process through the real CLI.

Each row: a name, the command's arguments ({tmp} is the test's folder, {url} the scripted LLM server,
{corpus} a small built corpus.parquet copied into {tmp}), a setup (bytes for {tmp}/labels.txt, or a
function of the folder that may return a cleanup), the exit code, a fragment of the message, and the
files that must come out byte-for-byte unchanged. Every row also checks: no traceback, a user-facing
error is the last line of stderr and starts with `error:` (exit 2) or `failed:` (exit 1), no terminal
escape reaches the output, and the strings in `forbid` appear in no output and no file written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow.parquet as pq
import pytest

from corpus_builder import read_corpus
from corpus_builder.build import build_corpus
from corpus_builder.corpus import MANIFEST_KEY, write_corpus
from corpus_builder.parse import MAX_ITEMS
from llm_server import LLMServer, ScriptedLLM, default_answer

HUGE = 15_000_000  # characters in the runaway answer


def hostile_answer(prompt: str) -> str:
    if "endless talk" in prompt:  # a server that ignores max_tokens
        return "Objects: " + ", ".join(["rope", "helmet", "glove", "ball"] * (HUGE // 22))
    if "listing everything" in prompt:  # thousands of distinct items in a short answer
        from corpus_builder.resources import wordnet

        nouns = [n for n in itertools.islice(wordnet().all_lemma_names("n"), 20_000) if n.isalpha()][::5]
        return "Objects: " + ", ".join(nouns[:2000])
    return default_answer(prompt)


@pytest.fixture(scope="module")
def server():
    state = ScriptedLLM(answer=hostile_answer)
    state.persistent.update({"serving html": "html", "serving json": "notchat"})
    with LLMServer(state) as s:
        yield s


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("built") / "corpus.parquet"
    write_corpus(build_corpus(["dancing", "playing guitar"], body_parts=False), path)
    return path


# ------------------------------------------------------------------ setups


def labels(text: bytes | str, name: str = "labels.txt") -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).write_bytes(text if isinstance(text, bytes) else text.encode())


def files(**contents: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for name, data in contents.items():
            (tmp / name.replace("__", ".")).write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def both(*setups: Callable[[Path], object]) -> Callable[[Path], Callable[[], None] | None]:
    def setup(tmp: Path):
        cleanups = [c for c in (s(tmp) for s in setups) if callable(c)]
        return (lambda: [c() for c in cleanups]) if cleanups else None
    return setup


def immutable(folder: str) -> Callable[[Path], Callable[[], None]]:
    """{tmp}/folder with the immutable flag (binds root too); skipped where the flag cannot be set."""
    def setup(tmp: Path):
        path = tmp / folder
        path.mkdir()
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available here (needs CAP_LINUX_IMMUTABLE and a filesystem that supports it)")
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    return setup


def bad_manifest(tmp: Path) -> None:
    table = pq.read_table(tmp / "corpus.parquet")
    pq.write_table(table.replace_schema_metadata({MANIFEST_KEY: b"{not json"}), tmp / "corpus.parquet")


def odd_manifest(tmp: Path) -> None:
    """JSON of the wrong shape: every section a number."""
    table = pq.read_table(tmp / "corpus.parquet")
    odd = {k: 5 for k in ("inputs", "llm", "wsd", "counts", "options", "llm_dropped", "created", "tool")}
    pq.write_table(table.replace_schema_metadata({MANIFEST_KEY: json.dumps(odd).encode()}), tmp / "corpus.parquet")


def huge_manifest(tmp: Path) -> None:
    table = pq.read_table(tmp / "corpus.parquet")
    blob = json.dumps({"padding": "x" * (17 << 20)}).encode()
    pq.write_table(table.replace_schema_metadata({MANIFEST_KEY: blob}), tmp / "corpus.parquet")


def corrupt_cache(tmp: Path) -> None:
    db = sqlite3.connect(tmp / "cache.sqlite")
    db.execute("CREATE TABLE answers (key TEXT PRIMARY KEY, model TEXT, messages TEXT, params TEXT,"
               " answer TEXT, usage TEXT, seconds REAL, created TEXT)")
    db.executemany("INSERT INTO answers VALUES (?, 'm', '[]', '{}', ?, '{}', 0, '')",
                   [(hashlib.sha256(str(i).encode()).hexdigest(), "x" * 500) for i in range(2000)])
    db.commit()
    db.close()
    data = bytearray((tmp / "cache.sqlite").read_bytes())
    data[4096 * 3: 4096 * 40] = b"\xa5" * (4096 * 37)  # B-tree pages, the header page intact
    (tmp / "cache.sqlite").write_bytes(bytes(data))


# ------------------------------------------------------------------ checks after a row


def entities_of(tmp: Path, label: str) -> list[str]:
    df = read_corpus(tmp / "corpus.parquet")
    return [u for u, ls in zip(df["unit"], df["labels"]) if label in ls]


def one_duplicate_line(tmp: Path, out: str, err: str) -> None:
    assert len([ln for ln in err.splitlines() if "duplicate" in ln]) == 1, err
    assert "9999 duplicate label(s) ignored ('dancing')" in err


def clean_entities(tmp: Path, out: str, err: str) -> None:
    df = read_corpus(tmp / "corpus.parquet")
    manifest = json.dumps(df.attrs["manifest"])
    assert df["labels"].explode().dropna().isin(["dancing", "playing guitar"]).all(), df["labels"]
    assert not any(ch in "".join(df["unit"]) + manifest for ch in "\x1b\x07\x9b\u202e")


def runaway_cut(tmp: Path, out: str, err: str) -> None:
    assert len(entities_of(tmp, "endless talk")) <= MAX_ITEMS
    cached = sqlite3.connect(tmp / "cache.sqlite").execute("SELECT MAX(LENGTH(answer)) FROM answers").fetchone()[0]
    assert cached <= 32_768  # the cut answer is what the cache keeps: a re-run does not meet it again


def many_items_cut(tmp: Path, out: str, err: str) -> None:
    assert len(entities_of(tmp, "listing everything")) <= MAX_ITEMS + 2  # and the label's own units ("listing")
    dropped = read_corpus(tmp / "corpus.parquet").attrs["manifest"]["llm_dropped"]
    assert any(d["reason"] == f"beyond {MAX_ITEMS} entities per answer" for d in dropped)


def host_only(tmp: Path, out: str, err: str) -> None:
    host = read_corpus(tmp / "corpus.parquet").attrs["manifest"]["llm"]["host"]
    assert host.startswith("127.0.0.1:") and "@" not in host


def timed_run(run_cli: Callable, args: list[str], cleanup: object) -> tuple[int, str, str, float]:
    """The command's (exit code, stdout, stderr) and its seconds; the row's setup cleanup (when callable) runs after it."""
    try:
        started = time.monotonic()
        code, out, err = run_cli(*args)
        return code, out, err, time.monotonic() - started
    finally:
        if callable(cleanup):
            cleanup()


# ------------------------------------------------------------------ the table


@dataclass
class Case:
    name: str
    args: list[str]
    setup: bytes | str | Callable[[Path], object] | None
    code: int
    message: str
    unchanged: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)  # in no output and no file under {tmp}
    check: Callable[[Path, str, str], None] | None = None
    seconds: float | None = None  # the command must end within this


LLM = ["--llm-model", "test-model", "--llm-base-url", "{url}"]
BUILD = ["build", "-l", "{tmp}/labels.txt", "-o", "{tmp}/corpus.parquet"]
FAST = ["--llm-retries", "1", "--llm-cache", "{tmp}/cache.sqlite"]
CREDENTIALS = "http://alice:PASSWORD123@{host}/v1"

CASES = [
    # 1. an output that is an input
    Case("build --out is the label file", ["build", "-l", "{tmp}/labels.txt", "-o", "{tmp}/labels.txt"], "dancing\n",
         2, "--out is also an input", ["labels.txt"]),
    Case("build --out is the second of several --labels",
         ["build", "-l", "{tmp}/a.txt", "-l", "{tmp}/b.txt", "-o", "{tmp}/b.txt"], files(a__txt="dancing\n", b__txt="archery\n"),
         2, "--out is also an input", ["a.txt", "b.txt"]),
    Case("build --out is the label file through another path", ["build", "-l", "{tmp}/labels.txt", "-o", "{tmp}/./sub/../labels.txt"],
         both(labels("dancing\n"), lambda tmp: (tmp / "sub").mkdir()), 2, "--out is also an input", ["labels.txt"]),
    Case("embed --out is the corpus", ["embed", "{corpus}", "--out", "{corpus}"], None, 2, "--out is also an input", ["corpus.parquet"]),
    Case("embed's .embeddings.parquet twin is the corpus", ["embed", "{tmp}/c.embeddings.parquet", "--out", "{tmp}/c.pt"],
         lambda tmp: shutil.copy(tmp / "corpus.parquet", tmp / "c.embeddings.parquet"), 2, "c.embeddings.parquet",
         ["c.embeddings.parquet"]),
    Case("embed --out is the --pretrained weights file", ["embed", "{corpus}", "--pretrained", "{tmp}/w.pt", "--out", "{tmp}/w.pt"],
         files(w__pt=b"weights"), 2, "--out is also an input", ["w.pt", "corpus.parquet"]),
    Case("report --out is the corpus", ["report", "{corpus}", "--out", "{corpus}"], None, 2, "--out is also an input", ["corpus.parquet"]),
    Case("report --out is its --corpus corpus.pt", ["report", "{corpus}", "--corpus", "{tmp}/e.pt", "--out", "{tmp}/e.pt"],
         files(e__pt=b"embeddings"), 2, "--out is also an input", ["e.pt", "corpus.parquet"]),
    Case("build --llm-cache is the label file", [*BUILD, *LLM, "--llm-cache", "{tmp}/labels.txt"], "dancing\n",
         2, "--llm-cache is also an input", ["labels.txt"]),
    Case("build --llm-cache is --out", [*BUILD, *LLM, "--llm-cache", "{tmp}/corpus.parquet"], both(labels("dancing\n"), files(corpus__parquet=b"old")),
         2, "--llm-cache is also --out", ["labels.txt", "corpus.parquet"]),
    # 2. unwritable outputs, found before the work
    Case("build --out in an immutable folder", ["build", "-l", "{tmp}/labels.txt", "-o", "{tmp}/ro/c.parquet"],
         both(labels("dancing\n"), immutable("ro")), 2, "cannot write in the --out folder", ["labels.txt"]),
    Case("build --out under a regular file", ["build", "-l", "{tmp}/labels.txt", "-o", "{tmp}/labels.txt/c.parquet"], "dancing\n",
         2, "--out folder is not a folder", ["labels.txt"]),
    Case("build --out in /proc", ["build", "-l", "{tmp}/labels.txt", "-o", "/proc/corpus.parquet"], "dancing\n",
         2, "cannot write in the --out folder", ["labels.txt"]),
    Case("build --llm-cache in an immutable folder", [*BUILD, *LLM, "--llm-cache", "{tmp}/ro/cache.sqlite"],
         both(labels("dancing\n"), immutable("ro")), 2, "cannot write in the --llm-cache folder", ["labels.txt"]),
    Case("build --llm-cache under a regular file", [*BUILD, *LLM, "--llm-cache", "{tmp}/labels.txt/cache.sqlite"], "dancing\n",
         2, "--llm-cache folder is not a folder", ["labels.txt"]),
    Case("build default cache beside --out in /proc", ["build", "-l", "{tmp}/labels.txt", "-o", "/proc/c.parquet", *LLM], "dancing\n",
         2, "cannot write in the --out folder", ["labels.txt"]),
    Case("report --out under a regular file", ["report", "{corpus}", "--out", "{corpus}/r.html"], None, 2, "--out folder is not a folder",
         ["corpus.parquet"]),
    Case("embed --out in an immutable folder", ["embed", "{corpus}", "--out", "{tmp}/ro/c.pt"], immutable("ro"), 2,
         "cannot write in the --out folder", ["corpus.parquet"]),
    # 4. credentials in URLs
    Case("user and password in --llm-base-url are never recorded or printed",
         [*BUILD, "--llm-model", "test-model", "--llm-base-url", CREDENTIALS, *FAST], "dancing\n", 0, "127.0.0.1:",
         forbid=["PASSWORD123", "alice"], check=host_only),
    Case("?api_key= in --llm-base-url is refused and not echoed",
         [*BUILD, "--llm-model", "test-model", "--llm-base-url", "http://alice:PASSWORD123@{host}/v1?api_key=SECRET456"], "dancing\n",
         2, "a query string or fragment (?...) is not supported", ["labels.txt"], forbid=["PASSWORD123", "SECRET456", "alice"]),
    Case("password in an unreachable --llm-base-url is not in the failure lines",
         [*BUILD, "--llm-model", "test-model", "--llm-base-url", "http://alice:PASSWORD123@127.0.0.1:9/v1",
          "--llm-retries", "0", "--llm-cache", "{tmp}/cache.sqlite"], "dancing\n", 1, "LLM prompt(s) failed",
         forbid=["PASSWORD123", "SECRET456", "alice"]),
    Case("password in a --llm-base-url that is refused is not echoed",
         [*BUILD, "--llm-model", "m", "--llm-base-url", "ftp://alice:PASSWORD123@host/v1"], "dancing\n", 2, "--llm-base-url",
         forbid=["PASSWORD123"]),
    # 5. unbounded input
    Case("--labels /dev/zero is refused unread", ["build", "-l", "/dev/zero", "-o", "{tmp}/corpus.parquet"], None, 2,
         "/dev/zero: label file is a device, not a regular file", seconds=30),
    Case("a 17 MiB label file", BUILD, b"dancing\n" * (17 << 17), 2, "larger than 16 MiB", ["labels.txt"]),
    Case("a 15 MB LLM answer is cut quickly, with a warning", [*BUILD, *LLM, *FAST, "--no-body-parts"], "endless talk\n", 0,
         "longer than 32768 characters and were cut", check=runaway_cut, seconds=120),
    Case("an answer of 2,000 items keeps 64 entities", [*BUILD, *LLM, *FAST, "--no-body-parts"], "listing everything\n", 0,
         f"more than {MAX_ITEMS} entities", check=many_items_cut, seconds=120),
    Case("a corpus manifest over 16 MiB", ["report", "{corpus}", "--out", "{tmp}/r.html"], huge_manifest, 2, "larger than 16 MiB",
         ["corpus.parquet"]),
    # 6. errors that were tracebacks
    Case("--llm-cache with corrupt pages", [*BUILD, "--llm-offline", "--llm-model", "m", "--llm-cache", "{tmp}/cache.sqlite"],
         both(labels("dancing\n"), corrupt_cache), 2, "not a usable LLM cache", ["labels.txt"]),
    Case("--llm-cache that is not SQLite", [*BUILD, *LLM, "--llm-cache", "{tmp}/cache.sqlite"],
         both(labels("dancing\n"), files(cache__sqlite=b"just text, not a database\n" * 100)), 2, "not a usable LLM cache",
         ["labels.txt", "cache.sqlite"]),
    Case("embed: the manifest is not JSON", ["embed", "{corpus}", "--out", "{tmp}/c.pt"], bad_manifest, 2, "manifest is not JSON",
         ["corpus.parquet"]),
    Case("report: the manifest is not JSON", ["report", "{corpus}", "--out", "{tmp}/r.html"], bad_manifest, 2, "manifest is not JSON",
         ["corpus.parquet"]),
    Case("explain: the manifest is not JSON", ["explain", "guitar", "--label", "playing guitar", "{corpus}"], bad_manifest, 2,
         "manifest is not JSON", ["corpus.parquet"]),
    Case("report: a JSON manifest of the wrong shape", ["report", "{corpus}", "--out", "{tmp}/r.html"], odd_manifest, 0, "report on",
         ["corpus.parquet"]),
    Case("explain: a JSON manifest of the wrong shape", ["explain", "guitar", "--label", "playing guitar", "{corpus}"], odd_manifest, 0,
         "dropped for 'playing guitar': none", ["corpus.parquet"]),
    Case("report on a file that is not Parquet", ["report", "{tmp}/c.parquet", "--out", "{tmp}/r.html"],
         files(c__parquet=b"PAR1 but not really"), 2, "not a readable Parquet corpus", ["c.parquet"]),
    Case("embed --template with attribute access", ["embed", "{corpus}", "--template", "{unit.__class__}", "--out", "{tmp}/c.pt"],
         None, 2, "bad --template", ["corpus.parquet"]),
    Case("embed --template with index access", ["embed", "{corpus}", "--template", "{unit[0]}", "--out", "{tmp}/c.pt"], None, 2,
         "bad --template", ["corpus.parquet"]),
    Case("embed --template with an unknown field", ["embed", "{corpus}", "--template", "{sense}", "--out", "{tmp}/c.pt"], None, 2,
         "bad --template", ["corpus.parquet"]),
    Case("the LLM server answers an HTML page", [*BUILD, *LLM, *FAST], "serving html\n", 1, "LLM prompt(s) failed",
         forbid=["'str' object"], check=lambda tmp, out, err: ("an HTML page, not a chat completion" in err) or pytest.fail(err)),
    Case("the LLM server answers JSON that is not a chat completion", [*BUILD, *LLM, *FAST], "serving json\n", 1, "LLM prompt(s) failed",
         check=lambda tmp, out, err: ("not a chat completion" in err) or pytest.fail(err)),
    # 7. wrong or missing words
    Case("--llm-base-url notaurl is refused at once", [*BUILD, "--llm-model", "m", "--llm-base-url", "notaurl"], "dancing\n", 2,
         "--llm-base-url 'notaurl' is not an http(s) URL", seconds=20),
    Case("--llm-base-url with a port that is not a number", [*BUILD, "--llm-model", "m", "--llm-base-url", "http://host:port/v1"],
         "dancing\n", 2, "is not an http(s) URL"),
    Case("10,000 duplicate labels: one summary warning", [*BUILD, "--no-llm", "--no-body-parts"], "dancing\n" * 10_000, 0, "entities",
         check=one_duplicate_line),
    Case("control characters and ANSI escapes in labels are removed", [*BUILD, "--no-llm", "--no-body-parts"],
         "\x1b[31mdancing\x1b[0m\x07\nplaying\u202e guitar\x1b]0;owned\x07\n", 0, "entities", check=clean_entities),
    # cases that hold today
    Case("missing label file", BUILD, None, 2, "label file not found"),
    Case("binary label file", BUILD, b"\x00\x01\x02dancing", 2, "looks binary", ["labels.txt"]),
    Case("empty label file", BUILD, b"", 2, "no labels found", ["labels.txt"]),
    Case("label file that is not UTF-8", BUILD, b"dancing\n\xff\xfe\n", 2, "labels.txt:2: not valid UTF-8", ["labels.txt"]),
    Case("label file that is a folder", ["build", "-l", "{tmp}", "-o", "{tmp}/c.parquet"], None, 2, "is a folder"),
    Case("CSV without a name column", ["build", "-l", "{tmp}/labels.csv", "-o", "{tmp}/c.parquet"], labels("id,title\n0,dancing\n", "labels.csv"),
         2, "CSV header has no 'name' column", ["labels.csv"]),
    Case("unknown --wsd", [*BUILD, "--wsd", "magic"], "dancing\n", 2, "Invalid value for '--wsd'", ["labels.txt"]),
    Case("missing --labels", ["build", "-o", "{tmp}/c.parquet"], None, 2, "Missing option '--labels'"),
    Case("--device banana", [*BUILD, "--device", "banana"], "dancing\n", 2, "--device banana: not a device name", ["labels.txt"]),
    Case("--llm-offline with an empty cache", [*BUILD, "--llm-offline", "--llm-model", "m", "--llm-cache", "{tmp}/cache.sqlite"],
         "dancing\n", 2, "not in the cache", ["labels.txt"]),
    Case("report with a corrupt corpus.pt", ["report", "{corpus}", "--corpus", "{tmp}/e.pt", "--out", "{tmp}/r.html"],
         files(e__pt=b"not a torch file"), 2, "not a corpus.pt", ["e.pt", "corpus.parquet"]),
    Case("report on a missing corpus", ["report", "{tmp}/none.parquet", "--out", "{tmp}/r.html"], None, 2, "corpus not found"),
    Case("embed a missing corpus", ["embed", "{tmp}/none.parquet", "--out", "{tmp}/c.pt"], None, 2, "corpus not found"),
    Case("explain with a corpus that is a folder", ["explain", "guitar", "--label", "playing guitar", "{tmp}/dir"],
         lambda tmp: (tmp / "dir").mkdir(), 2, "is a folder"),
]


def test_the_table_covers_enough_cases():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile(case: Case, run_cli, server, built, tmp_path):
    shutil.copy(built, tmp_path / "corpus.parquet")
    cleanup = None
    if isinstance(case.setup, (bytes, str)):
        labels(case.setup)(tmp_path)
    elif case.setup is not None:
        cleanup = case.setup(tmp_path)
    host = server.url.split("//")[1].split("/")[0]
    fill = {"{tmp}": str(tmp_path), "{url}": server.url, "{corpus}": str(tmp_path / "corpus.parquet"), "{host}": host}
    args = []
    for arg in case.args:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        args.append(arg.replace("{host}", host))
    before = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in case.unchanged}
    code, out, err, seconds = timed_run(run_cli, args, cleanup)
    assert code == case.code, err
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    if code in (1, 2):
        last = lines[-1]
        assert last.startswith("error: " if code == 2 else "failed: "), err
        if code == 2:
            assert len([ln for ln in lines if ln.startswith("error")]) == 1, err
    assert case.message in (err if code else out + err), (out, err)
    assert not any(c in out + err for c in "\x1b\x07\x9b")  # no terminal escape from the input reaches the output
    for name, digest in before.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, f"{name} changed"
    for secret in case.forbid:
        assert secret not in out + err
        for path in tmp_path.rglob("*"):
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path
    if case.seconds is not None:
        assert seconds < case.seconds
    if case.check is not None:
        case.check(tmp_path, out, err)
