"""Progress lines for long steps where stderr is not a terminal (alt_common.progress), and the
steps that use them outside the LLM stage: choosing senses (corpus build) and embedding (corpus embed)."""

import logging
import threading
import time

import open_clip
import pandas as pd
import pytest
import torch

from alt_common import progress
from alt_common.clip import resolve_model
from alt_common.progress import step


@pytest.fixture
def lines(caplog, monkeypatch):
    """The progress lines logged, every 0.2 s at most; `lines()` returns them so far."""
    monkeypatch.setattr(progress, "INTERVAL", 0.2)
    caplog.set_level(logging.INFO, logger="alt_common.progress")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "alt_common.progress"]


def test_a_step_that_waits_logs_lines_while_it_waits_and_a_last_one(lines):
    with step("Waiting on the server", 3, unit="prompts answered") as s:
        time.sleep(1.5)  # nothing moves: the timer thread speaks (about 7 lines expected)
        assert len(lines()) >= 2
        s.advance(2)
    logged = lines()
    assert logged[0].startswith("Waiting on the server: 0/3 prompts answered, ")
    assert logged[0].endswith(" s") and "done" not in logged[0]
    assert logged[-1].startswith("Waiting on the server: 2/3 prompts answered, done in ")


def test_a_quick_step_logs_nothing(lines):
    with step("Quick", 10, unit="units") as s:
        for _ in range(10):
            s.advance()
    assert lines() == []


def test_advancing_logs_a_line_when_one_is_due(lines, monkeypatch):
    monkeypatch.setattr(progress, "INTERVAL", 0.0)  # due at every advance
    with step("Choosing senses", 4, unit="units", detail=lambda: "1 retry") as s:
        s.advance(1)
        s.advance(3)
    logged = lines()
    assert "Choosing senses: 1/4 units, 1 retry, 0 s" in logged and "Choosing senses: 4/4 units, 1 retry, 0 s" in logged
    assert logged[-1] == "Choosing senses: 4/4 units, 1 retry, done in 0 s"


def test_nested_steps_name_the_innermost_and_the_outer_status(lines):
    with step("Building the corpus") as building:
        building.status = "loading spaCy"
        time.sleep(1.0)
        with step("Entities (127.0.0.1:8080)", 5, unit="prompts answered"):
            time.sleep(1.0)
        time.sleep(1.0)
    logged = lines()
    assert any(l.startswith("Building the corpus (loading spaCy): ") for l in logged)
    assert any(l.startswith("Entities (127.0.0.1:8080): 0/5 prompts answered, ") for l in logged)
    assert logged[-1].startswith("Building the corpus: done in ")
    inner = [i for i, l in enumerate(logged) if l.startswith("Entities")]
    assert any(l.startswith("Building the corpus (") for l in logged[inner[-1] + 1:])  # lines go on after the inner step


def test_lines_stop_when_the_step_ends_also_on_an_error(lines):
    with pytest.raises(KeyboardInterrupt):
        with step("Interrupted", 2):
            time.sleep(0.5)
            raise KeyboardInterrupt
    count = len(lines())
    assert count >= 1 and not any("done in" in l for l in lines())  # no "done" line for a step that did not end
    time.sleep(0.6)
    assert len(lines()) == count
    assert _timer_gone_soon()


def _timer_gone_soon() -> bool:
    deadline = time.monotonic() + 2
    while any(t.name == "progress-lines" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(t.name == "progress-lines" for t in threading.enumerate())


def test_a_bar_logs_no_lines(lines):
    with step("On a terminal", 3, bar=True) as s:
        time.sleep(0.6)
        s.advance(3)
    with step("On a terminal, no total", bar=True):
        time.sleep(0.6)
    assert lines() == []


def test_choosing_senses_logs_its_units(lines, monkeypatch, wn, nlp):
    from corpus_builder.build import build_corpus

    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    build_corpus(["playing guitar", "abseiling"], wsd="lesk", related=False)
    logged = lines()
    chosen = [l for l in logged if l.startswith("Choosing senses: ")]
    assert chosen and chosen[-1].startswith("Choosing senses: ") and "done in" in chosen[-1]
    total = chosen[-1].split("/")[1].split()[0]
    assert int(total) > 0 and chosen[-1].startswith(f"Choosing senses: {total}/{total} units")


def test_embedding_logs_the_texts_each_batch_embeds(lines, monkeypatch, tmp_path):
    from corpus_builder.embed import embed_corpus

    resolve_model("alt-tiny-clip")  # registers the packaged tiny config with open_clip
    torch.manual_seed(0)
    checkpoint = tmp_path / "tiny.pt"
    torch.save(open_clip.create_model("alt-tiny-clip").state_dict(), checkpoint)
    df = pd.DataFrame({"entity_id": range(5), "unit": ["guitar", "rope", "helmet", "cliff", "hands"],
                       "description": ["an instrument", "a cord", "a hat", "a rock face", "body parts"], "category": ["object"] * 5})
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    bundle = embed_corpus(df, "alt-tiny-clip", str(checkpoint), batch_size=2)
    assert bundle["embeddings"].shape[0] == 5
    counts = [l.split(": ", 1)[1].split(",")[0] for l in lines() if l.startswith("Embedding with alt-tiny-clip: ")]
    assert {"2/5 texts", "4/5 texts", "5/5 texts"} <= set(counts)  # batches of 2, 2 and 1
