"""`corpus report`: one self-contained HTML page about a corpus, for people to look at.

It holds, in this order: what the corpus was built from (the manifest) beside a chart of the entities per
category, entities per category / source / WSD method / kind, and, given the corpus.pt that `corpus embed` made
of it, a 2-D map of the embeddings (UMAP when `umap-learn` is installed, else PCA) coloured by category under
the page's one legend (every dot names its entity on hover, an SVG <title>, and a spread-out subset is named on
the map, no label over another: `place_labels`) and the near-duplicate entities (cosine similarity of their CLIP
text embeddings; one sentence when there is none); then the doubtful sense choices (lowest `wsd_margin`) and the
entities of every label in a searchable table. Figures are inline SVG
(no network, no script needed to see them); the page is laid out for widths up to 1400 px. The same
numbers are in a JSON block (`<script id="report-data">`) for tools. Pure function `corpus_report`,
deterministic (the same bytes for the same corpus); the CLI writes the file atomically. A corpus.pt
embedded by a CLIP with random weights (alt-synthetic's test model; its provenance says `random_weights`) puts a
banner at the top of the page and `"random_weights": true` in the JSON.
"""

from __future__ import annotations

import html
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
    random_weights: bool = False  # embedded by a CLIP with random weights (a corpus.pt that does not say: False)


def load_embeddings(bundle_path: str | Path, corpus_path: str | Path, df: pd.DataFrame) -> Embeddings:
    """The corpus.pt of this very corpus.parquet (checked by its SHA-256 and its units)."""
    from alt_common.bundle import CorpusBundle
    from alt_common.io import file_sha256

    bundle = CorpusBundle.load(bundle_path)
    if bundle.corpus_sha256 != file_sha256(corpus_path) or bundle.units != df["unit"].tolist():
        raise CorpusError(f"{bundle_path} embeds another corpus than {corpus_path}; re-run 'corpus embed {corpus_path}'")
    return Embeddings(bundle.embeddings.float().numpy(), bundle.model, bundle.pretrained,
                      bool(bundle.provenance.get("random_weights", False)))


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


def _svg_text(x: float, y: float, text: str, **attrs: Any) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attrs.items())  # class_: class
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{html.escape(text)}</text>'


def category_chart(df: pd.DataFrame) -> str:
    """Inline SVG: one bar per category in its map colour, the kinds as segments (the first kind solid, the next
    lighter) and the numbers written beside each bar, so that it needs no legend."""
    table = df.groupby(["category", "kind"]).size().unstack(fill_value=0).sort_index()
    kinds = sorted(table.columns, key=lambda k: (k != "word", k))  # words first: the solid part of the bar
    row, left, bar_width = 28, 80, 330
    longest = max(int(table.sum(axis=1).max()), 1)
    height = row * len(table) + 30
    parts = [f'<svg id="category-chart" viewBox="0 0 620 {height}" role="img" aria-label="entities per category">',
             _svg_text(0, 14, "Entities per category (bar: words solid, other kinds lighter)", class_="caption")]
    for r, (category, counts_by_kind) in enumerate(table.iterrows()):
        y, x = 24 + r * row, float(left)
        colour = CATEGORY_COLOURS.get(str(category), "#333333")
        parts.append(_svg_text(left - 6, y + 14, str(category), text_anchor="end"))
        for k, kind in enumerate(kinds):
            width = bar_width * int(counts_by_kind[kind]) / longest
            tip = html.escape(f"{category}, {kind}: {int(counts_by_kind[kind])}")
            parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" fill="{colour}" '
                         f'fill-opacity="{1.0 if k == 0 else 0.45}"><title>{tip}</title></rect>')
            x += width
        detail = ", ".join(f"{int(counts_by_kind[kind])} {kind}" for kind in kinds if counts_by_kind[kind])
        parts.append(_svg_text(x + 6, y + 14, f"{int(counts_by_kind.sum())} ({detail})"))
    return "".join(parts) + "</svg>"


MAP_WIDTH, MAP_HEIGHT, MAP_PAD, MAP_FONT, MAP_LABELS = 1100, 640, 24, 11, 60


