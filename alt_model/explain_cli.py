"""`alt-explain VIDEO --corpus corpus.pt`: which entities the regions of each frame align to (a thin
Typer layer over `alt_model.explain`).

With `--checkpoint` the trained ALT model explains the video and gives its top-5 actions (over
its training labels, or `--labels`). Without one, the frozen CLIP model that embedded the corpus
(or `--model` / `--pretrained`) shows the zero-shot alignment, and `--labels FILE` adds CLIP's
zero-shot top-5 actions (the mean of the frames' image embeddings against the prompt-ensembled
labels). Frames are read and transformed as `alt-eval` reads them (`alt_model.data`); the pictures are drawn over the
decoded frames, with the square the model saw marked (`explain.crop_box`). A CLIP model with random
weights (alt-synthetic's test model) is said in one line on stderr, in explanation.json and on the pictures.

torch and open_clip load inside the command, after the one-line checks: `--help`, `--version` and a missing file answer
at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

from alt_common.errors import Failed, exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console
    from rich.table import Table

    from alt_common.entry import DEVICE_HELP, VersionOption, examples, pick_device, run, setup_logging
except KeyboardInterrupt:
    exit_interrupted()

from .choices import DEFAULT_R
from .errors import ModelError

if TYPE_CHECKING:
    import torch

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
out, err = Console(), Console(stderr=True)


@app.command(no_args_is_help=True, epilog=examples(
    "alt-explain clip.mp4 --corpus corpus.pt -l labels.txt -o explain_clip",
    "alt-explain clip.mp4 --checkpoint runs/tiny_cpu/best.pt --frames 4"))
def explain(
    video: Annotated[Path, typer.Argument(metavar="VIDEO", help="The video file to explain.")],
    corpus: Annotated[Optional[Path], typer.Option(help="corpus.pt from 'corpus embed' (default with --checkpoint: its training corpus).")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(help="An alt-train checkpoint: its model, and its top-5 actions.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Without --checkpoint: open_clip model (default: the one that embedded the corpus).")] = None,
    pretrained: Annotated[Optional[str], typer.Option(help="Without --checkpoint: weights tag or local file (default: the corpus's).")] = None,
    labels: Annotated[Optional[list[Path]], typer.Option("--labels", "-l", help="Label file for the top-5 actions; repeatable (default with --checkpoint: its labels).")] = None,
    frames: Annotated[int, typer.Option(min=1, max=64, help="Frames sampled at segment centres.")] = 8,
    r: Annotated[Optional[int], typer.Option(min=0, help=f"Tokens merged per block (ToMe); default {DEFAULT_R}, or the checkpoint's.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default: explain_<video name>).")] = None,
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    version: VersionOption = None,
) -> None:
    """Which corpus entities the regions of each frame of a video align to: per-frame region maps with their
    entities, a contact sheet and explanation.json."""
    from alt_common.labels import read_labels

    from .guard import check_out_folder, missing_folders, remove_made

    if not video.is_file():
        raise ModelError(f"{video}: video not found; pass an existing video file")
    if checkpoint is None and corpus is None:
        raise ModelError("pass --corpus corpus.pt (the entities to align to), or --checkpoint from alt-train")
    if corpus is not None and not corpus.exists():  # before torch loads: a missing file is said at once
        raise ModelError(f"{corpus}: corpus.pt not found; make it with 'corpus embed CORPUS.parquet --out {corpus}'")
    if checkpoint is not None and not checkpoint.exists():
        raise ModelError(f"{checkpoint}: checkpoint not found; pass a last.pt or best.pt written by alt-train")
    run_on = pick_device(device)  # loads torch
    import torch
    import torch.nn.functional as F

    from alt_common.clip import RANDOM_WEIGHTS_WARNING, runs_random_weights

    from .data import eval_transform, read_clips, tower_norm, tower_size, tsn_indices
    from .explain import align_frames, crop_box, display_frames, write_explanation

    folder = out_dir or Path(f"explain_{video.stem}")
    writes = ["explanation.json", "contact_sheet.png", *(f"frame_{t:02d}{kind}.png" for t in range(frames) for kind in ("", "_regions"))]
    check_out_folder(folder, "--out", inputs=[video, corpus, checkpoint, *(labels or [])], writes=writes)
    names = read_labels(labels)[0] if labels else None
    if checkpoint is not None:
        net, state = _trained(checkpoint, corpus, r, run_on)
        names = names or list(state.get("labels", []))
        encoder, S, units = net.encoder, net.entities, net.entity_units
    else:
        net, encoder, S, units, clip, tokenizer = _frozen(corpus, model, pretrained, DEFAULT_R if r is None else r, run_on)
    visual = encoder.visual
    mean, std = tower_norm(visual)
    chosen: list[list[int]] = []  # the frame indices read (read_clips may choose again from fewer frames than stated)

    def choose(count: int):
        indices = tsn_indices(count, frames)
        chosen[:] = [indices[0].tolist()]
        return indices

    originals = read_clips(video, choose)[0]  # the decoded frames: the pictures are drawn over them
    size = tower_size(visual)
    pixels = eval_transform(originals, size, 1, mean, std)[0]
    aligned = align_frames(encoder, S, pixels.to(run_on))
    predictions = None
    if names:
        with torch.no_grad():
            if net is not None:
                probs = net(pixels[None].to(run_on), names).logits[0].softmax(dim=-1).cpu()
            else:  # CLIP zero-shot: the frames' mean image embedding against the prompt-ensembled labels
                from .text_head import TextHead

                z = F.normalize(F.normalize(encoder(pixels.to(run_on)).cls, dim=-1).mean(dim=0), dim=-1)
                probs = (100 * TextHead(clip, tokenizer).class_embeddings(names).to(run_on) @ z).softmax(dim=-1).cpu()
        top = probs.topk(min(5, len(names)))
        predictions = [(names[i], round(float(p), 4)) for p, i in zip(top.values, top.indices)]
    random_weights = runs_random_weights(encoder)
    made = missing_folders(folder)  # removed again if the writes fail (a full disk)
    try:
        data = write_explanation(display_frames(pixels, mean, std), aligned, units, folder, str(video), predictions, random_weights,
                                 originals=originals, crop=crop_box(*originals.shape[1:3], size), video_frames=chosen[0])
    except Failed:
        remove_made(made)
        raise
    if random_weights:
        err.print(f"warning: {RANDOM_WEIGHTS_WARNING}", highlight=False, markup=False, soft_wrap=True)
    table = Table(title=f"{video.name}: entities the regions align to ({frames} frames, r={encoder.r})")
    table.add_column("entity")
    table.add_column("patches", justify="right")
    for row in data["top_entities"]:
        table.add_row(row["entity"], str(row["patches"]))
    out.print(table)
    for row in data["predictions"]:
        out.print(f"{row['probability']:.3f}  {row['label']}", highlight=False)
    out.print(f"{folder}/: frame_NN.png, frame_NN_regions.png, contact_sheet.png, explanation.json", highlight=False)


def _trained(checkpoint: Path, corpus: Path | None, r: int | None, device: torch.device):
    """(ALT with the checkpoint's weights, in eval mode, over `corpus` or its training corpus; the checkpoint)."""
    from .factory import load_trained

    net, cfg, state = load_trained(checkpoint, corpus, device)
    if cfg.model.arch != "alt":
        raise ModelError(f"{checkpoint}: an {cfg.model.arch} run aligns no regions to the corpus; alt-explain explains ALT runs "
                         "(or, with --corpus and no --checkpoint, the frozen CLIP model)")
    if r is not None:
        net.encoder.r = r
    return net.eval(), state


def _frozen(corpus: Path, model: str | None, pretrained: str | None, r: int, device: torch.device):
    """The frozen CLIP model that embedded the corpus (or the one given), its encoder, S, units, tokenizer."""
    from alt_common.bundle import CorpusBundle
    from alt_common.clip import load_clip

    from .encoder import RegionAwareEncoder

    bundle = CorpusBundle.load(corpus)
    clip, tokenizer, _ = load_clip(model or bundle.model, pretrained or bundle.pretrained or "openai", str(device))
    S, units = bundle.entities(clip.visual.output_dim)
    S = S.to(device)
    return None, RegionAwareEncoder(clip.visual, r=r), S, units, clip, tokenizer


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    setup_logging(err, "alt_model", "alt_common")
    run(app, err, out)
