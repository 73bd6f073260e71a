"""`build_corpus`: action labels in, the corpus DataFrame of DESIGN §4 out (supplementary B)."""

from __future__ import annotations

import platform
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import pandas as pd
from rich.progress import track

from .categories import DEFAULT_BODY_PARTS, category_of
from .corpus import COLUMNS
from .disambiguate import Context, check_method, disambiguate
from .errors import CorpusError
from .expand import candidates
from .extract import NP_GRAMMAR, extract_units
from .labels import LabelFile, dedupe, normalize_label
from .resources import load_spacy, package_version, spacy_info, wordnet

FORMAT_VERSION = 1


def _label_rows(label: str, units: list, wsd: str) -> Iterable[dict[str, Any]]:
    """One row per unit of a label: its candidates, the chosen one, its category."""
    for unit in units:
        cands = candidates(unit)
        siblings = tuple(u.text for u in units if u is not unit)
        choice = disambiguate(unit.text, Context(label, siblings), cands, wsd)
        yield {
            "unit": unit.text,
            "kind": unit.kind,
            "description": choice.description,
            "sense": choice.sense,
            "category": category_of(choice.sense, unit.category_hint),
            "sources": [unit.source],
            "labels": [label],
            "wsd_method": choice.method,
            "wsd_score": choice.score,
            "candidates": [c.description for c in cands] or [choice.description],
        }


def _body_part_rows() -> Iterable[dict[str, Any]]:
    wn = wordnet()
    for unit, sense in DEFAULT_BODY_PARTS.items():
        gloss = wn.synset(sense).definition()
        yield {
            "unit": unit, "kind": "word", "description": gloss, "sense": sense, "category": "body",
            "sources": ["default"], "labels": [], "wsd_method": "default", "wsd_score": 1.0, "candidates": [gloss],
        }


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
    return df.astype({"entity_id": "int32", "wsd_score": "float32"})


def build_corpus(
    labels: Sequence[str],
    llm: Any = None,
    *,
    wsd: str = "lesk",
    spacy_model: str | None = None,
    body_parts: bool = True,
    label_files: Sequence[LabelFile] = (),
    show_progress: bool = False,
) -> pd.DataFrame:
    """Build the entity corpus for these action labels; the manifest is in `df.attrs["manifest"]`.

    `llm=None` builds from POS extraction and WordNet alone (the manifest says so).
    """
    if llm is not None:
        raise CorpusError("this version has no LLM stage; pass llm=None (CLI: --no-llm)")
    check_method(wsd)
    labels = dedupe([normalize_label(l) for l in labels])
    if not labels:
        raise CorpusError("no labels to build a corpus from; pass at least one action label")
    started = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    wn, nlp = wordnet(), load_spacy(spacy_model)
    units_per_label: dict[str, list] = {}
    rows: list[dict[str, Any]] = []
    steps = extract_units(labels, nlp)
    for label, units in track(steps, "Building corpus", total=len(labels), disable=not show_progress, transient=True):
        units_per_label[label] = units
        rows.extend(_label_rows(label, units, wsd))
    if body_parts:
        rows.extend(_body_part_rows())
    df = merge_entities(rows)
    all_units = [u for units in units_per_label.values() for u in units]
    df.attrs["manifest"] = {
        "tool": "alt-toolkit corpus build",
        "tool_version": package_version("alt-toolkit"),
        "format_version": FORMAT_VERSION,
        "created": created,
        "seconds": round(time.perf_counter() - started, 3),
        "inputs": [{"path": f.path, "sha256": f.sha256, "labels": len(f.labels)} for f in label_files],
        "options": {"wsd": wsd, "spacy_model": spacy_model, "body_parts": body_parts, "np_grammar": NP_GRAMMAR},
        "llm": None,
        "prompts": {},
        "resources": {
            "wordnet": f"WordNet {wn.get_version()}",
            "spacy_model": spacy_info(nlp),
            "versions": {d: package_version(d) for d in ("nltk", "spacy", "pandas", "pyarrow")} | {"python": platform.python_version()},
        },
        "counts": {
            "labels": len(labels),
            "units": len(all_units),
            "distinct_units": len({u.text for u in all_units}),
            "units_by_source": dict(sorted(Counter(u.source for u in all_units).items())),
            "entities": len(df),
            "entities_by_category": dict(sorted(Counter(df["category"]).items())),
            "entities_by_kind": dict(sorted(Counter(df["kind"]).items())),
            "entities_by_wsd_method": dict(sorted(Counter(df["wsd_method"]).items())),
        },
    }
    return df
