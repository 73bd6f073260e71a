"""The LLM client against a real local HTTP server (tests/llm_server.py) through the real openai client."""

import hashlib
import json
import logging
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from alt_common import progress
from corpus_builder import read_corpus
from corpus_builder.errors import CorpusError
from corpus_builder.llm import LLM, LLMConfig, cache_key
from llm_server import LLMServer, ScriptedLLM, default_answer

PROMPTS = [f"Concisely explain thing number {i} in one sentence" for i in range(6)]


@pytest.fixture
def server():
    with LLMServer() as s:
        yield s


def make_llm(server, tmp_path, **options) -> LLM:
    config = dict(model="test-model", base_url=server.url, backoff=0.01, timeout=5.0, concurrency=4) | options
    return LLM(LLMConfig(**config), tmp_path / "cache.sqlite")


def test_answers_are_cached_and_replayed_offline_with_no_request(server, tmp_path):
    llm = make_llm(server, tmp_path)
    answers = llm.ask_many(PROMPTS)
    assert len(server.state.requests) == 6 and llm.stats.calls == 6 and llm.stats.cache_hits == 0
    assert answers[PROMPTS[0]].startswith("A concrete thing")
    assert llm.stats.prompt_tokens == sum(len(p.split()) for p in PROMPTS)
    again = make_llm(server, tmp_path).ask_many(PROMPTS)
    assert again == answers and len(server.state.requests) == 6
    offline = LLM(LLMConfig(model="test-model", offline=True), tmp_path / "cache.sqlite")
    assert offline.ask_many(PROMPTS) == answers and offline.stats.cache_hits == 6
    assert len(server.state.requests) == 6


