"""The corpus.parquet contract (DESIGN §4): schema declared once, checked on every read and write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alt_common.io import atomic_write, check_regular

from .errors import CorpusError

MANIFEST_KEY = b"alt.manifest"
CORPUS_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.int32(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("description", pa.string(), nullable=False),
        pa.field("sense", pa.string(), nullable=True),
        pa.field("category", pa.string(), nullable=False),
        pa.field("sources", pa.list_(pa.string()), nullable=False),
        pa.field("labels", pa.list_(pa.string()), nullable=False),
        pa.field("wsd_method", pa.string(), nullable=False),
        pa.field("wsd_score", pa.float32(), nullable=False),
        pa.field("wsd_margin", pa.float32(), nullable=True),  # lead over the runner-up; null without one
        pa.field("candidates", pa.list_(pa.string()), nullable=False),
    ]
)
COLUMNS = tuple(CORPUS_SCHEMA.names)
MAX_MANIFEST_BYTES = 16 << 20  # a manifest is a few KiB; a bigger one is not ours


def to_table(df: pd.DataFrame, manifest: dict[str, Any]) -> pa.Table:
    """The DataFrame as an Arrow table of CORPUS_SCHEMA, the manifest in its key-value metadata."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"corpus is missing column(s) {', '.join(missing)}")
    table = pa.Table.from_pandas(df[list(COLUMNS)], schema=CORPUS_SCHEMA, preserve_index=False)
    return table.replace_schema_metadata({MANIFEST_KEY: json.dumps(manifest, sort_keys=True).encode()})


def write_corpus(df: pd.DataFrame, path: str | Path, manifest: dict[str, Any] | None = None) -> None:
    """Write corpus.parquet atomically (temp file + rename): readers never see half a file."""
    table = to_table(df, manifest if manifest is not None else df.attrs.get("manifest", {}))
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def require_corpus_file(path: str | Path) -> None:
    """One line, before anything heavy loads, when `path` is not a file a corpus could be in."""
    if Path(path).is_dir():
        raise CorpusError(f"{path}: is a folder, not a corpus; pass a corpus.parquet")
    if not Path(path).exists():
        raise CorpusError(f"{path}: corpus not found; build one with 'corpus build'")
    check_regular(path, "a corpus", "pass a corpus.parquet")  # a FIFO or a device is never opened


def read_corpus(path: str | Path) -> pd.DataFrame:
    """Read and validate a corpus.parquet; its manifest is in `df.attrs["manifest"]`."""
    require_corpus_file(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise CorpusError(f"{path}: corpus not found; build one with 'corpus build'") from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorpusError(f"{path}: not a readable Parquet corpus ({exc}); rebuild it with 'corpus build'") from None
    schema = table.schema.remove_metadata()
    if not schema.equals(CORPUS_SCHEMA):
        raise CorpusError(f"{path}: columns do not match the corpus schema; rebuild it with 'corpus build'")
    manifest = read_manifest(path, (table.schema.metadata or {}).get(MANIFEST_KEY, b"{}"))
    df = table.to_pandas()
    for column in ("sources", "labels", "candidates"):
        df[column] = df[column].map(list)
    df.attrs["manifest"] = manifest
    return df


def read_manifest(path: str | Path, raw: bytes) -> dict[str, Any]:
    """The manifest stored in a corpus's metadata: a JSON object of bounded size (CorpusError otherwise)."""
    fix = "rebuild it with 'corpus build'"
    if len(raw) > MAX_MANIFEST_BYTES:
        raise CorpusError(f"{path}: its manifest is larger than {MAX_MANIFEST_BYTES >> 20} MiB; {fix}")
    try:
        manifest = json.loads(raw)
    except (ValueError, RecursionError):
        raise CorpusError(f"{path}: its manifest is not JSON; {fix}") from None
    if not isinstance(manifest, dict):
        raise CorpusError(f"{path}: its manifest is a JSON {type(manifest).__name__}, not an object; {fix}")
    return manifest
