"""Cleaning the LLM's entity items down to what a video frame can show (supplementary B asks the LLM
for "identifying visual characteristics"; real answers also loop, repeat, pad and drift into the abstract).

`clean_units` takes the units `parse.parse_entities` found in one label's answer, in order, and
applies these rules, each in its own function below:

1. `loop_start`: a list that names the same item a third time is looping; that item and every
   item after it are dropped ("loop"), since what a looping model adds is degenerate.
2. `split_pair`: a WordNet lemma made of two things ("bow and arrow", "fish and chips") becomes
   both things; a pair whose parts are not both things ("rock and roll") stays whole.
3. `strip_mood`: a leading adjective that names a feeling or a state of mind ("passionate
   gestures", "focused athlete", "happy child") is removed; the rest is judged.
4. `duplicate_key`: near-duplicates are one item: case, spaces and hyphens ("tooth brush" and
   "toothbrush"), plural and singular (parse singularises heads), and a generic last word
   (`GENERIC_TAILS`: "kitchen area" and "kitchen", "drum set" and "drum"). The first one stays.
5. `is_placeholder`: a category name standing for its examples (`lexicon.PLACEHOLDER_NOUNS`:
   "Body parts (e.g., hands, feet)", "Ingredients such as basil", "fencing equipment") is dropped;
   parse has already turned the examples into items of their own, so the placeholder is in effect
   expanded.
6. `is_sensory`: sounds, music, smells and tastes (WordNet senses under `SENSORY_ROOTS`) are dropped.
7. `not_visual`: judged with WordNet on the whole unit when it is a lemma, else on its head noun,
   plus its other nouns. A noun is visual when one of its first three senses is in a concrete
   lexicographer file (`lexicon.SEEABLE_FILES`: artifact, body, food, person, location, group,
   ...), or when it names a visible motion: a noun.act/noun.event/noun.communication sense and a
   verb reading in `lexicon.MOTION_VERB_FILES` (verb.motion, verb.contact, verb.body, ...: "leap",
   "kick", "splash", "smile").
   Dropped otherwise, with its lexicographer file as the reason (noun.feeling: "thrill",
   noun.attribute: "precision", noun.state, noun.cognition, noun.communication, noun.time,
   noun.motive, noun.event, noun.act: "teamwork"). A single word whose first sense is an attribute
   ("beauty") is dropped even when a rarer sense is concrete, and a word whose first sense is an
   attribute, a time or a feeling is no motion ("speed", "thrill"). Adjectives alone
   ("colorful") are dropped; a word WordNet does not know is kept (mostly names of things).
   `NOT_SEEN` lists the few physical things no camera sees ("adrenaline", "air"), as a unit or as
   a modifier ("adrenaline rush").

Each drop is recorded with its rule as the reason, so a user can audit it in the manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from .extract import compound
from .lexicon import (
    ATTRIBUTE_FILE, MOOD_NOUN_FILES, MOOD_VERB_FILES, MOTION_NOUN_FILES, MOTION_VERB_FILES, NOT_MOTION_FIRST_FILES,
    PLACEHOLDER_NOUNS, SEEABLE_FILES,
)
from .parse import ParsedUnit
from .resources import wordnet

LOOP_REPEATS = 3  # the occurrence of one item that marks the list as looping
SENSES = 3  # how many of a noun's most frequent senses are looked at
GENERIC_TAILS = frozenset("equipment gear kit set area space attire apparel".split())
SENSORY_ROOTS = frozenset(
    "sound.n.01 sound.n.04 sound_property.n.01 noise.n.01 auditory_communication.n.01 "
    "olfactory_property.n.01 smell.n.01 sensation.n.01 taste_property.n.01".split()
)
NOT_SEEN = frozenset("adrenaline epinephrine air oxygen energy heat calorie gravity".split())


@dataclass(frozen=True)
class DroppedUnit:
    """An item the cleaner removed, and why."""

    text: str
    reason: str


@dataclass(frozen=True)
class Cleaned:
    kept: list[ParsedUnit]
    dropped: list[DroppedUnit]


# ---------------------------------------------------------------- WordNet helpers


def _nouns(text: str) -> list[Any]:
    """The noun senses of a word or lemma, most frequent first."""
    return wordnet().synsets(text.replace(" ", "_"), "n")


def _verb_lexnames(word: str) -> set[str]:
    """Lexicographer files of every verb reading of a word ("dribbling" -> dribble's)."""
    wn = wordnet()
    base = wn.morphy(word, "v") or word
    return {s.lexname() for s in wn.synsets(base, "v")}


def _adjective_lexnames(word: str) -> set[str]:
    """Files of the nouns an adjective derives from ("passionate" -> noun.feeling)."""
    names = set()
    for synset in wordnet().synsets(word, "a") + wordnet().synsets(word, "s"):
        for lemma in synset.lemmas():
            names |= {d.synset().lexname() for d in lemma.derivationally_related_forms() + lemma.pertainyms()}
    return names


def _is_adjective(word: str) -> bool:
    return bool(wordnet().synsets(word, "a") or wordnet().synsets(word, "s"))


# ---------------------------------------------------------------- rules


def loop_start(units: list[ParsedUnit]) -> int:
    """Index of the item where the list starts looping (its `LOOP_REPEATS`th repeat), or len(units)."""
    counts: dict[str, int] = {}
    for i, unit in enumerate(units):
        key = duplicate_key(unit.text)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] == LOOP_REPEATS:
            return i
    return len(units)


