"""T5 word-sense disambiguation on real `transformers` T5 models, built here without any download:
a SentencePiece-style Unigram tokenizer trained on WordNet glosses and a tiny T5, saved with
`save_pretrained` and loaded back through `T5Disambiguator`'s own loading path. Two models: one
with random weights, and one trained for a few steps to always answer CRICKET_GAME, so that the
greedy answer names a candidate and its bonus can be checked."""

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers.models import Unigram
from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

from corpus_builder.errors import CorpusError
from corpus_builder.expand import Candidate
from corpus_builder.t5wsd import ANSWER_BONUS, T5Disambiguator, match_answer, t5_prompt
from corpus_builder.wsd import Context
from corpus_builder.wsd_methods import all_methods, resolve_method

CRICKET_GAME = "a game played with a ball and bat by two teams of 11 players"
CRICKET = [
    Candidate("leaping insect; male makes chirping noises", "cricket.n.01"),
    Candidate(CRICKET_GAME, "cricket.n.02"),
]
BAT = ["a club used for hitting a ball in various games", "nocturnal mouselike mammal with membranous wings",
       "a turn trying to get a hit"]
POOL = ["an excavation that is filled with water", "any communal combination of funds", "a small lake",
        "something resembling a pool of liquid"]
ITEMS = [  # different numbers of candidates, so that batches are padded
    ("cricket", Context("playing cricket", ("bat", "ball")), CRICKET),
    ("bat", Context("playing cricket"), [Candidate(d) for d in BAT]),
    ("ball", Context("juggling balls"), [Candidate("round object that is hit or thrown or kicked in games"),
                                         Candidate("a lavish dance requiring formal attire")]),
    ("pool", Context("swimming in a pool", ("water",)), [Candidate(d) for d in POOL]),
    ("cricket", Context("cricket chirping"), list(reversed(CRICKET))),
]


def train_tokenizer(texts: list[str]) -> T5Tokenizer:
    """A T5 tokenizer (Unigram, <pad>=0 </s>=1 <unk>=2, no sentinels) trained on `texts`."""
    backend = Tokenizer(Unigram())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    trainer = trainers.UnigramTrainer(vocab_size=1000, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    backend.train_from_iterator(texts, trainer)
    vocab = [tuple(piece) for piece in json.loads(backend.to_str())["model"]["vocab"]]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def tiny_t5(vocab_size: int) -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=vocab_size, d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2, num_heads=2,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )
    return T5ForConditionalGeneration(config).eval()


def train_to_answer(model: T5ForConditionalGeneration, tokenizer: T5Tokenizer, answer: str) -> None:
    """Teach the model to answer `answer` to every prompt of ITEMS (60 Adam steps, about 2 s)."""
    batch = tokenizer([t5_prompt(*item) for item in ITEMS], padding=True, return_tensors="pt")
    labels = tokenizer([answer] * len(ITEMS), return_tensors="pt")["input_ids"]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        optimiser.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimiser.step()
    model.eval()


@pytest.fixture(scope="module")
def tokenizer(wn) -> T5Tokenizer:
    glosses = [s.definition() for s in itertools.islice(wn.all_synsets("n"), 3000)]
    return train_tokenizer(glosses + [t5_prompt(*item) for item in ITEMS])


def save(model: T5ForConditionalGeneration, tokenizer: T5Tokenizer, folder: Path) -> str:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def random_t5(tmp_path_factory, tokenizer) -> str:
    return save(tiny_t5(len(tokenizer)), tokenizer, tmp_path_factory.mktemp("random-t5"))


@pytest.fixture(scope="module")
def trained_t5(tmp_path_factory, tokenizer) -> str:
    model = tiny_t5(len(tokenizer))
    train_to_answer(model, tokenizer, CRICKET_GAME)
    return save(model, tokenizer, tmp_path_factory.mktemp("trained-t5"))


@torch.inference_mode()
def reference(wsd: T5Disambiguator, unit: str, context: Context, cands: list[Candidate]) -> tuple[str, list[float]]:
    """The greedy answer and each candidate's mean token log-probability, computed one at a time
    from the model's own forward pass with `labels` (no batching, no shared encoder states)."""
    tok, model = wsd.tokenizer, wsd.model
    prompt = tok(t5_prompt(unit, context, cands), return_tensors="pt")
    output = model.generate(**prompt, max_new_tokens=wsd.max_new_tokens, do_sample=False)
    log_probs = []
    for cand in cands:
        labels = tok(cand.description, return_tensors="pt")["input_ids"]
        logits = model(**prompt, labels=labels).logits
        log_probs.append(float(torch.log_softmax(logits, -1).gather(-1, labels.unsqueeze(-1)).mean()))
    return tok.decode(output[0], skip_special_tokens=True), log_probs


