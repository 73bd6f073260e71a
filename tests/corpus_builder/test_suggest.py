"""Entity suggestions (issue 31): one answer's entities, suggestions files, builds that replay them,
suggest mode against the local chat-completions server, and the packaged answers of the seed datasets."""

import hashlib
import json

import pandas as pd
import pytest

from corpus_builder import read_corpus
from corpus_builder.clean import LOOP_REPEATS
from corpus_builder.prompts import PROMPTS_DIR, SUGGEST_FILE
from corpus_builder.resources import wordnet
from corpus_builder.suggest import (
    BEYOND, FORMAT, FORMAT_VERSION, SUGGEST_MAX, SUGGEST_MAX_TOKENS, SUGGEST_PENALTY, packaged_suggestions_file, read_suggestions,
    seed_suggestions, suggested_units, write_suggestions,
)
from corpus_builder.errors import CorpusError
from llm_server import LLMServer, ScriptedLLM, default_answer

SUGGESTED = {
    "riding a bike": "Bicycle, helmet, road, gloves, water bottle, sunglasses",
    "brushing teeth": "Toothbrush, toothpaste, sink, mirror, towel, cup",
    "abseiling": "Rope, harness, helmet, cliff, carabiner, gloves",
}
SEED_FILES = ("kinetics_400_labels.csv", "kinetics_600_labels.csv", "ucf_101_labels.csv", "hmdb_51_labels.csv")


def suggestion_answer(prompt: str) -> str:
    """The chat server's answer to the suggestion prompt (the label is quoted in it), else the default."""
    if prompt.startswith('A video shows "'):
        return SUGGESTED[prompt.split('"')[1]]
    return default_answer(prompt)


@pytest.fixture
def labels(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("riding a bike\nbrushing teeth\nabseiling\n")
    return path


def units(answer: str) -> tuple[list[str], dict[str, str]]:
    cleaned = suggested_units(answer)
    return [u.text for u in cleaned.kept], {d.text: d.reason for d in cleaned.dropped}


def test_a_suggestion_is_cleaned_and_capped():
    kept, dropped = units("Guitar, focus, pick, amplifier, stool, cable, microphone, stage, speaker, drum, piano")
    assert kept == ["guitar", "pick", "amplifier", "stool", "cable", "microphone", "stage", "speaker"]  # SUGGEST_MAX = 8
    assert len(kept) == SUGGEST_MAX
    assert dropped["drum"] == dropped["piano"] == BEYOND
    assert "focus" not in dropped  # abstract filler is no entity: it does not count towards the cap


def test_a_looping_suggestion_stops_at_the_loop():
    loop = ", ".join(["ice cream cone", "spoon"] + ["ice cream truck"] * (LOOP_REPEATS + 2))
    kept, dropped = units(loop)
    assert kept == ["ice cream cone", "spoon", "ice cream truck"]
    assert dropped["ice cream truck"] in ("loop", "duplicate of 'ice cream truck'")


def test_a_suggestions_file_round_trips_sorted_and_normalised(tmp_path):
    path = tmp_path / "s.json"
    write_suggestions(path, {"Riding a Bike": SUGGESTED["riding a bike"], "abseiling": SUGGESTED["abseiling"]}, {"model": "m"})
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["format_version"] == FORMAT_VERSION and doc["provenance"] == {"model": "m"}
    assert list(doc["answers"]) == ["Riding a Bike", "abseiling"]  # sorted by label as written
    read = read_suggestions(path)
    assert dict(read.answers) == {"riding a bike": SUGGESTED["riding a bike"], "abseiling": SUGGESTED["abseiling"]}
    assert read.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and read.path == str(path)


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ('{"answers": {}}', 'not a suggestions file (no "format": "alt-toolkit suggestions")'),
    ('{"format": "alt-toolkit suggestions", "format_version": 9, "answers": {}}', "format_version 9; this toolkit reads 1"),
    ('{"format": "alt-toolkit suggestions", "format_version": 1, "answers": ["a"]}', '"answers" must map each label to its answer text'),
    ('{"format": "alt-toolkit suggestions", "format_version": 1, "answers": {"a": 3}}', '"answers" must map each label to its answer text'),
])
def test_a_bad_suggestions_file_is_a_one_line_error_naming_it(run_cli, labels, tmp_path, text, problem):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(CorpusError, match="^" + str(bad).replace(".", r"\.") + ": "):
        read_suggestions(bad)
    out = tmp_path / "c.parquet"
    code, _, stderr = run_cli("build", "-l", labels, "-o", out, "--no-llm", "--suggestions", bad)
    assert code == 2
    assert stderr.strip().splitlines() == [f"error: {bad}: {problem}; pass a file written by `corpus build --save-suggestions`"]
    assert not out.exists()


