"""The papers' five datasets from their publishers' annotation files (ALT Sec. 4, supplementary C; X-CLIP Sec. 4):
the toolkit's `path,label` lists (`data.py`) and the official class order, for `alt-lists`.

- **Kinetics-400/600**: `train.csv`, `validate.csv` (or `val.csv`) and `test.csv` with the header
  `label,youtube_id,time_start,time_end,split`; files `{youtube_id}_{time_start:06d}_{time_end:06d}.mp4` under
  `{split}/` or `{split}/{label}/`. Classes: the labels sorted, as the released label lists are.
- **UCF-101**: `ucfTrainTestlist/classInd.txt` (`1 ApplyEyeMakeup`, 1-based), `trainlistNN.txt`
  (`Class/v_Class_g08_c01.avi 1`), `testlistNN.txt` (paths only). Classes: classInd's order.
- **HMDB-51**: `testTrainMulti_7030_splits/{class}_test_split{N}.txt`, lines `video.avi 1|2|0` (train, test,
  unused); videos under `{class}/`. Classes: HMDB-51's own order (`HMDB_CLASSES`, X-CLIP's hmdb_51_labels.csv).
- **Something-Something V2**: `labels.json` (template -> id), `train.json` and `validation.json` (lists of
  `{id, label, template, placeholders}`); videos `{id}.webm`. A class is its template without brackets.

Every label becomes the toolkit's label text (`normalize_label`: `ApplyEyeMakeup` -> `apply eye makeup`). With a
video root, each listed video is looked up by listing each folder once (`VideoFinder`): the exact name, else the
same name in another case (UCF's `HandstandPushups/v_HandStandPushups_...`), else the same stem with another
extension; folders also match with punctuation and case ignored (`passing_American_football_in_game`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alt_common.io import atomic_write, file_sha256
from alt_common.labels import content_lines, csv_records, normalize_label
from alt_common.resources import package_version

from .errors import ModelError
from .guard import MiB, read_text

DATASETS = ("kinetics400", "kinetics600", "ucf101", "hmdb51", "ssv2")
SPLITS = {"ucf101": 3, "hmdb51": 3}  # datasets with numbered official splits, and how many
ANNOTATION_LIMIT = 256 * MiB  # Kinetics-700's train.csv is about 25 MB, SSv2's train.json about 20 MB
KINETICS_COLUMNS = ("youtube_id", "time_start", "time_end", "split")
SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "validate", "validation"), "test": ("test",)}  # Kinetics's split folders
HMDB_FLAGS = {"1": "train", "2": "val"}  # HMDB-51's split files: 1 training, 2 test, 0 unused
HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>\d+)\.txt$")
# HMDB-51's conventional class order (mmaction2's tools/data/hmdb51/label_map.txt, X-CLIP's labels/hmdb_51_labels.csv):
# the dataset's own class list, not a sort ("climb" before "climb_stairs" but "kick_ball" before "kick")
HMDB_CLASSES = (
    "brush_hair", "cartwheel", "catch", "chew", "clap", "climb", "climb_stairs", "dive", "draw_sword", "dribble", "drink", "eat",
    "fall_floor", "fencing", "flic_flac", "golf", "handstand", "hit", "hug", "jump", "kick_ball", "kick", "kiss", "laugh", "pick",
    "pour", "pullup", "punch", "push", "pushup", "ride_bike", "ride_horse", "run", "shake_hands", "shoot_ball", "shoot_bow",
    "shoot_gun", "sit", "situp", "smile", "smoke", "somersault", "stand", "swing_baseball", "sword_exercise", "sword", "talk",
    "throw", "turn", "walk", "wave",
)


@dataclass(frozen=True, slots=True)
class Listed:
    """One video of an official split: its path relative to the video root, its label, and where it was listed."""

    path: str
    label: str
    source: str  # "file:line"


@dataclass
class DatasetLists:
    """A dataset's official class order and its splits' videos ("train", "val", and "test" where Kinetics labels it)."""

    labels: list[str]
    splits: dict[str, list[Listed]]
    sources: list[Path] = field(default_factory=list)  # the annotation files read


# ---------------------------------------------------------------------------------------------- annotation files


def _find_file(folder: Path, names: Sequence[str], subfolders: Sequence[str], what: str) -> Path:
    """The first of `names` in `folder` or one of its `subfolders` (as the archives unpack); ModelError otherwise."""
    for sub in ("", *subfolders):
        for name in names:
            path = folder / sub / name
            if path.is_file():
                return path
    where = f" or in {'/, '.join(subfolders)}/" if subfolders else ""
    raise ModelError(f"{folder}: no {' or '.join(names)} here{where}; pass the folder {what} unpacks to")


def _read(path: Path) -> str:
    try:
        return read_text(path, "an annotation file", ANNOTATION_LIMIT).lstrip("\ufeff")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the annotation file ({exc.strerror})") from None


def _id(path: Path, line: int, text: str, what: str) -> int:
    if not text.strip().isdigit():
        raise ModelError(f"{path}:{line}: {what} {text.strip()!r} is not a whole number; restore the line from the published file")
    return int(text)


# ---------------------------------------------------------------------------------------------- Kinetics


def kinetics(annotations: Path) -> DatasetLists:
    """Kinetics-400/600's train, validation and (where labelled) test videos, at their canonical `{split}/{name}` paths."""
    files = {"train": _find_file(annotations, ("train.csv",), (), "the Kinetics annotations archive"),
             "val": _find_file(annotations, ("validate.csv", "val.csv"), (), "the Kinetics annotations archive")}
    test = annotations / "test.csv"
    if test.is_file() and "label" in _read(test).partition("\n")[0].lower():  # the original test.csv has no labels
        files["test"] = test
    splits, names = {}, {}  # names: published label -> the toolkit's label text, each normalised once
    for split, path in files.items():
        lines = content_lines(_read(path))
        if not lines:
            raise ModelError(f"{path}: no rows; restore the file from the Kinetics annotations archive")
        videos = []
        for line, row in csv_records(path, lines, ("label", *KINETICS_COLUMNS)):
            start, end = (_id(path, line, row[key], key) for key in ("time_start", "time_end"))
            label = names.get(row["label"]) or names.setdefault(row["label"], normalize_label(row["label"]))
            videos.append(Listed(f"{row['split'] or split}/{row['youtube_id']}_{start:06d}_{end:06d}.mp4", label, f"{path}:{line}"))
        splits[split] = videos
    order = sorted(names)  # the released label lists: the labels sorted (case-sensitive, as Python sorts)
    return DatasetLists([names[name] for name in order], splits, list(files.values()))


