"""Parsing the LLM's free-text answers into clean data (supplementary B, LLM stage).

Entities (`parse_entities`), line by line:

* Markup: markdown headers (``### Scenes``), bullets (``-`` ``*`` ``•`` ``–`` ...), numbering (``1.``
  ``1)`` ``(1)``), bold/italic marks and backticks are stripped; ``1. Rope 2. Harness`` and
  ``rope • harness`` on one line are split. Greetings ("Sure!"), intros and sign-offs ("Here are ...",
  "I hope this helps", "Note: ...", "Overall, ...") are skipped.
* Headings: text before ``:`` or a spaced dash whose last word names a category (`HEADINGS`, plurals
  and "body parts" included; "Key objects involved", "Scene/Setting") is a heading. Alone on its line
  (``Body parts:``, ``**Objects**``, ``### Scenes``) it gives its hint to the items under it until
  the next heading; followed by items (``Objects: rope, harness``) it gives it to that line only. A
  heading naming two categories gives None. Any other header, whole-line bold text or line ending in
  ``:`` is an intro or an unknown heading: skipped, and the hint becomes None.
* Items: ``Harness: worn around the waist`` and ``rope - used for descent`` keep their left part,
  unless the left part is a label ("Visual characteristics: rope, harness") or the right part a short
  list ("Safety gear: helmet, gloves": both). Lists split on commas, semicolons and ``and``/``or``/
  ``&``/``/`` (unless the whole is a WordNet lemma); ``gear such as helmets`` gives the head and its
  examples (also ``including``, ``like``, ``e.g.``). Each item is lower-cased and loses parenthesised
  asides, quotes, trailing punctuation, "etc.", leading articles, numbers, quantities ("pair of") and
  non-visual qualifiers (`QUALIFIERS`), and its possessor ("the climber's helmet" -> "helmet"); an
  explanation after ``used``/``which``/``that``/``who``/``for`` is cut, after ``to``/``with`` too when
  the item is longer than 4 words.
* Noun phrases: spaCy parses each item in the frame "a photo of the {item}.". An item that is one
  noun chunk ending in a noun is kept whole ("climbing shoes", "colorful balls"); any other item
  ("fingers pressing the strings", long items) is reduced to its noun chunks ("finger", "string"),
  as is prose (a line not in a list with a comma part longer than 4 words), and such chunks also lose
  leading adjectives unless the phrase is a WordNet lemma ("a steep cliff face" -> "cliff face").
  Under a motion heading an item of at most 4 words is kept as it is ("pushing off the wall"). A
  one-word item spaCy finds no noun in is kept when WordNet knows it as a noun ("fencer").
* Units: the head (last word) is singularised with WordNet (`extract.singular`). Dropped: pronouns,
  units longer than 4 words, single ``-ing``/``-ed`` words WordNet does not know as nouns (outside
  a motion heading), and abstract filler (`lexicon.ANSWER_FILLER`: the whole unit, or its head
  unless the phrase is a WordNet lemma such as "facial expression"). Repeats keep their first
  occurrence and its hint.

Descriptions (`parse_descriptions`): one string per list item (indented continuation lines joined),
and any other line as its own string; an answer without list items is one paragraph. Markup,
headers, intro lines, surrounding quotes and extra whitespace go; the wording itself is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from alt_common.labels import strip_control

from .extract import compound, is_noun, singular
from .lexicon import ANSWER_FILLER, NOUN_TAGS, PLURAL_NOUN_TAGS
from .resources import load_spacy, wordnet

MAX_WORDS = 4
MAX_ITEMS = 64  # entities (after cleaning) or descriptions taken from one answer; the rest is dropped
MAX_PIECES = 4 * MAX_ITEMS  # list items of one answer that are parsed at all (a runaway answer stops here)
FRAME = "a photo of the {item}."

QUALIFIERS = frozenset(
    """a an the various different specific appropriate proper possibly typically often usually some
    other several many any certain multiple additional potential possible optional their his her its
    your one's e.g. i.e. also maybe perhaps likely sometimes generally commonly two three four both""".split()
)
QUANTITIES = ("pair of", "pairs of", "set of", "sets of", "piece of", "pieces of", "couple of", "number of",
              "variety of", "lot of", "lots of", "bunch of", "kind of", "kinds of", "type of", "types of")

