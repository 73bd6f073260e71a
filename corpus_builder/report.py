"""`corpus report`: one self-contained HTML page about a corpus, for people to look at.

It holds: what the corpus was built from (the manifest), entities per category / source / WSD
method / kind with a chart, the entities of every label in a searchable table, the doubtful
sense choices (lowest `wsd_margin`), and, given the corpus.pt that `corpus embed` made of it,
near-duplicate entities (cosine similarity of their CLIP text embeddings) and a 2-D map of the
embeddings (UMAP when `umap-learn` is installed, else PCA) coloured by category. Figures are
matplotlib PNGs inlined as base64; the same numbers are in a JSON block (`<script
id="report-data">`) for tools. Pure function `corpus_report`; the CLI writes the file atomically.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CorpusError

CATEGORY_COLOURS = {
    "object": "#1f77b4", "body": "#d62728", "scene": "#2ca02c", "motion": "#ff7f0e", "role": "#9467bd", "other": "#7f7f7f",
}


@dataclass(frozen=True)
class Embeddings:
    matrix: np.ndarray  # [K, d], L2-normalised rows aligned with the corpus rows
    model: str
    pretrained: str


def load_embeddings(bundle_path: str | Path, corpus_path: str | Path, df: pd.DataFrame) -> Embeddings:
    """The corpus.pt of this very corpus.parquet (checked by its SHA-256 and its units)."""
    from alt_common.bundle import CorpusBundle
    from alt_common.io import file_sha256

    bundle = CorpusBundle.load(bundle_path)
    if bundle.corpus_sha256 != file_sha256(corpus_path) or bundle.units != df["unit"].tolist():
        raise CorpusError(f"{bundle_path} embeds another corpus than {corpus_path}; re-run 'corpus embed {corpus_path}'")
    return Embeddings(bundle.embeddings.float().numpy(), bundle.model, bundle.pretrained)


def counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Entities per category, source, WSD method and kind."""
    def tally(values: pd.Series) -> dict[str, int]:
        return {str(k): int(v) for k, v in values.value_counts().sort_index().items()}

    return {
        "category": tally(df["category"]),
        "source": tally(df["sources"].explode()),
        "wsd_method": tally(df["wsd_method"]),
        "kind": tally(df["kind"]),
    }


def entities_per_label(df: pd.DataFrame) -> dict[str, list[int]]:
    """Label -> entity ids, labels in alphabetical order (body parts added by default have no label)."""
    exploded = df[["entity_id", "labels"]].explode("labels").dropna()
    return {label: group["entity_id"].astype(int).tolist() for label, group in exploded.groupby("labels", sort=True)}


def doubtful(df: pd.DataFrame, top: int) -> pd.DataFrame:
    """The `top` choices with the smallest lead over their runner-up."""
    chosen = df[df["wsd_margin"].notna()]
    return chosen.sort_values(["wsd_margin", "entity_id"]).head(top)


def near_duplicates(matrix: np.ndarray, threshold: float, top: int) -> list[tuple[int, int, float]]:
    """Pairs (i, j), i < j, whose embeddings have cosine ≥ threshold, most similar first."""
    similarity = matrix @ matrix.T
    i, j = np.triu_indices(len(matrix), k=1)
    keep = similarity[i, j] >= threshold
    pairs = sorted(zip(i[keep].tolist(), j[keep].tolist(), similarity[i, j][keep].tolist()), key=lambda p: (-p[2], p[0], p[1]))
    return pairs[:top]


def project_2d(matrix: np.ndarray) -> tuple[np.ndarray, str]:
    """[K, 2] coordinates: UMAP when installed (and K is large enough), else PCA by SVD."""
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError:
        umap = None
    if umap is not None and len(matrix) >= 20:
        return umap.UMAP(n_components=2, metric="cosine", random_state=0).fit_transform(matrix), "UMAP"
    centred = matrix - matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "PCA"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def category_chart(df: pd.DataFrame) -> str:
    """Bar chart of entities per category, split by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = df.groupby(["category", "kind"]).size().unstack(fill_value=0).sort_index()
    fig, ax = plt.subplots(figsize=(6, 3))
    table.plot.bar(stacked=True, ax=ax, color=["#4c72b0", "#dd8452", "#55a868"][: table.shape[1]], rot=0)
    ax.set_xlabel("")
    ax.set_ylabel("entities")
    ax.set_title("Entities per category")
    return _png(fig)


def embedding_map(df: pd.DataFrame, xy: np.ndarray, method: str) -> str:
    """Scatter of the 2-D embedding map, one colour per category."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.5))
    for category in sorted(df["category"].unique()):
        index = np.flatnonzero(df["category"].to_numpy() == category)
        ax.scatter(xy[index, 0], xy[index, 1], s=12, alpha=0.8, label=f"{category} ({len(index)})",
                   color=CATEGORY_COLOURS.get(category, "#333333"))
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"CLIP text embeddings of the entities ({method})")
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(fig)