def kinetics_candidates(video: Listed) -> list[str]:
    """Where a Kinetics video may be under the root: `{split}/{name}` or `{split}/{label}/{name}`, for each name of the
    split's folder (`val`, `validate`, `validation`)."""
    split, name = video.path.split("/", 1)
    folders = next(([split, *(f for f in group if f != split)] for group in SPLIT_FOLDERS.values() if split in group), [split])
    return [f"{folder}/{name}" for folder in folders] + [f"{folder}/{video.label}/{name}" for folder in folders]


# ---------------------------------------------------------------------------------------------- UCF-101


def ucf101(annotations: Path, split: int) -> DatasetLists:
    """UCF-101's split `split`: classInd's classes (1-based ids), trainlistNN with ids, testlistNN with paths only."""
    what = "UCF-101's ucfTrainTestlist.zip"
    class_file = _find_file(annotations, ("classInd.txt",), ("ucfTrainTestlist",), what)
    names: dict[int, str] = {}
    for line, text in content_lines(_read(class_file)):
        parts = text.split()
        if len(parts) != 2:
            raise ModelError(f"{class_file}:{line}: expected 'ID ClassName' (e.g. '1 ApplyEyeMakeup'), got {text.strip()[:60]!r}")
        index = _id(class_file, line, parts[0], "class id")
        if index in names:
            raise ModelError(f"{class_file}:{line}: class id {index} appears twice; restore the file from {what}")
        names[index] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise ModelError(f"{class_file}: class ids must run 1..{len(names)} (UCF-101 numbers its classes from 1); restore the file")
    by_folder = {name.lower(): index for index, name in names.items()}
    folder = class_file.parent
    train_file = _find_file(folder, (f"trainlist{split:02d}.txt",), (), what)
    test_file = _find_file(folder, (f"testlist{split:02d}.txt",), (), what)
    train = []
    for line, text in content_lines(_read(train_file)):
        parts = text.split()
        if len(parts) != 2:
            raise ModelError(f"{train_file}:{line}: expected 'Class/video.avi ID', got {text.strip()[:60]!r}")
        index = _id(train_file, line, parts[1], "class id")
        if index not in names:
            raise ModelError(f"{train_file}:{line}: class id {index} is not in {class_file.name} (1..{len(names)}); "
                             "use the classInd.txt of the same archive")
        if by_folder.get(_ucf_folder(train_file, line, parts[0])) != index:
            raise ModelError(f"{train_file}:{line}: {parts[0]} is listed as class {index} ({names[index]}), not its folder's class; "
                             "restore the line from the published list")
        train.append(Listed(parts[0], normalize_label(names[index]), f"{train_file}:{line}"))
    test = []
    for line, text in content_lines(_read(test_file)):
        path = text.split()[0]
        index = by_folder.get(_ucf_folder(test_file, line, path))
        if index is None:
            raise ModelError(f"{test_file}:{line}: the folder of {path} is not a class of {class_file.name}; "
                             "use the classInd.txt of the same archive")
        test.append(Listed(path, normalize_label(names[index]), f"{test_file}:{line}"))
    return DatasetLists([normalize_label(names[i]) for i in sorted(names)], {"train": train, "val": test},
                        [class_file, train_file, test_file])


