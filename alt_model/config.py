"""Run configuration: small YAML files in `configs/`, every value overridable as `section.key=value`.

The configs ship inside the package (pyproject's `package-dir` installs the repository's `configs/` as
`alt_model.configs`, so a wheel carries them and an editable install reads the repository's own files):
`resolve_config` takes a file path or a packaged config's name (`tiny_cpu`, `k400_vitb16_8f.yaml`), and
`packaged_configs` lists them with their purpose (`alt-train --list-configs`).

The schema is declared once, as dataclasses with defaults from DESIGN §9 (the paper's K-400 recipe,
supplementary A, X-CLIP's augmentation). A YAML file and the command-line overrides are checked
against it: an unknown key is an error that suggests the nearest known one, and values are
converted to the declared type (so `1e-3`, which YAML reads as a string, is a float). The
resolved configuration is saved with the run (`config.yaml`) and inside every checkpoint.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from .choices import (ADAPTER_WIDTHS, ADAPTERS, ALIGNER_SCALES, ARCHS, CLS_LAYER, DEFAULT_R, FREEZE, HEADS, LOGIT_SCALES, NORMS,
                      PRECISIONS, QUERIES, REDUCE_ORDERS, REGION_LAYER, SCALES)
from .decode import check_backend
from .errors import ModelError
from .guard import MiB, read_text

# train.schedule: warm-up then a cosine to each group's min_lr_ratio (ALT's), or timm's CosineLRScheduler as X-CLIP runs it
SCHEDULES = ("warmup-cosine", "timm-cosine")


@dataclass
class ModelConfig:
    """The ALT model: every `ALT` option (`factory.create_model` builds it); name/pretrained default to the
    ones that embedded the corpus."""

    arch: str = "alt"  # alt | xclip: ALT (paper Sec. 3), or the X-CLIP baseline (xclip.py), which reads only the keys marked X-CLIP
    name: str | None = None
    pretrained: str | None = None
    frames: int = 8
    r: int | list[int] = DEFAULT_R  # ToMe merges per block (Sec. 3.3): one for every block, or a list, one per block
    cls_layer: int = CLS_LAYER  # Eq. 3: the block e_cls is taken after (-1: the last, CLIP's image embedding)
    region_layer: int = REGION_LAYER  # Eq. 3: the block the regions are taken after (-2: the second-last, as Eq. 3 says)
    adapter_width: str = "vision"  # vision | joint: the adapter's channels, the image tower's (Table 1's size) or the joint space's
    adapter_depth: int | None = None  # M: 4 for ViT-B, 6 for ViT-L when null
    adapter_heads: int | None = None  # attention heads of the adapter blocks; null: one per 64 channels
    reduce: str = "mlp-mean"  # mlp-mean | sum-mlp: Eq. 6's order, MLP per token then the area-weighted mean, or as written (adapter.py)
    adapter: str = "alt"  # alt | self-attention: Eq. 7-8's adapter, or Table 5a's self-attention layers over Ê
    head: str = "text"  # text | linear: Eq. 10's logits against the labels' text, or Table 8's linear probe (fixed label set)
    # prompt templates (Eq. 10): a file (one per line, {} for the label) or a list; null: the packaged label_templates.txt
    templates: str | list[str] | None = None
    temperature: float = 1.0
    aligner_scale: str = "clip"  # clip | learned | none: the cosines' scale before Eq. 4's Gumbel noise (aligner.py)
    align: bool = True
    queries: str = "corpus"
    regions: bool = True
    temporal_conv: bool = True
    self_attention: bool = True
    categories: list[str] | None = None
    grad_checkpointing: bool = False  # recompute the ViT blocks in the backward pass: less memory, ~30% slower
    mit_layers: int = 1  # X-CLIP: layers of the multi-frame integration transformer (X-CLIP Sec. 4.1: 1)
    prompt_layers: int = 2  # X-CLIP: blocks of the video-specific prompt generator (X-CLIP Sec. 4.1: 2; 0: none, ĉ = c, Table 4a)
    prompt_alpha: float = 0.1  # X-CLIP: the prompts' learned weight α, its initial value (X-CLIP Sec. 3.3: 0.1)
    logit_scale: str = "learned"  # learned | frozen: the text head's scale trains (ALT: capped at 100), or stays CLIP's (X-CLIP's FIX_TEXT)
    norm: str = "tower"  # tower | imagenet: frames normalised with the tower's mean/std (CLIP's), or ImageNet's (X-CLIP's img_norm_cfg)


@dataclass
class DataConfig:
    """Videos: label file, list files (DESIGN §3) under a root, the holdout that picks best.pt, K-shot sampling."""

    labels: str = ""
    train_list: str = ""
    val_list: str | None = None
    video_root: str = "."
    workers: int = 4
    # video decoding: auto | pyav | decord | torchcodec (alt_model/decode.py); auto: the fastest installed. The same frames from
    # each (tested); decord and torchcodec come with the fast-video extra. alt-eval and alt-predict decode with auto
    backend: str = "auto"
    skip_missing: bool = False  # go on without listed videos whose files are missing (warned), instead of stopping
    # resize each frame to the shorter side the transforms start from (int(256/224 · S)) in the decoder's colour conversion,
    # one bit-exact sws_scale: the same frames on every CPU, at about 1.2x the CPU time of a full-size conversion the
    # transforms then crop and resize once (benchmarks/data.py); off: that full-size conversion (FFmpeg's SIMD code)
    decode_resize: bool = False
    # a decode-once clip store (`alt-data pack`): a folder holding one store per list, DIR/<the list file's name without
    # its extension>; training and evaluation read their frames from it instead of decoding the videos. Empty: the videos
    store: str = ""
    shots: int | None = None  # K-shot: K training videos per class, drawn with `seed` (after `holdout`, from the rest)
    # fraction of each class's training videos kept out of training to pick best.pt on (drawn with `seed`); 0: none, the
    # whole training set is trained on for the whole schedule and best.pt is the last epoch. val_list never picks best.pt.
    holdout: float = 0.0


@dataclass
class AugConfig:
    """Train-time augmentation (supplementary A, X-CLIP)."""

    scales: list[float] = field(default_factory=lambda: list(SCALES))  # MultiScaleCrop
    flip: float = 0.5
    mixup: float = 0.8  # Beta(α, α) of Mixup; 0 turns it off
    # Beta(α, α) of CutMix; 0 turns it off. 1.0 is X-CLIP's config: ALT's supplementary A lists RandomFlip, MultiScaleCrop,
    # Mixup and label smoothing ("following the manner of X-CLIP") and names no CutMix
    cutmix: float = 1.0
    switch_prob: float = 0.5  # CutMix instead of Mixup, when both are on
    label_smoothing: float = 0.1


@dataclass
class TrainConfig:
    """Optimisation (Sec. 3.3, supplementary A) and bookkeeping."""

    epochs: int = 30
    warmup_epochs: float = 5.0
    batch_size: int = 8  # videos per process per forward pass
    global_batch: int = 256  # videos per optimizer step: batch_size × processes × accumulation
    lr_vit: float = 8e-6
    lr_adapter: float = 8e-5  # everything that is not the ViT: reducers, adapter, logit scale
    min_lr_ratio: float = 0.01  # the cosine ends at this fraction of the peak (timm-cosine: of lr_vit, for every group; X-CLIP: lr / 100)
    schedule: str = "warmup-cosine"  # warmup-cosine | timm-cosine: the learning-rate schedule (SCHEDULES; schedule.py's lr_lambdas)
    weight_decay: float = 0.001
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    grad_clip: float | None = 1.0
    precision: str = "auto"  # auto: bf16 autocast on GPUs that have it, else fp16 + GradScaler; fp32 on CPU
    init: str | None = None  # start from this checkpoint's model weights (few-shot, linear probe)
    freeze: str = "none"  # none | encoder (Table 6a) | all-but-head (Table 8's linear probe, with model.head: linear)
    save_every: int = 0  # also checkpoint every N optimizer steps within an epoch (0: at epoch ends)
    stop_after_steps: int | None = None  # checkpoint and stop after N optimizer steps in this run (time-sliced jobs)
    log_every: int = 10  # optimizer steps between log lines


@dataclass
class EvalConfig:
    """Validation during training and `alt-eval` defaults."""

    clips: int = 1
    crops: int = 1
    batch_size: int = 8
    every: int = 1  # validate, and evaluate the data.holdout videos, every N epochs (0: only at the end)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    aug: AugConfig = field(default_factory=AugConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    out: str = "runs/alt"
    seed: int = 1024


CONFIGS_PACKAGE = "alt_model.configs"


def configs_dir() -> Path:
    """The folder of the packaged configs: `configs/` in the repository, `alt_model/configs/` in a wheel."""
    from importlib.resources import files

    try:
        return Path(str(files(CONFIGS_PACKAGE)))
    except ModuleNotFoundError:  # an editable install made before configs/ was a package: the checkout's own folder
        return Path(__file__).resolve().parents[1] / "configs"


def packaged_configs() -> list[tuple[str, str]]:
    """(name, purpose) of every packaged config, by name (the purpose: `_purpose` of its header comment)."""
    listed = []
    for path in sorted(configs_dir().glob("*.yaml")):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        listed.append((path.stem, _purpose(lines)))
    return listed


def _purpose(lines: list[str]) -> str:
    """A config's purpose: its header comment up to the first colon outside brackets or the end of its first sentence."""
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    text, depth = " ".join(header), 0
    for i, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if depth == 0 and (char == ":" or (char == "." and text[i + 1 : i + 2] in ("", " "))):
            return text[:i].strip() if char == ":" else text[: i + 1].strip()
    return text.strip()


