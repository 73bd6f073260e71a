"""Visual coverage of the offline corpus: are the things a viewer sees in an action in the corpus?

    .venv/bin/python benchmarks/visual_coverage.py [--corpus corpus.parquet] [--no-k400] [--command]

Builds the corpus of K400 + HMDB-51 + UCF-101 as `corpus build --no-llm` does with default flags
(or reads one with --corpus) and checks two hand-written tables of (label, things a viewer obviously
sees): visual_tuning.tsv (the rules may be tuned on it) and visual_heldout.tsv (written before any
tuning, never used for it). A thing is *linked* when an entity of that unit lists the label, and
*present* when any entity has that unit (the default body parts included). Then builds K400 alone
and counts its entities and the entities per label besides the default body parts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alt_common.labels import read_labels
from corpus_builder.build import build_corpus
from corpus_builder.corpus import read_corpus

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "tests" / "data"
LABELS = ROOT.parent / "shared" / "data" / "labels"
FILES = ("kinetics_400_labels.csv", "hmdb_51_labels.csv", "ucf_101_labels.csv")


def read_table(path: Path) -> dict[str, list[set[str]]]:
    """label -> its things, each a set of spellings."""
    table = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            label, things = line.split("\t")
            table[label] = [{_key(s) for s in thing.split("|")} for thing in things.split(";")]
    return table


def _key(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


def coverage(df, table: dict[str, list[set[str]]]) -> tuple[float, float, int]:
    """(% linked, % present, number of things) of a table in a corpus."""
    units = {_key(u) for u in df["unit"]}
    by_label: dict[str, set[str]] = {}
    for unit, labels in zip(df["unit"], df["labels"]):
        for label in labels:
            by_label.setdefault(label, set()).add(_key(unit))
    missing = [label for label in table if label not in by_label]
    if missing:
        raise SystemExit(f"labels of the table not in the corpus: {missing}")
    things = [(label, spellings) for label, ts in table.items() for spellings in ts]
    linked = sum(bool(s & by_label[label]) for label, s in things)
    present = sum(bool(s & units) for _, s in things)
    return linked / len(things), present / len(things), len(things)


def per_label(df) -> list[int]:
    """Entities per label, the default body parts not counted (they serve no label)."""
    counts: dict[str, int] = {}
    for labels in df["labels"]:
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    return list(counts.values())


def timed_build(files: tuple[str, ...]):
    labels, label_files = read_labels([LABELS / f for f in files])
    started = time.perf_counter()
    df = build_corpus(labels, None, label_files=label_files)
    return df, time.perf_counter() - started, len(labels)


def timed_command(files: tuple[str, ...]) -> float:
    """Wall seconds of `corpus build --no-llm` in a new process: imports and exit included."""
    with tempfile.TemporaryDirectory() as tmp:
        labels = [arg for f in files for arg in ("--labels", str(LABELS / f))]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "corpus_builder", "build", *labels, "--no-llm", "--out", f"{tmp}/corpus.parquet"],
                       check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="a corpus.parquet of the 530 labels to check instead of building one")
    parser.add_argument("--no-k400", action="store_true", help="skip the K400-only build")
    parser.add_argument("--show-missing", action="store_true", help="list the things not linked to their label")
    parser.add_argument("--command", action="store_true", help="also time the whole `corpus build --no-llm` command of the 530 labels")
    args = parser.parse_args()
    if args.corpus:
        df = read_corpus(args.corpus)
    else:
        df, seconds, n = timed_build(FILES)
        print(f"K400 + HMDB-51 + UCF-101: {n} labels, {len(df)} entities, built in {seconds:.1f} s")
    tables = {name: read_table(TABLES / f"visual_{name}.tsv") for name in ("tuning", "heldout", "heldout31")}
    print(f"{'table':8s} {'labels':>6s} {'things':>6s} {'linked':>7s} {'present':>8s}")
    for name, table in tables.items():
        linked, present, things = coverage(df, table)
        print(f"{name:8s} {len(table):6d} {things:6d} {linked:7.1%} {present:8.1%}")
    if args.show_missing:
        units = {_key(u) for u in df["unit"]}
        for name, table in tables.items():
            for label, things in table.items():
                mine = {_key(u) for u, ls in zip(df["unit"], df["labels"]) if label in ls}
                lost = ["|".join(sorted(s)) + ("" if s & units else " (absent)") for s in things if not s & mine]
                if lost:
                    print(f"  {name} {label}: has {sorted(mine)}; not linked: {lost}")
    if args.command:
        print(f"the whole command, in a new process: {timed_command(FILES):.1f} s wall")
    if not args.no_k400:
        k400, seconds, n = timed_build(FILES[:1])
        counts = per_label(k400)
        print(f"K400 alone: {n} labels, {len(k400)} entities, built in {seconds:.1f} s; entities per label "
              f"besides body parts: median {statistics.median(counts)}, labels with one: {sum(c == 1 for c in counts)}")


if __name__ == "__main__":
    main()
