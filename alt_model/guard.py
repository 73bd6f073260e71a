"""Guards every alt command runs before any work: output folders that can be written (and are not
inputs), and text inputs read with a size limit, as UTF-8, in one-line errors."""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from alt_common.io import check_output_folder, check_regular, same_file

from .errors import ModelError

HF_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")  # a Hugging Face X-CLIP folder, as save_hf_xclip writes it

MiB = 1 << 20
RUN_LOCK = ".alt-train.lock"  # in a run folder while an alt-train writes there (`run_lock`)
SAFETENSORS_HEADER_LIMIT = 100_000_000  # safetensors' own bound on a header
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4,
               "F32": 4, "I64": 8, "U64": 8, "F64": 8}
HF_CONFIG_LIMIT = 16 * MiB  # X-CLIP's config.json is 10 kB; id2label of 1,000 labels adds 50 kB


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
    given = [Path(p) for p in inputs if p is not None and Path(p).exists()]
    for name in writes:
        if any(same_file(folder / name, p) for p in given):
            raise ModelError(f"{folder / name}: is an input of this command and {flag} would overwrite it; choose another {flag}")
    return folder


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and its parents that do not exist yet, deepest first: what writing into `folder` will make (`remove_made`)."""
    return [p for p in (folder, *folder.parents) if not p.exists()]


def remove_made(made: list[Path], written: Iterable[Path] = ()) -> None:
    """After a write that failed (a full disk): remove the folders a command made for its output, `made` deepest first
    (the first with what the command wrote in it, the others where empty), and the `written` paths it created in a folder
    that was there before: nothing it created is left."""
    for path in written:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for i, folder in enumerate(made):
        try:
            shutil.rmtree(folder) if i == 0 else folder.rmdir()
        except OSError:
            return


def check_outside(folder: str | Path, model: Path, flag: str = "--out") -> Path:
    """Refuse an output folder that is a model folder (alt-export's, a released X-CLIP's) or lies inside it: such a
    folder holds the model's files and nothing else, and alt-export replaces only a folder that does."""
    folder = Path(folder)
    if same_file(folder, model) or model.resolve() in folder.resolve().parents:
        raise ModelError(f"{folder}: {flag} would write into the model folder {model}, which holds the model's files and nothing "
                         f"else; choose another {flag}, or leave it out to write beside the folder")
    return folder


@contextmanager
def run_lock(folder: str | Path, what: str = "alt-train") -> Iterator[Path]:
    """Hold `folder`'s lock file (`RUN_LOCK`, an flock on an open descriptor: the system releases it when the process
    ends, however it ends, so no lock goes stale) while a run writes there; a second run into the same folder is
    refused in one ModelError. The folder is made if missing, and removed again (with the folders made for it) where
    the run left nothing in it but the lock."""
    folder = Path(folder)
    made = missing_folders(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelError(f"{folder}: another {what} is writing there (it holds {folder / RUN_LOCK}); wait for it to end, "
                             "or choose another --out") from None
        try:
            yield folder
        finally:
            if made and [p.name for p in folder.iterdir()] == [RUN_LOCK]:  # nothing written: leave nothing behind
                (folder / RUN_LOCK).unlink()
                for empty in made:
                    empty.rmdir()
    finally:
        os.close(fd)


def read_text(path: str | Path, what: str, limit: int, hint: str = "") -> str:
    """A text file's content, at most `limit` bytes, as UTF-8; ModelError naming the file otherwise
    (missing files are the caller's: FileNotFoundError and IsADirectoryError pass through); a FIFO or a device is
    refused before it is opened."""
    path = check_regular(path, what, hint.removeprefix("; ") or "pass a regular file")
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        size = f"{limit // MiB} MiB" if limit >= MiB else f"{limit} bytes"
        raise ModelError(f"{path}: {what} is larger than {size}, more than any such file needs{hint}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: {what} is not UTF-8 text (byte {exc.start}){hint or '; pass a text file'}") from None


def safetensors_shapes(path: str | Path, fix: str) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes a safetensors file's header declares, read without loading a tensor, the header
    checked against the file (its length, JSON, each tensor's dtype, shape and byte range inside the file); ModelError
    in one line naming the file and `fix` otherwise: random bytes, a pickle, a header that claims more than the file holds."""
    path = check_regular(path, "a safetensors file", fix)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or length > min(size - 8, SAFETENSORS_HEADER_LIMIT):
                raise ValueError(f"its header claims {length} bytes, the file holds {max(size - 8, 0)}")
            header = json.loads(f.read(length).decode("utf-8"))
        return _checked_header(header, size - 8 - length)
    except (ValueError, TypeError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise ModelError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:120]}); {fix}") from None


def _checked_header(header: Any, data_bytes: int) -> dict[str, tuple[int, ...]]:
    """{name: shape} of a parsed safetensors header whose tensors fill byte ranges within `data_bytes`; ValueError otherwise."""
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON mapping")
    shapes = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise ValueError(f"tensor {name!r} has no dtype, shape and data_offsets")
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPE_BYTES or not all(isinstance(n, int) and n >= 0 for n in (*shape, begin, end)):
            raise ValueError(f"tensor {name!r}: dtype {dtype!r}, shape {shape}, offsets {[begin, end]}")
        if end - begin != math.prod(shape) * DTYPE_BYTES[dtype] or end > data_bytes:
            raise ValueError(f"tensor {name!r} of shape {shape} does not fit bytes {begin}-{end} of the {data_bytes} the file holds")
        shapes[name] = tuple(shape)
    return shapes


def check_shapes(planned: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], source: str | Path, fix: str) -> None:
    """ModelError naming the tensors only one of a config's plan (`planned_shapes`) and the weights file `source` (`found`,
    its header's shapes) has, else the first whose shapes differ: checked before the model is built."""
    missing, unexpected = sorted(planned.keys() - found.keys()), sorted(found.keys() - planned.keys())
    if missing or unexpected:
        raise ModelError(f"{source}: weights do not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]}); {fix}")
    for name in sorted(planned):
        if planned[name] != found[name]:
            raise ModelError(f"{source}: weights do not fit this model (size mismatch for {name}: {list(found[name])} in the file, "
                             f"{list(planned[name])} by its config); {fix}")


def hf_labels(folder: str | Path) -> list[str]:
    """The label set an HF X-CLIP folder's config.json names (`id2label`, in id order), or none (transformers' defaults)."""
    try:
        id2label = hf_config(folder).get("id2label") or {}
        labels = [id2label[key] for key in sorted(id2label, key=int)]
    except (AttributeError, ValueError, TypeError):
        return []
    return [] if all(label == f"LABEL_{i}" for i, label in enumerate(labels)) else labels


def hf_model_type(path: str | Path) -> str | None:
    """The `model_type` a Hugging Face folder's config.json names, or None where there is no readable JSON mapping."""
    config = hf_config(path)
    return config.get("model_type") if isinstance(config, dict) else None


def hf_config(folder: str | Path) -> Any:
    """The JSON of a Hugging Face folder's config.json, read with a size limit, or None where it is missing, too
    large, not UTF-8 or not JSON; a FIFO or a device is refused (read_text's UserError, not a ModelError, passes)."""
    try:
        return json.loads(read_text(Path(folder) / "config.json", "config.json", HF_CONFIG_LIMIT))
    except (OSError, ModelError, json.JSONDecodeError):
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
