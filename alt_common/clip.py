"""CLIP, loaded offline-first and used to embed text: open_clip or OpenAI model names, pretrained tags
or local checkpoints (DESIGN §6), and text embeddings at each batch's own token length. Weights run with the
activation they were trained with: QuickGELU wherever open_clip's pretrained config says so (`quick_gelu_for`).

open_clip pads every text to 77 tokens, but CLIP's text transformer is causal and pools the EOT
token, so a text's embedding depends only on its own tokens. `encode_texts` sorts texts by token
count, runs each batch at its own padded length (positional embeddings and the causal mask cut to
that length), and restores the order: the same numbers as open_clip's `encode_text`, far fewer
FLOPs. `exact_padding` keeps open_clip's own padded path for checks; text towers that do not pool
the EOT token with a causal mask (HF towers, "last"/"first" pooling) always take it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.progress import track

from .errors import UserError
from .io import file_sha256
from .resources import model_configs_dir

# OpenAI's model names -> open_clip's; a checkpoint file named so gets QuickGELU, as OpenAI's weights need.
OPENAI_NAMES = {
    "RN50": "RN50", "RN101": "RN101", "RN50x4": "RN50x4", "RN50x16": "RN50x16", "RN50x64": "RN50x64",
    "ViT-B/32": "ViT-B-32", "ViT-B/16": "ViT-B-16", "ViT-L/14": "ViT-L-14", "ViT-L/14@336px": "ViT-L-14-336",
}
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")


def resolve_model(name: str) -> tuple[str, bool]:
    """(open_clip model name, whether it is OpenAI's spelling) for an open_clip or OpenAI model name."""
    import open_clip

    open_clip.add_model_config(model_configs_dir())  # the packaged tiny configs (alt-tiny-clip, alt-tiny-vit)
    if name in OPENAI_NAMES:
        return OPENAI_NAMES[name], True
    if name not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if name.lower().replace("/", "-") in m.lower()][:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown CLIP model {name!r}{hint}; see open_clip.list_models() or use ViT-B/16")
    return name, False


def is_checkpoint_file(pretrained: str) -> bool:
    """Whether `pretrained` names a local checkpoint file rather than an open_clip tag."""
    path = Path(pretrained).expanduser()
    return path.suffix in _CHECKPOINT_SUFFIXES or path.exists()


def quick_gelu_for(model: str, pretrained: str) -> bool:
    """Whether `load_clip(model, pretrained)` builds QuickGELU: a `-quickgelu` config always; a tag when open_clip's
    pretrained config says its weights were trained so (OpenAI, MetaCLIP, DFN...); a checkpoint file when `model`
    is in OpenAI's spelling (nothing in the weights says which activation they were trained with)."""
    import open_clip

    name, openai_spelling = resolve_model(model)
    if is_checkpoint_file(pretrained):
        trained_with = openai_spelling
    else:
        trained_with = bool(open_clip.get_pretrained_cfg(name, pretrained).get("quick_gelu"))
    return trained_with or bool(open_clip.get_model_config(name).get("quick_gelu"))


def uses_quick_gelu(clip: Any) -> bool:
    """Whether a built open_clip model's transformer MLPs use QuickGELU (open_clip gives both towers one activation)."""
    from open_clip.transformer import QuickGELU

    return any(isinstance(module, QuickGELU) for module in clip.modules())


def activation_for(model: str, pretrained: str) -> str:
    """The activation `load_clip(model, pretrained)` builds, as its provenance records it: 'quick_gelu' or 'gelu'."""
    return "quick_gelu" if quick_gelu_for(model, pretrained) else "gelu"


def _hub_reachable(timeout: float = 2.0) -> bool:
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_clip(model: str, pretrained: str = "openai", device: str = "cpu") -> tuple[Any, Any, dict[str, Any]]:
    """(open_clip model in eval mode, its tokenizer, provenance) from a name and a tag or local path."""
    import open_clip

    name, _ = resolve_model(model)
    path = Path(pretrained).expanduser()
    is_file = is_checkpoint_file(pretrained)
    provenance: dict[str, Any] = {"model": model, "open_clip_model": name, "pretrained": pretrained}
    if is_file:
        if not path.is_file():
            raise UserError(f"{path}: checkpoint not found; pass an existing .pt/.bin/.safetensors file to --pretrained")
        provenance["pretrained_sha256"] = file_sha256(path)
    elif not open_clip.get_pretrained_cfg(name, pretrained):
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise UserError(f"no pretrained weights {pretrained!r} for {name} (known tags: {tags}); or pass a local checkpoint file")
    elif not os.environ.get("HF_HUB_OFFLINE") and not _hub_reachable():
        import huggingface_hub.constants

        huggingface_hub.constants.HF_HUB_OFFLINE = True  # fail in seconds, not after 30 s of retries
    try:
        clip = open_clip.create_model(name, pretrained=str(path) if is_file else pretrained, device=device,
                                      force_quick_gelu=quick_gelu_for(model, pretrained))
    except Exception as exc:  # noqa: BLE001 - open_clip and the hub raise many kinds
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        if is_file:
            raise UserError(f"{path}: not a checkpoint of {name} ({reason}); pass the weights this model was trained with") from None
        raise UserError(
            f"cannot load pretrained {pretrained!r} weights for {name}: not in the local cache and the model hub is "
            "unreachable; pass --pretrained /path/to/checkpoint.pt (.pt/.bin/.safetensors)"
        ) from None
    clip.eval()
    provenance["activation"] = "quick_gelu" if uses_quick_gelu(clip) else "gelu"  # what was built, not what was asked for
    return clip, open_clip.get_tokenizer(name), provenance


def _fast_path_ok(clip: Any) -> bool:
    return getattr(clip, "text_pool_type", None) == "argmax" and getattr(clip, "attn_mask", None) is not None


def encode_trimmed(clip: Any, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's `CLIP.encode_text` at the batch's own length: tokens [B, L], L <= context length."""
    length = tokens.shape[1]
    cast_dtype = clip.transformer.get_cast_dtype()
    x = clip.token_embedding(tokens).to(cast_dtype)
    x = x + clip.positional_embedding[:length].to(cast_dtype)
    x = clip.transformer(x, attn_mask=clip.attn_mask[:length, :length])
    x = clip.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]  # the EOT token, as open_clip pools
    if isinstance(clip.text_projection, torch.nn.Linear):
        return clip.text_projection(x)
    return x @ clip.text_projection if clip.text_projection is not None else x


@torch.inference_mode()
def encode_texts(
    clip: Any, tokens: torch.Tensor, batch_size: int = 256, exact_padding: bool = False, show_progress: bool = False,
    normalize: bool = True,
) -> torch.Tensor:
    """Text embeddings [N, d] in the input order, batched by token count; L2-normalised unless `normalize=False`."""
    device = next(clip.parameters()).device
    lengths = tokens.argmax(dim=-1) + 1  # the EOT token has the largest id: it ends each text
    fast = not exact_padding and _fast_path_ok(clip)
    order = torch.argsort(lengths, stable=True) if fast else torch.arange(len(tokens))
    chunks = []
    for idx in track(list(order.split(batch_size)), "Embedding", disable=not show_progress, transient=True):
        batch = tokens[idx].to(device)
        if fast:
            chunks.append(encode_trimmed(clip, batch[:, : int(lengths[idx].max())]).float().cpu())
        else:
            chunks.append(clip.encode_text(batch).float().cpu())
    out = torch.cat(chunks)
    out[order] = out.clone()  # back to the input order
    return F.normalize(out, dim=-1) if normalize else out


def count_truncated(tokenizer: Any, texts: list[str]) -> int:
    """How many texts are longer than the context (open_clip's tokenizer cuts them, keeping EOT)."""
    context = getattr(tokenizer, "context_length", 77)
    encode = getattr(tokenizer, "encode", None)
    if encode is None:
        return 0
    return sum(len(encode(t)) + 2 > context for t in texts)


