"""Token merging by bipartite soft matching (ToMe, Bolya et al., ICLR 2023, Sec. 3): the merge in Eq. 2.

Written from the paper's description, as pure tensor functions:
- tokens alternate into two sets, A (even positions) and B (odd positions); position 0, the class
  token, falls in A and is never merged;
- each A token is joined to its most similar B token (cosine similarity of the attention keys,
  averaged over heads by the caller);
- the r most similar pairs are merged: the A token is folded into its B partner by a
  size-weighted average, so a merged token is the mean of all the patches it covers;
- which token each input position now belongs to is kept as an index map [B, N + 1] (cheap to
  update, O(N) per block); `sources` turns it into the one-hot source map.
Merged sequences are laid out as [kept A tokens in their original order, B tokens]: the class
token stays at position 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .precision import fp32_cosines


@dataclass(frozen=True)
class Matching:
    """The r merges one block makes; every index is per batch row."""

    kept: Tensor  # [B, |A| - r] positions in A that stay, ascending (class token first)
    merged: Tensor  # [B, r] positions in A folded into B
    into: Tensor  # [B, r] the position in B each merged A token joins


def max_merges(n: int) -> int:
    """The most tokens one block can merge away from n tokens (class token included): all of A but the class token."""
    return (n + 1) // 2 - 1


@torch.no_grad()
def bipartite_matching(keys: Tensor, r: int) -> Matching:
    """Match the r most similar (A, B) pairs of keys [B, n, c]; r must not exceed `max_merges(n)`."""
    scores = fp32_cosines(keys[:, ::2], keys[:, 1::2])  # [B, |A|, |B|], in fp32 under autocast too
    scores[:, 0] = -torch.inf  # the class token is never merged
    best, partner = scores.max(dim=-1)
    order = best.argsort(dim=-1, descending=True)
    merged = order[:, :r]
    return Matching(kept=order[:, r:].sort(dim=-1).values, merged=merged, into=partner.gather(1, merged))


def merge_sum(x: Tensor, m: Matching) -> Tensor:
    """[B, n, c] -> [B, n - r, c]: each merged A row is added to its B partner; kept A rows then B rows."""
    a, b = x[:, ::2], x[:, 1::2]
    width = x.shape[-1]
    kept = a.gather(1, m.kept[..., None].expand(-1, -1, width))
    moved = a.gather(1, m.merged[..., None].expand(-1, -1, width))
    return torch.cat([kept, b.scatter_add(1, m.into[..., None].expand(-1, -1, width), moved)], dim=1)


def merge_tokens(x: Tensor, sizes: Tensor, m: Matching) -> tuple[Tensor, Tensor]:
    """Size-weighted average of merged tokens x [B, n, c] with sizes [B, n, 1]; returns the new tokens (in x's
    dtype) and sizes. Summed in fp32: CLIP's outlier channels (thousands) times sizes (tens) overflow fp16."""
    merged_sizes = merge_sum(sizes, m)
    wide = merge_sum(x.to(torch.promote_types(x.dtype, torch.float32)) * sizes, m) / merged_sizes
    return wide.to(x.dtype), merged_sizes


@torch.no_grad()
def merge_assignment(assignment: Tensor, m: Matching, n: int) -> Tensor:
    """Update the map [B, N + 1] from input positions to token indices after the merges m of n tokens."""
    batch, kept = m.kept.shape
    arange = torch.arange(n, device=assignment.device)
    new_index = torch.empty(batch, n, dtype=torch.long, device=assignment.device)
    new_index[:, 1::2] = kept + arange[: n // 2]  # B tokens follow the kept A tokens
    new_index.scatter_(1, 2 * m.kept, arange[:kept].expand(batch, -1))
    new_index.scatter_(1, 2 * m.merged, kept + m.into)
    return new_index.gather(1, assignment)


def source_map(assignment: Tensor, n: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """One-hot sources [B, n, N + 1]: 1 where token i covers input position j."""
    return F.one_hot(assignment, n).transpose(1, 2).to(dtype)
