"""Token merging speed: open_clip's `encode_image` vs our RegionAwareEncoder at r = 0, 4, 8, 13,
side by side in one run, on the ViT-B/16 image tower (random weights), 8 frames at 224², with the
GFLOPs we count beside the supplementary's Table C5.

Rounds interleave the methods (each timed once per round, median reported), so a change in the
machine's load hits them all alike. On a machine shared with other work, pass --threads 1: with
more threads than free cores every small operation waits for a descheduled thread, which
penalises the merging's many small operations far more than the large matrix products.

    .venv/bin/python benchmarks/tome.py [--frames 8] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import open_clip
import torch

from alt_model import RegionAwareEncoder, count_gflops

PAPER_GFLOPS = {0: 141, 4: 129, 8: 110, 13: 86}  # supplementary Table C5, ALT-B/16, 8 frames


def seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--r", type=int, nargs="+", default=list(PAPER_GFLOPS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clip = open_clip.create_model("ViT-B-16").eval()
    frames = torch.randn(args.frames, 3, 224, 224)
    methods: dict[str, Callable[[], object]] = {"open_clip encode_image": lambda: clip.encode_image(frames)}
    for r in args.r:
        encoder = RegionAwareEncoder(clip.visual, r=r)
        methods[f"RegionAwareEncoder r={r}"] = lambda encoder=encoder: encoder(frames)
    times: dict[str, list[float]] = {name: [] for name in methods}
    with torch.inference_mode():
        for fn in methods.values():
            for _ in range(args.warmup):
                fn()
        for _ in range(args.rounds):
            for name, fn in methods.items():
                times[name].append(seconds(fn))
        exact = (RegionAwareEncoder(clip.visual, r=0)(frames).cls - clip.encode_image(frames)).abs().max().item()

    base = statistics.median(times["open_clip encode_image"])
    print(f"ViT-B-16 image tower, random weights, {args.frames} frames at 224², {args.threads} threads, "
          f"median of {args.rounds} interleaved rounds after {args.warmup} warm-ups; r=0 vs encode_image max |diff| {exact:.1e}")
    print(f"{'method':<26} {'s/clip':>7} {'frames/s':>9} {'speed-up':>9} {'encoder GFLOPs':>15} {'ALT GFLOPs':>11} {'paper':>6}")
    for name, spent in times.items():
        median = statistics.median(spent)
        r = int(name.split("=")[1]) if "=" in name else None
        flops = count_gflops("ViT-B-16", frames=args.frames, r=r) if r is not None else None
        gflops = f"{flops.encoder:15.1f} {flops:11.1f}" if flops else f"{'':>15} {'':>11}"
        paper = PAPER_GFLOPS.get(r, "") if args.frames == 8 and r is not None else ""
        print(f"{name:<26} {median:7.3f} {args.frames / median:9.2f} {base / median:8.2f}x {gflops} {paper:>6}")


if __name__ == "__main__":
    main()
