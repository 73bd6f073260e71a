"""`build_corpus`: action labels in, the corpus DataFrame of DESIGN §4 out (supplementary B)."""

from __future__ import annotations

import logging
import platform
import time
from collections import Counter
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import pandas as pd

from alt_common.labels import LabelFile, dedupe, normalize_label
from alt_common.progress import Step, step

from .categories import DEFAULT_BODY_PARTS, category_of
from .clean import capped, clean_units
from .corpus import COLUMNS
from .errors import CorpusError
from .expand import Candidate, candidates
from .extract import NP_GRAMMAR, Unit, compound, extract_units
from .parse import MAX_ITEMS, ParsedUnit, parse_descriptions, parse_entities_many
from .prompts import Prompts, load_prompts
from .suggest import Suggestions, suggested_many
from .related import is_thing, keep_related, related_units, relevance, relevance_floor, thing_senses, verbs_beside
from .resources import load_spacy, package_version, spacy_info, wordnet
from .wsd import Choice, Context, Item, WSDMethod, disambiguate_many
from .wsd_methods import resolve_method

if TYPE_CHECKING:  # the openai client is imported only by a build that asks an LLM
    from .llm import LLM

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
CHOICE_BATCH = 256  # units per disambiguate_many call
SUGGESTED = frozenset({"llm", "packaged"})  # the sources of units an LLM named


@dataclass
class LabelUnit:
    """A unit as found for one label: by POS, by the label itself, by the LLM, or several."""

    unit: Unit
    sources: set[str]
    llm_category: str | None = None


def _llm_unit(parsed: ParsedUnit) -> Unit:
    """An LLM unit: a `word` when it is one word or a WordNet compound (spelled as WordNet does)."""
    words = parsed.text.split()
    lemma = compound(words)
    return Unit(lemma or parsed.text, "word" if len(words) == 1 or lemma else "phrase", "llm")


def join_units(units: list[Unit], parsed: list[ParsedUnit], source: str = "llm") -> list[LabelUnit]:
    """POS/label units and the LLM's units of one label, merged by text (DESIGN §1: extract); `source`
    names where the LLM's answer came from ("packaged": replayed from a suggestions file)."""
    joined: dict[str, LabelUnit] = {u.text: LabelUnit(u, {u.source}) for u in units}
    for p in parsed:
        unit = _llm_unit(p)
        found = joined.setdefault(unit.text, LabelUnit(unit, set()))
        found.sources.add(source)
        found.llm_category = found.llm_category or p.category_hint
    return list(joined.values())


def _wsd_items(label: str, units: list[LabelUnit], phrase_candidates: dict[str, list[Candidate]], answer: str,
               suggesting: bool = False) -> list[Item]:
    """What WSD gets for each unit of a label: the unit, its context (the label, its other units, the
    LLM's answer) and its candidates (the LLM's phrase descriptions, else WordNet's; in suggest mode,
    a unit only the LLM named gets only its thing senses when it has any: it was asked for things)."""
    return [
        (
            item.unit.text,
            Context(label, tuple(u.unit.text for u in units if u is not item), answer, motion=item.unit.category_hint == "motion"),
            phrase_candidates.get(item.unit.text) or _candidates(item, suggesting),
        )
        for item in units
    ]


def _candidates(item: LabelUnit, suggesting: bool) -> list[Candidate]:
    found = candidates(item.unit)
    if not suggesting or item.sources - SUGGESTED:
        return found
    wn = wordnet()
    return [c for c in found if c.sense and is_thing(wn.synset(c.sense))] or found


def _choose_senses(items: list[Item], method: WSDMethod, show_progress: bool = False, what: str = "Choosing senses") -> list[Choice]:
    """The choice for every item, CHOICE_BATCH items per `disambiguate_many` call: a batching method
    (t5) batches across units and labels, and the progress (a bar, or lines on the log) moves between calls."""
    chosen: list[Choice] = []
    with step(what, len(items), unit="units", bar=show_progress) as progress:
        for start in range(0, len(items), CHOICE_BATCH):
            batch = items[start : start + CHOICE_BATCH]
            chosen.extend(disambiguate_many(batch, method))
            progress.advance(len(batch))
    return chosen


