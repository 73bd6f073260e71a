"""The paper's LLM prompts (supplementary B), read verbatim from plain files in `prompts/`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from alt_common.io import check_regular
from alt_common.resources import prompts_dir

from .errors import CorpusError

PROMPTS_DIR = prompts_dir()
ENTITY_FILE = "entities.txt"
PHRASE_FILES = ("phrase_looks_like.txt", "phrase_explanations.txt", "phrase_one_sentence.txt")
SYSTEM_FILE = "system.txt"
SUGGEST_FILE = "suggest.txt"  # the suggestion prompt (issue 31): entities only, one short answer per label
MAX_PROMPT_BYTES = 64 << 10  # a prompt is a few hundred bytes: a larger file is not one


@dataclass(frozen=True)
class Prompts:
    entities: str  # with {label}
    phrases: tuple[str, ...]  # each with {phrase unit}
    system: str | None
    sha256: dict[str, str]
    suggest: str | None = None  # with {label}; loaded for --llm-suggest

    def for_label(self, label: str) -> str:
        return self.entities.replace("{label}", label)

    def for_suggestion(self, label: str) -> str:
        if self.suggest is None:
            raise CorpusError(f"no {SUGGEST_FILE} prompt was loaded; load the prompts with suggest=True")
        return self.suggest.replace("{label}", label)

    def for_phrase(self, phrase: str) -> list[str]:
        return [t.replace("{phrase unit}", phrase) for t in self.phrases]


def load_prompts(folder: str | Path = PROMPTS_DIR, system: bool = False, suggest: bool = False) -> Prompts:
    """The four prompts (and the system message, the suggestion prompt when asked for), with each file's SHA-256."""
    folder = Path(folder)
    names = [ENTITY_FILE, *PHRASE_FILES] + ([SYSTEM_FILE] if system else []) + ([SUGGEST_FILE] if suggest else [])
    texts, hashes = {}, {}
    for name in names:
        path = check_regular(folder / name, "prompt file", f"pass --prompts FOLDER with {', '.join(names)}")  # a FIFO is never opened
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_PROMPT_BYTES + 1)
        except OSError:
            raise CorpusError(f"{path}: prompt file not found; pass --prompts FOLDER with {', '.join(names)}") from None
        if len(data) > MAX_PROMPT_BYTES:
            raise CorpusError(f"{path}: prompt file is larger than {MAX_PROMPT_BYTES >> 10} KiB; a prompt is a few lines of text")
        try:
            texts[name] = data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path}: prompt file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        hashes[name] = hashlib.sha256(data).hexdigest()
    for name in (ENTITY_FILE, SUGGEST_FILE):
        if name in texts and "{label}" not in texts[name]:
            raise CorpusError(f"{folder / name}: the prompt has no {{label}} placeholder; add it where the label goes")
    for name in PHRASE_FILES:
        if "{phrase unit}" not in texts[name]:
            raise CorpusError(f"{folder / name}: the prompt has no {{phrase unit}} placeholder; add it where the phrase goes")
    return Prompts(texts[ENTITY_FILE], tuple(texts[n] for n in PHRASE_FILES), texts.get(SYSTEM_FILE), hashes, texts.get(SUGGEST_FILE))
