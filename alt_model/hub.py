"""Hub-style model folders: `save_pretrained` / `from_pretrained` for ALT, in transformers' layout.

```
DIR/config.json         everything that rebuilds the model (below), plain JSON
DIR/model.safetensors   the learned weights, as `checkpoint.model_state` gives them (image tower included; no corpus buffer)
DIR/corpus.safetensors  the corpus embeddings S ("embeddings", [K, d]); their rows are described in config.json
DIR/clip.safetensors    the rest of CLIP, frozen: the text tower that embeds any labels, the logit scale (`frozen_clip_state`)
```

A folder is self-contained: loading it reads these four files and nothing else (no hub, no CLIP weights file, no
corpus.pt), wherever it has been moved, and it classifies videos over any labels. config.json holds no absolute path.

config.json holds `format` ("alt-pretrained") and `format_version` (2); `arch` ("alt"); `config`, the resolved run
config (`config.to_dict`, model section included) made portable (`portable_config`: prompt templates read from a file
inlined; the run's absolute paths, such as its data lists, left out, their file names kept in `run_files`); `clip`, the
open_clip model name, the weights it was trained over as provenance only (a tag, or a file's name and SHA-256), the
activation and frame preprocessing CLIP was built with, and `weights` (clip.safetensors); `labels`, the label set it was
trained with; and `corpus`: the corpus.pt it was trained with (its file `name` and `sha256`) and every field of that
bundle but the embeddings (units, descriptions, categories, model, corpus_sha256, ...), so the folder is a whole
corpus.pt too. Loading reads JSON and safetensors only: no pickle runs.

Format 1 (three files, no clip.safetensors) named the CLIP weights its text tower came from, an open_clip tag or an
absolute path; such a folder still loads where those weights are, and otherwise fails in one line saying to export it
again.

Written by hand rather than with huggingface_hub's `PyTorchModelHubMixin`: the mixin rebuilds a
model by calling its `__init__` with JSON-serialised arguments, while ALT is built by
`factory.create_model` from a config, a CLIP model and a corpus bundle (objects). The layout is the mixin's
(config.json + model.safetensors), so `huggingface_hub.upload_folder` shares a folder as it is.

A folder is written atomically (`alt_common.io.atomic_folder`: built under a temporary sibling,
then renamed), so a crash never leaves half of one. `load_model` opens either kind of trained
model: an alt-train checkpoint file or such a folder.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path, PureWindowsPath
from typing import Any

import torch

from alt_common.bundle import CorpusBundle
from alt_common.clip import (
    clip_from_state, clip_preprocess, frozen_clip_state, is_checkpoint_file, loaded_provenance, resolve_model, uses_quick_gelu,
)
from alt_common.errors import UserError
from alt_common.io import atomic_folder, file_sha256

from .checkpoint import load_checkpoint, load_weights, model_state
from .config import Config, load_config, to_dict
from .errors import ModelError
from .factory import apply_norm, create_model, load_model_clip, load_released, load_trained
from .guard import HF_FILES, MiB, check_out_folder, hf_labels, is_hf_xclip, read_text, safetensors_shapes
from .model import ALT
from .text_head import load_templates

FORMAT, FORMAT_VERSION, ARCH = "alt-pretrained", 2, "alt"
CONFIG, WEIGHTS, CORPUS, CLIP_WEIGHTS = "config.json", "model.safetensors", "corpus.safetensors", "clip.safetensors"
FILES = (CONFIG, WEIGHTS, CORPUS, CLIP_WEIGHTS)
FORMAT_1_FILES = (CONFIG, WEIGHTS, CORPUS)  # format 1 read CLIP's text tower from the weights config.json named
CONFIG_LIMIT = 64 * MiB  # a config.json with a 1,000-entity corpus is well under 1 MiB
EXPORT_IT = "write one with 'alt-export CHECKPOINT DIR'"
# run-config keys that name this machine's files: left out of a folder's config (their defaults) when absolute
RUN_INPUTS = {("data", "labels"): "", ("data", "train_list"): "", ("data", "val_list"): None, ("data", "video_root"): ".",
              ("train", "init"): None}


def is_absolute(value: Any) -> bool:
    """Whether `value` is a string naming an absolute path, of this system or Windows (or under ~)."""
    return isinstance(value, str) and (os.path.isabs(value) or value.startswith("~") or bool(PureWindowsPath(value).drive))


def file_name(value: Any) -> Any:
    """A path's file name (after the last / or \\); anything but a string as it is."""
    return PureWindowsPath(value).name if isinstance(value, str) else value


