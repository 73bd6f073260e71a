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
SCENE_FILES = _files("noun", "location phenomenon")
# Happenings (a slalom, a horse race, a shot put): the `motion` category, not a place.
EVENT_FILE = "noun.event"
# Senses outside the object files whose kinds a frame shows as things (issue 31's audit): a burning
# fire (campfire, bonfire: noun.event), money and coins (noun.possession), a present (a gift) get the
# WSD visual bias and the `object` category; printed matter (books, newspapers, magazines:
# noun.communication) only the category, since "paper" names a newspaper as well.
VISIBLE_ROOTS = frozenset("fire.n.01 currency.n.01 money.n.01 present.n.02".split())
THING_ROOTS = VISIBLE_ROOTS | frozenset("publication.n.01 newspaper.n.01 magazine.n.01".split())
# Places by WordNet that no frame shows as a place: relative positions (front, left, back) and "a high
# place"; an object's storage spaces (cupboard, drawer, safe) are things.
NOT_PLACE_ROOTS = frozenset("position.n.01 high.n.05 storage_space.n.01 container.n.01".split())

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
# Verbs too general to say what is used in an action ("used in playing": every game's equipment).
LIGHT_VERBS = frozenset("play do make get take have use go give put set hold keep".split())
# Superordinate senses a gloss names ("a person who...", "a device for..."): true of everything in
# the frame, so no entity of the action's own (related.py).
GENERIC_SENSES = frozenset(
    """person.n.01 people.n.01 homo.n.02 man.n.01 woman.n.01 object.n.01 whole.n.02
    artifact.n.01 material.n.01 substance.n.01 substance.n.07 matter.n.03 thing.n.04 thing.n.12 instrument.n.01
    instrumentality.n.03 device.n.01 implement.n.01 equipment.n.01 container.n.01 structure.n.01
    covering.n.02 vehicle.n.01 conveyance.n.03 animal.n.01 organism.n.01 plant.n.02 food.n.01
    food.n.02 solid.n.01 liquid.n.01 fluid.n.01 region.n.01 region.n.03 area.n.01 location.n.01
    place.n.02 surface.n.01 part.n.02 part.n.03 piece.n.01 unit.n.05 body_part.n.01 end.n.01 side.n.01
    position.n.01 point.n.02 organ.n.01 nutriment.n.01 top.n.01 bottom.n.01 edge.n.01 participant.n.01
    game.n.09""".split()
)
# Kinds of substance no frame shows (oxygen in the aerobics gloss, the air of a sneeze); with
# atom.n.02 ("a tiny piece of anything") the things a gloss names that a related unit may not be.
UNSEEN_KINDS = frozenset("chemical_element.n.01 gas.n.02 atom.n.02".split())
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
