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
from alt_model.evaluate import Metrics, evaluate, make_splits, parse_views, split_names, summarise
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
    run = tmp_path / "fs/2shot/run"  # --shots K: everything under OUT/{K}shot/, the fine-tuning run in run/
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["videos"] for r in log if r["kind"] == "epoch"] == [8, 8]  # 2 videos × 4 classes
    from alt_model.checkpoint import load_checkpoint

    cfg = load_checkpoint(run / "last.pt")["config"]
    assert cfg["train"]["lr_adapter"] == 8e-4 and cfg["data"]["shots"] == 2
    assert json.loads((tmp_path / "fs/2shot/metrics.json").read_text())["videos"] == 12
    assert (tmp_path / "fs/2shot/labels.txt").read_text().splitlines() == LABELS
    assert "2-shot val" in out


def test_several_shots_run_each_k_from_the_checkpoint(trained, task, run_eval, tmp_path):
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--shots", 1, "--shots", 2, "--train-list", task.train,
                              "--config", REPO / "configs/few_shot.yaml", "--out", tmp_path / "fs", "model.frames=8",
                              "train.epochs=1", "train.warmup_epochs=0", "train.batch_size=4", "train.global_batch=4", "data.workers=0")
    assert code == 0, err
    from alt_model.checkpoint import load_checkpoint

    for k in (1, 2):
        run = tmp_path / f"fs/{k}shot/run"
        log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
        assert [r["videos"] for r in log if r["kind"] == "epoch"] == [4 * k]  # K videos × 4 classes
        cfg = load_checkpoint(run / "last.pt")["config"]
        assert cfg["data"]["shots"] == k and cfg["train"]["init"] == str(trained / "best.pt")  # each K from the checkpoint
        assert json.loads((tmp_path / f"fs/{k}shot/metrics.json").read_text())["videos"] == 12
    assert not (tmp_path / "fs/metrics.json").exists() and not (tmp_path / "fs/1shot/summary.json").exists()  # one split
    assert out.index("1-shot val") < out.index("2-shot val")  # one table, a row per K in the given order


def test_repeated_shots_are_one_line_error(trained, task, run_eval, tmp_path):
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--shots", 2, "--shots", 4, "--shots", 2, "--train-list", task.train,
                              "--config", REPO / "configs/few_shot.yaml", "--out", tmp_path / "fs", "--workers", 0)
    assert code == 2 and "--shots 2 given more than once" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "fs").exists()  # refused before anything is written


def test_split_names_are_the_shortest_distinguishing_path_tails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert split_names(["test1.txt", "test2.txt"]) == ["test1", "test2"]  # unique stems: the stems
    assert split_names([f"lists/ucf101/split{i}/val.csv" for i in (1, 2, 3)]) == ["split1_val", "split2_val", "split3_val"]
    assert split_names(["a/x/val.csv", "b/x/val.csv", "c.csv"]) == ["a_x_val", "b_x_val", "c"]  # one tail length for all
    assert split_names(["lists/val.csv", "./lists/val.csv"]) == ["val_1", "val_2"]  # the same file twice: its positions
    assert split_names(["a/val.csv", "a/val.csv", "b/val.csv"]) == ["a_val_1", "a_val_2", "b_val"]
    assert split_names([tmp_path / "x/val.csv", "x/val.csv"]) == ["val_1", "val_2"]  # absolute and relative: one file
    assert split_names(["x/val.csv", "../elsewhere/x/val.csv"]) == [f"{tmp_path.name}_x_val", "elsewhere_x_val"]
    names = split_names(["val.csv", "val.csv", "val_1.csv"])  # a position suffix meeting another file's stem
    assert len(set(names)) == 3 and names == ["val_1", "val_2", "val_1_3"]
    assert split_names([]) == []


def test_make_splits_names_are_unique(tmp_path):
    labels = []
    for i in (1, 2):
        (tmp_path / f"split{i}").mkdir()
        labels.append(tmp_path / f"split{i}/labels.txt")
        labels[-1].write_text("a\nb\n")
    lists = [tmp_path / f"split{i}/val.csv" for i in (1, 2, 3)]
    assert [s.name for s in make_splits(lists, [labels[0]], [])] == ["split1_val", "split2_val", "split3_val"]
    assert [s.name for s in make_splits(lists[:2], labels, [])] == ["split1_labels", "split2_labels"]  # label files name them
    assert [s.name for s in make_splits([lists[0]], [labels[0], labels[0]], [])] == ["labels_1", "labels_2"]
    assert [s.name for s in make_splits([lists[0], lists[0]], [], ["a"])] == ["val_1", "val_2"]


def test_zero_shot_lists_with_one_file_name_write_distinct_folders(trained, task, run_eval, tmp_path):
    """alt-lists' layout: lists/ucf101/splitN/val.csv; three splits named "val" must not share one folder."""
    header, *rows = task.val.read_text().splitlines()
    kept = {1: rows, 2: rows[:6], 3: rows[3:]}  # different videos per split, so that their metrics differ in count
    lists = []
    for i, split_rows in kept.items():
        path = tmp_path / f"lists/ucf101/split{i}/val.csv"
        path.parent.mkdir(parents=True)
        path.write_text("\n".join([header, *split_rows]) + "\n")
        lists.append(path)
    code, out, err = run_eval("--checkpoint", trained / "best.pt", *[a for p in lists for a in ("--val-list", p)],
                              "--labels", task.labels, "--out", tmp_path / "zs", "--workers", 0)
    assert code == 0, err
    per_split = [json.loads((tmp_path / f"zs/split{i}_val/metrics.json").read_text()) for i in (1, 2, 3)]
    assert [m["videos"] for m in per_split] == [12, 6, 9]
    summary = json.loads((tmp_path / "zs/summary.json").read_text())
    assert summary["splits"] == 3 and summary["top1"] == pytest.approx(sum(m["top1"] for m in per_split) / 3)
    assert not (tmp_path / "zs/metrics.json").exists() and "split2_val" in out and "mean ± std" in out


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