def _table(table_id: str, header: list[str] | None, rows: list[list[Any]]) -> str:
    head = "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}">{head}<tbody>{body}</tbody></table>'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: 90%; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } .counts { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
input { font-size: 100%; padding: .3em; width: 30em; } .muted { color: #777; }
"""
SEARCH = """
document.getElementById('search').addEventListener('input', function (e) {
  const q = e.target.value.toLowerCase();
  for (const row of document.querySelectorAll('#labels tbody tr'))
    row.style.display = row.textContent.toLowerCase().includes(q) ? '' : 'none';
});
"""


def corpus_report(df: pd.DataFrame, embeddings: Embeddings | None = None, *, title: str = "corpus",
                  top: int = 25, duplicate_threshold: float = 0.95) -> str:
    """The HTML page for a corpus (and its embeddings); see the module docstring."""
    manifest = df.attrs.get("manifest", {})
    tallies = counts(df)
    per_label = entities_per_label(df)
    shaky = doubtful(df, top)
    names = [f"{u} ({c})" for u, c in zip(df["unit"], df["category"])]
    data: dict[str, Any] = {
        "entities": len(df), "counts": tallies, "labels": per_label,
        "doubtful": [{"entity_id": int(r.entity_id), "unit": r.unit, "margin": float(r.wsd_margin)} for r in shaky.itertuples()],
    }
    def section(key: str, kind: type = dict) -> Any:  # a manifest from elsewhere may hold anything
        value = manifest.get(key)
        return value if isinstance(value, kind) else kind()

    wsd, llm = section("wsd"), section("llm")
    inputs = [i["path"] for i in section("inputs", list) if isinstance(i, dict) and isinstance(i.get("path"), str)]
    facts = [
        ["labels", section("counts").get("labels", "?")], ["entities", len(df)],
        ["inputs", ", ".join(Path(p).name for p in inputs) or "?"],
        ["word-sense method", wsd.get("method", section("options").get("wsd", "?"))],
        ["LLM", llm.get("model", "none (--no-llm)")], ["built", manifest.get("created", "?")],
        ["tool", f"{manifest.get('tool', '?')} {manifest.get('tool_version', '')}"],
    ]
    parts = [f"<h1>{html.escape(title)}</h1>", _table("facts", None, facts), "<h2>Counts</h2>", '<div class="counts">']
    for name, tally in tallies.items():
        parts.append(_table(f"count-{name}", [name, "entities"], [[k, v] for k, v in tally.items()]))
    parts += ["</div>", f'<img alt="entities per category" src="{category_chart(df)}">']
    parts += ["<h2>Entities per label</h2>", '<input id="search" placeholder="filter labels and entities...">',
              _table("labels", ["label", "entities"], [[label, "; ".join(names[i] for i in ids)] for label, ids in per_label.items()])]
    parts += [f"<h2>Doubtful sense choices</h2><p class='muted'>The {len(shaky)} choices with the smallest lead over "
              "the runner-up (score units of their method); check them with <code>corpus explain UNIT --label LABEL</code>.</p>",
              _table("doubtful", ["unit", "labels", "chosen description", "margin", "method", "candidates"],
                     [[r.unit, ", ".join(r.labels[:3]), r.description, f"{r.wsd_margin:.3f}", r.wsd_method, len(r.candidates)]
                      for r in shaky.itertuples()])]
    if embeddings is None:
        parts.append("<h2>Embeddings</h2><p class='muted'>Pass <code>--corpus corpus.pt</code> for near-duplicates and a map.</p>")
    else:
        pairs = near_duplicates(embeddings.matrix, duplicate_threshold, top * 2)
        xy, method = project_2d(embeddings.matrix)
        data["near_duplicates"] = [[i, j, round(s, 6)] for i, j, s in pairs]
        data["map"] = {"method": method, "xy": np.round(xy, 6).tolist()}
        parts += [f"<h2>Near-duplicate entities</h2><p class='muted'>Cosine ≥ {duplicate_threshold} between "
                  f"{html.escape(embeddings.model)} ({html.escape(embeddings.pretrained)}) text embeddings.</p>",
                  _table("duplicates", ["entity", "entity", "cosine"], [[names[i], names[j], f"{s:.4f}"] for i, j, s in pairs]),
                  "<h2>Map</h2>", f'<img alt="embedding map" src="{embedding_map(df, xy, method)}">']
    payload = json.dumps(data).replace("</", "<\\/")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(parts)}<script id='report-data' type='application/json'>{payload}</script>"
            f"<script>{SEARCH}</script></body></html>")
