"""The decode-once clip store (issue 33): `alt-data pack` decodes each listed video once into WebDataset tar shards of
JPEG frames, and `ClipStore` reads clips back from them for training and evaluation, in place of the videos.

A store folder DIR holds:
- `pack.json`: the settings (`settings_record`), written before the first shard, so that running the same command
  again resumes, and running it with other settings is refused.
- `shard-{i:06d}.tar`: the list rows [i·per_shard, (i+1)·per_shard), as WebDataset samples: key `{row:08d}` (the row
  in list order), members `{key}.json` ({"path": as listed, "label", "label_id", "frames": the video's frame count,
  "indices": the stored frames' source indices, "height", "width"}) and `{key}.{j:04d}.jpg`, the j-th stored frame.
  A shard is written as `.tar.partial` and renamed when whole; its headers carry mtime 0, uid and gid 0, and the
  JPEGs come from libjpeg-turbo with fixed settings, so the same inputs give the same bytes.
- `shard-{i:06d}.json`: the shard's index, written once the tar is in place: its size and SHA-256, per sample the
  byte range [offset, size] of each member's data (so a reader seeks to a frame without scanning the tar), and the
  rows whose video could not be read (`failed`). A shard is done when both files are there and the sizes agree.
- `failed.csv` (row,path,error) and `store.json` (settings and provenance: `manifest`), once every shard is done.

Frames kept (`stored_indices`): for T segments and F frames per segment of a video of n frames, the frame at
fraction (j + 0.5) / F of segment k, for k < T and j < F; with F = 1, TSN's test-time centres (`data.tsn_indices`).
Reading (`ClipStore.read_clips`) snaps each index a sampler asks for to the nearest stored frame (ties: the lower), so
a sampler sees the frames of the video at about the positions it chose.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import multiprocessing
import os
import shlex
import signal
import sys
import tarfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np

from alt_common.errors import Failed, Interrupted, UserError
from alt_common.io import atomic_write, file_sha256, writing
from alt_common.labels import printable
from alt_common.progress import step
from alt_common.resources import package_version

from .errors import ModelError

log = logging.getLogger(__name__)
FORMAT, VERSION = "alt-clip-store", 1
STORE, PACK, FAILED_CSV = "store.json", "pack.json", "failed.csv"
# what a store folder holds of its own (--force deletes these, nothing else); `.shard-*.tmp`: a shard index's atomic_write
# temporary, left where a worker was killed while writing it
OWN_FILES = (PACK, STORE, FAILED_CSV)
LEFTOVER_GLOBS = ("shard-*.tar.partial", ".shard-*.tmp")  # half-written shards and shard indexes: redone by the next run
OWN_GLOBS = ("shard-*.tar", "shard-*.json", *LEFTOVER_GLOBS)
POLL = 0.2  # seconds between two looks at the workers' progress
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def shard_name(index: int) -> str:
    return f"shard-{index:06d}"


def stored_indices(n: int, segments: int, per_segment: int) -> list[int]:
    """The source frames a store keeps of a video of `n` frames: `per_segment` evenly spaced in each of `segments` equal
    segments, sorted and without repeats (a video shorter than segments × per_segment has fewer). Computed as
    `tsn_indices` computes its centres, so with per_segment 1 they are exactly those."""
    segment = n / segments
    return sorted({min(n - 1, int(k * segment + (j + 0.5) * (segment / per_segment)))
                   for k in range(segments) for j in range(per_segment)})


def snap(stored: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Positions in `stored` (sorted source indices) of the one nearest each of `indices`; a tie goes to the lower."""
    upper = np.clip(np.searchsorted(stored, indices), 0, len(stored) - 1)
    lower = np.maximum(upper - 1, 0)
    return np.where(stored[upper] - indices < indices - stored[lower], upper, lower)


# ---------------------------------------------------------------------------------------------- packing one shard


@dataclass(frozen=True)
class PackSettings:
    segments: int
    per_segment: int
    short_side: int
    quality: int
    per_shard: int


@dataclass(frozen=True)
class Row:
    """One list row to pack: its index in the list, its path as listed (POSIX), its label, and the file."""

    row: int
    path: str
    label: str
    label_id: int
    file: str


