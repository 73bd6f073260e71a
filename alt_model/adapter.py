"""Video representation adapter (paper Sec. 3.2, Eq. 6-9).

The adapter runs at `width` channels: by default the image tower's (768 for ViT-B, 1024 for ViT-L),
which gives Table 1's 134.4M / 437.1M parameters; the joint embedding width (512 / 768) gives half
the adapter. Eq. 6's MLPs take the joint space (E and S live there) up to `width`, Eq. 9's MLP takes
z back down to the joint space, where Eq. 10 compares it with the class embeddings.

- Eq. 6: q = MLP(ÂS) and ê = MLP(E), one vector per frame (`TokenReducer`), in one of two orders:
  `mlp-mean` (default) applies the MLP to every token and then takes a weighted mean, with weights
  the caller gives (`ALT`: the class token weighs as the whole frame, each region as the patches it
  covers); `sum-mlp` is the equation as written, "summing S weighted by Â, then reducing to a vector
  by MLP": the mean of the tokens (their sum over the n = N + 1 - L·r tokens, up to the 1/n the first
  linear layer absorbs), then the MLP. Why `mlp-mean` is the default: the nonlinearity acts on each
  aligned entity before they are pooled (with `sum-mlp` it sees only their average, a linear
  function of the 109 entities), and the area weights keep a frame's vector independent of how ToMe
  cut it, where a plain sum lets 108 regions outvote CLIP's class embedding 108 to 1.
- Eq. 7-8: M blocks, each Q'_m = SA_m(Q_{m-1}), Ê_m = Ê + 1D-CONV_m(Ê), Q_m = CA_m(Q'_m, Ê_m).
  As Eq. 8 is written, every block convolves the adapter's input Ê (not the previous block's Ê_m).
  SA and CA are a pre-norm transformer decoder's sub-layers (LayerNorm on the inputs, residual),
  and CA is followed by the decoder's feed-forward sub-layer. The convolution runs over time,
  kernel 3, zero padding, so T is free.
- Eq. 9: z = MLP(AvgPool_t(Q_M)).
`temporal_conv=False` and `self_attention=False` drop those modules (paper Table 5, rows b-d);
`cross_attention=False` leaves blocks of self-attention and feed-forward only, which `ALT` runs
over Ê for Table 5's row a ("substituting the video adapter with four self-attention layers").
"""

from __future__ import annotations

from torch import Tensor, nn

from .choices import REDUCE_ORDERS


def mlp(dim: int, hidden: int | None = None, out: int | None = None) -> nn.Sequential:
    """Linear-GELU-Linear, dim -> hidden -> out (both `dim` when not given)."""
    return nn.Sequential(nn.Linear(dim, hidden or dim), nn.GELU(), nn.Linear(hidden or dim, out or dim))


class TokenReducer(nn.Module):
    """Eq. 6: a frame's tokens [..., n, dim] -> one vector [..., width], in `order` (see the module docstring)."""

    def __init__(self, dim: int, width: int | None = None, order: str = "mlp-mean") -> None:
        super().__init__()
        self.mlp = mlp(dim, width, width)
        self.order = order

    def forward(self, tokens: Tensor, weights: Tensor) -> Tensor:
        """tokens [..., n, dim], weights [..., n] summing to 1 -> [..., width]."""
        if self.order == "sum-mlp":  # Eq. 6 as written: pool, then the MLP
            return self.mlp((weights[..., None] * tokens).sum(dim=-2))
        return (weights[..., None] * self.mlp(tokens)).sum(dim=-2)


class AdapterBlock(nn.Module):
    """One block of Eq. 8: SA on the queries, residual temporal conv on Ê, CA from queries to Ê, feed-forward."""

    def __init__(self, dim: int, heads: int, temporal_conv: bool = True, self_attention: bool = True,
                 cross_attention: bool = True) -> None:
        super().__init__()
        self.norm_sa = nn.LayerNorm(dim) if self_attention else None
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True) if self_attention else None
        self.conv = nn.Conv1d(dim, dim, kernel_size=3, padding=1) if temporal_conv else None
        self.norm_q = nn.LayerNorm(dim) if cross_attention else None
        self.norm_kv = nn.LayerNorm(dim) if cross_attention else None
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True) if cross_attention else None
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = mlp(dim, 4 * dim)

    def forward(self, queries: Tensor, frames: Tensor) -> Tensor:
        """queries Q_{m-1} [B, T, d], frames Ê [B, T, d] -> Q_m [B, T, d]."""
        if self.self_attn is not None:  # Eq. 8: Q'_m = SA_m(Q_{m-1})
            x = self.norm_sa(queries)
            queries = queries + self.self_attn(x, x, x, need_weights=False)[0]
        if self.cross_attn is not None:
            if self.conv is not None:  # Eq. 8: Ê_m = Ê + 1D-CONV_m(Ê)
                frames = frames + self.conv(frames.transpose(1, 2)).transpose(1, 2)
            kv = self.norm_kv(frames)  # Eq. 8: Q_m = CA_m(Q'_m, Ê_m)
            queries = queries + self.cross_attn(self.norm_q(queries), kv, kv, need_weights=False)[0]
        return queries + self.mlp(self.norm_mlp(queries))


class VideoAdapter(nn.Module):
    """Eq. 7-9: per-frame queries Q_0 and frame embeddings Ê [B, T, width] -> video embedding z [B, out]."""

    def __init__(self, width: int, depth: int = 4, heads: int | None = None, temporal_conv: bool = True,
                 self_attention: bool = True, cross_attention: bool = True, out: int | None = None) -> None:
        super().__init__()
        heads = heads or max(1, width // 64)
        self.blocks = nn.ModuleList(AdapterBlock(width, heads, temporal_conv and cross_attention, self_attention, cross_attention)
                                    for _ in range(depth))
        self.head = mlp(width, width, out)

    def forward(self, queries: Tensor, frames: Tensor) -> Tensor:
        for block in self.blocks:  # Eq. 8, m = 1..M
            queries = block(queries, frames)
        return self.head(queries.mean(dim=1))  # Eq. 9: z = MLP(AvgPool(Q_M))
