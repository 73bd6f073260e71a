"""Shared fixtures: real WordNet (Debian's files through NLTK), the real spaCy pipeline, the real CLI."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from corpus_builder.cli import main
from corpus_builder.resources import load_spacy, wordnet

REPO = Path(__file__).resolve().parents[1]
SHARED_LABELS = REPO.parent / "shared" / "data" / "labels"

# A suite started in the background by a shell without job control inherits SIGINT ignored, and so would every
# command it runs: the Ctrl-C tests would see no Ctrl-C. Python's own handler here; the commands start with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def wn():
    return wordnet()


@pytest.fixture(scope="session")
def nlp():
    return load_spacy()


@pytest.fixture(scope="session")
def shared_labels() -> Path:
    if not SHARED_LABELS.is_dir():
        pytest.fail(f"reference label lists not found at {SHARED_LABELS} (shared/ must sit beside the repo)")
    return SHARED_LABELS


@pytest.fixture
def run_main(monkeypatch, capsys):
    """Run a console-script entry point in-process: run(main, *args) -> (exit code, stdout, stderr)."""

    def run(entry, *args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", [entry.__module__, *map(str, args)])
        with pytest.raises(SystemExit) as exc:
            entry()
        captured = capsys.readouterr()
        return exc.value.code, captured.out, captured.err

    return run


@pytest.fixture
def run_cli(run_main):
    """Run the `corpus` entry point in-process; returns (exit code, stdout, stderr)."""
    return lambda *args: run_main(main, *args)
