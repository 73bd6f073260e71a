"""alt_model/config.py, train.py and `alt-train` on the synthetic videos: configs, optimizer groups, schedule,
loss going down, checkpoints, exact resume, one-line errors."""

from __future__ import annotations

import json

import pytest
import torch
from videos import REPO, tiny_overrides

from alt_common.errors import Failed
from alt_model import ALT, ModelError
from alt_model.checkpoint import CHECKPOINT_FORMAT_VERSION, TrainState, load_checkpoint
from alt_model.cli import train_main
from alt_model.config import dump, load_config, parse_overrides
from alt_model.schedule import BatchPlan, lr_factor
from alt_model.train import param_groups, train

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert cfg.train.betas == [0.9, 0.98] and cfg.train.global_batch % cfg.train.batch_size == 0


def test_shipped_configs_cover_the_recipes():
    assert {p.stem for p in CONFIGS} >= {"k400_vitb16_8f", "k400_vitb16_16f", "few_shot", "zero_shot", "tiny_cpu", "linear_probe"}
    probe = load_config(REPO / "configs/linear_probe.yaml")  # Table 8: a linear head alone, one-hot labels
    assert (probe.model.head, probe.train.freeze, probe.aug.mixup, probe.aug.cutmix, probe.aug.label_smoothing) == ("linear", "all-but-head", 0, 0, 0)
    k400, few = load_config(REPO / "configs/k400_vitb16_8f.yaml"), load_config(REPO / "configs/few_shot.yaml")
    assert (k400.train.lr_vit, k400.train.lr_adapter, k400.train.weight_decay, k400.train.global_batch) == (8e-6, 8e-5, 0.001, 256)
    assert few.train.lr_adapter == 10 * k400.train.lr_adapter and few.train.global_batch == 64
    # Table 1 tests at 3 clips × 1 crop; few- and zero-shot (Tables 2, 3) at a single view; best.pt: the last epoch (no holdout)
    zero, k400_16 = load_config(REPO / "configs/zero_shot.yaml"), load_config(REPO / "configs/k400_vitb16_16f.yaml")
    assert [(c.eval.clips, c.eval.crops) for c in (k400, k400_16, few, zero)] == [(3, 1), (3, 1), (1, 1), (1, 1)]
    assert [c.data.holdout for c in (k400, k400_16, few, zero)] == [0, 0, 0, 0]


def test_overrides_are_typed_and_typos_are_named():
    cfg = load_config(REPO / "configs/tiny_cpu.yaml", parse_overrides(["train.lr_vit=1e-3", "model.categories=object,body",
                                                                        "train.grad_clip=null", "model.align=false"]))
    assert cfg.train.lr_vit == 1e-3 and cfg.model.categories == ["object", "body"]
    assert cfg.train.grad_clip is None and cfg.model.align is False
    with pytest.raises(ModelError, match=r"unknown config key 'train.lr_vt' \(did you mean 'train.lr_vit'\?\)"):
        load_config(None, {"train.lr_vt": "1"})
    with pytest.raises(ModelError, match="train.epochs: expected int, got 'many'"):
        load_config(None, {"train.epochs": "many"})
    with pytest.raises(ModelError, match="not 'section.key=value'"):
        parse_overrides(["train.lr_vit"])
    with pytest.raises(ModelError, match="eval.crops must be 1 or 3"):
        load_config(None, {"eval.crops": "2"})


def test_two_learning_rates_and_no_decay_on_biases_and_norms(clip, corpus, tokenizer):
    model = ALT(clip, corpus, r=8, tokenizer=tokenizer, templates=["a video of {}"])
    groups = {g["name"]: g for g in param_groups(model, load_config(None))}
    assert set(groups) == {"vit", "vit_no_decay", "adapter", "adapter_no_decay"}
    assert groups["vit"]["lr"] == 8e-6 and groups["adapter"]["lr"] == 8e-5 and groups["vit"]["weight_decay"] == 0.001
    ids = {name: id(p) for name, p in model.named_parameters()}
    no_decay = {id(p) for p in groups["vit_no_decay"]["params"] + groups["adapter_no_decay"]["params"]}
    assert ids["encoder.visual.ln_pre.weight"] in no_decay and ids["adapter.head.0.bias"] in no_decay
    assert ids["text_head.logit_scale"] in no_decay and ids["encoder.visual.positional_embedding"] in no_decay
    assert ids["adapter.head.0.weight"] not in no_decay
    assert sum(len(g["params"]) for g in groups.values()) == len(list(model.parameters()))


