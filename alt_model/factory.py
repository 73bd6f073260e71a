"""ALT from its config, open_clip's way: one factory builds every model a config describes.

Every `ALT` option is a key of `ModelConfig` (`model:` in configs/*.yaml), so the same call builds
the tiny test model and ALT-L/14, any ablation included; `model.arch: xclip` builds the X-CLIP
baseline (`xclip.py`) over the same CLIP model instead. The CLIP model is the one that embedded
the corpus unless `model.name` / `model.pretrained` say otherwise; it must be the same architecture,
since S lives in its joint space. A checkpoint carries its config, so it rebuilds its own model
(`load_trained`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from alt_common.bundle import CorpusBundle
from alt_common.clip import load_clip, resolve_model

from .checkpoint import load_checkpoint, load_weights
from .config import Config, ModelConfig, load_config
from .errors import ModelError
from .model import ALT
from .text_head import load_templates

if TYPE_CHECKING:
    from .xclip import XCLIP


def create_model(cfg: ModelConfig | Config, bundle: CorpusBundle | str | Path, device: torch.device | str = "cpu",
                 num_classes: int | None = None) -> ALT | XCLIP:
    """The ALT model `cfg` describes, over `bundle` (a corpus.pt or its path) and the CLIP model that embedded it;
    `num_classes`: the label set's size, which a linear head (`model.head: linear`) is built for."""
    m = cfg.model if isinstance(cfg, Config) else cfg
    source = "the corpus" if isinstance(bundle, CorpusBundle) else str(bundle)
    bundle = bundle if isinstance(bundle, CorpusBundle) else CorpusBundle.load(bundle)
    name, pretrained = m.name or bundle.model, m.pretrained or bundle.pretrained
    if not name or not pretrained:
        raise ModelError(f"{source}: no 'model'/'pretrained' recorded; set model.name and model.pretrained")
    if bundle.model and resolve_model(bundle.model)[0] != resolve_model(name)[0]:
        raise ModelError(f"{source} was embedded with {bundle.model!r}, not {name!r}; re-embed it or use that model")
    clip, tokenizer, _ = load_clip(name, pretrained, str(device))
    templates = load_templates(m.templates) if isinstance(m.templates, str) else m.templates
    if m.arch == "xclip":  # the baseline; ALT's keys do not apply to it
        from .hf_xclip import activation_of
        from .xclip import XCLIP

        model = XCLIP(clip, m.frames, tokenizer=tokenizer, templates=templates, mit_layers=m.mit_layers, prompt_layers=m.prompt_layers,
                      prompt_alpha=m.prompt_alpha, activation=activation_of(clip.visual.transformer.resblocks[0]))
        model.encoder.visual.set_grad_checkpointing(m.grad_checkpointing)
        return model.to(device)
    model = ALT(clip, bundle, m.frames, m.r, tokenizer=tokenizer, templates=templates, cls_layer=m.cls_layer, region_layer=m.region_layer,
                adapter_width=m.adapter_width, adapter_depth=m.adapter_depth, adapter_heads=m.adapter_heads, reduce=m.reduce,
                temperature=m.temperature, aligner_scale=m.aligner_scale, align=m.align, queries=m.queries, regions=m.regions,
                adapter=m.adapter, temporal_conv=m.temporal_conv, self_attention=m.self_attention, head=m.head,
                num_classes=num_classes, categories=m.categories)
    model.encoder.visual.set_grad_checkpointing(m.grad_checkpointing)
    return model.to(device)


def load_trained(checkpoint: str | Path, corpus: str | Path | None = None,
                 device: torch.device | str = "cpu") -> tuple[ALT | XCLIP, Config, dict[str, Any]]:
    """The model a checkpoint's config describes, with its weights, over `corpus` (default: its training corpus);
    returned with that config and the checkpoint dict."""
    state = load_checkpoint(checkpoint)
    cfg = load_config(base=state["config"])
    model = create_model(cfg, corpus or state["corpus"], device, num_classes=len(state.get("labels", [])))
    load_weights(model, state["model"], checkpoint)
    return model, cfg, state


def load_released(folder: str | Path, device: torch.device | str = "cpu") -> tuple[XCLIP, Config]:
    """A released X-CLIP (an HF folder such as microsoft/xclip-base-patch32's) with a config of its arch and frames;
    it carries no labels (evaluations name their own)."""
    from .hf_xclip import load_hf_xclip

    model = load_hf_xclip(folder, device)
    return model, load_config(None, {"model.arch": "xclip", "model.frames": model.num_frames})
