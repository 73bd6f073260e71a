"""X-CLIP (Ni et al. 2022, "Expanding Language-Image Pretrained Models for General Video Recognition", Sec. 3),
the baseline of DESIGN §10, over an open_clip CLIP model and with the arithmetic of `transformers`' `XCLIPModel`.

For a video [B, T, 3, H, W] and a label set:
  h_t = CCT(frame t)               cross-frame communication transformer (Eq. 4-9, `CrossFrameEncoder`): CLIP's
                                   ViT, each block given a message token per frame (Eq. 7) that the frame's tokens
                                   attend to (Eq. 8) and that is dropped before the MLP (Eq. 9);
  v = mean(MIT(H + e_temp) + H)    multi-frame integration transformer (Eq. 6, `MultiFrameIntegration`), with the
                                   residual of the released code;
  ĉ = c + α·prompts(c, z̄)          video-specific prompts (Eq. 10, `VideoSpecificPrompts`): the class text features
                                   c cross-attend to the frames' patch tokens averaged over time, z̄; with
                                   `prompt_layers=0` there is no prompt generator and ĉ = c (ALT's Table 4a);
  logits = scale · cos(v, ĉ)       Eq. 3, a prompted class embedding per video; scale = exp(CLIP's logit scale), not
                                   clamped (as HF's `logits_per_video`) and frozen by default (`logit_scale`), as the
                                   released code's FIX_TEXT leaves it (only `visual.`, `mit` and `prompts` train).
The class text features c are CLIP's text features of the labels, not normalised (Sec. 3.3 embeds the bare
"{label}"), from the frozen text tower: `text_head.class_embeddings`, cached per label set, the tower outside
the state_dict (as `TextHead` holds it). The message modules, the MIT and the prompts are new (the released
code trains them at 10x the learning rate); everything else is CLIP's (`is_pretrained`). Not supported: drop
path and dropout in the new modules (0 in X-CLIP's released configs).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import LayerNorm, QuickGELU, Transformer
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .choices import LOGIT_SCALES, XCLIP_FREEZE as FREEZE
from .encoder import embed_patches, project
from .errors import ModelError
from .model import ALTOutput
from .text_head import TextHead

ACTIVATIONS: dict[str, type[nn.Module]] = {"quick_gelu": QuickGELU, "gelu": nn.GELU}  # of the MIT and the prompts
NEW_MODULES = ("encoder.messages.", "mit.", "prompts.")  # parameter-name prefixes of what X-CLIP adds to CLIP


@dataclass
class FrameFeatures:
    """The cross-frame transformer's output for B videos of T frames with N patches each."""

    cls: Tensor  # [B, T, d] frame embeddings h_t in the joint space (Eq. 5, through `ln_post` and `proj`)
    tokens: Tensor  # [B, T, N, c] the last block's patch tokens z_t^(L_c), before `ln_post`


def check_tower(visual: nn.Module) -> None:
    """Raise `ModelError` unless `visual` is an open_clip ViT whose blocks `CrossFrameEncoder` can run."""
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    if not isinstance(visual, VisionTransformer):
        raise ModelError(f"X-CLIP needs an open_clip VisionTransformer, not {type(visual).__name__}; choose a ViT such as ViT-B-32")
    blocks = visual.transformer.resblocks
    problems = [
        (visual.attn_pool is not None or visual.pool_type != "tok", "pooling other than the class token"),
        (not isinstance(visual.patch_dropout, nn.Identity), "patch dropout"),
        (not all(isinstance(b, ResidualAttentionBlock) and b.attn.batch_first and not hasattr(b, "ln_1_kv") for b in blocks),
         "custom or non-batch-first attention blocks"),
    ]
    unsupported = [what for bad, what in problems if bad]
    if unsupported:
        raise ModelError(f"X-CLIP does not support {'; '.join(unsupported)}; use a standard CLIP ViT config")


class MessageAttention(nn.Module):
    """Eq. 7, cross-frame fusion attention: m_t = W·z_{t,0} from each frame's class token, then M + MHSA(LN(M))
    over the T messages of a video."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.ln = LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, cls: Tensor) -> Tensor:
        """Class tokens [B, T, c] -> message tokens [B, T, c]."""
        messages = self.fc(cls)
        normed = self.ln(messages)
        return messages + self.attn(normed, normed, normed, need_weights=False)[0]


def cross_frame_block(block: nn.Module, messages: MessageAttention, x: Tensor, frames: int) -> Tensor:
    """One CCT block on x [B·T, n, c]: Eq. 7's messages, Eq. 8's attention over [z_t, m_t], Eq. 9's MLP without m_t."""
    batch_frames, n, width = x.shape
    m = messages(x[:, 0].reshape(-1, frames, width)).reshape(batch_frames, 1, width)  # Eq. 7
    x = x + block.ls_1(block.attention(block.ln_1(torch.cat([x, m], dim=1))))[:, :n]  # Eq. 8, the message dropped
    return x + block.ls_2(block.mlp(block.ln_2(x)))  # Eq. 9


