"""`alt-predict` and `alt-export`: use a trained model on your own videos and labels, and share it (thin Typer
layers over `alt_model.predict` and `alt_model.hub`).

alt-predict VIDEO|FOLDER|LIST [--labels FILE ...] [--checkpoint CKPT | --pretrained DIR] [--corpus corpus.pt] [--top-k 5]
            [--views 1x1] [--entities] [--out preds.jsonl|preds.csv] [--batch-size 8] [--workers N] [--device auto]
alt-export CHECKPOINT DIR [--corpus corpus.pt]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

from alt_common.errors import NOTHING_WRITTEN, Failed, Interrupted, exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from alt_common.entry import DEVICE_HELP, VersionOption, examples, pick_device, run, setup_logging
except KeyboardInterrupt:
    exit_interrupted()
from alt_common.labels import printable

from .errors import ModelError

predict_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
export_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
out, err = Console(), Console(stderr=True)
SKIPPED_NAMED = 5  # unreadable videos named in the final line


def _show(p) -> None:
    """One video's prediction on stdout, for a run without --out (no markup; control characters in file names, labels
    and entities escaped: `printable`)."""
    lines = [p.video, *(f"  {prob:.4f}  {label}" for label, prob in p.labels)]
    if p.entities:
        lines.append("  entities: " + ", ".join(f"{name} {share:.2f}" for name, share in p.entities))
    for line in lines:
        out.print(printable(line), highlight=False, markup=False, soft_wrap=True)


def _skipped(skipped: list[str], total: int, where: str) -> str:
    """The line of a run that skipped videos: how many, the first few named, then `where` the lines are (if anywhere)."""
    named = ", ".join(skipped[:SKIPPED_NAMED]) + (f" and {len(skipped) - SKIPPED_NAMED} more" if len(skipped) > SKIPPED_NAMED else "")
    what = "no video could be read" if len(skipped) == total else f"{len(skipped)} of {total} videos could not be read and were skipped"
    return f"{what} ({named}; see the warnings above)" + (f"; {where}" if where else "")


def _kept(partial: Path, out_file: Path) -> str:
    """Where the lines of a run that did not finish are: PATH.partial, PATH left as it was."""
    return f"{partial} ({out_file} was not written)"


@predict_app.command(no_args_is_help=True, epilog=examples(
    "alt-predict clip.mp4 --checkpoint runs/tiny_cpu/best.pt -l my_labels.txt --entities",
    "alt-predict videos/ --pretrained alt-tiny/ -o preds.jsonl"))
def predict(
    source: Annotated[Path, typer.Argument(metavar="VIDEO|FOLDER|LIST", help="A video, a folder of videos (searched recursively), "
                                           "or a list file (.txt/.csv: a path per line, or a 'path' column).")],
    labels: Annotated[Optional[list[Path]], typer.Option("--labels", "-l", help="Label file (.txt, or .csv with 'name'); repeatable. "
                                                         "Any labels work; default with a trained model: its training labels.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="A last.pt or best.pt written by alt-train, or a released X-CLIP "
                                                       "(a Hugging Face folder or an official .pth; pass --labels).")] = None,
    pretrained: Annotated[Optional[Path], typer.Option(help="Instead of --checkpoint: a model folder written by alt-export.")] = None,
    corpus: Annotated[Optional[Path], typer.Option(help="corpus.pt: with no model, CLIP zero-shot with the CLIP model that embedded it; "
                                                   "with one, entities other than its own.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels reported per video.")] = 5,
    views: Annotated[str, typer.Option(help="Temporal clips x spatial crops (crops: 1 or 3).")] = "1x1",
    entities: Annotated[bool, typer.Option("--entities", help="Also report the corpus entities each video's regions aligned to.")] = False,
    out_file: Annotated[Optional[Path], typer.Option("--out", "-o", help="preds.jsonl (a JSON line per video) or preds.csv, written as it "
                                                     "goes (default: print).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Videos per forward pass.")] = 8,
    workers: Annotated[int, typer.Option(min=0, help="DataLoader worker processes.")] = min(4, os.cpu_count() or 1),
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    version: VersionOption = None,
) -> None:
    """The top-k labels of each video, with probabilities, and with --entities the corpus entities its regions aligned
    to: with a trained ALT, or CLIP zero-shot with --corpus alone."""
    from alt_common.io import check_output_file
    from alt_common.labels import read_labels

    from .cli import check_found
    from .guard import check_model_source

    # everything is checked before any work: the model flags, options, inputs, labels, the output file
    model = check_model_source(checkpoint, pretrained, required=False)
    if not source.exists():  # a missing file is said before torch loads (3 s)
        raise ModelError(f"{source}: not found; pass a video file, a folder of videos or a list file (.txt/.csv)")
    check_found(checkpoint)
    from .evaluate import parse_views
    from .hub import FILES
    from .predict import PredictionWriter, check_entities, check_out_suffix, class_embeddings, collect_videos, load_predictor, partial_path
    from .predict import predict as run_predictions

    if model is None and not labels:
        raise ModelError("CLIP zero-shot (no --checkpoint or --pretrained) needs --labels FILE: the labels to choose from")
    clips_crops = parse_views(views)
    run_on = pick_device(device)
    videos = collect_videos(source)
    names = read_labels(labels)[0] if labels else None
    if out_file is not None:
        check_out_suffix(out_file)
        model_files = [checkpoint] if checkpoint else [pretrained / name for name in FILES] if pretrained else []
        inputs = [source, *videos, *(labels or []), *model_files, *([corpus] if corpus else [])]
        check_output_file(out_file, inputs)
        check_output_file(partial_path(out_file), inputs)
    predictor = load_predictor(model, corpus, run_on)
    if entities:
        check_entities(predictor.model)
    names = names or predictor.labels
    if not names:
        raise ModelError(f"{model}: records no training labels; pass --labels FILE")
    top_k = min(top_k, len(names))  # no more than there are: a CSV gets two columns per rank
    classes = class_embeddings(predictor.model, names)
    dataset = predictor.dataset(videos, clips_crops)
    skipped: list[str] = []
    done = 0
    if predictor.random_weights:  # alt-synthetic's test CLIP: say so once, and in every line written
        from alt_common.clip import RANDOM_WEIGHTS_WARNING

        err.print(f"warning: {RANDOM_WEIGHTS_WARNING}", highlight=False, markup=False, soft_wrap=True)
    writer = PredictionWriter(out_file, top_k, entities, predictor.random_weights) if out_file is not None else None
    progress = Progress(TextColumn("Predicting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                        transient=True, disable=len(videos) == 1)
    try:
        with progress:
            task = progress.add_task("predict", total=len(videos))
            for p in run_predictions(predictor, dataset, names, classes, top_k=top_k, entities=entities, batch_size=batch_size,
                                     workers=workers, device=run_on):
                if p.error is not None:
                    skipped.append(p.video)
                if writer is not None:
                    writer.write(p)
                elif p.error is None:
                    _show(p)
                done += 1
                progress.advance(task)
        if writer is not None and len(skipped) < len(videos):  # a finished run with predictions replaces --out
            writer.finish()
    except KeyboardInterrupt:
        if not done:
            raise Interrupted(NOTHING_WRITTEN) from None
        where = f"are in {_kept(writer.partial, out_file)}" if writer is not None else "are above"
        raise Interrupted(f"interrupted after {done} of {len(videos)} videos; their predictions {where}") from None
    finally:
        if writer is not None:
            writer.close()
    if len(skipped) == len(videos):
        raise Failed(_skipped(skipped, len(videos), f"their errors are in {_kept(writer.partial, out_file)}" if writer is not None else ""))
    if skipped:
        where = f"the other {len(videos) - len(skipped)} are in {out_file}" if out_file is not None else "the others are above"
        raise Failed(_skipped(skipped, len(videos), where))
    if out_file is not None:
        out.print(f"{len(videos)} video{'s' * (len(videos) != 1)}: predictions in {printable(out_file)}", highlight=False, markup=False,
                  soft_wrap=True)


@export_app.command(no_args_is_help=True, epilog=examples(
    "alt-export runs/tiny_cpu/best.pt alt-tiny/",
    "alt-export runs/k400/best.pt k400-model/ --corpus k400_corpus.pt"))
def export(
    checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT", help="A last.pt or best.pt written by alt-train (ALT or X-CLIP).")],
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="The model folder to write (a new folder, or one alt-export wrote).")],
    corpus: Annotated[Optional[Path], typer.Option(help="corpus.pt the model was trained with (default: the one the checkpoint names).")] = None,
    version: VersionOption = None,
) -> None:
    """Turn an alt-train checkpoint into a self-contained model folder to share: config.json, model.safetensors,
    corpus.safetensors and clip.safetensors (CLIP's frozen text tower, so any labels work), loaded with no pickle, no
    download and no other file by alt-predict/alt-eval --pretrained DIR, or alt_model.hub.from_pretrained, wherever the
    folder is moved; run it where the checkpoint's corpus.pt and CLIP weights are. An X-CLIP run is written in Hugging
    Face's X-CLIP layout, which transformers' XCLIPModel.from_pretrained loads too."""
    from .cli import check_found

    check_found(checkpoint)  # before torch loads (3 s)
    from .hub import check_export_folder, export_checkpoint

    check_export_folder(folder, [checkpoint, corpus])
    export_checkpoint(checkpoint, folder, corpus)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    size = sum(p.stat().st_size for p in files) / (1 << 20)
    out.print(f"{folder}/: {', '.join(p.name for p in files)} ({size:.1f} MiB)", highlight=False, markup=False, soft_wrap=True)


def predict_main() -> None:
    """Entry point of alt-predict: user errors become one line on stderr and exit code 2, never a traceback."""
    setup_logging(err, "alt_model", "alt_common")
    run(predict_app, err, out)


def export_main() -> None:
    """Entry point of alt-export: user errors become one line on stderr and exit code 2, never a traceback."""
    setup_logging(err, "alt_model", "alt_common")
    run(export_app, err, out)
