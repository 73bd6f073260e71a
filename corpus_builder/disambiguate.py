"""The Lesk family of word-sense disambiguation methods (supplementary B, step 3), as `WSDMethod`
objects (wsd.py): each scores every candidate of a unit given its context, and
``wsd.disambiguate`` picks the best. Every candidate gets its ``Evidence``:

- overlap: the context's content lemmas (label, sibling units, the LLM's answer) found in the
  sense's extended signature (gloss, examples, lemmas, topic domains, and the glosses and lemmas of
  its hypernyms, hyponyms, meronyms and holonyms); enhanced Lesk (Banerjee & Pedersen 2002);
- gloss overlap: the same test against the glosses of the context words themselves (Lesk 1986),
  which lets "eating" point at food senses through "take in solid food";
- prior: the Laplace-smoothed SemCor frequency of the sense (WordNet's tag counts);
- visual bias: the corpus is matched against video frames, so concrete senses (lexicographer
  files in VISIBLE_THING_FILES: artifacts, body, animals, food, places...) and, for a label's own
  motion unit, act senses get a bonus that is smaller than one overlapping lemma: it decides
  only between senses the context does not tell apart ("setting table": furniture over data);
- cosine (``lesk-embedding``, Basile et al. 2014): MiniLM similarity of "the UNIT in a video
  of LABEL" with "lemma, a kind of hypernym: gloss".

``LESK`` and ``LESK_EMBEDDING`` add these up with LESK_WEIGHTS and EMBEDDING_WEIGHTS;
``FIRST_SENSE`` and ``NLTK_LESK`` are the baselines. The ``t5`` method is in t5wsd.py, and
wsd_methods.py resolves a method's name (``auto`` included) into its object.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, replace
from typing import Sequence

from spacy.lang.en.stop_words import STOP_WORDS

from .categories import is_visible_root_kind
from .expand import Candidate, head_word
from .lexicon import ACT_FILE, PERSON_FILE, VISIBLE_THING_FILES
from .resources import wordnet
from .wsd import Context, Evidence, Item, Weights, WSDMethod

_WORD = re.compile(r"[a-z][a-z'-]*")

# Chosen on tests/data/wsd_gold.tsv (90 pairs) and checked on tests/data/wsd_heldout.tsv (62 pairs
# never used for tuning); benchmarks/wsd.py prints both. The visual bonus (0.8) stays below one
# overlapping lemma: it decides between senses the context does not separate.
LESK_WEIGHTS = Weights(prior=0.5, visual=0.8, gloss=0.05)
EMBEDDING_WEIGHTS = Weights(prior=1.0, visual=0.8, gloss=0.1, cosine=5.0)


def word_forms(text: str) -> list[set[str]]:
    """For each content word of a text (stop words dropped): the word and its noun and verb lemmas."""
    words = [w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in STOP_WORDS and len(w) > 2]
    return [set(_forms(w)) for w in words]


@functools.lru_cache(maxsize=None)
def _forms(word: str) -> frozenset[str]:
    """A word and its noun and verb lemmas (signatures read the same words thousands of times)."""
    wn = wordnet()
    return frozenset(filter(None, (word, wn.morphy(word, "n"), wn.morphy(word, "v"))))


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


@functools.lru_cache(maxsize=None)
def word_glosses(word: str) -> frozenset[str]:
    """Lemmas of the glosses of a context word's two most frequent verb and noun senses."""
    wn = wordnet()
    return frozenset(lemmas_of(" ".join(s.definition() for pos in ("v", "n") for s in wn.synsets(word, pos)[:2])))


def sense_prior(unit: str, senses: list[str | None]) -> list[float]:
    """Laplace-smoothed SemCor frequency of each sense for this unit's lemma (WordNet's tag counts);
    a phrase described by its head noun's senses (`mechanical bull`) counts the head's lemma."""
    wn = wordnet()
    synsets = [wn.synset(s) if s else None for s in senses]

    def counts(key: str) -> list[int]:
        return [sum(l.count() for l in s.lemmas() if l.name().lower() == key) if s else 0 for s in synsets]

    def named(key: str) -> bool:
        return any(l.name().lower() == key for s in synsets if s for l in s.lemmas())

    key = unit.replace(" ", "_").lower()
    if not named(key):
        key = head_word(unit).replace(" ", "_").lower()
    found = counts(key)
    total = sum(found) + len(found)
    return [(c + 1) / total for c in found]


def _context_forms(unit: str, context: Context) -> list[frozenset[str]]:
    """The context's distinct words (each as its set of forms), without those that are the unit itself."""
    own = lemmas_of(unit)
    words = word_forms(" ".join([context.label, *context.siblings, context.extra]))
    return list(dict.fromkeys(frozenset(f) for f in words if not f & own))


def is_visual(sense: str | None, motion: bool = False, people: bool = False) -> bool:
    """The visual bias: concrete senses (VISIBLE_THING_FILES) and the things filed elsewhere
    (lexicon.VISIBLE_ROOTS: a campfire, money, a present); act senses for a label's motion unit;
    person senses only for a word that names people first (`baby`), not for the agent or role
    senses of a thing's name (`head` the person in charge, `gutter` someone who guts fish)."""
    if sense is None:
        return False
    synset = wordnet().synset(sense)
    lexname = synset.lexname()
    return (lexname in VISIBLE_THING_FILES or (motion and lexname == ACT_FILE) or (people and lexname == PERSON_FILE)
            or is_visible_root_kind(synset))


