"""`corpus build --label-entities` (ALT supplementary A): Something-Something V2's "action on something"
labels collected as entities, one motion entity per label, without spaCy, WordNet or an LLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import open_clip
import pandas as pd
import pytest
import torch

from alt_common.clip import resolve_model
from corpus_builder import build_corpus, read_corpus, write_corpus
from corpus_builder.build import label_entity_rows, merge_entities
from corpus_builder.embed import corpus_texts
from corpus_builder.errors import CorpusError
from corpus_builder.llm import LLM, LLMConfig

SSV2 = (
    "Holding something next to something",
    "Pushing something from left to right",
    "Putting something, something and something on the table",
    "Pretending to put something underneath something",
    "Approaching something with your camera",
    "Holding something next to something",
)
DISTINCT = sorted({label.lower() for label in SSV2})
RUN_SPECIFIC = ("created", "seconds")  # as in tests/test_reproducible.py: the only manifest entries allowed to differ


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    path = tmp_path / "ssv2.txt"
    path.write_text("\n".join(SSV2) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def label_corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ssv2") / "corpus.parquet"
    write_corpus(build_corpus(SSV2, label_entities=True), path)
    return path


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    resolve_model("alt-tiny-clip")  # registers data/models with open_clip
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save(open_clip.create_model("alt-tiny-clip").state_dict(), path)
    return path


def corpus_process(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`corpus ARGS` in a fresh interpreter; prints the sizes of the WordNet and spaCy caches on exit."""
    code = ("import atexit, sys; from corpus_builder.cli import main; from corpus_builder.resources import load_spacy, wordnet; "
            "atexit.register(lambda: print('loaded', wordnet.cache_info().currsize, load_spacy.cache_info().currsize, file=sys.stderr)); "
            "sys.argv[0] = 'corpus'; main()")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def test_cli_builds_one_motion_entity_per_label(run_cli, labels_file, tmp_path):
    out = tmp_path / "corpus.parquet"
    code, stdout, stderr = run_cli("build", "--labels", labels_file, "--label-entities", "--out", out)
    assert code == 0, stderr
    assert "No LLM configured" not in stderr
    assert f"{len(DISTINCT)} entities from {len(DISTINCT)} labels" in " ".join(stdout.split()) and "motion" in stdout
    df = read_corpus(out)  # the schema is checked on read
    assert list(df["unit"]) == DISTINCT and list(df["entity_id"]) == list(range(len(DISTINCT)))
    assert list(df["description"]) == DISTINCT and [list(c) for c in df["candidates"]] == [[u] for u in DISTINCT]
    assert [list(l) for l in df["labels"]] == [[u] for u in DISTINCT]
    assert set(df["category"]) == {"motion"} and set(df["kind"]) == {"phrase"}
    assert all(list(s) == ["label"] for s in df["sources"])
    assert set(df["wsd_method"]) == {"label"} and set(df["wsd_score"]) == {1.0}
    assert df["sense"].isna().all() and df["wsd_margin"].isna().all()
    assert not {"head", "hand"} & set(df["unit"])  # no body parts, nothing related
    m = df.attrs["manifest"]
    assert m["options"]["label_entities"] is True and m["options"]["body_parts"] is False and m["options"]["related"] is False
    assert m["wsd"] == {"method": "label", "model": None, "weights": None} and m["llm"] is None and m["prompts"] == {}
    assert m["resources"]["wordnet"] is None and m["resources"]["spacy_model"] is None
    counts = m["counts"]
    assert counts["labels"] == counts["units"] == counts["distinct_units"] == counts["entities"] == len(DISTINCT)
    assert counts["units_by_source"] == counts["entities_by_source"] == {"label": len(DISTINCT)}
    assert counts["entities_by_category"] == {"motion": len(DISTINCT)} and counts["entities_by_wsd_method"] == {"label": len(DISTINCT)}


def test_a_one_word_label_is_a_word_and_the_usual_build_records_the_option():
    rows = label_entity_rows(["dancing", "pushing something"])
    assert [(r["unit"], r["kind"]) for r in rows] == [("dancing", "word"), ("pushing something", "phrase")]
    assert build_corpus(["dancing"], wsd="lesk", body_parts=False).attrs["manifest"]["options"]["label_entities"] is False


