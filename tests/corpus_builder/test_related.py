"""Things WordNet relates to a label's senses (related.py), and the build's related rows."""

import pytest

from corpus_builder.build import build_corpus
from corpus_builder.extract import Unit, core
from corpus_builder.lexicon import GENERIC_SENSES
from corpus_builder.related import (
    RELEVANCE, THING_RELEVANCE, Related, derived_units, domain_units, gloss_nouns, keep_related, part_units, player_units, related_units, relevance, use_units,
    relevance_floor, verbs_beside,
)
from corpus_builder.wsd import Choice, Context


def test_every_generic_sense_is_a_wordnet_synset(wn):
    assert all(wn.synset(name).name() == name for name in GENERIC_SENSES)


def test_gloss_nouns_of_real_glosses(wn, nlp):
    pushup = list(nlp(wn.synset("pushup.n.01").definition()))  # "an arm exercise performed lying face to the floor and pushing the body up and down with the arms"
    assert gloss_nouns(pushup) == ["arm exercise", "face", "floor", "body", "arm"]  # WordNet's compound first
    hockey = gloss_nouns(list(nlp(wn.synset("ice_hockey.n.01").definition())))
    assert "ice rink" in hockey and "rink" not in hockey  # a two-noun WordNet compound is one noun
    assert {"puck", "stick", "skater", "goal"} <= set(hockey)  # plurals singular


def test_derivation_follows_the_labels_own_lemma(wn):
    assert [u.text for u in derived_units(wn.synset("sky_dive.v.01"), ["sky_dive"])] == ["skydiver"]
    lunge = derived_units(wn.synset("lunge.v.01"), ["lunge"])
    assert [u.text for u in lunge] == ["lunger"]  # not "thruster", from the sense's other lemma "thrust"
    assert derived_units(wn.synset("lunge.v.01"), ["dive"]) == []
    guitar = derived_units(wn.synset("guitar.n.01"), ["guitar"])
    assert [(u.text, u.sense, u.source) for u in guitar] == [("guitarist", "guitarist.n.01", "derivation")]


def test_a_verbs_derivations_are_its_agents_named_as_agents(wn):
    assert [u.sense for u in derived_units(wn.synset("mow.v.01"), ["mow"])] == ["hayloft.n.01", "lawn_mower.n.01"]  # a verb's lemma links to any sense
    assert derived_units(wn.synset("mow.v.01"), ["mow"], agents_only=True) == []  # so a verb gives its agents only
    assert [u.text for u in derived_units(wn.synset("sweep.v.06"), ["sweep"], agents_only=True)] == ["sweeper"]  # not "sweep", a chimney sweep


def test_an_acts_agents_are_its_verbs(wn):
    # dancing.n.01 has no derived person of its own; its lemma "dance" links to dance.v.02, whose agents are the dancers
    assert [(u.text, u.sense) for u in derived_units(wn.synset("dancing.n.01"), ["dance"])] == [("dancer", "dancer.n.01"), ("dancer", "dancer.n.02")]
    assert derived_units(wn.synset("dancing.n.01"), ["tango"]) == []  # the label must use the lemma
    assert [u.sense for u in derived_units(wn.synset("smoking.n.01"), ["smoke"])] == ["smoker.n.01"]  # through smoke.v.01 agents only: not pot.n.09
    assert derived_units(wn.synset("paper.n.01"), ["paper"], agents_only=True) == []  # a thing's verb (to paper) is no hop: no paperhanger
    welding = {r.unit.text: r.unit for r in related_units("welding", ["welding.n.01"], {"welding.n.01": []})}
    assert welding["welder"].sense == "welder.n.01"  # the act's lemma is the label's gerund, its verb weld.v.01's agent the welder


def test_a_derived_agent_linked_to_a_narrower_trade_is_the_one_who_does_the_action(wn):
    # WordNet links clean.v.01's "clean" to cleaner.n.02, "the operator of dry-cleaning establishment"
    cleaners = derived_units(wn.synset("clean.v.01"), ["clean"], agents_only=True)
    assert [(u.text, u.sense) for u in cleaners] == [("cleaner", "cleaner.n.03")]  # "someone whose occupation is cleaning"
    assert wn.synset("cleaner.n.03").definition() == "someone whose occupation is cleaning"
    # a linked sense that does not say the word, with no narrower trade in its gloss, stays: the operator of a motor vehicle
    assert [u.sense for u in derived_units(wn.synset("drive.v.01"), ["drive"], agents_only=True)] == ["driver.n.01"]


