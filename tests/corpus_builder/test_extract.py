import pytest

from corpus_builder.extract import Unit, compound, extract_units, singular

# (label, expected units as "text/kind/source") over real labels of Kinetics-400, HMDB-51 and UCF-101.
CASES = [
    ("playing guitar", ["guitar/word/pos"]),
    ("riding a bike", ["bike/word/pos"]),
    ("eating ice cream", ["ice cream/word/pos"]),  # WordNet compound, one unit
    ("playing bass guitar", ["bass guitar/word/pos"]),
    ("brushing teeth", ["tooth/word/pos"]),  # spaCy tags "brushing" NN: a gerund all the same
    ("blowing leaves", ["leaf/word/pos"]),
    ("baking cookies", ["cookie/word/pos"]),
    ("climbing ladder", ["ladder/word/pos"]),
    ("running on treadmill", ["treadmill/word/pos"]),  # spaCy says JJ; WordNet knows only a noun
    ("stomping grapes", ["grape/word/pos"]),
    ("decorating the christmas tree", ["christmas tree/word/pos"]),
    ("riding mechanical bull", ["bull/word/pos", "mechanical bull/phrase/pos"]),
    ("passing american football (in game)", ["american football/word/pos"]),  # a parenthesis qualifies, names no thing
    ("skiing (not slalom or crosscountry)", ["skiing/word/label"]),  # nor what the label excludes
    ("breakdancing", ["break dancing/word/label"]),  # a closed spelling, opened as WordNet writes it
    ("playing didgeridoo", ["didgeridoo/word/pos"]),  # a noun WordNet does not know is still a unit
    ("abseiling", ["abseiling/word/label"]),
    ("dancing", ["dancing/word/label"]),
    ("clapping", ["clapping/word/label"]),
    ("rock climbing", ["rock climbing/word/label"]),
    ("push up", ["pushup/word/label"]),
    ("pull ups", ["pull-up/word/label"]),
    ("sky diving", ["skydiving/word/label"]),
    # HMDB-51: bare verbs
    ("brush hair", ["hair/word/pos"]),
    ("ride horse", ["horse/word/pos"]),
    ("shoot bow", ["bow/word/pos"]),
    ("climb stairs", ["stairs/word/pos"]),  # a plural WordNet keeps as its own lemma
    ("catch", ["catch/word/label"]),
    ("laugh", ["laugh/word/label"]),
    ("sword", ["sword/word/pos"]),  # a thing, not an activity
    # UCF-101 (CamelCase split)
    ("apply eye makeup", ["eye/word/pos", "makeup/word/pos", "eye makeup/phrase/pos"]),
    ("playing daf", ["daf/word/pos"]),
    ("skate boarding", ["skateboarding/word/label"]),
    ("cutting in kitchen", ["kitchen/word/pos"]),
    ("yo yo", ["yo-yo/word/pos"]),
    ("blow dry hair", ["hair/word/pos"]),  # "blow dry" is WordNet's verb blow-dry, not a noun "dry" (a prohibitionist)
    ("side kick", ["side/word/pos", "kick/word/pos", "side kick/phrase/pos"]),  # not a sidekick
]


@pytest.mark.parametrize("label, expected", CASES)
def test_units_of_real_labels(nlp, label, expected):
    [(_, units)] = list(extract_units([label], nlp))
    assert [f"{u.text}/{u.kind}/{u.source}" for u in units] == expected


def test_label_own_units_are_motion(nlp):
    result = dict(extract_units(["dancing", "sword", "playing guitar"], nlp))
    assert result["dancing"] == [Unit("dancing", "word", "label", "motion")]
    assert result["sword"][0].category_hint is None
    assert result["playing guitar"][0].category_hint is None


def test_a_verbless_label_ending_in_an_action_noun_names_that_action(nlp):
    result = dict(extract_units(["golf swing", "front raises", "javelin throw", "playing cricket", "riding mechanical bull"], nlp))
    hints = {label: {u.text: u.category_hint for u in units} for label, units in result.items()}
    assert hints["golf swing"] == {"golf": None, "swing": "motion", "golf swing": "motion"}
    assert hints["front raises"] == {"front": None, "raise": "motion", "front raise": "motion"}
    assert hints["javelin throw"]["throw"] == "motion" and hints["javelin throw"]["javelin"] is None
    assert hints["playing cricket"] == {"cricket": None}  # the label has its verb
    assert hints["riding mechanical bull"] == {"bull": None, "mechanical bull": None}  # a bull is no act


def test_every_reference_label_yields_a_unit(nlp, shared_labels):
    from alt_common.labels import read_labels

    labels, _ = read_labels([shared_labels / n for n in ("kinetics_400_labels.csv", "hmdb_51_labels.csv", "ucf_101_labels.csv")])
    result = dict(extract_units(labels, nlp))
    assert all(result[label] for label in labels)
    verbs = {"playing", "riding", "eating", "doing", "making", "play", "ride"}
    assert not {u.text for units in result.values() for u in units} & verbs


@pytest.mark.parametrize(
    "words, expected",
    [(["ice", "cream"], "ice cream"), (["golf", "club"], "golf club"), (["push", "ups"], "pushup"), (["eye", "makeup"], None),
     (["sky", "diving"], "skydiving"), (["side", "kick"], None)],
)
def test_compound_finds_wordnet_lemmas(wn, words, expected):
    assert compound(words) == expected


@pytest.mark.parametrize(
    "word, lemma, expected",
    [("teeth", "tooth", "tooth"), ("hands", "hand", "hand"), ("stairs", "stair", "stairs"), ("clothes", "clothe", "clothes"),
     ("lunges", "lunge", "lunge"), ("knives", "knife", "knife"), ("hookah", "hookah", "hookah")],
)
def test_singular(wn, word, lemma, expected):
    assert singular(word, lemma) == expected
