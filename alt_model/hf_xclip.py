"""Weights interchange with `transformers`' `XCLIPModel` (DESIGN §10): `load_hf_xclip` builds our `XCLIP` from a local
HF X-CLIP folder (config.json and model.safetensors, sharded safetensors or pytorch_model.bin: the layout of
microsoft/xclip-base-patch32 and -patch16); `save_hf_xclip` writes ours back in that layout.

The CLIP underneath is open_clip's `CLIP` class built from the HF config's shapes (no download). Names map by
`RENAMES`; open_clip packs q/k/v into one `in_proj` (HF keeps three), and stores the two towers' projections as
[in, out] matrices (HF as `Linear` weights, [out, in]). Every weight is mapped in both directions; a weight left
over or missing raises `ModelError`. Loading runs no pickle: safetensors, or `torch.load(weights_only=True)`.
HF's single `hidden_act` per tower serves open_clip's one activation for both towers, and the vision one the MIT
too, so the text, vision and prompt activations must agree (QuickGELU in X-CLIP's released models).
`xclip_from_config` and `with_weights` build the official .pth files' model too (`xclip_official`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from open_clip.constants import IMAGENET_MEAN, IMAGENET_STD
from torch import Tensor, nn

from alt_common.io import check_regular

from .config import MAX_FRAMES, MAX_LAYERS
from .errors import ModelError
from .guard import HF_CONFIG_LIMIT, check_shapes, hf_model_type, read_text, safetensors_shapes
from .xclip import ACTIVATIONS, XCLIP

log = logging.getLogger(__name__)
HF_FIX = "pass a folder saved by XCLIPModel.save_pretrained (or alt-export)"

# X-CLIP normalises frames with ImageNet's mean and std (its datasets/build.py), not CLIP's
XCLIP_MEAN, XCLIP_STD = IMAGENET_MEAN, IMAGENET_STD
# the prompt generator's blocks and the logit scale: HF kept the official code's names for them
PROMPT_RENAMES = (
    (r"^prompts\.alpha$", "prompts_generator.alpha"),
    (r"^prompts\.blocks\.(\d+)\.ln_1\.", r"prompts_generator.decoder.\1.norm1."),
    (r"^prompts\.blocks\.(\d+)\.ln_2\.", r"prompts_generator.decoder.\1.norm3."),
    (r"^prompts\.blocks\.(\d+)\.attn\.", r"prompts_generator.decoder.\1.cross_attn."),
    (r"^prompts\.blocks\.(\d+)\.mlp\.c_fc\.", r"prompts_generator.decoder.\1.mlp.0."),
    (r"^prompts\.blocks\.(\d+)\.mlp\.c_proj\.", r"prompts_generator.decoder.\1.mlp.3."),
    (r"^text_head\.logit_scale$", "logit_scale"),
)
RENAMES = (  # (our name, HF's): regular expressions applied in order to a name of `our_weights`
    (r"^encoder\.messages\.(\d+)\.(fc|ln|attn)\.", r"vision_model.encoder.layers.\1.message_\2."),
    (r"^encoder\.visual\.transformer\.resblocks\.", "vision_model.encoder.layers."),
    (r"^encoder\.visual\.conv1\.", "vision_model.embeddings.patch_embedding."),
    (r"^encoder\.visual\.class_embedding$", "vision_model.embeddings.class_embedding"),
    (r"^encoder\.visual\.positional_embedding$", "vision_model.embeddings.position_embedding.weight"),
    (r"^encoder\.visual\.ln_pre\.", "vision_model.pre_layernorm."),
    (r"^encoder\.visual\.ln_post\.", "vision_model.post_layernorm."),
    (r"^encoder\.visual\.proj$", "visual_projection.weight"),
    (r"^clip\.token_embedding\.", "text_model.embeddings.token_embedding."),
    (r"^clip\.positional_embedding$", "text_model.embeddings.position_embedding.weight"),
    (r"^clip\.transformer\.resblocks\.", "text_model.encoder.layers."),
    (r"^clip\.ln_final\.", "text_model.final_layer_norm."),
    (r"^clip\.text_projection$", "text_projection.weight"),
    (r"^mit\.transformer\.resblocks\.", "mit.encoder.layers."),
    (r"^prompts\.visual_ln\.", "prompts_visual_layernorm."),
    (r"^prompts\.visual_proj$", "prompts_visual_projection"),
    (r"^prompts\.ln\.", "prompts_generator.layernorm."),
    *PROMPT_RENAMES,
    (r"\.layers\.(\d+)\.ln_1\.", r".layers.\1.layer_norm1."),  # inside the ViT, text and MIT blocks
    (r"\.layers\.(\d+)\.ln_2\.", r".layers.\1.layer_norm2."),
    (r"\.layers\.(\d+)\.attn\.", r".layers.\1.self_attn."),
    (r"\.layers\.(\d+)\.mlp\.c_fc\.", r".layers.\1.mlp.fc1."),
    (r"\.layers\.(\d+)\.mlp\.c_proj\.", r".layers.\1.mlp.fc2."),
)
TRANSPOSED = {"encoder.visual.proj", "clip.text_projection"}  # [in, out] here, [out, in] in HF
IGNORED = re.compile(r"\.position_ids$")  # buffers older HF checkpoints saved


def renamed(name: str, renames: Sequence[tuple[str, str]]) -> str:
    """`name` with each (pattern, replacement) of `renames` applied in order."""
    for pattern, replacement in renames:
        name = re.sub(pattern, replacement, name)
    return name


def hf_names(name: str) -> list[str]:
    """HF's names for one of our weights: one, or q/k/v's three for a packed `in_proj`."""
    name = renamed(name, RENAMES)
    base, _, kind = name.rpartition(".in_proj_")
    return [f"{base}.{p}_proj.{kind}" for p in "qkv"] if base else [name]


def text_weights(clip: nn.Module) -> dict[str, Tensor]:
    """The open_clip CLIP's text tower (its state_dict less the image tower and the logit scale)."""
    return {k: v for k, v in clip.state_dict().items() if not k.startswith("visual.") and k not in ("logit_scale", "logit_bias")}


