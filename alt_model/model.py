"""ALT (paper Sec. 3, Fig. 2): region-aware encoder, entity alignment, video adapter and text head.

For a video [B, T, 3, H, W] and a label set, per frame:
  E = [class embedding, region embeddings]                              (Eq. 3, `RegionAwareEncoder`)
  Â = aligner(E, S)                                                      (Eq. 4-5)
  q = Σ_tokens w · MLP(ÂS),  ê = Σ_tokens w · MLP(E)                      (Eq. 6, `TokenReducer`)
then z = adapter(Q_0, Ê) (Eq. 7-9) and logits = scale · cᵀz (Eq. 10). The class embedding in E is
the final one (`encode_image`'s, trained to match text); the regions come from the second-last
block (Eq. 3). Token weights w: the class token weighs as the whole frame (N patches), each region
as the patches it covers, normalised to sum to 1.

Ablations (paper Table 4, Table 5, supplementary Table C4):
- `align=False`: no alignment, the queries come from the image embeddings, q = MLP(E)
  (row a, the X-CLIP-like "adapt then align" baseline);
- `queries="action-names"`: align to the label set's own class embeddings instead of S (row b);
  `queries="learnable"`: Q_0 is a learned [T, d] tensor, no text (Table C4, row Ø);
- `regions=False`: E is the class embedding alone (rows a-c); r still sets the merging;
- `temporal_conv`, `self_attention`: the adapter's modules (Table 5);
- `categories=[...]`: keep only the corpus entities of these categories (Table C4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alt_common.bundle import CorpusBundle

from .adapter import TokenReducer, VideoAdapter
from .aligner import EntityAligner
from .encoder import DEFAULT_R, EncoderOutput, RegionAwareEncoder
from .errors import ModelError
from .text_head import TextHead

QUERIES = ("corpus", "action-names", "learnable")
ALIGNER_SCALES = ("clip", "learned", "none")  # the cosines' scale before Eq. 4's noise: CLIP's logit scale, learned from it, or 1


@dataclass
class ALTOutput:
    """Logits and what explains them."""

    logits: Tensor  # [B, C]
    video_embedding: Tensor  # [B, d], z of Eq. 9
    entity_ids: Tensor | None  # [B, T, n] aligned entity per token (class token first); None without alignment
    frames: EncoderOutput  # the encoder's output for the B·T frames (regions, sizes, sources)


def default_depth(vision_width: int) -> int:
    """M = 4 adapter blocks for ViT-B and 6 for ViT-L (Sec. 3.3): 6 from a 1024-wide vision tower up."""
    return 6 if vision_width >= 1024 else 4


class ALT(nn.Module):
    """The ALT video classifier over an open_clip CLIP model and a corpus.pt bundle (see the module docstring);
    `factory.create_model` builds it from a config."""

    def __init__(
        self,
        clip_model: nn.Module,
        corpus: CorpusBundle | dict[str, Any],
        num_frames: int = 8,
        r: int | Sequence[int] = DEFAULT_R,
        *,
        tokenizer: Callable[[list[str]], Tensor] | None = None,
        templates: Sequence[str] | None = None,
        adapter_depth: int | None = None,
        adapter_heads: int | None = None,
        temperature: float = 1.0,
        aligner_scale: str = "clip",
        align: bool = True,
        queries: str = "corpus",
        regions: bool = True,
        temporal_conv: bool = True,
        self_attention: bool = True,
        categories: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if queries not in QUERIES:
            raise ModelError(f"queries must be one of {QUERIES}, got {queries!r}")
        if not align and queries != "corpus":
            raise ModelError(f"align=False takes the queries from the image embeddings; drop queries={queries!r}")
        dim = clip_model.visual.output_dim
        if adapter_heads is not None and (adapter_heads < 1 or dim % adapter_heads):
            raise ModelError(f"adapter_heads must divide the {dim}-d joint space, got {adapter_heads}")
        self.encoder = RegionAwareEncoder(clip_model.visual, r)
        self.align, self.queries, self.regions, self.num_frames = align, queries, regions, num_frames
        bundle = corpus if isinstance(corpus, CorpusBundle) else CorpusBundle.from_dict(corpus)
        S, self.entity_units = bundle.entities(dim, categories)
        self.register_buffer("entities", S)  # S, frozen (Sec. 3.1)
        if aligner_scale not in ALIGNER_SCALES:
            raise ModelError(f"aligner_scale must be one of {ALIGNER_SCALES}, got {aligner_scale!r}")
        clip_scale = clip_model.logit_scale.exp() if aligner_scale != "none" else 1.0
        self.aligner = EntityAligner(temperature, clip_scale, learn_scale=aligner_scale == "learned")
        if queries == "learnable":  # Table C4, row Ø: Q_0 learned
            self.learned_queries = nn.Parameter(torch.randn(num_frames, dim) * dim**-0.5)
        else:
            self.query_reducer = TokenReducer(dim)  # Eq. 6, q
        self.frame_reducer = TokenReducer(dim)  # Eq. 6, ê
        self.adapter = VideoAdapter(dim, adapter_depth or default_depth(clip_model.visual.transformer.width),
                                    adapter_heads, temporal_conv, self_attention)
        if tokenizer is None:
            from open_clip.tokenizer import SimpleTokenizer

            tokenizer = SimpleTokenizer(context_length=getattr(clip_model, "context_length", 77))
        self.text_head = TextHead(clip_model, tokenizer, templates)

    def token_weights(self, frames: EncoderOutput) -> Tensor:
        """[B·T, n]: the class token weighs as the whole frame, each region as its patches; rows sum to 1."""
        if not self.regions:
            return frames.sizes.new_ones(len(frames.sizes), 1)
        weights = torch.cat([frames.sizes.sum(dim=1, keepdim=True), frames.sizes], dim=1)
        return weights / weights.sum(dim=1, keepdim=True)

    def forward(self, video: Tensor, labels: Sequence[str] | Tensor) -> ALTOutput:
        """video [B, T, 3, H, W]; labels: names, or their class embeddings [C, d] -> logits [B, C]."""
        batch, frames_per_video = video.shape[:2]
        if self.queries == "learnable" and frames_per_video != self.num_frames:
            raise ModelError(f"learned queries are per frame: this model takes {self.num_frames} frames, got {frames_per_video}")
        classes = F.normalize(labels, dim=-1) if isinstance(labels, Tensor) else self.text_head.class_embeddings(labels)
        frames = self.encoder(video.flatten(0, 1))
        E = frames.cls[:, None] if not self.regions else torch.cat([frames.cls[:, None], frames.regions], dim=1)  # Eq. 3
        weights = self.token_weights(frames)
        entity_ids = None
        if self.queries == "learnable":
            queries = self.learned_queries.expand(batch, -1, -1)
        elif not self.align:  # Table 4a: queries from the image embeddings
            queries = self.query_reducer(E, weights)
        else:
            S = self.entities if self.queries == "corpus" else classes
            aligned = self.aligner(E, S)  # Eq. 4-5
            entity_ids = aligned.entity_ids.view(batch, frames_per_video, -1)
            queries = self.query_reducer(aligned.weights @ S, weights)  # Eq. 6: q = MLP(ÂS)
        frame_keys = self.frame_reducer(E, weights)  # Eq. 6: ê = MLP(E)
        unflat = (batch, frames_per_video, -1)
        z = self.adapter(queries.reshape(unflat), frame_keys.reshape(unflat))  # Eq. 7-9
        return ALTOutput(logits=self.text_head(z, classes), video_embedding=z, entity_ids=entity_ids, frames=frames)
