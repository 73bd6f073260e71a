"""Build a corpus of visual entities from action labels (ALT, supplementary B), and embed it with CLIP."""

from .build import build_corpus
from .corpus import CORPUS_SCHEMA, read_corpus, write_corpus
from .embed import embed_corpus
from .errors import CorpusError
from .llm import LLM, LLMConfig

__all__ = ["CORPUS_SCHEMA", "LLM", "LLMConfig", "CorpusError", "build_corpus", "embed_corpus", "read_corpus", "write_corpus"]