def expected_scores(wsd: T5Disambiguator, unit: str, context: Context, cands: list[Candidate]) -> list[float]:
    """The reference log-probabilities, plus the bonus for the candidate the reference answer names."""
    answer, log_probs = reference(wsd, unit, context, cands)
    chosen = match_answer(answer, cands)
    return [lp + ANSWER_BONUS * (i == chosen) for i, lp in enumerate(log_probs)]


def test_prompt_is_the_model_cards_format():
    three = [Candidate("an insect"), Candidate("a game"), Candidate('a "quoted" gloss')]
    assert t5_prompt("cricket", Context("playing cricket", ("bat", "ball")), three) == (
        'question: which description describes the word " cricket " best in the following context? '
        'descriptions: [ " an insect " , " a game " , or " a "quoted" gloss " ] '
        "context: playing cricket (bat, ball)"
    )
    two = [Candidate("a club"), Candidate("a mammal")]
    assert t5_prompt("bat", Context("playing cricket", extra="not used"), two) == (
        'question: which description describes the word " bat " best in the following context? '
        'descriptions: [ " a club " , or " a mammal " ] context: playing cricket'
    )


def test_answer_maps_to_a_candidate_exactly_fuzzily_or_not_at_all():
    cands = [Candidate("leaping insect; male makes chirping noises"), Candidate("A game played with a ball and bat")]
    assert match_answer("leaping insect; male makes chirping noises", cands) == 0
    assert match_answer('  " a GAME played with a  ball and bat "', cands) == 1  # case, quotes, white space
    assert match_answer("leaping insects; males make chirping noise", cands) == 0  # fuzzy: ratio 0.95
    assert match_answer("a game played", cands) == 1  # a cut-short answer, ratio 0.57
    assert match_answer("a game", cands) is None  # ratio 0.31 < 0.5
    assert match_answer("the capital of France", cands) is None
    assert match_answer("anything", []) is None


def test_scores_one_finite_float_per_candidate_deterministic(random_t5):
    wsd = T5Disambiguator(random_t5)
    unit, context, cands = ITEMS[3]
    first, second = wsd.scores(unit, context, cands), wsd.scores(unit, context, cands)
    assert len(first) == len(cands) and all(isinstance(s, float) and math.isfinite(s) for s in first)
    assert first == second


def test_greedy_answer_wins_when_it_names_a_candidate(trained_t5):
    wsd = T5Disambiguator(trained_t5)
    for unit, context, cands in (ITEMS[0], ITEMS[4]):
        answer, log_probs = reference(wsd, unit, context, cands)
        assert answer == CRICKET_GAME  # what the model was trained to say
        scores = wsd.scores(unit, context, cands)
        best = scores.index(max(scores))
        assert cands[best].description == CRICKET_GAME == cands[match_answer(answer, cands)].description
        assert scores[best] - log_probs[best] == pytest.approx(ANSWER_BONUS, abs=1e-4)


@pytest.mark.parametrize("model", ["random_t5", "trained_t5"])
def test_scores_equal_an_independent_computation(model, request):
    wsd = T5Disambiguator(request.getfixturevalue(model))
    for item in ITEMS:
        assert wsd.scores(*item) == pytest.approx(expected_scores(wsd, *item), abs=1e-4)


@pytest.mark.parametrize("model", ["random_t5", "trained_t5"])
def test_batched_scores_equal_one_by_one(model, request):
    folder = request.getfixturevalue(model)
    batched = T5Disambiguator(folder, batch_size=2).scores_many(ITEMS)
    single = T5Disambiguator(folder, batch_size=1)
    assert [len(s) for s in batched] == [len(cands) for _, _, cands in ITEMS]
    for scores, item in zip(batched, ITEMS):
        assert torch.allclose(torch.tensor(scores), torch.tensor(single.scores(*item)), atol=1e-4)


