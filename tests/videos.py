"""Real video files for the training and evaluation tests, written once per test session with PyAV.

`synthetic_task()` holds the synthetic task of `alt_model.synthetic` (4 classes of moving shapes,
16 frames of 64 px, 6 training and 3 validation videos per class) and a tiny corpus.pt with its
random-weight CLIP checkpoint; test modules share it through the `task` fixture.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from alt_model.synthetic import write_tiny_corpus, write_videos


@dataclass(frozen=True)
class Task:
    root: Path
    labels: Path
    train: Path
    val: Path
    corpus: Path


REPO = Path(__file__).resolve().parents[1]
_TASK: list[Task] = []


def synthetic_task() -> Task:
    if not _TASK:
        root = Path(tempfile.mkdtemp(prefix="alt-videos-"))
        write_videos(root, train_per_class=6, val_per_class=3, frames=16, size=64, seed=0)
        corpus = write_tiny_corpus(root)
        _TASK.append(Task(root, root / "labels.txt", root / "train.csv", root / "val.csv", corpus))
    return _TASK[0]


@pytest.fixture(scope="session")
def task() -> Task:
    return synthetic_task()


def tiny_overrides(task: Task, out: Path, **extra: object) -> dict[str, str]:
    """configs/tiny_cpu.yaml pointed at `task`, writing to `out`, with `extra` overrides (dots as __)."""
    values = {"data.labels": task.labels, "data.train_list": task.train, "data.val_list": task.val, "data.video_root": task.root,
              "out": out, "data.workers": 0}
    values.update({k.replace("__", "."): v for k, v in extra.items()})
    return {k: str(v) for k, v in values.items()}


_RUNS: dict[str, Path] = {}


def trained_run(epochs: int = 8) -> Path:
    """The folder of a short alt-train run on the synthetic task (configs/tiny_cpu.yaml), trained once per session."""
    if "tiny" not in _RUNS:
        import torch

        from alt_model.config import load_config
        from alt_model.train import train

        task = synthetic_task()
        out = Path(tempfile.mkdtemp(prefix="alt-run-")) / "tiny"
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            train(load_config(REPO / "configs" / "tiny_cpu.yaml", tiny_overrides(task, out, train__epochs=epochs, eval__every=0)), task.corpus)
        finally:
            torch.set_num_threads(threads)
        _RUNS["tiny"] = out
    return _RUNS["tiny"]


@pytest.fixture(scope="session")
def trained() -> Path:
    return trained_run()
