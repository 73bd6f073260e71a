"""Build a corpus of visual entities from action labels (ALT, supplementary B), and embed it with CLIP."""

import importlib
from typing import Any

# What each public name is imported from, on first use: `corpus --help` and the commands that need
# neither spaCy, WordNet, torch nor the openai client do not pay for importing them.
_EXPORTS = {
    "build_corpus": ".build",
    "CORPUS_SCHEMA": ".corpus",
    "read_corpus": ".corpus",
    "write_corpus": ".corpus",
    "embed_corpus": ".embed",
    "CorpusError": ".errors",
    "LLM": ".llm",
    "LLMConfig": ".llm",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
