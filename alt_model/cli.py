"""`alt-train` and `alt-eval`: thin Typer layers over `alt_model.train`, `alt_model.evaluate` and
`alt_model.few_shot`.

alt-train --corpus corpus.pt --config (CONFIG.yaml | NAME) [--out RUN] [section.key=value ...] [--device D]
alt-train --resume --out RUN [section.key=value ...]     (the corpus and the config: the run's own)
alt-train --list-configs                                 (the packaged configs NAME can name)
alt-eval (--checkpoint runs/x/best.pt | --pretrained DIR) [--val-list LIST ...] [--labels FILE ...] [--views 4x3] [--shots K ...]
         [--device D]

Under `torchrun --nproc-per-node N` every process runs the same command; only rank 0 logs and writes.
"""

from __future__ import annotations

import logging
import os
import shlex
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

from alt_common.errors import NOTHING_WRITTEN, Failed, Interrupted, exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console
    from rich.table import Table

    from alt_common.entry import DEVICE_HELP, VersionOption, examples, run, setup_logging
except KeyboardInterrupt:
    exit_interrupted()

from .errors import ModelError

train_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
eval_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
out, err = Console(), Console(stderr=True)
MAIN = os.environ.get("RANK", "0") == "0"


def _interrupted(run: Path) -> str:
    """What Ctrl-C during alt-train leaves: the run's last checkpoint, to resume from, or what there is."""
    last = run / "last.pt"
    if last.is_file():
        return f"interrupted; the run's last checkpoint is {last}; continue with alt-train --resume --out {shlex.quote(str(run))}"
    written = [name for name in ("config.yaml", "log.jsonl") if (run / name).is_file()]
    if written:
        return f"interrupted before the first checkpoint; {run}/ holds only {' and '.join(written)}"
    return NOTHING_WRITTEN


@train_app.command(no_args_is_help=True, epilog=examples(
    "alt-train --corpus synthetic/corpus.pt --config tiny_cpu",
    "alt-train --corpus corpus.pt --config configs/k400_vitb16_8f.yaml -o runs/k400 train.lr_vit=1e-5"))
def train(
    corpus: Annotated[Optional[Path], typer.Option(help="corpus.pt from 'corpus embed': the entities S (and the CLIP model). With --resume: default, the run's own.")] = None,
    config: Annotated[Optional[str], typer.Option(metavar="<file|name>", help="A YAML file, or a packaged config's name (e.g. tiny_cpu, k400_vitb16_8f; see --list-configs).")] = None,
    overrides: Annotated[Optional[list[str]], typer.Argument(metavar="SECTION.KEY=VALUE", help="section.key=value, e.g. train.lr_vit=1e-5 data.workers=16")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="The run folder (default: the config's `out`); with --resume, the run to continue.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out (or the config's out folder) from its last.pt, with its config and corpus.")] = False,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    list_configs: Annotated[bool, typer.Option("--list-configs", help="List the packaged configs --config can name, each with its purpose, and exit.")] = False,
    version: VersionOption = None,
) -> None:
    """Train ALT on a video list (paper Sec. 3.3, supplementary A); writes config.yaml, log.jsonl, last.pt and
    best.pt to the run folder."""
    from .config import load_config, packaged_configs, parse_overrides, resolve_config
    from .guard import check_out_folder, run_lock

    if list_configs:
        _list_configs(packaged_configs())
        return
    # everything is checked before anything is written: options, config values, device, the run folder
    pairs = parse_overrides(overrides or []) | ({"out": str(out_dir)} if out_dir is not None else {})
    if config is None and not resume:
        raise ModelError("pass --config CONFIG.yaml (see configs/), or --resume --out RUN_FOLDER; "
                         "alt-train --list-configs names the packaged configs")
    if corpus is None and not resume:
        raise ModelError("pass --corpus CORPUS.pt (written by 'corpus embed'); only --resume reads it from the run")
    config_file = resolve_config(config) if config is not None else None
    cfg = load_config(config_file, pairs)
    _check_device(device)
    checkpoint = None
    if resume:
        from .checkpoint import load_checkpoint

        checkpoint = Path(cfg.out) / "last.pt"
        if not checkpoint.exists():
            raise ModelError(f"{checkpoint}: no run to resume there (no last.pt); pass --out RUN, the folder of the run to continue")
        state = load_checkpoint(checkpoint)
        cfg = load_config(None, pairs, base=state["config"])  # the run's own config, then the overrides
        if corpus is None:
            corpus = _run_corpus(state, checkpoint)
    check_out_folder(cfg.out, "--out", inputs=[corpus, config_file, cfg.data.labels, cfg.data.train_list, cfg.data.val_list, cfg.train.init],
                     writes=["config.yaml", "log.jsonl", "last.pt", "best.pt"])
    _check_inputs(Path(corpus), cfg.data.labels)
    from .train import train as run_training

    with run_lock(cfg.out) if MAIN else nullcontext():  # rank 0 writes the run: one alt-train per folder
        try:
            result = run_training(cfg, corpus, checkpoint, device)
        except KeyboardInterrupt:
            raise Interrupted(_interrupted(Path(cfg.out))) from None
    if MAIN:
        summary = f"{result.epochs_done} epochs, {result.steps} steps, train loss {result.train_loss:.4f}"
        if result.metrics is not None:
            summary += f", val top-1 {result.metrics.top1:.3f} top-5 {result.metrics.top5:.3f}"
        out.print(f"{'stopped' if result.stopped else 'done'}: {summary}; {result.out}/", highlight=False)


