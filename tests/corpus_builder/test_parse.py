"""LLM answers in the styles real models give (ChatGPT, Llama, Qwen, SmolLM) parsed into clean units."""

import pytest

from corpus_builder.lexicon import ANSWER_FILLER
from corpus_builder.parse import ParsedUnit, parse_descriptions, parse_entities

# (answer to the entities prompt, expected (text, category hint) pairs in order).
ENTITY_CASES = [
    pytest.param(
        (
            'Here are the identifying visual characteristics of abseiling:\n'
            '\n'
            '**Objects:** climbing rope, harness, helmet, carabiners\n'
            '**Body parts:** hands, feet\n'
            '**Scenes:** cliff, rock face\n'
            '**Roles:** climber, belayer'
        ),
        [('climbing rope', 'object'), ('harness', 'object'), ('helmet', 'object'), ('carabiner', 'object'), ('hand', 'body'), ('foot', 'body'), ('cliff', 'scene'), ('rock face', 'scene'), ('climber', 'role'), ('belayer', 'role')],
        id='bold-headings',
    ),
    pytest.param(
        (
            '1. **Guitar**: An acoustic or electric guitar held across the body.\n'
            '2. **Fingers**: Pressing down on the strings of the fretboard.\n'
            '3. **Guitar pick**: A small plectrum used to strum.\n'
            '4. **Musician**: A person sitting or standing while playing.'
        ),
        [('guitar', None), ('finger', None), ('guitar pick', None), ('musician', None)],
        id='numbered-bold-explained',
    ),
    pytest.param(
        (
            '- Toothbrush\n'
            '- Toothpaste\n'
            '- Teeth\n'
            '- Bathroom sink\n'
            '- Mirror'
        ),
        [('toothbrush', None), ('toothpaste', None), ('tooth', None), ('bathroom sink', None), ('mirror', None)],
        id='dash-bullets',
    ),
    pytest.param(
        'Bicycle, helmet, road, and cyclist.',
        [('bicycle', None), ('helmet', None), ('road', None), ('cyclist', None)],
        id='comma-line',
    ),
    pytest.param(
        'The video shows a climber wearing a harness descending a cliff with a rope.',
        [('climber', None), ('harness', None), ('cliff', None), ('rope', None)],
        id='prose',
    ),
    pytest.param(
        'The video shows a dancer moving rhythmically on a stage, with focus and balance.',
        [('dancer', None), ('stage', None)],
        id='prose-filler',
    ),
    pytest.param(
        (
            '### Objects\n'
            '- Juggling balls\n'
            '- Clubs\n'
            '\n'
            '### Body parts\n'
            '- Hands\n'
            '- Eyes\n'
            '\n'
            '### Scene\n'
            '- Street or park\n'
            '\n'
            '### Roles\n'
            '- Juggler\n'
            '- Audience'
        ),
        [('juggling ball', 'object'), ('club', 'object'), ('hand', 'body'), ('eye', 'body'), ('street', 'scene'), ('park', 'scene'), ('juggler', 'role'), ('audience', 'role')],
        id='md-headers-nested',
    ),
    pytest.param(
        (
            'Objects: pizza dough, rolling pin, tomato sauce, cheese, oven\n'
            'Body parts: hands, fingers\n'
            'Scene: kitchen\n'
            'Roles: chef'
        ),
        [('pizza dough', 'object'), ('rolling pin', 'object'), ('tomato sauce', 'object'), ('cheese', 'object'), ('oven', 'object'), ('hand', 'body'), ('finger', 'body'), ('kitchen', 'scene'), ('chef', 'role')],
        id='category-lines',
    ),
    pytest.param(
        (
            'Body parts:\n'
            '- hands\n'
            '- arms\n'
            '- shoulders\n'
            'Scene:\n'
            '- swimming pool\n'
            '- diving board'
        ),
        [('hand', 'body'), ('arm', 'body'), ('shoulder', 'body'), ('swimming pool', 'scene'), ('diving board', 'scene')],
        id='heading-then-bullets-colon',
    ),
    pytest.param(
        (
            '* Rope - used for descent\n'
            '* Harness - worn around the waist and thighs\n'
            '* Helmet - protects the head\n'
            '* Gloves - protect the hands'
        ),
        [('rope', None), ('harness', None), ('helmet', None), ('glove', None)],
        id='star-bullets-dash-expl',
    ),
    pytest.param(
        (
            '• Cliff edge\n'
            '• Ocean below\n'
            '• Diver in swimwear\n'
            '• Splash of water'
        ),
        [('cliff edge', None), ('ocean', None), ('diver', None), ('swimwear', None), ('splash', None), ('water', None)],
        id='bullet-dot',
    ),
    pytest.param(
        (
            '– Basketball\n'
            '– Hoop\n'
            '– Court\n'
            '– Player in jersey'
        ),
        [('basketball', None), ('hoop', None), ('court', None), ('player', None), ('jersey', None)],
        id='en-dash-bullets',
    ),
    pytest.param(
        (
            '(1) A toothbrush with bristles\n'
            '(2) A tube of toothpaste\n'
            "(3) The person's mouth and teeth\n"
            '(4) A sink with running water'
        ),
        [('toothbrush', None), ('bristle', None), ('tube', None), ('toothpaste', None), ('mouth', None), ('tooth', None), ('sink', None), ('running water', None)],
        id='paren-numbering',
    ),
    pytest.param(
        (
            '1) Horse\n'
            '2) Saddle\n'
            '3) Reins\n'
            "4) Rider's boots\n"
            '5) Open field'
        ),
        [('horse', None), ('saddle', None), ('rein', None), ('boot', None), ('open field', None)],
        id='paren-close-numbering',
    ),
    pytest.param(
        'Surfboard; waves; ocean; wetsuit; surfer',
        [('surfboard', None), ('wave', None), ('ocean', None), ('wetsuit', None), ('surfer', None)],
        id='semicolons',
    ),
    pytest.param(
        (
            '- Various climbing equipment\n'
            '- Appropriate safety gear\n'
            '- Different types of ropes\n'
            '- Some carabiners\n'
            '- Possibly a belay device'
        ),
        [('climbing equipment', None), ('safety gear', None), ('rope', None), ('carabiner', None), ('belay device', None)],
        id='qualifiers',
    ),
    pytest.param(
        (
            "- The climber's helmet\n"
            "- The climber's harness\n"
            "- A belayer's gloves"
        ),
        [('helmet', None), ('harness', None), ('glove', None)],
        id='possessives',
    ),
    pytest.param(
        (
            '- Helmet (for protection)\n'
            '- Gloves (optional)\n'
            '- Skateboard (with four wheels)\n'
            '- Ramp (half-pipe or quarter-pipe)'
        ),
        [('helmet', None), ('glove', None), ('skateboard', None), ('ramp', None)],
        id='parentheses',
    ),
    pytest.param(
        (
            '1. Balance\n'
            '2. Coordination\n'
            '3. Bicycle\n'
            '4. Focus\n'
            '5. Helmet\n'
            '6. Proper technique\n'
            '7. Road'
        ),
        [('bicycle', None), ('helmet', None), ('road', None)],
        id='filler-mixed',
    ),
    pytest.param(
        (
            'Sure! Here are some visual characteristics of playing guitar:\n'
            '\n'
            '- Guitar\n'
            '- Guitar strap\n'
            '- Amplifier\n'
            '- Microphone stand\n'
            '\n'
            'I hope this helps!'
        ),
        [('guitar', None), ('guitar strap', None), ('amplifier', None), ('microphone stand', None)],
        id='sure-outro',
    ),
    pytest.param(
        (
            '- Knife\n'
            '- Cutting board\n'
            '- Onions\n'
            "- Chef's hands\n"
            '\n'
            'Note: The exact items depend on the recipe.'
        ),
        [('knife', None), ('cutting board', None), ('onion', None), ('hand', None)],
        id='note-line',
    ),
    pytest.param(
        (
            '**Objects:**\n'
            '- **Barbell** - a long metal bar with weights\n'
            '- **Weight plates**\n'
            '\n'
            '**Body parts:**\n'
            '- **Arms**\n'
            '- **Legs**\n'
            '\n'
            '**Scene:**\n'
            '- **Gym**'
        ),
        [('barbell', 'object'), ('weight plate', 'object'), ('arm', 'body'), ('leg', 'body'), ('gym', 'scene')],
        id='bold-items-nested',
    ),
    pytest.param(
        (
            'Objects - kite, string, spool\n'
            'Scene - beach, sky\n'
            'People - kite flyer'
        ),
        [('kite', 'object'), ('string', 'object'), ('spool', 'object'), ('beach', 'scene'), ('sky', 'scene'), ('kite flyer', 'role')],
        id='dash-headings',
    ),
    pytest.param(
        (
            '1. **Objects**:\n'
            '   - Tennis racket\n'
            '   - Tennis ball\n'
            '   - Net\n'
            '2. **Scene**:\n'
            '   - Tennis court\n'
            '3. **Roles**:\n'
            '   - Player\n'
            '   - Umpire'
        ),
        [('tennis racket', 'object'), ('tennis ball', 'object'), ('net', 'object'), ('tennis court', 'scene'), ('player', 'role'), ('umpire', 'role')],
        id='numbered-headings-nested',
    ),
    pytest.param(
        '1. Rope 2. Harness 3. Helmet 4. Cliff',
        [('rope', None), ('harness', None), ('helmet', None), ('cliff', None)],
        id='inline-numbers',
    ),
    pytest.param(
        (
            '- Safety gear such as helmets and harnesses\n'
            '- Climbing shoes\n'
            '- Chalk bag'
        ),
        [('safety gear', None), ('helmet', None), ('harness', None), ('climbing shoe', None), ('chalk bag', None)],
        id='such-as',
    ),
    pytest.param(
        (
            '- A long rope that is anchored at the top of the cliff\n'
            '- A sturdy harness which holds the climber securely\n'
            '- Carabiners used to connect the rope to the harness'
        ),
        [('long rope', None), ('sturdy harness', None), ('carabiner', None)],
        id='long-items-cut',
    ),
    pytest.param(
        (
            '- Hands gripping the rope\n'
            '- Feet pushing against the wall\n'
            '- Person wearing a helmet'
        ),
        [('hand', None), ('rope', None), ('foot', None), ('wall', None), ('person', None), ('helmet', None)],
        id='verb-phrases',
    ),
    pytest.param(
        (
            '**Movements:** rappelling down the cliff, pushing off the wall, descending\n'
            '**Objects:** rope, harness'
        ),
        [('rappelling down the cliff', 'motion'), ('pushing off the wall', 'motion'), ('descending', 'motion'), ('rope', 'object'), ('harness', 'object')],
        id='motion-heading',
    ),
    pytest.param(
        (
            '**Safety:**\n'
            '- helmet\n'
            '- gloves\n'
            '**Equipment:**\n'
            '- bike\n'
            '- pump'
        ),
        [('helmet', None), ('glove', None), ('bike', 'object'), ('pump', 'object')],
        id='unknown-heading',
    ),
    pytest.param(
        (
            'Pizza\n'
            'Oven\n'
            'Chef\n'
            'Dough\n'
            'Toppings\n'
            'Pizza'
        ),
        [('pizza', None), ('oven', None), ('chef', None), ('dough', None), ('topping', None)],
        id='smollm-plain-lines',
    ),
    pytest.param(
        (
            'In a video of someone brushing their teeth, you would typically see:\n'
            'Toothbrush, toothpaste, sink, mirror, bathroom'
        ),
        [('toothbrush', None), ('toothpaste', None), ('sink', None), ('mirror', None), ('bathroom', None)],
        id='intro-no-list-colon',
    ),
    pytest.param(
        (
            '## Visual Characteristics of Cliff Diving\n'
            '\n'
            '- **Diver**: athletic person in swimwear\n'
            '- **Cliff**: high rocky ledge\n'
            '- **Water**: ocean or lake below'
        ),
        [('diver', None), ('cliff', None), ('water', None)],
        id='hash-title',
    ),
    pytest.param(
        '**Setting:** The video takes place outdoors on a steep cliff face, often with ropes anchored at the top.',
        [('cliff face', 'scene'), ('rope', 'scene')],
        id='scene-inline-sentence',
    ),
    pytest.param(
        (
            'Key Objects Involved:\n'
            '- Toothbrush\n'
            '- Floss\n'
            'Body Parts Involved:\n'
            '- Teeth\n'
            '- Gums\n'
            'People:\n'
            '- Child\n'
            '- Parent'
        ),
        [('toothbrush', 'object'), ('floss', 'object'), ('tooth', 'body'), ('gum', 'body'), ('child', 'role'), ('parent', 'role')],
        id='key-objects-heading',
    ),
    pytest.param(
        (
            '- Strumming\n'
            '- Swimming\n'
            '- Guitar\n'
            '- Juggling'
        ),
        [('swimming', None), ('guitar', None), ('juggling', None)],
        id='gerund-items',
    ),
    pytest.param(
        'Objects: balls, clubs, rings, etc.',
        [('ball', 'object'), ('club', 'object'), ('ring', 'object')],
        id='etc-items',
    ),
    pytest.param(
        (
            '- "Rope"\n'
            "- 'Harness'\n"
            '- “Helmet”'
        ),
        [('rope', None), ('harness', None), ('helmet', None)],
        id='quoted-items',
    ),
    pytest.param(
        (
            '- A pair of gloves\n'
            '- A set of weights\n'
            '- Two dumbbells'
        ),
        [('glove', None), ('weight', None), ('dumbbell', None)],
        id='pair-of',
    ),
    pytest.param(
        (
            '- Safety gear: helmet, harness, gloves\n'
            '- Harness: padded, adjustable'
        ),
        [('helmet', 'object'), ('harness', 'object'), ('glove', 'object')],
        id='label-with-short-list',
    ),
    pytest.param(
        'The identifying characteristics are: rope, harness, helmet.',
        [('rope', None), ('harness', None), ('helmet', None)],
        id='intro-colon-inline',
    ),
    pytest.param(
        (
            'Sure, here are some identifying visual characteristics of a person riding a bike:\n'
            '\n'
            '1. Bicycle: The most obvious visual characteristic is the bicycle itself, which has two wheels, handlebars, and pedals.\n'
            '2. Helmet: Many cyclists wear helmets for safety.\n'
            '3. Cycling attire: Riders often wear tight-fitting clothing such as jerseys and padded gloves.\n'
            '4. Road or trail: The setting may be a paved road, a dirt trail, or a bike path.\n'
            '5. Body position: The rider leans forward, gripping the handlebars with both hands.\n'
            '\n'
            'Overall, these characteristics help identify a video of someone riding a bike.'
        ),
        [('bicycle', None), ('helmet', None), ('rider', 'object'), ('clothing', 'object'), ('jersey', 'object'), ('glove', 'object'), ('road', None), ('trail', None), ('handlebar', None), ('hand', None)],
        id='llama-numbered-explanations',
    ),
    pytest.param(
        (
            '**Identifying visual characteristics of juggling balls:**\n'
            '\n'
            '* **Objects:** Several colorful balls (typically 3 or more), sometimes clubs or rings.\n'
            '* **Body parts:** Hands, arms, eyes (tracking the balls).\n'
            '* **Scene:** Often outdoors in a park, on a street, or on a stage.\n'
            '* **Roles:** A juggler, sometimes an audience watching.'
        ),
        [('colorful ball', 'object'), ('club', 'object'), ('ring', 'object'), ('hand', 'body'), ('arm', 'body'), ('eye', 'body'), ('outdoors', 'scene'), ('park', 'scene'), ('street', 'scene'), ('stage', 'scene'), ('juggler', 'role'), ('audience', 'role')],
        id='qwen-bold-bullets-asides',
    ),
    pytest.param(
        (
            'Objects: toothbrush, toothpaste, cup\n'
            'Body: mouth; teeth; tongue\n'
            'Setting: bathroom'
        ),
        [('toothbrush', 'object'), ('toothpaste', 'object'), ('cup', 'object'), ('mouth', 'body'), ('tooth', 'body'), ('tongue', 'body'), ('bathroom', 'scene')],
        id='mixed-separators',
    ),
    pytest.param(
        'Visual characteristics: pizza dough being stretched, tomato sauce, mozzarella cheese, a wood-fired oven, a chef in an apron.',
        [('pizza dough', None), ('tomato sauce', None), ('mozzarella cheese', None), ('wood-fired oven', None), ('chef', None), ('apron', None)],
        id='label-then-long-list',
    ),
    pytest.param(
        'A person is shown brushing their teeth in front of a bathroom mirror with a toothbrush and toothpaste.',
        [('person', None), ('tooth', None), ('bathroom mirror', None), ('toothbrush', None), ('toothpaste', None)],
        id='prose-person',
    ),
    pytest.param(
        (
            'Roles:\n'
            '- Diver\n'
            '- Spectators\n'
            'Scene: high cliff above the sea\n'
            '\n'
            'Actions: jumping, diving, splashing'
        ),
        [('diver', 'role'), ('spectator', 'role'), ('cliff', 'scene'), ('sea', 'scene'), ('jumping', 'motion'), ('diving', 'motion'), ('splashing', 'motion')],
        id='headings-mixed-forms',
    ),
    pytest.param(
        (
            '1. Juggler\n'
            '2. Balls\n'
            '3. Hands\n'
            '4. Juggler\n'
            '5. Balls'
        ),
        [('juggler', None), ('ball', None), ('hand', None)],
        id='smollm-repeats',
    ),
    pytest.param(
        (
            'Objects: rope, harness\n'
            '- carabiners\n'
            '\n'
            'In summary, abseiling videos show ropes and cliffs.'
        ),
        [('rope', 'object'), ('harness', 'object'), ('carabiner', None)],
        id='inline-heading-then-bullet',
    ),
    pytest.param(
        (
            '- **Objects**\n'
            '  - rope\n'
            '  - belay device\n'
            '- **Scenes**\n'
            '  - cliff'
        ),
        [('rope', 'object'), ('belay device', 'object'), ('cliff', 'scene')],
        id='listed-bold-headings',
    ),
]


