"""`corpus report`: the page's numbers against independent computations, its tables against its
JSON, near-duplicates and the map against numpy, what a reader sees (no empty table, named map points, one legend,
the width used), the page rendered by headless Chromium, and the bad-input errors."""

import hashlib
import json
import os
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from corpus_builder import build_corpus, read_corpus, write_corpus
from corpus_builder.report import corpus_report, load_embeddings, near_duplicates, project_2d

LABELS = ["playing cricket", "riding a bike", "setting table", "abseiling", "washing dishes", "shaking hands", "cooking egg"]


class Tables(HTMLParser):
    """Cells of every <table id=...>, and the JSON of <script id="report-data">."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.body_rows: dict[str, int] = {}  # rows with a <td> (not only <th>), per table
        self.data, self._table, self._row, self._cell, self._script = None, None, None, None, False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs["id"], [])
            self._id = attrs["id"]
            self.body_rows.setdefault(self._id, 0)
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
            if tag == "td" and not self._row:
                self.body_rows[self._id] += 1
        elif tag == "script" and attrs.get("id") == "report-data":
            self._script = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "script":
            self._script = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._script:
            self.data = json.loads(data)


@pytest.fixture(scope="module")
def corpus_file(wn, nlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "corpus.parquet"
    write_corpus(build_corpus(LABELS, wsd="lesk"), path)
    return path


def bundle_for(path, seed=0):
    """A corpus.pt for the corpus at `path`: random unit vectors, row 1 nearly a copy of row 0."""
    df = read_corpus(path)
    generator = torch.Generator().manual_seed(seed)
    S = torch.randn(len(df), 16, generator=generator)
    S[1] = S[0] + 0.01 * torch.randn(16, generator=generator)
    return {
        "embeddings": F.normalize(S, dim=-1), "units": df["unit"].tolist(), "model": "alt-tiny-clip", "pretrained": "random",
        "corpus_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "format_version": 1,
    }


def test_numbers_and_tables_match_the_corpus(corpus_file):
    df = read_corpus(corpus_file)
    page = Tables(corpus_report(df, top=5))
    data = page.data
    assert data["entities"] == len(df)
    assert data["counts"]["category"] == dict(Counter(df["category"]))
    assert data["counts"]["source"] == dict(Counter(s for sources in df["sources"] for s in sources))
    assert data["counts"]["wsd_method"] == dict(Counter(df["wsd_method"]))
    for name, tally in data["counts"].items():
        assert {k: int(v) for k, v in page.tables[f"count-{name}"][1:]} == tally  # the visible table says the same
    assert sorted(data["labels"]) == sorted(LABELS)
    for label, ids in data["labels"].items():
        assert ids == [int(i) for i, labels in zip(df["entity_id"], df["labels"]) if label in labels]
    rows = page.tables["labels"][1:]
    assert [r[0] for r in rows] == sorted(LABELS)
    cricket = dict(rows)["playing cricket"]
    assert "cricket (motion)" in cricket
    margins = df["wsd_margin"].dropna().sort_values()
    assert [d["margin"] for d in data["doubtful"]] == pytest.approx(margins.head(5).tolist())
    assert len(page.tables["doubtful"]) == 1 + 5
    assert "near_duplicates" not in data and "--corpus corpus.pt" in corpus_report(df)


class Svg(HTMLParser):
    """The map's dots (cx, cy, <title>), its labels (x, y, text-anchor, text), and the elements of class "legend"."""

    def __init__(self, page: str):
        super().__init__()
        self.dots, self.labels, self.legends, self.svgs = [], [], 0, 0
        self._in_map, self._title, self._label = False, None, None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.svgs += tag == "svg"
        self.legends += "legend" in (attrs.get("class") or "").split()
        if tag == "svg":
            self._in_map = attrs.get("id") == "map"
        elif self._in_map and tag == "circle":
            self.dots.append([float(attrs["cx"]), float(attrs["cy"]), None])
        elif self._in_map and tag == "title":
            self._title = ""
        elif self._in_map and tag == "text" and attrs.get("class") == "label":
            self._label = [float(attrs["x"]), float(attrs["y"]), attrs["text-anchor"], ""]

    def handle_endtag(self, tag):
        if tag == "title" and self._title is not None:
            self.dots[-1][2], self._title = self._title, None
        elif tag == "text" and self._label is not None:
            self.labels.append(tuple(self._label))
            self._label = None
        elif tag == "svg":
            self._in_map = False

    def handle_data(self, data):
        if self._title is not None:
            self._title += data
        if self._label is not None:
            self._label[3] += data


