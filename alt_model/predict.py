"""Predictions on your own videos (`alt-predict`): each video's top-k labels with their probabilities and,
optionally, the corpus entities its regions aligned to.

- **Inputs** (`collect_videos`): one video file; a folder (every file with a video extension under it,
  hidden ones left out, in sorted order); or a list file (`.txt`, `.csv`, `.lst`): one path per line, a
  CSV with a `path` column (alt-eval's lists) or X-CLIP's `path label_id` lines, relative paths taken
  from the list's folder. A list's labels are not read: any label set works.
- **Models** (`load_predictor`): a trained ALT (`hub.load_model`: an alt-train checkpoint or an alt-export
  folder) over any label list (open-set: the class embeddings come from the frozen CLIP text tower; a
  linear probe scores only the labels it was trained on); or, with neither, CLIP zero-shot
  (`ZeroShotCLIP`) with the frozen CLIP model that embedded the corpus.
- **Views**: C clips × K crops, decoded and transformed as alt-eval does (`data.VideoDataset`); the
  views' softmax probabilities are averaged (`evaluate.view_probabilities`).
- **Entities** (`token_entities`, `entity_shares`): each token's entity is `ALTOutput.entity_ids` (Eq. 5's
  argmax, no noise) where the model aligns to the corpus; otherwise (zero-shot, `align=False`, action-name
  or learned queries, Table 5a's adapter) the entity of highest cosine, as alt-explain shows it. Every
  region counts by the patches it covers (the class token alone, as the whole frame, when the model has no
  regions), over all frames and views; the `ENTITIES` largest are reported with their share of the patches.
- **Output** (`PredictionWriter`): one JSON line per video, written and flushed as soon as its batch is
  done, to PATH.partial, renamed onto PATH when the run is done: an interrupted or failed run keeps what it did
  in PATH.partial and leaves an existing PATH as it was; or one CSV row per video. A video that cannot be read
  gets a line with its `error` and the run goes on. Every line and row says `random_weights`: whether the
  model's CLIP weights are random (alt-synthetic's test model, `Predictor.random_weights`), when its
  predictions mean nothing.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch import Tensor, nn
from torch.utils.data import DataLoader

from alt_common.bundle import CorpusBundle
from alt_common.clip import runs_random_weights
from alt_common.errors import Failed
from alt_common.io import check_regular, writing
from alt_common.labels import content_lines, csv_header, csv_records, printable

from .config import ModelConfig
from .data import LIST_LIMIT, VideoDataset, VideoItem, tower_norm, tower_size
from .encoder import EncoderOutput, RegionAwareEncoder
from .errors import ModelError
from .evaluate import view_probabilities
from .guard import read_text
from .hub import load_model
from .model import ALTOutput
from .precision import autocast, autocast_dtype
from .text_head import TextHead

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ogv", ".ts")
LIST_SUFFIXES = (".txt", ".csv", ".lst", ".list")
OUT_SUFFIXES = (".jsonl", ".ndjson", ".csv")
ENTITIES = 10  # entities reported per video
_XCLIP_LINE = re.compile(r"(.+?)\s+-?\d+")


# ---------------------------------------------------------------------------------------------- inputs


def collect_videos(source: str | Path) -> list[Path]:
    """The videos `source` names: itself, the video files of a folder, or the paths of a list file (module docstring)."""
    source = Path(source)
    if not source.exists():
        raise ModelError(f"{source}: not found; pass a video file, a folder of videos or a list file (.txt/.csv)")
    check_regular(source, "VIDEO|FOLDER|LIST", "pass a video file, a folder of videos or a list file (.txt/.csv)")
    if source.is_dir():
        videos = sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and not p.is_dir()
                        and not any(part.startswith(".") for part in p.relative_to(source).parts))
        if not videos:
            raise ModelError(f"{source}: no video files in this folder (looked for {', '.join(VIDEO_SUFFIXES)})")
        return videos
    if source.suffix.lower() in LIST_SUFFIXES:
        return read_list(source)
    return [source]


def read_list(path: Path) -> list[Path]:
    """The videos of a list file: one path per line, a CSV with a `path` column, or X-CLIP's `path label_id` lines."""
    hint = "; pass one video path per line, or a CSV with a 'path' column"
    try:
        text = read_text(path, "a video list", LIST_LIMIT, hint)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the video list ({exc.strerror})") from None
    lines = content_lines(text)
    if lines and "path" in csv_header(lines[0][1]):
        paths = [record["path"] for _, record in csv_records(path, lines, ("path",))]
    else:
        paths = [_list_path(path.parent, line.strip()) for _, line in lines]
    if not paths:
        raise ModelError(f"{path}: no videos listed{hint}")
    return [path.parent / p for p in paths]


