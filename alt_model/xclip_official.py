"""The official X-CLIP checkpoints (microsoft/VideoX's `X-CLIP/`, e.g. k400_32_8.pth, k400_16_8.pth) as our `XCLIP`.

A released .pth is what the official `epoch_saving` writes, {'model': state_dict, 'optimizer', 'lr_scheduler',
'max_accuracy', 'epoch', 'config'} with `config` a pickled yacs `CfgNode`, or that state dict alone. It is read
with `torch.load(weights_only=True)`: `CONFIG_GLOBALS` lets the yacs node unpickle as an `OrderedDict` (no yacs
code runs), anything else that needs a class is refused (`checkpoint.load_checkpoint`). A state dict is official
by its keys (`MARKERS`), never by the file's name; a DDP `module.` prefix is dropped.

Every size comes from the weights' shapes, as the official `build_model` derives them: widths, layers, patch
size, resolution (patch · √(positions − 1)), T from the MIT's positional embedding, the prompt and MIT layers,
heads = width // 64 in every transformer, QuickGELU throughout (OpenAI's CLIP). They make an HF `XCLIPConfig`
(`official_config`), built by `hf_xclip.xclip_from_config` over open_clip's `CLIP`. The official names are
OpenAI CLIP's, as open_clip's are, so they map by `RENAMES` alone: no q/k/v split, no transpose. Frames are
normalised with ImageNet's mean and std (the official datasets/build.py). The file holds no label names.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .errors import ModelError
from .hf_xclip import PROMPT_RENAMES, XCLIP_MEAN, XCLIP_STD, our_weights, renamed, with_weights, xclip_from_config

if TYPE_CHECKING:
    from .xclip import XCLIP

CONFIG_GLOBALS = [(OrderedDict, "yacs.config.CfgNode")]  # the config beside the weights, as a (nested) dict
MARKERS = ("visual.transformer.resblocks.0.message_fc.weight", "mit.positional_embedding", "prompts_generator.alpha")
SIZED = {  # the weights whose shapes give the model's sizes, with their number of dimensions
    "visual.conv1.weight": 4, "visual.positional_embedding": 2, "visual.transformer.resblocks.0.mlp.c_fc.weight": 2,
    "token_embedding.weight": 2, "positional_embedding": 2, "ln_final.weight": 1, "transformer.resblocks.0.mlp.c_fc.weight": 2,
    "text_projection": 2, "mit.positional_embedding": 3, "mit.resblocks.0.mlp.c_fc.weight": 2,
}
RENAMES = (  # (our name, the official one): regular expressions applied in order to a name of `our_weights`
    (r"^encoder\.messages\.(\d+)\.(fc|ln|attn)\.", r"visual.transformer.resblocks.\1.message_\2."),
    (r"^encoder\.visual\.", "visual."),
    (r"^clip\.", ""),  # the text tower
    (r"^mit\.position_embedding$", "mit.positional_embedding"),
    (r"^mit\.transformer\.", "mit."),
    (r"^prompts\.visual_(ln|proj)", r"prompts_visual_\1"),
    (r"^prompts\.ln\.", "prompts_generator.norm."),
    *PROMPT_RENAMES,
)
HEAD_WIDTH = 64  # the official code's heads = width // 64, in every transformer


def official_weights(loaded: Any) -> dict[str, Any] | None:
    """The state dict of what `torch.load` read from an official X-CLIP file (bare, or its 'model'), without a DDP
    `module.` prefix; None where it is not one."""
    weights = loaded.get("model", loaded) if isinstance(loaded, dict) else None
    if not isinstance(weights, dict) or not all(isinstance(k, str) for k in weights):
        return None
    if weights and all(k.startswith("module.") for k in weights):
        weights = {k.removeprefix("module."): v for k, v in weights.items()}
    return weights if is_official(weights) else None


def is_official(weights: dict[str, Any]) -> bool:
    """Whether a state dict holds the official X-CLIP's names."""
    return any(marker in weights for marker in MARKERS)


def check_sizes(weights: dict[str, Any], source: str | Path) -> None:
    """Raise `ModelError` unless the weights that give the sizes (`SIZED`) are tensors of their number of dimensions."""
    if not all(isinstance(v, Tensor) for v in weights.values()):
        raise ModelError(f"{source}: X-CLIP weights that are not all tensors; pass a .pth of microsoft/VideoX's X-CLIP")
    bad = [f"{name} ({ndim}-d)" for name, ndim in SIZED.items() if name not in weights or weights[name].ndim != ndim]
    if bad:
        raise ModelError(f"{source}: X-CLIP weights without {', '.join(bad)}; pass a complete .pth of microsoft/VideoX's X-CLIP")


