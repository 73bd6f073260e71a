"""`corpus embed`: CLIP text embeddings of the corpus, the frozen entity matrix S (paper Sec. 3.1),
written as corpus.pt (DESIGN §5, `alt_common.bundle`) and its .embeddings.parquet twin."""

from __future__ import annotations

import json
import string
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from alt_common.bundle import CorpusBundle
from alt_common.clip import activation_for, count_truncated, encode_texts, load_clip
from alt_common.io import atomic_write, file_sha256
from alt_common.progress import Step, step

from .corpus import read_corpus
from .errors import CorpusError

DEFAULT_TEMPLATE = "{unit}: {description}"
TEMPLATE_FIELDS = ("unit", "description", "category")


def check_template(template: str) -> str:
    """`template` if its only fields are the plain {unit}, {description}, {category} (no attribute or
    index access, no nested fields); else a CorpusError naming --template."""
    fix = "use only the fields {unit}, {description}, {category} (and {{ }} for braces)"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise CorpusError(f"bad --template {template!r} ({exc}); {fix}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or "{" in (spec or "") or conversion not in (None, "s"):
            raise CorpusError(f"bad --template {template!r}: field {{{name}}} is not allowed; {fix}")
    return template


def embeddings_path(out: str | Path) -> Path:
    """The .embeddings.parquet written beside corpus.pt `out`."""
    out = Path(out)
    return out.with_suffix(".embeddings.parquet") if out.suffix == ".pt" else Path(f"{out}.embeddings.parquet")


def corpus_texts(df: pd.DataFrame, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """Each entity's text, the template filled in; under the default template an entity that is its own description (label entities) is its unit alone."""
    check_template(template)
    try:
        return [
            u if d == u and template == DEFAULT_TEMPLATE else template.format(unit=u, description=d, category=c)
            for u, d, c in zip(df["unit"], df["description"], df["category"])
        ]
    except (KeyError, IndexError, ValueError) as exc:
        raise CorpusError(f"bad --template {template!r} ({exc}); use the fields {{unit}}, {{description}}, {{category}}") from None


def embed_corpus(
    df: pd.DataFrame,
    model: str = "ViT-B/16",
    pretrained: str = "openai",
    *,
    template: str = DEFAULT_TEMPLATE,
    batch_size: int = 256,
    device: str = "cpu",
    exact_padding: bool = False,
    corpus_sha256: str | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """The DESIGN §5 bundle for a corpus DataFrame: S [K, d] (L2-normalised) and row-aligned metadata."""
    if len(df) == 0:
        raise CorpusError("the corpus has no entities to embed; rebuild it with 'corpus build'")
    texts = corpus_texts(df, template)
    if show_progress:  # encode_texts draws the bar
        clip, tokenizer, provenance = load_clip(model, pretrained, device)
        embeddings = encode_texts(clip, tokenizer(texts), batch_size, exact_padding, show_progress)
    else:  # lines on the log (alt_common.progress), counted as each batch leaves the text tower
        with step(f"Embedding with {model}", len(texts), unit="texts") as progress:
            clip, tokenizer, provenance = load_clip(model, pretrained, device)
            with _counting_batches(clip, progress):
                embeddings = encode_texts(clip, tokenizer(texts), batch_size, exact_padding)
    return CorpusBundle(
        embeddings=embeddings.contiguous(), units=list(df["unit"]), descriptions=list(df["description"]),
        categories=list(df["category"]), model=model, pretrained=pretrained, text_template=template,
        corpus_sha256=corpus_sha256 or "", entity_ids=[int(i) for i in df["entity_id"]], texts=texts,
        provenance=provenance, truncated_texts=count_truncated(tokenizer, texts), exact_padding=exact_padding,
    ).to_dict()


@contextmanager
def _counting_batches(clip: Any, progress: Step):
    """Advance `progress` by each batch's size as CLIP's text tower finishes it: a forward hook on its last
    module that runs once per batch (open_clip's `ln_final`, or a custom tower's `text`); none if it has neither."""
    last = next((m for m in (getattr(clip, "ln_final", None), getattr(clip, "text", None)) if isinstance(m, torch.nn.Module)), None)
    hook = last.register_forward_hook(lambda _module, _args, out: progress.advance(out.shape[0] if isinstance(out, torch.Tensor) else 0)) if last is not None else None
    try:
        yield
    finally:
        if hook is not None:
            hook.remove()


def embeddings_table(bundle: dict[str, Any]) -> pa.Table:
    """The same embeddings as Arrow: one row per entity, a fixed-size list column."""
    S = bundle["embeddings"]
    flat = pa.array(S.numpy().reshape(-1), type=pa.float32())
    table = pa.table({
        "entity_id": pa.array(bundle["entity_ids"], pa.int32()),
        "unit": bundle["units"],
        "description": bundle["descriptions"],
        "category": bundle["categories"],
        "embedding": pa.FixedSizeListArray.from_arrays(flat, S.shape[1]),
    })
    meta = {k: bundle[k] for k in ("model", "pretrained", "text_template", "corpus_sha256", "format_version")}
    return table.replace_schema_metadata({b"alt.embedding": json.dumps(meta, sort_keys=True).encode()})


def embed_file(
    corpus: str | Path, out: str | Path, model: str, pretrained: str, **options: Any
) -> tuple[dict[str, Any] | None, Path]:
    """Embed corpus.parquet into `out` (corpus.pt) and its .embeddings.parquet twin, atomically.

    Returns (None, parquet path) when `out` already holds these embeddings: nothing to do.
    """
    corpus, out = Path(corpus), Path(out)
    if not out.parent.exists():
        raise CorpusError(f"{out}: folder {out.parent} does not exist; create it or choose another --out")
    df = read_corpus(corpus)
    sha = file_sha256(corpus)
    parquet = embeddings_path(out)
    key = {"model": model, "pretrained": pretrained, "corpus_sha256": sha,
           "text_template": options.get("template", DEFAULT_TEMPLATE), "exact_padding": options.get("exact_padding", False)}
    if out.is_file() and parquet.is_file():
        try:
            old = torch.load(out, weights_only=True)
            if all(old.get(k) == v for k, v in key.items()) and _same_weights(old, pretrained) and _same_activation(old, model, pretrained):
                return None, parquet
        except Exception:  # noqa: BLE001 - an unreadable old file is simply replaced
            pass
    bundle = embed_corpus(df, model, pretrained, corpus_sha256=sha, **options)
    CorpusBundle.from_dict(bundle, out).save(out)
    table = embeddings_table(bundle)
    atomic_write(parquet, lambda tmp: pq.write_table(table, tmp))
    return bundle, parquet


def _same_activation(old: dict[str, Any], model: str, pretrained: str) -> bool:
    """Whether `old` was embedded by the activation the weights need: corpus.pt files older than the QuickGELU fix
    record none, and OpenAI's tags built GELU then, so they are embedded again."""
    return old.get("provenance", {}).get("activation") == activation_for(model, pretrained)


def _same_weights(old: dict[str, Any], pretrained: str) -> bool:
    path = Path(pretrained).expanduser()
    if not path.is_file():
        return True
    return old.get("provenance", {}).get("pretrained_sha256") == file_sha256(path)