def test_an_offline_build_replays_a_suggestions_file_and_wordnet_describes(run_cli, labels, tmp_path):
    path = tmp_path / "s.json"
    write_suggestions(path, {"abseiling": SUGGESTED["abseiling"]}, {"model": "m"})
    out = tmp_path / "c.parquet"
    code, _, stderr = run_cli("build", "-l", labels, "-o", out, "--no-llm", "--suggestions", path)
    assert code == 0, stderr
    df = read_corpus(out)
    packaged = df[df["sources"].map(lambda s: "packaged" in s)]
    assert {"harness", "carabiner", "cliff", "rope"} <= set(packaged["unit"])
    assert all(labels_ == ["abseiling"] for labels_ in packaged["labels"])  # the only label the file answers
    wn = wordnet()
    for row in packaged.itertuples():  # WordNet's gloss of the chosen sense, never an LLM's description
        assert row.sense is not None and row.description == wn.synset(row.sense).definition()
    manifest = df.attrs["manifest"]
    assert manifest["suggestions"] == {"source": "file", "path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                       "labels_answered": 1, "provenance": {"model": "m"}, "asked_live": 0}
    assert manifest["options"]["suggest"] is True and manifest["options"]["related"] is True
    assert manifest["counts"]["entities_by_source"]["packaged"] == len(packaged)


def test_suggest_mode_asks_only_the_labels_the_file_leaves_and_saves_them_all(run_cli, labels, tmp_path):
    given = tmp_path / "given.json"
    write_suggestions(given, {"abseiling": SUGGESTED["abseiling"]}, {"model": "earlier"})
    out, saved = tmp_path / "c.parquet", tmp_path / "saved.json"
    with LLMServer(ScriptedLLM(answer=suggestion_answer)) as server:
        code, _, stderr = run_cli("build", "-l", labels, "-o", out, "--llm-base-url", server.url, "--llm-model", "test-model",
                                  "--llm-cache", tmp_path / "cache.sqlite", "--llm-suggest", "--suggestions", given,
                                  "--save-suggestions", saved)
        assert code == 0, stderr
        asked, requests = server.state.prompts(), list(server.state.requests)
    prompt = (PROMPTS_DIR / SUGGEST_FILE).read_text().strip()
    assert sorted(asked) == sorted(prompt.replace("{label}", l) for l in ("riding a bike", "brushing teeth"))  # nothing else
    assert all(r["max_tokens"] == SUGGEST_MAX_TOKENS and r["frequency_penalty"] == SUGGEST_PENALTY for r in requests)
    df = read_corpus(out)
    sources = {(u, tuple(l)): s for u, l, s in zip(df["unit"], df["labels"], df["sources"])}
    assert "llm" in sources["toothpaste", ("brushing teeth",)] and "packaged" in sources["harness", ("abseiling",)]
    doc = json.loads(saved.read_text())
    assert doc["answers"] == dict(sorted(SUGGESTED.items()))
    provenance = doc["provenance"]
    assert provenance["model"] == "test-model" and provenance["prompt"] == prompt
    assert provenance["prompt_sha256"] == hashlib.sha256((PROMPTS_DIR / SUGGEST_FILE).read_bytes()).hexdigest()
    assert provenance["params"] == {"temperature": 0.0, "max_tokens": SUGGEST_MAX_TOKENS, "frequency_penalty": SUGGEST_PENALTY}
    assert provenance["replayed"] == {"path": str(given), "sha256": hashlib.sha256(given.read_bytes()).hexdigest(), "labels_answered": 1}
    assert provenance["command"].startswith("corpus build -l ") and "--save-suggestions" in provenance["command"]

    replay = tmp_path / "replay.parquet"  # the saved answers, replayed without the server, give the same corpus
    code, _, stderr = run_cli("build", "-l", labels, "-o", replay, "--no-llm", "--suggestions", saved)
    assert code == 0, stderr
    again = read_corpus(replay)
    relabel = lambda frame: frame.assign(sources=frame["sources"].map(lambda s: sorted({"packaged" if x == "llm" else x for x in s})))
    pd.testing.assert_frame_equal(relabel(again), relabel(df))


def test_save_suggestions_needs_suggest_mode_and_an_llm(run_cli, labels, tmp_path):
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--no-llm", "--save-suggestions", tmp_path / "s.json")
    assert code == 2 and "--save-suggestions needs --llm-suggest and an LLM" in stderr
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--llm-base-url", "http://127.0.0.1:9/v1",
                              "--llm-model", "m", "--suggestions", tmp_path / "s.json")
    assert code == 2 and "--suggestions and --save-suggestions go with --llm-suggest or a build without an LLM" in stderr
    assert not (tmp_path / "c.parquet").exists()


