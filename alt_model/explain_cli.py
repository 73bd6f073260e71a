"""`alt-explain VIDEO --corpus corpus.pt`: which entities the regions of each frame align to (a thin
Typer layer over `alt_model.explain`).

Without a trained checkpoint the frozen CLIP model that embedded the corpus (or `--model` /
`--pretrained`) shows the zero-shot alignment; `--labels FILE` adds CLIP's zero-shot top-5
actions (the mean of the frames' image embeddings against the prompt-ensembled labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from corpus_builder.entry import run
from corpus_builder.errors import CorpusError

from .errors import ModelError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
out, err = Console(), Console(stderr=True)


@app.command()
def explain(
    video: Annotated[Path, typer.Argument(help="The video file to explain.")],
    corpus: Annotated[Path, typer.Option(help="corpus.pt from 'corpus embed': the entities regions align to.")],
    model: Annotated[Optional[str], typer.Option(help="open_clip model (default: the one that embedded the corpus).")] = None,
    pretrained: Annotated[Optional[str], typer.Option(help="Weights tag or local file (default: the corpus's).")] = None,
    labels: Annotated[Optional[Path], typer.Option(help="Label file: also print CLIP's zero-shot top-5 actions.")] = None,
    frames: Annotated[int, typer.Option(min=1, max=64, help="Frames sampled at segment centres.")] = 8,
    r: Annotated[int, typer.Option(min=0, help="Tokens merged per block (ToMe).")] = 8,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default: explain_<video name>).")] = None,
) -> None:
    """Write per-frame region maps with their aligned entities, a contact sheet and explanation.json."""
    import torch
    import torch.nn.functional as F

    from corpus_builder.embed import load_clip, read_bundle
    from corpus_builder.labels import read_labels

    from .encoder import RegionAwareEncoder
    from .explain import align_frames, write_explanation
    from .model import corpus_entities
    from .text_head import TextHead
    from .video import read_frames, to_model_input

    bundle = read_bundle(corpus)
    names = read_labels([labels])[0] if labels else None
    images = read_frames(video, frames)
    clip, tokenizer, _ = load_clip(model or bundle.get("model", ""), pretrained or bundle.get("pretrained", "openai"))
    S, units = corpus_entities(bundle, clip.visual.output_dim)
    crops, pixels = to_model_input(images, clip.visual)
    encoder = RegionAwareEncoder(clip.visual, r=r)
    aligned = align_frames(encoder, S, pixels)
    predictions = None
    if names:
        with torch.no_grad():
            z = F.normalize(F.normalize(encoder(pixels).cls, dim=-1).mean(dim=0), dim=-1)
            probs = (100 * TextHead(clip, tokenizer).class_embeddings(names) @ z).softmax(dim=-1)
        top = probs.topk(min(5, len(names)))
        predictions = [(names[i], round(float(p), 4)) for p, i in zip(top.values, top.indices)]
    folder = out_dir or Path(f"explain_{video.stem}")
    data = write_explanation(crops, aligned, units, folder, str(video), predictions)
    table = Table(title=f"{video.name}: entities the regions align to ({frames} frames, r={r})")
    table.add_column("entity")
    table.add_column("patches", justify="right")
    for row in data["top_entities"]:
        table.add_row(row["entity"], str(row["patches"]))
    out.print(table)
    for row in data["predictions"]:
        out.print(f"{row['probability']:.3f}  {row['label']}", highlight=False)
    out.print(f"{folder}/: frame_NN.png, frame_NN_regions.png, contact_sheet.png, explanation.json", highlight=False)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback."""
    run(app, (ModelError, CorpusError), err, out)
