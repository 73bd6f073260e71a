"""alt_model/xclip_official.py: the official X-CLIP checkpoints of microsoft/VideoX as our XCLIP. A tiny state dict with
the official code's names and shapes, saved bare, as `epoch_saving` writes it (a pickled yacs config beside it) and with
a DDP prefix, gives the logits of transformers' XCLIPModel holding the same weights (converted here, independently, as
transformers' convert_x_clip_original_pytorch_to_hf.py does); a file that needs arbitrary unpickling is refused in one
line; alt-eval, alt-predict and alt-export take a .pth."""

from __future__ import annotations

import json
import math
import re
import sys
import types
from pathlib import Path

import open_clip
import pytest
import torch
from transformers import XCLIPConfig, XCLIPModel

from alt_model import ModelError
from alt_model.checkpoint import load_checkpoint
from alt_model.cli import eval_main
from alt_model.factory import load_released, load_trained
from alt_model.hf_xclip import our_weights, renamed
from alt_model.predict_cli import export_main, predict_main
from alt_model.xclip_official import RENAMES, load_official_xclip

LABELS = ["a dog", "playing the violin", "x"]
TOKENIZER = open_clip.tokenizer.SimpleTokenizer()
TINY = dict(width=128, layers=2, patch=8, resolution=32, dim=128, text_width=128, text_layers=2, vocab=49408, context=77,
            frames=4, mit_layers=1, prompt_layers=2)  # heads = width // 64 = 2 everywhere, as the official code has them


def block_shapes(prefix: str, width: int) -> dict[str, tuple[int, ...]]:
    """The official ResidualAttentionBlock's tensors (clip/model.py, mit.py; cct.py's adds the message_* ones)."""
    return {f"{prefix}attn.in_proj_weight": (3 * width, width), f"{prefix}attn.in_proj_bias": (3 * width,),
            f"{prefix}attn.out_proj.weight": (width, width), f"{prefix}attn.out_proj.bias": (width,),
            f"{prefix}ln_1.weight": (width,), f"{prefix}ln_1.bias": (width,), f"{prefix}ln_2.weight": (width,), f"{prefix}ln_2.bias": (width,),
            f"{prefix}mlp.c_fc.weight": (4 * width, width), f"{prefix}mlp.c_fc.bias": (4 * width,),
            f"{prefix}mlp.c_proj.weight": (width, 4 * width), f"{prefix}mlp.c_proj.bias": (width,)}