def resolve_config(config: str | Path) -> Path:
    """The YAML file `config` names: an existing file first, else a packaged config by name, with or without
    `.yaml` (`tiny_cpu`, `k400_vitb16_8f.yaml`, also `configs/tiny_cpu.yaml` as the docs write it, from any
    folder); else ModelError in one line listing the packaged names."""
    path = Path(config)
    try:
        exists, folder = path.exists(), path.is_dir()
    except OSError:  # a name too long, a folder it may not look in: read_yaml names the error
        return path
    if exists and not folder:  # a file (or a device: read_yaml refuses what is no config)
        return path
    name = path.name[:-len(".yaml")] if path.name.endswith(".yaml") else path.name
    if not exists and name and path.parent in (Path("."), Path("configs")):
        packaged = configs_dir() / f"{name}.yaml"
        if packaged.is_file():
            return packaged
    names = ", ".join(n for n, _ in packaged_configs()) or "none"
    where = "a folder, not a YAML file" if folder else "not a file and not a packaged config"
    raise ModelError(f"{config}: config not found ({where}); pass a YAML file or a packaged config's name: {names} "
                     "(alt-train --list-configs says what each is for)")


MAX_FRAMES = 256  # frames per clip: 8-32 in every recipe; 100,000 would decode gigabytes per video
MAX_LAYERS = 64  # blocks of one stack: ViT-G/14 has 48, ALT's adapter 4-6, X-CLIP's MIT 1 and prompts 2
CONFIG_LIMIT = 1 * MiB  # a config is a few hundred bytes: anything larger is the wrong file
_NULL = ("null", "none", "~", "")


