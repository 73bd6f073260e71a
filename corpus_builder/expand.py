"""Candidate descriptions for each unit (supplementary B, step 2).

Single words get their WordNet glosses. A label's own motion unit (``clapping``, ``catch``) gets its
activity senses: the noun senses in ``noun.act`` (all noun senses when it has none) and the verb
senses of its verb. Without an LLM, a phrase (``eye makeup``) is described by the glosses of its
head noun (a phrase names a kind of its head); the LLM stage adds real phrase descriptions.
A word WordNet does not know (``didgeridoo``) has no candidate: the unit names itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .extract import Unit, compound
from .resources import wordnet


@dataclass(frozen=True)
class Candidate:
    description: str
    sense: str | None = None  # WordNet synset name when the description is its gloss


def _glosses(synsets) -> list[Candidate]:
    return [Candidate(s.definition(), s.name()) for s in synsets]


def head_word(phrase: str) -> str:
    """The last WordNet noun (compound or word) of a phrase: `mechanical bull` -> `bull`."""
    words = phrase.split()
    for i in range(len(words)):
        tail = words[i:]
        head = compound(tail) if len(tail) > 1 else tail[0]
        if head and wordnet().synsets(head.replace(" ", "_"), "n"):
            return head
    return words[-1]


def candidates(unit: Unit) -> list[Candidate]:
    """Every description considered for a unit, in WordNet's sense order."""
    wn = wordnet()
    key = unit.text.replace(" ", "_")
    if unit.kind == "phrase" and unit.source != "label":  # a phrase in a label is described by its head noun
        key = head_word(unit.text).replace(" ", "_")
    if unit.category_hint == "motion":
        nouns = wn.synsets(key, "n")
        acts = [s for s in nouns if s.lexname() == "noun.act"] or nouns
        verb = wn.morphy(key.split("_")[0], "v")
        verbs = wn.synsets(key, "v") or (wn.synsets(verb, "v") if verb else [])
        return _glosses(acts + verbs)
    return _glosses(wn.synsets(key, "n"))
