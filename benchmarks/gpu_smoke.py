"""The GPU check for the day a GPU is at hand: training speed and memory of ALT and X-CLIP, and whether the data
pipeline keeps the GPU fed, side by side in one run (issue 28). Under 5 minutes on one GPU.

    python benchmarks/gpu_smoke.py [--batch 8] [--frames 8] [--steps 10] [--precision auto] [--workers 0 2 4 8]

Random weights (open_clip's ViT-B-16, no download; a corpus of 913 random entities, as the paper's) and the
training step `alt-train` takes: autocast in `train.precision` (`precision.py`: bf16 where the GPU has it
natively, else fp16 with a GradScaler), soft-target cross-entropy (Eq. 10), backward, clipping, fused AdamW
over the two parameter groups. Rows: ALT-B/16 at r = 8 and r = 0 and X-CLIP-B/16, steps/s, clips/s and peak
memory (CUDA's max allocated; not measured on a CPU), each model measured after its warm-up steps, one after the other.
The data table reads a generated Kinetics-like clip (10 s, 320x240, 30 fps, H.264) through `VideoDataset`
(decoding, MultiScaleCrop, flip, normalisation at 224²) with N DataLoader workers, and says what share of
ALT-B/16's appetite (its clips/s at r = 8) N workers feed.

On a CPU it runs the same code on the tiny test models (`alt-tiny-vit`, 64 px, short clips) so that CI proves it
starts; its numbers say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alt_model import ALT, XCLIP  # noqa: E402
from alt_model.config import load_config  # noqa: E402
from alt_model.data import VideoDataset, VideoItem, collate  # noqa: E402
from alt_model.loss import soft_cross_entropy  # noqa: E402
from alt_model.precision import autocast, autocast_dtype, grad_scaler  # noqa: E402
from alt_model.train import param_groups  # noqa: E402


@dataclass(frozen=True)
class Scale:
    """What a run measures: ViT-B/16 at 224 px on a GPU, the tiny test model on a CPU."""

    model: str
    size: int
    clip_seconds: int
    clip_side: tuple[int, int]


GPU, CPU = Scale("ViT-B-16", 224, 10, (320, 240)), Scale("alt-tiny-vit", 64, 2, (96, 64))


def build(arch: str, scale: Scale, frames: int, r: int, device: torch.device) -> torch.nn.Module:
    """ALT (r merges per block) or X-CLIP over a randomly initialised CLIP, in training mode."""
    import open_clip

    from alt_common.clip import resolve_model

    torch.manual_seed(0)
    clip = open_clip.create_model(resolve_model(scale.model)[0], pretrained=None, force_quick_gelu=True)
    if arch == "xclip":
        model = XCLIP(clip, frames, templates=["{}"])
    else:
        corpus = {"embeddings": F.normalize(torch.randn(913, clip.visual.output_dim), dim=-1)}
        model = ALT(clip, corpus, num_frames=frames, r=r, templates=["a video of {}"])
    return model.to(device).train()


def train_speed(model: torch.nn.Module, batch: int, frames: int, size: int, steps: int, dtype: torch.dtype | None,
                device: torch.device) -> tuple[float, float]:
    """(steps/s, peak MiB) of `steps` training steps after 2 warm-up steps; peak memory only on CUDA (else nan)."""
    labels = [f"action {i}" for i in range(400)]
    with torch.no_grad():
        classes = model.text_head.class_embeddings(labels)
    cfg = load_config(None)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, cfg), betas=(0.9, 0.98), fused=device.type == "cuda")
    scaler = grad_scaler(dtype)
    video = torch.randn(batch, frames, 3, size, size, device=device)
    targets = F.one_hot(torch.randint(0, len(labels), (batch,), device=device), len(labels)).float()

    def step() -> None:
        with autocast(device, dtype):
            loss = soft_cross_entropy(model(video, classes).logits.float(), targets)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    return steps / seconds, peak


def write_clip(folder: Path, scale: Scale) -> Path:
    """A Kinetics-like H.264 clip (benchmarks/data.py's generator) at the scale's side and length."""
    from data import kinetics_like

    width, height = scale.clip_side
    return kinetics_like(folder / "clip.mp4", gop=250, seconds=scale.clip_seconds, width=width, height=height)


def pipeline_speed(path: Path, frames: int, size: int, workers: int, batch: int, seconds: float) -> float:
    """Training clips/s that `workers` DataLoader processes deliver, pinned, after the first batch."""
    dataset = VideoDataset([VideoItem(path, 0)] * 100_000, frames, size, train=True, backend="auto")
    loader = iter(torch.utils.data.DataLoader(dataset, batch, shuffle=False, num_workers=workers, collate_fn=collate,
                                              pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0))
    next(loader)
    clips, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        clips += len(next(loader).labels)
    rate = clips / (time.perf_counter() - start)
    del loader
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=None, help="videos per step (default: 8 on a GPU, 2 on a CPU)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="measured steps per model (default: 10 on a GPU, 1 on a CPU)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="DataLoader workers (default: 0 2 4 8 on a GPU, 0 1 on a CPU)")
    parser.add_argument("--seconds", type=float, default=None, help="timing per data-pipeline row (default: 10 on a GPU, 1 on a CPU)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device, scale = torch.device("cuda" if cuda else "cpu"), GPU if cuda else CPU
    batch, steps = args.batch or (8 if cuda else 2), args.steps or (10 if cuda else 1)
    workers, seconds = args.workers or ([0, 2, 4, 8] if cuda else [0, 1]), args.seconds or (10.0 if cuda else 1.0)
    dtype = autocast_dtype(args.precision, device)
    where = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads; tiny models, not a GPU figure)"
    print(f"{where}; torch {torch.__version__} (CUDA {torch.version.cuda}); precision {args.precision} -> {dtype or 'fp32'}; "
          f"{scale.model}, {args.frames} frames at {scale.size}², batch {batch}, {steps} steps after 2 warm-up", flush=True)

    rows = {}
    for name, arch, r in (("ALT r=8", "alt", 8), ("ALT r=0", "alt", 0), ("X-CLIP", "xclip", 0)):
        model = build(arch, scale, args.frames, r, device)
        rows[name] = train_speed(model, batch, args.frames, scale.size, steps, dtype, device)
        del model
        if cuda:
            torch.cuda.empty_cache()
    base_rate, base_peak = rows["ALT r=8"]
    print(f"\n{'model':<10}{'steps/s':>10}{'clips/s':>10}{'vs ALT r=8':>12}{'peak MiB':>10}{'vs ALT r=8':>12}")
    for name, (rate, peak) in rows.items():
        memory = f"{peak:>10.0f}{peak / base_peak:>11.2f}x" if cuda else f"{'-':>10}{'-':>12}"
        print(f"{name:<10}{rate:>10.2f}{rate * batch:>10.1f}{rate / base_rate:>11.2f}x{memory}")

    appetite = base_rate * batch
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp), scale)
        print(f"\ndata pipeline ({scale.clip_seconds} s {scale.clip_side[0]}x{scale.clip_side[1]} H.264 -> {args.frames} frames at "
              f"{scale.size}²) against ALT r=8's appetite of {appetite:.1f} clips/s")
        print(f"{'workers':<10}{'clips/s':>10}{'of appetite':>13}")
        for n in workers:
            rate = pipeline_speed(clip, args.frames, scale.size, n, batch, seconds)
            print(f"{n:<10}{rate:>10.1f}{rate / appetite:>12.2f}x", flush=True)


if __name__ == "__main__":
    main()