def test_warm_up_is_linear_then_cosine_to_the_floor():
    factors = [lr_factor(s, 10, 110, 0.01) for s in range(110)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[60] == pytest.approx(0.505) and lr_factor(110, 10, 110, 0.01) == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))


def test_training_drives_the_loss_down_and_writes_the_run(trained):
    epochs = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in epochs if r["kind"] == "epoch"]
    assert len(losses) == 8 and losses[-1] < 0.7 * losses[0]
    steps = [r for r in epochs if r["kind"] == "step"]
    assert steps and {"loss", "lr_vit", "lr_adapter", "videos_per_s"} <= set(steps[0])
    assert {p.name for p in trained.iterdir()} >= {"config.yaml", "log.jsonl", "last.pt", "best.pt"}
    ckpt = load_checkpoint(trained / "last.pt")
    assert ckpt["epoch"] == 8 and ckpt["step"] == 24 and ckpt["config"]["train"]["epochs"] == 8
    assert {"python", "numpy", "torch"} <= set(ckpt["rng"][0]) and "entities" not in ckpt["model"]
    assert load_config(trained / "config.yaml").train.epochs == 8


def _run(task, out, **extra):
    return train(load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, out, **extra)), task.corpus)


@pytest.mark.parametrize("stop, extra, steps", [
    (3, {}, 6),
    (4, {}, 6),
    (3, {"data__holdout": 0.25, "eval__every": 1}, 4),  # 16 videos trained on, 2 steps an epoch; best.pt by the holdout
], ids=["at-epoch-end", "mid-epoch", "holdout-mid-epoch"])
def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(task, tmp_path, stop, extra, steps):
    common = dict(train__epochs=2, eval__every=0, aug__mixup=0.8, aug__cutmix=1.0, train__save_every=1) | extra
    whole = _run(task, tmp_path / "whole", **common)
    part = _run(task, tmp_path / "part", train__stop_after_steps=stop, **common)
    assert part.stopped and part.steps == stop
    cfg = load_config(None, base=load_checkpoint(tmp_path / "part/last.pt")["config"])
    cfg.train.stop_after_steps = None
    resumed = train(cfg, task.corpus, tmp_path / "part/last.pt")
    assert resumed.steps == whole.steps == steps
    a, b = load_checkpoint(tmp_path / "whole/last.pt"), load_checkpoint(tmp_path / "part/last.pt")
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert resumed.metrics.top1 == whole.metrics.top1
    best_a, best_b = load_checkpoint(tmp_path / "whole/best.pt"), load_checkpoint(tmp_path / "part/best.pt")
    assert (best_a["epoch"], best_a["best_top1"]) == (best_b["epoch"], best_b["best_top1"])
    assert all(torch.equal(best_a["model"][k], best_b["model"][k]) for k in best_a["model"])


def test_persistent_workers_augment_each_epoch_as_its_own(task, tmp_path):
    # One DataLoader serves the whole run with its workers kept alive: the epoch must travel with every index
    # (EpochOrder), or the workers' copy of the dataset would replay epoch 1's frames and crops in epoch 2.
    common = dict(train__epochs=2, eval__every=0, data__val_list="null", aug__mixup=0.8, aug__cutmix=1.0)
    _run(task, tmp_path / "main", data__workers=0, **common)
    _run(task, tmp_path / "workers", data__workers=2, **common)
    a, b = load_checkpoint(tmp_path / "main/last.pt"), load_checkpoint(tmp_path / "workers/last.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert [r["loss"] for r in _log(tmp_path / "main")] == [r["loss"] for r in _log(tmp_path / "workers")]


def test_the_loop_reads_nothing_back_from_the_device_between_log_lines(task, tmp_path, monkeypatch):
    # Every read of a tensor's value on the host (float(t), t.item(), t.tolist(), t.cpu()...) waits for the GPU. With
    # log_every beyond the epoch, the loop's own code (micro-batches, steps, their loss sums and checks) must make none:
    # only the epoch's end reads (its log line, the divergence check, the checkpoint).
    import sys

    reads: list[str] = []
    for method in ("__float__", "__int__", "__bool__", "item", "tolist", "cpu", "numpy"):
        original = getattr(torch.Tensor, method)

        def counted(self, *args, _original=original, **kwargs):
            caller = sys._getframe(1).f_code
            if "/alt_model/" in caller.co_filename:
                reads.append(caller.co_name if caller.co_name != "__init__" or "aligner" in caller.co_filename else caller.co_filename)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, counted)
    _run(task, tmp_path / "run", train__epochs=1, train__log_every=100, eval__every=0, data__val_list="null")
    # the model's construction (the aligner checks its scale), then the epoch's end: its sums, check and checkpoint
    assert set(reads) == {"__init__", "end_epoch", "sum_all", "first_bad_step", "on_cpu"}, sorted(set(reads))