def test_requests_carry_the_papers_parameters(server, tmp_path):
    make_llm(server, tmp_path, system="Be brief.").ask_many(PROMPTS[:1])
    request = server.state.requests[0]
    assert request["model"] == "test-model" and request["temperature"] == 0.0
    assert request["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPTS[0]}]


def test_cache_key_is_sha256_of_model_messages_params(server, tmp_path):
    llm = make_llm(server, tmp_path)
    started = time.perf_counter()
    llm.ask_many(PROMPTS[:1])
    elapsed = time.perf_counter() - started
    messages = [{"role": "user", "content": PROMPTS[0]}]
    blob = json.dumps({"model": "test-model", "messages": messages, "params": {"temperature": 0.0, "max_tokens": 256}},
                      sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(blob.encode()).hexdigest()
    assert cache_key("test-model", messages, llm.config.params()) == key
    row = sqlite3.connect(tmp_path / "cache.sqlite").execute("SELECT model, answer, usage, seconds FROM answers WHERE key = ?", (key,)).fetchone()
    assert row[0] == "test-model" and row[1].startswith("A concrete thing")
    usage = json.loads(row[2])  # what the server reported (tests/llm_server.py counts words)
    prompt_words, answer_words = len(PROMPTS[0].split()), len(row[1].split())
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        prompt_words, answer_words, prompt_words + answer_words)
    assert 0 < row[3] <= elapsed  # the request's own duration, within the call that made it


def test_429_honours_retry_after(server, tmp_path):
    server.state.fail_next("429", retry_after=1)
    llm = make_llm(server, tmp_path)
    started = time.monotonic()
    answers = llm.ask_many(PROMPTS[:1])
    assert time.monotonic() - started >= 1.0
    assert answers[PROMPTS[0]] and len(server.state.requests) == 2 and llm.stats.retries == 1


@pytest.mark.parametrize("fault", ["500", "503", "malformed", "drop"])
def test_server_errors_malformed_json_and_dropped_connections_are_retried(server, tmp_path, fault):
    server.state.fail_next(fault, times=2)
    llm = make_llm(server, tmp_path)
    answers = llm.ask_many(PROMPTS[:1])
    assert answers[PROMPTS[0]] and len(server.state.requests) == 3 and llm.stats.retries == 2
    assert llm.stats.failures == []


def test_timeouts_are_retried(server, tmp_path):
    server.state.fail_next("sleep", seconds=2.0)
    llm = make_llm(server, tmp_path, timeout=0.5)
    assert llm.ask_many(PROMPTS[:1])[PROMPTS[0]]
    assert len(server.state.requests) == 2 and llm.stats.retries == 1


@pytest.mark.parametrize("status", ["400", "401", "404"])
def test_other_4xx_fail_fast_with_a_clear_message(server, tmp_path, status):
    server.state.fail_next(status)
    llm = make_llm(server, tmp_path, concurrency=1)
    with pytest.raises(CorpusError, match=f"answered HTTP {status} for model 'test-model'.*check --llm-base-url"):
        llm.ask_many(PROMPTS[:3])
    assert len(server.state.requests) == 1


def test_a_prompt_failing_after_all_retries_is_recorded_not_dropped(server, tmp_path):
    server.state.persistent["number 2"] = "500"
    llm = make_llm(server, tmp_path, retries=3)
    answers = llm.ask_many(PROMPTS)
    assert answers[PROMPTS[2]] is None and all(answers[p] for p in PROMPTS if p != PROMPTS[2])
    assert server.state.prompts().count(PROMPTS[2]) == 4  # 1 + 3 retries
    assert [f["prompt"] for f in llm.stats.failures] == [PROMPTS[2]]
    assert "InternalServerError" in llm.stats.failures[0]["error"]
    manifest = llm.manifest()
    assert manifest["failures"] == 1 and manifest["failed_prompts"] == [PROMPTS[2]]


def test_offline_miss_lists_the_missing_prompts(server, tmp_path):
    make_llm(server, tmp_path).ask_many(PROMPTS[:2])
    offline = LLM(LLMConfig(model="test-model", offline=True), tmp_path / "cache.sqlite")
    with pytest.raises(CorpusError, match=r"--llm-offline: 4 prompt\(s\) of model 'test-model' are not in the cache") as exc:
        offline.ask_many(PROMPTS)
    assert PROMPTS[2] in str(exc.value)
    assert len(server.state.requests) == 2


def test_concurrency_is_bounded(server, tmp_path):
    server.state.delay = 0.2
    prompts = [f"explain item {i}" for i in range(16)]
    make_llm(server, tmp_path, concurrency=4).ask_many(prompts)
    assert server.state.max_in_flight == 4
    server.state.max_in_flight = 0
    make_llm(server, tmp_path / "serial", concurrency=1).ask_many(prompts)
    assert server.state.max_in_flight == 1


def test_api_key_is_sent_but_never_stored(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-4242")
    llm = make_llm(server, tmp_path)
    llm.ask_many(PROMPTS[:2])
    assert server.state.auth == ["Bearer sk-test-secret-4242"] * 2
    llm.cache.close()
    files = list(tmp_path.iterdir())
    assert files and all(b"sk-test-secret-4242" not in f.read_bytes() for f in files)
    assert "sk-test-secret-4242" not in json.dumps(llm.manifest())


def test_no_endpoint_and_not_offline_is_a_user_error(tmp_path):
    with pytest.raises(CorpusError, match="pass --llm-base-url"):
        LLM(LLMConfig(model="m"), tmp_path / "c.sqlite")


def test_a_broken_cache_file_is_a_user_error(tmp_path):
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CorpusError, match="not a usable LLM cache"):
        LLM(LLMConfig(model="m", offline=True), bad)


def test_a_closed_cache_is_one_file_that_replays_alone(server, tmp_path):
    wal = tmp_path / "cache.sqlite-wal"
    with make_llm(server, tmp_path) as llm:
        answers = llm.ask_many(PROMPTS)
        assert wal.stat().st_size > 0  # while the cache is open, the answers sit in its write-ahead log
    assert not wal.exists() or wal.stat().st_size == 0
    alone = tmp_path / "elsewhere" / "cache.sqlite"
    alone.parent.mkdir()
    shutil.copyfile(tmp_path / "cache.sqlite", alone)
    with LLM(LLMConfig(model="test-model", offline=True), alone) as offline:
        assert offline.ask_many(PROMPTS) == answers and offline.stats.cache_hits == 6
    assert len(server.state.requests) == 6


def build_command(labels, out, url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "corpus_builder", "build", "-l", str(labels), "-o", str(out),
            "--llm-base-url", url, "--llm-model", "test-model", *extra]


def test_the_cache_a_build_leaves_is_one_file_that_replays_alone(run_cli, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("abseiling\nplaying guitar\n")
    built, replay = tmp_path / "built", tmp_path / "replay"
    built.mkdir(), replay.mkdir()
    with LLMServer() as server:  # a process of its own, as a user runs it: nothing is left to the garbage collector
        done = subprocess.run(build_command(labels, built / "corpus.parquet", server.url, "--llm-timeout", "0"),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in built.iterdir()) == ["corpus.parquet", "llm_cache.sqlite"]  # no -wal, no -shm
    shutil.copyfile(built / "llm_cache.sqlite", replay / "llm_cache.sqlite")  # the .sqlite file alone
    code, _, stderr = run_cli("build", "-l", labels, "-o", replay / "corpus.parquet", "--llm-offline", "--llm-model", "test-model")
    assert code == 0, stderr
    original, again = read_corpus(built / "corpus.parquet"), read_corpus(replay / "corpus.parquet")
    pd.testing.assert_frame_equal(again, original)
    assert again.attrs["manifest"]["llm"]["calls"] == 0 and again.attrs["manifest"]["llm"]["cache_hits"] > 0
    assert original.attrs["manifest"]["llm"]["timeout"] is None  # --llm-timeout 0: no limit
    assert sorted(p.name for p in replay.iterdir()) == ["corpus.parquet", "llm_cache.sqlite"]


@pytest.fixture
def lines(caplog, monkeypatch):
    """The progress lines logged, one every 0.2 s at most; `lines()` returns those so far."""
    monkeypatch.setattr(progress, "INTERVAL", 0.2)
    caplog.set_level(logging.INFO, logger="alt_common.progress")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "alt_common.progress"]


def test_progress_lines_come_while_the_server_says_nothing(server, tmp_path, lines):
    server.state.fail_next("sleep", seconds=3.0)
    make_llm(server, tmp_path, timeout=30.0).ask_many(PROMPTS[:1], "Entities")
    host = server.url.split("//")[1].split("/")[0]
    waiting = [l for l in lines() if l.startswith(f"Entities ({host}): 0/1 prompts answered, ")]
    assert len(waiting) >= 3  # about 15 in the 3 s the server takes
    assert lines()[-1].startswith(f"Entities ({host}): 1/1 prompts answered, done in ")


def test_progress_lines_count_the_retries_and_failures_of_a_dead_server(tmp_path, lines):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once it is closed
    llm = LLM(LLMConfig(model="test-model", base_url=f"http://127.0.0.1:{port}/v1", retries=3, backoff=0.5), tmp_path / "c.sqlite")
    assert llm.ask_many(PROMPTS[:1], "Entities")[PROMPTS[0]] is None  # after backoffs of at least 0.25 + 0.5 + 1 s
    assert lines()[-1].startswith(f"Entities (127.0.0.1:{port}): 0/1 prompts answered, 1 failed, 3 retries "
                                  "(last: APIConnectionError: Connection error.), done in ")


def test_a_build_whose_stderr_is_not_a_terminal_logs_progress_lines(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.2)
    labels = tmp_path / "labels.txt"
    labels.write_text("abseiling\nplaying guitar\n")
    with LLMServer(ScriptedLLM(delay=1.5)) as server:
        code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--llm-base-url", server.url,
                                  "--llm-model", "test-model")
    assert code == 0, stderr
    text, host = " ".join(stderr.split()), server.url.split("//")[1].split("/")[0]
    assert f"Entities ({host}): 0/2 prompts answered, " in text  # while the server thinks
    assert f"Entities ({host}): 2/2 prompts answered, done in " in text
    assert f"Phrase descriptions ({host}): 0/" in text
    assert read_corpus(tmp_path / "c.parquet").attrs["manifest"]["llm"]["timeout"] == 60.0  # the default for a server


