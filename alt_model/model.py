"""ALT (paper Sec. 3, Fig. 2): region-aware encoder, entity alignment, video adapter and text head.

For a video [B, T, 3, H, W] and a label set, per frame:
  E = [class embedding, region embeddings]                              (Eq. 3, `RegionAwareEncoder`)
  Â = aligner(E, S)                                                      (Eq. 4-5)
  q = Σ_tokens w · MLP(ÂS),  ê = Σ_tokens w · MLP(E)                      (Eq. 6, `TokenReducer`)
then z = adapter(Q_0, Ê) (Eq. 7-9) and logits = scale · cᵀz (Eq. 10). The class embedding in E is
the final one (`encode_image`'s, trained to match text); the regions come from the second-last
block (Eq. 3); `cls_layer` / `region_layer` move either. Token weights w: the class token weighs as
the whole frame (N patches), each region as the patches it covers, normalised to sum to 1
(`reduce="sum-mlp"`: Eq. 6 as written, every token alike, pooled before the MLP). The adapter runs
at the image tower's width (`adapter_width="vision"`, Table 1's parameter count) or the joint one.

Ablations (paper Tables 4-8, supplementary Tables C4-C5):
- `align=False`: no alignment, the queries come from the image embeddings, q = MLP(E)
  (Table 4a, the X-CLIP-like "adapt then align" baseline);
- `queries="action-names"`: align to the label set's own class embeddings instead of S (4b);
  `queries="learnable"`: Q_0 is a learned [T, width] tensor, no text (Table C4, row Ø);
- `regions=False`: E is the class embedding alone (4a-c; with r = 0, Table C5's first row);
- `temporal_conv`, `self_attention`: the adapter's modules (Table 5b-e);
  `adapter="self-attention"`: M self-attention layers over Ê replace the adapter, no queries (5a);
- `head="linear"`: a linear classifier on z over a fixed label set (Table 8's linear probe);
- `categories=[...]`: keep only the corpus entities of these categories (Table C4).
Freezing parts for training (Table 6a's frozen encoder, Table 8) is `freeze`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alt_common.bundle import CorpusBundle

from .adapter import REDUCE_ORDERS, TokenReducer, VideoAdapter
from .aligner import EntityAligner
from .choices import ADAPTER_WIDTHS, ADAPTERS, ALIGNER_SCALES, ARCHS, FREEZE, HEADS, QUERIES
from .encoder import CLS_LAYER, DEFAULT_R, REGION_LAYER, EncoderOutput, RegionAwareEncoder
from .errors import ModelError
from .text_head import LinearHead, TextHead


@dataclass
class ALTOutput:
    """Logits and what explains them."""

    logits: Tensor  # [B, C]
    video_embedding: Tensor  # [B, d], z of Eq. 9
    entity_ids: Tensor | None  # [B, T, n] aligned entity per token (class token first); None without alignment
    frames: EncoderOutput | None  # the encoder's output for the B·T frames (regions, sizes, sources); None for X-CLIP


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
        cls_layer: int = CLS_LAYER,
        region_layer: int = REGION_LAYER,
        adapter_width: str = "vision",
        adapter_depth: int | None = None,
        adapter_heads: int | None = None,
        reduce: str = "mlp-mean",
        temperature: float = 1.0,
        aligner_scale: str = "clip",
        align: bool = True,
        queries: str = "corpus",
        regions: bool = True,
        adapter: str = "alt",
        temporal_conv: bool = True,
        self_attention: bool = True,
        head: str = "text",
        num_classes: int | None = None,
        categories: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        for name, value, allowed in (("queries", queries, QUERIES), ("aligner_scale", aligner_scale, ALIGNER_SCALES),
                                     ("adapter_width", adapter_width, ADAPTER_WIDTHS), ("reduce", reduce, REDUCE_ORDERS),
                                     ("adapter", adapter, ADAPTERS), ("head", head, HEADS)):
            if value not in allowed:
                raise ModelError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if not align and queries != "corpus":
            raise ModelError(f"align=False takes the queries from the image embeddings; drop queries={queries!r}")
        if head == "linear" and not (num_classes and num_classes > 0):
            raise ModelError("a linear head (head='linear') needs num_classes, the size of its label set")
        dim = clip_model.visual.output_dim
        width = clip_model.visual.transformer.width if adapter_width == "vision" else dim
        if adapter_heads is not None and (adapter_heads < 1 or width % adapter_heads):
            raise ModelError(f"adapter_heads must divide the adapter's {width} channels, got {adapter_heads}")
        self.encoder = RegionAwareEncoder(clip_model.visual, r, cls_layer, region_layer)
        self.align, self.queries, self.regions, self.num_frames, self.reduce = align, queries, regions, num_frames, reduce
        self.uses_queries = adapter == "alt"
        bundle = corpus if isinstance(corpus, CorpusBundle) else CorpusBundle.from_dict(corpus)
        S, self.entity_units = bundle.entities(dim, categories)
        self.register_buffer("entities", S)  # S, frozen (Sec. 3.1)
        if self.uses_queries and align and queries != "learnable":  # built only where it runs: DDP wants no unused parameters
            clip_scale = clip_model.logit_scale.exp() if aligner_scale != "none" else 1.0
            self.aligner = EntityAligner(temperature, clip_scale, learn_scale=aligner_scale == "learned")
        if self.uses_queries and queries == "learnable":  # Table C4, row Ø: Q_0 learned
            self.learned_queries = nn.Parameter(torch.randn(num_frames, width) * width**-0.5)
        elif self.uses_queries:
            self.query_reducer = TokenReducer(dim, width, reduce)  # Eq. 6, q
        self.frame_reducer = TokenReducer(dim, width, reduce)  # Eq. 6, ê
        depth = adapter_depth or default_depth(clip_model.visual.transformer.width)
        self.adapter = VideoAdapter(width, depth, adapter_heads, temporal_conv, self_attention or not self.uses_queries,
                                    cross_attention=self.uses_queries, out=dim)
        if tokenizer is None:
            from open_clip.tokenizer import SimpleTokenizer

            tokenizer = SimpleTokenizer(context_length=getattr(clip_model, "context_length", 77))
        self.text_head = TextHead(clip_model, tokenizer, templates)
        if head == "linear":  # Table 8: the labels' text only counts them; its logit scale is not used
            self.text_head.logit_scale.requires_grad_(False)
            self.linear_head = LinearHead(dim, num_classes)

    def is_pretrained(self, name: str) -> bool:
        """Whether parameter `name` holds CLIP's pretrained weights (the image tower: `train.lr_vit`)."""
        return name.startswith("encoder.")

    def freeze(self, what: str) -> None:
        """Leave parts fixed in training: `encoder` (Table 6a), `all-but-head` (Table 8's linear probe), or `none`."""
        if what not in FREEZE:
            raise ModelError(f"freeze must be one of {', '.join(FREEZE)}, got {what!r}")
        if what == "all-but-head" and not hasattr(self, "linear_head"):
            raise ModelError("freeze='all-but-head' trains only a linear probe's head; build the model with head='linear'")
        if what == "encoder":
            self.encoder.requires_grad_(False)
        elif what == "all-but-head":
            self.requires_grad_(False)
            self.linear_head.requires_grad_(True)

    def token_weights(self, frames: EncoderOutput) -> Tensor:
        """[B·T, n]: the class token weighs as the whole frame, each region as its patches (`reduce="sum-mlp"`:
        every token alike); rows sum to 1."""
        if not self.regions:
            return frames.sizes.new_ones(len(frames.sizes), 1)
        weights = torch.cat([frames.sizes.sum(dim=1, keepdim=True), frames.sizes], dim=1)
        if self.reduce == "sum-mlp":  # Eq. 6 as written: a sum over the tokens
            weights = torch.ones_like(weights)
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
        unflat = (batch, frames_per_video, -1)
        frame_keys = self.frame_reducer(E, weights).reshape(unflat)  # Eq. 6: ê = MLP(E)
        entity_ids = None
        if not self.uses_queries:  # Table 5a: self-attention layers over Ê, no queries
            queries = frame_keys
        elif self.queries == "learnable":
            queries = self.learned_queries.expand(batch, -1, -1)
        elif not self.align:  # Table 4a: queries from the image embeddings
            queries = self.query_reducer(E, weights).reshape(unflat)
        else:
            S = self.entities if self.queries == "corpus" else classes
            aligned = self.aligner(E, S)  # Eq. 4-5
            entity_ids = aligned.entity_ids.view(batch, frames_per_video, -1)
            queries = self.query_reducer(aligned.weights @ S, weights).reshape(unflat)  # Eq. 6: q = MLP(ÂS)
        z = self.adapter(queries, frame_keys)  # Eq. 7-9
        logits = self.linear_head(z, classes) if hasattr(self, "linear_head") else self.text_head(z, classes)  # Eq. 10 or Table 8
        return ALTOutput(logits=logits, video_embedding=z, entity_ids=entity_ids, frames=frames)
