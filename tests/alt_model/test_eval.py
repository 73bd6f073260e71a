"""alt_model/evaluate.py and `alt-eval`: metrics, views, splits (zero-shot), K-shot, on the synthetic videos."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest
import torch
from videos import REPO

from alt_model import ModelError
from alt_model.cli import eval_main
from alt_model.evaluate import Metrics, evaluate, make_splits, parse_views, summarise
from alt_model.synthetic import CLASSES

LABELS = [c.name for c in CLASSES]


@pytest.fixture
def run_eval(run_main):
    return lambda *args: run_main(eval_main, *args)


def test_metrics_from_the_confusion_matrix():
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    m = Metrics(["a", "b", "c"], confusion, top5_correct=3, failed=1)  # top-5 is a count of its own, not the confusion's
    assert m.count == 6 and m.top1 == pytest.approx(5 / 6) and m.top5 == pytest.approx(0.5)
    assert m.per_class == [0.75, 1.0, None] and m.mean_class == pytest.approx(0.875)
    s = summarise([Metrics(["a"], torch.tensor([[1]]), 1, 0), Metrics(["a", "b"], torch.tensor([[1, 1], [0, 0]]), 2, 0)])
    assert s["top1"] == pytest.approx(0.75) and s["top1_std"] == pytest.approx(0.3536, abs=1e-4) and s["splits"] == 2


def test_views_parse_as_clips_by_crops():
    assert parse_views("4x3") == (4, 3) and parse_views("1x1") == (1, 1)
    for bad in ("4", "2x2", "0x1", "axb"):
        with pytest.raises(ModelError, match="CLIPSxCROPS"):
            parse_views(bad)


def test_trained_model_is_clearly_above_chance_and_files_are_written(trained, run_eval, tmp_path):
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--out", tmp_path / "eval", "--workers", 0)
    assert code == 0, err
    metrics = json.loads((tmp_path / "eval/metrics.json").read_text())
    assert metrics["videos"] == 12 and metrics["top1"] >= 0.5  # 4 classes: chance is 0.25 (measured: 0.75)
    assert set(metrics["per_class"]) == set(LABELS)  # (top-5 of 4 classes is always 1: see the test below)
    with open(tmp_path / "eval/confusion.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header[1:] == LABELS and [row[0] for row in rows] == LABELS
    confusion = [[int(v) for v in row[1:]] for row in rows]
    assert sum(map(sum, confusion)) == 12 and [sum(row) for row in confusion] == [3, 3, 3, 3]  # 3 val videos per class
    correct = [confusion[i][i] for i in range(len(LABELS))]  # the JSON's numbers follow from the matrix on disk
    assert metrics["top1"] == pytest.approx(sum(correct) / 12)
    assert metrics["per_class"] == {label: pytest.approx(c / 3) for label, c in zip(LABELS, correct)}
    assert metrics["mean_class"] == pytest.approx(sum(correct) / 12)
    assert "top-1" in out and "val" in out


class _Replay(torch.nn.Module):
    """A stand-in model: the logits of each view are what its "video" tensor holds."""

    def forward(self, video, classes):
        return SimpleNamespace(logits=video.flatten(1)[:, : len(classes)])


def _ranked(label: int, rank: int, classes: int = 7) -> torch.Tensor:
    """Logits 7, 6, ..., 1 (gaps of 1: no near-ties) with `label` at place `rank` (0 = first)."""
    others = [c for c in range(classes) if c != label]
    order = others[:rank] + [label] + others[rank:]
    logits = torch.empty(classes)
    logits[order] = torch.arange(classes, 0, -1, dtype=torch.float)
    return logits


def test_top1_top5_and_views_follow_the_averaged_probabilities():
    """7 classes, so that top-5 can miss; 3 views, whose softmax probabilities (not logits) are averaged."""
    labels = [f"class {c}" for c in range(7)]
    split = torch.full((7,), -30.0)
    split[5], split[6] = 2.0, 0.0  # two views: class 5, fairly sure ...
    loud = torch.full((7,), -30.0)
    loud[5], loud[6] = 0.0, 20.0  # ... one view: class 6, very sure. Mean logits pick 6; mean probabilities, 5
    items = [  # (views [3, 7], true label): the true class ranked 1st, 3rd, 5th, 6th and 7th, then the split vote
        (_ranked(0, 0).expand(3, 7), 0), (_ranked(1, 2).expand(3, 7), 1), (_ranked(2, 4).expand(3, 7), 2),
        (_ranked(3, 5).expand(3, 7), 3), (_ranked(4, 6).expand(3, 7), 4), (torch.stack([split, split, loud]), 5),
    ]
    dataset = [(views[:, None, None, None].clone(), label) for views, label in items] + [None]
    m = evaluate(_Replay(), dataset, torch.zeros(7, 4), labels, batch_size=4)  # two batches, one unreadable video
    expected = torch.zeros(7, 7, dtype=torch.int64)
    for true, predicted in ((0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 5)):  # a miss predicts class 0, ranked first
        expected[true, predicted] += 1
    assert torch.equal(m.confusion, expected) and m.failed == 1
    assert m.top5_correct == 4 and m.top5 == pytest.approx(4 / 6)  # ranks 1, 3 and 5, and the split vote; not 6 or 7
    assert m.top1 == pytest.approx(2 / 6)


def test_multi_view_evaluation(trained, run_eval, tmp_path):
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--views", "2x3", "--out", tmp_path, "--workers", 0)
    assert code == 0, err
    assert json.loads((tmp_path / "metrics.json").read_text())["videos"] == 12


def test_zero_shot_splits_report_mean_and_std(trained, task, run_eval, tmp_path):
    (tmp_path / "split1.txt").write_text("\n".join(LABELS[:2]) + "\n")
    (tmp_path / "split2.txt").write_text("\n".join(LABELS[2:]) + "\n")
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--val-list", task.val, "--labels", tmp_path / "split1.txt",
                              "--labels", tmp_path / "split2.txt", "--out", tmp_path / "zs", "--workers", 0)
    assert code == 0, err
    assert "mean ± std" in out
    summary = json.loads((tmp_path / "zs/summary.json").read_text())
    per_split = [json.loads((tmp_path / f"zs/split{i}/metrics.json").read_text()) for i in (1, 2)]
    assert [m["videos"] for m in per_split] == [6, 6]  # each split keeps only its own classes' videos
    assert summary["top1"] == pytest.approx((per_split[0]["top1"] + per_split[1]["top1"]) / 2)


def test_splits_pair_video_lists_with_label_files(tmp_path):
    label_files = []
    for i, names in enumerate((["acting in play", "arguing"], ["backflip (human)", "ArmWrestling"], ["yoga"]), start=1):
        path = tmp_path / f"ZS_split{i}_K600.csv"  # the Kinetics-600 zero-shot files' format: id,name
        path.write_text("id,name\n" + "".join(f"{j},{name}\n" for j, name in enumerate(names)))
        label_files.append(path)
    shared = make_splits(["k600_val.csv"], label_files, ["unused"])  # Kinetics-600: one video list, three label sets
    assert [s.val_list.name for s in shared] == ["k600_val.csv"] * 3
    assert [s.name for s in shared] == ["ZS_split1_K600", "ZS_split2_K600", "ZS_split3_K600"]
    assert [s.labels for s in shared] == [["acting in play", "arguing"], ["backflip (human)", "arm wrestling"], ["yoga"]]
    per_list = make_splits(["test1.txt", "test2.txt"], [label_files[0]], [])  # HMDB/UCF: three lists, one label set
    assert [(s.val_list.name, s.name, s.labels) for s in per_list] == [
        ("test1.txt", "test1", ["acting in play", "arguing"]), ("test2.txt", "test2", ["acting in play", "arguing"])]
    [default] = make_splits(["val.csv"], [], ["a", "b"])  # no label file: the checkpoint's labels
    assert (default.name, default.labels) == ("val", ["a", "b"])
    with pytest.raises(ModelError, match="2 video lists and 3 label files"):
        make_splits(["a.csv", "b.csv"], label_files, [])
    with pytest.raises(ModelError, match="no video list"):
        make_splits([], label_files, [])


def test_k_shot_fine_tunes_from_the_checkpoint_then_evaluates(trained, task, run_eval, tmp_path):
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--shots", 2, "--train-list", task.train,
                              "--config", REPO / "configs/few_shot.yaml", "--out", tmp_path / "fs",
                              "model.frames=8", "train.epochs=2", "train.batch_size=4", "train.global_batch=8", "data.workers=0")
    assert code == 0, err
    run = tmp_path / "fs/2shot_val"
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["videos"] for r in log if r["kind"] == "epoch"] == [8, 8]  # 2 videos × 4 classes
    from alt_model.checkpoint import load_checkpoint

    cfg = load_checkpoint(run / "last.pt")["config"]
    assert cfg["train"]["lr_adapter"] == 8e-4 and cfg["data"]["shots"] == 2
    assert json.loads((tmp_path / "fs/metrics.json").read_text())["videos"] == 12


@pytest.mark.parametrize("args, message", [
    (["--checkpoint", "/nonexistent/best.pt"], "checkpoint not found"),
    (["--views", "2x2"], "CLIPSxCROPS"),
    (["--shots", "2"], "--shots needs --train-list"),
    (["--val-list", "/nonexistent/val.csv"], "video list not found"),
])
def test_eval_errors_are_one_line(trained, run_eval, args, message):
    base = [] if "--checkpoint" in args else ["--checkpoint", trained / "best.pt"]
    code, _, err = run_eval(*base, *args, "--workers", 0)
    assert code == 2 and message in err and "Traceback" not in err