def weights_name(pretrained: str | None) -> str | None:
    """CLIP weights as provenance: an open_clip tag as it is, a local file by its name."""
    return file_name(pretrained) if pretrained and is_checkpoint_file(pretrained) else pretrained


def portable_config(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(a run config dict as a model folder keeps it, the file names of the paths it left out): prompt templates read
    from a file are inlined (the folder needs no templates file); CLIP's weights, if a file, are named by its name
    (provenance: clip.safetensors holds what the model reads of them); each absolute path is left out, as the default
    of a key naming the run's inputs (`RUN_INPUTS`: an alt-eval of the folder then asks for its own lists) or as its
    file name elsewhere (`out`: the run's name)."""
    config = copy.deepcopy(config)
    model = config.get("model", {})
    if isinstance(model.get("templates"), str):
        model["templates"] = load_templates(model["templates"])
    model["pretrained"] = weights_name(model.get("pretrained"))
    left_out: dict[str, str] = {}

    def walk(node: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key, value in node.items():
            where = (*keys, key)
            if isinstance(value, dict):
                walk(value, where)
            elif is_absolute(value):
                left_out[".".join(where)] = file_name(value)
                node[key] = RUN_INPUTS[where] if where in RUN_INPUTS else file_name(value)

    walk(config, ())
    return config, left_out


def clip_record(clip: Any, name: str, pretrained: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """config.json's `clip`: the CLIP model `clip` is (built as `name` over the weights `pretrained`; `provenance` as
    load_clip gave it), with what rebuilds it from clip.safetensors (`hub.from_pretrained`)."""
    sha = provenance.get("pretrained_sha256")
    if sha is None and pretrained and is_checkpoint_file(pretrained) and Path(pretrained).expanduser().is_file():
        sha = file_sha256(Path(pretrained).expanduser())
    return {"model": name, "open_clip_model": resolve_model(name)[0], "pretrained": weights_name(pretrained), "pretrained_sha256": sha,
            "activation": "quick_gelu" if uses_quick_gelu(clip) else "gelu", "random_weights": bool(provenance.get("random_weights")),
            "preprocess": clip_preprocess(clip), "weights": CLIP_WEIGHTS}


def portable_rows(corpus: CorpusBundle) -> dict[str, Any]:
    """The fields of a corpus bundle but its embeddings, its CLIP weights named as provenance (`weights_name`)."""
    rows = {k: v for k, v in corpus.to_dict().items() if k != "embeddings"}
    rows["pretrained"] = weights_name(rows.get("pretrained"))
    if isinstance(rows.get("provenance"), dict):
        rows["provenance"] = {k: weights_name(v) if k == "pretrained" else file_name(v) if is_absolute(v) else v
                              for k, v in rows["provenance"].items()}
    return rows


def pretrained_config(cfg: Config, corpus: CorpusBundle, labels: Sequence[str], corpus_path: str | Path | None = None, *,
                      clip: dict[str, Any]) -> dict[str, Any]:
    """The content of config.json for a model of `cfg` trained over `corpus` (read from `corpus_path`) on `labels`, its
    CLIP model described by `clip` (a `clip_record`)."""
    source = {"name": Path(corpus_path).name, "sha256": file_sha256(corpus_path)} if corpus_path else {"name": None, "sha256": None}
    config, left_out = portable_config(to_dict(cfg))
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "arch": ARCH,
        "clip": clip,
        "labels": list(labels),
        "corpus": {**source, "entities": len(corpus.units), **portable_rows(corpus)},
        "config": config,
        "run_files": left_out,
    }


def write_pretrained(folder: str | Path, weights: dict[str, torch.Tensor], cfg: Config, corpus: CorpusBundle,
                     labels: Sequence[str], corpus_path: str | Path | None = None, *, clip: Any, clip_meta: dict[str, Any]) -> Path:
    """Write a model folder of learned `weights` (a `model_state`) and the frozen rest of the CLIP model `clip`
    (described by `clip_meta`, a `clip_record`) atomically; an existing folder at `folder` is replaced."""
    from safetensors.torch import save_file

    folder = Path(folder)
    config = pretrained_config(cfg, corpus, labels, corpus_path, clip=clip_meta)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
    frozen = frozen_clip_state(clip)

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})  # one key: the header is then byte-stable
        save_file({"embeddings": corpus.embeddings.detach().to("cpu").contiguous()}, str(tmp / CORPUS), metadata={"format": "pt"})
        save_file(frozen, str(tmp / CLIP_WEIGHTS), metadata={"format": "pt"})
        (tmp / CONFIG).write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    folder.parent.mkdir(parents=True, exist_ok=True)
    atomic_folder(folder, write)
    return folder


def save_pretrained(model: ALT, cfg: Config, folder: str | Path, *, corpus: CorpusBundle, labels: Sequence[str],
                    corpus_path: str | Path | None = None) -> Path:
    """Write `model` (built from `cfg` over `corpus`, trained on `labels`) as a model folder (see the module docstring),
    with the frozen parts of the CLIP model it holds."""
    clip = model.text_head.clip
    name, pretrained = cfg.model.name or corpus.model, cfg.model.pretrained or corpus.pretrained
    meta = clip_record(clip, name, pretrained, loaded_provenance(clip) or {})
    return write_pretrained(folder, model_state(model), cfg, corpus, labels, corpus_path, clip=clip, clip_meta=meta)


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
    """`alt-export`: an alt-train checkpoint as a self-contained model folder, over its training corpus (or `corpus`),
    with the frozen rest of the CLIP model it was trained over (loaded from the weights it names: they must be here);
    no ALT model is built. An X-CLIP run is written in Hugging Face's X-CLIP layout (`save_hf_xclip`), text tower
    included, so that transformers' `XCLIPModel` loads it too."""
    state = load_checkpoint(checkpoint)
    cfg = load_config(base=state["config"])
    if cfg.model.arch == "xclip":
        from .hf_xclip import save_hf_xclip

        return save_hf_xclip(load_trained(checkpoint, corpus)[0], folder, state.get("labels", []))
    corpus_path = Path(corpus or state.get("corpus", ""))
    if corpus is None and not corpus_path.is_file():
        raise ModelError(f"{checkpoint}: its training corpus {corpus_path} is not there; pass --corpus with the corpus.pt it was trained with")
    bundle = CorpusBundle.load(corpus_path)
    name, pretrained = cfg.model.name or bundle.model, cfg.model.pretrained or bundle.pretrained
    if not name or not pretrained:
        raise ModelError(f"{corpus_path}: no 'model'/'pretrained' recorded; pass --corpus with the corpus.pt the model was trained with")
    clip, _, provenance = load_model_clip(name, pretrained, "cpu", f"{checkpoint} was trained over them, and its folder carries "
                                          "CLIP's frozen text tower", "run alt-export on a machine that has them")
    apply_norm(clip, cfg.model)  # as the trained model's tower has it
    check_tower(state["model"], clip, checkpoint, f"{corpus_path} was embedded by another CLIP model ({name}) than {checkpoint} was "
                "trained over; pass --corpus with the corpus.pt it was trained with")
    return write_pretrained(folder, state["model"], cfg, bundle, state.get("labels", []), corpus_path, clip=clip,
                            clip_meta=clip_record(clip, name, pretrained, provenance))


def check_tower(weights: dict[str, torch.Tensor], clip: Any, source: str | Path, fix: str) -> None:
    """ModelError naming the first tensor of CLIP's image tower whose shape `weights` (an ALT's learned state, the tower
    under `encoder.visual.`) hold otherwise than `clip` has it, or lack: weights of another CLIP model."""
    for name, tensor in clip.visual.state_dict().items():
        found = weights.get(f"encoder.visual.{name}")
        if found is None:
            raise ModelError(f"{source}: weights do not fit this model (missing 'encoder.visual.{name}'); {fix}")
        if found.shape != tensor.shape:
            raise ModelError(f"{source}: weights do not fit this model (size mismatch for encoder.visual.{name}: {list(found.shape)} "
                             f"in the file, {list(tensor.shape)} in CLIP); {fix}")


def read_pretrained(folder: str | Path) -> dict[str, Any]:
    """config.json of a model folder, checked: ModelError in one line naming the folder and what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "not found" if not folder.exists() else "is a file, not a model folder"
        raise ModelError(f"{folder}: {what}; pass a folder written by alt-export (config.json and safetensors files)")
    missing = [name for name in FORMAT_1_FILES if not (folder / name).is_file()]
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
    if version >= 2 and not (folder / CLIP_WEIGHTS).is_file():
        raise ModelError(f"{folder}: not an ALT model folder (no {CLIP_WEIGHTS}, CLIP's frozen text tower); {EXPORT_IT}")
    if version >= 2 and not all(isinstance(meta["clip"].get(key), str) for key in ("model", "activation")):
        raise ModelError(f"{folder / CONFIG}: its 'clip' names no model and activation; {EXPORT_IT}")
    try:
        load_config(base=meta["config"])  # every value checked as a run's, sizes bounded (model.frames), before anything is built
    except ModelError as exc:
        raise ModelError(f"{folder / CONFIG}: {exc}; {EXPORT_IT}") from None
    return meta


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a model folder's safetensors file, its header checked first (`safetensors_shapes`)."""
    from safetensors.torch import load_file

    safetensors_shapes(path, EXPORT_IT)
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for a damaged file
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ModelError(f"{path}: not a readable safetensors file ({reason}); {EXPORT_IT}") from None


def pretrained_corpus(folder: str | Path, meta: dict[str, Any] | None = None) -> CorpusBundle:
    """The corpus a model folder carries: S from corpus.safetensors, its rows from config.json."""
    folder = Path(folder)
    meta = meta or read_pretrained(folder)
    rows = {k: v for k, v in meta["corpus"].items() if k not in ("path", "name", "sha256", "entities")}
    tensors = _tensors(folder / CORPUS)
    if "embeddings" not in tensors:
        raise ModelError(f"{folder / CORPUS}: no 'embeddings' tensor; {EXPORT_IT}")
    return CorpusBundle.from_dict({**rows, "embeddings": tensors["embeddings"]}, folder / CORPUS)


def from_pretrained(folder: str | Path, device: torch.device | str = "cpu",
                    corpus: str | Path | None = None) -> tuple[ALT, Config, dict[str, Any]]:
    """The model a folder holds, with its weights, in eval mode (as transformers' `from_pretrained` returns one), over
    its own corpus (or the corpus.pt `corpus`); returned with its config and config.json's content. It reads the
    folder's files only (format 1: and the CLIP weights config.json names). A folder whose weights are of another
    model shape than its config describes fails in one line naming the first tensor that differs."""
    folder = Path(folder)
    meta = read_pretrained(folder)
    cfg = load_config(base=meta["config"])
    cfg.model.name = cfg.model.name or meta["clip"].get("model")
    cfg.model.pretrained = cfg.model.pretrained or meta["clip"].get("pretrained")
    bundle = CorpusBundle.load(corpus) if corpus is not None else pretrained_corpus(folder, meta)
    differ = "model.safetensors and config.json describe different models; export the folder again with alt-export"
    weights = (folder / WEIGHTS, differ)  # the shapes config.json asks for, checked against these before the model is built
    if meta["format_version"] >= 2:
        model = create_model(cfg, bundle, device, num_classes=len(meta["labels"]), clip=folder_clip(folder, meta, device), weights=weights)
    else:
        why = (f"the model folder {folder} is of format 1, which reads CLIP's frozen text tower from them; a folder of format 2 "
               "carries it")
        fix = ("write a self-contained folder from the model's alt-train checkpoint with 'alt-export CKPT DIR' and pass DIR to "
               "--pretrained (or pass that checkpoint to --checkpoint where they are)")
        model = create_model(cfg, bundle, device, num_classes=len(meta["labels"]), missing_clip=(why, fix), weights=weights)
    load_weights(model, _tensors(folder / WEIGHTS), folder / WEIGHTS, fix=differ)
    return model.eval(), cfg, meta


def folder_clip(folder: Path, meta: dict[str, Any], device: torch.device | str = "cpu") -> tuple[Any, Any, dict[str, Any]]:
    """The CLIP model of a format-2 folder, as `load_clip` returns one: built from its name with no pretrained weights,
    its frozen parts from clip.safetensors (its image tower is the model's, in model.safetensors)."""
    clip = meta["clip"]
    provenance = {k: clip.get(k) for k in ("pretrained", "pretrained_sha256", "random_weights")}
    try:
        return clip_from_state(clip["model"], _tensors(folder / CLIP_WEIGHTS), activation=clip["activation"],
                               preprocess=clip.get("preprocess"), provenance=provenance, device=str(device),
                               source=str(folder / CLIP_WEIGHTS), fix="export the folder again with alt-export")
    except ModelError:
        raise
    except UserError as exc:
        raise ModelError(str(exc)) from None


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