def _ucf_folder(path: Path, line: int, listed: str) -> str:
    """The class folder of a UCF-101 list entry, lower-cased (the lists write HandstandPushups/v_HandStandPushups_...)."""
    if "/" not in listed:
        raise ModelError(f"{path}:{line}: expected 'Class/video.avi', got {listed[:60]!r}")
    return listed.split("/", 1)[0].lower()


# ---------------------------------------------------------------------------------------------- HMDB-51


def hmdb51(annotations: Path, split: int) -> DatasetLists:
    """HMDB-51's split `split`: per class, the videos flagged 1 (training) and 2 (test); 0 is unused."""
    folder = annotations / "testTrainMulti_7030_splits"
    folder = folder if folder.is_dir() else annotations
    found: dict[str, dict[int, Path]] = {}
    for path in sorted(folder.glob("*_test_split*.txt"), key=lambda p: p.name):
        match = HMDB_FILE.match(path.name)
        if match:
            found.setdefault(match["cls"], {})[int(match["split"])] = path
    order = {cls: i for i, cls in enumerate(HMDB_CLASSES)}  # HMDB-51's order; a class it lacks after them, by name
    files = {cls: found[cls] for cls in sorted(found, key=lambda c: (order.get(c, len(order)), c))}
    if not files:
        raise ModelError(f"{annotations}: no {{class}}_test_split{split}.txt files here or in testTrainMulti_7030_splits/; "
                         "pass the folder HMDB-51's test_train_splits.rar unpacks to")
    lacking = [cls for cls, by_split in files.items() if split not in by_split]
    if lacking:
        raise ModelError(f"{folder}: no {lacking[0]}_test_split{split}.txt ({len(lacking)} classes lack split {split}); "
                         "restore the files from test_train_splits.rar")
    splits: dict[str, list[Listed]] = {"train": [], "val": []}
    for cls, by_split in files.items():
        path = by_split[split]
        for line, text in content_lines(_read(path)):
            parts = text.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ModelError(f"{path}:{line}: expected 'video.avi 1|2|0' (1 training, 2 test, 0 unused), got {text.strip()[:60]!r}")
            if parts[1] in HMDB_FLAGS:
                splits[HMDB_FLAGS[parts[1]]].append(Listed(f"{cls}/{parts[0]}", normalize_label(cls), f"{path}:{line}"))
    return DatasetLists([normalize_label(cls) for cls in files], splits, [files[cls][split] for cls in files])


# ---------------------------------------------------------------------------------------------- Something-Something V2


