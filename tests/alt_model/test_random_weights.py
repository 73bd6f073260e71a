"""CLIP weights that are random say so (issue 30, item 5): alt-synthetic marks its clip.pt, `load_clip` and corpus
embed record it, and alt-predict, alt-explain and corpus report say it in one line and in their outputs; the same
weights saved without the mark (a user's own checkpoint) say nothing. And alt-synthetic refuses to overwrite a task
without --force (item 13)."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from alt_common.clip import RANDOM_WEIGHTS_WARNING, load_clip, runs_random_weights, weights_are_random
from alt_model.synthetic import CLASSES

WARNING = f"warning: {RANDOM_WEIGHTS_WARNING}"
BANNER = "embedded by a CLIP model with random weights"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_alt_synthetic_refuses_an_existing_task_without_force(run_main, tmp_path, caplog):
    from alt_model.synthetic import main

    out = tmp_path / "s"
    small = ("--train-per-class", 1, "--val-per-class", 1, "--frames", 4)
    code, stdout, stderr = run_main(main, "--out", out, *small)
    assert code == 0, stderr
    assert "random weights" in stdout
    assert not [r for r in caplog.records if "initialized randomly" in r.getMessage()]  # said once, by alt-synthetic
    weights = out / "clip.pt"
    assert weights_are_random(weights)  # marked, and still open_clip's to load, with weights_only
    clip, _, provenance = load_clip("alt-tiny-vit", str(weights))
    assert provenance["random_weights"] is True and runs_random_weights(clip)
    assert "state_dict" in torch.load(weights, weights_only=True)
    before = {p: _digest(p) for p in out.rglob("*") if p.is_file()}

    code, stdout, stderr = run_main(main, "--out", out, *small, "--seed", 1)
    assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith(f"error: --out {out}: already holds a synthetic task") and "--force" in stderr
    assert {p: _digest(p) for p in out.rglob("*") if p.is_file()} == before  # nothing was touched

    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "labels.txt").write_text("mine\n")
    code, _, stderr = run_main(main, "--out", partial, *small)
    assert code == 2 and "(labels.txt)" in stderr and (partial / "labels.txt").read_text() == "mine\n"

    code, _, stderr = run_main(main, "--out", out, *small, "--seed", 1, "--force")
    assert code == 0, stderr
    assert _digest(weights) != before[weights] and weights_are_random(weights)  # overwritten with seed 1's weights


@pytest.fixture(scope="module")
def synthetic_corpus(wn, nlp, tmp_path_factory):
    """corpus.parquet of the synthetic task's labels, built offline (POS + WordNet, Lesk)."""
    from corpus_builder import build_corpus, write_corpus

    path = tmp_path_factory.mktemp("random-weights") / "corpus.parquet"
    write_corpus(build_corpus([c.name for c in CLASSES], wsd="lesk"), path)
    return path


@pytest.mark.parametrize("marked", [True, False], ids=["alt-synthetic-clip", "own-unmarked-weights"])
def test_predict_explain_and_report_say_when_clip_is_random(marked, task, synthetic_corpus, run_main, run_cli, tmp_path):
    """alt-synthetic's task -> corpus embed -> alt-predict, alt-explain, corpus report: with its marked clip.pt, and with
    the very same weights saved as a plain state dict (as a user's own checkpoint is)."""
    from alt_model.explain_cli import main as explain_main
    from alt_model.predict_cli import predict_main

    weights = task.root / "clip.pt"
    if not marked:
        state = torch.load(weights, weights_only=True)["state_dict"]
        weights = tmp_path / "own.pt"
        torch.save(state, weights)
    corpus = tmp_path / "corpus.pt"
    code, _, stderr = run_cli("embed", synthetic_corpus, "--model", "alt-tiny-vit", "--pretrained", weights, "--out", corpus)
    assert code == 0, stderr
    assert torch.load(corpus, weights_only=True)["provenance"]["random_weights"] is marked

    video = sorted(task.root.rglob("*.mp4"))[0]
    said = [WARNING] if marked else []
    for name in ("p.jsonl", "p.csv"):
        code, _, stderr = run_main(predict_main, video, "--corpus", corpus, "--labels", task.labels, "--out", tmp_path / name,
                                   "--workers", 0, "--top-k", 2)
        assert code == 0, stderr
        assert [line for line in stderr.splitlines() if "random" in line] == said
    [line] = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert line["random_weights"] is marked and len(line["predictions"]) == 2
    with open(tmp_path / "p.csv", newline="") as f:
        [row] = list(csv.DictReader(f))
    assert row["random_weights"] == ("true" if marked else "false") and row["label_1"] == line["predictions"][0]["label"]

    code, _, stderr = run_main(explain_main, video, "--corpus", corpus, "--labels", task.labels, "--frames", 2, "--out", tmp_path / "x")
    assert code == 0, stderr
    assert [line for line in stderr.splitlines() if "random" in line] == said
    assert json.loads((tmp_path / "x" / "explanation.json").read_text())["random_weights"] is marked
    sheet = np.asarray(Image.open(tmp_path / "x" / "contact_sheet.png").convert("RGB"))
    red = (sheet[0, :, 0] > 150) & (sheet[0, :, 1] < 60)  # the red note band across the top, above the frames
    assert red.all() if marked else not red.any()

    code, _, stderr = run_cli("report", synthetic_corpus, "--corpus", corpus, "--out", tmp_path / "report.html")
    assert code == 0, stderr
    page = (tmp_path / "report.html").read_text()
    assert (BANNER in page) is marked
    if marked:
        assert page.index('id="random-weights"') < page.index("<h1>")  # at the top of the page
    data = json.loads(page.split("<script id='report-data' type='application/json'>")[1].split("</script>")[0])
    assert data["random_weights"] is marked


def test_weights_are_random_only_when_marked_or_missing(tmp_path):
    from alt_common.clip import save_random_weights

    from tiny import make_clip

    clip = make_clip()
    assert weights_are_random(None) and weights_are_random("")
    assert not weights_are_random("openai") and not weights_are_random(tmp_path / "missing.pt")
    torch.save(clip.state_dict(), tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert not weights_are_random(tmp_path / "plain.pt") and not weights_are_random(tmp_path / "junk.pt")
    for name in ("marked.pt", "marked.safetensors"):
        save_random_weights(clip, tmp_path / name, seed=0)
        assert weights_are_random(tmp_path / name)
        loaded, _, provenance = load_clip("alt-tiny-vit", str(tmp_path / name))
        assert provenance["random_weights"] is True
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), clip.state_dict().values()))
    _, _, provenance = load_clip("alt-tiny-vit", str(tmp_path / "plain.pt"))
    assert provenance["random_weights"] is False