class CrossFrameEncoder(nn.Module):
    """Sec. 3.2, the cross-frame communication transformer: an open_clip ViT (`visual`, its weights shared, not
    copied) whose blocks each get a `MessageAttention`; honours open_clip's `set_grad_checkpointing`."""

    def __init__(self, visual: nn.Module, num_frames: int) -> None:
        super().__init__()
        check_tower(visual)
        self.visual, self.num_frames = visual, num_frames
        blocks = visual.transformer.resblocks
        self.messages = nn.ModuleList(MessageAttention(visual.transformer.width, b.attn.num_heads) for b in blocks)

    def forward(self, video: Tensor) -> FrameFeatures:
        """video [B, T, 3, H, W], T = `num_frames`."""
        batch, frames = video.shape[:2]
        if frames != self.num_frames:
            raise ModelError(f"this X-CLIP model takes {self.num_frames} frames (its temporal positions), got {frames}")
        x = embed_patches(self.visual, video.flatten(0, 1))  # Eq. 4
        checkpointing = self.visual.transformer.grad_checkpointing and torch.is_grad_enabled()
        for block, messages in zip(self.visual.transformer.resblocks, self.messages):  # Eq. 5
            step = (block, messages, x, frames)
            x = checkpoint(cross_frame_block, *step, use_reentrant=False) if checkpointing else cross_frame_block(*step)
        cls = project(self.visual, x[:, 0]).view(batch, frames, -1)
        return FrameFeatures(cls=cls, tokens=x[:, 1:].unflatten(0, (batch, frames)))


def init_new(module: nn.Module) -> None:
    """The released code's initialisation of the MIT and the prompts: linear weights ~ N(0, 0.02) truncated, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class MultiFrameIntegration(nn.Module):
    """Eq. 6: v = AvgPool(MIT(H + e_temp) + H), MIT a pre-norm transformer over the T frame embeddings."""

    def __init__(self, dim: int, frames: int, layers: int, heads: int, mlp_ratio: float, activation: type[nn.Module]) -> None:
        super().__init__()
        self.position_embedding = nn.Parameter(torch.empty(1, frames, dim))  # e_temp
        nn.init.trunc_normal_(self.position_embedding, std=0.02)
        self.transformer = Transformer(dim, layers, heads, mlp_ratio, act_layer=activation)
        self.transformer.apply(init_new)

    def forward(self, h: Tensor) -> Tensor:
        """Frame embeddings H [B, T, d] -> video embedding v [B, d]."""
        return (self.transformer(h + self.position_embedding) + h).mean(dim=1)


class CrossAttention(nn.Module):
    """Eq. 10's MHSA(c, z̄): queries from the text, keys and values from the visual tokens (no q/k/v biases)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.proj = nn.Linear(dim, dim)

    def forward(self, text: Tensor, visual: Tensor) -> Tensor:
        """text [B, C, d], visual [B, N, d] -> [B, C, d]."""
        q, k, v = (p(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)
                   for p, x in ((self.q_proj, text), (self.k_proj, visual), (self.v_proj, visual)))
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))


class PromptBlock(nn.Module):
    """Eq. 10, one block: c̄ = c + MHSA(LN(c), z̄), then c̃ = c̄ + FFN(LN(c̄))."""

    def __init__(self, dim: int, heads: int, activation: type[nn.Module]) -> None:
        super().__init__()
        self.ln_1, self.attn, self.ln_2 = LayerNorm(dim), CrossAttention(dim, heads), LayerNorm(dim)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(dim, 4 * dim), gelu=activation(), c_proj=nn.Linear(4 * dim, dim)))

    def forward(self, text: Tensor, visual: Tensor) -> Tensor:
        text = text + self.attn(self.ln_1(text), visual)
        return text + self.mlp(self.ln_2(text))


class VideoSpecificPrompts(nn.Module):
    """Sec. 3.3, the video-specific prompt generator: ĉ = c + α·c̃, c̃ from `PromptBlock`s over the class text
    features c and the video's content z̄ (its patch tokens, normalised, projected, averaged over the frames)."""

    def __init__(self, width: int, dim: int, layers: int, heads: int, alpha: float, activation: type[nn.Module]) -> None:
        super().__init__()
        self.visual_ln = LayerNorm(width)
        self.visual_proj = nn.Parameter(torch.randn(width, dim))  # N(0, 1), as the released `prompts_visual_proj`
        self.ln = LayerNorm(dim)
        self.blocks = nn.ModuleList(PromptBlock(dim, heads, activation) for _ in range(layers))
        self.alpha = nn.Parameter(torch.full((dim,), alpha))  # α, learnable, per channel as in the released code
        self.blocks.apply(init_new)

    def content(self, tokens: Tensor) -> Tensor:
        """z̄ of Eq. 10: patch tokens [B, T, N, c] -> [B, N, d], the average over the T frames."""
        return (self.visual_ln(tokens) @ self.visual_proj).mean(dim=1)

    def forward(self, classes: Tensor, tokens: Tensor) -> Tensor:
        """Class text features c [C, d] and patch tokens [B, T, N, c] -> prompted class embeddings ĉ [B, C, d]."""
        visual = self.ln(self.content(tokens))
        text = classes.expand(len(tokens), -1, -1)
        prompts = text
        for block in self.blocks:
            prompts = block(prompts, visual)
        return text + self.alpha * prompts


