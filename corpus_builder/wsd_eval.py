"""Look inside word-sense disambiguation: explain one unit's choice, and measure the methods against
a gold table of (label, unit, correct synset) rows.

A unit is disambiguated exactly as `corpus build` would do it: the label is run through the
same extraction, so the unit gets the same kind, candidates (activity senses for a label's own
motion unit) and context (the label and its sibling units). A gold unit that extraction does not
produce is scored as a plain noun of that label.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .disambiguate import LESK_EMBEDDING, embedding_evidence, lexical_evidence
from .errors import CorpusError
from .expand import Candidate, candidates
from .extract import Unit, extract_units
from .resources import wordnet
from .wsd import Context, Evidence, Item, WSDMethod, disambiguate, disambiguate_many
from .wsd_methods import all_methods


@dataclass(frozen=True)
class GoldItem:
    """A gold row as the build would disambiguate it, with the sense it should choose."""

    label: str
    unit: Unit
    sense: str  # the correct synset
    context: Context
    candidates: list[Candidate]
    extracted: bool = True  # whether extraction makes this unit from its label (the build never disambiguates one it does not)

    @property
    def query(self) -> Item:
        """What a method disambiguates: (unit, context, candidates)."""
        return self.unit.text, self.context, self.candidates


@dataclass(frozen=True)
class Accuracy:
    """How a method did on a gold table."""

    method: str
    hits: int
    total: int
    seconds: float
    extracted_hits: int = 0  # hits on units extraction makes: a unit it never makes counts as a miss

    @property
    def accuracy(self) -> float:
        return self.hits / self.total

    @property
    def strict_accuracy(self) -> float:
        """The accuracy a build gets: a unit extraction never made is a miss."""
        return self.extracted_hits / self.total


def read_gold(path: str | Path) -> list[tuple[str, str, str]]:
    """Rows of a tab-separated gold table (`#` lines are comments); errors name the file and line."""
    path = Path(path)
    wn, rows = wordnet(), []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise CorpusError(f"{path}:{number}: expected 3 tab-separated fields (label, unit, synset), got {len(fields)}")
        try:
            wn.synset(fields[2])
        except Exception:
            raise CorpusError(f"{path}:{number}: {fields[2]!r} is not a WordNet synset name; write it like guitar.n.01") from None
        rows.append((fields[0], fields[1], fields[2]))
    return rows


def _find(units: list[Unit], text: str) -> Unit:
    if found := next((u for u in units if u.text == text), None):
        return found
    return Unit(text, "word" if " " not in text or wordnet().synsets(text.replace(" ", "_")) else "phrase", "pos")


def _item(label: str, units: list[Unit], text: str, sense: str = "") -> GoldItem:
    unit = _find(units, text)
    siblings = tuple(u.text for u in units if u.text != text)
    return GoldItem(label, unit, sense, Context(label, siblings, motion=unit.category_hint == "motion"), candidates(unit),
                    any(u.text == text for u in units))


def gold_items(rows: list[tuple[str, str, str]], nlp: Any) -> list[GoldItem]:
    """Gold rows as the build would see them: extracted unit, its candidates and its context."""
    found = dict(extract_units(sorted({label for label, _, _ in rows}), nlp))
    return [_item(label, found[label], text, sense) for label, text, sense in rows]


@dataclass(frozen=True)
class Explanation:
    item: GoldItem  # the unit in its label (no gold sense)
    extracted: bool  # whether extraction finds this unit in the label
    evidence: list[Evidence]  # per candidate; with cosines when the sentence encoder is available
    scores: dict[str, list[float]]  # method -> one score per candidate
    chosen: dict[str, int]  # method -> index of its choice


def explain(label: str, unit: str, nlp: Any, methods: list[WSDMethod] | None = None) -> Explanation:
    """Every candidate of `unit` in `label`, the evidence for it and each method's score (`methods`:
    the Lesk family by default; lesk-embedding is left out when the sentence encoder is missing)."""
    from alt_common.labels import normalize_label

    label = normalize_label(label)
    if not label:
        raise CorpusError("--label is empty; pass the action label the unit comes from, e.g. --label 'playing cricket'")
    units = next(extract_units([label], nlp))[1]
    item = _item(label, units, unit.strip().lower())
    if not item.candidates:
        raise CorpusError(f"{unit!r} has no WordNet sense to choose from; check the spelling (WordNet writes compounds like 'ice skate')")
    methods = methods or all_methods()
    try:
        evidence = embedding_evidence(*item.query)
    except CorpusError:
        evidence = lexical_evidence(*item.query)
        methods = [m for m in methods if m is not LESK_EMBEDDING]
    scores = {m.name: list(disambiguate(*item.query, m).scores) or [1.0] for m in methods}
    chosen = {m: max(range(len(s)), key=lambda i: (s[i], -i)) for m, s in scores.items()}
    return Explanation(item, any(u.text == item.unit.text for u in units), evidence, scores, chosen)


def evaluate(items: list[GoldItem], method: WSDMethod) -> Accuracy:
    """How many gold senses `method` chooses, and the time it takes (all items in one batch)."""
    started = time.perf_counter()
    choices = disambiguate_many([i.query for i in items], method)
    right = [choice.sense == i.sense for choice, i in zip(choices, items)]
    return Accuracy(method.name, sum(right), len(items), time.perf_counter() - started,
                    sum(hit and i.extracted for hit, i in zip(right, items)))