def test_the_packaged_answers_cover_the_seed_datasets_and_say_where_they_came_from(shared_labels):
    from alt_common.labels import read_labels

    seeds = seed_suggestions()
    names, files = read_labels([shared_labels / f for f in SEED_FILES])
    assert sorted(seeds.answers) == sorted(names)  # every seed label, nothing else
    assert sum(bool(a.strip()) for a in seeds.answers.values()) == len(names)
    p = seeds.provenance
    assert p["prompt"] == (PROMPTS_DIR / SUGGEST_FILE).read_text().strip()  # the packaged prompt asked them
    assert p["prompt_sha256"] == hashlib.sha256((PROMPTS_DIR / SUGGEST_FILE).read_bytes()).hexdigest()
    assert p["params"] == {"temperature": 0.0, "max_tokens": SUGGEST_MAX_TOKENS, "frequency_penalty": SUGGEST_PENALTY}
    assert p["backend"] == "llama.cpp (xllamacpp)" and len(p["weights"]["sha256"]) == 64 and p["weights"]["gguf"].endswith(".gguf")
    assert [(f["path"], f["sha256"]) for f in p["labels"]] == [(f.path.rsplit("/", 1)[-1], f.sha256) for f in files]
    assert "--llm-suggest" in p["command"] and "--save-suggestions" in p["command"] and "--no-packaged-suggestions" in p["command"]
    assert seeds.path == str(packaged_suggestions_file())


def test_the_default_offline_build_replays_the_packaged_answers_unless_told_not_to(run_cli, labels, tmp_path):
    default, bare = tmp_path / "default.parquet", tmp_path / "bare.parquet"
    assert run_cli("build", "-l", labels, "-o", default, "--no-llm")[0] == 0
    assert run_cli("build", "-l", labels, "-o", bare, "--no-llm", "--no-packaged-suggestions")[0] == 0
    with_answers, without = read_corpus(default), read_corpus(bare)
    packaged = [set(l) for l, s in zip(with_answers["labels"], with_answers["sources"]) if "packaged" in s]
    assert set().union(*packaged) == {"riding a bike", "brushing teeth", "abseiling"}  # all three are Kinetics-400 labels
    record = with_answers.attrs["manifest"]["suggestions"]
    assert record["source"] == "packaged" and record["labels_answered"] == 3 and record["path"] == str(packaged_suggestions_file())
    assert not any("packaged" in s for s in without["sources"]) and without.attrs["manifest"]["suggestions"] is None
    assert len(with_answers) > len(without)


def test_the_labels_words_before_a_suggested_thing_go_unless_wordnet_names_the_phrase():
    from corpus_builder.suggest import without_label_words

    assert without_label_words("petting cloth", "petting animal (not cat)") == "cloth"
    assert without_label_words("ice climbing helmet", "ice climbing") == "helmet"
    assert without_label_words("charleston dance floor", "dancing charleston") == "dance floor"
    assert without_label_words("baseball glove", "catching or throwing baseball") == "baseball glove"  # a WordNet compound
    assert without_label_words("guitar neck", "playing ukulele") == "guitar neck"  # not the label's words
    assert without_label_words("climbing", "climbing tree") == "climbing"  # nothing would be left
    kept, _ = units("Digging bucket, shovel, digging clothes")
    assert kept == ["digging bucket", "shovel", "digging clothes"]  # without a label, nothing to strip
    assert [u.text for u in suggested_units("Digging bucket, shovel, digging clothes", "digging").kept] == ["bucket", "shovel", "clothes"]
