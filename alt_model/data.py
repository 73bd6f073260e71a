"""Videos for training and evaluation (DESIGN §3, §9): list files, PyAV decoding, TSN sampling, transforms.

- **List files** under a video root: a CSV with a header that has `path` and `label` columns (the
  label is a name from the label set), or X-CLIP's `path label_id` lines (the id indexes the label
  file). Label names are normalised like label files (`ApplyEyeMakeup` -> `apply eye makeup`).
- **Sampling** is TSN's sparse sampling: the video is cut into T equal segments and one frame is
  taken from each, at a random offset in training and at the centre at test. For C temporal clips
  at test, clip c takes the frame at fraction (c + 0.5) / C of every segment (C = 1: the centres).
- **Decoding** is `decode.read_clips` / `read_frames` (PyAV, decord or torchcodec: `data.backend`), the
  only way frames are read; the frame count comes from the same backend, and if the stream ends
  early the indices are drawn again from the frames that are there. A video that cannot be read is
  logged and skipped: the dataset returns None and the batch counts it (`Batch.failed`), so a run
  never stops on one bad file. With `data.decode_resize` the decoder gives frames at the shorter side
  the transforms start from; with `data.store` the frames come from a clip store (`store.ClipStore`,
  `alt-data pack`), the same indices snapped to the stored frames, and `ShardOrder` deals its shards
  to the processes in place of DistributedSampler.
- **Train transform** (X-CLIP's datasets/build.py, after TSN): mmaction's MultiScaleCrop in the
  frame resized to shorter side int(256/224 · S): sides int(shorter side × scale) for the scales
  (1, .875, .75, .66), width and height scales at most one step apart, a side within 3 pixels of S
  made S, the box at one of mmaction's 5 fixed positions (the corners and the centre, in whole
  quarter steps of the free space); the crop resized to S x S; horizontal flip with probability
  1/2; normalisation with the tower's mean and std (`tower_norm`: CLIP's, or ImageNet's with
  `model.norm: imagenet`). The box is mapped back to the decoded frame so each frame is resized
  only once, on uint8 frames in torch's uint8 kernel (float only from the normalisation on). One crop
  and one flip per clip, so motion stays coherent across its frames.
- **Test transform** (X-CLIP's): 1 crop, the shorter side resized to int(256/224 · S), then the
  centre crop; 3 crops, the shorter side resized to S, then mmaction's ThreeCrop, which spans the
  longer side (start, centre, end).
- **Randomness** of sampling and augmentation comes from a generator seeded by (seed, epoch, video
  index), not from the process's global state: a video gets the same frames and crop whatever the
  number of workers or processes, and a resumed run sees the same augmentations.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch import Tensor
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from torch.utils.data import Dataset, DistributedSampler, Sampler

from alt_common.labels import content_lines, csv_header, csv_records, normalize_label, printable

from .choices import NORMS, SCALES
from .decode import installed, read_clips, read_frames, resize_frames, resized_shape, resolve_backend
from .errors import ModelError
from .guard import MiB, read_text

log = logging.getLogger(__name__)
LIST_LIMIT = 256 * MiB  # Kinetics-700's training list is about 40 MB
RESIZE_RATIO = 256 / 224  # shorter side before cropping, relative to the input size (X-CLIP)
# mmaction's MultiScaleCrop as X-CLIP runs it (num_fixed_crops 5): the fixed positions in quarter steps of the free space
# (x, y), the corners and the centre
CROP_POSITIONS = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2))
SNAP = 3  # MultiScaleCrop: a crop side less than SNAP pixels from the input size becomes the input size

# with decode.py's entry points, read_frames and read_clips (and BACKENDS, below): frames are read through this module
__all__ = [
    "CROP_POSITIONS", "LIST_LIMIT", "NORMS", "RESIZE_RATIO", "SCALES", "SNAP", "Batch", "EpochOrder", "ShardOrder", "VideoDataset", "VideoItem",
    "collate", "eval_transform", "multiscale_box", "read_clips", "read_frames", "read_video_list", "resized_shape", "sample_shots",
    "shard", "split_holdout", "tower_norm", "tower_size", "train_transform", "tsn_indices",
]


def __getattr__(name: str):
    if name == "BACKENDS":  # the decoding backends installed here, found on first use (importing torchcodec takes seconds)
        return installed()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class FrameSource(Protocol):
    """Where a dataset's frames come from instead of its videos: a clip store (`store.ClipStore`, which imports this
    module, hence a protocol here)."""

    def read_clips(self, path: str | Path, choose: Callable[[int], np.ndarray]) -> np.ndarray: ...

    def shards_of(self, items: Sequence[VideoItem]) -> list[list[int]]: ...


@dataclass(frozen=True)
class VideoItem:
    """One listed video: its file and its label's index in the label set."""

    path: Path
    label: int