def test_near_duplicates_and_map_match_numpy(corpus_file):
    df = read_corpus(corpus_file)
    bundle = bundle_for(corpus_file)
    S = bundle["embeddings"].numpy()
    pairs = near_duplicates(S, 0.5, 10)
    cos = S @ S.T
    expected = sorted(((i, j, cos[i, j]) for i in range(len(S)) for j in range(i + 1, len(S)) if cos[i, j] >= 0.5), key=lambda p: -p[2])
    assert np.abs(cos[np.triu_indices(len(S), 1)] - 0.5).min() > 1e-4  # no pair on the threshold (measured: 0.0065)
    assert all(a[2] - b[2] > 1e-5 for a, b in zip(expected[:11], expected[1:11]))  # nor tied in rank (measured: 5e-4)
    assert [(i, j) for i, j, _ in pairs] == [(i, j) for i, j, _ in expected[:10]]
    assert pairs[0][:2] == (0, 1) and pairs[0][2] == pytest.approx(cos[0, 1], abs=1e-6)
    xy, method = project_2d(S)
    assert method == "PCA"
    centred = S - S.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred.T))
    top = vectors[:, ::-1][:, :2]
    assert np.abs(xy) == pytest.approx(np.abs(centred @ top), abs=1e-4)  # principal axes up to sign

    torch.save(bundle, corpus_file.with_suffix(".pt"))
    embeddings = load_embeddings(corpus_file.with_suffix(".pt"), corpus_file, df)
    page = Tables(corpus_report(df, embeddings, duplicate_threshold=0.5))
    assert page.data["near_duplicates"][0][:2] == [0, 1]
    first = page.tables["duplicates"][1]
    assert first[:2] == [f"{df.unit[0]} ({df.category[0]})", f"{df.unit[1]} ({df.category[1]})"]
    assert np.asarray(page.data["map"]["xy"]) == pytest.approx(xy, abs=1e-5)


def test_no_near_duplicates_is_one_sentence_not_an_empty_table(corpus_file, tmp_path):
    df = read_corpus(corpus_file)
    bundle = bundle_for(corpus_file)
    S = bundle["embeddings"].numpy()
    threshold = float(np.ceil(((S @ S.T)[np.triu_indices(len(S), 1)].max() + 1e-3) * 100) / 100)  # above every pair
    torch.save(bundle, tmp_path / "corpus.pt")
    embeddings = load_embeddings(tmp_path / "corpus.pt", corpus_file, df)
    page = corpus_report(df, embeddings, duplicate_threshold=threshold)
    tables = Tables(page)
    assert tables.data["near_duplicates"] == [] and "duplicates" not in tables.tables
    assert all(tables.body_rows[name] > 0 for name in tables.tables), tables.body_rows  # no table with only a header row
    assert f"No two entities' embeddings are closer than {threshold} cosine" in page
    with_pairs = Tables(corpus_report(df, embeddings, duplicate_threshold=0.5))
    assert with_pairs.body_rows["duplicates"] == len(with_pairs.data["near_duplicates"]) > 0
    assert "No two entities" not in corpus_report(df, embeddings, duplicate_threshold=0.5)


def test_the_map_names_its_points_and_the_page_has_one_legend(corpus_file, tmp_path):
    from corpus_builder.report import MAP_HEIGHT, MAP_WIDTH, label_box

    df = read_corpus(corpus_file)
    torch.save(bundle_for(corpus_file), tmp_path / "corpus.pt")
    embeddings = load_embeddings(tmp_path / "corpus.pt", corpus_file, df)
    page = corpus_report(df, embeddings)
    assert page == corpus_report(df, embeddings)  # deterministic: the same bytes for the same input
    svg, data = Svg(page), Tables(page).data
    names = [f"{u} ({c})" for u, c in zip(df["unit"], df["category"])]
    assert [title for _, _, title in svg.dots] == names  # every dot says its entity on hover
    labelled = data["map"]["labelled"]
    assert len(labelled) == len(svg.labels) >= min(len(df), 20) and len(set(labelled)) == len(labelled)
    boxes = []
    for i, (x, y, anchor, text) in zip(labelled, svg.labels):
        assert text == df["unit"][i]  # the entity's own unit, written beside its own dot
        cx, cy, _ = svg.dots[i]
        assert abs(y - cy) <= 16 and abs(x - cx) <= 8, (text, x, y, cx, cy)
        box = label_box(x, y, text, anchor)
        assert 0 <= box[0] and box[2] <= MAP_WIDTH and 0 <= box[1] and box[3] <= MAP_HEIGHT
        boxes.append(box)
    for a in range(len(boxes)):  # no label over another
        for b in range(a):
            assert not (boxes[a][0] < boxes[b][2] and boxes[b][0] < boxes[a][2] and boxes[a][1] < boxes[b][3]
                        and boxes[b][1] < boxes[a][3]), (svg.labels[a], svg.labels[b])
    assert svg.legends == 1 and "data:image/png" not in page  # one legend (HTML), no matplotlib figure with its own
    legend = page.split('class="legend"', 1)[1].split("</div>", 1)[0]
    for category, n in Counter(df["category"]).items():
        assert f"{category} ({n})" in legend
    assert Svg(corpus_report(df)).legends == 0  # no map, no legend: the category chart names its own bars


