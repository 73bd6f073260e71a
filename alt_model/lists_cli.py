"""`alt-lists`: a dataset's annotation files, as its publisher ships them, into the toolkit's video lists and class
order (a thin Typer layer over `alt_model.datasets`).

alt-lists DATASET ANNOTATIONS --out DIR [--split N] [--video-root ROOT] [--require-videos]
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

from alt_common.errors import exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console
    from rich.table import Table

    from alt_common.entry import VersionOption, examples, run, setup_logging
except KeyboardInterrupt:
    exit_interrupted()

from .errors import ModelError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
out, err = Console(), Console(stderr=True)
NAMED = 3  # missing videos named in the summary line


class Dataset(str, Enum):
    kinetics400 = "kinetics400"
    kinetics600 = "kinetics600"
    ucf101 = "ucf101"
    hmdb51 = "hmdb51"
    ssv2 = "ssv2"


@app.command(no_args_is_help=True, epilog=examples(
    "alt-lists kinetics400 /data/k400/annotations -o lists/k400 --video-root /data/k400",
    "alt-lists ucf101 /data/ucf101/ucfTrainTestlist --split 2 -o lists/ucf101/split2"))
def lists(
    dataset: Annotated[Dataset, typer.Argument(metavar="DATASET", help="Which dataset the annotations are of.")],
    annotations: Annotated[Path, typer.Argument(metavar="ANNOTATIONS", help="The folder its annotation archive unpacks to (Kinetics: train.csv, "
                                                "validate.csv; UCF-101: ucfTrainTestlist/; HMDB-51: testTrainMulti_7030_splits/; "
                                                "SSv2: labels.json, train.json, validation.json).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where train.csv, val.csv, labels.txt and lists.json go.")],
    split: Annotated[Optional[int], typer.Option(help="UCF-101 and HMDB-51: the official split, 1-3 (default 1).")] = None,
    video_root: Annotated[Optional[Path], typer.Option(help="The videos' folder: list the videos found there (their real "
                                                       "case and layout) and leave out, in missing.csv, those that are not.")] = None,
    require_videos: Annotated[bool, typer.Option(help="With --video-root: a missing video is an error, not a warning.")] = False,
    version: VersionOption = None,
) -> None:
    """Write DIR/train.csv and DIR/val.csv (path,label; paths relative to the video root), DIR/labels.txt (the official
    class order) and DIR/lists.json (the annotation files' SHA-256, the counts) from a dataset's published annotations."""
    from .datasets import kinetics_candidates, locate, manifest, read_dataset, write_lists
    from .guard import check_out_folder

    names = ["train.csv", "val.csv", "test.csv", "labels.txt", "lists.json", "missing.csv"]
    check_out_folder(out_dir, "--out", writes=names)
    if require_videos and video_root is None:
        raise ModelError("--require-videos checks the videos under --video-root; pass --video-root")
    if video_root is not None and not video_root.is_dir():
        raise ModelError(f"--video-root {video_root}: {'not found' if not video_root.exists() else 'a file, not a folder'}; "
                         "pass the folder that holds the videos")
    found = read_dataset(dataset.value, annotations, split)
    check_out_folder(out_dir, "--out", inputs=found.sources, writes=names)
    missing = None
    if video_root is not None:
        missing = locate(found, video_root, kinetics_candidates if dataset.value.startswith("kinetics") else None)
        _check_missing(missing, found.splits, video_root, out_dir, require_videos)
    split_used = (split or 1) if dataset.value in ("ucf101", "hmdb51") else None
    written = write_lists(out_dir, found, missing, manifest(dataset.value, split_used, found, video_root, missing))
    table = Table(title=f"alt-lists {dataset.value}" + (f" split {split_used}" if split_used else ""))
    for column in ("list", "videos", "classes", "classes without videos"):
        table.add_column(column, justify="left" if column == "list" else "right")
    for name, videos in found.splits.items():
        present = len({v.label for v in videos})
        table.add_row(str(out_dir / f"{name}.csv"), str(len(videos)), str(present), str(len(found.labels) - present))
    out.print(table)
    out.print(f"{out_dir}/: {', '.join(p.name for p in written)}; {len(found.labels)} classes in labels.txt", highlight=False)


def _check_missing(missing: dict, splits: dict, root: Path, out_dir: Path, required: bool) -> None:
    """A split none of whose videos is under the root, or with --require-videos any missing video: an error; else one
    warning line that counts and names the missing videos."""
    for split, lost in missing.items():
        if lost and not splits[split]:
            raise ModelError(f"none of the {len(lost)} {split} videos is under {root} (the first would be {root / lost[0].path}); "
                             "pass the folder that holds them to --video-root")
    lost = [video for videos in missing.values() for video in videos]
    if not lost:
        return
    total = len(lost) + sum(len(v) for v in splits.values())
    named = ", ".join(v.path for v in lost[:NAMED]) + (f" and {len(lost) - NAMED} more" if len(lost) > NAMED else "")
    counts = ", ".join(f"{split} {len(videos)}" for split, videos in missing.items() if videos)
    message = f"{len(lost)} of {total} listed videos are not under {root} ({counts}: {named})"
    if required:
        raise ModelError(f"{message}; nothing written (drop --require-videos to list the videos that are there)")
    err.print(f"warning: {message}; left out of the lists, each named in {out_dir / 'missing.csv'}", highlight=False,
              markup=False, soft_wrap=True)


def main() -> None:
    """Entry point of alt-lists: user errors become one line on stderr and exit code 2, never a traceback."""
    setup_logging(err, "alt_model", "alt_common")
    run(app, err, out)
