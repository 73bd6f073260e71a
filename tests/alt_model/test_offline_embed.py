"""The offline way to embed a corpus of your own: a model without published weights says how to get random ones,
and the command it names works as printed; and each step run on those random weights says so."""

from __future__ import annotations

import logging
import re
import shlex
import shutil

import torch

from alt_common.clip import RANDOM_WEIGHTS_WARNING
from corpus_builder.cli import main as corpus_main


def test_the_hint_for_a_test_model_names_an_offline_command_that_works(task, tmp_path, run_main, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    shutil.copytree(task.root, tmp_path / "synthetic")  # what 'alt-synthetic --out synthetic' leaves here
    (tmp_path / "labels.txt").write_text("pushing something from left to right\nwaving a hand\n", encoding="utf-8")
    code, _, err = run_main(corpus_main, "build", "--labels", "labels.txt", "--label-entities", "--out", "corpus.parquet")
    assert code == 0, err
    code, _, err = run_main(corpus_main, "embed", "corpus.parquet", "--model", "alt-tiny-clip", "--out", "corpus.pt")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "alt-synthetic --out synthetic" in err, err
    options = shlex.split(re.search(r"(--model \S+ --pretrained \S+)", err)[1])  # the options the hint names
    code, _, err = run_main(corpus_main, "embed", "corpus.parquet", *options, "--out", "corpus.pt")
    assert code == 0 and "warning: CLIP's weights are random (alt-synthetic's test model): these embeddings are not meaningful" in err
    bundle = torch.load(tmp_path / "corpus.pt", weights_only=True)
    assert bundle["model"] == "alt-tiny-vit" and bundle["embeddings"].shape[0] == 2


def test_training_and_evaluating_on_random_weights_say_so(task, trained, tmp_path, run_main, caplog):
    from alt_model.cli import eval_main
    from videos import train_tiny

    with caplog.at_level(logging.WARNING, logger="alt_model"):
        train_tiny(task, tmp_path / "run", epochs=1)
    assert [r.getMessage() for r in caplog.records].count(RANDOM_WEIGHTS_WARNING) == 1
    code, _, err = run_main(eval_main, "--checkpoint", trained / "best.pt", "--out", tmp_path / "eval", "--workers", 0)
    assert code == 0 and "predictions are not meaningful" in " ".join(err.split()), err
