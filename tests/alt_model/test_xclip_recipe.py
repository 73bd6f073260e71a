"""X-CLIP's recipe as microsoft/VideoX's X-CLIP code runs it (issue 28): the frozen logit scale (FIX_TEXT), no
gradient clipping, ImageNet's normalisation, mmaction's MultiScaleCrop and test crops, the prompts' visual projection,
timm's CosineLRScheduler as main.py steps it, the MIT's position embedding without weight decay, and X-CLIP without
prompts (ALT's Table 4a); each against an independent computation of what the released code does."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from timm.scheduler.cosine_lr import CosineLRScheduler
from tiny import make_clip
from videos import REPO, tiny_overrides

from alt_model import ModelError
from alt_model.checkpoint import load_checkpoint
from alt_model.config import TrainConfig, load_config
from alt_model.data import eval_transform, multiscale_box, tower_norm, train_transform
from alt_model.factory import create_model
from alt_model.hf_xclip import save_hf_xclip
from alt_model.schedule import BatchPlan, lr_lambdas
from alt_model.train import param_groups, train
from alt_model.xclip import XCLIP

LABELS = ["a dog", "playing the violin", "x"]
XCLIP_CONFIGS = ("xclip_k400_vitb16_8f.yaml", "xclip_few_shot.yaml", "xclip_zero_shot.yaml")
IMG_NORM_CFG = ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375))  # X-CLIP's datasets/build.py, on 0-255 pixels


def _video(batch: int = 2, frames: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _xclip(task, **overrides: str) -> XCLIP:
    torch.manual_seed(0)
    return create_model(load_config(None, {"model.arch": "xclip", "model.frames": "4", **overrides}), task.corpus)


def _normalised(pixels: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> [T, 3, H, W] as mmaction's Normalize does it, on 0-255 values."""
    x = torch.from_numpy(pixels.astype(np.float64)).permute(0, 3, 1, 2)
    return ((x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).float()


# ---------------------------------------------------------------------------------------------- the shipped switches


@pytest.mark.parametrize("name", XCLIP_CONFIGS)
def test_shipped_xclip_recipes_switch_to_the_released_codes_choices(name):
    x = load_config(REPO / "configs" / name)
    assert (x.model.logit_scale, x.model.norm, x.train.grad_clip, x.train.schedule) == ("frozen", "imagenet", None, "timm-cosine")
    alt = load_config(REPO / "configs/k400_vitb16_8f.yaml")
    assert (alt.model.logit_scale, alt.model.norm, alt.train.grad_clip, alt.train.schedule) == ("learned", "tower", 1.0, "warmup-cosine")


@pytest.mark.parametrize("key, value", [("model.logit_scale", "fixed"), ("model.norm", "clip"), ("train.schedule", "cosine")])
def test_unknown_switch_values_are_one_line_errors(key, value):
    with pytest.raises(ModelError, match=f"{key} must be one of") as exc:
        load_config(None, {key: value})
    assert "\n" not in str(exc.value)


# ---------------------------------------------------------------------------------------------- the logit scale


def test_xclips_logit_scale_is_frozen_and_a_training_step_leaves_it_at_100(task):
    model = _xclip(task, **{"model.logit_scale": "frozen"}).train()
    scale = model.text_head.logit_scale
    with torch.no_grad():
        scale.fill_(math.log(100))  # OpenAI CLIP's trained value
    before = scale.detach().clone()
    assert not scale.requires_grad
    groups = param_groups(model, load_config(None, {"model.arch": "xclip"}))
    assert all(p is not scale for g in groups for p in g["params"])
    optimizer = torch.optim.AdamW(groups, lr=1e-2)
    visual = model.encoder.visual.proj.detach().clone()
    F.cross_entropy(model(_video(), LABELS).logits, torch.tensor([0, 2])).backward()
    optimizer.step()
    assert torch.equal(scale.detach(), before) and float(scale.exp()) == pytest.approx(100, rel=1e-6)
    assert not torch.equal(model.encoder.visual.proj.detach(), visual)  # the step did train the rest


def test_the_logit_scale_switch_for_either_arch(task):
    assert not XCLIP(make_clip(), 4).text_head.logit_scale.requires_grad  # the released code's default
    assert XCLIP(make_clip(), 4, logit_scale="learned").text_head.logit_scale.requires_grad
    assert _xclip(task, **{"model.logit_scale": "learned"}).text_head.logit_scale.requires_grad
    alt = {v: create_model(load_config(None, {"model.logit_scale": v}), task.corpus) for v in ("learned", "frozen")}
    assert alt["learned"].text_head.logit_scale.requires_grad and not alt["frozen"].text_head.logit_scale.requires_grad
    with pytest.raises(ModelError, match="logit_scale must be one of frozen, learned"):
        XCLIP(make_clip(), 4, logit_scale="clamped")


# ---------------------------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("arch", ["xclip", "alt"])
def test_imagenet_norm_normalises_frames_with_xclips_img_norm_cfg(task, arch):
    frames = np.broadcast_to(np.array([0, 64, 128, 255], np.uint8).reshape(4, 1, 1, 1), (4, 64, 64, 3)).copy()
    frames[..., 1] //= 2  # three channels apart
    model = create_model(load_config(None, {"model.arch": arch, "model.frames": "4", "model.norm": "imagenet"}), task.corpus)
    mean, std = tower_norm(model.encoder.visual)
    expected = _normalised(frames, *IMG_NORM_CFG)
    torch.testing.assert_close(eval_transform(frames, 64, 1, mean, std)[0], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(train_transform(frames, 64, np.random.default_rng(0), mean=mean, std=std), expected, atol=1e-5, rtol=0)
    tower = create_model(load_config(None, {"model.arch": arch, "model.frames": "4"}), task.corpus)
    assert tower_norm(tower.encoder.visual) == (tuple(OPENAI_DATASET_MEAN), tuple(OPENAI_DATASET_STD))  # CLIP's, by default


# ---------------------------------------------------------------------------------------------- crops


def mmaction_multiscale_boxes(height: int, width: int, size: int, scales=(1, 0.875, 0.75, 0.66)) -> set[tuple[int, int, int, int]]:
    """Every (top, left, h, w) mmaction's MultiScaleCrop(input_size, scales, random_crop=False, max_wh_scale_gap=1)
    can cut from a height x width frame: its crop_sizes, candidate [w, h] pairs, snapping and 5 fixed offsets."""
    crop_sizes = [int(min(height, width) * s) for s in scales]
    boxes = set()
    for i, h in enumerate(crop_sizes):
        for j, w in enumerate(crop_sizes):
            if abs(i - j) > 1:
                continue
            crop_w, crop_h = (size if abs(c - size) < 3 else c for c in (w, h))
            w_step, h_step = (width - crop_w) // 4, (height - crop_h) // 4
            for x, y in ((0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)):
                boxes.add((y, x, crop_h, crop_w))
    return boxes


@pytest.mark.parametrize("height, width, size", [(256, 341, 224), (341, 256, 224), (73, 97, 64)])
def test_multiscale_crop_draws_exactly_mmactions_boxes(height, width, size):
    rng = np.random.default_rng(0)
    drawn = {multiscale_box(height, width, size, rng) for _ in range(4000)}
    assert drawn == mmaction_multiscale_boxes(height, width, size)


# The transforms resize uint8 frames in torch's uint8 kernel, which rounds to whole grey levels after each of its two
# separable passes (half a level each) and weighs in fixed point: 1.5 grey levels from the float reference at most,
# normalised by the smallest std (measured: 1.004; another box or flip of these noise frames is some 100 levels off)
GREY_LEVEL = 1.5 / (255 * min(OPENAI_DATASET_STD))


def test_train_transform_cuts_an_mmaction_box_from_the_frame_resized_to_256_224_of_the_input():
    frames = np.random.default_rng(0).integers(0, 256, (2, 73, 97, 3), dtype=np.uint8)  # already int(256 / 224 · 64) = 73 high
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    mean, std = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    candidates = []
    for top, left, h, w in mmaction_multiscale_boxes(73, 97, 64):
        crop = F.interpolate(pixels[..., top : top + h, left : left + w], size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        candidates += [(crop / 255 - mean) / std, (crop.flip(-1) / 255 - mean) / std]  # unflipped, flipped
    for seed in range(8):
        out = train_transform(frames, 64, np.random.default_rng(seed))
        assert any(torch.allclose(out, c, rtol=0, atol=GREY_LEVEL) for c in candidates), seed


@pytest.mark.parametrize("height, width", [(64, 151), (151, 64), (64, 64)])
def test_three_crops_are_mmactions_threecrop_of_the_frame_resized_to_the_input(height, width):
    frames = np.random.default_rng(1).integers(0, 256, (2, height, width, 3), dtype=np.uint8)  # shorter side = the input: no resize
    three = eval_transform(frames, 64, 3, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)
    if height == 64:  # ThreeCrop: crop_h == img_h, offsets 0, w_step, 2 · w_step with w_step = (img_w - crop_w) // 2
        step = (width - 64) // 2
        expected = [frames[:, :, k * step : k * step + 64] for k in range(3)]
    else:
        step = (height - 64) // 2
        expected = [frames[:, k * step : k * step + 64] for k in range(3)]
    for crop, pixels in zip(three, expected):
        torch.testing.assert_close(crop, _normalised(pixels, [255 * m for m in OPENAI_DATASET_MEAN], [255 * s for s in OPENAI_DATASET_STD]),
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("size, short", [(64, 73), (60, 68)])  # int(256 / 224 · size), as X-CLIP's scale_resize: 60 -> 68 (68.57)
def test_one_crop_is_the_centre_of_the_frame_resized_to_int_256_224_of_the_input(size, short):
    frames = np.random.default_rng(2).integers(0, 256, (2, 90, 120, 3), dtype=np.uint8)
    long = int(120 * short / 90 + 0.5)  # mmcv's rescale_size
    resized = F.interpolate(torch.from_numpy(frames).permute(0, 3, 1, 2).float(), size=(short, long), mode="bilinear",
                            align_corners=False, antialias=True)
    top, left = (short - size) // 2, (long - size) // 2  # mmaction's CenterCrop
    expected = (resized[..., top : top + size, left : left + size] / 255 - torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(eval_transform(frames, size, 1)[0], expected, rtol=0, atol=GREY_LEVEL)


# ---------------------------------------------------------------------------------------------- the model


def test_the_prompts_visual_projection_starts_standard_normal_as_the_released_code():
    proj = XCLIP(make_clip(), 4).prompts.visual_proj  # models/xclip.py: torch.randn(vision_width, embed_dim), unscaled
    assert proj.shape == (64, 32) and 0.9 < float(proj.detach().std()) < 1.1 and abs(float(proj.detach().mean())) < 0.1


def test_xclip_without_prompts_builds_and_its_logits_are_the_scaled_cosine_to_the_class_features(task, tmp_path):
    model = _xclip(task, **{"model.prompt_layers": "0"}).eval()
    assert model.prompts is None and not any(name.startswith("prompts.") for name in model.state_dict())
    video = _video()
    classes = model.text_head.class_embeddings(LABELS)
    with torch.no_grad():
        out = model(video, LABELS)
        v = model.mit(model.encoder(video).cls)  # Eq. 6, by hand
    expected = model.text_head.logit_scale.exp() * F.normalize(v, dim=-1) @ F.normalize(classes, dim=-1).T
    torch.testing.assert_close(out.logits, expected, atol=1e-5, rtol=0)
    for overrides, message in (({"model.prompt_layers": "-1"}, "prompt_layers at least 0"), ({"model.mit_layers": "0"}, "mit_layers must be at least 1")):
        with pytest.raises(ModelError, match=message):
            load_config(None, {"model.arch": "xclip", **overrides})
    with pytest.raises(ModelError, match="prompt_layers at least 0"):
        XCLIP(make_clip(), 4, prompt_layers=-1)
    with pytest.raises(ModelError, match="has no Hugging Face X-CLIP layout; keep its alt-train checkpoint"):
        save_hf_xclip(model, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_the_mit_position_embedding_and_every_1d_weight_or_bias_escape_weight_decay(task):
    model = _xclip(task)
    groups = param_groups(model, load_config(None, {"model.arch": "xclip"}))
    decay = {id(p): g["weight_decay"] > 0 for g in groups for p in g["params"]}
    positional = {"encoder.visual.positional_embedding", "mit.position_embedding"}  # the released code's 'positional_embedding' keyword
    for name, p in model.named_parameters():
        if p.requires_grad:  # utils/optimizer.py: no decay for 1-D parameters, biases and the keyword's parameters
            assert decay[id(p)] == (p.ndim >= 2 and not name.endswith(".bias") and name not in positional), name
    assert not decay[id(model.mit.position_embedding)]


# ---------------------------------------------------------------------------------------------- the schedule


def xclip_lrs(micro: int, accum: int, epochs: int, warmup_epochs: float, peaks: list[float]) -> list[list[float]]:
    """The lr of every parameter group at every optimizer step of X-CLIP's main.py: timm's CosineLRScheduler built as
    utils/optimizer.py builds it, step_update(epoch · len(loader) + idx) after each optimizer step."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in peaks]
    optimizer = torch.optim.AdamW([{"params": [p], "lr": lr} for p, lr in zip(params, peaks)])
    scheduler = CosineLRScheduler(optimizer, t_initial=int(epochs * micro), lr_min=peaks[0] / 100, warmup_lr_init=0,
                                  warmup_t=int(warmup_epochs * micro), cycle_limit=1, t_in_epochs=False)
    lrs = []
    for epoch in range(epochs):
        for idx in range(micro):
            if (idx + 1) % accum == 0:
                lrs.append([g["lr"] for g in optimizer.param_groups])
                scheduler.step_update(epoch * micro + idx)
    return lrs


def our_lrs(plan: BatchPlan, tc: TrainConfig, peaks: list[float]) -> list[list[float]]:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in peaks]
    optimizer = torch.optim.AdamW([{"params": [p], "lr": lr} for p, lr in zip(params, peaks)])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambdas(optimizer, tc, plan, 0, 0))
    lrs = []
    for _ in range(tc.epochs * plan.steps_per_epoch):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("micro, accum, epochs, warmup", [(12, 3, 4, 1.0), (10, 1, 3, 0.5), (8, 4, 5, 0.0), (20, 2, 30, 5.0)])
def test_timm_cosine_is_timms_scheduler_as_xclips_main_steps_it(micro, accum, epochs, warmup):
    peaks = [8e-6, 8e-5]  # CLIP's weights and the new modules (10x); both end at 8e-8, X-CLIP's lr_min = LR / 100
    tc = TrainConfig(epochs=epochs, warmup_epochs=warmup, lr_vit=peaks[0], lr_adapter=peaks[1], schedule="timm-cosine")
    expected, ours = xclip_lrs(micro, accum, epochs, warmup, peaks), our_lrs(BatchPlan(micro, accum), tc, peaks)
    assert len(ours) == len(expected) == epochs * micro // accum
    for step, (a, b) in enumerate(zip(ours, expected)):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-20), step


def test_the_xclip_switches_train_end_to_end(task, tmp_path):
    """The tiny task with X-CLIP's switches: the logged lrs are timm's, the logit scale ends where CLIP left it."""
    overrides = tiny_overrides(task, tmp_path / "x", model__arch="xclip", model__logit_scale="frozen", model__norm="imagenet",
                               train__grad_clip="null", train__schedule="timm-cosine", train__epochs=2, train__warmup_epochs=1,
                               train__log_every=1, eval__every=0)
    cfg = load_config(REPO / "configs/tiny_cpu.yaml", overrides)
    train(cfg, task.corpus)
    steps = [r for r in map(json.loads, (tmp_path / "x/log.jsonl").read_text().splitlines()) if r["kind"] == "step"]
    # 24 videos, 4 per micro-batch, 8 per step: 6 micro-batches and 3 steps an epoch; a step's line logs the next step's lr
    expected = xclip_lrs(6, 2, 2, 1.0, [cfg.train.lr_vit, cfg.train.lr_adapter])[1:]
    assert len(steps) == 6
    for record, (vit, adapter) in zip(steps, expected):
        assert record["lr_vit"] == pytest.approx(vit, rel=1e-9) and record["lr_adapter"] == pytest.approx(adapter, rel=1e-9)
    weights = load_checkpoint(tmp_path / "x/last.pt")["model"]
    assert float(weights["text_head.logit_scale"]) == pytest.approx(math.log(1 / 0.07), rel=1e-6)  # open_clip's initial value
