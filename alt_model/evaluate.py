"""Evaluation (paper Sec. 4, DESIGN §9): top-1/top-5, per-class accuracy and the confusion matrix.

- **Views**: C temporal clips × K spatial crops per video (`--views CxK`, K = 1 or 3); the softmax
  probabilities of the views are averaged, as X-CLIP does.
- **Processes**: under torchrun each process takes every world-th video (no padding, so nothing is
  counted twice); the confusion matrix and the top-5 count are summed over processes, so the
  metrics equal a single process's.
- **Precision**: `precision.py`'s policy; a checkpoint is evaluated in the precision its run was
  configured with (`train.precision`).
- **Splits**: zero-shot protocols evaluate on several (video list, label set) splits (HMDB-51 and
  UCF-101: three test lists; Kinetics-600: three sets of 160 new classes over one video list) and
  report mean ± standard deviation over the splits (`summarise`). Videos whose label is not in a
  split's label set are left out of that split.

K-shot fine-tuning then evaluation lives in `few_shot.py`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from alt_common.clip import RANDOM_WEIGHTS_WARNING, runs_random_weights
from alt_common.io import atomic_write

from . import distributed
from .data import VideoDataset, collate, read_video_list, shard, tower_norm, tower_size
from .distributed import Dist
from .errors import ModelError
from .hub import load_model
from .precision import autocast, autocast_dtype
from .store import open_store

log = logging.getLogger(__name__)


@dataclass
class Metrics:
    """Counts over a labelled evaluation set, from which every reported number follows."""

    labels: list[str]
    confusion: Tensor  # [C, C] int64: rows are true labels, columns predictions
    top5_correct: int
    failed: int  # videos that could not be read (skipped)

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def top1(self) -> float:
        return float(self.confusion.diag().sum()) / max(1, self.count)

    @property
    def top5(self) -> float:
        return self.top5_correct / max(1, self.count)

    @property
    def per_class(self) -> list[float | None]:
        """Accuracy of each class; None for a class with no video."""
        totals = self.confusion.sum(dim=1)
        return [float(c) / int(t) if t else None for c, t in zip(self.confusion.diag(), totals)]

    @property
    def mean_class(self) -> float:
        seen = [a for a in self.per_class if a is not None]
        return sum(seen) / max(1, len(seen))

    def summary(self) -> dict[str, Any]:
        return {"top1": self.top1, "top5": self.top5, "mean_class": self.mean_class, "videos": self.count, "skipped": self.failed}

    def write(self, folder: str | Path) -> None:
        """metrics.json (summary and per-class accuracy) and confusion.csv (true label rows, predicted columns), each
        written atomically (`atomic_write`: an old file stays whole when the disk is full)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        per_class = dict(zip(self.labels, self.per_class))
        text = json.dumps({**self.summary(), "per_class": per_class}, indent=2) + "\n"
        atomic_write(folder / "metrics.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        atomic_write(folder / "confusion.csv", self._write_confusion)

    def _write_confusion(self, path: str) -> None:
        """confusion.csv at `path`: a row per true label, a column per predicted one."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted", *self.labels])
            for label, row in zip(self.labels, self.confusion.tolist()):
                writer.writerow([label, *row])


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: VideoDataset, classes: Tensor, labels: Sequence[str], *, batch_size: int = 8,
             workers: int = 0, d: Dist | None = None, dtype: torch.dtype | None = None) -> Metrics:
    """Metrics of `model` on the test views of `dataset` against the class embeddings [C, d] of `labels`."""
    d = d or Dist()
    model = getattr(model, "module", model)
    model.eval()
    loader = DataLoader(dataset, batch_size, sampler=shard(len(dataset), d.rank, d.world), num_workers=workers,
                        collate_fn=collate, pin_memory=d.device.type == "cuda")
    num = len(labels)
    confusion = torch.zeros(num, num, dtype=torch.int64)
    counts = torch.zeros(2, dtype=torch.int64)  # top-5 correct, failed
    for batch in loader:
        counts[1] += batch.failed
        if not len(batch.labels):
            continue
        video = batch.video.to(d.device, non_blocking=True)  # [B, V, T, 3, S, S]
        views = video.shape[1]
        with autocast(d.device, dtype):
            logits = model(video.flatten(0, 1), classes).logits.float()
        probs = view_probabilities(logits, views).cpu()
        confusion.index_put_((batch.labels, probs.argmax(dim=-1)), torch.ones(len(batch.labels), dtype=torch.int64), accumulate=True)
        counts[0] += int((probs.topk(min(5, num), dim=-1).indices == batch.labels[:, None]).any(dim=-1).sum())
    confusion, counts = distributed.sum_all(confusion, d), distributed.sum_all(counts, d)
    return Metrics(list(labels), confusion, int(counts[0]), int(counts[1]))


def view_probabilities(logits: Tensor, views: int) -> Tensor:
    """[B·V, C] logits of B videos' V views (video-major) -> [B, C]: the views' softmax probabilities, averaged."""
    return logits.softmax(dim=-1).view(-1, views, logits.shape[-1]).mean(dim=1)


def summarise(results: Sequence[Metrics]) -> dict[str, Any]:
    """Mean and (sample) standard deviation of top-1/top-5 over splits, as the zero-shot tables report them."""
    out: dict[str, Any] = {"splits": len(results)}
    for key in ("top1", "top5"):
        values = [getattr(m, key) for m in results]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        out[key], out[f"{key}_std"] = mean, std
    return out


def parse_views(text: str) -> tuple[int, int]:
    """'4x3' -> (4 clips, 3 crops)."""
    clips, sep, crops = text.lower().partition("x")
    if not sep or not clips.isdigit() or not crops.isdigit() or int(clips) < 1 or int(crops) not in (1, 3):
        raise ModelError(f"--views {text!r}: expected CLIPSxCROPS with 1 or 3 crops, e.g. 1x1 or 4x3")
    return int(clips), int(crops)


@dataclass(frozen=True)
class Split:
    """One evaluation split: a video list and the label set its videos are classified over."""

    val_list: Path
    labels: list[str]
    name: str  # unique among the splits of one evaluation (`split_names`): the folder its metrics go to


def make_splits(val_lists: Sequence[str | Path], label_files: Sequence[str | Path], default_labels: Sequence[str]) -> list[Split]:
    """Pair video lists with label files (either may be one, shared by all); no label file: the training labels."""
    from alt_common.labels import read_labels

    if len(val_lists) > 1 and len(label_files) > 1 and len(val_lists) != len(label_files):
        raise ModelError(f"{len(val_lists)} video lists and {len(label_files)} label files: pass one of each per split, or one shared")
    count = max(len(val_lists), len(label_files), 1)
    if not val_lists:
        raise ModelError("no video list to evaluate on; pass --val-list (the checkpoint's config has none)")
    if len(label_files) > 1:  # a label set per split (Kinetics-600; or a list and a label set per split): named by label file
        names = split_names(label_files)
    else:
        names = split_names(val_lists) if len(val_lists) > 1 else [Path(val_lists[0]).stem]
    splits = []
    for i in range(count):
        val_list = Path(val_lists[i if len(val_lists) > 1 else 0])
        label_file = label_files[i if len(label_files) > 1 else 0] if label_files else None
        labels = read_labels([label_file])[0] if label_file else list(default_labels)
        if not labels:
            raise ModelError("no label set to evaluate with; pass --labels (a released model carries none)")
        splits.append(Split(val_list, labels, names[i]))
    return splits


def split_names(paths: Sequence[str | Path]) -> list[str]:
    """Unique names (folder names) for splits given by files: each file's stem where no other file has it; else its
    shortest path tail that no other file ends with, the parts joined with "_" and the suffix dropped (split1/val.csv
    and split2/val.csv: "split1_val", "split2_val"); a file given more than once also takes its position among
    `paths`, from 1 (val.csv twice: "val_1", "val_2"). Paths are compared absolute: "./a/val.csv" is "a/val.csv"."""
    files = [Path(os.path.abspath(p)) for p in paths]
    parts = {f: (*f.parent.parts[1:], f.stem) for f in files}  # without the root
    others = {f: [g for g in parts if g != f] for f in parts}
    tail = {}
    for f, own in parts.items():
        k = 1  # the shortest tail no other file's tail of the same length equals (the whole path always differs)
        while k < len(own) and any("_".join(parts[g][-k:]) == "_".join(own[-k:]) for g in others[f]):
            k += 1
        tail[f] = "_".join(own[-k:])
    names = [tail[f] for f in files]
    repeated = {name for name in names if names.count(name) > 1}  # the same file again (or "_" joins alike)
    unique = [f"{name}_{i}" if name in repeated else name for i, name in enumerate(names, start=1)]
    if len(set(unique)) < len(unique):  # a position suffix met another file's name
        unique = [f"{name}_{i}" for i, name in enumerate(names, start=1)]  # the position after the last "_": unique
    return unique


def evaluate_checkpoint(checkpoint: str | Path, splits: Sequence[Split], *, corpus: str | Path | None = None,
                        video_root: str | Path | None = None, views: tuple[int, int] = (1, 1), batch_size: int = 8,
                        workers: int = 0, device: str = "auto", store: str | Path | None = None) -> list[Metrics]:
    """Metrics of a trained model (an alt-train checkpoint or an alt-export folder, `hub.load_model`) on each split;
    labels outside a split's label set leave their videos out. With `store`, each split's frames come from the clip
    store `store`/<its list's name> (`store.open_store`) instead of its videos."""
    d = distributed.setup(device)
    try:
        model, cfg, trained_labels = load_model(checkpoint, corpus, d.device)
        random_weights = d.main and runs_random_weights(model)
        size, (mean, std) = tower_size(model.encoder.visual), tower_norm(model.encoder.visual)
        dtype = autocast_dtype(cfg.train.precision, d.device)  # the precision the run was configured with
        results = []
        for split in splits:
            own = split.labels == trained_labels
            if d.main and not own:
                seen = len(set(split.labels) & set(trained_labels))
                log.info("%s: %d labels, %d of them seen in training", split.name, len(split.labels), seen)
            packed = open_store(store, split.val_list) if store else None
            items = packed.items(split.labels, drop_unknown=not own) if packed else \
                read_video_list(split.val_list, video_root or cfg.data.video_root, split.labels, drop_unknown=not own)
            if random_weights:  # once a list is known good: bad input stays a one-line error
                log.warning(RANDOM_WEIGHTS_WARNING)
                random_weights = False
            dataset = VideoDataset(items, cfg.model.frames, size, train=False, clips=views[0], crops=views[1], mean=mean, std=std,
                                   decode_resize=cfg.data.decode_resize, store=packed)
            with torch.no_grad():
                classes = model.text_head.class_embeddings(split.labels)
            results.append(evaluate(model, dataset, classes, split.labels, batch_size=batch_size, workers=workers, d=d, dtype=dtype))
        return results
    finally:
        distributed.teardown(d)