def official_shapes(c: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor of the official `XCLIP` (X-CLIP/models/xclip.py) for the sizes `c`, by its state_dict name."""
    w, d, tw = c["width"], c["dim"], c["text_width"]
    shapes = {"visual.conv1.weight": (w, 3, c["patch"], c["patch"]), "visual.class_embedding": (w,),
              "visual.positional_embedding": ((c["resolution"] // c["patch"]) ** 2 + 1, w), "visual.ln_pre.weight": (w,),
              "visual.ln_pre.bias": (w,), "visual.ln_post.weight": (w,), "visual.ln_post.bias": (w,), "visual.proj": (w, d),
              "token_embedding.weight": (c["vocab"], tw), "positional_embedding": (c["context"], tw), "ln_final.weight": (tw,),
              "ln_final.bias": (tw,), "text_projection": (tw, d), "logit_scale": (), "prompts_visual_ln.weight": (w,),
              "prompts_visual_ln.bias": (w,), "prompts_visual_proj": (w, d), "prompts_generator.norm.weight": (d,),
              "prompts_generator.norm.bias": (d,), "prompts_generator.alpha": (d,), "mit.positional_embedding": (1, c["frames"], d)}
    for i in range(c["layers"]):
        p = f"visual.transformer.resblocks.{i}."
        shapes |= block_shapes(p, w) | {f"{p}message_fc.weight": (w, w), f"{p}message_fc.bias": (w,), f"{p}message_ln.weight": (w,),
                                        f"{p}message_ln.bias": (w,), f"{p}message_attn.in_proj_weight": (3 * w, w),
                                        f"{p}message_attn.in_proj_bias": (3 * w,), f"{p}message_attn.out_proj.weight": (w, w),
                                        f"{p}message_attn.out_proj.bias": (w,)}
    for i in range(c["text_layers"]):
        shapes |= block_shapes(f"transformer.resblocks.{i}.", tw)
    for i in range(c["mit_layers"]):
        shapes |= block_shapes(f"mit.resblocks.{i}.", d)
    for i in range(c["prompt_layers"]):
        p = f"prompts_generator.decoder.{i}."
        shapes |= {f"{p}cross_attn.{q}_proj.weight": (d, d) for q in "qkv"}
        shapes |= {f"{p}cross_attn.proj.weight": (d, d), f"{p}cross_attn.proj.bias": (d,), f"{p}norm1.weight": (d,), f"{p}norm1.bias": (d,),
                   f"{p}norm3.weight": (d,), f"{p}norm3.bias": (d,), f"{p}mlp.0.weight": (4 * d, d), f"{p}mlp.0.bias": (4 * d,),
                   f"{p}mlp.3.weight": (d, 4 * d), f"{p}mlp.3.bias": (d,)}
    return shapes


def official_state_dict(c: dict = TINY, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of the official names and shapes: norms ~ 1 + N(0, 0.1²), the other vectors (biases, α, the
    class embedding) ~ N(0, 0.1²), matrices ~ N(0, 1/width), CLIP's initial logit scale."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in official_shapes(c).items():
        noise = torch.randn(shape, generator=g)
        if name == "logit_scale":
            weights[name] = torch.tensor(math.log(1 / 0.07))
        elif len(shape) == 1 and name.endswith(".weight"):  # the layer norms'
            weights[name] = 1 + 0.1 * noise
        elif len(shape) == 1:
            weights[name] = 0.1 * noise
        else:
            weights[name] = noise * shape[-1] ** -0.5
    return weights


# the official -> Hugging Face names, written here after transformers' convert_x_clip_original_pytorch_to_hf.py
HF_RENAMES = (
    (r"^token_embedding\.", "text_model.embeddings.token_embedding."),
    (r"^positional_embedding$", "text_model.embeddings.position_embedding.weight"),
    (r"^transformer\.resblocks\.", "text_model.encoder.layers."),
    (r"^ln_final\.", "text_model.final_layer_norm."),
    (r"^text_projection$", "text_projection.weight"),
    (r"^visual\.class_embedding$", "vision_model.embeddings.class_embedding"),
    (r"^visual\.positional_embedding$", "vision_model.embeddings.position_embedding.weight"),
    (r"^visual\.conv1\.", "vision_model.embeddings.patch_embedding."),
    (r"^visual\.ln_pre\.", "vision_model.pre_layernorm."),
    (r"^visual\.ln_post\.", "vision_model.post_layernorm."),
    (r"^visual\.proj$", "visual_projection.weight"),
    (r"^visual\.transformer\.resblocks\.", "vision_model.encoder.layers."),
    (r"^prompts_visual_proj$", "prompts_visual_projection"),
    (r"^prompts_visual_ln\.", "prompts_visual_layernorm."),
    (r"^mit\.positional_embedding$", "mit.position_embedding"),
    (r"^mit\.resblocks\.", "mit.encoder.layers."),
    (r"^prompts_generator\.norm\.", "prompts_generator.layernorm."),
    (r"\.ln_1\.", ".layer_norm1."),
    (r"\.ln_2\.", ".layer_norm2."),
    (r"\.mlp\.c_fc\.", ".mlp.fc1."),
    (r"\.mlp\.c_proj\.", ".mlp.fc2."),
    (r"\.attn\.", ".self_attn."),  # the blocks' own attention; message_attn keeps its name
)


def to_hf(official: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official weights in XCLIPModel's names: renamed, the packed q/k/v split in three, the projections transposed."""
    hf = {}
    for name, value in official.items():
        for pattern, replacement in HF_RENAMES:
            name = re.sub(pattern, replacement, name)
        if name.endswith(("visual_projection.weight", "text_projection.weight")):
            value = value.T
        packed = re.fullmatch(r"(.*)\.in_proj_(weight|bias)", name)
        if packed:
            hf |= {f"{packed.group(1)}.{q}_proj.{packed.group(2)}": part for q, part in zip("qkv", value.chunk(3))}
        else:
            hf[name] = value
    return hf


def hf_config(c: dict = TINY) -> XCLIPConfig:
    heads = c["dim"] // 64
    return XCLIPConfig(
        projection_dim=c["dim"], prompt_layers=c["prompt_layers"], prompt_num_attention_heads=heads, prompt_hidden_act="quick_gelu",
        text_config=dict(vocab_size=c["vocab"], hidden_size=c["text_width"], intermediate_size=4 * c["text_width"],
                         num_hidden_layers=c["text_layers"], num_attention_heads=c["text_width"] // 64,
                         max_position_embeddings=c["context"], hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=c["width"], intermediate_size=4 * c["width"], num_hidden_layers=c["layers"],
                           num_attention_heads=c["width"] // 64, image_size=c["resolution"], patch_size=c["patch"], num_frames=c["frames"],
                           mit_hidden_size=c["dim"], mit_intermediate_size=4 * c["dim"], mit_num_hidden_layers=c["mit_layers"],
                           mit_num_attention_heads=heads, hidden_act="quick_gelu"))


VIDEO = torch.randn(2, TINY["frames"], 3, TINY["resolution"], TINY["resolution"], generator=torch.Generator().manual_seed(1))


def our_logits(model, labels=LABELS) -> torch.Tensor:
    with torch.no_grad():
        return model(VIDEO, labels).logits


@pytest.fixture(scope="module")
def official() -> dict[str, torch.Tensor]:
    return official_state_dict()


@pytest.fixture(scope="module")
def hf(official) -> XCLIPModel:
    model = XCLIPModel(hf_config()).eval()
    model.load_state_dict(to_hf(official))  # strict: every HF weight set, none left over
    return model


@pytest.fixture(scope="module")
def hf_logits(hf) -> torch.Tensor:
    ids = TOKENIZER(LABELS)
    with torch.no_grad():
        return hf(input_ids=ids, attention_mask=(ids != 0).long(), pixel_values=VIDEO).logits_per_video


class CfgNode(dict):
    """yacs.config.CfgNode as X-CLIP's utils/config.py pickles it: a dict, its flags in the instance __dict__."""

    def __init__(self, init: dict | None = None) -> None:
        super().__init__({k: CfgNode(v) if isinstance(v, dict) else v for k, v in (init or {}).items()})
        self.__dict__.update({"__immutable__": True, "__deprecated_keys__": set(), "__renamed_keys__": {}, "__new_allowed__": False})

    def __getattr__(self, name: str):
        if name in self:
            return self[name]
        raise AttributeError(name)


CfgNode.__module__ = "yacs.config"
YACS_CONFIG = {"DATA": {"NUM_FRAMES": 4, "NUM_CLASSES": 400, "LABEL_LIST": "labels/kinetics_400_labels.csv", "INPUT_SIZE": 224},
               "MODEL": {"ARCH": "ViT-B/32", "DROP_PATH_RATE": 0.0, "FIX_TEXT": True, "PRETRAINED": None, "RESUME": None},
               "TRAIN": {"EPOCHS": 30, "LR": 8e-6, "OPT_LEVEL": "O1", "USE_CHECKPOINT": False}, "SEED": 1024, "OUTPUT": "exp"}


def epoch_saving(weights: dict[str, torch.Tensor], path: Path, monkeypatch) -> Path:
    """What X-CLIP's utils/tools.py `epoch_saving` writes, its config a yacs CfgNode (importable only while saving)."""
    optimizer = {"state": {0: {"step": torch.tensor(9.0), "exp_avg": torch.zeros(3), "exp_avg_sq": torch.zeros(3)}},
                 "param_groups": [{"lr": 8e-6, "betas": (0.9, 0.98), "eps": 1e-8, "weight_decay": 0.001, "amsgrad": False, "params": [0]}]}
    scheduler = {"t_initial": 30, "lr_min": 8e-8, "warmup_t": 5, "base_values": [8e-6], "noise_range_t": None, "t_in_epochs": False}
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "yacs", types.ModuleType("yacs"))
        m.setitem(sys.modules, "yacs.config", types.ModuleType("yacs.config"))
        m.setattr(sys.modules["yacs.config"], "CfgNode", CfgNode, raising=False)
        torch.save({"model": weights, "optimizer": optimizer, "lr_scheduler": scheduler, "max_accuracy": 80.4, "epoch": 29,
                    "config": CfgNode(YACS_CONFIG)}, path)
    return path