@pytest.mark.parametrize("answer, expected", ENTITY_CASES)
def test_entities_of_real_answer_styles(nlp, answer, expected):
    assert [(u.text, u.category_hint) for u in parse_entities(answer)] == expected


@pytest.mark.parametrize("answer", ["", "   \n\n  ", "Sure!", "I hope this helps!", "Here are the characteristics:"])
def test_answer_without_entities_gives_nothing(nlp, answer):
    assert parse_entities(answer) == []


def test_answer_of_only_filler_gives_nothing(nlp):
    answer = "- Focus\n- Technique\n- Safety\n- Balance\n- Concentration\nSkill, timing, coordination, strength"
    assert parse_entities(answer) == []


def test_filler_words_are_dropped_alone_and_as_heads(nlp):
    assert {"focus", "technique", "balance", "posture", "expression"} <= ANSWER_FILLER
    answer = "- proper climbing technique\n- facial expression\n- expression\n- climbing rope"
    assert parse_entities(answer) == [ParsedUnit("facial expression", None), ParsedUnit("climbing rope", None)]


def test_duplicates_keep_the_first_text_and_hint(nlp):
    answer = "Objects: rope, helmet\nScenes: cliff, ropes\nRoles: climber\n- Helmets\n- the rope"
    assert parse_entities(answer) == [
        ParsedUnit("rope", "object"), ParsedUnit("helmet", "object"), ParsedUnit("cliff", "scene"),
        ParsedUnit("climber", "role"),
    ]


