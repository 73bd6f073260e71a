"""Hub-style model folders: `save_pretrained` / `from_pretrained` for ALT, in transformers' layout.

```
DIR/config.json         everything that rebuilds the model (below), plain JSON
DIR/model.safetensors   the learned weights, as `checkpoint.model_state` gives them (no corpus buffer, no text tower)
DIR/corpus.safetensors  the corpus embeddings S ("embeddings", [K, d]); their rows are described in config.json
```

config.json holds `format` ("alt-pretrained") and `format_version`; `arch` ("alt"); `config`, the
resolved run config (`config.to_dict`, model section included); `clip`, the open_clip model name
and the pretrained tag or path whose frozen text tower the model reads labels with (it is not in
the weights, as in a checkpoint); `labels`, the label set it was trained with; and `corpus`: the
corpus.pt it was trained with (`path` and its `sha256`) and every field of that bundle but the
embeddings (units, descriptions, categories, model, corpus_sha256, ...), so the folder is a whole
corpus.pt too. Loading reads JSON and safetensors only: no pickle runs.

Written by hand rather than with huggingface_hub's `PyTorchModelHubMixin`: the mixin rebuilds a
model by calling its `__init__` with JSON-serialised arguments, while ALT is built by
`factory.create_model` from a config, a CLIP model and a corpus bundle (objects), and its frozen
text tower is deliberately left out of the weights. The layout is the mixin's (config.json +
model.safetensors), so `huggingface_hub.upload_folder` shares a folder as it is.

A folder is written atomically (`alt_common.io.atomic_folder`: built under a temporary sibling,
then renamed), so a crash never leaves half of one. `load_model` opens either kind of trained
model: an alt-train checkpoint file or such a folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from alt_common.bundle import CorpusBundle
from alt_common.clip import resolve_model
from alt_common.io import atomic_folder, file_sha256

from .checkpoint import load_checkpoint, load_weights, model_state
from .config import Config, load_config, to_dict
from .errors import ModelError
from .factory import create_model, load_released, load_trained
from .guard import HF_FILES, MiB, check_out_folder, hf_labels, is_hf_xclip, read_text
from .model import ALT

FORMAT, FORMAT_VERSION, ARCH = "alt-pretrained", 1, "alt"
CONFIG, WEIGHTS, CORPUS = "config.json", "model.safetensors", "corpus.safetensors"
FILES = (CONFIG, WEIGHTS, CORPUS)
CONFIG_LIMIT = 64 * MiB  # a config.json with a 1,000-entity corpus is well under 1 MiB
EXPORT_IT = "write one with 'alt-export CHECKPOINT DIR'"


def pretrained_config(cfg: Config, corpus: CorpusBundle, labels: Sequence[str], corpus_path: str | Path | None = None) -> dict[str, Any]:
    """The content of config.json for a model of `cfg` trained over `corpus` (read from `corpus_path`) on `labels`."""
    name, pretrained = cfg.model.name or corpus.model, cfg.model.pretrained or corpus.pretrained
    rows = {k: v for k, v in corpus.to_dict().items() if k != "embeddings"}
    source = {"path": str(Path(corpus_path).resolve()), "sha256": file_sha256(corpus_path)} if corpus_path else {"path": None, "sha256": None}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "arch": ARCH,
        "clip": {"model": name, "open_clip_model": resolve_model(name)[0], "pretrained": pretrained},
        "labels": list(labels),
        "corpus": {**source, "entities": len(corpus.units), **rows},
        "config": to_dict(cfg),
    }


def write_pretrained(folder: str | Path, weights: dict[str, torch.Tensor], cfg: Config, corpus: CorpusBundle,
                     labels: Sequence[str], corpus_path: str | Path | None = None) -> Path:
    """Write a model folder of learned `weights` (a `model_state`) atomically; an existing folder at `folder` is replaced."""
    from safetensors.torch import save_file

    folder = Path(folder)
    config = pretrained_config(cfg, corpus, labels, corpus_path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})  # one key: the header is then byte-stable
        save_file({"embeddings": corpus.embeddings.detach().to("cpu").contiguous()}, str(tmp / CORPUS), metadata={"format": "pt"})
        (tmp / CONFIG).write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    folder.parent.mkdir(parents=True, exist_ok=True)
    atomic_folder(folder, write)
    return folder


def save_pretrained(model: ALT, cfg: Config, folder: str | Path, *, corpus: CorpusBundle, labels: Sequence[str],
                    corpus_path: str | Path | None = None) -> Path:
    """Write `model` (built from `cfg` over `corpus`, trained on `labels`) as a model folder (see the module docstring)."""
    return write_pretrained(folder, model_state(model), cfg, corpus, labels, corpus_path)


def check_export_folder(folder: str | Path, inputs: Sequence[str | Path | None] = ()) -> Path:
    """Refuse, before any work, a DIR alt-export cannot write or must not replace: a file, a path under a file, an
    unwritable place, a folder holding anything but a model folder's files, a folder an input lies in."""
    folder = Path(folder)
    check_out_folder(folder, "DIR")
    if folder.is_dir():
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in FILES + HF_FILES)
        if foreign:
            raise ModelError(f"{folder}: holds files alt-export did not write ({', '.join(foreign[:3])}); choose a new or empty DIR")
    for given in inputs:
        if given is not None and Path(given).exists() and Path(given).resolve().is_relative_to(folder.resolve()):
            raise ModelError(f"{given}: is inside {folder}, which alt-export replaces; choose another DIR")
    return folder


