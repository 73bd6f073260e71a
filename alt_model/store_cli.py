"""`alt-data`: the decode-once clip store (a thin Typer layer over `alt_model.store`, whose docstring gives the format).

alt-data pack VIDEO_LIST --labels LABELS --video-root ROOT --out DIR [--segments 8] [--per-segment 4] [--short-side 256]
              [--quality 90] [--per-shard 256] [--workers N] [--backend auto] [--force]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

from alt_common.errors import exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console

    from alt_common.entry import VersionOption, examples, run, setup_logging
except KeyboardInterrupt:
    exit_interrupted()

from .choices import BACKEND_CHOICES

app = typer.Typer(name="alt-data", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  epilog=examples("alt-data pack k400/train.csv -l k400/labels.txt --video-root /k400 -o store/train"))
out, err = Console(), Console(stderr=True)


@app.callback()
def data(version: VersionOption = None) -> None:
    """Training data, decoded once: clip stores that alt-train and alt-eval read in place of the videos."""


@app.command(no_args_is_help=True, epilog=examples(
    "alt-data pack k400/train.csv -l k400/labels.txt --video-root /k400 -o store/train",
    "alt-data pack k400/val.csv -l k400/labels.txt --video-root /k400 -o store/val --per-segment 1"))
def pack(
    video_list: Annotated[Path, typer.Argument(metavar="VIDEO_LIST", help="The video list (path,label CSV, or X-CLIP's 'path label_id' "
                                               "lines), paths relative to --video-root.")],
    labels: Annotated[Path, typer.Option("--labels", "-l", help="The label file the list's labels are in (its order gives the label ids).")],
    video_root: Annotated[Path, typer.Option(help="The folder the list's paths are relative to.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="The store folder: shard-*.tar and their .json indexes, failed.csv, "
                                          "store.json. Running the same command again resumes an unfinished store. alt-train's data.store=DIR "
                                          "reads a list from DIR/<the list's file name without extension>.")],
    segments: Annotated[int, typer.Option(min=1, help="Segments each video is cut into (TSN's T).")] = 8,
    per_segment: Annotated[int, typer.Option(min=1, help="Frames kept per segment, evenly spaced (1: the segment centres).")] = 4,
    short_side: Annotated[int, typer.Option(min=1, help="The frames' shorter side, in pixels, once stored.")] = 256,
    quality: Annotated[int, typer.Option(min=1, max=100, help="JPEG quality, 1-100.")] = 90,
    per_shard: Annotated[int, typer.Option(min=1, help="Videos per shard (one shard is one worker's task).")] = 256,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes decoding videos (default: this machine's CPU cores).")] = None,
    backend: Annotated[str, typer.Option(help=f"The video decoder: {', '.join(BACKEND_CHOICES)}.")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Replace a store already in --out that was packed with other settings "
                                        "(only the store's own files are deleted).")] = False,
    version: VersionOption = None,
) -> None:
    """Decode each listed video once, keeping segments × per-segment frames, into WebDataset tar shards of JPEG frames
    (DIR/shard-NNNNNN.tar, each with a .json index of its members' byte ranges); videos that cannot be read are left
    out and named in DIR/failed.csv."""
    from alt_common.errors import Failed
    from alt_common.labels import read_labels

    from .guard import check_out_folder
    from .store import OWN_FILES

    check_out_folder(out_dir, "--out", inputs=(video_list, labels), writes=OWN_FILES)
    names = read_labels([labels])[0]  # before torch loads (with data.py): a bad label file answers at once

    from .data import read_video_list
    from .decode import resolve_backend
    from .store import PackSettings, Row, manifest, pack as pack_rows, prepare_folder, settings_record, write_failed, write_store

    items = read_video_list(video_list, video_root, names)
    resolved = resolve_backend(backend)
    settings = PackSettings(segments, per_segment, short_side, quality, per_shard)
    rows = [Row(i, _listed(item.path, video_root), names[item.label], item.label, str(item.path)) for i, item in enumerate(items)]
    record = settings_record(video_list, len(rows), names, settings)
    prepare_folder(out_dir, record, force)
    packed = pack_rows(out_dir, rows, settings, resolved, workers or _cores(), bar=err.is_terminal)
    failed_csv = write_failed(out_dir, packed.failed)
    if not packed.videos:
        first = packed.failed[0]
        raise Failed(f"none of the {len(rows)} videos could be read (each is in {failed_csv}; the first, {first['path']}: "
                     f"{first['error']})")
    write_store(out_dir, manifest(record, video_list, names, video_root, resolved, packed))
    line = f"packed {packed.videos} of {len(rows)} videos into {len(packed.shards)} shards in {out_dir}"
    if packed.failed:
        line += f"; {len(packed.failed)} could not be read ({failed_csv})"
    err.print(line, highlight=False, markup=False, soft_wrap=True)


def _listed(path: Path, root: Path) -> str:
    """A video's path as the list gives it (relative to the root, POSIX), from the file `read_video_list` joined."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # listed with an absolute path
        return path.as_posix()


def _cores() -> int:
    """The CPU cores this process may run on (a container's or taskset's share, where the platform tells)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main() -> None:
    """Entry point of alt-data: user errors become one line on stderr and exit code 2, never a traceback."""
    setup_logging(err, "alt_model", "alt_common")
    run(app, err, out)
