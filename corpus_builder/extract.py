"""Lexical extraction of entity units from action labels (supplementary B, step 1).

POS tags come from spaCy; NLTK's ``RegexpParser`` chunks them into noun phrases; WordNet decides
what is a noun, which multi-word compounds are one lemma (``ice cream``, ``golf club``) and how to
singularise. The action's own verb (``playing``, ``riding``; HMDB's bare ``brush`` in ``brush hair``)
is dropped. A label without any noun yields one ``motion`` unit: the label itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator

from nltk import RegexpParser

from .lexicon import ACT_FILE, INDEFINITE_NOUNS, NOUN_TAGS, PLURAL_NOUN_TAGS
from .resources import wordnet

NP_GRAMMAR = "NP: {<JJ|NN.*>*<NN.*>}"
_CHUNKER = RegexpParser(NP_GRAMMAR)
FRAME = "a video of {label}."


@dataclass(frozen=True)
class Unit:
    """One extracted entity name and what it came from."""

    text: str  # lower-case, singular head: "guitar", "ice cream", "eye makeup"
    kind: str  # "word" (one WordNet lemma, compounds included) or "phrase"
    source: str  # "pos", "label" (the label's own motion unit), or a relation (related.py)
    category_hint: str | None = None  # "motion" for the label's own unit
    sense: str | None = None  # the one WordNet sense of a unit found through a WordNet relation (related.py)


def _lemma_count(word: str, pos: str) -> int:
    wn = wordnet()
    return sum(l.count() for s in wn.synsets(word, pos) for l in s.lemmas() if l.name().lower() == word)


def is_noun(word: str) -> bool:
    return bool(wordnet().synsets(word.replace(" ", "_"), "n"))


def compound(words: list[str]) -> str | None:
    """The WordNet noun lemma these words spell (`ice cream`; `push ups` -> `pushup`), if any.

    A closed spelling (`sidekick` for `side kick`) counts only when it is the same kind of thing as
    its head word, i.e. shares a WordNet lexicographer file with it (or the head is no noun):
    `sky diving` is `skydiving` (both acts), but a side kick is no sidekick (a person)."""
    wn = wordnet()
    if len(words) < 2:
        return None
    for sep in ("_", "-", ""):
        base = wn.morphy(sep.join(words), "n")
        if base and any(l.name().lower() == base for s in wn.synsets(base, "n") for l in s.lemmas()):
            if sep or _same_kind(base, words[-1]):
                return base.replace("_", " ")
    return None


def _same_kind(closed: str, head: str) -> bool:
    """Does a closed compound share a lexicographer file with its head word's noun senses (or is the head no noun)?"""
    wn = wordnet()
    heads = {s.lexname() for s in wn.synsets(head, "n")}
    return not heads or bool(heads & {s.lexname() for s in wn.synsets(closed, "n")})


def _verb_compound(words: list[str]) -> bool:
    """Do these words spell a WordNet verb (`blow dry` -> `blow-dry`)?"""
    wn = wordnet()
    return any(wn.synsets(sep.join(words), "v") for sep in ("_", "-"))


def singular(word: str, lemma: str) -> str:
    """Singular form of a noun, keeping plurals WordNet lists as their own lemma (`stairs`, `clothes`)."""
    wn = wordnet()
    guesses = [lemma, wn.morphy(word, "n")]
    guesses += [word[:-1]] if word.endswith("s") else []
    guesses += [word[:-2]] if word.endswith("es") else []
    base = next((b for b in guesses if b and b != word and is_noun(b)), None)
    if base is None:
        return word
    plain = word[:-1]  # "cookies" -> "cookie", not WordNet's first spelling "cooky"
    if plain != base and set(wn.synsets(plain, "n")) & set(wn.synsets(base, "n")):
        base = plain
    return word if _lemma_count(word, "n") > _lemma_count(base, "n") else base


def _is_action_verb(tokens: list[Any], i: int) -> bool:
    """Is token i the label's action verb (dropped from the units)?"""
    wn = wordnet()
    tok = tokens[i]
    word = tok.text
    if tok.tag_.startswith("VB"):
        return True
    if tok.tag_ in ("RP", "IN"):
        return False
    if len(tokens) > 2 and i < 2 and _verb_compound([tokens[0].text, tokens[1].text]):  # "blow dry hair"
        return True
    if word.endswith("ing") and wn.morphy(word, "v") not in (None, word):  # gerunds tagged NN: "clapping"
        return not (i > 0 and compound([tokens[i - 1].text, word]))
    if i == 0 and len(tokens) > 1 and tok.tag_ in NOUN_TAGS + ("JJ",):  # HMDB's bare verbs: "brush hair"
        nxt = tokens[1].text
        return (
            wn.morphy(word, "v") == word
            and not nxt.endswith("ing")
            and compound([word, nxt]) is None
            and _lemma_count(word, "v") > _lemma_count(word, "n")
        )
    return False


def _segments(words: list[str]) -> list[tuple[str, int]]:
    """Greedy longest-match of WordNet compounds over a chunk's words, left to right: (text, first word)."""
    out, i = [], 0
    while i < len(words):
        for j in range(len(words), i, -1):
            text = words[i] if j - i == 1 else compound(words[i:j])
            if text:
                out.append((text, i))
                i = j
                break
    return out