def test_items_longer_than_four_words_are_reduced_to_their_noun_phrases(nlp):
    answer = "- A climber slowly lowering himself down a steep rock wall\n- large red carabiners"
    assert [u.text for u in parse_entities(answer)] == ["climber", "rock wall", "large red carabiner"]


# (answer to a description prompt, expected descriptions).
DESCRIPTION_CASES = [
    pytest.param(
        "A climbing rope is a long, thick, colourful braided cord coiled on the ground.",
        ["A climbing rope is a long, thick, colourful braided cord coiled on the ground."],
        id="one-sentence",
    ),
    pytest.param(
        '"A harness is a set of padded straps worn around the waist and thighs."',
        ["A harness is a set of padded straps worn around the waist and thighs."],
        id="quoted",
    ),
    pytest.param(
        "'A pizza peel is a flat shovel used to slide pizzas into an oven.'",
        ["A pizza peel is a flat shovel used to slide pizzas into an oven."],
        id="single-quoted",
    ),
    pytest.param(
        "- A rope used to secure climbers\n- A dynamic rope that stretches to absorb falls\n- A static rope for rappelling",
        ["A rope used to secure climbers", "A dynamic rope that stretches to absorb falls", "A static rope for rappelling"],
        id="bullet-explanations",
    ),
    pytest.param(
        "1. The exposed vertical surface of a cliff\n2. A climbing wall outdoors\n3) A quarry wall",
        ["The exposed vertical surface of a cliff", "A climbing wall outdoors", "A quarry wall"],
        id="numbered",
    ),
    pytest.param(
        "**A guitar pick** is a small, flat, **triangular** piece of plastic.",
        ["A guitar pick is a small, flat, triangular piece of plastic."],
        id="bold-markdown",
    ),
    pytest.param(
        "Sure! Here's a concise description:\n\nA belay device is a small metal tool that clamps the rope.",
        ["A belay device is a small metal tool that clamps the rope."],
        id="intro-line",
    ),
    pytest.param(
        "Certainly! A juggling club is a bowling-pin shaped prop.",
        ["A juggling club is a bowling-pin shaped prop."],
        id="greeting-on-the-line",
    ),
    pytest.param(
        "A diving board is a long, flexible plank\nmounted at the edge of a swimming pool,\nused to spring into the water.",
        ["A diving board is a long, flexible plank mounted at the edge of a swimming pool, used to spring into the water."],
        id="multi-line-prose",
    ),
    pytest.param(
        "A rolling pin is a cylindrical wooden tool.  It is rolled over dough to flatten it.",
        ["A rolling pin is a cylindrical wooden tool. It is rolled over dough to flatten it."],
        id="extra-whitespace",
    ),
    pytest.param(
        "Here are some potential explanations for chalk bag:\n\n1. **Grip aid**: A pouch of chalk that keeps hands dry.\n"
        "2. **Accessory**: A small bag clipped to a harness.\n\nI hope this helps!",
        ["Grip aid: A pouch of chalk that keeps hands dry.", "Accessory: A small bag clipped to a harness."],
        id="bold-list-with-intro-and-outro",
    ),
    pytest.param(
        "* A washbasin in a bathroom\n* A sink with a mirror above it\n  and a tap",
        ["A washbasin in a bathroom", "A sink with a mirror above it and a tap"],
        id="wrapped-list-item",
    ),
    pytest.param(
        "### Tennis racket\nA tennis racket is an oval frame strung with tight strings, attached to a long handle.",
        ["A tennis racket is an oval frame strung with tight strings, attached to a long handle."],
        id="markdown-title",
    ),
    pytest.param(
        '"Rope" and "harness" name the gear.',
        ['"Rope" and "harness" name the gear.'],
        id="inner-quotes-kept",
    ),
]


