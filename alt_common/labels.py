"""Action label lists (DESIGN §3): plain text or CSV with a `name` column, normalised and de-duplicated;
and the one reader of the list files' lines and CSV records (label files, video lists)."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .io import check_regular

log = logging.getLogger(__name__)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# ANSI/VT escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \\), and two-character escapes
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
MAX_LABEL_FILE_BYTES = 16 << 20  # a label list is text: far below this; /dev/zero or a runaway pipe is cut here
DUPLICATES_SHOWN = 3  # examples in the one warning about duplicate labels


@dataclass(frozen=True)
class LabelFile:
    """The labels read from one file, with what the manifest records about it."""

    path: str
    sha256: str
    labels: list[str]


def strip_control(text: str, keep_lines: bool = False) -> str:
    """`text` without terminal escape sequences and control or format characters (tabs and line
    breaks become spaces, or with `keep_lines` stay line breaks), so nothing read from a file or a
    server can drive the terminal."""
    text = _ESCAPES.sub("", text)
    if keep_lines:
        return "\n".join(strip_control(line) for line in text.splitlines())
    return "".join(" " if c in "\t\n\r\v\f" else c for c in text if c in "\t\n\r\v\f" or unicodedata.category(c) not in ("Cc", "Cf"))


def printable(text: object) -> str:
    """`text` (a path, a message naming one) as a terminal may show it: control and format characters escaped as
    Python writes them (a line break as \\n, ESC as \\x1b, BEL as \\x07, RLO as \\u202e), so a file name can neither
    break a line nor drive the terminal; everything else as it is."""
    return "".join(c if unicodedata.category(c) not in ("Cc", "Cf") else c.encode("unicode_escape").decode("ascii")
                   for c in str(text))


def normalize_label(raw: str) -> str:
    """`ApplyEyeMakeup` -> `apply eye makeup`; `brush_hair` -> `brush hair`; whitespace collapsed;
    control characters and terminal escape sequences removed."""
    text = strip_control(raw).replace("_", " ").strip()
    if " " not in text:
        text = _CAMEL.sub(" ", text)
    return " ".join(text.lower().split())


def _decode(path: Path) -> tuple[bytes, str]:
    check_regular(path, "label file", "pass a .txt or .csv file to --labels")  # a FIFO or a device is never opened
    try:  # read with a cap: a huge file must not be read whole
        with open(path, "rb") as f:
            data = f.read(MAX_LABEL_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: label file not found; pass an existing file to --labels") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a label file; pass a .txt or .csv file to --labels") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read label file ({exc.strerror}); check its permissions") from None
    if len(data) > MAX_LABEL_FILE_BYTES:
        raise UserError(f"{path}: label file is larger than {MAX_LABEL_FILE_BYTES >> 20} MiB (read stopped there); "
                        "pass a plain list of action labels to --labels")
    if b"\x00" in data:
        raise UserError(f"{path}: looks binary, not a UTF-8 label list; pass a .txt (one label per line) or .csv with a 'name' column")
    try:
        return data, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not valid UTF-8; re-save the file as UTF-8") from None


def _is_csv(path: Path, text: str) -> bool:
    first = next((ln for _, ln in content_lines(text)), "")
    return path.suffix.lower() == ".csv" or ("," in first and "name" in csv_header(first))


def content_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of a list file's text, blank lines and `#` comments dropped."""
    return [(i, ln) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.lstrip().startswith("#")]


def csv_header(line: str) -> list[str]:
    """The lower-cased, stripped column names of a CSV header line."""
    return [c.strip().lower() for c in next(csv.reader([line]))]


def csv_records(path: Path, lines: list[tuple[int, str]], columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each row under the header `lines[0]`; every one of `columns`
    must be in the header and filled in each row (UserError naming the file and line otherwise)."""
    header_line, header = lines[0]
    found = csv_header(header)
    wanted = ",".join(columns)
    missing = [c for c in columns if c not in found]
    if missing:
        raise UserError(f"{path}:{header_line}: CSV header has no {', '.join(repr(c) for c in missing)} column "
                        f"(found: {', '.join(found)}); add a header such as '{'id,' if columns == ('name',) else ''}{wanted}'")
    index = [found.index(c) for c in columns]
    rows = []
    for (i, _), record in zip(lines[1:], csv.reader(io.StringIO("\n".join(ln for _, ln in lines[1:])))):
        values = [record[j].strip() if j < len(record) else "" for j in index]
        if not values[0] or len(record) <= max(index):
            raise UserError(f"{path}:{i}: row has no value in the '{columns[0]}' column; fill it in or delete the row")
        rows.append((i, dict(zip(columns, values))))
    return rows


def _rows(path: Path, text: str) -> list[tuple[int, str]]:
    """(line number, raw label) pairs, comments and blank lines dropped."""
    lines = content_lines(text)
    if not _is_csv(path, text):
        return [(i, ln.strip()) for i, ln in lines]
    if not lines:
        return []
    return [(i, record["name"]) for i, record in csv_records(path, lines, ("name",))]


def read_label_file(path: str | Path) -> LabelFile:
    """Read one label file; raises UserError naming the file and line on bad input."""
    path = Path(path)
    data, text = _decode(path)
    rows = _rows(path, text)
    if not rows:
        raise UserError(f"{path}: no labels found; put one action label per line (or a CSV with a 'name' column)")
    labels = []
    for line, raw in rows:
        label = normalize_label(raw)
        if not re.search(r"[a-z]", label):
            raise UserError(f"{path}:{line}: label {raw!r} has no letters; fix or delete the line")
        labels.append(label)
    return LabelFile(str(path), hashlib.sha256(data).hexdigest(), labels)


def dedupe(labels: list[str]) -> list[str]:
    """Keep the first occurrence of each label; one warning line counts the rest, with a few examples."""
    seen: dict[str, None] = {}
    repeated: dict[str, int] = {}
    for label in labels:
        if label in seen:
            repeated[label] = repeated.get(label, 0) + 1
        seen.setdefault(label, None)
    if repeated:
        shown = ", ".join(repr(label) for label in list(repeated)[:DUPLICATES_SHOWN])
        more = f" and {len(repeated) - DUPLICATES_SHOWN} more" if len(repeated) > DUPLICATES_SHOWN else ""
        log.warning("%d duplicate label(s) ignored (%s%s); each label is used once", sum(repeated.values()), shown, more)
    return list(seen)


def read_labels(paths: list[str | Path]) -> tuple[list[str], list[LabelFile]]:
    """All labels from all files, in order and de-duplicated, and the files' records."""
    files = [read_label_file(p) for p in paths]
    return dedupe([label for f in files for label in f.labels]), files