class XCLIP(nn.Module):
    """X-CLIP over an open_clip CLIP model (see the module docstring); ALT's interface: `forward(video, labels)`
    -> `ALTOutput`, `text_head.class_embeddings`, `encoder.visual`, `freeze`, plus `is_pretrained`.
    `mit_heads` and `prompt_heads` default to the joint width / 64 and `activation` to QuickGELU, as in the
    released code; `prompt_layers=0` builds no prompt generator (`prompts` is None), `logit_scale` is one of
    `LOGIT_SCALES`."""

    def __init__(
        self,
        clip_model: nn.Module,
        num_frames: int = 8,
        *,
        tokenizer: Callable[[list[str]], Tensor] | None = None,
        templates: Sequence[str] | None = None,
        mit_layers: int = 1,
        mit_heads: int | None = None,
        mit_mlp_ratio: float = 4.0,
        prompt_layers: int = 2,
        prompt_heads: int | None = None,
        prompt_alpha: float = 0.1,
        activation: str = "quick_gelu",
        logit_scale: str = "frozen",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ModelError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if logit_scale not in LOGIT_SCALES:
            raise ModelError(f"logit_scale must be one of {', '.join(LOGIT_SCALES)}, got {logit_scale!r}")
        if mit_layers < 1 or prompt_layers < 0:
            raise ModelError(f"mit_layers must be at least 1 and prompt_layers at least 0 (0: no prompts), "
                             f"got {mit_layers} and {prompt_layers}")
        dim, width = clip_model.visual.output_dim, clip_model.visual.transformer.width
        mit_heads, prompt_heads = mit_heads or max(dim // 64, 1), prompt_heads or max(dim // 64, 1)
        for name, heads in (("mit_heads", mit_heads), ("prompt_heads", prompt_heads)):
            if dim % heads:
                raise ModelError(f"{name} must divide the joint space's {dim} channels, got {heads}")
        self.num_frames, self.activation = num_frames, activation
        self.encoder = CrossFrameEncoder(clip_model.visual, num_frames)
        self.mit = MultiFrameIntegration(dim, num_frames, mit_layers, mit_heads, mit_mlp_ratio, ACTIVATIONS[activation])
        self.prompts = (VideoSpecificPrompts(width, dim, prompt_layers, prompt_heads, prompt_alpha, ACTIVATIONS[activation])
                        if prompt_layers else None)
        if tokenizer is None:
            tokenizer = SimpleTokenizer(context_length=getattr(clip_model, "context_length", 77))
        self.text_head = TextHead(clip_model, tokenizer, ["{}"] if templates is None else templates, normalize=False)
        self.text_head.logit_scale.requires_grad_(logit_scale == "learned")

    def is_pretrained(self, name: str) -> bool:
        """Whether parameter `name` holds CLIP's pretrained weights (the rest, X-CLIP's additions, is new)."""
        return not name.startswith(NEW_MODULES)

    def freeze(self, what: str) -> None:
        """Leave parts fixed in training: `encoder` (CLIP's image tower; its messages still train) or `none`."""
        if what not in FREEZE:
            raise ModelError(f"freeze must be one of {', '.join(FREEZE)} for X-CLIP, got {what!r}")
        if what == "encoder":
            self.encoder.visual.requires_grad_(False)

    def forward(self, video: Tensor, labels: Sequence[str] | Tensor) -> ALTOutput:
        """video [B, T, 3, H, W]; labels: names, or their class text features [C, d] -> logits [B, C]."""
        classes = labels if isinstance(labels, Tensor) else self.text_head.class_embeddings(labels)
        frames = self.encoder(video)  # Eq. 4-9
        v = self.mit(frames.cls)  # Eq. 6
        prompted = classes.expand(len(v), -1, -1) if self.prompts is None else self.prompts(classes, frames.tokens)  # Eq. 10
        cosines = torch.einsum("bd,bcd->bc", F.normalize(v, dim=-1), F.normalize(prompted, dim=-1))  # Eq. 3
        return ALTOutput(logits=self.text_head.logit_scale.exp() * cosines, video_embedding=v, entity_ids=None, frames=None)
