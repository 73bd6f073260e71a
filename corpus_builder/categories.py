"""Entity categories (supplementary Table C4: object, body, scene, motion; plus role and other)
and the default body parts every corpus carries."""

from __future__ import annotations

from typing import Any

from .lexicon import ACT_FILE, BODY_FILE, EVENT_FILE, GROUP_FILE, NOT_PLACE_ROOTS, OBJECT_FILES, PERSON_FILE, SCENE_FILES, THING_ROOTS, VISIBLE_ROOTS
from .resources import wordnet

CATEGORIES = ("object", "body", "scene", "motion", "role", "other")

# Units every corpus gets, with the WordNet sense whose gloss describes them.
DEFAULT_BODY_PARTS = {
    "head": "head.n.01",
    "face": "face.n.01",
    "eye": "eye.n.01",
    "mouth": "mouth.n.02",
    "hair": "hair.n.01",
    "neck": "neck.n.01",
    "shoulder": "shoulder.n.01",
    "torso": "torso.n.01",
    "back": "back.n.01",
    "arm": "arm.n.01",
    "hand": "hand.n.01",
    "finger": "finger.n.01",
    "leg": "leg.n.01",
    "knee": "knee.n.01",
    "foot": "foot.n.01",
}

_BY_LEXNAME = {
    BODY_FILE: "body",
    PERSON_FILE: "role",
    ACT_FILE: "motion",
    EVENT_FILE: "motion",
    **dict.fromkeys(sorted(SCENE_FILES), "scene"),
    **dict.fromkeys(sorted(OBJECT_FILES), "object"),
}
# Hypernyms that make an artifact or natural object a place: rooms, buildings, facilities, roads and
# paths (not every way.n.06: a ladder or a gutter is a thing), floors, landforms, water, and the
# tracts a game is played on (courts, fields); but never a container (a drawer is a storage space).
_SCENE_HYPERNYMS = frozenset(
    "area.n.05 building.n.01 facility.n.01 road.n.01 path.n.02 horizontal_surface.n.01 "
    "geological_formation.n.01 body_of_water.n.01 land.n.04 geographical_area.n.01".split()
)
_WHOLE = "whole.n.02"  # an assemblage of parts regarded as a single entity: every physical thing
_PEOPLE_HYPERNYMS = frozenset({"social_group.n.01", "people.n.01"})
_PEOPLE_WORDS = frozenset({"people", "persons"})  # a group glossed as made of them is people ("a formation of people or things")


def kinds(synset: Any) -> set[str]:
    """A sense's name and those of all its hypernyms (instance hypernyms included)."""
    return {synset.name()} | {h.name() for h in synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms())}


def is_visible_root_kind(synset: Any) -> bool:
    """Is a sense one of the things WordNet files outside the object files that get the WSD visual bias (lexicon.VISIBLE_ROOTS)?"""
    return bool(kinds(synset) & VISIBLE_ROOTS)


def is_physical_top(synset: Any) -> bool:
    """Is a sense in noun.Tops a physical thing (plant, animal: under whole.n.02), not an abstraction?"""
    return synset.lexname() == "noun.Tops" and wordnet().synset(_WHOLE) in synset.closure(lambda s: s.hypernyms())


def category_of(sense: str | None, hint: str | None = None, llm_hint: str | None = None) -> str:
    """The category of an entity from its WordNet sense (lexicographer file, then hypernyms).

    `hint` (the label's own motion unit) always wins; the LLM's grouping (`llm_hint`) is used when
    WordNet gives none: no sense, or only "other".
    """
    if hint:
        return hint
    if sense is None:
        return llm_hint or "object"  # a noun WordNet does not know: almost always a thing (didgeridoo)
    synset: Any = wordnet().synset(sense)
    if synset.pos() == "v":
        return "motion"
    hypernyms = kinds(synset)
    lexname = synset.lexname()
    if lexname == GROUP_FILE:
        people = hypernyms & _PEOPLE_HYPERNYMS or _PEOPLE_WORDS & set(synset.definition().split())
        category = "role" if people else "other"
    elif is_physical_top(synset) or hypernyms & THING_ROOTS:  # plant, animal; a fire, money, a book
        category = "object"
    else:
        category = _BY_LEXNAME.get(lexname, "other")
    if hypernyms & NOT_PLACE_ROOTS:
        return "object" if category in ("object", "scene") and lexname != "noun.location" else "other"
    if category == "object" and hypernyms & _SCENE_HYPERNYMS:
        return "scene"
    return llm_hint if category == "other" and llm_hint else category
