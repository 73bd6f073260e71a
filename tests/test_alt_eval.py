"""alt_model/evaluate.py and `alt-eval`: metrics, views, splits (zero-shot), K-shot, on the synthetic videos."""

from __future__ import annotations

import json

import pytest
import torch
from test_alt_fixtures import one_thread  # noqa: F401 - fixture
from videos import REPO, task, trained  # noqa: F401 - fixtures

from alt_model import ModelError
from alt_model.cli import eval_main
from alt_model.evaluate import Metrics, make_splits, parse_views, summarise
from alt_model.synthetic import CLASSES

LABELS = [c.name for c in CLASSES]


@pytest.fixture
def run_eval(run_main):
    return lambda *args: run_main(eval_main, *args)


def test_metrics_from_the_confusion_matrix():
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    m = Metrics(["a", "b", "c"], confusion, top5_correct=6, failed=1)
    assert m.count == 6 and m.top1 == pytest.approx(5 / 6) and m.top5 == 1.0
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
    assert metrics["videos"] == 12 and metrics["top1"] >= 0.5  # 4 classes: chance is 0.25
    assert set(metrics["per_class"]) == set(LABELS) and metrics["top5"] == 1.0
    rows = (tmp_path / "eval/confusion.csv").read_text().splitlines()
    assert len(rows) == 5 and sum(int(v) for row in rows[1:] for v in row.split(",")[1:]) == 12
    assert "top-1" in out and "val" in out


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


def test_kinetics_600_zero_shot_splits_are_160_classes_disjoint_from_kinetics_400(shared_labels):
    from corpus_builder.labels import read_labels

    k400 = set(read_labels([shared_labels / "kinetics_400_labels.csv"])[0])
    files = sorted((shared_labels / "k600_zeroshot_splits").glob("*.csv"))
    splits = make_splits(["k600_val.csv"], files, [])
    assert len(splits) == 3 and [len(s.labels) for s in splits] == [160, 160, 160]
    assert all(not set(s.labels) & k400 for s in splits)


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
