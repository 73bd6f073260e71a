"""Costs in the papers' convention (DESIGN §8): parameters, and multiply-adds in billions called GFLOPs, of ALT
(`arch="alt"`) or of the X-CLIP baseline (`arch="xclip"`, DESIGN §10).

Both build the model on the meta device (shapes only: nothing is allocated or computed).
`count_params` counts as Table 1 does: the image tower and everything ALT adds, not the text
encoder ("Parameters in text encoders are not counted"). `count_gflops` runs one video through the
model under `torch.utils.flop_counter.FlopCounterMode`, which counts 2 FLOPs per multiply-add; we
halve that. Counted, as by fvcore in the papers: matrix products, convolutions and attention (on
the meta device attention decomposes into counted batched products). Not counted: element-wise
operations, norms, softmax and the matching's sort. `encoder` is the region-aware encoder over all
frames; `adapter` is everything after it (Eq. 4-10: alignment, the Eq. 6 MLPs, the adapter, the
logits). For X-CLIP, `encoder` is the cross-frame transformer (message tokens included) and `adapter`
the MIT, the prompt generator over the label set and the logits. The text encoder is not counted:
class embeddings are computed once per label set. One view is counted; Table 1's "3×1" views cost
three times as much.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from .encoder import DEFAULT_R
from .errors import ModelError
from .model import ALT, ARCHS

PAPER_K = 913  # text entities in the paper's corpus (supplementary A)


@dataclass(frozen=True)
class PaperCost:
    """A row of a paper's cost tables: `arch` (ALT, or X-CLIP) over `model`, `frames` frames, r merges (ALT's), `views` views."""

    table: str
    model: str
    frames: int
    r: int
    views: int
    gflops: float  # for all views, as the table gives it
    params_m: float | None  # millions, text encoder out; None where the table gives none
    options: tuple[tuple[str, Any], ...] = ()  # model options the row means
    arch: str = "alt"

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.options)
        merges = f" r={self.r}" if self.arch == "alt" else ""
        return f"{self.table}: {self.model} {self.frames}f{merges} {self.views} view{'s' * (self.views > 1)}{f' ({extra})' if extra else ''}"


PAPER_COSTS = (  # every GFLOPs and parameter figure the ALT paper gives for ALT itself
    PaperCost("Table 1", "ViT-B-16", 16, 8, 3, 657, 134.4),
    PaperCost("Table 1", "ViT-B-16", 32, 8, 3, 1308, 134.4),
    PaperCost("Table 1", "ViT-L-14", 16, 8, 3, 2478, 437.1),
    PaperCost("Table 1", "ViT-L-14", 32, 8, 3, 4947, 437.1),
    PaperCost("Table C5", "ViT-B-16", 8, 0, 1, 141, None, (("regions", False),)),  # "no token merging (also no region-aware alignment)"
    PaperCost("Table C5", "ViT-B-16", 8, 4, 1, 129, None),
    PaperCost("Table C5", "ViT-B-16", 8, 8, 1, 110, 134),  # = Table 6e (finetune): 110 GFLOPs, 134M
    PaperCost("Table C5", "ViT-B-16", 8, 13, 1, 86, None),
)
XCLIP_COSTS = (  # X-CLIP paper, Table 1: GFLOPs per view (its views are 4x3); no parameter counts given
    PaperCost("X-CLIP Table 1", "ViT-B-32", 8, 0, 1, 39, None, arch="xclip"),
    PaperCost("X-CLIP Table 1", "ViT-B-16", 8, 0, 1, 145, None, arch="xclip"),
    PaperCost("X-CLIP Table 1", "ViT-B-16", 16, 0, 1, 287, None, arch="xclip"),
    PaperCost("X-CLIP Table 1", "ViT-L-14", 8, 0, 1, 658, None, arch="xclip"),
)


class GFlops(float):
    """Multiply-adds per video in billions: the total (this float), with `encoder` and `adapter` parts."""

    def __new__(cls, encoder: float, adapter: float) -> GFlops:
        total = super().__new__(cls, encoder + adapter)
        total.encoder, total.adapter = encoder, adapter
        return total

    def __repr__(self) -> str:
        return f"GFlops({float(self):.1f}: encoder {self.encoder:.1f}, adapter {self.adapter:.1f})"


@dataclass(frozen=True)
class Params:
    """Parameters as Table 1 counts them: the image tower (`encoder`) and what ALT or X-CLIP adds (`added`); `tunable`:
    what training updates under the given `freeze`."""

    encoder: int
    added: int
    tunable: int

    @property
    def total(self) -> int:
        return self.encoder + self.added

    def __repr__(self) -> str:
        return f"Params({self.total / 1e6:.1f}M: encoder {self.encoder / 1e6:.1f}M, added {self.added / 1e6:.1f}M, tunable {self.tunable / 1e6:.1f}M)"


def meta_model(model_name: str, frames: int, r: int | list[int], corpus_size: int, num_classes: int, arch: str = "alt",
               **options: Any) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """ALT or X-CLIP (`arch`) over an open_clip model (name or OpenAI name, e.g. "ViT-B/16") on the meta device,
    with a meta video [1, frames, 3, H, W] and meta class embeddings [num_classes, d] (X-CLIP: r and the corpus unused)."""
    import open_clip

    from alt_common.clip import resolve_model

    from .xclip import XCLIP

    if arch not in ARCHS:
        raise ModelError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    name, _ = resolve_model(model_name)
    with torch.device("meta"):
        clip = open_clip.create_model(name, device="meta")
        dim = clip.visual.output_dim
        if arch == "xclip":
            model = XCLIP(clip, num_frames=frames, **options)
        else:
            model = ALT(clip, {"embeddings": torch.randn(corpus_size, dim)}, num_frames=frames, r=r, num_classes=num_classes, **options)
        video = torch.randn(1, frames, 3, *clip.visual.image_size)
        classes = torch.randn(num_classes, dim)
    return model.eval(), video, classes


def count_gflops(model_name: str = "ViT-B-16", frames: int = 8, r: int | list[int] = DEFAULT_R, *, corpus_size: int = PAPER_K,
                 num_classes: int = 400, arch: str = "alt", **options: Any) -> GFlops:
    """GFLOPs of ALT or X-CLIP (`arch`; `options`: its keyword options) for one view of `frames` frames."""
    model, video, classes = meta_model(model_name, frames, r, corpus_size, num_classes, arch, **options)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(video, classes)
    per_module = counter.get_flop_counts()
    total = sum(per_module["Global"].values()) / 2e9
    encoder = sum(per_module[f"{type(model).__name__}.encoder"].values()) / 2e9
    return GFlops(encoder=encoder, adapter=total - encoder)


def count_params(model_name: str = "ViT-B-16", frames: int = 8, *, freeze: str = "none", num_classes: int = 400,
                 arch: str = "alt", **options: Any) -> Params:
    """Parameters of ALT or X-CLIP (`arch`; `options`: its keyword options; ALT's corpus S is a buffer, not counted),
    text encoder out; `encoder` is CLIP's image tower, `added` the rest."""
    model, _, _ = meta_model(model_name, frames, DEFAULT_R, PAPER_K, num_classes, arch, **options)
    model.freeze(freeze)
    encoder = sum(p.numel() for p in model.encoder.visual.parameters())
    every = list(model.parameters())
    return Params(encoder=encoder, added=sum(p.numel() for p in every) - encoder, tunable=sum(p.numel() for p in every if p.requires_grad))