def _chunk_units(chunk: list[tuple[str, str, str]]) -> list[Unit]:
    """Units of one noun-phrase chunk of (word, tag, lemma): its noun segments, and the phrase."""
    words = [w for w, _, _ in chunk]
    if chunk[-1][1] in PLURAL_NOUN_TAGS:
        words[-1] = singular(words[-1], chunk[-1][2])
    segments = _segments(words)
    units = [Unit(s, "word", "pos", _gerund(s)) for s, i in segments if is_noun(s) or chunk[i][1].startswith("NN")]
    if len(segments) > 1:
        units.append(Unit(" ".join(words), "phrase", "pos"))
    return [u for u in units if u.text not in INDEFINITE_NOUNS]


def _gerund(word: str) -> str | None:
    """"motion" for a word WordNet does not know that ends in -ing ("breadcrumbing"): an activity."""
    return "motion" if word.endswith("ing") and not is_noun(word) else None


def _retag(word: str, tag: str) -> str:
    """spaCy mis-tags nouns in verb-less fragments ("treadmill"/JJ, "grapes"/VBZ): trust WordNet then."""
    wn = wordnet()
    pos = {"J": "a", "V": "v", "R": "r"}.get(tag[:1])
    if pos and is_noun(word) and not wn.synsets(word, pos) and not (pos == "a" and wn.synsets(word, "s")):
        return "NNS" if (wn.morphy(word, "n") or word) != word else "NN"
    return tag


_PARENTHESES = re.compile(r"\([^)]*\)")


def core(label: str) -> str:
    """The words units come from: the label without its parentheses, closed spellings opened as
    WordNet writes them. A parenthesis is an exclusion ("skiing (not slalom or crosscountry)") or a
    qualifier ("shooting goal (soccer)"): neither names a thing of the action itself; the qualifier
    stays in the WSD context, which is the whole label."""
    return " ".join(_opened(w) for w in _PARENTHESES.sub(" ", label).split()) or label


def _opened(word: str) -> str:
    """A word WordNet does not know, opened as WordNet writes it ("breakdancing" -> "break dancing",
    "situp" -> "sit-up"): the first split into two words that spell a WordNet noun compound."""
    wn = wordnet()
    if len(word) < 5 or wn.synsets(word) or wn.morphy(word, "n") or wn.morphy(word, "v"):
        return word
    for i in range(2, len(word) - 1):
        opened = compound([word[:i], word[i:]])
        if opened:
            return opened
    return word


def label_units(label: str, tokens: list[Any]) -> list[Unit]:
    """The units of one label, given its spaCy tokens, in order of appearance, without repeats."""
    whole = compound(label.split())
    if whole:
        return [_own_unit(whole)]
    tokens = [t for t in tokens if not t.is_punct]
    tagged = [
        (t.text, "VERB" if _is_action_verb(tokens, i) else _retag(t.text, t.tag_), t.lemma_.lower())
        for i, t in enumerate(tokens)
    ]
    tree = _CHUNKER.parse([((w, lemma), tag) for w, tag, lemma in tagged])
    units: list[Unit] = []
    for subtree in tree.subtrees(lambda t: t.label() == "NP"):
        chunk = [(w, tag, lemma) for (w, lemma), tag in subtree.leaves()]
        units.extend(u for u in _chunk_units(chunk) if u not in units)
    if not units or [u.text for u in units] == [label]:
        return [_own_unit(label)]
    if action := _nominal_action(tagged):
        units = [replace(u, category_hint="motion") if action in (u.text, u.text.split()[-1]) else u for u in units]
    return units


def _nominal_action(tagged: list[tuple[str, str, str]]) -> str | None:
    """The noun that names the action in a verb-less label ("golf swing", "javelin throw", "front
    raises"): a last noun with an act sense that is foremost an act (its first sense) or foremost a
    verb (SemCor counts), so "military parade" keeps its procession. None when the label has a verb."""
    wn = wordnet()
    if len(tagged) < 2 or any(tag == "VERB" for _, tag, _ in tagged) or not tagged[-1][1].startswith("NN"):
        return None
    word, tag, lemma = tagged[-1]
    head = singular(word, lemma) if tag in PLURAL_NOUN_TAGS else word
    nouns, verb = wn.synsets(head, "n"), wn.morphy(head, "v")
    if not verb or not any(s.lexname() == ACT_FILE for s in nouns):
        return None
    return head if nouns[0].lexname() == ACT_FILE or _lemma_count(verb, "v") > _lemma_count(head, "n") else None


def _own_unit(text: str) -> Unit:
    """The label as its own unit: a `motion` unit when it names an activity (a verb, an act, or unknown)."""
    wn = wordnet()
    key = text.replace(" ", "_")
    acts = [s for s in wn.synsets(key, "n") if s.lexname() == ACT_FILE]
    activity = bool(acts or wn.synsets(key, "v") or not wn.synsets(key, "n"))
    kind = "word" if " " not in text or wn.synsets(key) else "phrase"
    return Unit(text, kind, "label", "motion") if activity else Unit(text, kind, "pos")


def extract_units(labels: Iterable[str], nlp: Any) -> Iterator[tuple[str, list[Unit]]]:
    """(label, units) for each label (supplementary B step 1), POS-tagging in one spaCy pass.

    Labels are tagged inside a sentence frame: spaCy tags a bare fragment much worse.
    """
    labels = list(labels)
    start = len(FRAME.split("{")[0])
    cores = [core(label) for label in labels]
    docs = nlp.pipe(FRAME.format(label=text) for text in cores)
    for label, text, doc in zip(labels, cores, docs):
        yield label, label_units(text, [t for t in doc if start <= t.idx < start + len(text)])