@dataclass(frozen=True)
class ShardJob:
    """What a worker needs to pack one shard."""

    folder: str
    index: int
    rows: tuple[Row, ...]
    settings: PackSettings
    backend: str


_progress: Any = None  # in a worker: the queue each packed (or failed) video is counted on


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    """A frame as JPEG: chroma subsampled 4:2:0 below quality 95 (libjpeg's usual choice), kept 4:4:4 from there on;
    baseline, no optimisation pass, so the bytes depend on the pixels and the settings alone."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "JPEG", quality=quality, subsampling="4:2:0" if quality < 95 else "4:4:4", optimize=False)
    return buffer.getvalue()


def decode_video(file: str, settings: PackSettings, backend: str) -> tuple[int, list[int], np.ndarray]:
    """(frame count n, the stored source indices, their frames [len, h, w, 3] at shorter side `short_side`) of one
    video, decoded in one pass; ModelError when it cannot be read."""
    from .decode import read_clips

    chosen: dict[str, Any] = {}

    def choose(n: int) -> np.ndarray:  # called again if the stream turns out shorter than it said: the last call counts
        chosen["n"], chosen["indices"] = n, stored_indices(n, settings.segments, settings.per_segment)
        return np.asarray(chosen["indices"])

    frames = read_clips(file, choose, backend, short=settings.short_side)
    return chosen["n"], chosen["indices"], frames


def pack_shard(job: ShardJob) -> None:
    """Write one shard: its rows decoded in order into `shard-i.tar.partial`, renamed to `shard-i.tar` when whole, then
    its index `shard-i.json`. A video that cannot be read is left out and listed in the index's `failed`."""
    import webdataset

    folder, name = Path(job.folder), shard_name(job.index)
    tar, partial = folder / f"{name}.tar", folder / f"{name}.tar.partial"
    packed: list[tuple[str, dict[str, Any]]] = []
    failed: list[dict[str, Any]] = []
    with writing(partial), open(partial, "wb") as stream:
        writer = webdataset.TarWriter(stream, user="", group="", encoder=False, mtime=0)  # fixed headers: reproducible bytes
        for row in job.rows:
            try:
                n, indices, frames = decode_video(row.file, job.settings, job.backend)
            except ModelError as exc:
                failed.append({"row": row.row, "path": row.path, "error": printable(exc)})
            else:
                key = f"{row.row:08d}"
                meta = {"path": row.path, "label": row.label, "label_id": row.label_id, "frames": n, "indices": indices,
                        "height": frames.shape[1], "width": frames.shape[2]}
                jpegs = {f"{j:04d}.jpg": encode_jpeg(frame, job.settings.quality) for j, frame in enumerate(frames)}
                writer.write({"__key__": key, "json": json.dumps(meta).encode(), **jpegs})
                packed.append((key, meta))
            if _progress is not None:
                _progress.put(1)
        writer.close()  # the end-of-archive blocks; the stream stays open
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, tar)
    index = json.dumps(shard_index(tar, packed, failed))
    atomic_write(folder / f"{name}.json", lambda tmp: Path(tmp).write_text(index, encoding="utf-8"))


def shard_index(tar: Path, packed: Sequence[tuple[str, dict[str, Any]]], failed: list[dict[str, Any]]) -> dict[str, Any]:
    """A finished shard's index: where each member's data lies, read back from the tar's own headers."""
    ranges: dict[str, dict[str, list[int]]] = {}
    with tarfile.open(tar) as archive:
        for member in archive:
            key, ext = member.name.split(".", 1)
            ranges.setdefault(key, {})[ext] = [member.offset_data, member.size]
    samples = {key: {"path": meta["path"], "label_id": meta["label_id"], "frames": meta["frames"], "indices": meta["indices"],
                     "json": ranges[key]["json"], "jpg": [ranges[key][f"{j:04d}.jpg"] for j in range(len(meta["indices"]))]}
               for key, meta in packed}
    return {"shard": tar.name, "size": tar.stat().st_size, "sha256": file_sha256(tar), "samples": samples, "failed": failed}