def _list_configs(configs: list[tuple[str, str]]) -> None:
    """`alt-train --list-configs`: a line per packaged config, its name and its purpose (the file's first comment line)."""
    width = max((len(name) for name, _ in configs), default=0)
    for name, purpose in configs:
        out.print(f"{name:<{width}}  {purpose}".rstrip(), soft_wrap=True, highlight=False, markup=False)
    err.print("pass one as --config NAME (or --config FILE.yaml, a file of your own); the paths inside a config, such as "
              "data.labels, are relative to the folder you run in", soft_wrap=True, highlight=False, markup=False)


def _run_corpus(state: dict, checkpoint: Path) -> Path:
    """The corpus.pt the run trained with, as its checkpoint records it (resolved), for --resume without --corpus."""
    recorded = state.get("corpus")
    if not isinstance(recorded, str) or not recorded:
        raise ModelError(f"{checkpoint}: records no corpus; pass --corpus CORPUS.pt (the one the run trained with)")
    corpus = Path(recorded)
    if not corpus.is_file():
        raise ModelError(f"{corpus}: the corpus the run trained with ({checkpoint} records it) is no longer there; "
                         "pass --corpus CORPUS.pt (the same corpus, moved)")
    return corpus


def _check_inputs(corpus: Path, labels: str | None) -> None:
    """The corpus and the label file, checked before torch loads (3 s): their errors are alt-train's own, at once."""
    from alt_common.io import check_regular
    from alt_common.labels import read_labels

    check_regular(corpus, "corpus.pt", f"make it with 'corpus embed CORPUS.parquet --out {corpus}'")  # a FIFO is never opened
    if not corpus.is_file():
        raise ModelError(f"{corpus}: corpus.pt not found; make it with 'corpus embed CORPUS.parquet --out {corpus}'")
    if labels:
        read_labels([labels])


def check_found(checkpoint: Path | None) -> None:
    """A --checkpoint that is not there, or a FIFO or a device, said before torch loads (3 s)."""
    from alt_common.io import check_regular

    if checkpoint is not None:
        check_regular(checkpoint, "a checkpoint", "pass a last.pt or best.pt written by alt-train")
    if checkpoint is not None and not checkpoint.exists():
        raise ModelError(f"{checkpoint}: checkpoint not found; pass a last.pt or best.pt written by alt-train")


def _check_device(device: str) -> None:
    """--device is checked before any file is loaded, so a bad one is blamed, not the checkpoint."""
    if device != "auto":
        from alt_common.device import resolve_device

        resolve_device(device)


