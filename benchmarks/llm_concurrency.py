"""LLM stage throughput: 500 prompts against the local chat-completions server with a fixed delay,
serial vs concurrent, measured side by side in one run.

    .venv/bin/python benchmarks/llm_concurrency.py [--prompts 500] [--delay 0.2] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from corpus_builder.llm import LLM, LLMConfig  # noqa: E402
from llm_server import LLMServer, ScriptedLLM  # noqa: E402


def timed_run(url: str, prompts: list[str], concurrency: int, cache: Path) -> float:
    llm = LLM(LLMConfig(model="bench", base_url=url, concurrency=concurrency), cache)
    started = time.perf_counter()
    answers = llm.ask_many(prompts)
    seconds = time.perf_counter() - started
    assert all(answers.values()) and llm.stats.calls == len(prompts), "every prompt must be answered"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    prompts = [f"Concisely explain benchmark item {i} in one sentence" for i in range(args.prompts)]
    with LLMServer(ScriptedLLM(delay=args.delay)) as server, tempfile.TemporaryDirectory() as tmp:
        serial = timed_run(server.url, prompts, 1, Path(tmp) / "serial.sqlite")
        concurrent = timed_run(server.url, prompts, args.concurrency, Path(tmp) / "concurrent.sqlite")
    print(f"{args.prompts} prompts, {args.delay * 1000:.0f} ms server delay")
    print(f"serial (concurrency 1):       {serial:8.2f} s")
    print(f"concurrency {args.concurrency:<3d}:              {concurrent:8.2f} s")
    print(f"speed-up: {serial / concurrent:.1f}x")


if __name__ == "__main__":
    main()