def _list_path(root: Path, line: str) -> str:
    """A list line's path: the whole line, or without X-CLIP's trailing label id when only that names a file."""
    match = _XCLIP_LINE.fullmatch(line)
    return match.group(1) if match and not (root / line).exists() and (root / match.group(1)).exists() else line


class VideoFiles(VideoDataset):
    """Videos to predict: (index, test views [V, T, 3, S, S], None), or (index, None, why) for one that cannot be read."""

    def __init__(self, videos: Sequence[str | Path], frames: int, size: int, views: tuple[int, int] = (1, 1),
                 mean: Sequence[float] = OPENAI_DATASET_MEAN, std: Sequence[float] = OPENAI_DATASET_STD) -> None:
        super().__init__([VideoItem(Path(v), -1) for v in videos], frames, size, train=False, clips=views[0], crops=views[1],
                         mean=mean, std=std)

    def __getitem__(self, index: int) -> tuple[int, Tensor | None, str | None]:
        path = self.items[index].path
        if not path.is_file():
            return index, None, f"{path}: file not found" if not path.exists() else f"{path}: not a file"
        if path.stat().st_size == 0:
            return index, None, f"{path}: empty file (0 bytes)"
        try:
            return index, self.video(index), None
        except ModelError as exc:
            return index, None, str(exc)


class VideoBatch(NamedTuple):
    indices: list[int]  # every video of the batch, in order
    video: Tensor  # [B, V, T, 3, S, S] of the readable ones
    readable: list[int]  # their indices, row by row of `video`
    errors: dict[int, str]  # index -> why it could not be read


def collate_videos(samples: Sequence[tuple[int, Tensor | None, str | None]]) -> VideoBatch:
    good = [(i, v) for i, v, _ in samples if v is not None]
    video = torch.stack([v for _, v in good]) if good else torch.empty(0)
    return VideoBatch([i for i, _, _ in samples], video, [i for i, _ in good], {i: e for i, _, e in samples if e is not None})


# ---------------------------------------------------------------------------------------------- models


class ZeroShotCLIP(nn.Module):
    """CLIP zero-shot over videos, in ALT's interface: the cosine of the mean of the frames' (L2-normalised)
    image embeddings with the prompt-ensembled class embeddings (`TextHead`), times CLIP's logit scale
    (capped at 100, as CLIP does). The region-aware encoder runs at r = 0, so each frame's embedding is
    open_clip's `encode_image` exactly and the regions are the patches."""

    def __init__(self, clip: nn.Module, tokenizer: Any, corpus: CorpusBundle, templates: Sequence[str] | None = None) -> None:
        super().__init__()
        self.encoder = RegionAwareEncoder(clip.visual, r=0)
        S, self.entity_units = corpus.entities(clip.visual.output_dim)
        self.register_buffer("entities", S)
        self.text_head = TextHead(clip, tokenizer, templates)

    def forward(self, video: Tensor, labels: Sequence[str] | Tensor) -> ALTOutput:
        """video [B, T, 3, H, W]; labels: names, or their class embeddings [C, d] -> logits [B, C]."""
        batch, frames_per_video = video.shape[:2]
        classes = F.normalize(labels, dim=-1) if isinstance(labels, Tensor) else self.text_head.class_embeddings(labels)
        frames = self.encoder(video.flatten(0, 1))
        z = F.normalize(frames.cls, dim=-1).view(batch, frames_per_video, -1).mean(dim=1)
        return ALTOutput(logits=self.text_head(z, classes), video_embedding=z, entity_ids=None, frames=frames)


@dataclass
class Predictor:
    """A model ready to predict, with what reading videos for it takes."""

    model: nn.Module  # ALT or ZeroShotCLIP, in eval mode
    labels: list[str]  # the labels it was trained with (none for zero-shot)
    frames: int  # frames per clip
    dtype: torch.dtype | None  # autocast dtype (None: fp32)
    random_weights: bool = False  # its CLIP's weights are random (alt-synthetic's test model): predictions mean nothing

    def dataset(self, videos: Sequence[str | Path], views: tuple[int, int] = (1, 1)) -> VideoFiles:
        visual = self.model.encoder.visual
        mean, std = tower_norm(visual)
        return VideoFiles(videos, self.frames, tower_size(visual), views, mean, std)