@pytest.mark.parametrize("answer, expected", DESCRIPTION_CASES)
def test_descriptions_of_real_answer_styles(answer, expected):
    assert parse_descriptions(answer) == expected


@pytest.mark.parametrize("answer", ["", "  \n \n", "Sure!", "- \n* \n1. "])
def test_empty_description_answers_give_nothing(answer):
    assert parse_descriptions(answer) == []


def test_descriptions_keep_their_own_wording():
    assert parse_descriptions("- Ropes used by climbers\n- The climbers' harnesses") == [
        "Ropes used by climbers", "The climbers' harnesses",
    ]


def test_parenthesised_examples_are_items_and_other_parentheses_asides():
    # real answers of Qwen2.5-Coder-1.5B to the suggestion prompt (issue 31): commas inside parentheses split no item
    units = lambda answer: [u.text for u in parse_entities(answer)]
    assert units("Building shed, tools (hammer, saw), clothes (shirt), places (house)") == ["building shed", "tool", "hammer", "saw", "clothes"]
    assert units("Bricks, tools (such as hammer or saw), places (such as house or factory).") == ["brick", "tool", "hammer", "saw", "house", "factory"]
    assert units("Hand, knuckle, place (e.g., table), clothing (e.g., gloves)") == ["hand", "knuckle", "table", "clothing", "glove"]
    assert units("Harness (for safety), helmet (worn on the head)") == ["harness", "helmet"]  # asides go
