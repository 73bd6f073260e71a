"""Answer cleaning: precision and recall of "keep" on the labelled LLM answer items, for the cleaner
beside keeping everything and beside the parser alone, on the tuning rows and the held-out rows.

    .venv/bin/python benchmarks/clean.py [--show-errors]

tests/data/llm_answer_items.tsv holds realistic LLM answer items for Kinetics-400, HMDB-51 and
UCF-101 labels with a keep/drop judgement. The rows of one label are one answer: each item goes
through `parse_entities` as a list line, then the label's units go through `clean_units` together
(so repeats and loops are seen). An item counts as kept when at least one of its units is kept and
was not first named by an earlier item.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from corpus_builder.clean import clean_units, split_pair, strip_mood
from corpus_builder.parse import ParsedUnit, parse_entities

TABLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "llm_answer_items.tsv"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class Row:
    split: str
    label: str
    item: str
    keep: bool


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    kept: int
    rows: int


def read_table(path: Path = TABLE) -> list[Row]:
    """The labelled rows (comment lines start with #)."""
    with path.open(encoding="utf-8") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    return [Row(r["split"], r["label"], r["item"], r["keep"] == "1") for r in csv.DictReader(lines, delimiter="\t")]


def _outputs(unit: ParsedUnit) -> list[str]:
    """The texts a unit can come out of the cleaner as."""
    return [strip_mood(p.text) for p in split_pair(unit)]


def cleaner_decisions(rows: list[Row]) -> list[bool]:
    """Kept or not, per row, by parse + clean (one answer per label)."""
    decisions = []
    for _, answer in groupby(rows, key=lambda r: (r.split, r.label)):
        answer = list(answer)
        units = [parse_entities(f"- {row.item}") for row in answer]
        kept = {u.text for u in clean_units([u for us in units for u in us]).kept}
        for row_units in units:
            mine = {text for u in row_units for text in _outputs(u)} & kept
            decisions.append(bool(mine))
            kept -= mine
    return decisions


def parser_decisions(rows: list[Row]) -> list[bool]:
    """Kept or not, per row, by the parser alone (its own filler list), repeats included."""
    return [bool(parse_entities(f"- {row.item}")) for row in rows]


def score(rows: list[Row], decisions: list[bool]) -> Score:
    """Precision and recall of "keep" against the table's judgement."""
    kept = [r for r, d in zip(rows, decisions) if d]
    right = sum(r.keep for r in kept)
    relevant = sum(r.keep for r in rows)
    return Score(right / len(kept) if kept else 0.0, right / relevant if relevant else 0.0, len(kept), len(rows))


def scores(rows: list[Row]) -> dict[str, dict[str, Score]]:
    """{method: {split: Score}} for keep-everything, parser alone and parser + cleaner."""
    methods = {
        "keep everything": lambda rs: [True] * len(rs),
        "parser alone": parser_decisions,
        "parser + cleaner": cleaner_decisions,
    }
    out: dict[str, dict[str, Score]] = {}
    for name, decide in methods.items():
        out[name] = {}
        for split in (*SPLITS, "all"):
            part = [r for r in rows if split in (r.split, "all")]
            out[name][split] = score(part, decide(part))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-errors", action="store_true", help="list the rows the cleaner gets wrong")
    args = parser.parse_args()
    rows = read_table()
    sizes = ", ".join(f"{s} {sum(r.split == s for r in rows)}" for s in SPLITS)
    print(f"rows: {sizes}; keep=1 in {sum(r.keep for r in rows)}")
    print(f"{'method':18s}" + "".join(f"{s + ' P':>11s}{s + ' R':>11s}" for s in (*SPLITS, "all")))
    for name, by_split in scores(rows).items():
        print(f"{name:18s}" + "".join(f"{s.precision:11.3f}{s.recall:11.3f}" for s in by_split.values()))
    if args.show_errors:
        for row, kept in zip(rows, cleaner_decisions(rows)):
            if kept != row.keep:
                units = [u.text for u in parse_entities(f"- {row.item}")]
                print(f"{'kept' if kept else 'dropped':8s} {row.split:8s} {row.label:24s} {row.item!r} -> {units}")


if __name__ == "__main__":
    main()