def split_pair(unit: ParsedUnit) -> list[ParsedUnit]:
    """"bow and arrow" -> bow, arrow when both parts are things (concrete nouns); else the unit."""
    parts = unit.text.split(" and ")
    if len(parts) != 2 or not all(_concrete(p) for p in parts):
        return [unit]
    return [replace(unit, text=p) for p in parts]


def strip_mood(text: str) -> str:
    """Remove leading adjectives naming a feeling or state of mind: "passionate gesture" -> "gesture"."""
    words = text.split()
    while len(words) > 1 and _is_mood(words[0]):
        words = words[1:]
    return " ".join(words)


def duplicate_key(text: str) -> str:
    """What near-duplicates share: no case, spaces or hyphens, and no generic last word."""
    words = text.lower().split()
    if len(words) > 1 and words[-1] in GENERIC_TAILS:
        words = words[:-1]
    return re.sub(r"[\s\-]+", "", " ".join(words))


def is_placeholder(text: str) -> bool:
    """A category name rather than a thing: "body part", "ingredient", "fencing equipment"."""
    words = text.split()
    return text in PLACEHOLDER_NOUNS or words[-1] in PLACEHOLDER_NOUNS or (words[-1] + "s") in PLACEHOLDER_NOUNS


def is_sensory(text: str) -> bool:
    """A sound, music, smell or taste: the first sense of the unit (or its head) is under `SENSORY_ROOTS`."""
    senses = _nouns(text) or _nouns(text.split()[-1])
    if not senses:
        return False
    first = senses[0]
    names = {first.name()} | {h.name() for h in first.closure(lambda s: s.hypernyms())}
    return bool(names & SENSORY_ROOTS)


def not_visual(text: str) -> str | None:
    """Why no frame can show this unit (a reason), or None when it is visual. See the module docstring."""
    words = text.split()
    if text in NOT_SEEN or any(w in NOT_SEEN for w in words):
        return "not visible"
    lemma = text if len(words) == 1 else compound(words)
    if lemma is not None:
        return _word_reason(lemma, single=len(words) == 1)
    return _word_reason(words[-1], single=False)


# ---------------------------------------------------------------- judgements


def _is_mood(word: str) -> bool:
    """An adjective or participle of feeling or mind: "passionate", "confident", "focused", "excited"."""
    verb = wordnet().morphy(word, "v")
    if word.endswith("ed") and verb not in (None, word):
        return bool(_verb_lexnames(verb) & MOOD_VERB_FILES)
    return not _nouns(word) and bool(_adjective_lexnames(word) & MOOD_NOUN_FILES)


def _concrete(word: str) -> bool:
    return any(s.lexname() in SEEABLE_FILES for s in _nouns(word)[:SENSES])


def _visible_motion(word: str, senses: list[Any]) -> bool:
    """A motion noun ("leap", "kick") or gerund ("dribbling") whose verb is a visible motion; not a
    noun whose first sense is a quality, a time or a feeling ("speed", "thrill")."""
    if senses and senses[0].lexname() in NOT_MOTION_FIRST_FILES:
        return False
    is_act = not senses or any(s.lexname() in MOTION_NOUN_FILES for s in senses)
    return is_act and bool(_verb_lexnames(word) & MOTION_VERB_FILES)


def _word_reason(word: str, single: bool) -> str | None:
    """The drop reason for one word or WordNet lemma, or None when it names something visible."""
    senses = _nouns(word)[:SENSES]
    if not senses:
        if _verb_lexnames(word):
            return None if _visible_motion(word, senses) else "not a visible motion"
        return "adjective, not a thing" if _is_adjective(word) else None
    first = senses[0].lexname()
    if single and first == ATTRIBUTE_FILE:
        return f"abstract ({first})"
    if any(s.lexname() in SEEABLE_FILES for s in senses) or _visible_motion(word, senses):
        return None
    return f"abstract ({first})"


def _judge(unit: ParsedUnit) -> str | None:
    """The first rule that drops this unit, as a reason; None to keep it."""
    if is_placeholder(unit.text):
        return "placeholder for its examples"
    if is_sensory(unit.text):
        return "sound or smell"
    return not_visual(unit.text)


def capped(cleaned: Cleaned, most: int, reason: str) -> Cleaned:
    """At most `most` kept units; the rest are dropped (and recorded) with `reason`."""
    if len(cleaned.kept) <= most:
        return cleaned
    return Cleaned(cleaned.kept[:most], cleaned.dropped + [DroppedUnit(u.text, reason) for u in cleaned.kept[most:]])


def clean_units(units: list[ParsedUnit]) -> Cleaned:
    """One label's parsed units without loops, duplicates, placeholders and non-visual items."""
    end = loop_start(units)
    kept: list[ParsedUnit] = []
    dropped = [DroppedUnit(u.text, "loop") for u in units[end:]]
    seen: dict[str, str] = {}
    for unit in (p for u in units[:end] for p in split_pair(u)):
        unit = replace(unit, text=strip_mood(unit.text))
        key = duplicate_key(unit.text)
        if key in seen:
            dropped.append(DroppedUnit(unit.text, f"duplicate of {seen[key]!r}"))
            continue
        seen[key] = unit.text
        reason = _judge(unit)
        if reason is None:
            kept.append(unit)
        else:
            dropped.append(DroppedUnit(unit.text, reason))
    return Cleaned(kept, dropped)
