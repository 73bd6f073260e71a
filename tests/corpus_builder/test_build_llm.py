"""`corpus build` with the LLM stage, end to end against the local chat-completions server."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from corpus_builder import read_corpus
from corpus_builder.prompts import PROMPTS_DIR, load_prompts
from llm_server import LLMServer, ScriptedLLM, default_answer

LABELS = "abseiling\nplaying guitar\nbrushing teeth\nriding a bike\ndancing\n"


@pytest.fixture
def labels(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text(LABELS)
    return path


def llm_args(url: str, tmp_path, *extra: str) -> list[str]:
    return ["--llm-base-url", url, "--llm-model", "test-model", "--llm-cache", str(tmp_path / "cache.sqlite"), *extra]


def test_llm_build_adds_entities_and_phrase_descriptions_then_replays_offline(run_cli, labels, tmp_path):
    out, replay = tmp_path / "corpus.parquet", tmp_path / "replay.parquet"
    with LLMServer() as server:
        code, stdout, stderr = run_cli("build", "-l", labels, "-o", out, *llm_args(server.url, tmp_path))
        assert code == 0, stderr
        asked = server.state.prompts()
    entity_prompts = [p for p in asked if p.endswith("video action? List them concisely.")]
    assert len(entity_prompts) == 5
    assert entity_prompts[0].startswith("What are identifying visual characteristics, such as object, body parts")
    df = read_corpus(out)
    by_unit = {u: r for u, r in zip(df["unit"], df.itertuples())}
    assert {"harness", "helmet", "carabiner", "toothbrush", "bicycle", "climber", "belayer"} <= set(by_unit)
    assert "llm" in by_unit["harness"].sources and "abseiling" in by_unit["harness"].labels
    rope = by_unit["climbing rope"]
    assert rope.kind == "phrase" and pd.isna(rope.sense) and rope.wsd_method == "lesk-embedding"  # --wsd auto
    assert "A climbing rope is a long, thick, colourful braided cord coiled on the ground." in rope.candidates
    assert "A rope used to secure climbers" in rope.candidates and rope.description in rope.candidates
    assert by_unit["rock face"].category == "scene"  # the LLM's grouping, where WordNet has no sense
    assert by_unit["guitar"].sources == ["llm", "pos"]
    manifest = df.attrs["manifest"]
    llm = manifest["llm"]
    assert llm["host"] == server.url.split("//")[1].split("/")[0] and llm["model"] == "test-model"
    assert llm["calls"] == len(asked) and llm["cache_hits"] == 0 and llm["failures"] == 0
    assert llm["prompt_tokens"] == sum(len(p.split()) for p in asked)  # the server counts words (tests/llm_server.py)
    assert llm["completion_tokens"] == sum(len(default_answer(p).split()) for p in asked)
    assert manifest["prompts"] == load_prompts(PROMPTS_DIR).sha256
    assert manifest["counts"]["units_by_source"]["llm"] > 0
    assert manifest["options"]["related"] is False  # the LLM lists the related things itself
    assert not {"gloss", "derivation", "domain", "part"} & set(manifest["counts"]["entities_by_source"])
    assert "cache hits" in stdout

    code, _, stderr = run_cli("build", "-l", labels, "-o", replay, "--llm-offline", "--llm-model", "test-model",
                              "--llm-cache", tmp_path / "cache.sqlite")
    assert code == 0, stderr
    again = read_corpus(replay)
    pd.testing.assert_frame_equal(again, df)
    assert again.attrs["manifest"]["llm"]["calls"] == 0
    assert again.attrs["manifest"]["llm"]["cache_hits"] == len(asked)


def test_offline_with_an_empty_cache_is_a_one_line_error(run_cli, labels, tmp_path):
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--llm-offline",
                              "--llm-model", "test-model", "--llm-cache", tmp_path / "empty.sqlite")
    assert code == 2
    assert "--llm-offline: 5 prompt(s) of model 'test-model' are not in the cache" in stderr
    assert not (tmp_path / "c.parquet").exists()


def test_model_is_required_with_an_endpoint(run_cli, labels, tmp_path):
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--llm-base-url", "http://127.0.0.1:9/v1")
    assert code == 2 and "--llm-model is required" in stderr


def test_failed_prompts_stop_the_build_unless_allowed(run_cli, labels, tmp_path):
    out = tmp_path / "corpus.parquet"
    with LLMServer() as server:
        server.state.persistent["of a/an dancing video action"] = "500"
        args = llm_args(server.url, tmp_path, "--llm-retries", "1")
        code, _, stderr = run_cli("build", "-l", labels, "-o", out, *args)
        assert code == 1 and not out.exists()
        answered = {p for p in server.state.prompts() if "of a/an dancing video action" not in p}
        assert "LLM prompt failed: 'What are identifying" in stderr and "1 LLM prompt(s) failed after 1 retries" in stderr
        code, _, stderr = run_cli("build", "-l", labels, "-o", out, *args, "--allow-llm-failures")
        assert code == 0, stderr
    manifest = read_corpus(out).attrs["manifest"]["llm"]
    assert manifest["failures"] == 1 and "dancing" in manifest["failed_prompts"][0]
    assert manifest["cache_hits"] == len(answered) > 0  # the second run reused every answer the first one got


def test_key_never_reaches_an_artifact(run_cli, labels, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-write-me-777")
    with LLMServer() as server:
        code, _, _ = run_cli("build", "-l", labels, "-o", tmp_path / "corpus.parquet", *llm_args(server.url, tmp_path))
        assert code == 0 and set(server.state.auth) == {"Bearer sk-never-write-me-777"}
    for path in tmp_path.iterdir():
        assert b"sk-never-write-me-777" not in path.read_bytes(), path


def test_interrupted_build_keeps_answers_and_resumes(labels, tmp_path):
    many = tmp_path / "many.txt"
    many.write_text("\n".join(f"playing game number {i}" for i in range(12)))
    cache = tmp_path / "cache.sqlite"
    with LLMServer(ScriptedLLM(delay=0.3)) as server:
        cmd = [sys.executable, "-m", "corpus_builder", "build", "-l", str(many), "-o", str(tmp_path / "c.parquet"),
               "--llm-base-url", server.url, "--llm-model", "test-model", "--llm-cache", str(cache), "--llm-concurrency", "2"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(server.state.requests) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr.decode()
        assert b"Traceback" not in stderr and not (tmp_path / "c.parquet").exists()
        kept = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        first_run = len(server.state.requests)
        assert 4 <= kept <= first_run < 12  # every answer received before Ctrl-C is in the cache
        resumed = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
        assert resumed.returncode == 0, resumed.stderr.decode()
        second = server.state.prompts()[first_run:]
    entity_prompts = [p for p in second if p.endswith("List them concisely.")]
    assert len(entity_prompts) == 12 - kept  # only the missing ones were asked again
    manifest = read_corpus(tmp_path / "c.parquet").attrs["manifest"]["llm"]
    assert manifest["cache_hits"] == kept and json.dumps(manifest)
