"""Rebuilds are identical whatever the hash seed: `corpus build` and `corpus embed` run twice, each in
its own process with its own PYTHONHASHSEED, give the same rows, manifests and tensors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from corpus_builder import read_corpus
from llm_server import LLMServer

REFERENCE = ("kinetics_400_labels.csv", "hmdb_51_labels.csv", "ucf_101_labels.csv")
RUN_SPECIFIC = ("created", "seconds")  # when and how fast a build ran: the only manifest entries allowed to differ


def corpus(*args: str, seed: int, cwd: Path) -> None:
    """`corpus ARGS` in a fresh interpreter with PYTHONHASHSEED=seed; fails the test on a non-zero exit."""
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    code = "import sys; from corpus_builder.cli import main; sys.argv[0] = 'corpus'; main()"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr


def assert_same_build(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Rows equal (floats bit for bit) and manifests equal but for the build's time."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ma, mb = ({k: v for k, v in df.attrs["manifest"].items() if k not in RUN_SPECIFIC} for df in (a, b))
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)


def test_reference_build_is_complete_and_the_same_in_two_processes(shared_labels, tmp_path):
    args = [a for name in REFERENCE for a in ("--labels", str(shared_labels / name))]
    for seed, out in ((1, "a.parquet"), (2, "b.parquet")):
        corpus("build", *args, "--out", out, "--no-llm", seed=seed, cwd=tmp_path)
    a, b = read_corpus(tmp_path / "a.parquet"), read_corpus(tmp_path / "b.parquet")
    assert_same_build(a, b)
    m = a.attrs["manifest"]
    assert m["counts"]["labels"] == 530 and m["wsd"]["method"] == "lesk-embedding"  # --wsd auto
    assert [i["sha256"] for i in m["inputs"]] == [hashlib.sha256((shared_labels / n).read_bytes()).hexdigest() for n in REFERENCE]
    assert set(m["counts"]["entities_by_category"]) == {"object", "body", "scene", "motion", "role", "other"}
    assert len({label for labels in a["labels"] for label in labels}) == 530  # every label has at least one entity


def test_llm_build_replayed_from_the_cache_is_the_same_in_two_processes(shared_labels, tmp_path):
    names = pd.read_csv(shared_labels / "kinetics_400_labels.csv")["name"]
    (tmp_path / "k400.txt").write_text("\n".join(names[::2]) + "\n", encoding="utf-8")  # 200 labels
    llm = ["--llm-model", "test-model", "--llm-cache", "cache.sqlite"]
    with LLMServer() as server:
        corpus("build", "-l", "k400.txt", "-o", "live.parquet", "--llm-base-url", server.url, *llm, seed=0, cwd=tmp_path)
        asked = len(server.state.requests)
    for seed, out in ((1, "a.parquet"), (2, "b.parquet")):
        corpus("build", "-l", "k400.txt", "-o", out, "--llm-offline", *llm, seed=seed, cwd=tmp_path)
    live, a, b = (read_corpus(tmp_path / f) for f in ("live.parquet", "a.parquet", "b.parquet"))
    assert a.attrs["manifest"]["llm"]["cache_hits"] == asked > 200 and a.attrs["manifest"]["llm"]["calls"] == 0
    assert "llm" in {s for sources in a["sources"] for s in sources}
    assert_same_build(a, b)
    pd.testing.assert_frame_equal(live, a, check_exact=True)


def test_embed_is_bit_identical_in_two_processes(tmp_path):
    import open_clip

    from corpus_builder import build_corpus, write_corpus
    from alt_common.clip import resolve_model

    model = "alt-tiny-clip"
    resolve_model(model)
    torch.manual_seed(0)
    torch.save(open_clip.create_model(model).state_dict(), tmp_path / "clip.pt")
    write_corpus(build_corpus(["playing guitar", "abseiling", "riding mechanical bull"]), tmp_path / "corpus.parquet")
    for seed, out in ((1, "a.pt"), (2, "b.pt")):
        corpus("embed", "corpus.parquet", "--model", model, "--pretrained", "clip.pt", "--out", out, seed=seed, cwd=tmp_path)
    a, b = (torch.load(tmp_path / f, weights_only=True) for f in ("a.pt", "b.pt"))
    assert a.keys() == b.keys()
    assert torch.equal(a.pop("embeddings"), b.pop("embeddings"))
    assert a == b
