"""ALT from its config, open_clip's way: one factory builds every model a config describes.

Every `ALT` option is a key of `ModelConfig` (`model:` in configs/*.yaml), so the same call builds
the tiny test model and ALT-L/14, any ablation included; `model.arch: xclip` builds the X-CLIP
baseline (`xclip.py`) over the same CLIP model instead. The CLIP model is the one that embedded
the corpus unless `model.name` / `model.pretrained` say otherwise; it must be the same architecture,
since S lives in its joint space. `model.norm` sets the frame normalisation the tower carries (its open_clip
preprocess config, which every reader of frames takes through `data.tower_norm`) and `model.logit_scale` whether the
text head's scale trains, for either arch. A checkpoint carries its config, so it rebuilds its own model
(`load_trained`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from open_clip.constants import IMAGENET_MEAN, IMAGENET_STD
from open_clip.model import set_model_preprocess_cfg

from alt_common.bundle import CorpusBundle
from alt_common.clip import is_checkpoint_file, load_clip, resolve_model
from alt_common.errors import UserError

from .checkpoint import load_checkpoint, load_weights, planned_shapes
from .config import Config, ModelConfig, load_config
from .errors import ModelError
from .guard import check_shapes, safetensors_shapes
from .model import ALT
from .text_head import load_templates
from .xclip_official import is_official, load_official_xclip

if TYPE_CHECKING:
    from .xclip import XCLIP

log = logging.getLogger(__name__)
# why a run needs the CLIP weights file it names, and what to do when it is not there (`check_clip_weights`)
TRAIN_MISSING_CLIP = ("this run's model.pretrained, or when unset the 'pretrained' its corpus.pt records, names them",
                      "set model.pretrained=FILE to a local copy of them")


def create_model(cfg: ModelConfig | Config, bundle: CorpusBundle | str | Path, device: torch.device | str = "cpu",
                 num_classes: int | None = None, clip: tuple[Any, Any, dict[str, Any]] | None = None,
                 missing_clip: tuple[str, str] = TRAIN_MISSING_CLIP, weights: tuple[Path, str] | None = None) -> ALT | XCLIP:
    """The ALT model `cfg` describes, over `bundle` (a corpus.pt or its path) and the CLIP model that embedded it;
    `num_classes`: the label set's size, which a linear head (`model.head: linear`) is built for; `clip`: that CLIP
    model already built, as `load_clip` returns it (a model folder's own, `hub.from_pretrained`), instead of loading it
    from `model.name` / `model.pretrained`; `missing_clip`: (why the model needs them, what to do), when those name a
    CLIP weights file that is not there (`check_clip_weights`); `weights`: (a safetensors file of the model's learned
    state, the fix to name), whose shapes an ALT must have, checked on the meta device before it is built (`check_shapes`)."""
    m = cfg.model if isinstance(cfg, Config) else cfg
    source = "the corpus" if isinstance(bundle, CorpusBundle) else str(bundle)
    bundle = bundle if isinstance(bundle, CorpusBundle) else CorpusBundle.load(bundle)
    name, pretrained = m.name or bundle.model, m.pretrained or bundle.pretrained
    if not name or not (pretrained or clip is not None):
        raise ModelError(f"{source}: no 'model'/'pretrained' recorded; set model.name and model.pretrained")
    if bundle.model and resolve_model(bundle.model)[0] != resolve_model(name)[0]:
        raise ModelError(f"{source} was embedded with {bundle.model!r}, not {name!r}; re-embed it or use that model")
    clip, tokenizer, built = clip if clip is not None else load_model_clip(name, pretrained, device, *missing_clip)
    warn_stale_corpus(bundle, source, built)
    apply_norm(clip, m)
    templates = load_templates(m.templates) if isinstance(m.templates, str) else m.templates
    if m.arch == "xclip":  # the baseline; ALT's keys do not apply to it
        from .hf_xclip import activation_of
        from .xclip import XCLIP

        model = XCLIP(clip, m.frames, tokenizer=tokenizer, templates=templates, mit_layers=m.mit_layers, prompt_layers=m.prompt_layers,
                      prompt_alpha=m.prompt_alpha, activation=activation_of(clip.visual.transformer.resblocks[0]), logit_scale=m.logit_scale)
        model.encoder.visual.set_grad_checkpointing(m.grad_checkpointing)
        return model.to(device)

    def build() -> ALT:
        return ALT(clip, bundle, m.frames, m.r, tokenizer=tokenizer, templates=templates, cls_layer=m.cls_layer,
                   region_layer=m.region_layer, adapter_width=m.adapter_width, adapter_depth=m.adapter_depth,
                   adapter_heads=m.adapter_heads, reduce=m.reduce, temperature=m.temperature, aligner_scale=m.aligner_scale,
                   align=m.align, queries=m.queries, regions=m.regions, adapter=m.adapter, temporal_conv=m.temporal_conv,
                   self_attention=m.self_attention, head=m.head, num_classes=num_classes, categories=m.categories)

    if weights is not None:
        path, fix = weights
        check_shapes(planned_shapes(build), safetensors_shapes(path, fix), path, fix)
    model = build()
    if m.logit_scale == "frozen":
        model.text_head.logit_scale.requires_grad_(False)
    model.encoder.visual.set_grad_checkpointing(m.grad_checkpointing)
    return model.to(device)


def apply_norm(clip: Any, m: ModelConfig) -> None:
    """`model.norm: imagenet`: X-CLIP's img_norm_cfg over CLIP's weights, set as the tower's preprocess config, which
    `data.tower_norm` reads wherever frames are read (idempotent); `tower` leaves CLIP's own."""
    if m.norm == "imagenet":
        own = getattr(clip.visual, "preprocess_cfg", None) or {}
        set_model_preprocess_cfg(clip, {**own, "mean": IMAGENET_MEAN, "std": IMAGENET_STD})


def load_model_clip(name: str, pretrained: str, device: torch.device | str, why: str, fix: str) -> tuple[Any, Any, dict[str, Any]]:
    """`load_clip(name, pretrained)` for a model that reads CLIP's frozen parts from those weights, failing in one line
    that says `why` it needs them and the `fix` its own command takes when they cannot be had: a local file that is
    not there, or a tag neither cached nor downloadable. `load_clip`'s own hint names the --pretrained of corpus embed
    and alt-explain (CLIP weights), which in alt-eval and alt-predict takes a model folder."""
    if pretrained and is_checkpoint_file(pretrained) and not Path(pretrained).expanduser().is_file():
        raise ModelError(f"{pretrained}: CLIP weights not found ({why}); put the file back, or {fix}")
    try:
        return load_clip(name, pretrained, str(device))
    except ModelError:
        raise
    except UserError as exc:
        if "--pretrained" not in str(exc):  # an unknown tag, a file of another model: their hints name no flag
            raise
        raise ModelError(f"{str(exc).split('; pass')[0]} ({why}); {fix}") from None


def warn_stale_corpus(bundle: CorpusBundle, source: str, built: dict[str, Any]) -> None:
    """One warning when S was embedded by a CLIP of another activation than the one built now (a corpus.pt embedded
    before OpenAI's tags got their QuickGELU records none): its entities are then off this model's joint space."""
    embedded = bundle.provenance.get("activation")
    if bundle.provenance and embedded != built["activation"]:
        was = f"a CLIP running {embedded}" if embedded else "a toolkit that did not record CLIP's activation (OpenAI's tags then ran GELU)"
        log.warning("%s was embedded by %s, but this model's CLIP runs %s: its entities are off this CLIP's space; "
                    "embed it again with corpus embed", source, was, built["activation"])


def load_trained(checkpoint: str | Path, corpus: str | Path | None = None,
                 device: torch.device | str = "cpu") -> tuple[ALT | XCLIP, Config, dict[str, Any]]:
    """The model a checkpoint's config describes, with its weights, over `corpus` (default: its training corpus);
    returned with that config and the checkpoint dict. An official X-CLIP .pth (`xclip_official`) is the X-CLIP its
    weights' shapes describe, over no corpus."""
    state = load_checkpoint(checkpoint)
    cfg = load_config(base=state["config"])
    if is_official(state["model"]):
        return load_official_xclip(state["model"], checkpoint, device), cfg, state
    missing = (f"{checkpoint} reads CLIP's frozen text tower from them", "on a machine that has them, write a self-contained model "
               f"folder with 'alt-export {checkpoint} DIR' and load that with --pretrained DIR (alt-eval, alt-predict)")
    model = create_model(cfg, corpus or state["corpus"], device, num_classes=len(state.get("labels", [])), missing_clip=missing)
    load_weights(model, state["model"], checkpoint)
    return model, cfg, state


def load_released(source: str | Path, device: torch.device | str = "cpu") -> tuple[XCLIP, Config]:
    """A released X-CLIP, a Hugging Face folder (microsoft/xclip-base-patch32's) or an official .pth of microsoft/VideoX
    (k400_32_8.pth), with a config of its arch and frames; it carries no labels (evaluations name their own)."""
    from .hf_xclip import load_hf_xclip

    if Path(source).is_dir():
        model = load_hf_xclip(source, device)
        return model, load_config(None, {"model.arch": "xclip", "model.frames": model.num_frames})
    state = load_checkpoint(source)
    if not is_official(state["model"]):
        raise ModelError(f"{source}: an alt-train checkpoint, not a released X-CLIP; load it with load_trained")
    return load_official_xclip(state["model"], source, device), load_config(base=state["config"])
