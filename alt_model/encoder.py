"""Region-aware image encoder (paper Sec. 3.1, Eq. 1-3): open_clip's ViT with token merging in every block.

`RegionAwareEncoder` wraps an open_clip `VisionTransformer` without copying its weights and runs
its blocks itself, so that it can
- compute attention from the block's own `nn.MultiheadAttention` weights (`in_proj_weight`,
  `in_proj_bias`, `out_proj`) and hand the keys, averaged over heads, to the matching; with r = 0
  the arithmetic is open_clip's and `out.cls` equals `encode_image`;
- add log(size) to the attention logits of every key (ToMe's proportional attention), so a token
  standing for s patches weighs as much as those s patches would;
- merge r tokens in every block after attention and before the MLP (`tome.py`, Eq. 2);
- honour open_clip's `set_grad_checkpointing` (each block is recomputed in the backward pass);
- take the region embeddings E (Eq. 3) after block `region_layer` and the class embedding after
  block `cls_layer` (Python indices over the blocks: -1 the last, -2 the second-last), both through
  `ln_post` and `proj`; the blocks after the later of the two do not run. The defaults are regions
  from the second-last block (Eq. 3: "after passing through L blocks (the second last layer)") and
  the class embedding from the last, CLIP's own image embedding (the one trained to match text);
  Table C5's 141 GFLOPs at r = 0 (8 frames) is the full 12-block ViT-B/16, so the last block runs.

Supported: the standard CLIP ViT (class-token pooling, open_clip's default residual blocks, no
attentional pooler, no patch dropout); anything else raises `ModelError` naming the option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .choices import CLS_LAYER, DEFAULT_R, REGION_LAYER
from .errors import ModelError
from .tome import bipartite_matching, max_merges, merge_assignment, merge_tokens, source_map


@dataclass
class EncoderOutput:
    """What the encoder returns for a batch of B images with N patches each."""

    cls: Tensor  # [B, d] the image embedding; equals `encode_image` when r = 0
    regions: Tensor  # [B, n, d] region embeddings in the joint space (Eq. 3), n = N - l·r after block l (l = L-1 by default)
    sizes: Tensor  # [B, n] how many patches each region covers
    sources: Tensor  # [B, n, N] 1 where region i covers patch j (patches in row-major grid order)


def check_supported(visual: nn.Module) -> None:
    """Raise `ModelError` unless `visual` is an open_clip ViT this encoder reproduces exactly."""
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    if not isinstance(visual, VisionTransformer):
        raise ModelError(f"RegionAwareEncoder needs an open_clip VisionTransformer, not {type(visual).__name__} "
                         "(ResNet and timm towers have no tokens to merge); choose a ViT model such as ViT-B-16")
    blocks = visual.transformer.resblocks
    problems = [
        (visual.attn_pool is not None, "an attentional pooler (CoCa-style attentional_pool)"),
        (visual.pool_type != "tok", f"pool_type={visual.pool_type!r} (only 'tok', class-token pooling)"),
        (not isinstance(visual.patch_dropout, nn.Identity), "patch dropout (create the model with force_patch_dropout=0)"),
        (len(blocks) < 2, "fewer than 2 blocks (regions are taken after the second-last)"),
        (not all(isinstance(b, ResidualAttentionBlock) and not hasattr(b, "ln_1_kv") for b in blocks),
         "custom attention blocks (qk_norm, scaled cosine attention, scale_heads, ...)"),
        (not all(b.attn.batch_first and b.attn._qkv_same_embed_dim and b.attn.bias_k is None for b in blocks),
         "attention that is not batch-first with a packed input projection"),
    ]
    unsupported = [what for bad, what in problems if bad]
    if unsupported:
        raise ModelError(f"RegionAwareEncoder does not support {'; '.join(unsupported)}; use a standard CLIP ViT config")


def self_attention(attn: nn.MultiheadAttention, x: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """open_clip's self-attention on x [B, n, c] with an additive logit bias; returns (output, keys averaged over heads, in fp32)."""
    batch, n, width = x.shape
    heads = attn.num_heads
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(batch, n, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=attn.dropout if attn.training else 0.0)
    return attn.out_proj(out.transpose(1, 2).reshape(batch, n, width)), k.mean(dim=1, dtype=torch.float32)