def ssv2(annotations: Path) -> DatasetLists:
    """Something-Something V2's training and validation videos; a class is its template without brackets."""
    what = "Something-Something V2's labels archive"
    label_file = _find_file(annotations, ("labels.json", "something-something-v2-labels.json"), ("labels",), what)
    text = _read(label_file)
    table = _json(label_file, text)
    if not isinstance(table, dict) or not table:
        raise ModelError(f"{label_file}: expected a JSON object of template -> id; restore the file from {what}")
    ids = {}
    for template, value in table.items():
        if not str(value).strip().isdigit():
            raise ModelError(f"{label_file}:{_line_of(text, json.dumps(template))}: class id {value!r} of {template!r} is not a "
                             f"whole number; restore the file from {what}")
        ids[template] = int(value)
    if sorted(ids.values()) != list(range(len(ids))):
        raise ModelError(f"{label_file}: class ids must run 0..{len(ids) - 1} once each; restore the file from {what}")
    folder = label_file.parent
    splits, sources = {}, [label_file]
    for split, names in (("train", ("train.json", "something-something-v2-train.json")),
                         ("val", ("validation.json", "something-something-v2-validation.json"))):
        path = _find_file(folder, names, (), what)
        splits[split] = _ssv2_videos(path, ids)
        sources.append(path)
    labels = [normalize_label(template) for template in sorted(ids, key=ids.__getitem__)]
    return DatasetLists(labels, splits, sources)


def _ssv2_videos(path: Path, ids: dict[str, int]) -> list[Listed]:
    text = _read(path)
    entries = _json(path, text)
    if not isinstance(entries, list):
        raise ModelError(f"{path}: expected a JSON list of {{id, label, template, placeholders}}; restore the file")
    videos, lines = [], _entry_lines(text, len(entries))
    for entry, line in zip(entries, lines):
        video = str(entry.get("id", "")) if isinstance(entry, dict) else ""
        if not video.isdigit() or not isinstance(entry.get("template"), str):
            raise ModelError(f"{path}:{line}: expected an entry with 'id' and 'template', got {json.dumps(entry)[:60]}")
        template = entry["template"].replace("[", "").replace("]", "")
        if template not in ids:
            raise ModelError(f"{path}:{line}: template {template!r} is not in labels.json; use the labels.json of the same release")
        videos.append(Listed(f"{video}.webm", normalize_label(template), f"{path}:{line}"))
    return videos


def _json(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); restore the file from the published archive") from None


def _entry_lines(text: str, count: int) -> list[int]:
    """The line of each of the `count` entries of a JSON list of objects: where its "id" key is (SSv2 writes one per
    entry), else where its '{' is."""
    lines, line, last = [], 1, 0
    for match in re.finditer(r'"id"\s*:', text):
        line, last = line + text.count("\n", last, match.start()), match.start()
        lines.append(line)
    if len(lines) == count:
        return lines
    lines, depth = [], 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):  # strings skipped whole, brackets counted
        token = match.group()
        depth += token in ("[", "{")
        if token == "{" and depth == 2:
            lines.append(text.count("\n", 0, match.start()) + 1)
        depth -= token in ("]", "}")
    return lines + [1] * (count - len(lines))


def _line_of(text: str, needle: str) -> int:
    """The line where `needle` first appears in `text` (1 where it does not)."""
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


# ---------------------------------------------------------------------------------------------- the dataset's lists


def _read_dataset(dataset: str, annotations: str | Path, split: int | None) -> DatasetLists:
    annotations = Path(annotations)
    if dataset not in DATASETS:
        raise ModelError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if not annotations.is_dir():
        what = "not found" if not annotations.exists() else "a file, not a folder"
        raise ModelError(f"{annotations}: {what}; pass the folder the dataset's annotation archive unpacks to")
    if dataset in SPLITS:
        split = 1 if split is None else split
        if not 1 <= split <= SPLITS[dataset]:
            raise ModelError(f"--split {split}: {dataset} has official splits 1..{SPLITS[dataset]}")
        return (ucf101 if dataset == "ucf101" else hmdb51)(annotations, split)
    if split is not None:
        raise ModelError(f"--split {split}: {dataset} has one official train/validation split; drop --split")
    return ssv2(annotations) if dataset == "ssv2" else kinetics(annotations)


def read_dataset(dataset: str, annotations: str | Path, split: int | None = None) -> DatasetLists:
    """The official class order and splits of `dataset` (one of DATASETS) from its annotation folder."""
    lists = _read_dataset(dataset, annotations, split)
    seen: dict[str, None] = {}
    for label in lists.labels:
        if label in seen:  # two published names that read the same once normalised would merge two classes
            raise ModelError(f"{annotations}: two classes are both {label!r} once normalised; the lists would merge them")
        seen[label] = None
    return lists


# ---------------------------------------------------------------------------------------------- the videos on disk


