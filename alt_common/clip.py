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


OFFLINE_MODEL = "alt-tiny-vit"  # the model of the random weights alt-synthetic writes (synthetic/clip.pt)


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
        tags = open_clip.list_pretrained_tags_by_model(name)
        if not tags:  # alt-tiny-vit, alt-tiny-clip: test configs, whose only weights are the random ones alt-synthetic writes
            raise UserError(f"{name} has no published weights (a test config); offline, 'alt-synthetic --out synthetic' writes random "
                            f"ones, used with --model {OFFLINE_MODEL} --pretrained synthetic/clip.pt (or pass a weights file of {name} "
                            "to --pretrained)")
        raise UserError(f"no pretrained weights {pretrained!r} for {name} (known tags: {', '.join(tags)}); or pass a local "
                        "checkpoint file to --pretrained")
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
    provenance["random_weights"] = weights_are_random(pretrained)  # alt-synthetic's marked test weights (`save_random_weights`)
    _remember(clip, provenance)
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




# ---------------------------------------------------------------------------------------------- random weights
# alt-synthetic's clip.pt is a randomly initialised CLIP: everything run with it (corpus embed, alt-predict, alt-explain,
# corpus report) works, and means nothing. The file says so itself: `save_random_weights` writes the state dict under
# open_clip's own 'state_dict' key beside a RANDOM_WEIGHTS_KEY entry (a .safetensors file: in its metadata), so
# open_clip and `torch.load(weights_only=True)` load it as before; `load_clip` records `provenance["random_weights"]`,
# which `corpus embed` keeps in corpus.pt's provenance, and `runs_random_weights` finds it from any model built on it.
# A weights file without the entry (anyone's own checkpoint, a clip.pt of an older alt-synthetic) counts as real weights.

RANDOM_WEIGHTS_KEY = "alt_random_weights"
RANDOM_WEIGHTS_WARNING = "CLIP's weights are random (alt-synthetic's test model): predictions are not meaningful"

_LOADED: Any = None  # weakref.WeakKeyDictionary: a CLIP model load_clip built (and its towers) -> its provenance


def save_random_weights(clip: Any, path: str | Path, **about: Any) -> Path:
    """Save a randomly initialised open_clip model's weights to `path`, marked as random (`about`: how they were made,
    e.g. seed=0, written_by='alt-synthetic'); open_clip's `create_model(pretrained=path)` loads them as any checkpoint."""
    path = Path(path)
    mark = {"random": True, **about}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous() for k, v in clip.state_dict().items()}
        save_file(state, str(path), metadata={"format": "pt", RANDOM_WEIGHTS_KEY: "true"})
    else:
        torch.save({"state_dict": clip.state_dict(), RANDOM_WEIGHTS_KEY: mark}, path)
    return path


def weights_are_random(pretrained: str | Path | None) -> bool:
    """Whether CLIP weights `pretrained` (a load_clip tag or local file) are random: none given, or a file that
    `save_random_weights` marked. An open_clip tag names published weights; an unmarked or unreadable file counts as
    real. Reads only the file's header or pickle (memory-mapped), not its tensors."""
    if pretrained is None or not str(pretrained).strip():
        return True
    if not is_checkpoint_file(str(pretrained)):
        return False
    path = Path(pretrained).expanduser()
    if not path.is_file():
        return False
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                return ((f.metadata() or {}).get(RANDOM_WEIGHTS_KEY) == "true")
        import warnings
        import zipfile

        if not zipfile.is_zipfile(path):  # a legacy torch.save file: save_random_weights never writes one
            return False
        with warnings.catch_warnings():  # OpenAI's TorchScript archives: torch warns, then refuses them under weights_only
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - a file this cannot read is for open_clip to judge
        return False
    mark = data.get(RANDOM_WEIGHTS_KEY) if isinstance(data, dict) else None
    return isinstance(mark, dict) and bool(mark.get("random"))


def _remember(clip: Any, provenance: dict[str, Any]) -> None:
    """Record `provenance` for `clip` and its towers, for `loaded_provenance` (weakly: no model is kept alive)."""
    global _LOADED
    import weakref

    if _LOADED is None:
        _LOADED = weakref.WeakKeyDictionary()
    for module in (clip, getattr(clip, "visual", None), getattr(clip, "transformer", None), getattr(clip, "text", None)):
        if isinstance(module, torch.nn.Module):
            _LOADED[module] = provenance


def loaded_provenance(model: Any) -> dict[str, Any] | None:
    """The provenance `load_clip` recorded for the CLIP model `model` is or holds (an ALT, X-CLIP or zero-shot model
    built on one: found through its towers); None for a model built on no CLIP load_clip loaded."""
    if _LOADED is None or not isinstance(model, torch.nn.Module):
        return None
    for module in model.modules():
        found = _LOADED.get(module)
        if found is not None:
            return found
    return None