def our_weights(model: XCLIP) -> dict[str, Tensor]:
    """Every weight of the model: its state_dict and, as `clip.*`, the frozen text tower it holds outside it."""
    return {**model.state_dict(), **{f"clip.{k}": v for k, v in text_weights(model.text_head.clip).items()}}


def to_hf(weights: dict[str, Tensor]) -> dict[str, Tensor]:
    """Our weights (`our_weights`) in HF's names and layout."""
    out = {}
    for name, value in weights.items():
        value = value.detach().cpu()
        names = hf_names(name)
        parts = value.chunk(3) if len(names) == 3 else [value.T if name in TRANSPOSED else value]
        out.update((hf, part.contiguous().clone()) for hf, part in zip(names, parts))
    return out


def from_hf(hf: dict[str, Tensor], names: list[str]) -> dict[str, Tensor]:
    """HF weights into our `names` (those of `our_weights`); raises `ModelError` on a weight missing or left over."""
    wanted = {name: hf_names(name) for name in names}
    missing = sorted(h for hs in wanted.values() for h in hs if h not in hf)
    left = sorted(set(hf) - {h for hs in wanted.values() for h in hs} - {h for h in hf if IGNORED.search(h)})
    if missing or left:
        raise ModelError(f"the HF X-CLIP weights do not match its config: missing {missing[:5]}, unexpected {left[:5]}")
    return {name: torch.cat([hf[h] for h in hs]) if len(hs) == 3 else hf[hs[0]].T if name in TRANSPOSED else hf[hs[0]]
            for name, hs in wanted.items()}


def weight_files(folder: Path) -> list[Path]:
    """The weights files of an HF folder: model.safetensors, the shards model.safetensors.index.json names (each inside
    the folder) or pytorch_model.bin; ModelError in one line otherwise."""
    index = folder / "model.safetensors.index.json"
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    if index.is_file():
        return [_shard(folder, index, name) for name in sorted(set(_weight_map(index).values()))]
    if (folder / "pytorch_model.bin").is_file():
        return [folder / "pytorch_model.bin"]
    raise ModelError(f"{folder}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin; pass an HF X-CLIP folder")


def _weight_map(index: Path) -> dict[str, Any]:
    """The `weight_map` of a model.safetensors.index.json, read with a size limit; ModelError in one line otherwise."""
    try:
        weight_map = json.loads(read_text(index, "an index of shards", HF_CONFIG_LIMIT)).get("weight_map")
    except (OSError, json.JSONDecodeError, AttributeError):
        weight_map = None
    if not isinstance(weight_map, dict) or not all(isinstance(name, str) for name in weight_map.values()):
        raise ModelError(f"{index}: no 'weight_map' of tensor names to shard files; {HF_FIX}")
    return weight_map


