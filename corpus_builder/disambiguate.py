"""Word-sense disambiguation: choose one description per unit (supplementary B, step 3).

Methods are pluggable: each scores every candidate of a unit given its context, and
``disambiguate`` picks the best. Every candidate gets its ``Evidence``:

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

``lesk`` and ``lesk-embedding`` add these up with LESK_WEIGHTS and EMBEDDING_WEIGHTS;
``first-sense`` and ``nltk-lesk`` are the baselines; ``t5`` (t5wsd.py) asks a T5 word-sense
model; ``auto`` picks the best available (``resolve_method``).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from spacy.lang.en.stop_words import STOP_WORDS

from .errors import CorpusError
from .expand import Candidate, head_word
from .lexicon import ACT_FILE, PERSON_FILE, VISIBLE_THING_FILES
from .resources import wordnet

log = logging.getLogger(__name__)
_WORD = re.compile(r"[a-z][a-z'-]*")


@dataclass(frozen=True)
class Weights:
    """How the evidence for a candidate adds up to its score; the lexical overlap counts 1 a lemma."""

    prior: float
    visual: float
    gloss: float
    cosine: float = 0.0


# Chosen on tests/data/wsd_gold.tsv (90 pairs) and checked on tests/data/wsd_heldout.tsv (62 pairs
# never used for tuning); benchmarks/wsd.py prints both. The visual bonus (0.8) stays below one
# overlapping lemma: it decides between senses the context does not separate.
LESK_WEIGHTS = Weights(prior=0.5, visual=0.8, gloss=0.05)
EMBEDDING_WEIGHTS = Weights(prior=1.0, visual=0.8, gloss=0.1, cosine=5.0)


@dataclass(frozen=True)
class Context:
    """What a unit is disambiguated against: its action label and the label's other units."""

    label: str
    siblings: tuple[str, ...] = ()
    extra: str = ""  # e.g. the LLM's answer for the label
    motion: bool = False  # the unit is the label's own action (its act senses are what a frame shows)


@dataclass(frozen=True)
class Evidence:
    """What speaks for one candidate sense of a unit in its context."""

    overlap: int  # context words (any of their forms) found in the sense's extended signature
    gloss_overlap: int  # lemmas of the context words' own glosses found there (Lesk's original test)
    prior: float  # SemCor frequency of the sense for this lemma
    visual: bool  # a thing a frame shows: a concrete sense, or an act sense for a motion unit
    cosine: float | None = None  # sentence-encoder similarity of context and gloss (lesk-embedding)

    def score(self, w: Weights) -> float:
        return self.overlap + w.prior * self.prior + w.visual * self.visual + w.gloss * self.gloss_overlap + w.cosine * (self.cosine or 0.0)


@dataclass(frozen=True)
class Choice:
    description: str
    sense: str | None
    score: float
    method: str
    scores: tuple[float, ...] = field(default=())  # one per candidate, in candidate order

    @property
    def margin(self) -> float | None:
        """How far the choice is ahead of the runner-up, in the method's score units; None without one."""
        if len(self.scores) < 2:
            return None
        first, second = sorted(self.scores, reverse=True)[:2]
        return first - second


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
    """The visual bias: concrete senses (VISIBLE_THING_FILES); act senses for a label's motion unit;
    person senses only for a word that names people first (`baby`), not for the agent or role
    senses of a thing's name (`head` the person in charge, `gutter` someone who guts fish)."""
    if sense is None:
        return False
    lexname = wordnet().synset(sense).lexname()
    return lexname in VISIBLE_THING_FILES or (motion and lexname == ACT_FILE) or (people and lexname == PERSON_FILE)


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


def embedding_evidence(unit: str, context: Context, candidates: list[Candidate]) -> list[Evidence]:
    """Lexical evidence plus the cosine of "the UNIT in a video of LABEL" with each gloss (Basile et al. 2014)."""
    from .sentence_encoder import sentence_encoder

    encoder = sentence_encoder()
    query = encoder.encode([f"the {unit} in a video of {context.label}"])[0]
    cosines = (encoder.encode([gloss_text(c) for c in candidates]) @ query).tolist()
    lexical = lexical_evidence(unit, context, candidates)
    return [replace(e, cosine=cos) for e, cos in zip(lexical, cosines)]


def lesk_scores(unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
    """Enhanced Lesk: overlaps + prior + visual bias, per candidate (LESK_WEIGHTS)."""
    return [e.score(LESK_WEIGHTS) for e in lexical_evidence(unit, context, candidates)]


def lesk_embedding_scores(unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
    """Embedding Lesk: the enhanced Lesk evidence plus the MiniLM cosine (EMBEDDING_WEIGHTS)."""
    return [e.score(EMBEDDING_WEIGHTS) for e in embedding_evidence(unit, context, candidates)]


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
        raise CorpusError(f"unknown WSD method {method!r}; choose one of: auto, {', '.join(METHODS)}")


def resolve_method(method: str, t5_model: str | None = None) -> str:
    """The method `auto` stands for: `t5` with a T5 model, else `lesk-embedding` when the sentence
    encoder loads, else `lesk`. Registers the T5 model when one is given; other methods pass through."""
    if t5_model:
        use_t5(t5_model)
    if method != "auto":
        check_method(method)
        return method
    if t5_model:
        return "t5"
    from .sentence_encoder import sentence_encoder

    try:
        sentence_encoder()
    except CorpusError as exc:
        log.warning("--wsd auto: using lesk, the sentence encoder is not available (%s)", exc)
        return "lesk"
    return "lesk-embedding"


def method_record(method: str, t5_model: str | None = None) -> dict[str, object]:
    """What the manifest says about a (resolved) method: its model and weights."""
    record: dict[str, object] = {"method": method, "model": None, "weights": None}
    if method == "t5":
        record["model"] = t5_model
    elif method in ("lesk", "lesk-embedding"):
        weights = LESK_WEIGHTS if method == "lesk" else EMBEDDING_WEIGHTS
        record["weights"] = asdict(weights)
        if method == "lesk-embedding":
            from .sentence_encoder import sentence_encoder

            record["model"] = str(sentence_encoder().path)
    return record


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