def test_a_field_events_glossed_implements_are_its_things(wn):
    assert [u.sense for u in use_units(wn.synset("hammer_throw.n.01"), "hammer throw")] == ["hammer.n.05"]  # "used in the hammer throw"
    assert [u.sense for u in use_units(wn.synset("shot_put.n.01"), "shot put")] == ["shot.n.12"]


def test_players_are_who_wordnet_glosses_as_playing_the_labels_game_or_instrument(wn):
    assert [(u.text, u.sense, u.source) for u in player_units(wn.synset("bagpipe.n.01"), "playing bagpipes")] == [("piper", "piper.n.01", "player")]
    assert [u.sense for u in player_units(wn.synset("tennis.n.01"), "playing tennis")] == ["tennis_player.n.01"]
    assert [u.sense for u in player_units(wn.synset("cornet.n.01"), "playing trumpet")] == ["trumpeter.n.01"]  # not hornist: "horn" is no word of the label
    assert player_units(wn.synset("harmonica.n.01"), "playing harmonica") == []  # its other name "harp" is the harpist's
    assert player_units(wn.synset("golf.n.01"), "golf putting")[0].sense == "golfer.n.01" and len(player_units(wn.synset("golf.n.01"), "golf putting")) == 1  # not the hacker, who "plays golf poorly"


def test_uses_are_the_things_wordnet_glosses_as_used_in_the_labels_sport(wn):
    bowling = {u.sense: u for u in use_units(wn.synset("bowling.n.01"), "bowling")}
    assert {"bowling_ball.n.01", "bowling_pin.n.01", "bowling_shoe.n.01"} <= set(bowling)  # "a large ball ... used in the sport of bowling"
    assert bowling["bowling_pin.n.01"] == Unit("bowling pin", "word", "use", sense="bowling_pin.n.01")
    assert [u.sense for u in use_units(wn.synset("tennis.n.01"), "playing tennis")] == ["tennis_racket.n.01"]  # "used to play tennis"
    assert use_units(wn.synset("cutting.n.01"), "cutting pineapple") == []  # no sport: "used for cutting" is said of wire cutters
    riding = {r.unit.text for r in related_units("riding scooter", ["scooter.n.02"], {"scooter.n.02": [], "riding.n.01": []}, ["riding.n.01"])}
    assert not riding & {"riding boot", "trail bike"}  # a verb's sense gives no uses: here horseback riding, read too narrowly


def test_domain_members_are_the_things_of_a_game(wn):
    assert {u.text for u in domain_units(wn.synset("basketball.n.01"))} >= {"backboard", "basketball court", "rim"}
    assert all(u.source == "domain" and u.sense for u in domain_units(wn.synset("golf.n.01")))


def test_verbs_beside_the_units():
    assert verbs_beside("shaving beard", ["beard"]) == ["shaving"]
    assert verbs_beside("brush hair", ["hair"]) == ["brush"]
    assert verbs_beside("playing guitar", ["guitar"]) == []  # too general a verb
    assert verbs_beside("cutting in kitchen", ["kitchen"]) == ["cutting"]
    assert verbs_beside("shuffling cards", ["card"]) == ["shuffling"]  # not "cards", the unit card in the plural


def test_relevance_keeps_what_the_video_shows(wn):
    shown, general = relevance([("mowing lawn", "lawn_mower.n.01"), ("throwing ball", "air.n.02")])
    assert shown >= RELEVANCE > general  # "propel through the air": the verb's gloss, not the video
    assert relevance([("mowing lawn", "lawn_mower.n.01")]) == [shown]  # the same number alone or batched
    assert relevance_floor(Related(Unit("razor", "word", "gloss")), "razor.n.01") == RELEVANCE
    assert relevance_floor(Related(Unit("saddle", "word", "gloss"), of_thing=True), "saddle.n.01") == THING_RELEVANCE
    assert relevance_floor(Related(Unit("knee", "word", "gloss")), "knee.n.01") is None  # a default body part
    assert relevance_floor(Related(Unit("toe", "word", "gloss")), "toe.n.01") is None  # an outer one
    assert relevance_floor(Related(Unit("tear", "word", "gloss")), "tear.n.01") == RELEVANCE  # not an outer one
    assert relevance_floor(Related(Unit("skier", "word", "derivation", sense="skier.n.01")), "skier.n.01") is None


