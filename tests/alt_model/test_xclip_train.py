"""X-CLIP through the same factory, trainer and evaluator as ALT (`model.arch: xclip`): its config keys, X-CLIP's
learning-rate split, training above chance on the synthetic task, bit-exact resume, two-process training and the
shipped recipes, which inherit ALT's."""

from __future__ import annotations

import json

import pytest
import torch
from test_ddp import _epochs, _torchrun
from transformers import XCLIPModel
from videos import REPO, tiny_overrides

from alt_model.checkpoint import load_checkpoint
from alt_model.cli import eval_main
from alt_model.config import _flatten, load_config, to_dict
from alt_model.evaluate import evaluate_checkpoint, make_splits
from alt_model.explain_cli import main as explain_main
from alt_model.factory import create_model, load_trained
from alt_model.hf_xclip import save_hf_xclip
from alt_model.predict_cli import export_main, predict_main
from alt_model.train import param_groups, train
from alt_model.xclip import NEW_MODULES, XCLIP


def _run(task, out, **extra):
    return train(load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, out, model__arch="xclip", **extra)), task.corpus)


def test_model_arch_builds_xclip_from_its_own_keys(task):
    cfg = load_config(None, {"model.arch": "xclip", "model.mit_layers": "2", "model.prompt_layers": "1", "model.prompt_alpha": "0.3",
                             "model.frames": "4"})
    model = create_model(cfg, task.corpus)
    assert isinstance(model, XCLIP) and model.num_frames == 4
    assert len(model.mit.transformer.resblocks) == 2 and len(model.prompts.blocks) == 1
    assert float(model.prompts.alpha.detach().flatten()[0]) == pytest.approx(0.3)
    groups = {g["name"]: {id(p) for p in g["params"]} for g in param_groups(model, cfg)}
    new = {id(p) for name, p in model.named_parameters() if name.startswith(NEW_MODULES)}
    assert groups["adapter"] | groups["adapter_no_decay"] == new  # X-CLIP's additions at lr_adapter (10x), CLIP's at lr_vit
    assert groups["vit"] | groups["vit_no_decay"] == {id(p) for p in model.parameters()} - new
    with pytest.raises(Exception, match="model.mit_layers must be at least 1 and model.prompt_layers at least 0"):
        load_config(None, {"model.arch": "xclip", "model.mit_layers": "0"})


def test_xclip_trains_above_chance_and_alt_eval_reads_it_as_a_checkpoint_and_as_a_released_folder(task, tmp_path, run_main):
    result = _run(task, tmp_path / "x", train__epochs=6, eval__every=6)
    epochs = [json.loads(line) for line in (tmp_path / "x/log.jsonl").read_text().splitlines() if '"epoch"' in line]
    losses = [r["train_loss"] for r in epochs if r["kind"] == "epoch"]
    assert losses[-1] < 0.8 * losses[0] and result.metrics.top1 > 0.5  # chance: 0.25 (measured: 1.0 after 12 epochs)
    splits = make_splits([task.val], [task.labels], [])
    again = evaluate_checkpoint(tmp_path / "x/last.pt", splits, views=(2, 3))[0]
    assert again.count == 12 and again.top1 > 0.5
    # the same weights as a released X-CLIP folder (HF's layout): saved bare, it needs --labels
    model, _, _ = load_trained(tmp_path / "x/last.pt")
    save_hf_xclip(model, tmp_path / "hf")
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    released = evaluate_checkpoint(tmp_path / "hf", splits, video_root=task.root, views=(2, 3))[0]
    assert released.summary() == again.summary()  # preprocessor_config.json carries the run's frame normalisation
    code, _, err = run_main(eval_main, "--checkpoint", tmp_path / "hf", "--val-list", task.val, "--video-root", task.root)
    assert code == 2 and "pass --labels (a released model carries none)" in err and "Traceback" not in err
    # alt-export writes an X-CLIP run in HF's layout, its labels as id2label: transformers loads it, alt-eval needs no --labels
    code, _, err = run_main(export_main, tmp_path / "x/last.pt", tmp_path / "exported")
    assert code == 0, err
    hf = XCLIPModel.from_pretrained(tmp_path / "exported")
    assert list(hf.config.id2label.values()) == task.labels.read_text().split("\n")[:4]
    code, _, err = run_main(eval_main, "--pretrained", tmp_path / "exported", "--val-list", task.val, "--video-root", task.root,
                            "--views", "2x3")
    assert code == 0, err
    assert json.loads((tmp_path / "exported_eval/metrics.json").read_text())["top1"] == again.top1
    video = next(task.root.rglob("val_*.mp4"))
    code, _, _ = run_main(predict_main, video, "--pretrained", tmp_path / "exported", "--out", tmp_path / "p.jsonl")
    line = json.loads((tmp_path / "p.jsonl").read_text())
    assert code == 0 and len(line["predictions"]) == 4 and sum(x["probability"] for x in line["predictions"]) == pytest.approx(1, abs=1e-4)
    code, _, err = run_main(predict_main, video, "--checkpoint", tmp_path / "x/last.pt", "--entities", "--out", tmp_path / "e.jsonl")
    assert code == 2 and "this XCLIP model aligns none" in err and not (tmp_path / "e.jsonl").exists()
    code, _, err = run_main(explain_main, video, "--checkpoint", tmp_path / "x/last.pt", "--out", tmp_path / "explained")
    assert code == 2 and "an xclip run aligns no regions to the corpus" in err and not (tmp_path / "explained").exists()