def released_checkpoint(weights: dict[str, Any], source: str | Path) -> dict[str, Any]:
    """What `load_checkpoint` gives for an official file: its weights, the run config of its arch and frames, no labels."""
    check_sizes(weights, source)
    frames = weights["mit.positional_embedding"].shape[1]
    return {"model": weights, "config": {"model": {"arch": "xclip", "frames": frames, "norm": "imagenet"}}, "labels": []}


def blocks(weights: dict[str, Tensor], prefix: str) -> int:
    """The number of blocks `prefix`N. in the weights' names."""
    return len({m.group(1) for name in weights if (m := re.match(re.escape(prefix) + r"(\d+)\.", name))})


def official_config(weights: dict[str, Tensor], source: str | Path) -> Any:
    """The HF `XCLIPConfig` of an official state dict's shapes (see the module docstring)."""
    from transformers import XCLIPConfig

    check_sizes(weights, source)
    width, _, patch, _ = weights["visual.conv1.weight"].shape
    dim, text_width = weights["text_projection"].shape[1], weights["ln_final.weight"].shape[0]
    if any(w % HEAD_WIDTH for w in (width, text_width, dim)):
        raise ModelError(f"{source}: widths {width} (image), {text_width} (text), {dim} (joint) that are not multiples of "
                         f"{HEAD_WIDTH}, as the official X-CLIP's heads (width // {HEAD_WIDTH}) need")
    grid = round((weights["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    text = dict(vocab_size=weights["token_embedding.weight"].shape[0], hidden_size=text_width,
                intermediate_size=weights["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
                num_hidden_layers=blocks(weights, "transformer.resblocks."), num_attention_heads=text_width // HEAD_WIDTH,
                max_position_embeddings=weights["positional_embedding"].shape[0], hidden_act="quick_gelu")
    vision = dict(hidden_size=width, intermediate_size=weights["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
                  num_hidden_layers=blocks(weights, "visual.transformer.resblocks."), num_attention_heads=width // HEAD_WIDTH,
                  image_size=patch * grid, patch_size=patch, num_frames=weights["mit.positional_embedding"].shape[1],
                  mit_hidden_size=dim, mit_intermediate_size=weights["mit.resblocks.0.mlp.c_fc.weight"].shape[0],
                  mit_num_hidden_layers=blocks(weights, "mit.resblocks."), mit_num_attention_heads=dim // HEAD_WIDTH,
                  hidden_act="quick_gelu")
    return XCLIPConfig(text_config=text, vision_config=vision, projection_dim=dim, prompt_layers=blocks(weights, "prompts_generator.decoder."),
                       prompt_num_attention_heads=dim // HEAD_WIDTH, prompt_hidden_act="quick_gelu")


def from_official(official: dict[str, Tensor], ours: dict[str, Tensor], source: str | Path) -> dict[str, Tensor]:
    """The official weights under our names (those of `ours`, `our_weights`); `ModelError` on a weight missing, left
    over or of another shape than ours."""
    wanted = {name: renamed(name, RENAMES) for name in ours}
    missing, left = sorted(set(wanted.values()) - set(official)), sorted(set(official) - set(wanted.values()))
    if missing or left:
        raise ModelError(f"{source}: not the official X-CLIP's weights (missing {missing[:5]}, unexpected {left[:5]})")
    wrong = [f"{theirs} is {list(official[theirs].shape)}, not {list(ours[name].shape)}"
             for name, theirs in wanted.items() if official[theirs].shape != ours[name].shape]
    if wrong:
        raise ModelError(f"{source}: X-CLIP weights that do not fit each other's sizes: {'; '.join(wrong[:3])}")
    return {name: official[theirs] for name, theirs in wanted.items()}


def load_official_xclip(weights: dict[str, Tensor], source: str | Path, device: str | torch.device = "cpu") -> XCLIP:
    """Our `XCLIP`, in eval mode, from an official state dict (`official_weights`) read from `source`."""
    model = xclip_from_config(official_config(weights, source))
    return with_weights(model, from_official(weights, our_weights(model), source), (XCLIP_MEAN, XCLIP_STD), device)
