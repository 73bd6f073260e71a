import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_builder import CORPUS_SCHEMA, build_corpus, read_corpus, write_corpus
from corpus_builder.corpus import MANIFEST_KEY
from corpus_builder.errors import CorpusError


@pytest.fixture(scope="module")
def small(wn, nlp):
    return build_corpus(["playing guitar", "abseiling", "playing cricket", "shaking hands", "riding mechanical bull"], wsd="lesk")


def test_public_api_returns_the_design_schema(small):
    assert list(small.columns) == CORPUS_SCHEMA.names
    assert small["entity_id"].tolist() == list(range(len(small)))
    assert small["entity_id"].dtype == "int32" and small["wsd_score"].dtype == "float32"
    assert set(small["kind"]) <= {"word", "phrase"}
    assert set(small["category"]) <= {"object", "body", "scene", "motion", "role", "other"}
    assert set(small["wsd_method"]) <= {"lesk", "single-candidate", "default"}
    keys = list(zip(small["category"], small["unit"], small["description"]))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_entities_carry_sense_sources_labels_and_candidates(small):
    rows = {(r.unit, r.category): r for r in small.itertuples()}
    guitar = rows["guitar", "object"]
    assert (guitar.sense, guitar.sources, guitar.labels) == ("guitar.n.01", ["pos"], ["playing guitar"])
    assert guitar.description.startswith("a stringed instrument")
    cricket = rows["cricket", "motion"]
    assert cricket.sense == "cricket.n.02" and len(cricket.candidates) == 2 and cricket.description in cricket.candidates
    assert rows["abseiling", "motion"].sources == ["label"]
    assert rows["mechanical bull", "object"].kind == "phrase"


def test_default_body_parts_merge_with_extracted_ones(small):
    hand = small[small["unit"] == "hand"]
    assert len(hand) == 1
    row = hand.iloc[0]
    assert row["sources"] == ["default", "pos"] and row["labels"] == ["shaking hands"]
    assert row["sense"] == "hand.n.01" and row["category"] == "body"
    head = small[small["unit"] == "head"].iloc[0]
    assert head["sources"] == ["default"] and head["labels"] == [] and head["wsd_method"] == "default"


def test_manifest_records_no_llm_options_versions_and_counts(small):
    m = small.attrs["manifest"]
    assert m["llm"] is None and m["prompts"] == {}
    assert m["options"]["wsd"] == "lesk"
    assert m["wsd"] == {"method": "lesk", "model": None, "weights": {"prior": 0.5, "visual": 0.8, "gloss": 0.05, "cosine": 0.0}}
    assert m["resources"]["wordnet"] == "WordNet 3.0"
    assert "3.8" in m["resources"]["spacy_model"]
    assert m["counts"]["labels"] == 5 and m["counts"]["entities"] == len(small)
    assert sum(m["counts"]["entities_by_category"].values()) == len(small)


def test_write_then_read_round_trips_rows_and_manifest(small, tmp_path):
    path = tmp_path / "corpus.parquet"
    write_corpus(small, path)
    back = read_corpus(path)
    pd.testing.assert_frame_equal(back, small)
    assert back.attrs["manifest"] == small.attrs["manifest"]
    table = pq.read_table(path)
    assert table.schema.remove_metadata().equals(CORPUS_SCHEMA)
    assert json.loads(table.schema.metadata[MANIFEST_KEY]) == small.attrs["manifest"]
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.parquet"]  # no temp file left behind


def test_failed_write_keeps_the_old_file(small, tmp_path):
    path = tmp_path / "corpus.parquet"
    write_corpus(small, path)
    before = path.read_bytes()
    with pytest.raises(CorpusError, match="missing column"):
        write_corpus(small.drop(columns=["sense"]), path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_read_rejects_foreign_files(tmp_path):
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1]}), other)
    with pytest.raises(CorpusError, match="do not match the corpus schema"):
        read_corpus(other)
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(CorpusError, match="not a readable Parquet corpus"):
        read_corpus(junk)
    with pytest.raises(CorpusError, match="corpus not found"):
        read_corpus(tmp_path / "missing.parquet")