def _shard(folder: Path, index: Path, name: str) -> Path:
    """The shard file `name` of the index in `folder`, refused where it resolves outside the folder (../, an absolute path, a link)."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ModelError(f"{index}: shard {name!r} lies outside {folder}; an index names files inside its own folder; {HF_FIX}")
    return path


def read_hf_weights(files: list[Path]) -> dict[str, Tensor]:
    """The tensors of an HF folder's weights files (`weight_files`): safetensors, or pytorch_model.bin with no pickled code."""
    from safetensors.torch import load_file

    if files[0].suffix == ".bin":
        return torch.load(check_regular(files[0], "pytorch_model.bin", HF_FIX), map_location="cpu", weights_only=True)
    return {k: v for file in files for k, v in load_file(file).items()}


def check_weight_shapes(model: Callable[[], XCLIP], files: list[Path]) -> None:
    """The shapes of the model `model` builds (on the meta device: nothing allocated) against the safetensors headers of
    `files`, before it is built: config.json asking for a tower wider or deeper than the weights is one ModelError."""
    if files[0].suffix == ".bin":  # no header to read: from_hf checks the loaded tensors
        return
    with torch.device("meta"):
        planned = hf_shapes(model())
    found = {name: shape for file in files for name, shape in safetensors_shapes(file, HF_FIX).items() if not IGNORED.search(name)}
    check_shapes(planned, found, files[0] if len(files) == 1 else files[0].parent, "config.json and the weights describe different "
                 f"models; {HF_FIX}")


