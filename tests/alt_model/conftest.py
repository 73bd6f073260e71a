"""Fixtures of the alt_model tests: tiny real models and corpora (tiny.py), the synthetic video task, a short
training run on it (videos.py) and that run as an alt-export folder, and one intra-op thread per test: tiny
models gain nothing from threads, and on a busy 2-core machine their hand-offs made a few-second test run for
half a minute."""

from __future__ import annotations

from pathlib import Path

import open_clip
import pytest
import torch
from tiny import TINY_VIT, make_clip, make_corpus
from videos import Task, train_tiny, write_task

from alt_common.clip import resolve_model


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tokenizer():
    return open_clip.get_tokenizer(resolve_model(TINY_VIT)[0])


@pytest.fixture
def clip() -> torch.nn.Module:
    return make_clip()


@pytest.fixture
def corpus() -> dict:
    return make_corpus()


@pytest.fixture(scope="session")
def task(tmp_path_factory) -> Task:
    """The synthetic task, written once per session under pytest's temporary folder."""
    return write_task(tmp_path_factory.mktemp("alt-videos"))


@pytest.fixture(scope="session")
def trained(task, tmp_path_factory) -> Path:
    """The folder of a short alt-train run on the synthetic task, trained once per session."""
    return train_tiny(task, tmp_path_factory.mktemp("alt-run") / "tiny")


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory) -> Path:
    """The trained run's best.pt as an alt-export model folder, written once per session."""
    from alt_model.hub import export_checkpoint

    return export_checkpoint(trained / "best.pt", tmp_path_factory.mktemp("alt-export") / "tiny-alt")
