"""Training and evaluation from a clip store (`data.store`, issue 33) on the synthetic task: the same frames, crops and
flips as from the videos, a run that never opens a video, and a store that is missing or was packed from another list."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from io import StringIO
from contextlib import redirect_stderr
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from videos import REPO, tiny_overrides

from alt_model.cli import train_main
from alt_model.data import RESIZE_RATIO, VideoDataset, read_video_list
from alt_model.store import open_store
from alt_model.store_cli import main as alt_data

SIZE = 64  # the tiny tower's input size
SHORT = int(RESIZE_RATIO * SIZE)  # the shorter side the transforms start from, and the store's


def pack(task, listed: Path, out: Path, *extra: str) -> None:
    argv = ["alt-data", "pack", str(listed), "-l", str(task.labels), "--video-root", str(task.root), "-o", str(out),
            "--short-side", str(SHORT), "--workers", "1", *extra]
    with mock.patch.object(sys, "argv", argv), redirect_stderr(StringIO()) as err, pytest.raises(SystemExit) as done:
        alt_data()
    assert done.value.code == 0, err.getvalue()


@pytest.fixture(scope="module")
def stores(task, tmp_path_factory) -> Path:
    """data.store for the task: train/ with every one of the 16 frames (8 segments × 2) at JPEG quality 100, 8 videos a
    shard, and val/ with the test-time centres (one a segment). Quality 100 leaves a few grey levels of JPEG error at
    most (0.06 normalised), where another frame, crop or flip of these moving shapes moves some pixel by 80 or more (1.2)."""
    root = tmp_path_factory.mktemp("stores")
    pack(task, task.train, root / "train", "--per-segment", "2", "--quality", "100", "--per-shard", "8")
    pack(task, task.val, root / "val", "--per-segment", "1", "--quality", "100")
    return root


def test_a_store_of_every_frame_gives_the_videos_clips_crops_and_flips(task, stores):
    labels = task.labels.read_text().split("\n")[:-1]
    items = read_video_list(task.train, task.root, labels)
    store = open_store(stores, task.train)
    assert store.items(labels) == [type(item)(item.path.relative_to(task.root), item.label) for item in items]
    from_videos = VideoDataset(items, 8, SIZE, train=True, seed=3, decode_resize=True)  # resized as alt-data pack resizes
    from_store = VideoDataset(store.items(labels), 8, SIZE, train=True, seed=3, store=store)
    for epoch in range(3):
        for index in range(0, len(items), 3):
            ours, theirs = from_store[(epoch, index)], from_videos[(epoch, index)]
            assert ours[1] == theirs[1]
            other = from_videos[(epoch + 1, index)][0]  # another draw of the same video: other frames, crop or flip
            gap = (ours[0] - theirs[0]).abs().max().item()
            assert gap < 0.3 < (other - theirs[0]).abs().max().item(), (epoch, index, gap)


def test_test_views_from_a_store_of_centres_are_the_videos(task, stores):
    labels = task.labels.read_text().split("\n")[:-1]
    items = read_video_list(task.val, task.root, labels)
    store = open_store(stores, task.val)
    from_videos = VideoDataset(items, 8, SIZE, train=False, decode_resize=True)
    from_store = VideoDataset(store.items(labels), 8, SIZE, train=False, store=store)
    for index in range(len(items)):
        assert (from_store[index][0] - from_videos[index][0]).abs().max().item() < 0.3


def test_training_from_a_store_opens_no_video(task, stores, tmp_path, monkeypatch):
    import alt_model.data as data

    def no_video(*args, **kwargs):
        raise AssertionError("a video was decoded")

    monkeypatch.setattr(data, "read_clips", no_video)
    overrides = tiny_overrides(task, tmp_path / "run", train__epochs=2, data__store=stores, data__video_root=tmp_path / "no-videos")
    code, out, err = _train(overrides, task)
    assert code == 0, err
    assert "done: 2 epochs, 6 steps" in out and "val top-1" in out


def test_a_missing_or_stale_store_is_one_line(task, stores, tmp_path):
    code, _, err = _train(tiny_overrides(task, tmp_path / "a", data__store=tmp_path / "nothing"), task)
    assert code == 2 and f"{tmp_path / 'nothing' / 'train'}: no clip store here" in err and "alt-data pack" in err
    assert len(err.strip().splitlines()) == 1
    copy = tmp_path / "lists" / "train.csv"
    copy.parent.mkdir()
    shutil.copy(task.train, copy)
    with copy.open("a") as listed:
        listed.write("\n")  # another version of the list: other bytes
    code, _, err = _train(tiny_overrides(task, tmp_path / "b", data__store=stores, data__train_list=copy), task)
    assert code == 2 and "was packed from another version of" in err and len(err.strip().splitlines()) == 1


def _train(overrides: dict[str, str], task) -> tuple[int, str, str]:
    argv = ["alt-train", "--corpus", str(task.corpus), "--config", str(REPO / "configs" / "tiny_cpu.yaml"),
            *(f"{k}={v}" for k, v in overrides.items())]
    out, err = StringIO(), StringIO()
    with mock.patch.object(sys, "argv", argv), mock.patch.object(sys, "stdout", out), redirect_stderr(err), \
            pytest.raises(SystemExit) as done:
        train_main()
    return done.value.code, out.getvalue(), err.getvalue()


def test_alt_eval_reads_a_store_and_predicts_as_from_the_videos(trained, stores, run_main, tmp_path, monkeypatch):
    """The val store holds the test-time centres (JPEG quality 100): all 12 videos read from it, none decoded, and the
    top-1 of the videos within one video's difference (a frame resized twice and JPEG's error may flip a close call)."""
    from alt_model.cli import eval_main

    code, _, err = run_main(eval_main, "--checkpoint", trained / "best.pt", "--out", tmp_path / "videos", "--workers", 0)
    assert code == 0, err
    import alt_model.data as data

    monkeypatch.setattr(data, "read_clips", lambda *args, **kwargs: pytest.fail("a video was decoded"))
    code, _, err = run_main(eval_main, "--checkpoint", trained / "best.pt", "--store", stores, "--out", tmp_path / "store",
                            "--workers", 0)
    assert code == 0, err
    ours, theirs = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("store", "videos"))
    assert ours["videos"] == theirs["videos"] == 12 and ours["skipped"] == 0
    assert abs(ours["top1"] - theirs["top1"]) <= 1 / 12 + 1e-9


def test_a_corrupt_frame_in_a_store_is_skipped_and_reported(task, stores, tmp_path, caplog):
    labels = task.labels.read_text().split("\n")[:-1]
    shutil.copytree(stores / "val", tmp_path / "val")
    index = json.loads((tmp_path / "val" / "shard-000000.json").read_text())
    key, sample = next(iter(index["samples"].items()))
    offset, size = sample["jpg"][0]
    with (tmp_path / "val" / "shard-000000.tar").open("r+b") as shard:
        shard.seek(offset)
        shard.write(b"\0" * size)  # the first frame of the first video: no JPEG any more
    store = open_store(tmp_path, task.val)
    dataset = VideoDataset(store.items(labels), 8, SIZE, train=False, store=store)
    with caplog.at_level(logging.WARNING):
        assert dataset[0] is None and dataset[1] is not None
    assert f"shard-000000.tar: {key}.0000.jpg: cannot decode" in caplog.text and "skipped" in caplog.text
