"""Which checkpoint is best.pt (issue 17): never one chosen on data.val_list (for Kinetics-400, the split results are
reported on). `data.holdout` keeps a stratified fraction of the training videos out of training and best.pt is the
epoch with the best top-1 on it; with no holdout (the paper's protocol) best.pt is the last completed epoch."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
import torch
from videos import REPO, tiny_overrides

import alt_model.train as train_module
from alt_model import ModelError
from alt_model.checkpoint import load_checkpoint
from alt_model.config import load_config
from alt_model.data import VideoItem, sample_shots, split_holdout
from alt_model.evaluate import Metrics

SIZES = {0: 10, 1: 4, 2: 3, 3: 2, 4: 1}  # videos per class, interleaved in the list


def _items() -> list[VideoItem]:
    labels = [label for n in range(max(SIZES.values())) for label, size in SIZES.items() if n < size]
    return [VideoItem(Path(f"v{i:02d}.mp4"), label) for i, label in enumerate(labels)]


@pytest.mark.parametrize("fraction, held", [
    # round(fraction · n) with halves up, at least 1 and at most n - 1 per class; a class of one keeps its video
    (0.25, {0: 3, 1: 1, 2: 1, 3: 1}),  # 2.5 -> 3, 1.0 -> 1, 0.75 -> 1, 0.5 -> 1
    (0.05, {0: 1, 1: 1, 2: 1, 3: 1}),  # 0.5 -> 1, and every other class at least 1
    (0.9, {0: 9, 1: 3, 2: 2, 3: 1}),  # 9, 3.6 -> 4 -> 3, 2.7 -> 3 -> 2, 1.8 -> 2 -> 1: never a whole class
])
def test_the_holdout_is_stratified_per_class(fraction, held):
    items = _items()
    kept, out = split_holdout(items, fraction, seed=3)
    assert Counter(item.label for item in out) == held
    assert Counter(item.label for item in kept) == {label: SIZES[label] - held.get(label, 0) for label in SIZES}
    assert not set(kept) & set(out) and sorted(kept + out, key=items.index) == items
    assert kept == [item for item in items if item in kept] and out == [item for item in items if item in out]  # list order


def test_the_holdout_is_drawn_with_the_seed_and_the_shots_from_the_rest():
    items = _items()
    kept, out = split_holdout(items, 0.25, seed=3)
    assert split_holdout(items, 0.25, seed=3) == (kept, out)
    assert split_holdout(items, 0.25, seed=4)[1] != out
    shots = sample_shots(kept, 1, seed=3)  # as build_datasets does: hold out first, then K per class of the rest
    assert len(shots) == len(SIZES) and set(shots) <= set(kept) and not set(shots) & set(out)
    assert split_holdout(items, 0.0, seed=3) == (items, [])


@pytest.mark.parametrize("value", ["1.0", "-0.1"])
def test_holdout_range_is_checked(value):
    with pytest.raises(ModelError, match=rf"data.holdout must be a fraction of the training videos, from 0 to below 1 .*got {value}"):
        load_config(None, {"data.holdout": value})
    assert load_config(None, {"data.holdout": "0.5"}).data.holdout == 0.5 and load_config(None).data.holdout == 0.0


def _scripted(monkeypatch, correct: dict[str, list[int]]) -> list[dict]:
    """`evaluate` in alt_model.train runs for real, then reports `correct[kind][i]` right videos of its real count at its i-th
    call on the held-out training videos (kind 'select') or on val.csv ('val'); returns a record of the calls."""
    real, calls = train_module.evaluate, []

    def scripted(model, dataset, classes, labels, **options):
        kind = "select" if all(item.path.name.startswith("train_") for item in dataset.items) else "val"
        metrics = real(model, dataset, classes, labels, **options)
        right = correct[kind][sum(call["kind"] == kind for call in calls)]
        calls.append({"kind": kind, "videos": len(dataset), "views": (dataset.clips, dataset.crops), "batch_size": options["batch_size"],
                      "items": list(dataset.items)})
        confusion = torch.zeros_like(metrics.confusion)
        confusion[0, 0], confusion[0, 1] = right, metrics.count - right
        return Metrics(metrics.labels, confusion, metrics.top5_correct, metrics.failed)

    monkeypatch.setattr(train_module, "evaluate", scripted)
    return calls


def _epochs(out: Path) -> list[dict]:
    return [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if r["kind"] == "epoch"]


def test_best_pt_is_the_best_holdout_epoch_never_the_val_one(task, tmp_path, monkeypatch, caplog):
    # 6 training videos per class, holdout 0.25: 2 per class held out, 16 trained on. Held-out top-1 per epoch
    # 2/8, 6/8, 4/8 (best: epoch 2); val top-1 12/12, 0/12, 3/12 (would pick epoch 1); the last epoch is 3.
    calls = _scripted(monkeypatch, {"select": [2, 6, 4], "val": [12, 0, 3]})
    caplog.set_level(logging.INFO, logger="alt_model.train")
    out = tmp_path / "run"
    cfg = load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, out, train__epochs=3, eval__every=1, eval__clips=2,
                                                                      eval__batch_size=4, data__holdout=0.25))
    train_module.train(cfg, task.corpus)
    epochs = _epochs(out)
    assert [r["videos"] for r in epochs] == [16, 16, 16]  # the held-out videos are not trained on
    assert [r["select"]["videos"] for r in epochs] == [8, 8, 8] and [r["val"]["videos"] for r in epochs] == [12, 12, 12]
    select, val = [r["select"]["top1"] for r in epochs], [r["val"]["top1"] for r in epochs]
    assert select == [0.25, 0.75, 0.5] and val == [1.0, 0.0, 0.25]
    chosen = max(range(len(select)), key=lambda i: (select[i], i)) + 1  # best held-out top-1, the later epoch on a tie
    best = load_checkpoint(out / "best.pt")
    assert best["epoch"] == chosen == 2 and best["best_top1"] == 0.75
    assert chosen != 1 + val.index(max(val)) and chosen != load_checkpoint(out / "last.pt")["epoch"] == 3
    # the holdout is evaluated as val is: the same views and batch size, on training videos the run did not train on
    assert {(c["views"], c["batch_size"]) for c in calls} == {((2, 1), 4)}
    held = {item.path for c in calls if c["kind"] == "select" for item in c["items"]}
    assert len(held) == 8 and all(path.name.startswith("train_") for path in held)
    assert sorted(Counter(path.parent for path in held).values()) == [2, 2, 2, 2]  # two of each class's folder
    assert "best.pt: the epoch with the best top-1 on 8 training videos held out of training (data.holdout=0.25)" in caplog.text


def test_without_a_holdout_best_pt_is_the_last_epoch(task, tmp_path, monkeypatch, caplog):
    _scripted(monkeypatch, {"select": [], "val": [12, 0]})  # val would pick epoch 1
    caplog.set_level(logging.INFO, logger="alt_model.train")
    out = tmp_path / "run"
    cfg = load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, out, train__epochs=2, eval__every=1))
    train_module.train(cfg, task.corpus)
    epochs = _epochs(out)
    assert [r["val"]["top1"] for r in epochs] == [1.0, 0.0] and not any("select" in r for r in epochs)
    best, last = load_checkpoint(out / "best.pt"), load_checkpoint(out / "last.pt")
    assert best["epoch"] == last["epoch"] == 2
    assert best["model"].keys() == last["model"].keys() and all(torch.equal(best["model"][k], last["model"][k]) for k in last["model"])
    assert caplog.text.count("best.pt: the last completed epoch (data.holdout=0") == 1


def test_a_holdout_with_nothing_to_hold_out_is_refused(task, tmp_path):
    rows = task.train.read_text().splitlines()
    one_each = tmp_path / "one_each.csv"
    one_each.write_text("\n".join([rows[0], *(row for row in rows[1:] if "/train_000." in row)]) + "\n")
    cfg = load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, tmp_path / "run", data__train_list=one_each, data__holdout=0.5))
    with pytest.raises(ModelError, match="no class of .*one_each.csv has 2 or more training videos"):
        train_module.train(cfg, task.corpus)
    assert not (tmp_path / "run").exists()