# ---------------------------------------------------------------------------------------------- the store folder


def settings_record(list_path: Path, rows: int, labels: Sequence[str], settings: PackSettings) -> dict[str, Any]:
    """pack.json: everything the shards' bytes depend on (the video root and the backend aside: moved videos, or
    another decoder of the same frames, do not make a store stale)."""
    return {"format": FORMAT, "version": VERSION, "list_sha256": file_sha256(list_path), "rows": rows,
            "labels_sha256": labels_sha256(labels), **asdict(settings)}


def labels_sha256(labels: Sequence[str]) -> str:
    """SHA-256 of the label texts in order, one a line (the label ids stored depend on the order)."""
    return sha256("".join(f"{label}\n" for label in labels).encode()).hexdigest()


def own_files(folder: Path) -> list[Path]:
    """The files of a clip store in `folder` (none where it does not exist)."""
    if not folder.is_dir():
        return []
    found = {folder / name for name in OWN_FILES if (folder / name).exists()}
    found.update(path for pattern in OWN_GLOBS for path in folder.glob(pattern))
    return sorted(found)


def prepare_folder(folder: Path, record: dict[str, Any], force: bool) -> None:
    """Make `folder` ready to pack with the settings `record`: a new or empty folder, or one holding a store packed with
    the same settings (resumed). Another store, or other files, are a UserError before anything is written, unless
    `force`: then the store's own files are deleted (`own_files`; the user's other files stay)."""
    own = own_files(folder)
    if not force and own:
        there = _read_json(folder / PACK)
        if not isinstance(there, dict):
            raise UserError(f"{folder} holds files of a clip store with unknown settings (no readable {PACK}); pass a new --out, "
                            "or --force to delete them and pack again")
        if there != record:
            changed = "; ".join(_difference(key, there.get(key), record[key]) for key in record if there.get(key) != record[key])
            raise UserError(f"{folder} holds a clip store packed with other settings ({changed}); pass a new --out, "
                            "or --force to delete it and pack again")
    elif not force and folder.is_dir() and any(folder.iterdir()):
        raise UserError(f"{folder} is not empty and holds no clip store; pass a new or empty --out "
                        "(or --force to pack beside its files)")
    if force:
        for path in own:
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    if _read_json(folder / PACK) != record:
        atomic_write(folder / PACK, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"))


def _difference(key: str, there: Any, here: Any) -> str:
    """One setting that differs, in words: "short-side: 256 there, 224 here"."""
    return {"list_sha256": "another list file", "labels_sha256": "other labels"}.get(key, f"{key.replace('_', '-')}: {there} there, {here} here")


def _read_json(path: Path) -> Any:
    """A JSON file's value, or None where it is missing or does not parse."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def shard_done(folder: Path, index: int) -> bool:
    """Whether shard `index` is finished: its tar and its index are both there, and the index has the tar's size."""
    name = shard_name(index)
    tar, index_file = folder / f"{name}.tar", _read_json(folder / f"{name}.json")
    return tar.is_file() and isinstance(index_file, dict) and index_file.get("size") == tar.stat().st_size


def _remove_leftovers(folder: Path) -> None:
    """Half-written shards and shard indexes (`LEFTOVER_GLOBS`)."""
    for pattern in LEFTOVER_GLOBS:
        for path in folder.glob(pattern):
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- packing a list


@dataclass
class Packed:
    shards: list[str]
    videos: int  # packed
    failed: list[dict[str, Any]]  # {"row", "path", "error"}, in list order


def pack(folder: Path, rows: Sequence[Row], settings: PackSettings, backend: str, workers: int, bar: bool = False) -> Packed:
    """Pack `rows` into `folder` (made ready by `prepare_folder`) with up to `workers` processes, one shard per task;
    finished shards are kept, so a run stopped by Ctrl-C (`Interrupted`) or a crash resumes where it was."""
    count = math.ceil(len(rows) / settings.per_shard)
    _remove_leftovers(folder)
    jobs = [ShardJob(str(folder), i, tuple(rows[i * settings.per_shard:(i + 1) * settings.per_shard]), settings, backend)
            for i in range(count) if not shard_done(folder, i)]
    if jobs:
        try:
            _run(jobs, workers, bar)
        except KeyboardInterrupt:
            done = sum(shard_done(folder, i) for i in range(count))
            raise Interrupted(f"interrupted: {done} of {count} shards packed in {folder}; run the same command again to resume") from None
        finally:
            _remove_leftovers(folder)
    indexes = [json.loads((folder / f"{shard_name(i)}.json").read_text(encoding="utf-8")) for i in range(count)]
    return Packed([index["shard"] for index in indexes], sum(len(index["samples"]) for index in indexes),
                  [entry for index in indexes for entry in index["failed"]])


def _run(jobs: Sequence[ShardJob], workers: int, bar: bool) -> None:
    """The jobs on a pool of `workers` spawned processes (torch and fork do not mix), counting videos as they are
    packed; on any exception, Ctrl-C included, the workers are killed first."""
    context = multiprocessing.get_context("spawn")
    progress = context.SimpleQueue()
    executor = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_start_worker,
                                   initargs=(progress, os.getpid()))
    try:
        with _sigint_ignored():  # the workers (started by submit) inherit Ctrl-C ignored: a terminal's Ctrl-C is the parent's alone
            pending = {executor.submit(pack_shard, job) for job in jobs}
        with step("Packing videos", sum(len(job.rows) for job in jobs), unit="videos", bar=bar) as packing:
            while pending:
                done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
                while not progress.empty():
                    packing.advance(progress.get())
                for future in done:
                    future.result()
    except BaseException as exc:
        _kill_workers(executor)
        if isinstance(exc, BrokenProcessPool):  # killed from outside (out of memory, say)
            raise Failed(f"a packing worker died ({exc}); run the same command again to resume") from None
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """Stop the workers now: a shard half written is redone by the next run. (ProcessPoolExecutor has no public way to
    before Python 3.14's terminate_workers; its shutdown waits for the running tasks.)"""
    processes = list((executor._processes or {}).values())  # noqa: SLF001
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