# Heading words -> category hint (plural forms are matched by dropping a final "s").
HEADINGS = {
    **dict.fromkeys("object equipment tool prop item gear clothing attire apparel instrument accessory "
                    "accessories utensil ingredient".split(), "object"),
    "body": "body",
    **dict.fromkeys("scene setting location environment background place surrounding scenery venue".split(), "scene"),
    **dict.fromkeys("role people participant person persons character".split(), "role"),
    **dict.fromkeys("motion movement action".split(), "motion"),
}
_HEADING_TAIL = frozenset("involved used present visible seen needed required included".split())
_INTRO = re.compile(
    r"^(sure|certainly|of course|absolutely|okay|here (are|is)|here['’]s|below (are|is)|the following|"
    r"i hope|hope this|let me know|feel free|note|please note)\b"
)
_SUMMARY = re.compile(
    r"^(in summary|to summarize|summary|overall|in conclusion|this list|"
    r"these (are|characteristics|features|elements|visual|cues|details|items))\b"
)
_GREETING = re.compile(r"^(sure|certainly|of course|absolutely|okay)\s*[!.,]\s*", re.I)
_HEADER = re.compile(r"^#{1,6}\s*")
_MARKER = re.compile(r"^(?:[-*•–—+·▪◦●○✓✔→]|\(?\d{1,2}[.)]|\(?[a-z][.)](?=\s))(?:\s+|$)")
_INLINE_NUMBER = re.compile(r"\s+(?=\d{1,2}[.)]\s)")
_INLINE_BULLET = re.compile(r"\s+•\s+")
_EMPHASIS = re.compile(r"\*\*|__|\*|`|(?<!\w)_|_(?!\w)")
_ASIDE = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
_SEPARATOR = re.compile(r":|\s[-–—]+\s|—")
_QUOTES = "\"'“”‘’«»"
_QUOTE_PAIRS = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»"}
_LIST_SPLIT = re.compile(r"\s*[,;]\s*")
_AND_SPLIT = re.compile(r"\s*/\s*|\s+(?:and|or|&|and/or)\s+")
_EXAMPLES = re.compile(r"\s+(?:such as|including|like|e\.g\.?)\s+")
_PAREN = re.compile(r"\(([^()]*)\)")
_PAREN_EXAMPLES = re.compile(r"(?:such as|including|like|e\.g\.?,?|for example,?)\s+")
_ALWAYS_CUT = re.compile(r"\s+(?:used|which|that|who|for)\s+.*$")
_LONG_CUT = re.compile(r"\s+(?:to|with)\s+.*$")
_POSSESSOR = re.compile(r"^.*?\b\w+(?:'s|’s|s'|s’)\s+")


@dataclass(frozen=True)
class ParsedUnit:
    """One entity named by the LLM."""

    text: str  # clean, lower-case, head noun singular: "climbing harness", "rope", "helmet"
    category_hint: str | None  # "object", "body", "scene", "role" or "motion" from the answer's heading


@dataclass(frozen=True)
class _Piece:
    """A stretch of answer text to turn into units: one list item, or a prose line."""

    text: str
    hint: str | None
    prose: bool


@dataclass(frozen=True)
class _Line:
    """One line of an answer without its markup."""

    text: str
    listed: bool  # bulleted or numbered
    header: bool  # a markdown header
    bold: bool  # in bold throughout
    indented: bool

    @property
    def title(self) -> bool:
        """A header, or a bold line outside a list: a heading or a title, never an item."""
        return self.header or (self.bold and not self.listed)


# ---------------------------------------------------------------- lines


def _split_inline(line: str) -> list[str]:
    """`1. a 2. b` and `a • b` written on one line, as separate lines."""
    parts = _INLINE_BULLET.split(line)
    if _MARKER.match(line.strip()) and line.strip()[0].isdigit():
        parts = [p for part in parts for p in _INLINE_NUMBER.split(part)]
    return parts


def _lines(answer: str) -> Iterator[_Line]:
    """The answer's non-empty lines, markup stripped."""
    for raw in answer.splitlines():
        for part in _split_inline(raw):
            text = part.strip()
            header = bool(_HEADER.match(text))
            text = _HEADER.sub("", text)
            marker = _MARKER.match(text)
            text = text[marker.end():] if marker else text
            bold = bool(re.fullmatch(r"(\*\*|__)[^*_]+(\*\*|__):?", text))
            text = " ".join(_EMPHASIS.sub("", text).split())
            if text:
                yield _Line(text, bool(marker), header, bold, part[:1].isspace())