def export_checkpoint(checkpoint: str | Path, folder: str | Path, corpus: str | Path | None = None) -> Path:
    """`alt-export`: an alt-train checkpoint as a model folder, over its training corpus (or `corpus`); no model is built.
    An X-CLIP run is written in Hugging Face's X-CLIP layout (`save_hf_xclip`), text tower included, so that
    transformers' `XCLIPModel` loads it too."""
    state = load_checkpoint(checkpoint)
    cfg = load_config(base=state["config"])
    if cfg.model.arch == "xclip":
        from .hf_xclip import save_hf_xclip

        return save_hf_xclip(load_trained(checkpoint, corpus)[0], folder, state.get("labels", []))
    corpus_path = Path(corpus or state.get("corpus", ""))
    if corpus is None and not corpus_path.is_file():
        raise ModelError(f"{checkpoint}: its training corpus {corpus_path} is not there; pass --corpus with the corpus.pt it was trained with")
    return write_pretrained(folder, state["model"], cfg, CorpusBundle.load(corpus_path), state.get("labels", []), corpus_path)


def read_pretrained(folder: str | Path) -> dict[str, Any]:
    """config.json of a model folder, checked: ModelError in one line naming the folder and what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "not found" if not folder.exists() else "is a file, not a model folder"
        raise ModelError(f"{folder}: {what}; pass a folder written by alt-export (config.json, model.safetensors, corpus.safetensors)")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(f"{folder}: not an ALT model folder (no {', '.join(missing)}); {EXPORT_IT}")
    try:
        meta = json.loads(read_text(folder / CONFIG, "config.json", CONFIG_LIMIT))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{folder / CONFIG}: not valid JSON (line {exc.lineno}); {EXPORT_IT}") from None
    except OSError as exc:
        raise ModelError(f"{folder / CONFIG}: cannot read it ({exc.strerror})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("model_type") or meta.get("architectures") or meta.get("format") if isinstance(meta, dict) else None
        raise ModelError(f"{folder / CONFIG}: not an ALT model folder (format {found!r}, not {FORMAT!r}); {EXPORT_IT}")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ModelError(f"{folder / CONFIG}: format version {version!r} is not one this toolkit reads (up to {FORMAT_VERSION}); upgrade alt-toolkit")
    if meta.get("arch") != ARCH:
        raise ModelError(f"{folder / CONFIG}: a model of architecture {meta.get('arch')!r}, not {ARCH!r}; load it with that model's tools")
    for key, kind in (("config", dict), ("clip", dict), ("labels", list), ("corpus", dict)):
        if not isinstance(meta.get(key), kind):
            raise ModelError(f"{folder / CONFIG}: its {key!r} is missing or not a {kind.__name__}; {EXPORT_IT}")
    if not all(isinstance(label, str) for label in meta["labels"]):
        raise ModelError(f"{folder / CONFIG}: its labels are not all strings; {EXPORT_IT}")
    return meta


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for a damaged file
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: not a readable safetensors file ({reason}); {EXPORT_IT}") from None


def pretrained_corpus(folder: str | Path, meta: dict[str, Any] | None = None) -> CorpusBundle:
    """The corpus a model folder carries: S from corpus.safetensors, its rows from config.json."""
    folder = Path(folder)
    meta = meta or read_pretrained(folder)
    rows = {k: v for k, v in meta["corpus"].items() if k not in ("path", "sha256", "entities")}
    tensors = _tensors(folder / CORPUS)
    if "embeddings" not in tensors:
        raise ModelError(f"{folder / CORPUS}: no 'embeddings' tensor; {EXPORT_IT}")
    return CorpusBundle.from_dict({**rows, "embeddings": tensors["embeddings"]}, folder / CORPUS)


def from_pretrained(folder: str | Path, device: torch.device | str = "cpu",
                    corpus: str | Path | None = None) -> tuple[ALT, Config, dict[str, Any]]:
    """The model a folder holds, with its weights, in eval mode (as transformers' `from_pretrained` returns one), over
    its own corpus (or the corpus.pt `corpus`); returned with its config and config.json's content. A folder whose
    weights are of another model shape than its config describes fails in one line naming the first tensor that differs."""
    folder = Path(folder)
    meta = read_pretrained(folder)
    cfg = load_config(base=meta["config"])
    cfg.model.name = cfg.model.name or meta["clip"].get("model")
    cfg.model.pretrained = cfg.model.pretrained or meta["clip"].get("pretrained")
    bundle = CorpusBundle.load(corpus) if corpus is not None else pretrained_corpus(folder, meta)
    model = create_model(cfg, bundle, device, num_classes=len(meta["labels"]))
    load_weights(model, _tensors(folder / WEIGHTS), folder / WEIGHTS,
                 fix="model.safetensors and config.json describe different models; export the folder again with alt-export")
    return model.eval(), cfg, meta


def trained_config(source: str | Path) -> tuple[dict[str, Any], list[str]]:
    """(saved run config, training labels) of an alt-train checkpoint or a model folder, without building the model;
    a released X-CLIP folder has neither (its arch only)."""
    if is_hf_xclip(source):
        return {"model": {"arch": "xclip"}}, hf_labels(source)
    if Path(source).is_dir():
        meta = read_pretrained(source)
        return meta["config"], list(meta["labels"])
    state = load_checkpoint(source)
    return state["config"], list(state.get("labels", []))


def load_model(source: str | Path, corpus: str | Path | None = None,
               device: torch.device | str = "cpu") -> tuple[ALT, Config, list[str]]:
    """(model, config, training labels) of an alt-train checkpoint file, a model folder (over `corpus` or its own) or a
    released X-CLIP folder in Hugging Face's layout (no labels)."""
    if is_hf_xclip(source):
        return (*load_released(source, device), hf_labels(source))
    if Path(source).is_dir():
        model, cfg, meta = from_pretrained(source, device, corpus)
        return model, cfg, list(meta["labels"])
    model, cfg, state = load_trained(source, corpus, device)
    return model, cfg, list(state.get("labels", []))