def test_a_corpus_embedded_with_random_weights_gets_a_banner(corpus_file, tmp_path):
    df = read_corpus(corpus_file)
    for provenance, random_weights in (({"random_weights": True}, True), ({"random_weights": False}, False), (None, False)):
        bundle = bundle_for(corpus_file) | ({"provenance": provenance} if provenance is not None else {})  # None: an older corpus.pt
        torch.save(bundle, tmp_path / "corpus.pt")
        embeddings = load_embeddings(tmp_path / "corpus.pt", corpus_file, df)
        assert embeddings.random_weights is random_weights
        page = corpus_report(df, embeddings)
        assert Tables(page).data["random_weights"] is random_weights
        banner = "This corpus.pt was embedded by a CLIP model with random weights (alt-synthetic&#x27;s test model)"
        assert (banner in page) is random_weights
        if random_weights:
            body = page.split("<body>", 1)[1]
            assert body.startswith('<p id="random-weights" class="warning">')  # the first thing on the page
    assert "random_weights" not in Tables(corpus_report(df)).data  # no corpus.pt: nothing to say


def test_cli_writes_a_page_chromium_renders(run_cli, corpus_file, tmp_path):
    torch.save(bundle_for(corpus_file), tmp_path / "corpus.pt")
    out = tmp_path / "report.html"
    code, stdout, stderr = run_cli("report", corpus_file, "--corpus", tmp_path / "corpus.pt", "--out", out)
    assert code == 0, stderr
    assert f"{out}: report on" in stdout
    assert os.stat(out).st_mode & 0o044 == 0o044  # readable like any file the user writes, not mkstemp's 0600
    page = out.read_text()
    # self-contained: the two figures (category chart, map) are inline SVG, no link out (the SVG namespace is not one)
    assert page.count("<svg") == 2 and "http" not in page.replace("http-equiv", "")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is missing: apt-get install chromium (scripts/setup.sh dev does it as root)"
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1800,1600",
                    f"--screenshot={shot}", out.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (1600, 1800)
    assert (pixels < 128).mean() > 0.005 and len(np.unique(pixels)) > 20  # text and figures, not a blank page
    used = np.flatnonzero((pixels < 250).any(axis=0))
    assert used[-1] - used[0] >= 1300  # on a wide screen the page spans its 1400 px, not 60% of it


def test_bad_inputs_are_one_line_errors(run_cli, corpus_file, tmp_path):
    other = tmp_path / "other.parquet"
    write_corpus(read_corpus(corpus_file).head(3), other)
    torch.save(bundle_for(corpus_file), tmp_path / "corpus.pt")
    cases = [
        (["report", other, "--corpus", tmp_path / "corpus.pt"], f"{tmp_path / 'corpus.pt'} embeds another corpus than {other}"),
        (["report", corpus_file, "--corpus", tmp_path / "none.pt"], "none.pt: corpus.pt not found; make it with 'corpus embed"),
        (["report", tmp_path / "missing.parquet"], "missing.parquet: corpus not found"),
        (["report", corpus_file, "--out", tmp_path / "no" / "r.html"], "does not exist; create it or choose another --out"),
    ]
    (tmp_path / "junk.pt").write_text("not a tensor file")
    cases.append((["report", corpus_file, "--corpus", tmp_path / "junk.pt"], "junk.pt: not a corpus.pt"))
    for args, message in cases:
        code, _, stderr = run_cli(*args)
        assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, (args, stderr)
    assert not (tmp_path / "report.html").exists()