def test_parts_are_the_visible_ones(wn):
    foot = {u.text for u in part_units(wn.synset("foot.n.01"))}
    assert "toe" in foot
    assert not {t for t in foot if "artery" in t or "vein" in t}  # inner parts are no part a frame shows
    assert "shoelace" in {u.text for u in part_units(wn.synset("shoe.n.01"))}


def test_related_units_of_an_action_and_of_a_thing(wn, nlp):
    tokens = {"ice_hockey.n.01": list(nlp(wn.synset("ice_hockey.n.01").definition()))}
    hockey = {r.unit.text: r for r in related_units("playing ice hockey", ["ice_hockey.n.01"], tokens)}
    assert hockey["puck"] == Related(Unit("puck", "word", "gloss"), wn.synset("ice_hockey.n.01").definition())
    camel = wn.synset("camel.n.01")  # "cud-chewing mammal used as a draft or saddle animal in desert regions"
    found = {r.unit.text: r for r in related_units("riding camel", ["camel.n.01"], {"camel.n.01": list(nlp(camel.definition()))})}
    assert found["saddle"] == Related(Unit("saddle", "word", "gloss"), camel.definition(), of_thing=True)
    bird = wn.synset("bird.n.01")  # "...characterized by feathers and forelimbs modified as wings": kin words, no made things
    found = {r.unit.text: r.unit for r in related_units("feeding birds", ["bird.n.01"], {"bird.n.01": list(nlp(bird.definition()))})}
    assert found["feather"] == Unit("feather", "word", "part", sense="feather.n.01")  # its gloss's "feathers" does not shadow it
    assert found["wing"].source == "part"
    flute = {r.unit.text: r.unit for r in related_units("playing flute", ["flute.n.01"], {"flute.n.01": []})}
    assert flute["flutist"].source == "derivation" and flute["flutist"].sense == "flutist.n.01"


def _choice(sense: str, margin: float) -> Choice:
    return Choice("", sense, 1.0 + margin, "lesk-embedding", (1.0 + margin, 1.0))


@pytest.mark.parametrize(
    "unit, sense, margin, label, gloss, kept",
    [
        ("stick", "stick.n.06", 18.9, "playing ice hockey", "ice_hockey.n.01", True),  # rarer sense, the context says so
        ("stick", "stick.n.06", 0.5, "playing ice hockey", "ice_hockey.n.01", False),  # ...but WSD not clearly ahead
        ("form", "form.n.16", 3.0, "jogging", "jog.v.01", False),  # "a form of": no lemma of the mold for concrete in the context
        ("floor", "floor.n.01", 0.1, "pushup", "pushup.n.01", True),  # the first thing sense needs no margin
        ("person", "person.n.01", 5.0, "hugging", "hug.v.01", False),  # superordinate
        ("woodwind", "woodwind.n.01", 5.0, "playing flute", "flute.n.01", False),  # a kind of the label's own flute
    ],
)
def test_keep_related(wn, unit, sense, margin, label, gloss, kept):
    context = Context(label, (), wn.synset(gloss).definition())
    assert keep_related(Related(Unit(unit, "word", "gloss"), context.extra), _choice(sense, margin), context, [gloss]) is kept


def test_a_things_gloss_gives_only_first_senses_of_made_things(wn):
    cookie = Context("baking cookies", (), wn.synset("cookie.n.01").definition())  # "... sweet cakes"
    cake = Related(Unit("cake", "word", "gloss"), cookie.extra, of_thing=True)
    assert not keep_related(cake, _choice("cake.n.03", 5.0), cookie, ["cookie.n.01"])  # WSD's other sense: ambiguous here
    camel = Context("riding camel", (), wn.synset("camel.n.01").definition())
    assert keep_related(Related(Unit("saddle", "word", "gloss"), camel.extra, of_thing=True), _choice("saddle.n.01", 0.1), camel, ["camel.n.01"])
    desert = Related(Unit("mammal", "word", "gloss"), camel.extra, of_thing=True)
    assert not keep_related(desert, _choice("mammal.n.01", 5.0), camel, ["camel.n.01"])  # its kin: a kind the camel is