def hf_shapes(model: XCLIP) -> dict[str, tuple[int, ...]]:
    """The shapes `to_hf(our_weights(model))` has, by HF's names, from the model's shapes alone (a meta-device model's)."""
    shapes = {}
    for name, value in our_weights(model).items():
        names, shape = hf_names(name), tuple(value.shape)
        shape = (shape[0] // 3, *shape[1:]) if len(names) == 3 else shape[::-1] if name in TRANSPOSED else shape
        shapes.update((hf, shape) for hf in names)
    return shapes


def activation_of(module: nn.Module) -> str:
    """The name (a key of `ACTIVATIONS`) of an open_clip block's MLP activation."""
    names = {kind: name for name, kind in ACTIVATIONS.items()}
    kind = type(module.mlp.gelu)
    if kind not in names:
        raise ModelError(f"HF X-CLIP has no activation {kind.__name__}; only {', '.join(ACTIVATIONS)}")
    return names[kind]


SIZES = {  # the sizes of an HF X-CLIP config that shape the model, each an int from 1 to its bound (None: the weights bound it)
    "text_config": {"vocab_size": None, "hidden_size": None, "intermediate_size": None, "num_hidden_layers": MAX_LAYERS,
                    "num_attention_heads": None, "max_position_embeddings": None},
    "vision_config": {"hidden_size": None, "intermediate_size": None, "num_hidden_layers": MAX_LAYERS, "num_attention_heads": None,
                      "image_size": None, "patch_size": None, "num_frames": MAX_FRAMES, "mit_hidden_size": None,
                      "mit_intermediate_size": None, "mit_num_hidden_layers": MAX_LAYERS, "mit_num_attention_heads": None},
    "": {"projection_dim": None, "prompt_layers": MAX_LAYERS, "prompt_num_attention_heads": None},
}


def check_sizes(config: Any) -> None:
    """ModelError naming the first size of an HF X-CLIP config (`SIZES`) that is not a whole number from 1 up, or is over
    its bound; the rest are checked against the weights' own shapes (`check_weight_shapes`)."""
    for section, sizes in SIZES.items():
        for key, bound in sizes.items():
            value = getattr(getattr(config, section) if section else config, key, None)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1 or (bound is not None and value > bound):
                where = f"{section}.{key}" if section else key
                limit = f"from 1 to {bound}" if bound is not None else "of at least 1"
                source = Path(config.name_or_path) / "config.json" if config.name_or_path else "the X-CLIP config"
                raise ModelError(f"{source}: {where} must be a whole number {limit}, got {value!r}; {HF_FIX}")


def check_config(config: Any) -> str:
    """Raise `ModelError` where our X-CLIP cannot hold an HF config; return its one activation."""
    check_sizes(config)
    text, vision = config.text_config, config.vision_config
    acts = {text.hidden_act, vision.hidden_act, config.prompt_hidden_act}
    problems = [
        (len(acts) > 1 or not acts <= set(ACTIVATIONS), f"activations text={text.hidden_act}, vision={vision.hidden_act}, "
                                                        f"prompt={config.prompt_hidden_act} (one of {', '.join(ACTIVATIONS)} for all)"),
        ({text.layer_norm_eps, vision.layer_norm_eps} != {1e-5}, "layer_norm_eps other than open_clip's 1e-5"),
        (vision.mit_hidden_size != config.projection_dim, "vision_config.mit_hidden_size != projection_dim"),
        (vision.num_channels != 3 or not isinstance(vision.image_size, int) or not isinstance(vision.patch_size, int),
         "non-RGB or non-square frames or patches"),
    ]
    unsupported = [what for bad, what in problems if bad]
    if unsupported:
        raise ModelError(f"X-CLIP config not supported: {'; '.join(unsupported)}")
    training_only = {"vision_config.drop_path_rate": vision.drop_path_rate, "vision_config.attention_dropout": vision.attention_dropout,
                     "text_config.attention_dropout": text.attention_dropout, "prompt_attention_dropout": config.prompt_attention_dropout,
                     "prompt_projection_dropout": config.prompt_projection_dropout}
    if any(training_only.values()):
        log.warning("X-CLIP: %s not supported (training only); loading without", training_only)
    return acts.pop()


def clip_from_config(config: Any, activation: str) -> nn.Module:
    """open_clip's `CLIP` with the HF X-CLIP config's tower shapes, random weights."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    text, vision = config.text_config, config.vision_config
    vision_cfg = CLIPVisionCfg(layers=vision.num_hidden_layers, width=vision.hidden_size,
                               head_width=vision.hidden_size // vision.num_attention_heads,
                               mlp_ratio=vision.intermediate_size / vision.hidden_size, patch_size=vision.patch_size,
                               image_size=vision.image_size)
    text_cfg = CLIPTextCfg(context_length=text.max_position_embeddings, vocab_size=text.vocab_size, width=text.hidden_size,
                           heads=text.num_attention_heads, layers=text.num_hidden_layers,
                           mlp_ratio=text.intermediate_size / text.hidden_size)
    return CLIP(config.projection_dim, vision_cfg, text_cfg, quick_gelu=activation == "quick_gelu")


def frame_normalisation(folder: Path) -> tuple[list[float], list[float]]:
    """(mean, std) of the folder's preprocessor_config.json, else X-CLIP's (ImageNet's)."""
    path = folder / "preprocessor_config.json"
    try:
        pre = json.loads(read_text(path, "preprocessor_config.json", HF_CONFIG_LIMIT)) if path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON (line {exc.lineno}); {HF_FIX}") from None
    return list(pre.get("image_mean", XCLIP_MEAN)), list(pre.get("image_std", XCLIP_STD))


def xclip_from_config(config: Any) -> XCLIP:
    """Our `XCLIP` of an HF X-CLIP config's shapes over open_clip's `CLIP` (`clip_from_config`), random weights."""
    return build_xclip(config, check_config(config))


def build_xclip(config: Any, activation: str) -> XCLIP:
    """`xclip_from_config` of a config `check_config` passed, which gave `activation`."""
    vision = config.vision_config
    return XCLIP(clip_from_config(config, activation), vision.num_frames, mit_layers=vision.mit_num_hidden_layers,
                 mit_heads=vision.mit_num_attention_heads, mit_mlp_ratio=vision.mit_intermediate_size / vision.mit_hidden_size,
                 prompt_layers=config.prompt_layers, prompt_heads=config.prompt_num_attention_heads, prompt_alpha=config.prompt_alpha,
                 activation=activation)


def with_weights(model: XCLIP, weights: dict[str, Tensor], norm: tuple[Sequence[float], Sequence[float]],
                 device: str | torch.device) -> XCLIP:
    """`model` in eval mode on `device`, holding `weights` (every name of `our_weights`), reading frames normalised with
    `norm` (mean, std)."""
    from open_clip.model import set_model_preprocess_cfg
    from open_clip.transform import PreprocessCfg

    clip = model.text_head.clip
    model.load_state_dict({k: v for k, v in weights.items() if not k.startswith("clip.")})
    clip.load_state_dict({k.removeprefix("clip."): v for k, v in weights.items() if k.startswith("clip.")}, strict=False)
    mean, std = norm
    set_model_preprocess_cfg(clip, asdict(PreprocessCfg(size=model.encoder.visual.image_size, mean=list(mean), std=list(std))))
    return model.to(device).eval()


def load_hf_xclip(folder: str | Path, device: str | torch.device = "cpu") -> XCLIP:
    """Our `XCLIP`, in eval mode, from a local HF X-CLIP folder (see the module docstring)."""
    from transformers import XCLIPConfig

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: no config.json; pass a folder saved by XCLIPModel.save_pretrained (or save_hf_xclip)")
    kind = hf_model_type(folder)
    if kind is None:
        raise ModelError(f"{folder / 'config.json'}: not a Hugging Face config (no JSON mapping); pass an HF X-CLIP folder")
    if kind != "xclip":
        raise ModelError(f"{folder / 'config.json'}: a {kind!r} model, not X-CLIP ('model_type': 'xclip'); pass an HF X-CLIP folder")
    try:
        config = XCLIPConfig.from_pretrained(folder)
    except Exception as exc:  # noqa: BLE001 - transformers' validation raises its own types (and Value, Type, KeyErrors)
        reason = " ".join(line.strip() for line in str(exc).splitlines())[:200] or type(exc).__name__
        raise ModelError(f"{folder / 'config.json'}: not an X-CLIP config transformers can read ({reason}); {HF_FIX}") from None
    activation = check_config(config)  # what our X-CLIP cannot hold is said before the weights are looked for
    files = weight_files(folder)
    check_weight_shapes(lambda: build_xclip(config, activation), files)
    model = build_xclip(config, activation)
    return with_weights(model, from_hf(read_hf_weights(files), list(our_weights(model))), frame_normalisation(folder), device)


def xclip_config(model: XCLIP) -> Any:
    """The `XCLIPConfig` of our model's shapes."""
    from transformers import XCLIPConfig

    visual, clip = model.encoder.visual, model.text_head.clip
    tower = visual.transformer.resblocks[0]
    activation = activation_of(tower)
    if activation != model.activation:
        raise ModelError(f"HF X-CLIP runs the MIT with the image tower's activation ({activation}), this model with {model.activation}")
    text_block, mit_block = clip.transformer.resblocks[0], model.mit.transformer.resblocks[0]
    sizes = {visual.image_size[0] == visual.image_size[1], visual.patch_size[0] == visual.patch_size[1]}
    if sizes != {True}:
        raise ModelError("HF X-CLIP takes square frames and patches")
    text = dict(vocab_size=clip.vocab_size, hidden_size=clip.transformer.width, intermediate_size=text_block.mlp.c_fc.out_features,
                num_hidden_layers=len(clip.transformer.resblocks), num_attention_heads=text_block.attn.num_heads,
                max_position_embeddings=clip.positional_embedding.shape[0], hidden_act=activation)
    vision = dict(hidden_size=visual.transformer.width, intermediate_size=tower.mlp.c_fc.out_features,
                  num_hidden_layers=len(visual.transformer.resblocks), num_attention_heads=tower.attn.num_heads,
                  image_size=visual.image_size[0], patch_size=visual.patch_size[0], num_frames=model.num_frames,
                  mit_hidden_size=visual.output_dim, mit_intermediate_size=mit_block.mlp.c_fc.out_features,
                  mit_num_hidden_layers=len(model.mit.transformer.resblocks), mit_num_attention_heads=mit_block.attn.num_heads,
                  hidden_act=activation)
    return XCLIPConfig(text_config=text, vision_config=vision, projection_dim=visual.output_dim, prompt_layers=len(model.prompts.blocks),
                       prompt_num_attention_heads=model.prompts.blocks[0].attn.heads, prompt_hidden_act=model.activation,
                       logit_scale_init_value=model.text_head.logit_scale.item())


def save_hf_xclip(model: XCLIP, folder: str | Path, labels: Sequence[str] = ()) -> Path:
    """Write our model as an HF X-CLIP folder that `XCLIPModel.from_pretrained` loads, atomically (an existing folder is
    replaced): config.json (with `labels`, the set it was trained on, as `id2label`), model.safetensors, and
    preprocessor_config.json with the frame normalisation the model reads frames with."""
    from safetensors.torch import save_file

    from alt_common.io import atomic_folder

    from .data import tower_norm, tower_size

    folder = Path(folder)
    if model.prompts is None:  # HF's XCLIPModel always has a prompt generator: no folder could hold this model
        raise ModelError("an X-CLIP without its prompt generator (model.prompt_layers=0, Table 4a) has no Hugging Face X-CLIP "
                         "layout; keep its alt-train checkpoint (alt-eval and alt-predict take it with --checkpoint)")
    config = xclip_config(model)
    if labels:
        config.id2label, config.label2id = dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
    weights = to_hf(our_weights(model))
    (mean, std), size = tower_norm(model.encoder.visual), tower_size(model.encoder.visual)
    frames = {"image_processor_type": "VideoMAEImageProcessor", "image_mean": list(mean), "image_std": list(std),
              "size": {"shortest_edge": size}, "crop_size": {"height": size, "width": size}}

    def write(tmp: Path) -> None:
        config.save_pretrained(tmp)
        save_file(weights, tmp / "model.safetensors", metadata={"format": "pt"})
        (tmp / "preprocessor_config.json").write_text(json.dumps(frames, indent=2) + "\n", encoding="utf-8")

    folder.parent.mkdir(parents=True, exist_ok=True)
    atomic_folder(folder, write)
    return folder

