import pytest

from corpus_builder.categories import CATEGORIES, DEFAULT_BODY_PARTS, category_of


@pytest.mark.parametrize(
    "sense, expected",
    [
        ("guitar.n.01", "object"),
        ("horse.n.01", "object"),
        ("ice_cream.n.01", "object"),
        ("hand.n.01", "body"),
        ("tooth.n.01", "body"),
        ("swimming_pool.n.01", "scene"),  # artifact under facility
        ("kitchen.n.01", "scene"),  # artifact under room/area
        ("field.n.01", "scene"),  # noun.location
        ("cliff.n.01", "scene"),  # natural object under geological formation
        ("river.n.01", "scene"),  # body of water
        ("rock.n.01", "object"),  # natural object, not a place
        ("baby.n.01", "role"),
        ("crowd.n.01", "role"),  # a group of people
        ("dancing.n.01", "motion"),
        ("clap.v.01", "motion"),
        ("music.n.01", "other"),
    ],
)
def test_category_from_lexicographer_file_and_hypernyms(wn, sense, expected):
    assert category_of(sense) == expected


def test_hint_and_unknown_words():
    assert category_of("guitar.n.01", "motion") == "motion"
    assert category_of(None) == "object"


def test_default_body_parts_are_body_senses(wn):
    assert {"head", "face", "eye", "mouth", "hand", "arm", "leg", "foot"} <= set(DEFAULT_BODY_PARTS)
    for unit, sense in DEFAULT_BODY_PARTS.items():
        assert category_of(sense) == "body", unit
        assert unit in [l.name() for l in wn.synset(sense).lemmas()], unit
    assert set(CATEGORIES) == {"object", "body", "scene", "motion", "role", "other"}


def test_events_are_motion_and_visible_things_objects():
    assert {category_of(s) for s in ("slalom.n.01", "horse_race.n.01", "shot_put.n.01", "hammer_throw.n.01")} == {"motion"}
    assert {category_of(s) for s in ("plant.n.02", "animal.n.01", "ladder.n.01", "gutter.n.01", "hookah.n.01", "pipe.n.01")} == {"object"}
    assert {category_of(s) for s in ("road.n.01", "path.n.02", "floor.n.01", "swimming_pool.n.01")} == {"scene"}


def test_courts_and_fields_are_scenes_and_containers_things():
    # a court is an artifact under geographical_area.n.01; a drawer a container under area.n.05's storage space
    assert {category_of(s) for s in ("basketball_court.n.01", "court.n.04", "baseball_diamond.n.01")} == {"scene"}
    assert category_of("drawer.n.01") == "object"
    assert category_of("kitchen.n.01") == "scene"  # a room stays a place


def test_things_filed_outside_the_object_files_are_objects():
    # issue 31's audit: a campfire is noun.event, money and a present noun.possession, a book noun.communication
    assert {category_of(s) for s in ("campfire.n.01", "bonfire.n.01", "coin.n.01", "money.n.01", "present.n.02", "book.n.01",
                                     "newspaper.n.01", "magazine.n.01")} == {"object"}
    assert category_of("money.n.02") == "other"  # wealth reckoned in terms of money: no thing
    assert category_of("fire.n.02") == "motion"  # the act of firing weapons stays an act


def test_groups_of_people_are_roles_and_positions_or_storage_no_places():
    assert category_of("line.n.03") == "role"  # "a formation of people or things one behind another"
    assert category_of("crowd.n.01") == "role" and category_of("arrangement.n.02") == "other"
    assert category_of("front.n.09") == category_of("high.n.05") == "other"  # relative positions, not places
    assert category_of("cupboard.n.01") == category_of("safe.n.02") == "object"  # storage spaces are things
    assert category_of("key.n.09") == "scene" and category_of("lawn.n.01") == "scene"