def test_core_drops_parentheses_and_opens_closed_spellings():
    assert core("skiing (not slalom or crosscountry)") == "skiing"
    assert core("shooting goal (soccer)") == "shooting goal"
    assert core("breakdancing") == "break dancing"
    assert core("situp") == "sit-up"
    assert core("playing guitar") == "playing guitar"


def test_build_links_related_things_with_their_sources():
    df = build_corpus(["playing ice hockey", "playing flute", "pushup", "skiing (not slalom or crosscountry)", "shaving beard", "riding camel"])
    rows = {(u, s): (sorted(src), list(ls), cat) for u, s, src, ls, cat in zip(df["unit"], df["sense"], df["sources"], df["labels"], df["category"])}
    assert rows[("puck", "puck.n.02")] == (["gloss"], ["playing ice hockey"], "object")
    assert rows[("stick", "stick.n.06")] == (["gloss"], ["playing ice hockey"], "object")
    assert rows[("flutist", "flutist.n.01")] == (["derivation"], ["playing flute"], "role")
    assert rows[("arm", "arm.n.01")] == (["default", "gloss"], ["pushup"], "body")  # a default body part, now linked
    assert rows[("skier", "skier.n.01")][1] == ["skiing (not slalom or crosscountry)"]
    assert rows[("razor", "razor.n.01")] == (["gloss"], ["shaving beard"], "object")  # from the verb's gloss
    assert rows[("rider", "rider.n.01")] == (["derivation"], ["riding camel"], "role")  # the verb's agent
    assert rows[("saddle", "saddle.n.01")] == (["gloss"], ["riding camel"], "object")  # from the camel's gloss
    assert not {"slalom", "crosscountry", "cross country"} & set(df["unit"])  # what the label excludes
    assert df.attrs["manifest"]["options"]["related"] is True
    by_source = df.attrs["manifest"]["counts"]["entities_by_source"]
    assert by_source["gloss"] == sum("gloss" in s for s in df["sources"]) > 0 and by_source["derivation"] >= 2
    plain = build_corpus(["playing ice hockey", "playing flute", "pushup"], related=False)
    assert not {"gloss", "derivation", "part"} & set(plain["sources"].explode())
    assert plain.attrs["manifest"]["options"]["related"] is False


def test_a_gloss_noun_foremost_no_thing_is_kept_when_the_context_says_so(wn, nlp):
    badminton = wn.synset("badminton.n.01")  # "a game played on a court with light long-handled rackets..."
    found = {r.unit.text: r for r in related_units("playing badminton", ["badminton.n.01"], {"badminton.n.01": list(nlp(badminton.definition()))})}
    assert found["court"].foremost is False and found["racket"].foremost is False  # a court of law, a din: first
    context = Context("playing badminton", (), badminton.definition())
    assert keep_related(found["court"], _choice("court.n.04", 2.5), context, ["badminton.n.01"])
    assert not keep_related(found["court"], _choice("court.n.04", 0.5), context, ["badminton.n.01"])  # WSD not clearly ahead
    only = Choice("", "racket.n.04", 1.0, "lesk-embedding", (1.0,))  # its one thing sense: WSD chose nothing over another
    assert not keep_related(found["racket"], only, context, ["badminton.n.01"])
    assert not keep_related(found["court"], _choice("game.n.09", 5.0), context, ["badminton.n.01"])  # "game equipment": generic


def test_a_derived_sense_filed_under_a_topic_needs_the_label_in_it(wn):
    # catch.v.04's agent is catcher.n.01, "(baseball) the person who plays the position of catcher"
    fish = {r.unit.text for r in related_units("catching fish", ["fish.n.01"], {"fish.n.01": [], "catch.v.04": []}, ["catch.v.04"])}
    assert "catcher" not in fish
    game = {r.unit.text for r in related_units("baseball catch", ["baseball.n.01"], {"baseball.n.01": [], "catch.v.04": []}, ["catch.v.04"])}
    assert "catcher" in game