def load_predictor(source: str | Path | None, corpus: str | Path | None, device: torch.device) -> Predictor:
    """A trained model (checkpoint file or model folder) over `corpus` or its own; with no `source`, CLIP
    zero-shot with the CLIP model that embedded `corpus`, at ALT's default frame count."""
    if source is not None:
        model, cfg, labels = load_model(source, corpus, device)
        return Predictor(model.eval(), labels, cfg.model.frames, autocast_dtype(cfg.train.precision, device), runs_random_weights(model))
    if corpus is None:
        raise ModelError("pass --checkpoint CKPT or --pretrained DIR (a trained ALT), or --corpus corpus.pt for CLIP zero-shot")
    from .factory import load_model_clip

    bundle = CorpusBundle.load(corpus)
    if not bundle.model or not bundle.pretrained:
        raise ModelError(f"{corpus}: names no CLIP model (no 'model'/'pretrained'); re-embed it with 'corpus embed'")
    clip, tokenizer, provenance = load_model_clip(bundle.model, bundle.pretrained, device, f"CLIP zero-shot runs the CLIP that embedded {corpus}",
                                                  "embed the corpus again with corpus embed --pretrained WEIGHTS")
    return Predictor(ZeroShotCLIP(clip, tokenizer, bundle).to(device).eval(), [], ModelConfig().frames, autocast_dtype("auto", device),
                     bool(provenance.get("random_weights")))


def class_embeddings(model: nn.Module, labels: Sequence[str]) -> Tensor:
    """[C, d] class embeddings of `labels` for `model`; a linear probe takes only as many labels as it was trained on."""
    head = getattr(model, "linear_head", None)
    if head is not None and len(labels) != head.linear.out_features:
        raise ModelError(f"a linear-probe model (model.head: linear) scores the {head.linear.out_features} labels it was trained on, "
                         f"not {len(labels)}; leave out --labels, or pass its training labels")
    with torch.no_grad():
        return model.text_head.class_embeddings(list(labels))


# ---------------------------------------------------------------------------------------------- predictions


@dataclass
class Prediction:
    """One video's result: its top-k labels, most probable first, and its entities; or why it could not be read."""

    video: str
    labels: list[tuple[str, float]]
    entities: list[tuple[str, float]] | None = None  # (entity, share of the patches), largest first
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"video": self.video, "error": self.error}
        data: dict[str, Any] = {"video": self.video, "predictions": [{"label": label, "probability": p} for label, p in self.labels]}
        if self.entities is not None:
            data["entities"] = [{"entity": name, "share": share} for name, share in self.entities]
        return data


