"""Things WordNet relates to a label's chosen senses: what a camera sees in an action besides the
label's own words (issue 19; the offline stand-in for the LLM's entity lists of supplementary B).

Each related unit says where it came from (its `sources`):

- ``gloss``: a noun in the gloss of the label's action sense ("pushup: an arm exercise performed
  lying face to the floor and pushing the body up and down with the arms" -> arm, face, floor;
  "badminton: a game played on a court with light long-handled rackets..." -> court),
  or, in its first thing sense, a made thing, body part, food or place in the gloss of one of the
  label's things (saddle.n.01 in the camel's "used as a draft or saddle animal");
- ``derivation``: an instrument or agent derived from one of the action sense's own lemmas
  (sky_dive.v.01 -> skydiver; auction.v.01 -> auctioneer), or the agent of one of the label's
  things (flute.n.01 -> flutist): a link between senses, not words;
- ``domain``: a thing WordNet files under a game or sport as its topic (basketball -> backboard);
- ``part``: a visible part of one of the label's things (shoe.n.01 -> shoelace, heel; sword -> hilt);
- ``player``: who WordNet glosses as playing one of the label's games or instruments (tennis ->
  tennis player, bagpipes -> piper: "someone who plays the bagpipe"), by a name the label uses;
- ``use``: what WordNet glosses as made to be used in the label's game or sport, by a name the
  label uses (bowling -> bowling pin: "a club-shaped wooden object used in bowling"; tennis ->
  tennis racket).

The label's senses are those WSD chose for its units, and for its action verb when extraction
dropped it (`verbs_beside`: "shaving beard" -> shave.n.01, "the act of removing hair with a razor"). A
``gloss`` noun is disambiguated like any unit, in the label's context with the gloss as extra
context; the others name one sense. `keep_related` then keeps a unit only when its sense is a thing
a frame shows, is no superordinate and is not the label's own thing or a kind it belongs to
("woodwind" in the flute's gloss), and `relevance_floor` asks a gloss noun for a least MiniLM
similarity with its label.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from .categories import DEFAULT_BODY_PARTS, is_physical_top
from .disambiguate import gloss_text, lemmas_of, signature
from .expand import Candidate
from .extract import Unit, compound, core, singular
from .lexicon import ACT_FILE, EVENT_FILE, GENERIC_SENSES, LIGHT_VERBS, NOUN_TAGS, UNSEEN_KINDS, PERSON_FILE, PLURAL_NOUN_TAGS, THING_FILES
from .resources import wordnet
from .wsd import Choice, Context

RELEVANCE = 0.2  # an action gloss's noun's least MiniLM cosine with its label (tuned on K400's related units: air, a ship, an obstruction are below)
THING_RELEVANCE = 0.3  # a thing gloss's noun's (a gloss of a thing names its kin and makings as often as its parts)
# What a thing's gloss may add: made things, body parts, food, stuff and places, not its kin
# (a dog's "wolf", a cat's "wildcat", a tree's "angiosperm").
THING_GLOSS_FILES = frozenset({"noun.artifact", "noun.body", "noun.food", "noun.substance", "noun.object", "noun.location"})
RARE_SENSE_MARGIN = 1.0  # a gloss noun's rarer thing sense needs WSD this far ahead (one overlapping lemma)...
RARE_SENSE_OVERLAP = 2  # ...and this many context lemmas in its signature (chosen on K400's related units)
AGENT_ENDINGS = ("er", "or", "ist", "eer", "ant", "ent")  # a person named for what they do: skier, auctioneer, celebrant
RELATED_FILES = THING_FILES | {"noun.location", PERSON_FILE}  # what a related unit's sense may be, or a physical top sense
GAMES = frozenset({"game.n.01", "sport.n.01", "field_event.n.01"})  # the actions whose topic members and glossed uses are their things (hammer throw -> hammer)
PLAYER_KINDS = ("player.n.01", "musician.n.01", "performer.n.01", "athlete.n.01", "contestant.n.01")  # who may play a game or an instrument
# A player's gloss: "(a|an) [head] who plays [on] [the|a|an] [game of] X" (pianist: "a person who plays the piano").
PLAYS = re.compile(r"^(?:an? )?(?:[a-z]+ )?(?:who|that) plays (?:on )?(?:the |an? )?(?:game of )?([a-z'-]+(?: [a-z'-]+)?)")
# A made thing's gloss: "used (in|for|by|to play...) [the] [game of] X" (bowling pin: "a club-shaped wooden object used in bowling").
USED = re.compile(r"\b(?:used|worn|played|designed) (?:in|for|by|when|while|to play|during) (?:the )?(?:(?:game|sport) of )?([a-z'-]+(?: [a-z'-]+)?)")
VISIBLE_PARTS = "external_body_part.n.01"  # a body part's part is kept when it is one of these


def _is_motion(sense: Any) -> bool:
    """Is a sense an action (a verb, an act, an event)?"""
    return sense.pos() == "v" or sense.lexname() in (ACT_FILE, EVENT_FILE)


def gloss_nouns(tokens: list[Any]) -> list[str]:
    """The nouns of a spaCy-tagged gloss, two-noun WordNet compounds first ("ice rink"), singular."""
    nouns, i = [], 0
    while i < len(tokens):
        pair = compound([tokens[i].text.lower(), tokens[i + 1].text.lower()]) if i + 1 < len(tokens) else None
        if pair and tokens[i].tag_ in NOUN_TAGS and tokens[i + 1].tag_ in NOUN_TAGS:
            nouns.append(pair)
            i += 2
            continue
        tok = tokens[i]
        if tok.tag_ in NOUN_TAGS and tok.text.isalpha():
            word = tok.text.lower()
            nouns.append(singular(word, tok.lemma_.lower()) if tok.tag_ in PLURAL_NOUN_TAGS else word)
        i += 1
    return list(dict.fromkeys(n for n in nouns if wordnet().synsets(n.replace(" ", "_"), "n")))


def derived_units(sense: Any, words: list[str], agents_only: bool = False) -> list[Unit]:
    """Instruments (artifacts) and agents (people, named as agents are: AGENT_ENDINGS) derived from
    the lemmas of a sense that the label itself uses (`words`), and spelled from them
    (sky_dive.v.01 -> skydiver; lunge.v.01 -> lunger, not its lemma thrust's thruster): one unit per
    sense. `agents_only` for a verb's senses, whose derived artifacts are as often another sense's
    (mow -> a hayloft; wrap -> a negligee). An act's agents are also its verb's (dancing.n.01 ->
    dance.v.02 -> dancer; juggle, dive, shuffle)."""
    found = {}
    files = (PERSON_FILE,) if agents_only else ("noun.artifact", PERSON_FILE)
    own = [l for l in sense.lemmas() if l.name().lower() in words]
    for lemma in own:
        stem = lemma.name().lower().replace("_", "").removesuffix("e")
        for other in sorted(lemma.derivationally_related_forms(), key=lambda l: (l.synset().name(), l.name())):
            synset, name = other.synset(), other.name().lower()
            agent = synset.lexname() != PERSON_FILE or name.endswith(AGENT_ENDINGS)
            if agent and synset.lexname() == PERSON_FILE:
                synset = _doer(synset, name, lemma.name())
            if synset.pos() == "n" and synset.lexname() in files and agent and name.replace("_", "").startswith(stem):
                found.setdefault(synset.name(), Unit(name.replace("_", " "), "word", "derivation", sense=synset.name()))
    if sense.pos() == "n" and _is_motion(sense):
        verbs = sorted({v.synset() for l in own for v in l.derivationally_related_forms() if v.synset().pos() == "v"}, key=lambda s: s.name())
        for unit in [u for verb in verbs for u in derived_units(verb, words, agents_only=True)]:
            found.setdefault(unit.sense, unit)
    return list(found.values())


def _doer(synset: Any, name: str, lemma: str) -> Any:
    """The agent sense that does the action itself: WordNet links "cleaner" from clean.v.01 to "the
    operator of dry-cleaning establishment", whose gloss says the action's word only inside a
    narrower one; then the first sense named `name` that says the word alone ("someone whose
    occupation is cleaning"), if there is one. Any other linked sense stays."""
    wn = wordnet()
    word = lemma.lower()

    def words(sense: Any) -> list[str]:
        return [w.strip("();,.'\"") for w in sense.definition().lower().split()]

    def says(sense: Any) -> bool:
        return any(word in (w, wn.morphy(w, "v"), wn.morphy(w, "n")) for w in words(sense))

    narrower = any("-" in w and word in w.split("-")[-1] for w in words(synset)) and not says(synset)
    named = [s for s in wn.synsets(name, "n") if s.lexname() == PERSON_FILE and s.lemma_names()[0].lower() == name and says(s)]
    return named[0] if narrower and named else synset


def _is_game(sense: Any) -> bool:
    """Is a sense a game or a sport (GAMES)?"""
    return bool({s.name() for s in sense.closure(lambda s: s.hypernyms())} & GAMES)


def domain_units(sense: Any) -> list[Unit]:
    """The things WordNet files under a game or sport as its topic domain (basketball.n.01 ->
    backboard, rim; golf.n.01 -> golf course, divot), each with its sense; other actions' domains
    are fields (cooking's: the cuisines' dishes)."""
    if not _is_game(sense):
        return []
    return [
        Unit(member.lemma_names()[0].lower().replace("_", " "), "word", "domain", sense=member.name())
        for member in sorted(sense.in_topic_domains(), key=lambda s: s.name())
        if member.lexname() in RELATED_FILES
    ]


@functools.cache
def _glossed_as(kinds: tuple[str, ...], pattern: re.Pattern[str], first_word: bool) -> dict[str, tuple[str, ...]]:
    """For the kinds' hyponyms whose gloss matches `pattern`, the senses by what the match names (a
    trailing "or"/"and" goes: "the trumpet or cornet"); with `first_word`, also by its first word
    ("used in baseball by the batter" -> baseball)."""
    senses = sorted({h.name() for kind in kinds for h in wordnet().synset(kind).closure(lambda s: s.hyponyms())})
    found: dict[str, list[str]] = {}
    for name in senses:
        for match in pattern.finditer(wordnet().synset(name).definition().lower()):
            named = match.group(1).removesuffix(" or").removesuffix(" and")
            for key in dict.fromkeys([named, named.split()[0]] if first_word else [named]):
                found.setdefault(key, []).append(name)
    return {key: tuple(dict.fromkeys(names)) for key, names in found.items()}


def _glossed_units(sense: Any, label: str, source: str, glossed: dict[str, tuple[str, ...]]) -> list[Unit]:
    """The senses `glossed` finds under one of `sense`'s names that the label uses (its words or
    their noun lemmas: "playing bagpipes" -> bagpipe), one unit each, named by their first lemma."""
    spelled = f" {label} {' '.join(wordnet().morphy(w, 'n') or w for w in label.split())} "
    names = [l.name().lower().replace("_", " ") for l in sense.lemmas()]
    found = [g for name in names if f" {name} " in spelled for g in glossed.get(name, ())]
    return [Unit(wordnet().synset(g).lemma_names()[0].lower().replace("_", " "), "word", source, sense=g) for g in dict.fromkeys(found)]


def player_units(sense: Any, label: str) -> list[Unit]:
    """The people WordNet glosses as playing a game or an instrument (PLAYS) by one of the sense's
    names that the label uses (tennis.n.01 -> tennis player; "playing bagpipes" -> piper; not the
    trumpet's other name "horn" -> hornist, nor the harmonica's "harp" -> harpist)."""
    return _glossed_units(sense, label, "player", _glossed_as(PLAYER_KINDS, PLAYS, first_word=False))


def use_units(sense: Any, label: str) -> list[Unit]:
    """The made things WordNet glosses as used (worn, designed...) in a game or sport (USED) by one
    of the sense's names that the label uses (bowling.n.01 -> bowling ball, bowling pin; ice hockey
    -> hockey stick, shin guard); other acts are named by verbs used in many ("used for cutting":
    wire cutters and coping saws, for cutting a pineapple). `related_units` asks only the label's
    own units' senses: its verbs' are as often read too narrowly ("riding scooter" as horseback
    riding, whose riding boots and trail bikes a scooter rider has not)."""
    if not _is_game(sense):
        return []
    return _glossed_units(sense, label, "use", _glossed_as(("artifact.n.01",), USED, first_word=True))


def _outer(synset: Any) -> bool:
    """Is a sense an external body part (VISIBLE_PARTS) or a kind of one?"""
    return wordnet().synset(VISIBLE_PARTS) in synset.closure(lambda s: s.hypernyms())


def part_units(sense: Any) -> list[Unit]:
    """The visible parts of a thing: its part meronyms that SemCor has seen, a body part's only
    when external (a foot's toe and heel, not its arteries)."""
    units = []
    for part in sorted(sense.part_meronyms(), key=lambda s: s.name()):
        seen = any(l.count() for l in part.lemmas())
        external = part.lexname() != "noun.body" or _outer(part)
        if seen and external and part.lexname() in THING_FILES:
            units.append(Unit(part.lemma_names()[0].lower().replace("_", " "), "word", "part", sense=part.name()))
    return units


def action_verbs(label: str) -> list[str]:
    """The verbs a label's words spell ("sky diving" -> sky_dive, dive; "auctioning" -> auction)."""
    wn = wordnet()
    words = label.replace("(", " ").replace(")", " ").split()
    spelled = ["_".join(words[i : i + 2]) for i in range(len(words) - 1)] + words
    verbs = [wn.morphy(w, "v") for w in spelled]
    return [v for v in dict.fromkeys(verbs) if v and v not in LIGHT_VERBS]


def verbs_beside(label: str, units: list[str]) -> list[str]:
    """The label's own action verbs that are no unit ("shaving beard" -> shave; "brush hair" ->
    brush): extraction drops them, but their senses' glosses and derivations name the action's
    things (shave.n.01: "the act of removing hair with a razor"; ride -> rider)."""
    wn = wordnet()
    taken = {w for u in units for w in u.split()}
    words = [w for w in core(label).split() if not _noun_forms(w) & taken and w not in STOP_WORDS]
    return [w for w in dict.fromkeys(words) if (wn.morphy(w, "v") or "") not in ("", *LIGHT_VERBS)]


def _noun_forms(word: str) -> set[str]:
    """A word, its noun lemma and its plural-less spelling ("cards", a WordNet lemma itself, is card)."""
    return {word, wordnet().morphy(word, "n") or word, word.removesuffix("s")}


@dataclass(frozen=True)
class Related:
    """A unit WordNet relates to a label, and what it was read from."""

    unit: Unit
    gloss: str = ""  # the gloss a `gloss` noun was read from (its WSD context)
    of_thing: bool = False  # read from a thing's gloss, not an action's: held to THING_GLOSS_FILES, its first sense, THING_RELEVANCE
    foremost: bool = True  # a gloss noun's first sense is a thing; else only the context can say it names one


def related_units(label: str, senses: list[str | None], gloss_tokens: dict[str, list[Any]], actions: list[str | None] = ()) -> list[Related]:
    """Every thing related to a label's chosen senses and to the senses of its action verbs
    (`actions`: gloss nouns and agents only), in a fixed order, without repeats; `gloss_tokens`
    holds each sense's spaCy-tagged gloss."""
    wn = wordnet()
    verbs = action_verbs(label) + [w for w in label.split() if w.endswith("ing")]  # and the gerunds that name acts (welding.n.01)
    topics = {h.name() for s in [*senses, *actions] if s for h in [wn.synset(s), *wn.synset(s).closure(lambda x: x.hypernyms())]}
    found: dict[str, Related] = {}
    for synset, verb in [(wn.synset(s), False) for s in senses if s] + [(wn.synset(s), True) for s in actions if s]:
        thing = synset.lexname() in THING_FILES
        if _is_motion(synset) or thing:
            for noun in gloss_nouns(gloss_tokens[synset.name()]):
                foremost = _foremost_thing(noun, of_thing=thing)
                if foremost or (not thing and _context_may_name(noun, label, synset.definition())):
                    found.setdefault(noun, Related(Unit(noun, "word", "gloss"), synset.definition(), of_thing=thing, foremost=foremost))
        if _is_motion(synset):
            derived = [u for u in derived_units(synset, verbs, agents_only=verb) if _in_topic(u.sense, topics)]
            for unit in derived + domain_units(synset) + player_units(synset, label) + ([] if verb else use_units(synset, label)):
                found.setdefault(unit.text, Related(unit))
        elif thing:
            things = [l.name().lower() for l in synset.lemmas() if l.name().lower().replace("_", " ") in label]
            for unit in part_units(synset) + derived_units(synset, things, agents_only=True) + player_units(synset, label):
                found.setdefault(unit.text, Related(unit))
    return list(found.values())


def _in_topic(sense: str, topics: set[str]) -> bool:
    """Is a sense WordNet files under a topic (catcher.n.01: baseball) one of the label's, or under none?"""
    domains = {d.name() for d in wordnet().synset(sense).topic_domains()}
    return not domains or bool(domains & topics)


def is_thing(synset: Any) -> bool:
    """Is a sense a thing, a place or a person (RELATED_FILES), or a physical top sense (plant.n.02,
    animal.n.01; GENERIC_SENSES keeps those out)?"""
    return synset.lexname() in RELATED_FILES or is_physical_top(synset)


def _foremost_thing(noun: str, of_thing: bool = False) -> bool:
    """Is a noun's first sense a thing, a place or a person? ("floor", not "form" or "front"). A
    noun of a thing's gloss, which `keep_related` keeps only in that sense, must moreover be made,
    a body part, food or a place (THING_GLOSS_FILES): the others are not disambiguated in vain."""
    first = wordnet().synsets(noun.replace(" ", "_"), "n")[0]
    return is_thing(first) and (not of_thing or first.lexname() in THING_GLOSS_FILES)


def thing_senses(unit: Unit) -> list[Candidate]:
    """A related unit's candidates: its one sense, or a gloss noun's senses that are things (no
    other could be kept), in WordNet's order."""
    wn = wordnet()
    synsets = [wn.synset(unit.sense)] if unit.sense else wn.synsets(unit.text.replace(" ", "_"), "n")
    return [Candidate(s.definition(), s.name()) for s in synsets if is_thing(s)]


def keep_related(related: Related, choice: Choice, context: Context, own: list[str | None]) -> bool:
    """Is a related unit's chosen sense a thing a frame shows, no superordinate, and neither one of
    the label's own senses nor a kind they belong to, nor a substance no frame shows (UNSEEN_KINDS)?
    A gloss noun must moreover take the first of its thing senses (`thing_senses`, its candidates),
    and be foremost a thing, unless the context plainly says otherwise: WSD ahead by
    RARE_SENSE_MARGIN and RARE_SENSE_OVERLAP context lemmas in the sense's signature (the puck's
    goal and stick, the chess king, badminton's court, which is foremost a court of law; not an
    armchair's arm); a noun of a thing's gloss, always (WSD choosing another sense says the word is
    ambiguous there: a cookie's "cakes"; `related_units` asks it to be foremost a thing)."""
    wn = wordnet()
    unit = related.unit
    if choice.sense is None or choice.sense in GENERIC_SENSES:
        return False
    synset = wn.synset(choice.sense)
    if not is_thing(synset):
        return False
    kinds = {h.name() for s in own if s for h in wn.synset(s).closure(lambda x: x.hypernyms())} | {s for s in own if s}
    if choice.sense in kinds or ({choice.sense} | {h.name() for h in synset.closure(lambda x: x.hypernyms())}) & UNSEEN_KINDS:
        return False
    if unit.sense is not None:
        return True
    first = choice.sense == thing_senses(unit)[0].sense and related.foremost
    if related.of_thing:
        return first and synset.lexname() in THING_GLOSS_FILES
    if first:
        return True
    overlap = _overlap(choice.sense, unit.text, context.label, context.extra)
    return (choice.margin or 0.0) >= RARE_SENSE_MARGIN and len(overlap) >= RARE_SENSE_OVERLAP


def _overlap(sense: str, noun: str, label: str, gloss: str) -> set[str]:
    """The lemmas of a label and a gloss in a sense's signature, but the noun's own."""
    return (signature(sense) & lemmas_of(f"{label} {gloss}")) - lemmas_of(noun)


def _context_may_name(noun: str, label: str, gloss: str) -> bool:
    """Could `keep_related` keep a gloss noun that is foremost no thing: has one of its thing senses
    RARE_SENSE_OVERLAP lemmas of the context in its signature? (The others are not disambiguated.)"""
    return any(len(_overlap(c.sense, noun, label, gloss)) >= RARE_SENSE_OVERLAP for c in thing_senses(Unit(noun, "word", "gloss")))


def relevance(pairs: list[tuple[str, str]]) -> list[float]:
    """For (label, sense) pairs: the MiniLM cosine of "a video of LABEL" with the sense's gloss text,
    to two decimals. A gloss names what its verb does in general (throw: "propel through the air"),
    not always what this label's video shows; all texts go to the encoder in one call."""
    from .sentence_encoder import sentence_encoder

    encoder = sentence_encoder()
    synsets = [wordnet().synset(sense) for _, sense in pairs]
    queries = [f"a video of {label}" for label, _ in pairs]
    glosses = [gloss_text(Candidate(s.definition(), s.name())) for s in synsets]
    encoder.encode(queries + glosses)
    return [round(float(encoder.encode([q])[0] @ encoder.encode([g])[0]), 2) for q, g in zip(queries, glosses)]


def relevance_floor(related: Related, sense: str) -> float | None:
    """The least relevance a related unit needs: RELEVANCE for a noun of an action's gloss,
    THING_RELEVANCE for one of a thing's gloss; None for a default or outer body part (any action
    shows the body) and for the other relations."""
    if related.unit.source != "gloss" or sense in DEFAULT_BODY_PARTS.values() or _outer(wordnet().synset(sense)):
        return None
    return THING_RELEVANCE if related.of_thing else RELEVANCE
