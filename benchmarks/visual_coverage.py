"""Visual coverage of the offline corpus: are the things a viewer sees in an action in the corpus?

    .venv/bin/python benchmarks/visual_coverage.py [--corpus corpus.parquet] [--no-packaged] [--no-k400] [--command]
    .venv/bin/python benchmarks/visual_coverage.py --outside --gguf qwen2.5-coder-1.5b-instruct.gguf

Builds the corpus of K400 + HMDB-51 + UCF-101 as `corpus build --no-llm` does with default flags
(the packaged suggestions replayed; --no-packaged: WordNet alone), or reads one with --corpus, and
checks hand-written tables of (label, things a viewer obviously sees): visual_tuning.tsv (the rules
may be tuned on it), visual_heldout.tsv (issue 19) and visual_heldout31.tsv (issue 31), both written
before any tuning and never used for it. A thing is *linked* when an entity of that unit lists the
label, and *present* when any entity has that unit (the default body parts included). Then builds
K400 alone and counts its entities and the entities per label besides the default body parts.

--outside builds the labels of visual_outside31.tsv (actions in no seed dataset) with a local GGUF
model live in suggest mode (`corpus build --llm-backend local --llm-suggest`), and checks that table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alt_common.labels import read_labels
from corpus_builder.build import build_corpus
from corpus_builder.corpus import read_corpus
from corpus_builder.suggest import seed_suggestions

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


def timed_build(files: tuple[str, ...], packaged: bool):
    labels, label_files = read_labels([LABELS / f for f in files])
    started = time.perf_counter()
    df = build_corpus(labels, None, label_files=label_files, suggestions=seed_suggestions() if packaged else None)
    return df, time.perf_counter() - started, len(labels)


def timed_command(files: tuple[str, ...], packaged: bool) -> tuple[float, float]:
    """Wall seconds and CPU-seconds (the child's, all threads) of `corpus build --no-llm` in a new process."""
    with tempfile.TemporaryDirectory() as tmp:
        labels = [arg for f in files for arg in ("--labels", str(LABELS / f))]
        flags = [] if packaged else ["--no-packaged-suggestions"]
        started, before = time.perf_counter(), os.times()
        subprocess.run([sys.executable, "-m", "corpus_builder", "build", *labels, "--no-llm", *flags, "--out", f"{tmp}/corpus.parquet"],
                       check=True, capture_output=True)
        after = os.times()
        return time.perf_counter() - started, after.children_user - before.children_user + after.children_system - before.children_system


def outside(gguf: Path) -> None:
    """visual_outside31.tsv's labels built with the local model live, in suggest mode."""
    from corpus_builder.llm import LLM, LLMConfig
    from corpus_builder.local_llm import local_server
    from corpus_builder.prompts import load_prompts
    from corpus_builder.suggest import SUGGEST_MAX_TOKENS, SUGGEST_PENALTY

    table = read_table(TABLES / "visual_outside31.tsv")
    before = os.times()
    with tempfile.TemporaryDirectory() as tmp, local_server(gguf, gguf.stem) as server:
        config = LLMConfig(model=gguf.stem, base_url=server.base_url, timeout=None, concurrency=1,
                           max_tokens=SUGGEST_MAX_TOKENS, frequency_penalty=SUGGEST_PENALTY)
        with LLM(config, f"{tmp}/cache.sqlite") as llm:
            started = time.perf_counter()
            df = build_corpus(list(table), llm, prompts=load_prompts(suggest=True), suggest=True)
            wall = time.perf_counter() - started
    after = os.times()  # the server has exited: its CPU time is in the children's
    cpu = sum(after[:4]) - sum(before[:4])
    linked, present, things = coverage(df, table)
    print(f"outside31 {len(table):3d} labels {things:4d} things: linked {linked:.1%}, present {present:.1%}; "
          f"{wall:.0f} s wall, {60 * len(table) / wall:.1f} labels/min, the build included ({cpu:.0f} CPU-s, loading the model included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="a corpus.parquet of the 530 labels to check instead of building one")
    parser.add_argument("--no-k400", action="store_true", help="skip the K400-only build")
    parser.add_argument("--show-missing", action="store_true", help="list the things not linked to their label")
    parser.add_argument("--command", action="store_true", help="also time the whole `corpus build --no-llm` command of the 530 labels")
    parser.add_argument("--no-packaged", action="store_true", help="WordNet alone: do not replay the packaged suggestions")
    parser.add_argument("--outside", action="store_true", help="only the labels outside the seed datasets, with --gguf live")
    parser.add_argument("--gguf", type=Path, help="the GGUF chat model for --outside")
    args = parser.parse_args()
    packaged = not args.no_packaged
    if args.outside:
        if args.gguf is None:
            parser.error("--outside needs --gguf PATH")
        outside(args.gguf)
        return
    if args.corpus:
        df = read_corpus(args.corpus)
    else:
        df, seconds, n = timed_build(FILES, packaged)
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
        wall, cpu = timed_command(FILES, packaged)
        print(f"the whole command, in a new process: {wall:.1f} s wall, {cpu:.1f} CPU-s")
    if not args.no_k400:
        k400, seconds, n = timed_build(FILES[:1], packaged)
        counts = per_label(k400)
        print(f"K400 alone: {n} labels, {len(k400)} entities, built in {seconds:.1f} s; entities per label "
              f"besides body parts: median {statistics.median(counts)}, labels with one: {sum(c == 1 for c in counts)}")


if __name__ == "__main__":
    main()