def test_items_without_candidates_get_no_scores(random_t5):
    wsd = T5Disambiguator(random_t5, batch_size=2)
    scores = wsd.scores_many([("didgeridoo", Context("playing didgeridoo"), []), ITEMS[0], ("x", Context("x"), [])])
    assert [len(s) for s in scores] == [0, 2, 0]
    assert scores[1] == pytest.approx(wsd.scores(*ITEMS[0]), abs=1e-4)


def test_a_build_scores_all_its_units_in_one_batched_call(random_t5, monkeypatch):
    from corpus_builder import build_corpus

    calls = []
    batched = T5Disambiguator.scores_many

    def counted(self, items):
        calls.append(len(items))
        return batched(self, items)

    monkeypatch.setattr(T5Disambiguator, "scores_many", counted)
    monkeypatch.setattr(T5Disambiguator, "scores", lambda *args: pytest.fail("scored one unit at a time"))
    df = build_corpus(["playing cricket", "shaking hands", "juggling balls"], wsd="t5", t5_model=random_t5, body_parts=False, related=False)
    assert calls == [int((df["wsd_method"] == "t5").sum())] and calls[0] >= 3


def test_a_truncated_answer_still_gives_finite_scores(trained_t5):
    wsd = T5Disambiguator(trained_t5, max_new_tokens=2)
    answer, log_probs = reference(wsd, *ITEMS[0])
    assert answer != CRICKET_GAME and match_answer(answer, CRICKET) is None  # cut short: names nothing
    scores = wsd.scores(*ITEMS[0])
    assert all(math.isfinite(s) for s in scores)
    assert scores == pytest.approx(log_probs, abs=1e-4)  # no bonus: the likelihood alone decides


def test_models_are_loaded_once_per_folder_and_device(random_t5):
    assert T5Disambiguator(random_t5).model is T5Disambiguator(random_t5, batch_size=3).model


def test_record_names_the_model_as_given(random_t5):
    assert T5Disambiguator(random_t5).record() == {"method": "t5", "model": random_t5, "weights": None}


def test_missing_or_empty_model_folder_is_a_user_error(tmp_path):
    for folder, reason in [(tmp_path / "nowhere", "no such folder"), (tmp_path, "no config.json in that folder")]:
        with pytest.raises(CorpusError) as exc:
            T5Disambiguator(str(folder))
        message = str(exc.value)
        assert message.startswith(f"cannot load the T5 model {str(folder)!r} ({reason}); ")
        assert message.endswith("pass --t5-model /path/to/a/local/model/folder") and "\n" not in message


def test_build_with_wsd_t5_through_the_cli(run_cli, random_t5, tmp_path):
    from corpus_builder import read_corpus

    labels = tmp_path / "labels.txt"
    labels.write_text("playing cricket\nshaking hands\n")
    out = tmp_path / "corpus.parquet"
    code, _, stderr = run_cli("build", "-l", labels, "-o", out, "--no-llm", "--wsd", "t5", "--t5-model", random_t5)
    assert code == 0, stderr
    df = read_corpus(out)
    cricket = df[df["unit"] == "cricket"].iloc[0]
    assert cricket["wsd_method"] == "t5" and len(cricket["candidates"]) == 2
    manifest = df.attrs["manifest"]
    assert manifest["options"]["t5_model"] == random_t5
    assert manifest["wsd"] == {"method": "t5", "model": random_t5, "weights": None}


def test_auto_with_a_t5_model_is_t5(run_cli, random_t5, tmp_path):
    from corpus_builder import read_corpus

    assert resolve_method("auto", random_t5).name == "t5" and "t5" in [m.name for m in all_methods(random_t5)]
    labels = tmp_path / "labels.txt"
    labels.write_text("playing cricket\n")
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--no-llm", "--t5-model", random_t5)
    assert code == 0, stderr
    manifest = read_corpus(tmp_path / "c.parquet").attrs["manifest"]
    assert manifest["options"]["wsd"] == "auto" and manifest["wsd"]["method"] == "t5"


def test_wsd_t5_without_a_model_is_a_user_error(run_cli, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("playing cricket\n")
    code, _, stderr = run_cli("build", "-l", labels, "-o", tmp_path / "c.parquet", "--no-llm", "--wsd", "t5")
    assert code == 2 and "--wsd t5 needs a model: pass --t5-model" in stderr