class Gate:
    """A server's answers: the first `free` at once, each later one held until `release` is set."""

    def __init__(self, free: int):
        self.free, self.seen = free, 0
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, prompt: str) -> str:
        with self.lock:
            self.seen += 1
            held = self.seen > self.free
        if held:
            self.release.wait(120)
        return default_answer(prompt)


def wait_for(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("second_ctrl_c", [False, True], ids=["requests-end", "second-ctrl-c"])
def test_a_first_ctrl_c_says_it_finishes_the_requests_in_flight_and_a_second_stops_at_once(tmp_path, second_ctrl_c):
    labels, cache, err = tmp_path / "labels.txt", tmp_path / "cache.sqlite", tmp_path / "stderr.txt"
    labels.write_text("\n".join(f"playing game number {i}" for i in range(6)))
    gate = Gate(free=2)
    text = lambda: " ".join(err.read_text().split())  # noqa: E731 - rich wraps the log at 80 columns
    with LLMServer(ScriptedLLM(answer=gate)) as server:
        with err.open("w") as sink:
            proc = subprocess.Popen(build_command(labels, tmp_path / "c.parquet", server.url, "--llm-cache", str(cache),
                                                  "--llm-concurrency", "2"), stdout=subprocess.DEVNULL, stderr=sink, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(server.state.requests) == 4 and server.state.in_flight == 2, "two answers and two held requests")
            proc.send_signal(signal.SIGINT)
            wait_for(lambda: "Ctrl-C again to stop now" in text(), "the message of the first Ctrl-C")
            time.sleep(0.5)
            assert proc.poll() is None and server.state.in_flight == 2  # it waits for the held requests, sends no other
            if second_ctrl_c:
                proc.send_signal(signal.SIGINT)
            else:
                gate.release.set()
            proc.wait(timeout=30)
        finally:
            gate.release.set()
            if proc.poll() is None:
                proc.kill()
        assert len(server.state.requests) == 4
    assert proc.returncode == 130, text()
    assert "interrupted: finishing 2 requests in flight (answers are cached); Ctrl-C again to stop now" in text()
    assert "interrupted; nothing was written" in text() and "Traceback" not in text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.sqlite", "labels.txt", "stderr.txt"]  # one cache file
    kept = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    assert kept == (2 if second_ctrl_c else 4)  # the held requests' answers too, when they came