class Batch(NamedTuple):
    """A collated batch: video [B, T, 3, S, S] (train) or [B, V, T, 3, S, S] (test views)."""

    video: Tensor
    labels: Tensor  # [B] label indices
    failed: int  # videos of this batch that could not be read (skipped)


# ---------------------------------------------------------------------------------------------- list files


def _list_rows(path: Path, text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """('csv' | 'xclip', [(line number, relative path, label field)])."""
    lines = content_lines(text)
    if not lines:
        return "csv", []
    if {"path", "label"} <= set(csv_header(lines[0][1])):
        return "csv", [(i, r["path"], r["label"]) for i, r in csv_records(path, lines, ("path", "label"))]
    rows = []
    for i, line in lines:
        parts = line.strip().rsplit(maxsplit=1)
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ModelError(f"{path}:{i}: expected 'path label_id' (X-CLIP) or a CSV with a 'path,label' header, got {line.strip()[:60]!r}")
        rows.append((i, parts[0], parts[1]))
    return "xclip", rows


def read_video_list(path: str | Path, video_root: str | Path, labels: Sequence[str], *,
                    drop_unknown: bool = False, skip_missing: bool = False) -> list[VideoItem]:
    """The videos of a list file with their label indices in `labels`.

    A label outside the label set is an error, or with `drop_unknown` (zero-shot subsets) the video
    is left out. Missing files are an error naming the first few, or with `skip_missing` a warning.
    """
    path, root = Path(path), Path(video_root)
    try:
        text = read_text(path, "a video list", LIST_LIMIT, "; pass a CSV with a 'path,label' header or 'path label_id' lines")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ModelError(f"{path}: video list not found; pass a CSV with a 'path,label' header or 'path label_id' lines") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the video list ({exc.strerror})") from None
    kind, rows = _list_rows(path, text)
    if not rows:
        raise ModelError(f"{path}: no videos listed; add 'path,label' rows (CSV with header) or 'path label_id' lines")
    index = {name: i for i, name in enumerate(labels)}
    items, unknown = [], 0
    for line, rel, field in rows:
        if kind == "csv":
            label = index.get(normalize_label(field))
        else:
            label = int(field) if 0 <= int(field) < len(labels) else None
        if label is None:
            if drop_unknown:
                unknown += 1
                continue
            what = f"label {field!r} is not in the label set" if kind == "csv" else f"label id {field} is outside 0..{len(labels) - 1}"
            raise ModelError(f"{path}:{line}: {what} ({len(labels)} labels); use the label file the list was made for")
        items.append(VideoItem(root / rel, label))
    if unknown:
        log.info("%s: %d videos with labels outside the label set left out", path, unknown)
    if not items:
        raise ModelError(f"{path}: none of its {len(rows)} videos has a label in the label set ({len(labels)} labels)")
    missing = [item for item in items if not item.path.is_file()]
    if missing:
        message = (f"{len(missing)} of {len(items)} videos in {path} are missing under {root} "
                   f"(first: {', '.join(str(m.path) for m in missing[:3])})")
        if not skip_missing or len(missing) == len(items):
            raise ModelError(f"{message}; fix the video root, or set data.skip_missing=true to go on without them")
        log.warning("%s; going on without them", printable(message))
        items = [item for item in items if item.path.is_file()]
    return items


def split_holdout(items: Sequence[VideoItem], fraction: float, seed: int) -> tuple[list[VideoItem], list[VideoItem]]:
    """(kept, held out): of each class's n videos, round(fraction · n) held out, at least 1 and at most n - 1, drawn with `seed`."""
    if fraction <= 0:
        return list(items), []
    by_class: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        by_class.setdefault(item.label, []).append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for label in sorted(by_class):
        idx = by_class[label]
        count = min(len(idx) - 1, max(1, math.floor(fraction * len(idx) + 0.5)))  # nearest, halves up; a class of 1 keeps its video
        held.update(rng.sample(idx, count))
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def sample_shots(items: Sequence[VideoItem], shots: int, seed: int) -> list[VideoItem]:
    """K-shot training set: K videos per class drawn with `seed` (the same K for the same seed), in list order."""
    by_class: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        by_class.setdefault(item.label, []).append(i)
    rng = random.Random(seed)
    short = sorted(label for label, idx in by_class.items() if len(idx) < shots)
    if short:
        raise ModelError(f"{len(short)} classes have fewer than {shots} training videos (label ids {short[:5]}); use fewer shots")
    chosen = sorted(i for label in sorted(by_class) for i in rng.sample(by_class[label], shots))
    return [items[i] for i in chosen]


# ---------------------------------------------------------------------------------------------- sampling and decoding


def tsn_indices(num_frames: int, samples: int, rng: np.random.Generator | None = None, clips: int = 1) -> np.ndarray:
    """[clips, samples] frame indices, one per segment: random offsets with `rng` (training), else clip c at (c + 0.5) / clips."""
    segment = num_frames / samples
    starts = np.arange(samples) * segment
    if rng is not None:
        offsets = rng.random((clips, samples)) * segment
    else:
        offsets = np.broadcast_to(((np.arange(clips) + 0.5) / clips)[:, None] * segment, (clips, samples))
    return np.minimum(num_frames - 1, (starts + offsets).astype(np.int64))


# ---------------------------------------------------------------------------------------------- transforms


def _resize(x: Tensor, height: int, width: int) -> Tensor:
    """uint8 frames [T, 3, H, W] resized by `decode.resize_frames` (torch's uint8 kernel: benchmarks/data.py's pipeline
    table), in the standard layout. Frames of the size asked for are returned as they are (the kernel would round them
    by a grey level)."""
    if tuple(x.shape[-2:]) == (height, width):
        return x
    return resize_frames(x, height, width).contiguous()  # normalising a channels-last tensor costs more than this copy


def _normalise(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    return (x / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def multiscale_box(height: int, width: int, size: int, rng: np.random.Generator,
                   scales: Sequence[float] = SCALES) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) of mmaction's MultiScaleCrop (random_crop False, max_wh_scale_gap 1) for
    input size `size` in a frame of height x width (X-CLIP's: already resized to shorter side int(256/224 · size))."""
    sides = [int(min(height, width) * s) for s in scales]
    pairs = [(h, w) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= 1]
    crop_h, crop_w = (size if abs(side - size) < SNAP else side for side in pairs[rng.integers(len(pairs))])
    qx, qy = CROP_POSITIONS[rng.integers(len(CROP_POSITIONS))]
    return qy * ((height - crop_h) // 4), qx * ((width - crop_w) // 4), crop_h, crop_w


def train_transform(frames: np.ndarray, size: int, rng: np.random.Generator, scales: Sequence[float] = SCALES, flip: float = 0.5,
                    mean: Sequence[float] = OPENAI_DATASET_MEAN, std: Sequence[float] = OPENAI_DATASET_STD) -> Tensor:
    """uint8 frames [T, H, W, 3] -> normalised [T, 3, size, size]: MultiScaleCrop, resize, flip (one box per clip)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    height, width = x.shape[-2:]
    resized = resized_shape(height, width, int(RESIZE_RATIO * size))
    top, left, h, w = multiscale_box(*resized, size, rng, scales)
    sy, sx = height / resized[0], width / resized[1]  # the box in the decoded frame: each frame is resized once
    top, left, h, w = round(top * sy), round(left * sx), max(1, round(h * sy)), max(1, round(w * sx))
    x = _resize(x[..., top : top + h, left : left + w], size, size)
    if rng.random() < flip:
        x = x.flip(-1)
    return _normalise(x, mean, std)


def eval_transform(frames: np.ndarray, size: int, crops: int = 1,
                   mean: Sequence[float] = OPENAI_DATASET_MEAN, std: Sequence[float] = OPENAI_DATASET_STD) -> Tensor:
    """uint8 frames [T, H, W, 3] -> normalised [crops, T, 3, size, size], X-CLIP's test views (datasets/build.py): 1 crop,
    the shorter side resized to int(256/224 · size) and mmaction's CenterCrop; 3 crops, the shorter side resized to
    size and mmaction's ThreeCrop, whose crops start at 0, step and 2 · step, step = (longer side - size) // 2."""
    if crops not in (1, 3):
        raise ModelError(f"test views take 1 or 3 spatial crops, got {crops}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    h, w = resized_shape(x.shape[-2], x.shape[-1], int(RESIZE_RATIO * size) if crops == 1 else size)
    x = _resize(x, h, w)
    if crops == 1:
        boxes = [((h - size) // 2, (w - size) // 2)]
    else:  # along the width when the height is the shorter side (or equal), else along the height
        step_y, step_x = (0, (w - size) // 2) if h == size else ((h - size) // 2, 0)
        boxes = [(k * step_y, k * step_x) for k in range(3)]
    return torch.stack([_normalise(x[..., t : t + size, l : l + size], mean, std) for t, l in boxes])


# ---------------------------------------------------------------------------------------------- dataset


class VideoDataset(Dataset):
    """Listed videos as model inputs: train clips [T, 3, S, S], or test views [clips·crops, T, 3, S, S].

    An item is `dataset[index]`, or `dataset[(epoch, index)]` for the sampling and augmentation of that epoch
    (see the module docstring; `EpochOrder` yields such keys, so persistent workers need no state of the epoch).
    A video that cannot be read is logged and returned as None (`collate` skips it). `backend` is the
    decoding backend (`decode.CHOICES`), resolved here so that one not installed stops the run before it starts;
    with `decode_resize` the decoder gives frames at the shorter side the transforms start from. With `store` (a
    `store.ClipStore` holding these items) frames come from its JPEGs, the TSN indices snapped to the stored frames.
    """

    def __init__(self, items: Sequence[VideoItem], frames: int, size: int, *, train: bool, seed: int = 0,
                 clips: int = 1, crops: int = 1, scales: Sequence[float] = SCALES, flip: float = 0.5,
                 mean: Sequence[float] = OPENAI_DATASET_MEAN, std: Sequence[float] = OPENAI_DATASET_STD, backend: str = "auto",
                 decode_resize: bool = False, store: FrameSource | None = None) -> None:
        self.items, self.frames, self.size, self.train, self.seed = list(items), frames, size, train, seed
        self.clips, self.crops, self.scales, self.flip, self.mean, self.std = clips, crops, tuple(scales), flip, mean, std
        self.store = store
        self.backend = resolve_backend(backend) if store is None else backend
        # the shorter side the transforms resize to first (X-CLIP's Resize(-1, ·)), done in the decoder's colour conversion
        self.short = (int(RESIZE_RATIO * size) if train or crops == 1 else size) if decode_resize else None
        eval_transform(np.zeros((1, size, size, 3), np.uint8), size, crops)  # reject a bad crop count now, not in a worker

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """[T, 3, S, S]: one training clip."""
        return (self.frames, 3, self.size, self.size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, int] | None:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        try:
            return self.video(index, epoch), self.items[index].label
        except ModelError as exc:
            log.warning("skipped: %s", printable(exc))
            return None

    def video(self, index: int, epoch: int = 0) -> Tensor:
        """The model input of video `index` in `epoch`; ModelError naming the file when it cannot be read."""
        rng = np.random.default_rng((self.seed, epoch, index)) if self.train else None

        def choose(n: int) -> np.ndarray:
            return tsn_indices(n, self.frames, rng, 1 if self.train else self.clips)

        path = self.items[index].path
        frames = self.store.read_clips(path, choose) if self.store else read_clips(path, choose, self.backend, short=self.short)
        if self.train:
            return train_transform(frames[0], self.size, rng, self.scales, self.flip, self.mean, self.std)
        # views ordered clip-major: [clips, crops] flattened
        return torch.cat([eval_transform(clip, self.size, self.crops, self.mean, self.std) for clip in frames])


class EpochOrder(Sampler):
    """A training epoch's keys for `VideoDataset`: (epoch, index) in `sampler`'s order (a DistributedSampler: this
    process's share, reshuffled per epoch), from position `skip` on (a mid-epoch resume). It runs in the main
    process, so one DataLoader with persistent workers serves every epoch."""

    def __init__(self, sampler: DistributedSampler | ShardOrder) -> None:
        self.sampler, self.epoch, self.skip = sampler, 0, 0

    def start(self, epoch: int, skip: int = 0) -> None:
        """Iterate epoch `epoch` next, without its first `skip` indices."""
        self.sampler.set_epoch(epoch)
        self.epoch, self.skip = epoch, skip

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, index) for index in list(self.sampler)[self.skip :])

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


class ShardOrder(Sampler):
    """A clip store's training order for process `rank` of `world` (torchrun), in place of DistributedSampler: each
    epoch the shards (`groups`: the dataset indices each shard holds) are shuffled with (seed, epoch) and dealt to the
    processes in turn, and a process reads its own shards one after another, each shuffled with (seed, epoch, shard),
    so that its DataLoader workers read few files, each in one region at a time. Every process takes ceil(N / world)
    indices, the count DistributedSampler gives: one short of them repeats its first ones, one over stops early (the
    rest are read in other epochs, where the shards are dealt again). With fewer shards than processes the videos
    themselves are dealt, as DistributedSampler does."""

    def __init__(self, groups: Sequence[Sequence[int]], world: int = 1, rank: int = 0, seed: int = 0) -> None:
        self.groups = [list(group) for group in groups if group]
        self.world, self.rank, self.seed, self.epoch = world, rank, seed, 0
        self.count = math.ceil(sum(map(len, self.groups)) / world)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch))
        if len(self.groups) < self.world:
            everything = rng.permutation(np.concatenate([np.asarray(group) for group in self.groups])).tolist()
            return iter(_cycled(everything, self.count * self.world)[self.rank :: self.world])
        mine = [index for shard in rng.permutation(len(self.groups))[self.rank :: self.world].tolist()
                for index in np.random.default_rng((self.seed, self.epoch, shard)).permutation(self.groups[shard]).tolist()]
        return iter(_cycled(mine, self.count))


def _cycled(values: list[int], count: int) -> list[int]:
    """The first `count` of `values` repeated."""
    return (values * math.ceil(count / len(values)))[:count]


def collate(samples: Sequence[tuple[Tensor, int] | None]) -> Batch:
    """Stack the readable samples; count the unreadable ones."""
    good = [s for s in samples if s is not None]
    failed = len(samples) - len(good)
    if not good:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.long), failed)
    videos, labels = zip(*good)
    return Batch(torch.stack(videos), torch.tensor(labels), failed)


def tower_size(visual: torch.nn.Module) -> int:
    """The input size S of an open_clip vision tower."""
    size = visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def tower_norm(visual: torch.nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) the tower was trained with (open_clip's preprocess config), CLIP's by default."""
    cfg = getattr(visual, "preprocess_cfg", {}) or {}
    return tuple(cfg.get("mean", OPENAI_DATASET_MEAN)), tuple(cfg.get("std", OPENAI_DATASET_STD))


def shard(count: int, rank: int, world: int) -> list[int]:
    """This rank's share of `count` evaluation samples, without the padding DistributedSampler adds."""
    return list(range(rank, count, world)) if world > 1 else list(range(count))