def _is_intro(text: str) -> bool:
    return bool(_INTRO.match(text.lower()))


def _without_greeting(text: str) -> str:
    """"Sure! A rope is ..." -> "A rope is ..."."""
    return _GREETING.sub("", text)


# ---------------------------------------------------------------- headings


def _heading_word(word: str) -> str | None:
    return HEADINGS.get(word) or (HEADINGS.get(word[:-1]) if word.endswith("s") else None)


def _heading_hint(text: str) -> tuple[bool, str | None]:
    """(is this a category heading, its hint): "Body parts involved" -> (True, "body")."""
    words = re.findall(r"[a-z]+", text.lower())
    while words and words[-1] in _HEADING_TAIL:
        words.pop()
    if not words or len(words) > 5:
        return False, None
    last = words[-1]
    known = _heading_word(last) or (len(words) > 1 and words[-2] == "body" and last in ("part", "parts"))
    if not known:
        return False, None
    hints = {h for h in map(_heading_word, words) if h}
    return True, hints.pop() if len(hints) == 1 else None


# ---------------------------------------------------------------- items (strings)


def _clean(text: str) -> str:
    """Lower-case, no asides, quotes, trailing punctuation or "etc."."""
    text = _ASIDE.sub("", text).lower()
    text = re.sub(r"[\s,;]*\b(etc|and so on|and more)\b\.?$", "", text)
    return " ".join(text.strip(_QUOTES + " .,;:!?").strip(_QUOTES + " ").split())


def _strip_qualifiers(text: str) -> str:
    """Drop leading articles, quantities ("pair of"), non-visual qualifiers, digits and a possessor."""
    words = text.split()
    while words:
        two = " ".join(words[:2])
        if two in QUANTITIES:
            words = words[2:]
        elif words[0] in QUALIFIERS or words[0].isdigit() or words[0] in ("and", "or"):
            words = words[1:]
        else:
            break
    text = " ".join(words)
    rest = _POSSESSOR.sub("", text)
    return rest if rest else re.sub(r"(?:'s|’s|'|’)$", "", text)


def _cut(text: str) -> str:
    """Cut an explanation off an item: after `used`, `which`, ... always; after `to`, `with` when long."""
    text = _ALWAYS_CUT.sub("", text)
    return _LONG_CUT.sub("", text) if len(text.split()) > MAX_WORDS else text


def _split_and(text: str) -> list[str]:
    """"hands and feet" -> ["hands", "feet"], unless the whole is one WordNet lemma ("rock and roll")."""
    if compound(text.split()):
        return [text]
    return _AND_SPLIT.split(text)