def _start_worker(progress: Any, parent: int) -> None:
    """A worker's setup: die with the packing process however it ends (Linux), count videos on `progress`, and one
    thread for torch (webdataset imports it), since the workers themselves are the parallelism."""
    global _progress
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    import torch

    torch.set_num_threads(1)
    _progress = progress


def write_failed(folder: Path, failed: Sequence[dict[str, Any]]) -> Path:
    """DIR/failed.csv: row,path,error of each video that could not be read (the header alone when none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("row", "path", "error"))
    writer.writerows((entry["row"], entry["path"], entry["error"]) for entry in failed)
    atomic_write(folder / FAILED_CSV, lambda tmp: Path(tmp).write_text(buffer.getvalue(), encoding="utf-8"))
    return folder / FAILED_CSV


def manifest(record: dict[str, Any], list_path: Path, labels: Sequence[str], video_root: Path, backend: str,
             packed: Packed) -> dict[str, Any]:
    """store.json: the settings, the inputs with their SHA-256, the counts and the command that packed the store."""
    return {
        "format": FORMAT, "version": VERSION,
        "list": {"path": str(list_path), "sha256": record["list_sha256"], "rows": record["rows"]},
        "labels": list(labels), "labels_sha256": record["labels_sha256"], "video_root": str(video_root),
        **{key: record[key] for key in ("segments", "per_segment", "short_side", "quality", "per_shard")},
        "backend": backend, "shards": packed.shards, "videos": packed.videos, "failed": len(packed.failed),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "toolkit": package_version("alt-toolkit"),
        "command": shlex.join(["alt-data", *sys.argv[1:]]),
    }


def write_store(folder: Path, store: dict[str, Any]) -> None:
    atomic_write(folder / STORE, lambda tmp: Path(tmp).write_text(json.dumps(store, indent=2) + "\n", encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- reading


class ClipStore:
    """A packed store, read like the videos it was packed from (`read_clips` mirrors `decode.read_clips`).

    The shard indexes are held as flat arrays (sample s's frames are entries first[s]:first[s + 1]), not one Python
    object per frame: Kinetics's 240,000 videos of 32 frames would otherwise take gigabytes in every DataLoader worker.
    Shard files open on first use and stay open, per process: a worker (forked or spawned) opens its own.
    """

    def __init__(self, folder: Path, meta: dict[str, Any], indexes: Sequence[dict[str, Any]]) -> None:
        self.folder, self.meta = folder, meta
        self.shards = [index["shard"] for index in indexes]  # the tars' names
        shard_of, rows, paths, label_ids, frames, first = [], [], [], [], [], [0]
        indices: list[int] = []
        ranges: list[list[int]] = []
        for number, index in enumerate(indexes):
            for key, sample in index["samples"].items():
                shard_of.append(number)
                rows.append(int(key))
                paths.append(sample["path"])
                label_ids.append(sample["label_id"])
                frames.append(sample["frames"])
                indices.extend(sample["indices"])
                ranges.extend(sample["jpg"])
                first.append(len(indices))
        self.paths, self.label_ids = paths, label_ids
        self._where = {path: s for s, path in reversed(list(enumerate(paths)))}  # a path listed twice: its first row
        self._shard_of, self._rows, self._frames = np.array(shard_of, np.int32), np.array(rows, np.int64), np.array(frames, np.int64)
        self._first, self._indices = np.array(first, np.int64), np.array(indices, np.int64)
        self._ranges = np.array(ranges, np.int64).reshape(-1, 2)
        self._files: dict[int, int] = {}  # shard number -> file descriptor, in process `_pid`
        self._pid = os.getpid()

    @classmethod
    def open(cls, folder: str | Path) -> ClipStore:
        """The store in `folder`; ModelError (naming the file and the fix) if there is none, or it is not completely packed."""
        folder = Path(folder)
        meta = _read_json(folder / STORE)
        if meta is None:
            raise ModelError(_not_packed(folder))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ModelError(f"{folder / STORE}: not a clip store of version {VERSION} (alt-data pack writes one)")
        indexes = []
        for name in meta["shards"]:
            index, tar = _read_json(folder / Path(name).with_suffix(".json")), folder / name
            if not isinstance(index, dict) or not tar.is_file() or index.get("size") != tar.stat().st_size:
                raise ModelError(f"{tar}: missing, or not the size its index says; run the alt-data pack command in "
                                 f"{folder / STORE} again: it packs the shard again")
            indexes.append(index)
        return cls(folder, meta, indexes)

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers: the arrays, not this process's open files
        return {**self.__dict__, "_files": {}}

    def __len__(self) -> int:
        return len(self.paths)

    def close(self) -> None:
        """Close this process's shard files (a later read opens them again)."""
        if os.getpid() == self._pid:
            for fd in self._files.values():
                os.close(fd)
        self._files = {}

    def check_list(self, list_path: str | Path) -> None:
        """ModelError unless `list_path` is the list file the store was packed from (the same bytes)."""
        if file_sha256(list_path) != self.meta["list"]["sha256"]:
            raise ModelError(f"{self.folder} was packed from another version of {list_path}; pack it again "
                             f"(alt-data pack {list_path} ... --out {self.folder} --force)")

    def items(self, labels: Sequence[str], drop_unknown: bool = False) -> list[Any]:
        """The packed videos as `VideoItem`s (the path as listed, the label's index in `labels` by its text), in list order;
        ModelError if a label is not in `labels`, or with `drop_unknown` (zero-shot subsets) the video is left out, as
        `data.read_video_list` does. One warning line counts the listed videos that were not packed."""
        from .data import VideoItem

        packed, index = self.meta["labels"], {label: i for i, label in enumerate(labels)}
        items = []
        for path, label_id in zip(self.paths, self.label_ids):
            label = packed[label_id]
            if label not in index and drop_unknown:
                continue
            if label not in index:
                raise ModelError(f"{self.folder}: {path}'s label {label!r} is not in the label set ({len(labels)} labels); use the "
                                 "label file the store was packed with")
            items.append(VideoItem(Path(path), index[label]))
        if self.meta["failed"]:
            log.warning("%s: %d of %d listed videos were not packed (they could not be read: %s)", self.folder,
                        self.meta["failed"], self.meta["list"]["rows"], self.folder / FAILED_CSV)
        return items

    def shards_of(self, items: Sequence[Any]) -> list[list[int]]:
        """The positions in `items` (`VideoItem`s of this store) of the videos each shard holds, shard by shard: the
        groups `data.ShardOrder` deals to the processes of a training run."""
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault(int(self._shard_of[self._where[item.path.as_posix()]]), []).append(i)
        return [groups[shard] for shard in sorted(groups)]

    def read_clips(self, path: str | Path, choose: Callable[[int], np.ndarray]) -> np.ndarray:
        """uint8 RGB frames [*choose(n).shape, H, W, 3] of the video packed from `path` (as listed), n being its frame
        count: each index is snapped to the nearest stored frame (ties: the lower), each distinct one decoded once.
        ModelError naming the shard and the member when one cannot be read."""
        sample = self._where.get(Path(path).as_posix())
        if sample is None:
            raise ModelError(f"{path}: not in the clip store {self.folder}; use the list it was packed from")
        start, end = self._first[sample], self._first[sample + 1]
        indices = np.asarray(choose(int(self._frames[sample])))
        positions = snap(self._indices[start:end], indices)
        images = {int(p): self._frame(sample, int(p)) for p in np.unique(positions)}
        shapes = {image.shape for image in images.values()}
        if len(shapes) > 1:
            raise ModelError(f"{self._tar(sample)}: {self._rows[sample]:08d}: its frames differ in size ({sorted(shapes)}); pack it again")
        return np.stack([images[int(p)] for p in positions.ravel()]).reshape(*indices.shape, *shapes.pop())

    def _tar(self, sample: int) -> Path:
        return self.folder / self.shards[self._shard_of[sample]]

    def _frame(self, sample: int, position: int) -> np.ndarray:
        """Stored frame `position` of `sample`, read with one pread and decoded."""
        from PIL import Image

        member = f"{self._rows[sample]:08d}.{position:04d}.jpg"
        offset, size = self._ranges[self._first[sample] + position]
        data = os.pread(self._fd(sample), int(size), int(offset))
        if len(data) != size:
            raise ModelError(f"{self._tar(sample)}: {member}: cut short ({len(data)} of {size} bytes); pack the store again")
        try:
            with Image.open(io.BytesIO(data)) as image:
                return np.asarray(image.convert("RGB"))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL's UnidentifiedImageError is an OSError
            raise ModelError(f"{self._tar(sample)}: {member}: cannot decode ({type(exc).__name__}: {printable(exc)[:100]})") from None

    def _fd(self, sample: int) -> int:
        if os.getpid() != self._pid:  # a forked DataLoader worker: its own descriptors
            self._files, self._pid = {}, os.getpid()
        shard = int(self._shard_of[sample])
        if shard not in self._files:
            try:
                self._files[shard] = os.open(self._tar(sample), os.O_RDONLY)
            except OSError as exc:
                raise ModelError(f"{self._tar(sample)}: cannot open the shard ({exc.strerror}); pack the store again") from None
        return self._files[shard]


def open_store(root: str | Path, list_path: str | Path) -> ClipStore:
    """The store `data.store: ROOT` holds for a list file: ROOT/<the list's file name without its extension>, packed
    from that very list; ModelError saying how to pack it otherwise."""
    folder = Path(root) / Path(list_path).stem
    try:
        store = ClipStore.open(folder)
    except ModelError as exc:
        raise ModelError(f"data.store: {exc} (for {list_path}: alt-data pack {list_path} --out {folder} ...)") from None
    store.check_list(list_path)
    return store


def _not_packed(folder: Path) -> str:
    """Why `folder` has no store.json, and what to do."""
    record = _read_json(folder / PACK)
    if not isinstance(record, dict):
        return f"{folder}: no clip store here (no {STORE}); pack one with alt-data pack"
    count = math.ceil(record["rows"] / record["per_shard"])
    done = sum(shard_done(folder, i) for i in range(count))
    return f"{folder} is not completely packed: {done} of {count} shards; run alt-data pack again to finish"