def runs_random_weights(model: Any) -> bool:
    """Whether `model` runs a CLIP whose weights are random (`weights_are_random`, as load_clip recorded it)."""
    found = loaded_provenance(model)
    return bool(found and found.get("random_weights"))


# ---------------------------------------------------------------------------------------------- CLIP inside a model folder
# An alt-export folder carries what its model reads from CLIP beyond its own trained image tower: the frozen text tower
# that embeds any new labels, and the logit scale (and SigLIP's bias) the aligner starts from (`frozen_clip_state`).
# `clip_from_state` rebuilds the CLIP model from its name and those weights alone: no hub, no original weights file.

IMAGE_TOWER = "visual."  # the state-dict prefix of CLIP's image tower, which a model's own weights hold


def frozen_clip_state(clip: Any) -> dict[str, torch.Tensor]:
    """CLIP's weights but its image tower ('visual.*'), contiguous on the CPU; a float32 tensor every value of which
    float16 holds exactly (OpenAI's weights were published in fp16) is given as float16: loading it back into the
    float32 model restores the same numbers, in half the bytes."""
    state = {}
    for key, value in clip.state_dict().items():
        if key.startswith(IMAGE_TOWER):
            continue
        value = value.detach().to("cpu")
        if value.dtype == torch.float32:
            half = value.to(torch.float16)
            if torch.equal(half.to(torch.float32), value):  # NaN, out of range or finer than fp16: stays fp32
                value = half
        state[key] = value.contiguous()
    return state


def clip_preprocess(clip: Any) -> dict[str, Any]:
    """The frame preprocessing an open_clip model was built with (its visual `preprocess_cfg`), as plain JSON values."""
    from open_clip.model import get_model_preprocess_cfg

    return {k: list(v) if isinstance(v, tuple) else v for k, v in get_model_preprocess_cfg(clip).items()}


def unloaded_clip(name: str, **kwargs: Any) -> torch.nn.Module:
    """open_clip's `name` with no weights loaded, without open_clip's "initialized randomly" log line: the caller loads
    the weights, or says itself that they are random."""
    import logging

    import open_clip

    def no_random_init_warning(record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(no_random_init_warning)
    try:
        return open_clip.create_model(name, pretrained=None, **kwargs)
    finally:
        root.removeFilter(no_random_init_warning)


def clip_from_state(model: str, state: dict[str, torch.Tensor], *, activation: str, preprocess: dict[str, Any] | None = None,
                    provenance: dict[str, Any] | None = None, device: str = "cpu", source: str = "the CLIP weights",
                    fix: str = "pass the weights of this model") -> tuple[Any, Any, dict[str, Any]]:
    """(open_clip model in eval mode, its tokenizer, provenance), as `load_clip` returns them, of the CLIP model `model`
    built with no pretrained weights (no hub, no file), running `activation` ('quick_gelu' or 'gelu'), with `state`
    (a `frozen_clip_state`) loaded and `preprocess` (a `clip_preprocess`) set; its image tower keeps random weights,
    for the caller to load. A `state` of another model is a UserError naming `source`, then `fix`."""
    import open_clip
    from open_clip.model import get_model_preprocess_cfg, set_model_preprocess_cfg

    if activation not in ("quick_gelu", "gelu"):
        raise UserError(f"{source}: CLIP activation {activation!r} is not 'quick_gelu' or 'gelu'; {fix}")
    name, _ = resolve_model(model)
    clip = unloaded_clip(name, device=device, force_quick_gelu=activation == "quick_gelu")
    built = "quick_gelu" if uses_quick_gelu(clip) else "gelu"
    if built != activation:
        raise UserError(f"{source}: recorded for a CLIP running {activation}, but open_clip's {name} runs {built}; {fix}")
    try:
        missing, unexpected = clip.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes that differ
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc).splitlines()[0])
        raise UserError(f"{source}: not weights of {name} ({detail[:200]}); {fix}") from None
    missing = [k for k in missing if not k.startswith(IMAGE_TOWER)]
    if missing or unexpected:
        raise UserError(f"{source}: not weights of {name} (missing {missing[:3]}, unexpected {unexpected[:3]}); {fix}")
    if preprocess:
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in preprocess.items()}
        set_model_preprocess_cfg(clip, {**get_model_preprocess_cfg(clip), **given})
    clip.eval()
    provenance = {"model": model, "open_clip_model": name, **(provenance or {}), "activation": built}
    _remember(clip, provenance)  # as load_clip does: `runs_random_weights` finds it from any model built on this CLIP
    return clip, open_clip.get_tokenizer(name), provenance
