"""Checkpoints: what a run saves to resume exactly (`factory.load_trained` rebuilds the model of one).

A checkpoint is a `TrainState` written as a flat dict with `torch.save` and read with
`weights_only=True` (no pickled code): model, optimizer, scheduler and scaler states; epoch, batches
done in that epoch, optimizer steps, best holdout top-1 and the epoch's loss sums (`Counters`);
the RNG states of python, numpy and torch (and CUDA) of every process; the resolved config, the
label set and the corpus path. Writes are atomic (a temporary file in the same folder, fsync,
rename), so a crash never leaves a half-written `last.pt`.

The corpus embeddings S are a buffer of the model but not part of what it learned: they are dropped
on load and come from the corpus given at evaluation, which may differ from the training corpus.
The frozen CLIP text tower is not saved either; it reloads from the pretrained weights.
"""

from __future__ import annotations

import pickle
import random
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from alt_common.io import atomic_write, check_regular

from .errors import ModelError
from .model import ALT
from .xclip_official import CONFIG_GLOBALS, official_weights, released_checkpoint

CHECKPOINT_FORMAT_VERSION = 2  # of last.pt/best.pt; corpus.pt has its own (alt_common.bundle.FORMAT_VERSION)
FORMAT_1_MODEL = {"adapter_width": "joint"}  # what format 1 built without saying: its adapter ran at the joint width
CORPUS_BUFFER = "entities"


@dataclass
class Counters:
    """Where a run is: what the training loop advances, and a checkpoint records."""

    epoch: int = 0  # epochs done
    batches_done: int = 0  # micro-batches of this process done in the current epoch
    step: int = 0  # optimizer steps done
    best_top1: float = -1.0  # best top-1 on the held-out training videos (`data.holdout`) so far; never the val_list's
    epoch_sums: torch.Tensor = field(default_factory=lambda: torch.zeros(3, dtype=torch.float64))  # loss · videos, videos, skipped

    def add(self, loss: torch.Tensor, videos: int, skipped: int) -> None:
        """Count a micro-batch into `epoch_sums`, on the loss's device: no host sync (`on_cpu` reads them)."""
        self.epoch_sums = self.epoch_sums.to(loss.device)
        self.epoch_sums[0] += loss.double() * videos
        self.epoch_sums[1] += videos
        self.epoch_sums[2] += skipped

    def on_cpu(self) -> Counters:
        """These counters with `epoch_sums` on the CPU, as a checkpoint holds them."""
        return replace(self, epoch_sums=self.epoch_sums.cpu())


@dataclass
class TrainState:
    """Exactly what a checkpoint holds (see the module docstring); `to_dict`/`from_dict` are its file format."""

    model: dict[str, torch.Tensor]  # `model_state`: without the corpus buffer
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    counters: Counters
    rng: list[dict[str, Any]]  # `rng_state()` of every process, in rank order
    config: dict[str, Any]  # the resolved config (`config.to_dict`)
    labels: list[str]
    corpus: str  # the training corpus.pt, resolved
    metrics: dict[str, Any] | None = None  # the validation summary at this point, if any

    def to_dict(self) -> dict[str, Any]:
        """The flat dict a checkpoint file holds: the counters beside the states, and the format version."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "counters"}
        return {**flat, **{f.name: getattr(self.counters, f.name) for f in fields(Counters)},
                "format_version": CHECKPOINT_FORMAT_VERSION}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path) -> TrainState:
        """The state a checkpoint dict (from `load_checkpoint`) holds; ModelError names what a resume would lack."""
        own = [f.name for f in fields(cls) if f.name not in ("counters", "metrics")]
        counted = [f.name for f in fields(Counters)]
        missing = [name for name in own + counted if name not in data]
        if missing:
            raise ModelError(f"{source}: not a checkpoint a run can resume from (no {', '.join(missing)}); pass alt-train's last.pt")
        return cls(**{name: data[name] for name in own}, counters=Counters(**{name: data[name] for name in counted}),
                   metrics=data.get("metrics"))


def model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The learned state of an ALT model (unwrapped from DDP), without the corpus buffer."""
    model = getattr(model, "module", model)
    return {k: v for k, v in model.state_dict().items() if k != CORPUS_BUFFER}


