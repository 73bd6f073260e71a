"""Video representation adapter (paper Sec. 3.2, Eq. 6-9).

- Eq. 6: q = MLP(ÂS) and ê = MLP(E) are computed token by token and then reduced to one vector per
  frame by a weighted mean (`TokenReducer`). The caller gives the weights; `ALT` lets the class
  token weigh as the whole frame (N patches) and each region as the patches it covers, so the
  global view and the regions share the frame equally and a region counts by its area. A mean does
  not depend on the order merged tokens come in, which an MLP across the token axis would.
- Eq. 7-8: M blocks, each Q'_m = SA_m(Q_{m-1}), Ê_m = Ê + 1D-CONV_m(Ê), Q_m = CA_m(Q'_m, Ê_m).
  As Eq. 8 is written, every block convolves the adapter's input Ê (not the previous block's Ê_m).
  SA and CA are a pre-norm transformer decoder's sub-layers (LayerNorm on the inputs, residual),
  and CA is followed by the decoder's feed-forward sub-layer. The convolution runs over time,
  kernel 3, zero padding, so T is free.
- Eq. 9: z = MLP(AvgPool_t(Q_M)).
`temporal_conv=False` and `self_attention=False` drop those modules (paper Table 5, rows b-d).
"""

from __future__ import annotations

from torch import Tensor, nn


def mlp(dim: int, hidden: int | None = None) -> nn.Sequential:
    """Linear-GELU-Linear, dim -> dim."""
    return nn.Sequential(nn.Linear(dim, hidden or dim), nn.GELU(), nn.Linear(hidden or dim, dim))


class TokenReducer(nn.Module):
    """Eq. 6: MLP on every token, then the weighted mean over a frame's tokens."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp = mlp(dim)

    def forward(self, tokens: Tensor, weights: Tensor) -> Tensor:
        """tokens [..., n, d], weights [..., n] summing to 1 -> [..., d]."""
        return (weights[..., None] * self.mlp(tokens)).sum(dim=-2)


class AdapterBlock(nn.Module):
    """One block of Eq. 8: SA on the queries, residual temporal conv on Ê, CA from queries to Ê."""

    def __init__(self, dim: int, heads: int, temporal_conv: bool = True, self_attention: bool = True) -> None:
        super().__init__()
        self.norm_sa = nn.LayerNorm(dim) if self_attention else None
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True) if self_attention else None
        self.conv = nn.Conv1d(dim, dim, kernel_size=3, padding=1) if temporal_conv else None
        self.norm_q, self.norm_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = mlp(dim, 4 * dim)

    def forward(self, queries: Tensor, frames: Tensor) -> Tensor:
        """queries Q_{m-1} [B, T, d], frames Ê [B, T, d] -> Q_m [B, T, d]."""
        if self.self_attn is not None:  # Eq. 8: Q'_m = SA_m(Q_{m-1})
            x = self.norm_sa(queries)
            queries = queries + self.self_attn(x, x, x, need_weights=False)[0]
        if self.conv is not None:  # Eq. 8: Ê_m = Ê + 1D-CONV_m(Ê)
            frames = frames + self.conv(frames.transpose(1, 2)).transpose(1, 2)
        kv = self.norm_kv(frames)  # Eq. 8: Q_m = CA_m(Q'_m, Ê_m)
        queries = queries + self.cross_attn(self.norm_q(queries), kv, kv, need_weights=False)[0]
        return queries + self.mlp(self.norm_mlp(queries))


class VideoAdapter(nn.Module):
    """Eq. 7-9: per-frame queries Q_0 and frame embeddings Ê [B, T, d] -> video embedding z [B, d]."""

    def __init__(self, dim: int, depth: int = 4, heads: int | None = None,
                 temporal_conv: bool = True, self_attention: bool = True) -> None:
        super().__init__()
        heads = heads or max(1, dim // 64)
        self.blocks = nn.ModuleList(AdapterBlock(dim, heads, temporal_conv, self_attention) for _ in range(depth))
        self.head = mlp(dim)

    def forward(self, queries: Tensor, frames: Tensor) -> Tensor:
        for block in self.blocks:  # Eq. 8, m = 1..M
            queries = block(queries, frames)
        return self.head(queries.mean(dim=1))  # Eq. 9: z = MLP(AvgPool(Q_M))