def _keys(node: Any, prefix: str = "") -> list[str]:
    return [k for f in fields(node) for k in (_keys(getattr(node, f.name), f"{prefix}{f.name}.") if is_dataclass(getattr(node, f.name)) else [f"{prefix}{f.name}"])]


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` as the declared type `hint`, or ModelError naming the key."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (isinstance(value, str) and value.strip().lower() in _NULL)):
            return None
        arms = [a for a in args if a is not type(None)]
        expected = " or ".join(str(a) if typing.get_origin(a) else a.__name__ for a in arms)
        listed = isinstance(value, (list, tuple)) or (isinstance(value, str) and value.strip().startswith("["))
        hint = next((a for a in arms if (typing.get_origin(a) is list) == listed), arms[0])  # a scalar, or a list of them
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    else:
        expected = getattr(hint, "__name__", hint)
    bad = ModelError(f"{key}: expected {expected}, got {value!r}")
    if origin is list:
        if isinstance(value, str):
            try:
                value = parse_yaml(value) if value.strip().startswith("[") else [v for v in value.split(",") if v.strip()]
            except yaml.YAMLError:
                raise bad from None
        if not isinstance(value, (list, tuple)):
            raise bad
        return [_coerce(v, args[0], key) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.strip().lower() in ("true", "yes", "on", "1")
        raise bad
    if hint in (int, float):
        if isinstance(value, bool):
            raise bad
        try:
            number = hint(value) if not isinstance(value, str) else hint(float(value) if hint is float else int(value))
        except (TypeError, ValueError):
            raise bad from None
        except OverflowError:  # int of an infinity
            raise ModelError(f"{key}: expected a finite {expected}, got {value!r}") from None
        if hint is int and isinstance(value, float) and value != int(value):
            raise bad
        if not math.isfinite(number):
            raise ModelError(f"{key}: expected a finite {expected}, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, (dict, list)):
            raise bad
        return str(value)
    raise bad


def _set(cfg: Config, key: str, value: Any, source: str) -> None:
    parts, node = key.split("."), cfg
    for part in parts[:-1]:
        sub = getattr(node, part, None) if part in {f.name for f in fields(node)} else None
        if not is_dataclass(sub):
            node = None
            break
        node = sub
    names = {f.name for f in fields(node)} if node is not None else set()
    if node is None or parts[-1] not in names or is_dataclass(getattr(node, parts[-1])):
        near = difflib.get_close_matches(key, _keys(cfg), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else f"; known keys: {', '.join(_keys(cfg)[:6])}, ..."
        raise ModelError(f"{source}: unknown config key '{key}'{hint}")
    setattr(node, parts[-1], _coerce(value, typing.get_type_hints(type(node))[parts[-1]], key))


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`['train.lr_vit=1e-5', ...]` -> {'train.lr_vit': '1e-5'}."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ModelError(f"override {item!r} is not 'section.key=value' (e.g. train.lr_vit=1e-5)")
        pairs[key.strip()] = value.strip()
    return pairs


def check(cfg: Config) -> Config:
    """Reject values no run can use, naming the key."""
    positive = {"model.frames": cfg.model.frames, "train.epochs": cfg.train.epochs, "train.batch_size": cfg.train.batch_size,
                "train.global_batch": cfg.train.global_batch, "eval.batch_size": cfg.eval.batch_size, "eval.clips": cfg.eval.clips,
                "train.log_every": cfg.train.log_every}
    for key, value in positive.items():
        if value < 1:
            raise ModelError(f"{key} must be at least 1, got {value}")
    if cfg.model.frames > MAX_FRAMES:
        raise ModelError(f"model.frames must be at most {MAX_FRAMES} (each clip is decoded whole into memory), got {cfg.model.frames}")
    for key in ("adapter_depth", "mit_layers", "prompt_layers"):
        if (getattr(cfg.model, key) or 0) > MAX_LAYERS:
            raise ModelError(f"model.{key} must be at most {MAX_LAYERS} blocks, got {getattr(cfg.model, key)}")
    if cfg.eval.crops not in (1, 3):
        raise ModelError(f"eval.crops must be 1 or 3 (centre, or three along the longer side), got {cfg.eval.crops}")
    if cfg.train.precision not in PRECISIONS:
        raise ModelError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {cfg.train.precision!r}")
    if len(cfg.train.betas) != 2:
        raise ModelError(f"train.betas must be two numbers, got {cfg.train.betas}")
    r = cfg.model.r if isinstance(cfg.model.r, list) else [cfg.model.r]
    if any(n < 0 for n in r):
        raise ModelError(f"model.r must be a non-negative int or a list of them (one per block), got {cfg.model.r}")
    if cfg.model.adapter_heads is not None and cfg.model.adapter_heads < 1:
        raise ModelError(f"model.adapter_heads must be at least 1 (or null: one per 64 channels), got {cfg.model.adapter_heads}")
    if isinstance(cfg.model.templates, list) and (not cfg.model.templates or any("{}" not in t for t in cfg.model.templates)):
        raise ModelError(f"model.templates: every template needs a {{}} placeholder for the label, got {cfg.model.templates}")
    if cfg.data.shots is not None and cfg.data.shots < 1:
        raise ModelError(f"data.shots must be at least 1, got {cfg.data.shots}")
    check_backend(cfg.data.backend)  # a known name; whether it is installed is checked where videos are read (a saved config loads anywhere)
    t, a = cfg.train, cfg.aug
    ranges = [  # (key, value, allowed, what to say)
        ("train.lr_vit", t.lr_vit, t.lr_vit > 0, "a learning rate above 0"),
        ("train.lr_adapter", t.lr_adapter, t.lr_adapter > 0, "a learning rate above 0"),
        ("train.weight_decay", t.weight_decay, t.weight_decay >= 0, "at least 0"),
        ("train.warmup_epochs", t.warmup_epochs, t.warmup_epochs >= 0, "at least 0"),
        ("train.min_lr_ratio", t.min_lr_ratio, 0 <= t.min_lr_ratio <= 1, "a fraction of the peak, from 0 to 1"),
        ("train.betas", t.betas, all(0 <= b < 1 for b in t.betas), "two numbers from 0 to below 1"),
        ("train.grad_clip", t.grad_clip, t.grad_clip is None or t.grad_clip >= 0, "at least 0 (0 or null: no clipping)"),
        ("train.save_every", t.save_every, t.save_every >= 0, "at least 0 (0: at epoch ends)"),
        ("train.stop_after_steps", t.stop_after_steps, t.stop_after_steps is None or t.stop_after_steps >= 1, "at least 1 (or null)"),
        ("aug.flip", a.flip, 0 <= a.flip <= 1, "a probability, from 0 to 1"),
        ("aug.switch_prob", a.switch_prob, 0 <= a.switch_prob <= 1, "a probability, from 0 to 1"),
        ("aug.mixup", a.mixup, a.mixup >= 0, "at least 0 (0: off)"),
        ("aug.cutmix", a.cutmix, a.cutmix >= 0, "at least 0 (0: off)"),
        ("aug.label_smoothing", a.label_smoothing, 0 <= a.label_smoothing < 1, "from 0 to below 1"),
        ("aug.scales", a.scales, bool(a.scales) and all(0 < s <= 1 for s in a.scales), "fractions of the shorter side, above 0 and at most 1"),
        ("model.temperature", cfg.model.temperature, cfg.model.temperature > 0, "above 0"),
        *[(f"model.{key}", value, value in allowed, f"one of {', '.join(allowed)}") for key, value, allowed in (
            ("arch", cfg.model.arch, ARCHS), ("aligner_scale", cfg.model.aligner_scale, ALIGNER_SCALES), ("adapter_width", cfg.model.adapter_width, ADAPTER_WIDTHS),
            ("reduce", cfg.model.reduce, REDUCE_ORDERS), ("adapter", cfg.model.adapter, ADAPTERS), ("head", cfg.model.head, HEADS),
            ("queries", cfg.model.queries, QUERIES), ("logit_scale", cfg.model.logit_scale, LOGIT_SCALES), ("norm", cfg.model.norm, NORMS))],
        ("train.schedule", t.schedule, t.schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
        ("train.freeze", t.freeze, t.freeze in FREEZE, f"one of {', '.join(FREEZE)}"),
        ("data.holdout", cfg.data.holdout, 0 <= cfg.data.holdout < 1, "a fraction of the training videos, from 0 to below 1 (0: none)"),
        ("data.workers", cfg.data.workers, cfg.data.workers >= 0, "at least 0 (0: load in the main process)"),
        ("eval.every", cfg.eval.every, cfg.eval.every >= 0, "at least 0 (0: only at the end)"),
        ("seed", cfg.seed, 0 <= cfg.seed < 2**32, "from 0 to 2**32 - 1"),
    ]
    for key, value, allowed, what in ranges:
        if not allowed:
            raise ModelError(f"{key} must be {what}, got {value}")
    if cfg.model.arch == "xclip" and (cfg.model.mit_layers < 1 or cfg.model.prompt_layers < 0):
        raise ModelError(f"model.mit_layers must be at least 1 and model.prompt_layers at least 0 (0: no prompts), "
                         f"got {cfg.model.mit_layers} and {cfg.model.prompt_layers}")
    if t.freeze == "all-but-head" and (cfg.model.head != "linear" or cfg.model.arch != "alt"):
        raise ModelError("train.freeze=all-but-head trains a linear probe's head alone; set model.head=linear too")
    return cfg


class AliasRefused(yaml.YAMLError):
    """A YAML alias (`*name`) where a config is read: where it stands and its name."""

    def __init__(self, event: yaml.AliasEvent) -> None:
        super().__init__(f"alias *{event.anchor}")
        self.line, self.anchor = event.start_mark.line + 1, event.anchor


class ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: a config needs none, and aliases of aliases expand exponentially (a
    kilobyte of `&a [*b, *b, ...]` lines is gigabytes of keys once flattened: the billion laughs)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        """The next node, or AliasRefused where it is an alias."""
        if self.check_event(yaml.AliasEvent):
            raise AliasRefused(self.peek_event())
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> Any:
    """`text` as YAML, safely (no Python objects) and without aliases (`ConfigLoader`)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506 - a SafeLoader


def read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> list[tuple[str, Any, str]]:
    """The (key, value, file) settings of the YAML config at `path`, those of its `inherit:` config first
    (a path relative to the file), so that the file's own settings win; ModelError names the file."""
    if path.resolve() in chain:
        raise ModelError(f"{path}: configs inherit in a circle ({' -> '.join(p.name for p in (*chain, path.resolve()))}); "
                         "remove one 'inherit:'")
    try:
        tree = parse_yaml(read_text(path, "a config", CONFIG_LIMIT, "; pass a YAML file or a packaged config's name such as tiny_cpu")) or {}
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ModelError(f"{path}: config not found; pass a YAML file or a packaged config's name such as tiny_cpu") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the config ({exc.strerror})") from None
    except RecursionError:
        raise ModelError(f"{path}: config nested too deeply; a config is a mapping of sections (model, data, aug, train, eval)") from None
    except AliasRefused as exc:
        raise ModelError(f"{path}:{exc.line}: a YAML alias (*{exc.anchor}); configs take no anchors and aliases, "
                         "write the value out") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(tree, dict):
        raise ModelError(f"{path}: a config is a mapping of sections (model, data, aug, train, eval)")
    parent = tree.pop("inherit", None)
    if parent is not None and not isinstance(parent, str):
        raise ModelError(f"{path}: 'inherit' names one config file (relative to this one), got {parent!r}")
    inherited = read_yaml(path.parent / parent, (*chain, path.resolve())) if parent else []
    return inherited + [(key, value, str(path)) for key, value in _flatten(tree).items()]


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> Config:
    """Defaults, then `base` (a saved config), then the YAML file `path` (a file, or a packaged config's name:
    `resolve_config`; after the config it inherits), then `overrides`; checked."""
    cfg = Config()
    for key, value in _flatten(base or {}).items():
        _set(cfg, key, value, "saved config")
    for key, value, source in read_yaml(resolve_config(path)) if path is not None else []:
        _set(cfg, key, value, source)
    for key, value in (overrides or {}).items():
        _set(cfg, key, value, "command line")
    return check(cfg)


def to_dict(cfg: Config) -> dict[str, Any]:
    return asdict(cfg)


def dump(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