def label_box(x: float, y: float, text: str, anchor: str, font: float = MAP_FONT) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) a map label takes: its text at `font` px (0.6 em a character, a generous sans-serif average)
    with its baseline at y, starting at x, ending there or centred on it (SVG's text-anchor start, end, middle)."""
    width = 0.6 * font * len(text) + 2
    x0 = {"start": x, "end": x - width, "middle": x - width / 2}[anchor]
    return x0, y - font, x0 + width, y + 0.3 * font


def spread_order(xy: np.ndarray) -> list[int]:
    """The points in farthest-point order: first the farthest from the centre, then each time the one farthest from
    all taken so far (ties: the lowest index), so that any prefix covers the whole map."""
    if len(xy) == 0:
        return []
    order = [int(np.argmax(((xy - xy.mean(axis=0)) ** 2).sum(axis=1)))]
    nearest = ((xy - xy[order[0]]) ** 2).sum(axis=1)
    for _ in range(len(xy) - 1):
        nearest[order[-1]] = -1.0
        order.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, ((xy - xy[order[-1]]) ** 2).sum(axis=1))
    return order


def place_labels(points: np.ndarray, texts: list[str], limit: int = MAP_LABELS) -> list[tuple[int, float, float, str]]:
    """Up to `limit` labels (point index, x, y, text-anchor) in SVG coordinates, in `spread_order`: each beside its
    point (right, left, above or below: the first that fits), inside the map and overlapping no label placed before."""
    placed: list[tuple[int, float, float, str]] = []
    boxes: list[tuple[float, float, float, float]] = []
    for i in spread_order(points):
        px, py = points[i]
        for x, y, anchor in ((px + 6, py + 4, "start"), (px - 6, py + 4, "end"), (px, py - 7, "middle"), (px, py + 15, "middle")):
            box = label_box(x, y, texts[i], anchor)
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= MAP_WIDTH and box[3] <= MAP_HEIGHT
            if inside and not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
                placed.append((i, x, y, anchor))
                boxes.append(box)
                break
        if len(placed) == limit:
            break
    return placed


def embedding_map(df: pd.DataFrame, xy: np.ndarray, method: str) -> tuple[str, list[int]]:
    """(inline SVG of the 2-D embedding map, the entities labelled on it): one dot per entity in its category's colour,
    its unit and category in the dot's <title> (shown on hover), and the units of a spread-out subset written beside
    their dots (`place_labels`)."""
    units, categories = df["unit"].astype(str).tolist(), df["category"].astype(str).tolist()
    low, high = (xy.min(axis=0), xy.max(axis=0)) if len(xy) else (np.zeros(2), np.ones(2))
    span = np.where(high - low > 0, high - low, 1.0)
    points = np.empty((len(xy), 2))
    points[:, 0] = MAP_PAD + (xy[:, 0] - low[0]) / span[0] * (MAP_WIDTH - 2 * MAP_PAD)
    points[:, 1] = MAP_HEIGHT - MAP_PAD - (xy[:, 1] - low[1]) / span[1] * (MAP_HEIGHT - 2 * MAP_PAD)  # y up, as in a plot
    labels = place_labels(points, units)
    parts = [f'<svg id="map" viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}" role="img" '
             f'aria-label="{html.escape(f"CLIP text embeddings of the entities ({method})")}">',
             f'<rect width="{MAP_WIDTH}" height="{MAP_HEIGHT}" fill="#fff" stroke="#ccc"/>']
    for (x, y), unit, category in zip(points, units, categories):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{CATEGORY_COLOURS.get(category, "#333333")}">'
                     f"<title>{html.escape(f'{unit} ({category})')}</title></circle>")
    for i, x, y, anchor in labels:
        parts.append(_svg_text(x, y, units[i], class_="label", text_anchor=anchor))
    return "".join(parts) + "</svg>", [i for i, *_ in labels]


def category_legend(df: pd.DataFrame) -> str:
    """The page's one legend: each category's colour, with its number of entities."""
    tally = df["category"].astype(str).value_counts().sort_index()
    items = "".join(f'<span><i style="background:{CATEGORY_COLOURS.get(c, "#333333")}"></i>{html.escape(c)} ({n})</span>'
                    for c, n in tally.items())
    return f'<div class="legend" id="legend">{items}</div>'


def _table(table_id: str, header: list[str] | None, rows: list[list[Any]], wide: bool = False) -> str:
    head = "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    wide_class = ' class="wide"' if wide else ""
    return f'<table id="{table_id}"{wide_class}>{head}<tbody>{body}</tbody></table>'


