"""The configs ship inside the package (issue 30, items 2, 6 and 10): `--config NAME` names a packaged config from
any folder, `alt-train --list-configs` lists them, `alt-train --resume --out RUN` reads the corpus from the run
(so the Ctrl-C hint is a command that works), and alt-eval's --labels has its -l."""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
from pathlib import Path

import pytest
import torch
from videos import REPO, interrupt_at_step, tiny_overrides

from alt_model import ModelError
from alt_model.checkpoint import load_checkpoint
from alt_model.cli import eval_main, train_main
from alt_model.config import configs_dir, load_config, packaged_configs, resolve_config

SHIPPED = sorted((REPO / "configs").glob("*.yaml"))
TINY = REPO / "configs" / "tiny_cpu.yaml"  # the resume tests start from the file: what they test is --resume alone


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working folder outside the repository: no configs/ beside it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def run_train(run_main):
    return lambda *args: run_main(train_main, *args)


@pytest.fixture
def run_eval(run_main):
    return lambda *args: run_main(eval_main, *args)


def _overrides(task, out, **extra) -> list[str]:
    return [f"{k}={v}" for k, v in tiny_overrides(task, out, **extra).items()]


def test_every_config_of_the_repository_is_packaged():
    assert [name for name, _ in packaged_configs()] == [p.stem for p in SHIPPED]
    for path in SHIPPED:
        assert (configs_dir() / path.name).read_bytes() == path.read_bytes()


def test_a_name_with_or_without_yaml_names_a_packaged_config(elsewhere):
    for name in ("tiny_cpu", "tiny_cpu.yaml", "configs/tiny_cpu.yaml"):  # the last as the docs write it, from any folder
        resolved = resolve_config(name)
        assert resolved.is_absolute() and resolved.read_bytes() == (REPO / "configs/tiny_cpu.yaml").read_bytes(), name
    assert load_config("tiny_cpu").out == "runs/tiny_cpu"
    child = load_config("k400_vitb16_16f")  # its `inherit: k400_vitb16_8f.yaml`, beside it in the package
    assert (child.model.frames, child.train.lr_vit, child.train.global_batch) == (16, 8e-6, 256)


def test_an_existing_file_wins_over_a_packaged_name(elsewhere):
    (elsewhere / "tiny_cpu.yaml").write_text("train:\n  epochs: 2\n", encoding="utf-8")
    (elsewhere / "few_shot").write_text("train:\n  epochs: 3\n", encoding="utf-8")
    assert resolve_config("tiny_cpu.yaml") == Path("tiny_cpu.yaml") and resolve_config("few_shot") == Path("few_shot")
    assert load_config("tiny_cpu.yaml").train.epochs == 2 and load_config("few_shot").train.epochs == 3
    assert load_config("tiny_cpu").train.epochs == 12  # no file "tiny_cpu": the packaged config


@pytest.mark.parametrize("name", ["tiny_gpu", "tiny_gpu.yaml", "configs/tiny_gpu.yaml", "elsewhere/tiny_cpu.yaml", "."])
def test_an_unknown_config_is_one_line_listing_the_packaged_names(elsewhere, name):
    with pytest.raises(ModelError) as caught:
        resolve_config(name)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{name}: config not found")
    assert all(p.stem in message for p in SHIPPED) and "alt-train --list-configs" in message


def test_list_configs_names_each_packaged_config_and_its_purpose(run_train, elsewhere):
    code, out, err = run_train("--list-configs")  # no --corpus, no --config
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(SHIPPED)
    for line, path in zip(lines, SHIPPED):
        lines_of = path.read_text(encoding="utf-8").splitlines()
        header = " ".join(line[1:].strip() for line in itertools.takewhile(lambda line: line.startswith("#"), lines_of))
        name, purpose = line.split(maxsplit=1)
        assert name == path.stem and header.startswith(purpose.rstrip("."))  # the header's first sentence or title
        assert 10 <= len(purpose) <= 160 and purpose.count("(") == purpose.count(")")
    assert "few_shot              K-shot transfer (paper Sec. 4.2; supplementary A)\n" in out  # up to the colon outside brackets
    assert "--config NAME" in err


def test_alt_train_config_by_name_from_another_folder(task, run_train, elsewhere):
    code, out, err = run_train("--corpus", task.corpus, "--config", "tiny_cpu",
                               *_overrides(task, "run", train__epochs=1, eval__every=0, data__val_list="null"))
    assert code == 0, err
    assert "done: 1 epochs, 3 steps" in out and (elsewhere / "run" / "last.pt").is_file()
    saved = load_checkpoint(elsewhere / "run" / "last.pt")["config"]
    assert saved["train"]["lr_adapter"] == 1e-3 and saved["model"]["r"] == 8  # tiny_cpu.yaml's values


