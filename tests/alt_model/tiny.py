"""Tiny real objects for the alt_model tests: open_clip models from the packaged data/models configs
(random weights, built by open_clip's own factory) and corpus.pt bundles."""

from __future__ import annotations

import open_clip
import torch
import torch.nn.functional as F

from alt_common.clip import resolve_model

TINY_VIT = "alt-tiny-vit"  # 64 px, patch 8: N = 64 patches, 4 blocks, 32-d joint space
TINY_CLIP = "alt-tiny-clip"  # 32 px, patch 16: N = 4 patches, 2 blocks
CATEGORIES = ("object", "body", "scene", "motion")


def make_clip(name: str = TINY_VIT, seed: int = 0) -> torch.nn.Module:
    """A fresh random-weight open_clip model of a data/models config, in eval mode."""
    torch.manual_seed(seed)
    return open_clip.create_model(resolve_model(name)[0], pretrained=None).eval()


def make_corpus(k: int = 12, dim: int = 32, seed: int = 0) -> dict:
    """A DESIGN §5 bundle with random L2-normalised embeddings and four categories."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "embeddings": F.normalize(torch.randn(k, dim, generator=generator), dim=-1),
        "units": [f"entity {i}" for i in range(k)],
        "descriptions": [f"description {i}" for i in range(k)],
        "categories": [CATEGORIES[i % len(CATEGORIES)] for i in range(k)],
        "model": TINY_VIT, "pretrained": "random", "text_template": "{unit}: {description}",
        "corpus_sha256": "0" * 64, "format_version": 1,
    }
