"""The LLM client against a real local HTTP server (tests/llm_server.py) through the real openai client."""

import hashlib
import json
import sqlite3
import time

import pytest

from corpus_builder.errors import CorpusError
from corpus_builder.llm import LLM, LLMConfig, cache_key
from llm_server import LLMServer

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
