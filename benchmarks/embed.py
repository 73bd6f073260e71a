"""Text embedding speed: open_clip's padded `encode_text` vs our length-bucketed path, side by side
in one run, on realistic corpus texts with the real ViT-B-16 text tower (random weights).

    .venv/bin/python benchmarks/embed.py [--texts 2000] [--batch-size 256] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F

from corpus_builder import build_corpus
from alt_common.clip import encode_texts
from corpus_builder.embed import corpus_texts
from alt_common.labels import read_labels

LABELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "labels"
TEMPLATES = ("{unit}: {description}", "a photo of a {unit}, {description}", "{description}", "{unit}, a kind of {category}")


def realistic_texts(n: int) -> list[str]:
    """Corpus texts of the reference label lists (no LLM), under a few templates, n of them."""
    files = [LABELS / f for f in ("kinetics_400_labels.csv", "kinetics_600_labels.csv", "hmdb_51_labels.csv", "ucf_101_labels.csv")]
    labels, _ = read_labels([f for f in files if f.is_file()])
    df = build_corpus(labels)
    texts = [t for template in TEMPLATES for t in corpus_texts(df, template)]
    return list(itertools.islice(itertools.cycle(texts), n))


def texts_per_second(fn, n: int) -> tuple[torch.Tensor, float]:
    started = time.perf_counter()
    out = fn()
    return out, n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = realistic_texts(args.texts)
    torch.manual_seed(0)
    clip = open_clip.create_model("ViT-B-16").eval()
    tokens = open_clip.get_tokenizer("ViT-B-16")(texts)

    def padded() -> torch.Tensor:
        with torch.inference_mode():
            return F.normalize(torch.cat([clip.encode_text(b) for b in tokens.split(args.batch_size)]), dim=-1)

    ref, padded_rate = texts_per_second(padded, len(texts))
    ours, our_rate = texts_per_second(lambda: encode_texts(clip, tokens, args.batch_size), len(texts))
    lengths = (tokens.argmax(dim=-1) + 1).float()
    print(f"{len(texts)} texts, mean {lengths.mean():.1f} tokens (max {int(lengths.max())}), ViT-B-16 text tower, "
          f"{args.threads} threads, batch {args.batch_size}")
    print(f"open_clip encode_text (padded to 77): {padded_rate:8.1f} texts/s")
    print(f"length-bucketed (ours):               {our_rate:8.1f} texts/s")
    print(f"speed-up: {our_rate / padded_rate:.2f}x")
    print(f"max |difference|: {(ours - ref).abs().max():.2e}; min cosine: {F.cosine_similarity(ours, ref).min():.7f}")


if __name__ == "__main__":
    main()