def _open_examples(text: str) -> str:
    """Parenthesised examples become the item's examples: "tools (such as hammer or saw)" and "tools
    (hammer, saw)" -> "tools such as hammer or saw"; any other parenthesis stays an aside."""

    def opened(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        led = _PAREN_EXAMPLES.match(inner)
        parts = [p for p in _LIST_SPLIT.split(inner[led.end():] if led else inner) if p]
        if led or (len(parts) > 1 and all(len(p.split()) <= 3 for p in parts)):
            return " such as " + " or ".join(parts) + " "
        return match.group(0)

    return _PAREN.sub(opened, text)


def _items(text: str) -> list[str]:
    """The clean items of a list entry: split, explanations cut, examples kept, qualifiers stripped."""
    items = []
    for part in _LIST_SPLIT.split(_open_examples(text)):
        for item in _split_and(_cut(_strip_qualifiers(_clean(part)))):
            items.extend(_strip_qualifiers(_clean(i)) for i in _EXAMPLES.split(item))
    return [i for i in items if i]


def _explained(text: str) -> tuple[str, str]:
    """Split "Harness: worn around the waist" into ("Harness", "worn around the waist")."""
    parts = _SEPARATOR.split(text, maxsplit=1)
    return (parts[0].strip(), parts[1].strip()) if len(parts) == 2 else (text, "")


def _is_prose(text: str) -> bool:
    """A line that is sentences rather than a list of short names."""
    return any(len(_strip_qualifiers(_clean(p)).split()) > MAX_WORDS for p in _LIST_SPLIT.split(text))


def _is_label(text: str) -> bool:
    """"Visual characteristics", "Key elements": a name for what follows, not an entity."""
    words = _clean(text).split()
    return bool(words) and (words[-1] in ANSWER_FILLER or words[-1].removesuffix("s") in ANSWER_FILLER)


def _is_short_list(text: str) -> bool:
    """"helmet, gloves, harness": two or more parts of at most 3 words."""
    parts = [_clean(p) for p in _LIST_SPLIT.split(text)]
    parts = [p for p in parts if p]
    return len(parts) > 1 and all(len(p.split()) <= 3 for p in parts)


def _content(text: str, hint: str | None, listed: bool) -> list[_Piece]:
    """A line's content as one prose piece (an unlisted sentence) or as its list items."""
    if not listed and _is_prose(text):
        return [_Piece(_clean(text), hint, True)]
    return [_Piece(i, hint, False) for i in _items(text)]


def _line_pieces(line: _Line, hint: str | None) -> tuple[list[_Piece], str | None]:
    """The pieces of one line and the hint for the lines after it."""
    text = _without_greeting(line.text)
    if not text or (_is_intro(text) and not line.title) or _SUMMARY.match(text.lower()):
        return [], hint
    left, right = _explained(text)
    is_heading, heading = _heading_hint(left)
    if is_heading and right:  # "Objects: rope, harness": this line only
        return _content(right, heading, False), hint
    if is_heading and (line.header or line.bold or text.endswith(":")):
        return [], heading
    if line.title or (not right and text.endswith(":")):
        return [], None
    if right and _is_label(left):  # "Visual characteristics: rope, harness"
        return _content(right, hint, False), hint
    if _is_short_list(right):  # "Safety gear: helmet, gloves"
        named = left if len(left.split()) <= MAX_WORDS else ""
        return _content(named, hint, True) + _content(right, hint, True), hint
    if right and not line.listed and len(left.split()) > MAX_WORDS:  # "The video shows: a climber ..."
        left = right
    return _content(left, hint, line.listed), hint


def _pieces(answer: str) -> list[_Piece]:
    """The pieces of an answer (its first MAX_PIECES), each with the hint of its heading."""
    pieces: list[_Piece] = []
    hint = None
    for line in _lines(strip_control(answer, keep_lines=True)):
        found, hint = _line_pieces(line, hint)
        pieces.extend(found)
        if len(pieces) >= MAX_PIECES:
            break
    return pieces[:MAX_PIECES]


# ---------------------------------------------------------------- units (spaCy, WordNet)


def _unit_text(tokens: list[Any]) -> str:
    """Words of a noun phrase with the head singularised."""
    last = tokens[-1]
    head = last.lower_
    if last.tag_ in PLURAL_NOUN_TAGS or (last.tag_ in NOUN_TAGS and last.lemma_.lower() != head):
        head = singular(head, last.lemma_.lower())
    return "".join(t.text_with_ws for t in tokens[:-1]).lower() + head


def _chunk_tokens(chunk: Any) -> list[Any]:
    """A noun chunk's tokens without determiners, possessors, qualifiers and (unless a lemma) adjectives."""
    tokens = list(chunk)
    owner = max((i for i, t in enumerate(tokens) if t.tag_ == "POS"), default=-1)
    tokens = tokens[owner + 1:]
    while tokens and (tokens[0].tag_ in ("DT", "PRP$", "CD", "WDT") or tokens[0].lower_ in QUALIFIERS):
        tokens = tokens[1:]
    while len(tokens) > 1 and not compound([t.lower_ for t in tokens]):
        if len(tokens) > 3 and tokens[1].tag_ == "HYPH":  # "tight-fitting"
            tokens = tokens[3:]
        elif tokens[0].tag_ in ("JJ", "JJR", "JJS", "VBN", "VBD"):  # spaCy's "padded"/VBD gloves
            tokens = tokens[1:]
        else:
            break
    return tokens


def _chunks(doc: Any, start: int) -> list[str]:
    """Units of the noun chunks of a parsed piece that lie at or after character `start`."""
    out = []
    for chunk in doc.noun_chunks:
        if chunk.end_char <= start or chunk.root.pos_ == "PRON":
            continue
        tokens = _chunk_tokens(chunk)
        if tokens and tokens[-1].tag_ in NOUN_TAGS:
            out.append(_unit_text(tokens))
    return out


def _item_units(doc: Any, start: int, hint: str | None) -> list[str]:
    """Units of a parsed list item: itself when it is one noun chunk, else its noun chunks."""
    words = [t for t in doc if t.idx >= start and not t.is_punct]
    if not words:
        return []
    tokens = list(doc[words[0].i:words[-1].i + 1])
    chunks = [c for c in doc.noun_chunks if c.end_char > start]
    whole = len(chunks) == 1 and chunks[0].start <= tokens[0].i and chunks[0].end == tokens[-1].i + 1
    if whole and tokens[-1].tag_ in NOUN_TAGS:
        return [_unit_text(tokens)]
    if hint == "motion" and len(tokens) <= MAX_WORDS:  # "rappelling down the cliff"
        return [_unit_text(tokens)]
    if not chunks and len(tokens) == 1 and is_noun(tokens[0].lower_):  # spaCy's adjective "fencer"
        return [singular(tokens[0].lower_, tokens[0].lemma_.lower())]
    return _chunks(doc, start)


def _keep(text: str, hint: str | None) -> bool:
    """Is this a concrete, short, nominal unit?"""
    words = text.split()
    if not words or len(words) > MAX_WORDS or text in ANSWER_FILLER:
        return False
    if words[-1] in ANSWER_FILLER and not wordnet().synsets(text.replace(" ", "_"), "n"):
        return False
    if len(words) == 1 and text.endswith(("ing", "ed")) and hint != "motion":
        return bool(wordnet().synsets(text, "n"))
    return any(c.isalpha() for c in text)


def _units(pieces: list[_Piece], docs: Iterable[Any]) -> list[ParsedUnit]:
    start = FRAME.index("{")
    units = []
    for piece, doc in zip(pieces, docs):
        texts = _chunks(doc, 0) if piece.prose else _item_units(doc, start, piece.hint)
        units.extend(ParsedUnit(t, piece.hint) for t in texts if _keep(t, piece.hint))
    return units


def parse_entities_many(answers: list[str], repeats: bool = False) -> list[list[ParsedUnit]]:
    """`parse_entities` of many answers, their pieces tagged by spaCy in one `nlp.pipe` (a pipe per
    answer cost 9 s of a 530-label build)."""
    pieces = [_pieces(answer or "") for answer in answers]
    flat = [p for ps in pieces for p in ps]
    docs = iter(load_spacy().pipe(p.text if p.prose else FRAME.format(item=p.text) for p in flat)) if flat else iter(())
    parsed = []
    for ps in pieces:
        units = _units(ps, [next(docs) for _ in ps])
        parsed.append(units if repeats else _first_of_each(units))
    return parsed


def _first_of_each(units: list[ParsedUnit]) -> list[ParsedUnit]:
    seen: dict[str, ParsedUnit] = {}
    for unit in units:
        seen.setdefault(unit.text, unit)
    return list(seen.values())


def parse_entities(answer: str, repeats: bool = False) -> list[ParsedUnit]:
    """Entity units from an answer to the entities prompt, in order, without duplicates (by text,
    the first kept) unless `repeats` (the cleaner needs them to see a looping answer)."""
    return parse_entities_many([answer], repeats)[0]


# ---------------------------------------------------------------- descriptions


def _description(text: str) -> str:
    """A description without surrounding quotes or extra whitespace."""
    text = " ".join(text.split())
    while len(text) > 1 and _QUOTE_PAIRS.get(text[0]) == text[-1] and text[0] not in text[1:-1].replace("'", ""):
        text = text[1:-1].strip()
    return text


def parse_descriptions(answer: str) -> list[str]:
    """Descriptions from an answer to a description prompt: one string per list item, or the whole
    answer as one cleaned sentence/paragraph when it is prose. Strips markdown (bold, bullets, numbering),
    surrounding quotes, extra whitespace; drops empty items. Keeps the text's own wording (no singularising)."""
    entries: list[list[str]] = []  # [text, "item" or "prose"]
    for line in _lines(strip_control(answer or "", keep_lines=True)):
        text = _without_greeting(line.text)
        if not text or line.title or _is_intro(text) or text.endswith(":"):
            continue
        if not line.listed and line.indented and entries and entries[-1][1] == "item":
            entries[-1][0] = f"{entries[-1][0]} {text}"  # a wrapped list item
        else:
            entries.append([text, "item" if line.listed else "prose"])
    if not any(kind == "item" for _, kind in entries):
        entries = [[" ".join(text for text, _ in entries), "prose"]]
    kept = (_description(text) for text, _ in entries[:MAX_PIECES])
    return [t for t in kept if t][:MAX_ITEMS]