def planned_shapes(build: Callable[[], torch.nn.Module]) -> dict[str, tuple[int, ...]]:
    """The shapes of the learned state (`model_state`) of the model `build` makes, built on the meta device: nothing is
    allocated, however large a config asks the model to be (tensors `build` takes from elsewhere keep their own)."""
    with torch.device("meta"):
        return {name: tuple(value.shape) for name, value in model_state(build()).items()}


def load_weights(model: ALT, state: dict[str, torch.Tensor], source: str | Path, fresh: tuple[str, ...] = (),
                 fix: str = "use the corpus of the CLIP model it was trained with and the model options it was trained with") -> None:
    """Load learned weights into `model`; the corpus buffer stays the model's own, and parameters under the
    prefixes `fresh` keep their initial values when `state` lacks them (a linear probe's new head). A mismatch
    is one ModelError naming the first tensor that differs, and `fix`."""
    state = {k: v for k, v in state.items() if k != CORPUS_BUFFER}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes that differ: another CLIP model (a corpus embedded by it), other model options
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc).splitlines()[0])
        raise ModelError(f"{source}: weights do not fit this model ({detail[:200]}); {fix}") from None
    missing = [k for k in missing if k != CORPUS_BUFFER and not any(k.startswith(prefix) for prefix in fresh)]
    if missing or unexpected:
        raise ModelError(f"{source}: weights do not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]}); {fix}")


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save `obj` to `path` atomically (a temporary file beside it, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


CHECKPOINT_FIX = "pass a last.pt or best.pt written by alt-train"


def read_weights_file(path: Path) -> Any:
    """`torch.load` of tensors and plain containers only (and X-CLIP's yacs config as a dict, `CONFIG_GLOBALS`): no
    pickled code runs. A file that needs a class is refused in one line that says how to keep only its weights; a FIFO or
    a device is refused before it is opened."""
    check_regular(path, "a checkpoint", CHECKPOINT_FIX)
    try:
        with torch.serialization.safe_globals(CONFIG_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, NotADirectoryError):
        raise ModelError(f"{path}: checkpoint not found; {CHECKPOINT_FIX}") from None
    except pickle.UnpicklingError as exc:
        needs = re.search(r"GLOBAL (\S+) was not an allowed global", str(exc))
        if needs is None:
            raise ModelError(f"{path}: not an alt-train checkpoint (UnpicklingError)") from None
        out = path.with_name(f"{path.stem}_weights.pth")
        raise ModelError(f"{path}: not an alt-train checkpoint or X-CLIP weights: it holds a {needs.group(1)}, which only arbitrary "
                         f"unpickling loads (it can run code); if you trust the file, keep its weights alone: python -c \"import torch; "
                         f"torch.save(torch.load('{path}', weights_only=False)['model'], '{out}')\" and pass {out}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a file that is not a checkpoint
        raise ModelError(f"{path}: not an alt-train checkpoint ({type(exc).__name__})") from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """An alt-train checkpoint's dict, checked; or, for an official X-CLIP .pth (`xclip_official`), its weights under
    `model` with the config of its arch and frames and no labels."""
    path = Path(path)
    ckpt = read_weights_file(path)
    official = official_weights(ckpt)
    if official is not None:
        return released_checkpoint(official, path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ModelError(f"{path}: not an alt-train checkpoint (no model weights and config)")
    for key, kind in (("model", dict), ("config", dict), ("labels", list), ("corpus", str)):
        if key in ckpt and not isinstance(ckpt[key], kind):
            raise ModelError(f"{path}: not an alt-train checkpoint (its {key} is a {type(ckpt[key]).__name__}, not a {kind.__name__})")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in ckpt["model"].items()):
        raise ModelError(f"{path}: not an alt-train checkpoint (its model weights are not named tensors)")
    if not all(isinstance(label, str) for label in ckpt.get("labels", [])):
        raise ModelError(f"{path}: not an alt-train checkpoint (its labels are not strings)")
    version = ckpt.get("format_version", CHECKPOINT_FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{path}: not an alt-train checkpoint (format_version {version!r})")
    if version > CHECKPOINT_FORMAT_VERSION:
        raise ModelError(f"{path}: checkpoint format {version} is newer than this toolkit's ({CHECKPOINT_FORMAT_VERSION}); upgrade alt-toolkit")
    if version == 1 and isinstance(ckpt["config"].get("model", {}), dict):  # its config, as format 2 says it
        ckpt["config"] = {**ckpt["config"], "model": {**FORMAT_1_MODEL, **ckpt["config"].get("model", {})}}
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