def _log(run) -> list[dict]:
    return [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["kind"] == "step"]


def test_a_finite_loss_with_non_finite_gradients_stops_the_run_before_any_checkpoint_holds_them(task, tmp_path, monkeypatch):
    # The 5th backward (step 3's first micro-batch: 2 micro-batches a step) makes one parameter's gradient infinite
    # while every loss stays finite. The run must stop at step 3 and its last.pt (saved every step) be step 2's.
    from alt_model import train as train_module

    made, backwards = train_module.create_model, []

    def poisoned(*args, **kwargs):
        model = made(*args, **kwargs)
        weight = next(p for p in model.parameters() if p.requires_grad)
        weight.register_hook(lambda grad: backwards.append(1) or (grad * float("inf") if len(backwards) == 5 else grad))
        return model

    monkeypatch.setattr(train_module, "create_model", poisoned)
    with pytest.raises(Failed, match=r"not finite at step 3 \(epoch 1\); the run's last checkpoint is .*last\.pt, from before it"):
        _run(task, tmp_path / "run", train__epochs=2, train__save_every=1, eval__every=0, data__val_list="null")
    state = load_checkpoint(tmp_path / "run/last.pt")
    assert state["step"] == 2
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    assert not (tmp_path / "run/best.pt").exists()


@pytest.fixture
def run_train(run_main):
    return lambda *args: run_main(train_main, *args)


def _cli_overrides(task, out, **extra) -> list[str]:
    return [f"{k}={v}" for k, v in tiny_overrides(task, out, **extra).items()]


def test_cli_trains_and_refuses_to_overwrite_a_run(task, tmp_path, run_train):
    args = ["--corpus", task.corpus, "--config", REPO / "configs/tiny_cpu.yaml", *_cli_overrides(task, tmp_path / "run", train__epochs=1)]
    code, out, err = run_train(*args)
    assert code == 0, err
    assert "done: 1 epochs, 3 steps" in out and "val top-1" in out
    code, out, err = run_train(*args)
    assert code == 2 and "already holds a run" in err and "--resume" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_train(*args[:-1], "train.epochs=2", "--resume")
    assert code == 0 and "done: 2 epochs, 6 steps" in out


def test_out_names_the_run_folder_and_resume_finds_the_run_by_it(task, tmp_path, run_train):
    config = ["--corpus", task.corpus, "--config", REPO / "configs/tiny_cpu.yaml"]
    overrides = [o for o in _cli_overrides(task, tmp_path / "ignored", train__epochs=1) if not o.startswith("out=")]
    code, out, err = run_train(*config, *overrides, "--out", tmp_path / "run")
    assert code == 0 and (tmp_path / "run" / "last.pt").is_file() and not (tmp_path / "ignored").exists(), err
    code, out, err = run_train("--corpus", task.corpus, "--resume", "--out", tmp_path / "run", "train.epochs=2")  # the run's own config
    assert code == 0 and "done: 2 epochs, 6 steps" in out, err
    code, out, err = run_train("--corpus", task.corpus)
    assert code == 2 and "pass --config CONFIG.yaml (see configs/), or --resume --out RUN_FOLDER" in err


@pytest.mark.parametrize("extra, message", [
    (["train.lr_vt=1e-3"], "unknown config key 'train.lr_vt' (did you mean 'train.lr_vit'?)"),
    (["train.global_batch=6"], "train.global_batch 6 is not a multiple of train.batch_size"),
    (["data.labels=/nonexistent/labels.txt"], "labels.txt"),
    (["data.train_list=/nonexistent/train.csv"], "video list not found"),
])
def test_cli_errors_are_one_line(task, tmp_path, run_train, extra, message):
    code, out, err = run_train("--corpus", task.corpus, "--config", REPO / "configs/tiny_cpu.yaml",
                               *_cli_overrides(task, tmp_path / "run"), *extra)
    assert code == 2 and message in err.replace("\n", " ") and err.startswith("error:")
    assert "Traceback" not in err