RANDOM_BANNER = ("This corpus.pt was embedded by a CLIP model with random weights (alt-synthetic's test model): "
                 "its near-duplicates and map are not meaningful.")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: 90%; } table.wide { width: 100%; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } .counts { display: flex; gap: 0 2em; flex-wrap: wrap; align-items: flex-start; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr)); gap: 0 3em; align-items: start; }
input { font-size: 100%; padding: .3em; width: min(30em, 100%); } .muted { color: #777; }
.warning { background: #c81414; color: #fff; padding: .6em 1em; font-weight: bold; border-radius: 4px; }
svg { width: 100%; height: auto; display: block; font: 13px system-ui, sans-serif; } svg .caption { font-weight: bold; }
#category-chart { max-width: 620px; margin: .5em 0 1.5em; } #map { font-size: 11px; }
#map .label { fill: #222; stroke: #fff; stroke-width: 3px; paint-order: stroke; stroke-linejoin: round; }
#map .point { stroke: #fff; stroke-width: .6; } #map .point:hover { stroke: #000; stroke-width: 2; }
.legend { display: flex; flex-wrap: wrap; gap: .2em 1.5em; margin: .3em 0 .6em; }
.legend i { display: inline-block; width: .8em; height: .8em; border-radius: 50%; margin-right: .35em; vertical-align: -.05em; }
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
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if embeddings is not None:
        data["random_weights"] = embeddings.random_weights
        if embeddings.random_weights:
            parts.insert(0, f'<p id="random-weights" class="warning">{html.escape(RANDOM_BANNER)}</p>')
    parts += ['<div class="panels"><div>', _table("facts", None, facts), "</div><div>", category_chart(df), "</div></div>",
              "<h2>Counts</h2>", '<div class="counts">']
    for name, tally in tallies.items():
        parts.append(_table(f"count-{name}", [name, "entities"], [[k, v] for k, v in tally.items()]))
    parts.append("</div>")
    if embeddings is None:
        parts.append("<h2>Embeddings</h2><p class='muted'>Pass <code>--corpus corpus.pt</code> for near-duplicates and a map.</p>")
    else:  # the overview (map, near-duplicates) before the long tables
        pairs = near_duplicates(embeddings.matrix, duplicate_threshold, top * 2)
        xy, method = project_2d(embeddings.matrix)
        svg, labelled = embedding_map(df, xy, method)
        data["near_duplicates"] = [[i, j, round(s, 6)] for i, j, s in pairs]
        data["map"] = {"method": method, "xy": np.round(xy, 6).tolist(), "labelled": labelled}
        model = f"{html.escape(embeddings.model)} ({html.escape(embeddings.pretrained)}) text embeddings"
        parts += [f"<h2>Map</h2><p class='muted'>The {model} of the entities, in 2-D ({method}): hover over a dot for its "
                  f"entity; {len(labelled)} entities spread over the map are named.</p>", category_legend(df), svg,
                  "<h2>Near-duplicate entities</h2>"]
        if pairs:
            parts += [f"<p class='muted'>Cosine ≥ {duplicate_threshold} between {model}.</p>",
                      _table("duplicates", ["entity", "entity", "cosine"], [[names[i], names[j], f"{s:.4f}"] for i, j, s in pairs],
                             wide=True)]
        else:
            parts.append(f"<p id='no-duplicates'>No two entities' embeddings are closer than {duplicate_threshold} cosine "
                         f"<span class='muted'>({model})</span>.</p>")
    parts += [f"<h2>Doubtful sense choices</h2><p class='muted'>The {len(shaky)} choices with the smallest lead over "
              "the runner-up (score units of their method); check them with <code>corpus explain UNIT --label LABEL</code>.</p>",
              _table("doubtful", ["unit", "labels", "chosen description", "margin", "method", "candidates"],
                     [[r.unit, ", ".join(r.labels[:3]), r.description, f"{r.wsd_margin:.3f}", r.wsd_method, len(r.candidates)]
                      for r in shaky.itertuples()], wide=True)]
    parts += ["<h2>Entities per label</h2>", '<input id="search" placeholder="filter labels and entities...">',
              _table("labels", ["label", "entities"], [[label, "; ".join(names[i] for i in ids)] for label, ids in per_label.items()],
                     wide=True)]
    payload = json.dumps(data).replace("</", "<\\/")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>{''.join(parts)}<script id='report-data' type='application/json'>{payload}</script>"
            f"<script>{SEARCH}</script></body></html>")