class Boom:
    """An object only arbitrary unpickling rebuilds: unpickled, it writes a file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __setstate__(self, state: dict) -> None:
        Path(state["path"]).write_text("pwned")


@pytest.mark.parametrize("layout", ["bare", "epoch_saving", "ddp"])
def test_an_official_file_gives_transformers_logits(layout, official, hf_logits, tmp_path, monkeypatch):
    path = tmp_path / "k400_tiny.pth"
    if layout == "bare":
        torch.save(official, path)
    elif layout == "epoch_saving":
        epoch_saving(official, path, monkeypatch)
        assert "yacs.config" not in sys.modules  # loading needs no yacs
    else:
        torch.save({"model": {f"module.{k}": v for k, v in official.items()}}, path)
    model, cfg = load_released(path)
    assert (cfg.model.arch, cfg.model.frames, model.num_frames) == ("xclip", 4, 4)
    assert len(model.encoder.visual.transformer.resblocks) == 2 and model.encoder.visual.patch_size == (8, 8)
    assert [b.attn.num_heads for b in model.text_head.clip.transformer.resblocks] == [2, 2] and len(model.prompts.blocks) == 2
    difference = (our_logits(model) - hf_logits).abs().max().item()
    assert difference < 1e-4, difference  # measured: 2e-6
    assert load_checkpoint(path)["labels"] == []  # the file names no labels


def test_every_official_weight_is_one_of_ours(official):
    model = load_official_xclip(official, "tiny.pth")
    ours = our_weights(model)
    assert sorted(renamed(name, RENAMES) for name in ours) == sorted(official)
    assert all(torch.equal(ours[name], official[renamed(name, RENAMES)]) for name in ours)
    assert model.encoder.visual.preprocess_cfg["mean"] == [0.485, 0.456, 0.406]  # ImageNet's, as X-CLIP's img_norm_cfg


@pytest.mark.parametrize("change, message", [
    (lambda w: w.pop("visual.transformer.resblocks.1.message_ln.bias"), r"missing \['visual.transformer.resblocks.1.message_ln.bias'\]"),
    (lambda w: w.update({"prompts_generator.extra": torch.zeros(1)}), r"unexpected \['prompts_generator.extra'\]"),
    (lambda w: w.update({"mit.resblocks.0.mlp.c_proj.bias": torch.zeros(64)}), r"mit.resblocks.0.mlp.c_proj.bias is \[64\], not \[128\]"),
    (lambda w: w.pop("text_projection"), r"without text_projection \(2-d\)"),
    (lambda w: w.update({"ln_final.weight": torch.ones(96)}), "widths 128 \\(image\\), 96 \\(text\\)"),
])
def test_a_file_that_does_not_fit_is_one_line_naming_it(change, message, official, tmp_path):
    weights = dict(official)
    change(weights)
    torch.save(weights, tmp_path / "odd.pth")
    with pytest.raises(ModelError, match=rf"odd.pth: .*{message}") as info:
        load_trained(tmp_path / "odd.pth")
    assert "\n" not in str(info.value)


def test_a_file_needing_arbitrary_unpickling_is_refused_with_how_to_convert_it(official, tmp_path):
    torch.save({"model": official, "config": Boom(tmp_path / "pwned")}, tmp_path / "evil.pth")
    with pytest.raises(ModelError, match=r"evil.pth: .*holds a \S*Boom, which only arbitrary unpickling loads") as info:
        load_checkpoint(tmp_path / "evil.pth")
    assert "weights_only=False)['model']" in str(info.value) and "evil_weights.pth" in str(info.value)
    assert not (tmp_path / "pwned").exists()


def test_alt_eval_predict_and_export_take_an_official_file(official, hf_logits, task, tmp_path, monkeypatch, run_main):
    path = epoch_saving(official, tmp_path / "tiny_official.pth", monkeypatch)
    code, _, err = run_main(eval_main, "--checkpoint", path, "--val-list", task.val, "--video-root", task.root, "--workers", 0)
    assert code == 2 and "pass --labels (a released model carries none)" in err
    code, _, err = run_main(eval_main, "--checkpoint", path, "--val-list", task.val, "--video-root", task.root, "--labels", task.labels,
                              "--workers", 0)
    assert code == 0, err
    metrics = json.loads((tmp_path / "eval/metrics.json").read_text())
    assert metrics["videos"] == 12 and 0 <= metrics["top1"] <= 1
    video = next(task.root.rglob("val_*.mp4"))
    code, _, err = run_main(predict_main, video, "--checkpoint", path, "--labels", task.labels, "--out", tmp_path / "p.jsonl")
    assert code == 0 and len(json.loads((tmp_path / "p.jsonl").read_text())["predictions"]) == 4, err
    torch.save({"model": official, "config": Boom(tmp_path / "pwned")}, tmp_path / "evil.pth")
    code, _, err = run_main(eval_main, "--checkpoint", tmp_path / "evil.pth", "--val-list", task.val, "--labels", task.labels)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "python -c" in err and "Traceback" not in err, err
    assert not (tmp_path / "pwned").exists()
    code, _, err = run_main(eval_main, "--pretrained", path, "--val-list", task.val, "--labels", task.labels)
    assert code == 2 and "an official X-CLIP .pth goes to --checkpoint" in err
    code, _, err = run_main(eval_main, "--checkpoint", path, "--val-list", task.val, "--labels", task.labels, "--shots", 2)
    assert code == 2 and "a released model; --shots fine-tunes an alt-train checkpoint" in err
    code, _, err = run_main(export_main, path, tmp_path / "xclip-tiny")  # the official file as an HF folder
    assert code == 0, err
    ids = TOKENIZER(LABELS)
    with torch.no_grad():
        exported = XCLIPModel.from_pretrained(tmp_path / "xclip-tiny").eval()
        logits = exported(input_ids=ids, attention_mask=(ids != 0).long(), pixel_values=VIDEO).logits_per_video
    assert (logits - hf_logits).abs().max() < 1e-4
