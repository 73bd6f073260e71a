"""Tiny real objects shared by the alt_model tests: open_clip models from data/models configs
(random weights, built by open_clip's own factory), a corpus.pt bundle, a tokenizer.

Other test_alt_* modules import these fixtures by name (this folder is on sys.path under pytest),
`one_thread` included: tiny models gain nothing from intra-op threads, and on a busy 2-core
machine the threads' hand-offs made a few-second test run for half a minute.
"""

from __future__ import annotations

import open_clip
import pytest
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


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tokenizer():
    return open_clip.get_tokenizer(resolve_model(TINY_VIT)[0])


@pytest.fixture
def clip() -> torch.nn.Module:
    return make_clip()


@pytest.fixture
def corpus() -> dict:
    return make_corpus()


def test_tiny_configs_build_through_open_clips_factory():
    for name, patches in ((TINY_VIT, 64), (TINY_CLIP, 4)):
        visual = make_clip(name).visual
        assert visual.grid_size[0] * visual.grid_size[1] == patches
