"""Costs in the papers' convention (DESIGN §8): multiply-adds in billions, called GFLOPs.

`count_gflops` builds the model on the meta device (shapes only: nothing is allocated or
computed) and runs one video through it under `torch.utils.flop_counter.FlopCounterMode`, which
counts 2 FLOPs per multiply-add; we halve that. Counted, as by fvcore in the papers: matrix
products, convolutions and attention (on the meta device attention decomposes into counted batched
products). Not counted: element-wise operations, norms, softmax and the matching's sort.
`encoder` is the region-aware encoder over all frames; `adapter` is everything after it (Eq. 4-10:
alignment, the Eq. 6 MLPs, the adapter, the logits). The text encoder is not counted: class
embeddings are computed once per label set.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from .encoder import DEFAULT_R
from .model import ALT

PAPER_K = 913  # text entities in the paper's corpus (supplementary A)


class GFlops(float):
    """Multiply-adds per video in billions: the total (this float), with `encoder` and `adapter` parts."""

    def __new__(cls, encoder: float, adapter: float) -> GFlops:
        total = super().__new__(cls, encoder + adapter)
        total.encoder, total.adapter = encoder, adapter
        return total

    def __repr__(self) -> str:
        return f"GFlops({float(self):.1f}: encoder {self.encoder:.1f}, adapter {self.adapter:.1f})"


def count_gflops(model_name: str = "ViT-B-16", frames: int = 8, r: int = DEFAULT_R, *, corpus_size: int = PAPER_K,
                 num_classes: int = 400, **options: Any) -> GFlops:
    """GFLOPs of ALT over an open_clip model (name or OpenAI name, e.g. "ViT-B/16") for one video of `frames` frames."""
    import open_clip

    from alt_common.clip import resolve_model

    name, _ = resolve_model(model_name)
    with torch.device("meta"):
        clip = open_clip.create_model(name, device="meta")
        dim = clip.visual.output_dim
        model = ALT(clip, {"embeddings": torch.randn(corpus_size, dim)}, num_frames=frames, r=r, **options).eval()
        video = torch.randn(1, frames, 3, *clip.visual.image_size)
        classes = torch.randn(num_classes, dim)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(video, classes)
    per_module = counter.get_flop_counts()
    total = sum(per_module["Global"].values()) / 2e9
    encoder = sum(per_module["ALT.encoder"].values()) / 2e9
    return GFlops(encoder=encoder, adapter=total - encoder)