def test_xclip_resume_ends_with_the_same_weights(task, tmp_path):
    common = dict(train__epochs=2, eval__every=0, aug__mixup=0.8, aug__cutmix=1.0, train__save_every=1)
    _run(task, tmp_path / "whole", **common)
    _run(task, tmp_path / "part", train__stop_after_steps=3, **common)
    cfg = load_config(None, base=load_checkpoint(tmp_path / "part/last.pt")["config"])
    cfg.train.stop_after_steps = None
    train(cfg, task.corpus, tmp_path / "part/last.pt")
    a, b = load_checkpoint(tmp_path / "whole/last.pt")["model"], load_checkpoint(tmp_path / "part/last.pt")["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_two_process_xclip_training_matches_one_process(task, tmp_path):
    extra = dict(train__epochs=1, eval__every=0, model__arch="xclip", train__batch_size=2)
    train(load_config(REPO / "configs/tiny_cpu.yaml", tiny_overrides(task, tmp_path / "one", **{**extra, "train__batch_size": 4})),
          task.corpus)
    overrides = [f"{k}={v}" for k, v in tiny_overrides(task, tmp_path / "two", **extra).items()]
    _torchrun(tmp_path, "train_main", "--corpus", task.corpus, "--config", REPO / "configs/tiny_cpu.yaml", *overrides)
    one, two = _epochs(tmp_path / "one"), _epochs(tmp_path / "two")
    assert [r["videos"] for r in two] == [24] and two[0]["train_loss"] == pytest.approx(one[0]["train_loss"], rel=1e-3)


def test_shipped_xclip_recipes_are_alts_with_xclips_differences():
    alt = _flatten(to_dict(load_config(REPO / "configs/k400_vitb16_8f.yaml")))
    xclip = _flatten(to_dict(load_config(REPO / "configs/xclip_k400_vitb16_8f.yaml")))
    assert {k for k in alt if alt[k] != xclip[k]} == {"model.arch", "model.templates", "model.logit_scale", "model.norm", "train.grad_clip",
                                                      "train.schedule", "eval.clips", "eval.crops", "out"}
    assert (xclip["model.arch"], xclip["model.templates"], xclip["eval.clips"], xclip["eval.crops"]) == ("xclip", ["{}"], 4, 3)
    few, zero = load_config(REPO / "configs/xclip_few_shot.yaml"), load_config(REPO / "configs/xclip_zero_shot.yaml")
    assert (few.model.arch, few.model.frames, few.train.global_batch, few.train.lr_vit, few.train.lr_adapter) == ("xclip", 32, 64, 2e-6, 2e-5)
    assert (zero.model.arch, zero.model.frames, zero.eval.clips, zero.eval.crops) == ("xclip", 32, 1, 1)