def _key(name: str) -> str:
    """A folder name with case and punctuation ignored: Kinetics's label folders come with spaces, underscores or neither."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass
class _Folder:
    files: dict[str, str]  # exact name -> name, then lower-cased name and lower-cased stem -> name
    folders: dict[str, str]  # exact name -> name, then lower-cased name and `_key` -> name


class VideoFinder:
    """Finds listed videos under a root, listing each folder once (no file system call per video)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._folders: dict[str, _Folder | None] = {}

    def _folder(self, rel: str) -> _Folder | None:
        if rel not in self._folders:
            try:
                entries = sorted(os.scandir(self.root / rel), key=lambda e: e.name)
            except OSError:
                self._folders[rel] = None
                return None
            files, folders = {}, {}
            for entry in entries:
                is_dir = entry.is_dir()
                table = folders if is_dir else files
                table[entry.name] = entry.name
            for name in list(files):
                files.setdefault(name.lower(), name)
                files.setdefault(os.path.splitext(name)[0].lower(), name)
            for name in list(folders):
                folders.setdefault(name.lower(), name)
                folders.setdefault(_key(name), name)
            self._folders[rel] = _Folder(files, folders)
        return self._folders[rel]

    def find(self, rel: str) -> str | None:
        """The path under the root that `rel` names (exact, else another case or punctuation; for the file also another
        extension), or None."""
        *dirs, name = rel.split("/")
        here = ""
        for part in dirs:
            folder = self._folder(here)
            found = folder and (folder.folders.get(part) or folder.folders.get(part.lower()) or folder.folders.get(_key(part)))
            if not found:
                return None
            here = f"{here}{found}/"
        folder = self._folder(here)
        if folder is None:
            return None
        found = folder.files.get(name) or folder.files.get(name.lower()) or folder.files.get(os.path.splitext(name)[0].lower())
        return f"{here}{found}" if found else None


def locate(lists: DatasetLists, root: str | Path, candidates: Callable[[Listed], list[str]] | None = None) -> dict[str, list[Listed]]:
    """The missing videos of each split; `lists`' paths become the ones found under `root` (their real case and layout)."""
    finder = VideoFinder(root)
    missing: dict[str, list[Listed]] = {}
    for split, videos in lists.splits.items():
        found, lost = [], []
        for video in videos:
            path = next((p for rel in (candidates(video) if candidates else [video.path]) if (p := finder.find(rel))), None)
            (found if path else lost).append(Listed(path, video.label, video.source) if path else video)
        lists.splits[split], missing[split] = found, lost
    return missing


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def list_csv(videos: Sequence[Listed]) -> str:
    """A video list in the toolkit's format: a `path,label` header, then one row per video."""
    return _csv(("path", "label"), ((v.path, v.label) for v in videos))


def write_lists(out: str | Path, lists: DatasetLists, missing: dict[str, list[Listed]] | None, manifest: dict[str, Any]) -> list[Path]:
    """OUT/train.csv, val.csv (and test.csv), labels.txt, lists.json (the provenance) and, where videos are missing,
    missing.csv (split, path, the annotation line); each written atomically, a stale missing.csv removed. The files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = {f"{split}.csv": list_csv(videos) for split, videos in lists.splits.items()}
    texts["labels.txt"] = "".join(f"{label}\n" for label in lists.labels)
    lost = [(split, video) for split, videos in (missing or {}).items() for video in videos]
    if lost:
        texts["missing.csv"] = _csv(("split", "path", "listed_at"), ((split, video.path, video.source) for split, video in lost))
    texts["lists.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    for name, text in texts.items():
        atomic_write(out / name, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
    if not lost and (out / "missing.csv").is_file():
        (out / "missing.csv").unlink()
    return [out / name for name in texts]


def manifest(dataset: str, split: int | None, lists: DatasetLists, video_root: str | Path | None,
             missing: dict[str, list[Listed]] | None) -> dict[str, Any]:
    """What lists.json records: the dataset and split, the annotation files with their SHA-256, the counts, the tool."""
    return {
        "tool": "alt-toolkit alt-lists", "tool_version": package_version("alt-toolkit"), "dataset": dataset, "split": split,
        "annotations": [{"path": str(p), "sha256": file_sha256(p)} for p in lists.sources],
        "video_root": None if video_root is None else str(video_root), "labels": len(lists.labels),
        "videos": {s: len(v) for s, v in lists.splits.items()},
        "missing": None if missing is None else {s: len(v) for s, v in missing.items()},
    }