def test_alt_train_unknown_config_name_is_one_line(task, run_train, elsewhere):
    code, out, err = run_train("--corpus", task.corpus, "--config", "tiny_cpuu")
    assert code == 2 and err.startswith("error: tiny_cpuu: config not found") and len(err.strip().splitlines()) == 1
    assert "tiny_cpu" in err and "--list-configs" in err and not (elsewhere / "runs").exists()


def test_a_fresh_run_without_corpus_is_one_line(run_train, elsewhere):
    code, out, err = run_train("--config", "tiny_cpu")
    assert code == 2 and err.startswith("error: pass --corpus") and len(err.strip().splitlines()) == 1, err
    assert "Missing option" not in err and not (elsewhere / "runs").exists()


def test_the_ctrl_c_hint_resumes_the_run_with_its_own_corpus(task, run_train, elsewhere, monkeypatch):
    shutil.copy(task.corpus, elsewhere / "corpus.pt")
    common = _overrides(task, "run", train__epochs=2, eval__every=0, train__save_every=1)
    with monkeypatch.context() as patch:
        interrupt_at_step(patch, 3)  # last.pt after step 2, mid-epoch 1
        code, out, err = run_train("--corpus", "corpus.pt", "--config", TINY, *common)
    assert code == 130, err
    hint = err.strip().splitlines()[-1]
    assert hint.startswith("interrupted; the run's last checkpoint is run/last.pt; continue with "), hint
    command = shlex.split(hint.split("continue with ", 1)[1])
    assert command[0] == "alt-train" and "--corpus" not in command and "--config" not in command
    assert load_checkpoint(elsewhere / "run/last.pt")["step"] == 2

    (elsewhere / "corpus.pt").rename(elsewhere / "moved.pt")  # the run's corpus gone: say so, in one line
    code, out, err = run_train(*command[1:])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{elsewhere / 'corpus.pt'}: the corpus the run trained with" in err and "pass --corpus" in err
    (elsewhere / "moved.pt").rename(elsewhere / "corpus.pt")

    code, out, err = run_train(*command[1:])  # the hint exactly as printed
    assert code == 0, err
    assert "done: 2 epochs, 6 steps" in out
    resumed = load_checkpoint(elsewhere / "run/last.pt")
    assert (resumed["epoch"], resumed["step"], resumed["corpus"]) == (2, 6, str(elsewhere / "corpus.pt"))

    # where the same run uninterrupted ends: the same steps and weights
    code, out, err = run_train("--corpus", "corpus.pt", "--config", TINY, *_overrides(task, "whole", train__epochs=2, eval__every=0,
                                                                                            train__save_every=1))
    assert code == 0 and "done: 2 epochs, 6 steps" in out, err
    whole = load_checkpoint(elsewhere / "whole/last.pt")
    assert whole["model"].keys() == resumed["model"].keys()
    assert all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"])


def test_resume_without_corpus_continues_a_stopped_run(task, run_train, elsewhere):
    code, out, err = run_train("--corpus", task.corpus, "--config", TINY,
                               *_overrides(task, "run", train__epochs=2, eval__every=0, train__stop_after_steps=4))
    assert code == 0 and "stopped: 1 epochs, 4 steps" in out, err
    code, out, err = run_train("--resume", "--out", "run", "train.stop_after_steps=null")
    assert code == 0 and "done: 2 epochs, 6 steps" in out, err
    assert json.loads((elsewhere / "run/log.jsonl").read_text().splitlines()[-1])["step"] == 6


def test_alt_eval_few_shot_config_by_name(trained, task, run_eval, elsewhere):
    code, out, err = run_eval("--checkpoint", trained / "best.pt", "--shots", 2, "--train-list", task.train, "--config", "few_shot",
                              "--out", "fs", "model.frames=8", "train.epochs=1", "train.batch_size=4", "train.global_batch=8",
                              "data.workers=0", "--workers", 0)
    assert code == 0, err
    cfg = load_checkpoint(elsewhere / "fs/2shot/run/last.pt")["config"]
    assert cfg["train"]["lr_adapter"] == 8e-4 and cfg["data"]["shots"] == 2  # few_shot.yaml's adapter lr x10
    assert "2-shot val" in out


def test_alt_eval_labels_has_its_short_flag(run_eval, elsewhere):
    import typer

    from alt_model.cli import eval_app

    (option,) = [p for p in typer.main.get_command(eval_app).params if p.name == "labels"]
    assert set(option.opts) == {"--labels", "-l"}
    code, out, err = run_eval("--checkpoint", "missing.pt", "-l", "labels.txt")
    assert code == 2 and "No such option" not in err and "missing.pt" in err, err