def embed_patches(visual: nn.Module, images: Tensor) -> Tensor:
    """Eq. 1: patch embeddings, class token and positions, then `ln_pre`, as open_clip's ViT does."""
    x = visual.conv1(images).flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    return visual.ln_pre(torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype))


def project(visual: nn.Module, tokens: Tensor) -> Tensor:
    """Into the joint image-text space: `ln_post`, then `proj` (when the tower has one)."""
    tokens = visual.ln_post(tokens)
    return tokens @ visual.proj if visual.proj is not None else tokens


def tome_block(block: nn.Module, x: Tensor, sizes: Tensor, assignment: Tensor, r: int,
               proportional: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Eq. 2, BLOCK_ToMe: attention (log(size) added to the logits once tokens have merged), r merges, MLP."""
    bias = sizes.log().transpose(1, 2)[:, None] if proportional else None
    attended, keys = self_attention(block.attn, block.ln_1(x), bias)
    x = x + block.ls_1(attended)
    if r:
        matching = bipartite_matching(keys, r)
        assignment = merge_assignment(assignment, matching, x.shape[1])
        x, sizes = merge_tokens(x, sizes, matching)
    return x + block.ls_2(block.mlp(block.ln_2(x))), sizes, assignment


class RegionAwareEncoder(nn.Module):
    """open_clip ViT + token merging; `r` tokens merged per block (an int, or one per block); the class
    embedding after block `cls_layer`, the regions after block `region_layer` (see the module docstring)."""

    def __init__(self, visual: nn.Module, r: int | Sequence[int] = DEFAULT_R, cls_layer: int = CLS_LAYER,
                 region_layer: int = REGION_LAYER) -> None:
        super().__init__()
        check_supported(visual)
        layers = len(visual.transformer.resblocks)
        for name, index in (("cls_layer", cls_layer), ("region_layer", region_layer)):
            if not -layers <= index < layers:
                raise ModelError(f"{name} must be a block index from {-layers} to {layers - 1} (-1: the last block) "
                                 f"for this {layers}-block ViT, got {index}")
        self.visual = visual
        self.r = r
        self.cls_layer, self.region_layer = cls_layer % layers, region_layer % layers
        for block in visual.transformer.resblocks[max(self.cls_layer, self.region_layer) + 1 :]:
            block.requires_grad_(False)  # blocks that do not run learn nothing (and DDP wants no unused parameters)

    def merge_schedule(self, num_tokens: int) -> list[int]:
        """Tokens merged in each block for `num_tokens` input tokens, capped at what each block can merge."""
        layers = len(self.visual.transformer.resblocks)
        wanted = [self.r] * layers if isinstance(self.r, int) else list(self.r)
        if len(wanted) != layers or any(r < 0 for r in wanted):
            raise ModelError(f"r must be a non-negative int or a list of {layers} non-negative ints (one per block), got {self.r!r}")
        schedule = []
        for r in wanted:
            schedule.append(min(r, max_merges(num_tokens)))
            num_tokens -= schedule[-1]
        return schedule

    def forward(self, images: Tensor) -> EncoderOutput:
        """images [B, 3, H, W] at the tower's image size."""
        x = embed_patches(self.visual, images)
        batch, n, _ = x.shape
        sizes = x.new_ones(batch, n, 1)
        assignment = torch.arange(n, device=x.device).expand(batch, -1)  # input position -> token index
        blocks, schedule = self.visual.transformer.resblocks, self.merge_schedule(n)
        checkpointing = self.visual.transformer.grad_checkpointing and torch.is_grad_enabled()
        for index in range(max(self.cls_layer, self.region_layer) + 1):  # the later blocks do not run
            step = (blocks[index], x, sizes, assignment, schedule[index], sum(schedule[:index]) > 0)
            x, sizes, assignment = checkpoint(tome_block, *step, use_reentrant=False) if checkpointing else tome_block(*step)
            if index == self.region_layer:  # Eq. 3: the regions of E
                regions, region_sizes, region_assignment = x[:, 1:], sizes[:, 1:, 0], assignment
            if index == self.cls_layer:  # Eq. 3: e_cls
                cls = x[:, 0]
        sources = source_map(region_assignment, regions.shape[1] + 1, regions.dtype)[:, 1:, 1:]
        return EncoderOutput(cls=project(self.visual, cls), regions=project(self.visual, regions), sizes=region_sizes, sources=sources)