def _bag(candidate: Candidate) -> frozenset[str]:
    """A candidate's Lesk signature: its sense's extended signature, or its description's lemmas."""
    return signature(candidate.sense) if candidate.sense else frozenset(lemmas_of(candidate.description))


def lexical_evidence(unit: str, context: Context, candidates: list[Candidate]) -> list[Evidence]:
    """Overlaps, prior and visual bias for every candidate (enhanced Lesk, Banerjee & Pedersen 2002)."""
    forms = _context_forms(unit, context)
    glossed = set().union(*(word_glosses(w) for f in forms for w in f)) - lemmas_of(unit)
    priors = sense_prior(unit, [c.sense for c in candidates])
    people = bool(candidates[0].sense) and wordnet().synset(candidates[0].sense).lexname() == PERSON_FILE  # names people first
    bags = [_bag(c) for c in candidates]
    return [
        Evidence(sum(bool(f & bag) for f in forms), len(glossed & bag), prior, is_visual(c.sense, context.motion, people))
        for c, bag, prior in zip(candidates, bags, priors)
    ]


def gloss_text(candidate: Candidate) -> str:
    """What the sentence encoder reads for a candidate: "lemma, a kind of hypernym: gloss", or the description."""
    if candidate.sense is None:
        return candidate.description
    synset = wordnet().synset(candidate.sense)
    parent = (synset.hypernyms() or synset.instance_hypernyms() or [None])[0]
    kind = f", a kind of {parent.lemma_names()[0].replace('_', ' ')}" if parent else ""
    return f"{synset.lemma_names()[0].replace('_', ' ')}{kind}: {synset.definition()}"


def _query_text(unit: str, context: Context) -> str:
    return f"the {unit} in a video of {context.label}"


def embedding_evidence_many(items: Sequence[Item]) -> list[list[Evidence]]:
    """For each item, lexical evidence plus the cosine of "the UNIT in a video of LABEL" with each
    gloss (Basile et al. 2014); the texts of all items go to the encoder in one call."""
    from .sentence_encoder import sentence_encoder

    encoder = sentence_encoder()
    queries = [_query_text(unit, context) for unit, context, _ in items]
    glosses = [[gloss_text(c) for c in cands] for _, _, cands in items]
    encoder.encode(queries + [g for gs in glosses for g in gs])  # fills the cache, batched by length
    evidence = []
    for (unit, context, cands), query, texts in zip(items, queries, glosses):
        cosines = (encoder.encode(texts) @ encoder.encode([query])[0]).tolist()
        evidence.append([replace(e, cosine=cos) for e, cos in zip(lexical_evidence(unit, context, cands), cosines)])
    return evidence


def embedding_evidence(unit: str, context: Context, candidates: list[Candidate]) -> list[Evidence]:
    """Lexical evidence plus the cosine of "the UNIT in a video of LABEL" with each gloss (Basile et al. 2014)."""
    return embedding_evidence_many([(unit, context, candidates)])[0]


@dataclass(frozen=True)
class Lesk(WSDMethod):
    """Enhanced Lesk: overlaps + prior + visual bias, weighted; with `embedding`, plus the MiniLM cosine."""

    name: str
    weights: Weights
    embedding: bool = False

    def scores(self, unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
        return self.scores_many([(unit, context, candidates)])[0]

    def scores_many(self, items: Sequence[Item]) -> list[list[float]]:
        """Scores of every item; with `embedding`, all their texts are encoded in one batched pass."""
        if self.embedding:
            evidence = embedding_evidence_many(items)
        else:
            evidence = [lexical_evidence(*item) for item in items]
        return [[e.score(self.weights) for e in ev] for ev in evidence]

    def record(self) -> dict[str, object]:
        """The weights, and for lesk-embedding the sentence encoder's folder."""
        from .sentence_encoder import sentence_encoder

        model = str(sentence_encoder().path) if self.embedding else None
        return {"method": self.name, "model": model, "weights": asdict(self.weights)}


class FirstSense(WSDMethod):
    """Baseline: WordNet's first (most frequent) sense wins."""

    name = "first-sense"

    def scores(self, unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
        return [1.0 / (i + 1) for i in range(len(candidates))]


class NltkLesk(WSDMethod):
    """Baseline: NLTK's own simplified Lesk (`nltk.wsd.lesk`): 1 for its pick, 0 for the rest."""

    name = "nltk-lesk"

    def scores(self, unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
        from nltk.wsd import lesk

        wn = wordnet()
        synsets = [wn.synset(c.sense) for c in candidates if c.sense]
        pick = lesk(context.label.split(), unit.replace(" ", "_"), synsets=synsets) if synsets else None
        return [float(pick is not None and c.sense == pick.name()) for c in candidates]


LESK = Lesk("lesk", LESK_WEIGHTS)
LESK_EMBEDDING = Lesk("lesk-embedding", EMBEDDING_WEIGHTS, embedding=True)
FIRST_SENSE = FirstSense()
NLTK_LESK = NltkLesk()
LESK_FAMILY: tuple[WSDMethod, ...] = (LESK, LESK_EMBEDDING, FIRST_SENSE, NLTK_LESK)  # in the order tables show them