def top_labels(probs: Tensor, labels: Sequence[str], k: int) -> list[tuple[str, float]]:
    """The k most probable (label, probability) of a [C] probability vector, most probable first."""
    top = probs.topk(min(k, len(labels)))
    return [(labels[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]


def region_entities(frames: EncoderOutput, entities: Tensor) -> Tensor:
    """[frames, 1 + n]: the entity of S with the highest cosine for the class token and each region (Eq. 4-5, no noise)."""
    E = torch.cat([frames.cls[:, None], frames.regions], dim=1).float()
    return (F.normalize(E, dim=-1) @ F.normalize(entities.float(), dim=-1).T).argmax(dim=-1)


def token_entities(model: nn.Module, out: ALTOutput) -> Tensor:
    """[frames, tokens] the entity of each token of E (class token first): the model's own alignment (Eq. 5) where
    it aligns to the corpus, else the nearest entity by cosine."""
    if out.entity_ids is not None and getattr(model, "queries", "corpus") == "corpus":
        return out.entity_ids.flatten(0, 1)
    return region_entities(out.frames, model.entities)


def entity_shares(ids: Tensor, sizes: Tensor, names: Sequence[str], top: int = ENTITIES) -> list[tuple[str, float]]:
    """The `top` entities of a video's frames by share of the patches: ids [frames, tokens] (class token first),
    sizes [frames, regions]; regions weigh their patches, and when only the class token is aligned it weighs
    as the whole frame."""
    if ids.shape[1] > 1:
        ids, weights = ids[:, 1:], sizes
    else:
        weights = sizes.sum(dim=1, keepdim=True)
    totals = torch.zeros(len(names), dtype=torch.float64).index_add_(0, ids.reshape(-1).cpu(), weights.reshape(-1).double().cpu())
    shares = totals / totals.sum()
    best = shares.topk(min(top, int((shares > 0).sum())))
    return [(names[i], float(s)) for s, i in zip(best.values.tolist(), best.indices.tolist())]


@torch.no_grad()
def check_entities(model: nn.Module) -> None:
    """ModelError unless `model` has corpus entities its tokens can be matched to (ALT and CLIP zero-shot; not X-CLIP)."""
    if not hasattr(model, "entity_units"):
        raise ModelError(f"--entities shows the corpus entities an ALT model's regions align to; this {type(model).__name__} "
                         "model aligns none (leave out --entities)")


def predict(predictor: Predictor, dataset: VideoFiles, labels: Sequence[str], classes: Tensor, *, top_k: int = 5,
            entities: bool = False, batch_size: int = 8, workers: int = 0, device: torch.device = torch.device("cpu")) -> Iterator[Prediction]:
    """One `Prediction` per video of `dataset`, in its order, as each batch is done (a generator: stop it any time)."""
    model = predictor.model.eval()
    if entities:
        check_entities(model)
    views, frames = dataset.clips * dataset.crops, dataset.frames
    loader = DataLoader(dataset, batch_size, num_workers=workers, collate_fn=collate_videos, pin_memory=device.type == "cuda")
    classes = classes.to(device)
    for batch in loader:
        done: dict[int, Prediction] = {}
        if batch.readable:
            with autocast(device, predictor.dtype):
                out = model(batch.video.to(device, non_blocking=True).flatten(0, 1), classes)
            probs = view_probabilities(out.logits.float(), views).cpu()
            ids = token_entities(model, out).cpu() if entities else None
            per_video = views * frames  # rows of ids and sizes per video
            for row, index in enumerate(batch.readable):
                shares = None
                if ids is not None:
                    rows = slice(row * per_video, (row + 1) * per_video)
                    shares = entity_shares(ids[rows], out.frames.sizes[rows].cpu(), model.entity_units)
                done[index] = Prediction(str(dataset.items[index].path), top_labels(probs[row], labels, top_k), shares)
        for index in batch.indices:
            if index in batch.errors:
                log.warning("skipped: %s", printable(batch.errors[index]))
                yield Prediction(str(dataset.items[index].path), [], error=batch.errors[index])
            else:
                yield done[index]


# ---------------------------------------------------------------------------------------------- output


def check_out_suffix(path: Path) -> str:
    """'jsonl' or 'csv', from --out's file name; ModelError for any other."""
    suffix = path.suffix.lower()
    if suffix not in OUT_SUFFIXES:
        raise ModelError(f"--out {path}: name a .jsonl (a JSON line per video) or .csv file")
    return "csv" if suffix == ".csv" else "jsonl"


def partial_path(path: str | Path) -> Path:
    """Where alt-predict writes `path` as it goes, and where a run that did not finish leaves its lines: PATH.partial."""
    path = Path(path)
    return path.with_name(f"{path.name}.partial")


class PredictionWriter:
    """Predictions written as they come, each line flushed, to `partial_path(path)`, moved onto `path` by `finish`: an
    existing `path` is replaced only by a finished run's file, and a run that stops early leaves its lines in
    PATH.partial. JSON lines, or CSV rows for a .csv name (columns video, label_1, probability_1, ..., label_k,
    probability_k, [entities,] error, random_weights; entities as `name=share; ...`, random_weights true or false).
    Every JSON line ends with `"random_weights": true|false`: the model's CLIP weights are random (alt-synthetic's test
    model) or not. The file is created at the first prediction, so a run stopped before has written nothing. Running out
    of space removes it and is `Failed` (`alt_common.io.writing`)."""

    def __init__(self, path: str | Path, top_k: int, entities: bool = False, random_weights: bool = False) -> None:
        self.path, self.top_k, self.entities, self.random_weights = Path(path), top_k, entities, random_weights
        self.partial = partial_path(self.path)
        self.kind = check_out_suffix(self.path)
        self.file = None
        self.count = 0

    def header(self) -> list[str]:
        ranked = [name for i in range(1, self.top_k + 1) for name in (f"label_{i}", f"probability_{i}")]
        return ["video", *ranked, *(["entities"] if self.entities else []), "error", "random_weights"]

    def write(self, p: Prediction) -> None:
        with self._writing():
            if self.file is None:
                self.file = open(self.partial, "w", newline="", encoding="utf-8")
                if self.kind == "csv":
                    csv.writer(self.file).writerow(self.header())
            if self.kind == "jsonl":
                self.file.write(json.dumps(p.to_json() | {"random_weights": self.random_weights}, ensure_ascii=False) + "\n")
            else:
                ranked = [value for label, prob in p.labels for value in (label, repr(prob))]
                ranked += [""] * (2 * self.top_k - len(ranked))
                shares = ["; ".join(f"{name}={share:.4f}" for name, share in p.entities or [])] if self.entities else []
                csv.writer(self.file).writerow([p.video, *ranked, *shares, p.error or "", "true" if self.random_weights else "false"])
            self.file.flush()
        self.count += 1

    def finish(self) -> None:
        """The run is done: its file, fsynced, replaces `path`."""
        with self._writing():
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.partial, self.path)

    def close(self) -> None:
        """Close the file where it is: PATH.partial, unless `finish` moved it."""
        if self.file is not None and not self.file.closed:
            self.file.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Writes to PATH.partial: when the disk is full, the file is removed and the run fails naming `path`."""
        try:
            with writing(self.path):
                yield
        except Failed:
            if self.file is not None:
                with suppress(OSError):
                    self.file.close()
            self.partial.unlink(missing_ok=True)
            raise

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