def _row(label: str, item: LabelUnit, cands: list[Candidate], choice: Choice) -> dict[str, Any]:
    """The row of one unit of a label: its candidates, the chosen one, its category."""
    unit = item.unit
    return {
        "unit": unit.text,
        "kind": unit.kind,
        "description": choice.description,
        "sense": choice.sense,
        "category": category_of(choice.sense, unit.category_hint, item.llm_category),
        "sources": sorted(item.sources),
        "labels": [label],
        "wsd_method": choice.method,
        "wsd_score": choice.score,
        "wsd_margin": choice.margin,
        "candidates": [c.description for c in cands] or [choice.description],
    }


def _related_rows(
    labels: list[str], units: dict[str, list[LabelUnit]], chosen: dict[str, list[Choice]], nlp: Any, method: WSDMethod, show_progress: bool,
    building: Step | None = None,
) -> list[dict[str, Any]]:
    """The rows of the things WordNet relates to each label's chosen senses (related.py; not those of
    units only an LLM suggested: a suggested camera would bring its shutter and diaphragm, a table its
    tabletop), and to the senses of its action verbs (disambiguated here, as a motion unit is): each disambiguated
    in the label's context, the gloss it was read from as extra context, and kept when
    `keep_related` says a frame shows it."""
    wn = wordnet()
    texts = {label: sorted({u.unit.text for u in units[label]}) for label in labels}
    named = {label for label in labels if any(u.unit.category_hint == "motion" for u in units[label])}  # its action is a unit
    verbs = [(label, Unit(v, "word", "verb", "motion")) for label in labels if label not in named for v in verbs_beside(label, texts[label])]
    verb_choices = _choose_senses([(v.text, Context(label, tuple(texts[label]), motion=True), candidates(v)) for label, v in verbs], method,
                                  show_progress, "Choosing senses of action verbs")
    senses = {label: [c.sense for u, c in zip(units[label], chosen[label]) if u.sources - SUGGESTED] for label in labels}
    actions: dict[str, list[str | None]] = {label: [] for label in labels}
    for (label, _), choice in zip(verbs, verb_choices):
        actions[label].append(choice.sense)
    _status(building, "finding related things")
    glossed = sorted({s for label in labels for s in senses[label] + actions[label] if s})
    tagged = {sense: list(doc) for sense, doc in zip(glossed, nlp.pipe(wn.synset(s).definition() for s in glossed))}
    found = [
        (label, related, (related.unit.text, Context(label, tuple(texts[label]), related.gloss), thing_senses(related.unit)))
        for label in labels
        for related in related_units(label, senses[label], tagged, actions[label])
        if related.unit.text not in texts[label]
    ]
    choices = _choose_senses([item for _, _, item in found], method, show_progress, "Choosing senses of related things")
    _status(building, "scoring related things")
    kept = [
        (label, related, item, choice)
        for (label, related, item), choice in zip(found, choices)
        if keep_related(related, choice, item[1], senses[label] + actions[label])
    ]
    floors = {(label, c.sense): relevance_floor(related, c.sense) for label, related, _, c in kept}
    asked = sorted(pair for pair, floor in floors.items() if floor is not None)
    scores = dict(zip(asked, relevance(asked)))
    return [
        _row(label, LabelUnit(related.unit, {related.unit.source}), item[2], choice)
        for label, related, item, choice in kept
        if floors[label, choice.sense] is None or scores[label, choice.sense] >= floors[label, choice.sense]
    ]


def _status(building: Step | None, status: str) -> None:
    if building is not None:
        building.status = status


def describe_phrases(llm: LLM, prompts: Prompts, phrases: list[str], show_progress: bool) -> dict[str, list[Candidate]]:
    """The LLM's descriptions of each phrase unit, from the paper's three prompts (supplementary B)."""
    asked = {phrase: prompts.for_phrase(phrase) for phrase in phrases}
    answers = llm.ask_many([p for ps in asked.values() for p in ps], "Phrase descriptions", show_progress)
    described = {}
    for phrase, phrase_prompts in asked.items():
        texts = [d for p in phrase_prompts if answers.get(p) for d in parse_descriptions(answers[p])]
        described[phrase] = [Candidate(text) for text in dict.fromkeys(texts)]
    return described


