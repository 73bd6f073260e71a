"""Word-sense disambiguation: accuracy of every method on the hand-checked gold tables, and time per
1,000 units, side by side in one run.

    .venv/bin/python benchmarks/wsd.py [--t5-model PATH]

Three tables: wsd_gold.tsv (90 pairs, the weights in disambiguate.py were chosen on it),
wsd_heldout.tsv (62 pairs written before the last tuning and never used for it) and
wsd_heldout31.tsv (22 pairs from Kinetics-600's own labels, written before issue 31's changes were
measured). In brackets, the accuracy a build gets: a unit extraction never makes counts as a miss. Units go through
the same extraction as `corpus build`, so motion units get their activity senses and every unit
its sibling units as context.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from corpus_builder.resources import load_spacy
from corpus_builder.wsd_eval import evaluate, gold_items, read_gold
from corpus_builder.wsd_methods import all_methods

TABLES = Path(__file__).resolve().parents[1] / "tests" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--t5-model", help="also measure --wsd t5 with this T5 word-sense model")
    args = parser.parse_args()
    nlp = load_spacy()
    tables = {name: gold_items(read_gold(TABLES / f"wsd_{name}.tsv"), nlp) for name in ("gold", "heldout", "heldout31")}
    sizes = ", ".join(f"{name} {len(items)}" for name, items in tables.items())
    print(f"pairs: {sizes}")
    print("accuracy (in brackets: a unit extraction never made counts as a miss)")
    print(f"{'method':16s} " + " ".join(f"{name:>16s}" for name in tables) + f" {'all':>16s} {'s / 1000 units':>15s}")
    for method in all_methods(args.t5_model):
        first = tables["gold"][0]
        evaluate([first], method)  # load models outside the clock
        results = [evaluate(items, method) for items in tables.values()]
        hits, strict, total = (sum(getattr(r, f) for r in results) for f in ("hits", "extracted_hits", "total"))
        per_1000 = sum(r.seconds for r in results) / total * 1000
        cells = " ".join(f"{r.accuracy:7.1%} ({r.strict_accuracy:5.1%})" for r in results)
        print(f"{method.name:16s} {cells} {hits / total:7.1%} ({strict / total:5.1%}) {per_1000:15.2f}")


if __name__ == "__main__":
    main()