def test_cli_rejects_a_missing_config_and_corpus(task, tmp_path, run_train):
    code, _, err = run_train("--corpus", task.corpus, "--config", tmp_path / "nope.yaml")
    assert code == 2 and "config not found" in err
    code, _, err = run_train("--corpus", tmp_path / "nope.pt", "--config", REPO / "configs/tiny_cpu.yaml", *_cli_overrides(task, tmp_path / "r"))
    assert code == 2 and "corpus.pt not found" in err


def test_a_checkpoint_of_a_newer_format_is_refused(tmp_path):
    torch.save({"model": {}, "config": {}, "format_version": CHECKPOINT_FORMAT_VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(ModelError, match=f"checkpoint format {CHECKPOINT_FORMAT_VERSION + 1} is newer than this toolkit.s"):
        load_checkpoint(tmp_path / "new.pt")


def test_a_checkpoint_is_a_train_state(trained, tmp_path):
    saved = load_checkpoint(trained / "last.pt")
    state = TrainState.from_dict(saved, "last.pt")
    assert (state.counters.epoch, state.counters.step, state.corpus) == (8, 24, saved["corpus"])
    assert state.to_dict().keys() == saved.keys()
    del saved["scheduler"], saved["epoch_sums"]
    with pytest.raises(ModelError, match="no scheduler, epoch_sums"):
        TrainState.from_dict(saved, "last.pt")


def test_accumulation_windows_cover_the_epoch_and_the_last_may_be_shorter():
    plan = BatchPlan(micro=7, accum=3)
    assert plan.steps_per_epoch == 3
    assert [plan.window(i) for i in range(7)] == [(3, False), (3, False), (3, True), (3, False), (3, False), (3, True), (1, True)]


def test_bare_commands_show_their_help(run_main):
    from alt_model.cli import eval_main
    from alt_model.explain_cli import main as explain_main

    for entry, words in ((train_main, "Train ALT on a video list"), (eval_main, "Evaluate an alt-train checkpoint"),
                         (explain_main, "Which corpus entities")):
        code, out, err = run_main(entry)
        assert code == 0 and "Usage:" in out and words in out and "--device" in out, err


def test_a_config_inherits_another_and_its_own_keys_win(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text("model:\n  frames: 16\n  r: 4\ntrain:\n  epochs: 3\n")
    (tmp_path / "sub/mid.yaml").write_text("inherit: ../base.yaml\nmodel:\n  r: 2\n")  # relative to the inheriting file
    (tmp_path / "sub/top.yaml").write_text("inherit: mid.yaml\ntrain:\n  epochs: 7\n")
    cfg = load_config(tmp_path / "sub/top.yaml", {"model.frames": "8"})
    assert (cfg.model.frames, cfg.model.r, cfg.train.epochs) == (8, 2, 7)  # the command line, mid, top win in turn
    assert "inherit" not in dump(cfg)  # the saved config is the resolved one
    sixteen = load_config(REPO / "configs/k400_vitb16_16f.yaml")  # the shipped 16-frame recipe is the 8-frame one, 16 frames
    assert sixteen.model.frames == 16 and sixteen.train.lr_vit == 8e-6 and (sixteen.eval.clips, sixteen.eval.crops) == (3, 1)


@pytest.mark.parametrize("files, message", [
    ({"a.yaml": "inherit: b.yaml\n", "b.yaml": "inherit: a.yaml\n"}, r"inherit in a circle \(a.yaml -> b.yaml -> a.yaml\)"),
    ({"a.yaml": "inherit: gone.yaml\n"}, r"gone.yaml: config not found"),
    ({"a.yaml": "inherit: [b.yaml]\n"}, "'inherit' names one config file"),
    ({"a.yaml": "inherit: b.yaml\n", "b.yaml": "model:\n  frame: 8\n"}, r"b.yaml: unknown config key 'model.frame'"),
])
def test_inheritance_errors_name_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ModelError, match=message):
        load_config(tmp_path / "a.yaml")
