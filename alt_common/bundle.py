"""corpus.pt (DESIGN §5): the embedded corpus both packages hand each other, as one typed object.

`corpus embed` writes it (`CorpusBundle.save`: a plain dict through `torch.save`, so it loads with
`weights_only=True` and runs no pickled code); `alt_model` reads it (`CorpusBundle.load`) and
registers S as a frozen buffer. Every reader goes through `from_dict`, which checks the contract
once: a non-empty [K, d] tensor S and row-aligned lists of K units, descriptions and categories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import UserError
from .io import atomic_write, check_regular

FORMAT_VERSION = 1
MAKE_IT = "make it with 'corpus embed CORPUS.parquet --out corpus.pt'"


@dataclass
class CorpusBundle:
    """S and what each of its rows is, with the model that embedded it and the corpus it came from."""

    embeddings: Tensor  # [K, d], L2-normalised rows: the paper's S
    units: list[str]
    descriptions: list[str]
    categories: list[str]
    model: str  # the open_clip (or OpenAI) model name
    pretrained: str  # its weights: a tag or a local path
    text_template: str = "{unit}: {description}"
    corpus_sha256: str = ""
    entity_ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # what was embedded, row by row
    provenance: dict[str, Any] = field(default_factory=dict)  # how the CLIP model was resolved and loaded
    truncated_texts: int = 0
    exact_padding: bool = False
    format_version: int = FORMAT_VERSION

    @classmethod
    def from_dict(cls, data: Any, source: str | Path = "corpus") -> CorpusBundle:
        """Check a loaded corpus.pt against the contract; UserError names `source` and the fix."""
        if not isinstance(data, dict) or not isinstance(data.get("embeddings"), Tensor):
            raise UserError(f"{source}: not a corpus.pt (no 'embeddings' tensor); {MAKE_IT}")
        S = data["embeddings"]
        if S.ndim != 2 or S.shape[0] == 0:
            raise UserError(f"{source}: 'embeddings' must be a non-empty [K, d] tensor, not {tuple(S.shape)}; {MAKE_IT}")
        if data.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise UserError(f"{source}: corpus.pt format {data['format_version']} is newer than this toolkit's "
                            f"({FORMAT_VERSION}); upgrade alt-toolkit")
        k = len(S)
        rows = {name: list(data.get(name, default)) for name, default in
                (("units", [str(i) for i in range(k)]), ("descriptions", [""] * k), ("categories", ["other"] * k))}
        bad = [name for name, values in rows.items() if len(values) != k]
        if bad:
            raise UserError(f"{source}: {', '.join(bad)} not row-aligned with the {k} embeddings; {MAKE_IT}")
        known = {f for f in cls.__dataclass_fields__} - {"embeddings", *rows}
        extra = {name: data[name] for name in known if name in data}
        extra.setdefault("model", "")
        extra.setdefault("pretrained", "")
        return cls(embeddings=S, **rows, **extra)

    def to_dict(self) -> dict[str, Any]:
        """The plain dict `torch.save` writes (loadable with `weights_only=True`)."""
        data = asdict(self)
        data["embeddings"] = self.embeddings.contiguous()
        return data

    @classmethod
    def load(cls, path: str | Path) -> CorpusBundle:
        """Read and check a corpus.pt safely (`weights_only`); errors name the file and how to make one."""
        path = check_regular(path, "corpus.pt", MAKE_IT)  # a FIFO or a device is never opened
        try:
            data = torch.load(path, weights_only=True, map_location="cpu")
        except FileNotFoundError:
            raise UserError(f"{path}: corpus.pt not found; make it with 'corpus embed CORPUS.parquet --out {path}'") from None
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a file that is not a torch.save
            raise UserError(f"{path}: not a corpus.pt ({type(exc).__name__}); {MAKE_IT}") from None
        return cls.from_dict(data, path)

    def save(self, path: str | Path) -> None:
        """Write the bundle atomically."""
        atomic_write(path, lambda tmp: torch.save(self.to_dict(), tmp))

    def entities(self, dim: int, categories: Sequence[str] | None = None) -> tuple[Tensor, list[str]]:
        """S [K', d] (L2-normalised, float32) and the units of the entities in `categories` (all by default),
        for a CLIP model whose joint space is `dim`-d."""
        if self.embeddings.shape[1] != dim:
            raise UserError(f"corpus embeddings are {self.embeddings.shape[1]}-d but the CLIP model's joint space is {dim}-d; "
                            f"embed the corpus with the same model (it was embedded with {self.model or '?'!r})")
        keep = list(range(len(self.units)))
        if categories is not None:
            unknown = sorted(set(categories) - set(self.categories))
            if unknown:
                raise UserError(f"no corpus entities in categories {unknown}; the corpus has {sorted(set(self.categories))}")
            keep = [i for i, c in enumerate(self.categories) if c in set(categories)]
        return F.normalize(self.embeddings[keep].float(), dim=-1), [self.units[i] for i in keep]