def test_build_loads_neither_wordnet_nor_spacy(labels_file, tmp_path):
    missing = {"ALT_WORDNET_DIR": str(tmp_path / "nowhere"), "ALT_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path),
               "NLTK_DATA": str(tmp_path / "nltk_data")}
    done = corpus_process("build", "-l", str(labels_file), "--label-entities", "-o", "c.parquet", cwd=tmp_path, env=missing)
    assert done.returncode == 0, done.stderr
    assert "loaded 0 0" in done.stderr
    assert list(read_corpus(tmp_path / "c.parquet")["unit"]) == DISTINCT


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--llm-base-url", "http://127.0.0.1:1/v1", "--llm-model", "x"], "--llm-base-url"),
        (["--llm-backend", "local"], "--llm-backend local"),
        (["--llm-offline", "--llm-model", "x"], "--llm-offline"),
        (["--t5-model", "some/t5"], "--t5-model"),
    ],
)
def test_llm_and_t5_options_exclude_label_entities(run_cli, labels_file, tmp_path, args, flag):
    out = tmp_path / "corpus.parquet"
    out.write_bytes(b"previous corpus")
    code, stdout, stderr = run_cli("build", "--labels", labels_file, "--label-entities", *args, "--out", out)
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: --label-entities and {flag} exclude each other"), stderr
    assert "Traceback" not in stderr and stdout == ""
    assert out.read_bytes() == b"previous corpus" and not (tmp_path / "llm_cache.sqlite").exists()


def test_library_refuses_an_llm_with_label_entities(tmp_path):
    llm = LLM(LLMConfig(model="x", base_url="http://127.0.0.1:1/v1"), tmp_path / "cache.sqlite")
    with pytest.raises(CorpusError, match="label entities and an LLM exclude each other"):
        build_corpus(SSV2, llm, label_entities=True)


def test_corpus_texts_embed_a_label_entity_as_its_unit_alone():
    guitar = {"unit": "guitar", "kind": "word", "description": "a stringed instrument", "sense": "guitar.n.01", "category": "object",
              "sources": ["pos"], "labels": ["playing guitar"], "wsd_method": "lesk", "wsd_score": 2.0, "wsd_margin": 1.0,
              "candidates": ["a stringed instrument"]}
    df = merge_entities([*label_entity_rows(["pushing something from left to right"]), guitar])
    assert corpus_texts(df) == ["pushing something from left to right", "guitar: a stringed instrument"]
    assert corpus_texts(df, "a video of {unit} ({category})") == [
        "a video of pushing something from left to right (motion)", "a video of guitar (object)"]


def test_embed_and_report_on_a_label_corpus(run_cli, label_corpus, tiny_checkpoint, tmp_path):
    out = tmp_path / "corpus.pt"
    code, stdout, stderr = run_cli("embed", label_corpus, "--model", "alt-tiny-clip", "--pretrained", tiny_checkpoint, "--out", out)
    assert code == 0, stderr
    bundle = torch.load(out, weights_only=True)
    assert bundle["texts"] == bundle["units"] == DISTINCT and bundle["embeddings"].shape == (len(DISTINCT), 32)
    assert set(bundle["categories"]) == {"motion"}
    for extra in ([], ["--corpus", str(out)]):
        page = tmp_path / "report.html"
        code, stdout, stderr = run_cli("report", label_corpus, *extra, "--out", page)
        assert code == 0, stderr
        assert f"report on {len(DISTINCT)} entities" in stdout and "pushing something from left to right" in page.read_text()


def test_the_same_labels_build_the_same_corpus_in_two_processes(labels_file, tmp_path):
    for seed, out in ((1, "a.parquet"), (2, "b.parquet")):
        done = corpus_process("build", "-l", str(labels_file), "--label-entities", "-o", out, cwd=tmp_path, env={"PYTHONHASHSEED": str(seed)})
        assert done.returncode == 0, done.stderr
    a, b = read_corpus(tmp_path / "a.parquet"), read_corpus(tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ma, mb = ({k: v for k, v in df.attrs["manifest"].items() if k not in RUN_SPECIFIC} for df in (a, b))
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)
