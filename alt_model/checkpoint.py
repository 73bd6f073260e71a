"""Checkpoints: what a run saves to resume exactly (`factory.load_trained` rebuilds the model of one).

A checkpoint is a dict saved with `torch.save` and read with `weights_only=True` (no pickled code):
model, optimizer, scheduler and scaler states; epoch, batches done in that epoch, optimizer steps,
best validation top-1; the RNG states of python, numpy and torch (and CUDA) of every process; the
resolved config, the label set and the corpus path. Writes are atomic (a temporary file in the same
folder, fsync, rename), so a crash never leaves a half-written `last.pt`.

The corpus embeddings S are a buffer of the model but not part of what it learned: they are dropped
on load and come from the corpus given at evaluation, which may differ from the training corpus.
The frozen CLIP text tower is not saved either; it reloads from the pretrained weights.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alt_common.io import atomic_write

from .errors import ModelError
from .model import ALT

CHECKPOINT_FORMAT_VERSION = 1  # of last.pt/best.pt; corpus.pt has its own (alt_common.bundle.FORMAT_VERSION)
CORPUS_BUFFER = "entities"


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The learned state of an ALT model (unwrapped from DDP), without the corpus buffer."""
    model = getattr(model, "module", model)
    return {k: v for k, v in model.state_dict().items() if k != CORPUS_BUFFER}


def load_weights(model: ALT, state: dict[str, torch.Tensor], source: str | Path) -> None:
    """Load learned weights into `model`; the corpus buffer stays the model's own."""
    state = {k: v for k, v in state.items() if k != CORPUS_BUFFER}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != CORPUS_BUFFER]
    if missing or unexpected:
        raise ModelError(f"{source}: weights do not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]}); "
                         "use the model options it was trained with")


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save `obj` to `path` atomically (a temporary file beside it, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: checkpoint not found; pass a last.pt or best.pt written by alt-train") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a file that is not a checkpoint
        raise ModelError(f"{path}: not an alt-train checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ModelError(f"{path}: not an alt-train checkpoint (no model weights and config)")
    if ckpt.get("format_version", CHECKPOINT_FORMAT_VERSION) > CHECKPOINT_FORMAT_VERSION:
        raise ModelError(f"{path}: checkpoint format {ckpt['format_version']} is newer than this toolkit's "
                         f"({CHECKPOINT_FORMAT_VERSION}); upgrade alt-toolkit")
    return ckpt


def rng_state() -> dict[str, Any]:
    """This process's RNG states in types `weights_only` loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
