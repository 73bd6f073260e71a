"""Guards every alt command runs before any work: output folders that can be written (and are not
inputs), and text inputs read with a size limit, as UTF-8, in one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from alt_common.io import check_output_folder

from .errors import ModelError

HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")  # a Hugging Face X-CLIP folder, as save_hf_xclip writes it

MiB = 1 << 20


def check_out_folder(folder: str | Path, flag: str = "--out", inputs: Iterable[str | Path] = (), writes: Iterable[str] = ()) -> Path:
    """Refuse, before any work and without creating anything, an output folder that cannot be made or
    written: an existing file (an input, maybe), a path under a regular file, a read-only or
    immutable folder, /proc. `writes` are the file names the command will write in it: none of them
    may be one of `inputs`."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ModelError(f"{folder}: {flag} is an existing file, not a folder; choose another {flag}")
    existing = folder
    while not existing.exists():  # the nearest existing folder above is where it will be created
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ModelError(f"{folder}: cannot create the {flag} folder: {existing} is a file; choose another {flag}")
    check_output_folder(existing, flag)  # a probe file: permissions alone do not tell (root, chattr +i, ro mounts)
    given = {Path(p).resolve() for p in inputs if p is not None and Path(p).exists()}
    for name in writes:
        target = (folder / name).resolve()
        if target in given:
            raise ModelError(f"{folder / name}: is an input of this command and {flag} would overwrite it; choose another {flag}")
    return folder


def read_text(path: str | Path, what: str, limit: int, hint: str = "") -> str:
    """A text file's content, at most `limit` bytes, as UTF-8; ModelError naming the file otherwise
    (missing files are the caller's: FileNotFoundError and IsADirectoryError pass through)."""
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        size = f"{limit // MiB} MiB" if limit >= MiB else f"{limit} bytes"
        raise ModelError(f"{path}: {what} is larger than {size}, more than any such file needs{hint}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: {what} is not UTF-8 text (byte {exc.start}){hint or '; pass a text file'}") from None


def hf_labels(folder: str | Path) -> list[str]:
    """The label set an HF X-CLIP folder's config.json names (`id2label`, in id order), or none (transformers' defaults)."""
    try:
        id2label = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("id2label") or {}
        labels = [id2label[key] for key in sorted(id2label, key=int)]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, ValueError, TypeError):
        return []
    return [] if all(label == f"LABEL_{i}" for i, label in enumerate(labels)) else labels


def hf_model_type(path: str | Path) -> str | None:
    """The `model_type` a Hugging Face folder's config.json names, or None where there is no readable JSON mapping."""
    try:
        return json.loads((Path(path) / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None


def is_hf_xclip(path: str | Path) -> bool:
    """Whether `path` is a folder whose config.json says it is a Hugging Face X-CLIP ('model_type': 'xclip')."""
    return hf_model_type(path) == "xclip"


def check_model_source(checkpoint: Path | None, pretrained: Path | None, required: bool = True) -> Path | None:
    """The trained model a command runs: one of --checkpoint (an alt-train file, a released X-CLIP folder or official .pth) and
    --pretrained (an alt-export folder, or a released X-CLIP's), never both; neither is None, or a ModelError when the command needs a model (`required`)."""
    if checkpoint is not None and pretrained is not None:
        raise ModelError("pass one of --checkpoint CKPT (alt-train) and --pretrained DIR (alt-export), not both")
    if checkpoint is None and pretrained is None and required:
        raise ModelError("pass --checkpoint CKPT (a last.pt or best.pt of alt-train) or --pretrained DIR (a folder of alt-export)")
    if checkpoint is not None and checkpoint.is_dir() and not is_hf_xclip(checkpoint):  # a released X-CLIP folder is welcome
        raise ModelError(f"--checkpoint {checkpoint}: a folder, but not a released X-CLIP (no config.json with model_type "
                         "'xclip'); pass a last.pt or best.pt file (a folder of alt-export goes to --pretrained)")
    if pretrained is not None and not pretrained.is_dir():
        what = "not found" if not pretrained.exists() else "a file"
        raise ModelError(f"--pretrained {pretrained}: {what}; it takes a model folder written by alt-export "
                         "(a training checkpoint or an official X-CLIP .pth goes to --checkpoint)")
    return checkpoint or pretrained