_BEYOND = f"beyond {MAX_ITEMS} entities per answer"


def _body_part_rows() -> Iterable[dict[str, Any]]:
    wn = wordnet()
    for unit, sense in DEFAULT_BODY_PARTS.items():
        gloss = wn.synset(sense).definition()
        yield {
            "unit": unit, "kind": "word", "description": gloss, "sense": sense, "category": "body",
            "sources": ["default"], "labels": [], "wsd_method": "default", "wsd_score": 1.0, "wsd_margin": None, "candidates": [gloss],
        }


def label_entity_rows(labels: Sequence[str]) -> list[dict[str, Any]]:
    """Each label as one motion entity, its own description (supplementary A: Something-Something V2's labels are the entities)."""
    return [
        {
            "unit": label, "kind": "phrase" if " " in label else "word", "description": label, "sense": None, "category": "motion",
            "sources": ["label"], "labels": [label], "wsd_method": "label", "wsd_score": 1.0, "wsd_margin": None, "candidates": [label],
        }
        for label in labels
    ]


def merge_entities(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per (unit, description), labels and sources merged, sorted by category then unit."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["unit"], row["description"])
        if key not in merged:
            merged[key] = dict(row)
            continue
        kept = merged[key]
        kept["labels"] = kept["labels"] + [l for l in row["labels"] if l not in kept["labels"]]
        kept["sources"] = sorted(set(kept["sources"]) | set(row["sources"]))
    entities = sorted(merged.values(), key=lambda r: (r["category"], r["unit"], r["description"]))
    df = pd.DataFrame(entities, columns=[c for c in COLUMNS if c != "entity_id"])
    df.insert(0, "entity_id", range(len(df)))
    return df.astype({"entity_id": "int32", "wsd_score": "float32", "wsd_margin": "float32"})


def ask_suggestions(llm: LLM, prompts: Prompts, labels: list[str], show_progress: bool) -> dict[str, str]:
    """The LLM's suggestion for each label (prompts/suggest.txt), asked in one batch."""
    asked = {label: prompts.for_suggestion(label) for label in labels}
    replies = llm.ask_many(list(asked.values()), "Suggestions", show_progress) if asked else {}
    return {label: replies[prompt] or "" for label, prompt in asked.items()}


def _suggestions_record(given: Suggestions | None, labels: list[str], answers: dict[str, str]) -> dict[str, Any] | None:
    """The manifest's account of the suggestions a build used: the file replayed (if any), how many
    labels it answered, how many were asked live."""
    if not answers:
        return None
    record = given.record(labels) if given is not None else {"source": "llm", "labels_answered": 0}
    return record | {"asked_live": len(answers) - record["labels_answered"]}


def _labels(raw: Sequence[str]) -> list[str]:
    """The labels normalised and de-duplicated; a CorpusError when none is left."""
    labels = dedupe([normalize_label(l) for l in raw])
    if not labels:
        raise CorpusError("no labels to build a corpus from; pass at least one action label")
    return labels


def _counts(labels: list[str], units: list[tuple[str, set[str]]], df: pd.DataFrame) -> dict[str, Any]:
    """The manifest's counts: labels, the units found per label (text and sources), the entities."""
    return {
        "labels": len(labels),
        "units": len(units),
        "distinct_units": len({text for text, _ in units}),
        "units_by_source": dict(sorted(Counter(s for _, sources in units for s in sources).items())),
        "entities": len(df),
        "entities_by_category": dict(sorted(Counter(df["category"]).items())),
        "entities_by_kind": dict(sorted(Counter(df["kind"]).items())),
        "entities_by_source": dict(sorted(Counter(s for sources in df["sources"] for s in sources).items())),
        "entities_by_wsd_method": dict(sorted(Counter(df["wsd_method"]).items())),
    }


def _manifest(
    created: str, started: float, label_files: Sequence[LabelFile], *, options: dict[str, Any], wsd: dict[str, object],
    llm: dict[str, Any] | None, llm_dropped: list[dict[str, str]], prompts: dict[str, str], wn: Any, nlp: Any, counts: dict[str, Any],
    suggestions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The build's manifest (DESIGN §4); `wn` and `nlp` are None when the build loaded neither."""
    return {
        "tool": "alt-toolkit corpus build",
        "tool_version": package_version("alt-toolkit"),
        "format_version": FORMAT_VERSION,
        "created": created,
        "seconds": round(time.perf_counter() - started, 3),
        "inputs": [{"path": f.path, "sha256": f.sha256, "labels": len(f.labels)} for f in label_files],
        "options": options,
        "wsd": wsd,
        "llm": llm,
        "suggestions": suggestions,
        "llm_dropped": llm_dropped,
        "prompts": prompts,
        "resources": {
            "wordnet": f"WordNet {wn.get_version()}" if wn is not None else None,
            "spacy_model": spacy_info(nlp) if nlp is not None else None,
            "versions": {d: package_version(d) for d in ("nltk", "spacy", "pandas", "pyarrow")} | {"python": platform.python_version()},
        },
        "counts": counts,
    }


def _label_corpus(
    labels: list[str], *, wsd: str, t5_model: str | None, spacy_model: str | None, label_files: Sequence[LabelFile]
) -> pd.DataFrame:
    """The corpus of `label_entity_rows` alone (supplementary A), built without spaCy, WordNet or a WSD model."""
    started = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = label_entity_rows(labels)
    df = merge_entities(rows)
    options = {"wsd": wsd, "t5_model": t5_model, "spacy_model": spacy_model, "body_parts": False, "np_grammar": None,
               "related": False, "label_entities": True}
    df.attrs["manifest"] = _manifest(
        created, started, label_files, options=options, wsd={"method": "label", "model": None, "weights": None},
        llm=None, llm_dropped=[], prompts={}, wn=None, nlp=None,
        counts=_counts(labels, [(r["unit"], set(r["sources"])) for r in rows], df),
    )
    return df


def build_corpus(
    labels: Sequence[str],
    llm: LLM | None = None,
    *,
    wsd: str = "auto",
    spacy_model: str | None = None,
    body_parts: bool = True,
    label_files: Sequence[LabelFile] = (),
    show_progress: bool = False,
    prompts: Prompts | None = None,
    t5_model: str | None = None,
    device: str = "cpu",
    related: bool | None = None,
    label_entities: bool = False,
    suggest: bool = False,
    suggestions: Suggestions | None = None,
) -> pd.DataFrame:
    """Build the entity corpus for these action labels; the manifest is in `df.attrs["manifest"]`, the
    suggestion answers used (suggest mode) in `df.attrs["suggestions"]`.

    `llm=None` builds from POS extraction and WordNet alone (the manifest says so). With an `LLM`,
    its entities join the POS units and its descriptions become the phrase units' candidates;
    prompts that failed after their retries are in `llm.stats.failures` and the manifest. `device` is
    where a T5 word-sense model runs. `related` adds the things WordNet relates to each label's
    senses (related.py); by default only without an LLM, whose answers list such things themselves.
    `label_entities` makes each label one motion entity and nothing else (supplementary A, for
    Something-Something V2); it excludes an `llm`.

    `suggest` makes the `llm` only suggest entities (suggest.py: one short answer per label); WordNet
    describes them, and only a phrase WordNet does not know is described by the LLM. `suggestions`
    are such answers given in advance (a suggestions file, the packaged seed answers): replayed for
    the labels they answer, the others asked of the `llm` in suggest mode, or left to WordNet alone
    without one. `related` defaults to on in both cases.
    """
    if label_entities:
        if llm is not None or suggestions is not None:
            raise CorpusError("label entities and an LLM exclude each other: the labels themselves are the entities; pass only one")
        return _label_corpus(_labels(labels), wsd=wsd, t5_model=t5_model, spacy_model=spacy_model, label_files=label_files)
    with step("Building the corpus", bar=show_progress) as building:  # lines on the log between the steps below
        building.status = "loading the word-sense method"
        method = resolve_method(wsd, t5_model, device)
        suggesting = suggest or (llm is None and suggestions is not None)
        if suggest and llm is None:
            raise CorpusError("suggest mode needs an LLM to ask (or suggestions given in advance without suggest)")
        related = related if related is not None else (llm is None or suggesting)
        labels = _labels(labels)
        started = time.perf_counter()
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        building.status = "loading WordNet and spaCy"
        wn, nlp = wordnet(), load_spacy(spacy_model)
        building.status = "extracting units"
        found = dict(extract_units(labels, nlp))
        answers: dict[str, str] = {}
        phrase_candidates: dict[str, list[Candidate]] = {}
        if llm is not None:
            prompts = prompts or load_prompts(suggest=suggesting)
        if suggesting:
            replayed = {label: suggestions.answers[label] for label in labels if suggestions is not None and label in suggestions.answers}
            live = ask_suggestions(llm, prompts, [l for l in labels if l not in replayed], show_progress) if llm is not None else {}
            answers = replayed | live
            cleaned = suggested_many({label: answers.get(label, "") for label in labels})
            source = {label: "packaged" if label in replayed else "llm" for label in labels}
        else:
            if llm is not None:
                asked = {label: prompts.for_label(label) for label in labels}
                replies = llm.ask_many(list(asked.values()), "Entities", show_progress)
                answers = {label: replies[prompt] or "" for label, prompt in asked.items()}
            parsed = parse_entities_many([answers.get(label, "") for label in labels], repeats=True)
            cleaned = {label: capped(clean_units(units), MAX_ITEMS, _BEYOND) for label, units in zip(labels, parsed)}
            source = dict.fromkeys(labels, "llm")
            cut = [label for label in labels if any(d.reason == _BEYOND for d in cleaned[label].dropped)]
            if cut:
                log.warning("the LLM listed more than %d entities for %d label(s) (e.g. %r); kept the first %d of each",
                            MAX_ITEMS, len(cut), cut[0], MAX_ITEMS)
        units_per_label = {label: join_units(found[label], cleaned[label].kept, source[label]) for label in labels}
        if llm is not None:
            phrases = sorted({u.unit.text for units in units_per_label.values() for u in units if u.unit.kind == "phrase"
                              and not (suggesting and candidates(u.unit))})  # suggest mode: only those WordNet does not know
            phrase_candidates = describe_phrases(llm, prompts, phrases, show_progress)
        building.status = "choosing senses"
        items = {label: _wsd_items(label, units_per_label[label], phrase_candidates, answers.get(label, ""), suggesting) for label in labels}
        choices = iter(_choose_senses([i for label in labels for i in items[label]], method, show_progress))
        chosen = {label: [next(choices) for _ in items[label]] for label in labels}
        rows = [
            _row(label, unit, cands, choice)
            for label in labels
            for unit, (_, _, cands), choice in zip(units_per_label[label], items[label], chosen[label])
        ]
        if related:
            rows.extend(_related_rows(labels, units_per_label, chosen, nlp, method, show_progress, building))
        if body_parts:
            rows.extend(_body_part_rows())
        building.status = "merging entities"
        df = merge_entities(rows)
        options = {"wsd": wsd, "t5_model": t5_model, "spacy_model": spacy_model, "body_parts": body_parts, "np_grammar": NP_GRAMMAR,
                   "related": related, "label_entities": False, "suggest": suggesting}
        df.attrs["manifest"] = _manifest(
            created, started, label_files, options=options, wsd=method.record(), llm=llm.manifest() if llm is not None else None,
            suggestions=_suggestions_record(suggestions, labels, answers if suggesting else {}),
            llm_dropped=[{"label": l, "item": d.text, "reason": d.reason} for l in labels for d in cleaned[l].dropped],
            prompts=prompts.sha256 if llm is not None else {}, wn=wn, nlp=nlp,
            counts=_counts(labels, [(u.unit.text, u.sources) for units in units_per_label.values() for u in units], df),
        )
        df.attrs["suggestions"] = dict(sorted(answers.items())) if suggesting else {}  # for --save-suggestions
        return df
