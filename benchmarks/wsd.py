"""Word-sense disambiguation: accuracy of every method on the hand-checked gold table, and time per
1,000 units, side by side in one run.

    .venv/bin/python benchmarks/wsd.py
"""

from __future__ import annotations

import time
from pathlib import Path

from corpus_builder.disambiguate import METHODS, Context, disambiguate
from corpus_builder.expand import candidates
from corpus_builder.extract import Unit

GOLD = Path(__file__).resolve().parents[1] / "tests" / "data" / "wsd_gold.tsv"


def main() -> None:
    rows = [line.split("\t") for line in GOLD.read_text().splitlines() if line.strip() and not line.startswith("#")]
    items = [(label, unit, gold, candidates(Unit(unit, "word", "pos"))) for label, unit, gold in rows]
    print(f"{len(items)} (label, unit, sense) pairs from {GOLD.name}")
    print(f"{'method':16s} {'accuracy':>9s} {'s / 1000 units':>15s}")
    for method in METHODS:
        disambiguate(items[0][1], Context(items[0][0]), items[0][3], method)  # load models outside the clock
        started = time.perf_counter()
        hits = sum(disambiguate(unit, Context(label), cands, method).sense == gold for label, unit, gold, cands in items)
        per_1000 = (time.perf_counter() - started) / len(items) * 1000
        print(f"{method:16s} {hits / len(items):9.1%} {per_1000:15.2f}")


if __name__ == "__main__":
    main()
