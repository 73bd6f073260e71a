"""The word vocabulary the corpus builder's rules share: WordNet lexicographer files grouped by what
a video frame shows of their senses, words that name no entity, and Penn Treebank noun tags.

Every rule that asks "which lexicographer files" or "which filler words" reads its answer here, so
that extraction, cleaning, word-sense disambiguation and categories cannot drift apart unnoticed.
"""

from __future__ import annotations


def _files(pos: str, names: str) -> frozenset[str]:
    """Lexicographer file names of one part of speech: _files("noun", "act food") -> noun.act, noun.food."""
    return frozenset(f"{pos}.{name}" for name in names.split())


# ---------------------------------------------------------------- WordNet lexicographer files

ACT_FILE = "noun.act"
ATTRIBUTE_FILE = "noun.attribute"
BODY_FILE = "noun.body"
GROUP_FILE = "noun.group"
PERSON_FILE = "noun.person"

# Physical things one handles or sees: the `object` category.
OBJECT_FILES = _files("noun", "artifact object animal plant food substance")
# Objects and body parts: what a frame shows of an entity itself.
THING_FILES = OBJECT_FILES | {BODY_FILE}
# The WSD visual bias: things and places, not people (their senses get it only for words that name
# people first, see disambiguate.is_visual).
VISIBLE_THING_FILES = THING_FILES | {"noun.location"}
# The cleaner's "can be seen" test is wider than the WSD bias: it only has to tell visible from
# abstract, so people, crowds, shapes and natural processes count too.
SEEABLE_FILES = VISIBLE_THING_FILES | {PERSON_FILE, GROUP_FILE} | _files("noun", "shape phenomenon process")
# Places and what happens in them: the `scene` category.
SCENE_FILES = _files("noun", "location phenomenon event")

# A noun sense in one of these files can be a visible motion ("leap", "kick", "splash")...
MOTION_NOUN_FILES = _files("noun", "act event communication")
# ...when the word also has a verb reading in one of these files.
MOTION_VERB_FILES = _files("verb", "motion contact body competition consumption creation weather")
# A word whose first noun sense is in one of these files is no motion ("speed", "time", "thrill").
NOT_MOTION_FIRST_FILES = _files("noun", "attribute time feeling")
# Adjectives derived from these nouns, and participles of these verbs, name a mood ("passionate").
MOOD_NOUN_FILES = _files("noun", "feeling state cognition motive")
MOOD_VERB_FILES = _files("verb", "emotion cognition")

# ---------------------------------------------------------------- words that name no entity

# Nouns in an action label that stand for no particular thing ("doing something").
INDEFINITE_NOUNS = frozenset("something someone somebody thing stuff".split())
# Words of an LLM's answer that name no visual entity: qualities of a performance, words about the
# video, positions and generic nouns. A unit that is one of them (or, unless it is a WordNet lemma,
# ends in one) is dropped, and a left part ending in one is a label for a list ("Key elements: ...").
ANSWER_FILLER = frozenset(
    """focus skill technique concentration balance coordination strength precision timing safety movement
    motion action activity effort control rhythm speed agility posture form stamina endurance confidence
    teamwork strategy experience practice energy emotion expression flexibility power grace accuracy
    patience determination excitement enjoyment fun awareness attention communication trust ability
    video clip footage characteristic feature element aspect detail thing something someone stuff item
    place way use presence type kind variety number lot pair etc object top bottom side front middle center
    centre distance foreground background position""".split()
)
# Category names an answer uses for the examples it lists ("Ingredients such as basil", "fencing
# equipment"); the examples are items of their own.
PLACEHOLDER_NOUNS = frozenset(
    """object item thing equipment gear tool product ingredient utensil accessory supply part prop element
    scene setting environment location surrounding surroundings role participant character""".split()
)

# ---------------------------------------------------------------- Penn Treebank tags

NOUN_TAGS = ("NN", "NNS", "NNP", "NNPS")
PLURAL_NOUN_TAGS = ("NNS", "NNPS")
