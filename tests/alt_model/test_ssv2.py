"""Something-Something V2's configs (supplementary Tables C2 and C3): they load and inherit the Kinetics and few-shot
recipes, and they train without horizontal flips, which would swap SSv2's left/right classes ("Pushing something from
left to right"); train_transform's flip=0.0 never mirrors a clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from videos import REPO, Task, tiny_overrides

import alt_model.data
from alt_model.config import load_config, to_dict
from alt_model.data import train_transform
from alt_model.train import train

CONFIGS = REPO / "configs"
SSV2 = CONFIGS / "ssv2_vitb16_32f.yaml"
K400 = CONFIGS / "k400_vitb16_8f.yaml"
# what ssv2_vitb16_32f.yaml sets itself; every other key is k400_vitb16_8f.yaml's
SSV2_OWN = {"model.frames": 32, "aug.flip": 0.0, "data.labels": "lists/ssv2/labels.txt", "data.train_list": "lists/ssv2/train.csv",
            "data.val_list": "lists/ssv2/val.csv", "data.video_root": "/data/ssv2/20bn-something-something-v2", "train.batch_size": 2,
            "eval.clips": 1, "eval.crops": 3, "out": "runs/ssv2_vitb16_32f"}


def flat(tree: dict, prefix: str = "") -> dict:
    return {k: v for key, value in tree.items()
            for k, v in (flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}).items()}


def test_the_ssv2_config_is_the_kinetics_recipe_at_32_frames_without_flips_and_3_crops():
    ssv2, k400 = flat(to_dict(load_config(SSV2))), flat(to_dict(load_config(K400)))
    assert {key: ssv2[key] for key in SSV2_OWN} == SSV2_OWN
    assert k400["aug.flip"] == 0.5 and k400["model.frames"] == 8  # so the keys above are overridden, not inherited
    assert {k: v for k, v in ssv2.items() if k not in SSV2_OWN} == {k: v for k, v in k400.items() if k not in SSV2_OWN}
    # the inherited recipe is the paper's K-400 one, not the defaults': spot-check keys the defaults do not have
    assert (ssv2["model.name"], ssv2["model.pretrained"], ssv2["train.global_batch"], ssv2["eval.every"]) == ("ViT-B-16", "openai", 256, 5)
    assert ssv2["train.global_batch"] % (8 * ssv2["train.batch_size"]) == 0  # 8 GPUs x 2 x 16 accumulation


@pytest.mark.parametrize("base", [K400, SSV2])
def test_the_ssv2_few_shot_recipe_applies_over_a_saved_config_through_its_inherit(base):
    # alt-eval --shots: load_config(config, overrides, base=the checkpoint's saved config), so inherit: must work there too
    saved = to_dict(load_config(base))
    cfg = load_config(CONFIGS / "ssv2_few_shot.yaml", {}, base=saved)
    assert cfg.aug.flip == 0.0 and cfg.train.lr_adapter == 8e-4 and cfg.model.frames == 32
    assert (cfg.train.global_batch, cfg.train.epochs, cfg.eval.clips, cfg.eval.crops) == (64, 50, 1, 1)
    assert cfg.data.video_root == "/data/ssv2/20bn-something-something-v2"
    few = flat(to_dict(load_config(CONFIGS / "few_shot.yaml", {}, base=saved)))
    ours = flat(to_dict(cfg))
    assert {k for k in ours if ours[k] != few[k]} <= {"aug.flip", "data.video_root"}
    assert (ours["model.name"], ours["model.pretrained"]) == ("ViT-B-16", "openai")  # the saved config's, kept
    assert load_config(CONFIGS / "ssv2_few_shot.yaml").aug.flip == 0.0  # and on its own


def _train_recording_flips(config: Path, task: Task, out: Path, monkeypatch) -> list[float]:
    """One tiny epoch of `config` on 4 of the task's videos; the flip probability of every train_transform call."""
    flips: list[float] = []

    def recording(frames, size, rng, scales=alt_model.data.SCALES, flip=0.5, *args, **kwargs):
        flips.append(flip)
        return train_transform(frames, size, rng, scales, flip, *args, **kwargs)

    monkeypatch.setattr(alt_model.data, "train_transform", recording)
    rows = task.train.read_text().splitlines()
    first = {row.rsplit(",", 1)[1]: row for row in reversed(rows[1:])}  # each class's first video
    one_per_class = [rows[0], *first.values()]
    train_list = out.parent / f"{out.name}_train.csv"
    train_list.write_text("\n".join(one_per_class) + "\n")
    # tiny and offline: the tiny corpus's CLIP (name/pretrained null), 8 frames, one step of 4 videos, no evaluation
    overrides = tiny_overrides(task, out, model__name="null", model__pretrained="null", model__frames=8, data__train_list=train_list,
                               data__val_list="null", train__epochs=1, train__warmup_epochs=0, train__batch_size=4,
                               train__global_batch=4, aug__mixup=0, aug__cutmix=0, eval__every=0, eval__clips=1, eval__crops=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(load_config(config, overrides), task.corpus)
    finally:
        torch.set_num_threads(threads)
    assert result.epochs_done == 1 and result.steps == 1
    return flips


def test_an_ssv2_config_trains_the_synthetic_task_without_flips(task, tmp_path, monkeypatch):
    flips = _train_recording_flips(SSV2, task, tmp_path / "ssv2", monkeypatch)
    assert len(flips) == 4 and set(flips) == {0.0}


def test_the_kinetics_config_it_inherits_from_does_flip(task, tmp_path, monkeypatch):
    flips = _train_recording_flips(K400, task, tmp_path / "k400", monkeypatch)
    assert len(flips) == 4 and set(flips) == {0.5}


def test_flip_zero_never_mirrors_and_flip_one_mirrors_the_same_crop():
    # train_transform draws the crop (multiscale_box: size, then position) before the flip (rng.random() < flip): with the
    # same seed the crop is the same, and flip=1.0 always mirrors it, flip=0.0 never
    frames = np.random.default_rng(0).integers(0, 256, (4, 48, 80, 3), dtype=np.uint8)
    mirrored_at_half = 0
    for seed in range(20):
        kept = train_transform(frames, 32, np.random.default_rng(seed), flip=0.0)
        flipped = train_transform(frames, 32, np.random.default_rng(seed), flip=1.0)
        half = train_transform(frames, 32, np.random.default_rng(seed), flip=0.5)
        assert torch.equal(flipped, kept.flip(-1)), f"seed {seed}: flip=1.0 is not flip=0.0's crop mirrored"
        assert not torch.equal(kept, flipped), f"seed {seed}: flip=0.0 mirrored the clip"
        assert torch.equal(half, kept) or torch.equal(half, flipped)
        mirrored_at_half += torch.equal(half, flipped)
    assert 0 < mirrored_at_half < 20  # the seeds exercise both outcomes of the draw that flip=0.0 always refuses
