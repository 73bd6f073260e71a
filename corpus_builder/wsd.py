"""What every word-sense disambiguation method shares: the context a unit is disambiguated in, the
evidence and weights the Lesk family scores with, the choice a method makes, the `WSDMethod`
interface, and `disambiguate`, which picks the best candidate by a method's scores.

The methods themselves live in disambiguate.py (the Lesk family and its baselines) and t5wsd.py (a
T5 word-sense model); wsd_methods.py finds one by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Sequence

from .expand import Candidate


@dataclass(frozen=True)
class Weights:
    """How the evidence for a candidate adds up to its score; the lexical overlap counts 1 a lemma."""

    prior: float
    visual: float
    gloss: float
    cosine: float = 0.0


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
        """The evidence added up with the weights `w`."""
        return self.overlap + w.prior * self.prior + w.visual * self.visual + w.gloss * self.gloss_overlap + w.cosine * (self.cosine or 0.0)


@dataclass(frozen=True)
class Choice:
    """The candidate a method chose for a unit, with its score and every candidate's."""

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


Item = tuple[str, Context, list[Candidate]]  # a unit, its context and its candidates


class WSDMethod(ABC):
    """A way to score the candidate senses of a unit in its context; higher is better."""

    name: str  # what --wsd calls it and what the corpus's wsd_method column says

    @abstractmethod
    def scores(self, unit: str, context: Context, candidates: list[Candidate]) -> list[float]:
        """One score per candidate, in candidate order."""

    def scores_many(self, items: Sequence[Item]) -> list[list[float]]:
        """`scores` for each item, in order; a method that can batch its work overrides this."""
        return [self.scores(*item) for item in items]

    def record(self) -> dict[str, object]:
        """What the manifest says about the method: its name, model and weights."""
        return {"method": self.name, "model": None, "weights": None}


def _choose(candidates: list[Candidate], scores: list[float], method: str) -> Choice:
    """The best-scoring candidate (the first among equals)."""
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
    return Choice(candidates[best].description, candidates[best].sense, float(scores[best]), method, tuple(scores))


def _uncontested(unit: str, candidates: list[Candidate]) -> Choice:
    """The choice without a choice to make: the only candidate, or the unit naming itself."""
    if not candidates:
        return Choice(unit, None, 0.0, "single-candidate", ())
    return Choice(candidates[0].description, candidates[0].sense, 1.0, "single-candidate", (1.0,))


def disambiguate_many(items: Sequence[Item], method: WSDMethod) -> list[Choice]:
    """The choice for each item: every unit with two or more candidates is scored by `method`, all in
    one `scores_many` call (so a batching method batches across units), and gets its best candidate."""
    contested = [item for item in items if len(item[2]) > 1]
    scored = iter(method.scores_many(contested))
    return [
        _choose(cands, next(scored), method.name) if len(cands) > 1 else _uncontested(unit, cands)
        for unit, _, cands in items
    ]


def disambiguate(unit: str, context: Context, candidates: list[Candidate], method: WSDMethod) -> Choice:
    """Score every candidate of one unit with `method` and return the best (the first among equals)."""
    return disambiguate_many([(unit, context, candidates)], method)[0]
