"""Seconds and peak memory per ALT training step, ViT-B/16 at 224 px, r = 0 against r = 8, side by side.

A step is what `alt-train` does per optimizer step with one micro-batch: forward of `--batch` videos of
`--frames` frames, soft-target cross-entropy, backward, AdamW step with the two parameter groups.
Weights are random (the ViT-B-16 architecture of open_clip, no download); the corpus has 913 random
entities, as the paper's. Each setting runs in its own child process, one after the other, so that
peak memory is its own: CUDA's max allocated on a GPU, the process's peak resident set (ru_maxrss,
what the allocator holds: an upper bound) on a CPU.

    python benchmarks/train_step.py [--batch 2] [--frames 8] [--steps 3] [--threads N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alt_model import ALT  # noqa: E402
from alt_model.config import load_config  # noqa: E402
from alt_model.train import param_groups  # noqa: E402


def build(r: int, frames: int, device: torch.device) -> ALT:
    import open_clip

    torch.manual_seed(0)
    clip = open_clip.create_model("ViT-B-16", pretrained=None)
    corpus = {"embeddings": F.normalize(torch.randn(913, clip.visual.output_dim), dim=-1)}
    return ALT(clip, corpus, num_frames=frames, r=r, templates=["a video of {}"]).to(device).train()


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="measured steps per setting (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", type=int, default=None, help=argparse.SUPPRESS)  # one setting, in a child process
    args = parser.parse_args()
    if args.only is None:
        import json
        import subprocess

        results = {}
        for r in (0, 8):
            child = [sys.executable, __file__, *sys.argv[1:], "--only", str(r)]
            line = subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            results[r] = json.loads(line)
            print(f"r={r}: {results[r]['seconds']:.2f} s/step, peak memory {results[r]['peak_mib']:.0f} MiB", flush=True)
        print(f"ViT-B/16, {args.frames} frames, batch {args.batch}, {results[0]['device']}, {results[0]['threads']} threads: "
              f"r=8 takes {results[8]['seconds'] / results[0]['seconds']:.2f}x the time of r=0 "
              f"({results[0]['seconds'] / results[8]['seconds']:.2f}x faster) and "
              f"{results[8]['peak_mib'] / results[0]['peak_mib']:.2f}x its peak memory", flush=True)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    labels = [f"action {i}" for i in range(10)]
    cfg = load_config(None)
    r = args.only
    model = build(r, args.frames, device)
    classes = model.text_head.class_embeddings(labels).detach()
    optimizer = torch.optim.AdamW(param_groups(model, cfg), betas=(0.9, 0.98))
    video = torch.randn(args.batch, args.frames, 3, 224, 224, device=device)
    targets = torch.randint(0, len(labels), (args.batch,), device=device)
    dtype = torch.bfloat16 if device.type == "cuda" else None

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(video, classes).logits.float(), targets, label_smoothing=0.1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: allocator, optimizer state
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.steps
    import json

    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib(device), "device": torch.cuda.get_device_name() if device.type == "cuda"
                      else "cpu", "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