def _table(sections: list[tuple[str, list[str], list, dict | None]]) -> Table:
    """One table of sections (prefix, split names, metrics, mean ± std or None): a row per split named
    "PREFIX NAME" (K-shot: "2-shot val"), then the section's mean ± std row where there is one."""
    table = Table(title="alt-eval")
    for column in ("split", "videos", "skipped", "top-1", "top-5", "mean class"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for prefix, names, results, summary in sections:
        for name, m in zip(names, results):
            table.add_row(f"{prefix} {name}".strip(), str(m.count), str(m.failed), f"{100 * m.top1:.1f}", f"{100 * m.top5:.1f}",
                          f"{100 * m.mean_class:.1f}")
        if summary is not None:
            table.add_row(f"{prefix} mean ± std".strip(), "", "", f"{100 * summary['top1']:.1f} ± {100 * summary['top1_std']:.1f}",
                          f"{100 * summary['top5']:.1f} ± {100 * summary['top5_std']:.1f}", "", end_section=True)
    return table


@eval_app.command(no_args_is_help=True, epilog=examples(
    "alt-eval --checkpoint runs/tiny_cpu/best.pt --views 2x3",
    "alt-eval --checkpoint runs/tiny_cpu/best.pt --val-list synthetic/val.csv -l synthetic/labels.txt"))
def evaluate(
    checkpoint: Annotated[Optional[Path], typer.Option(help="A last.pt or best.pt written by alt-train, or a released X-CLIP: a folder in Hugging Face's layout or an official .pth.")] = None,
    pretrained: Annotated[Optional[Path], typer.Option(help="Instead of --checkpoint: a model folder written by alt-export (or a released X-CLIP's).")] = None,
    val_list: Annotated[Optional[list[Path]], typer.Option(help="Video list to evaluate; repeat for splits (default: the run's).")] = None,
    labels: Annotated[Optional[list[Path]], typer.Option("--labels", "-l", help="Label set; repeat for splits (default: the training labels).")] = None,
    video_root: Annotated[Optional[Path], typer.Option(help="Folder the list's paths are relative to (default: the run's).")] = None,
    store: Annotated[Optional[Path], typer.Option(help="Read each list's frames from a clip store, DIR/<the list's name without extension> (alt-data pack), not its videos.")] = None,
    corpus: Annotated[Optional[Path], typer.Option(help="corpus.pt (default: the one the run trained with).")] = None,
    views: Annotated[str, typer.Option(help="Temporal clips x spatial crops (crops: 1 or 3).")] = "1x1",
    batch_size: Annotated[int, typer.Option(min=1, help="Videos per forward pass.")] = 8,
    workers: Annotated[int, typer.Option(min=0, help="DataLoader worker processes.")] = min(4, os.cpu_count() or 1),
    shots: Annotated[Optional[list[int]], typer.Option(min=1, help="K-shot: fine-tune on K videos per class first (needs --train-list); repeat for several K (2, 4, 8, 16), each from the checkpoint with the same seed; results go to OUT/{K}shot/.")] = None,
    train_list: Annotated[Optional[list[Path]], typer.Option(help="K-shot training list; repeat for splits.")] = None,
    config: Annotated[Optional[str], typer.Option(metavar="<file|name>", help="K-shot recipe: a YAML file, or a packaged config's name (few_shot, ssv2_few_shot; alt-train --list-configs).")] = None,
    overrides: Annotated[Optional[list[str]], typer.Argument(metavar="SECTION.KEY=VALUE", help="K-shot config overrides, section.key=value.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where metrics.json and confusion.csv go (default: beside the model).")] = None,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    version: VersionOption = None,
) -> None:
    """Evaluate an alt-train checkpoint or an alt-export folder: top-1/top-5, per-class accuracy and the confusion
    matrix; zero-shot splits with mean ± std; K-shot fine-tuning first with --shots.

    Layout of --out: metrics.json, confusion.csv [in SPLIT/ per split, + summary.json]; --shots: in {K}shot/ per K, + run/ per split."""
    from .guard import check_model_source, check_out_folder, check_outside

    source = check_model_source(checkpoint, pretrained)
    check_found(checkpoint)
    from .config import load_config, parse_overrides, resolve_config
    from .evaluate import evaluate_checkpoint, make_splits, parse_views, summarise
    from .few_shot import few_shot, split_folders
    from .hub import FILES, trained_config

    shots = shots or []
    repeated = sorted({k for k in shots if shots.count(k) > 1})
    if repeated:
        raise ModelError(f"--shots {', '.join(map(str, repeated))} given more than once; pass each K once")
    if shots and store is not None:
        raise ModelError("--store reads the evaluated lists; a K-shot run reads its training list from a store by the override "
                         "data.store=DIR")
    if shots and checkpoint is None:
        raise ModelError("--shots fine-tunes from an alt-train checkpoint (train.init reads one); pass --checkpoint")
    clips_crops = parse_views(views)
    config = resolve_config(config) if config is not None else None  # a file, or a packaged config's name (few_shot)
    _check_device(device)
    saved_config, trained_labels = trained_config(source)
    if shots and not trained_labels:  # every alt-train checkpoint records its labels, a released X-CLIP none
        raise ModelError(f"--checkpoint {source}: a released model; --shots fine-tunes an alt-train checkpoint (train.init reads one)")
    beside = source.parent / "eval" if source.is_file() else Path(f"{source.resolve()}_eval")  # a model folder stays as it is
    folder = out_dir or beside
    if source.is_dir():
        check_outside(folder, source, "--out")
    model_files = [source] if source.is_file() else [source / name for name in FILES]
    inputs = [*model_files, corpus, config, *(val_list or []), *(labels or []), *(train_list or [])]
    check_out_folder(folder, "--out", inputs=inputs, writes=["metrics.json", "confusion.csv", "summary.json"])
    saved = load_config(base=saved_config)  # the run's config, checked
    lists = val_list or ([saved.data.val_list] if saved.data.val_list else [])
    splits = make_splits(lists, labels or [], trained_labels)
    names = [s.name for s in splits]
    if shots:
        if not train_list or config is None:
            raise ModelError("--shots needs --train-list (the split's training videos) and --config (e.g. few_shot, a packaged config)")
        pairs = parse_overrides(overrides or [])
    elif overrides:
        raise ModelError(f"unexpected arguments {overrides}; config overrides go with --shots")
    # (prefix, the folder of the metrics of each split, the folder of summary.json): one section per K with --shots
    sections = [(f"{k}-shot", split_folders(folder / f"{k}shot", splits), folder / f"{k}shot") for k in shots] or \
               [("", split_folders(folder, splits), folder)]
    for _, split_dirs, top in sections:  # nothing written may overwrite an input, nor a K-shot run already there
        check_out_folder(top, "--out", inputs=inputs, writes=["summary.json"])
        for split_dir in split_dirs:
            check_out_folder(split_dir, "--out", inputs=inputs, writes=["metrics.json", "confusion.csv", "labels.txt"])
            if shots and (split_dir / "run" / "last.pt").exists():
                raise ModelError(f"{split_dir / 'run'} already holds a K-shot run; choose another --out")
    rows = []
    for (prefix, split_dirs, top), k in zip(sections, shots or [None]):
        if k is not None:
            try:
                results = few_shot(checkpoint, config, pairs, train_list, splits, k, top,
                                   corpus=corpus, video_root=video_root, views=clips_crops, device=device)
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted during {k}-shot; the K-shot runs so far are under {folder}/") from None
        else:
            results = evaluate_checkpoint(source, splits, corpus=corpus, video_root=video_root, views=clips_crops,
                                          batch_size=batch_size, workers=workers, device=device, store=store)
        empty = [name for name, metrics in zip(names, results) if metrics is None or metrics.count == 0]
        if empty:  # a top-1 of 0.0 over no videos is not a result
            skipped = sum(m.failed for m in results if m is not None)
            what = f"{prefix} " if prefix else ""
            raise Failed(f"no video of {what}{', '.join(empty)} could be read ({skipped} skipped; see the warnings above); "
                         f"no {what}metrics were written")
        summary = summarise(results) if len(results) > 1 else None
        if MAIN:  # each K's metrics as soon as its runs end
            for split_dir, metrics in zip(split_dirs, results):
                metrics.write(split_dir)
            if summary is not None:
                import json

                from alt_common.io import atomic_write

                text = json.dumps(summary, indent=2) + "\n"
                atomic_write(top / "summary.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        rows.append((prefix, names, results, summary))
    if not MAIN:
        return
    out.print(_table(rows))
    where = ", ".join(f"{top}/" for _, _, top in sections)
    out.print(f"{where}: metrics.json, confusion.csv" + (", summary.json" if len(splits) > 1 else ""), highlight=False)


def _setup_logging() -> None:
    setup_logging(err, "alt_model", "alt_common", level=logging.INFO if MAIN else logging.WARNING)  # only rank 0 reports progress


def train_main() -> None:
    """Entry point of alt-train: user errors become one line on stderr and exit code 2, never a traceback."""
    _setup_logging()
    run(train_app, err, out)


def eval_main() -> None:
    """Entry point of alt-eval: user errors become one line on stderr and exit code 2, never a traceback."""
    _setup_logging()
    run(eval_app, err, out)
