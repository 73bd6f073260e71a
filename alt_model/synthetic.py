"""A synthetic video task and a tiny corpus, so `alt-train` and `alt-eval` run end to end offline on a CPU.

`alt-synthetic --out DIR` (or `python -m alt_model.synthetic`) writes into DIR:
- `videos/<class>/<n>.mp4`: real MPEG-4 files written with PyAV, one coloured shape per video moving
  across a noisy dark background; the classes differ in colour, shape and direction, and every video
  starts at a random place with a random speed;
- `labels.txt`, `train.csv` and `val.csv` (`path,label` lists relative to DIR);
- `clip.pt`: a random-weight open_clip model of the tiny `alt-tiny-vit` config (64 px, patch 8), marked as random
  (`alt_common.clip.save_random_weights`), so every command run with it says its results are not meaningful;
- `corpus.pt`: a DESIGN §5 bundle of a few colour, shape and motion entities embedded with it.
An --out that already holds any of these is refused unless --force is given. The tests use the same functions;
`configs/tiny_cpu.yaml` trains on the result. numpy, torch and open_clip load inside the functions that use them:
`--help`, `--version` and a refused --out answer at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from alt_common.errors import Failed, UserError, exit_interrupted

try:  # Ctrl-C in the script's first 0.2 s, while these import: exit 130 in one line (entry.run answers it later)
    import typer
    from rich.console import Console

    from alt_common.entry import DEVICE_HELP, VersionOption, examples, pick_device, run
except KeyboardInterrupt:
    exit_interrupted()

if TYPE_CHECKING:
    import numpy as np

TINY_MODEL = "alt-tiny-vit"
WRITES = ("videos", "labels.txt", "train.csv", "val.csv", "clip.pt", "corpus.pt")  # what alt-synthetic writes under --out


@dataclass(frozen=True)
class SyntheticClass:
    """A class of the synthetic task: a shape of one colour moving in one direction."""

    name: str
    colour: tuple[int, int, int]
    shape: str  # square or disc
    direction: tuple[float, float]  # (dx, dy) unit step


CLASSES = (
    SyntheticClass("red square moving right", (230, 40, 40), "square", (1.0, 0.0)),
    SyntheticClass("green disc moving left", (40, 220, 60), "disc", (-1.0, 0.0)),
    SyntheticClass("blue square moving down", (50, 80, 240), "square", (0.0, 1.0)),
    SyntheticClass("yellow disc moving up", (240, 220, 40), "disc", (0.0, -1.0)),
)
ENTITIES = (  # (unit, description, category)
    ("red", "the colour of blood", "scene"), ("green", "the colour of grass", "scene"),
    ("blue", "the colour of the clear sky", "scene"), ("yellow", "the colour of ripe lemons", "scene"),
    ("square", "a shape with four equal sides", "object"), ("disc", "a flat round shape", "object"),
    ("moving left", "going towards the left", "motion"), ("moving right", "going towards the right", "motion"),
    ("moving up", "going upwards", "motion"), ("moving down", "going downwards", "motion"),
    ("background", "a dark noisy backdrop", "scene"), ("hand", "the end of the arm", "body"),
)


def render(cls: SyntheticClass, frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 RGB frames [frames, size, size, 3] of one video of `cls`."""
    import numpy as np

    side = size // 3
    yy, xx = np.mgrid[0:size, 0:size]
    speed = rng.uniform(0.5, 1.0) * (size - side) / frames
    x0, y0 = rng.uniform(0, size - side, 2)
    dx, dy = cls.direction
    x0 = (size - side) * (0.05 if dx > 0 else 0.95) if dx else x0
    y0 = (size - side) * (0.05 if dy > 0 else 0.95) if dy else y0
    video = rng.integers(0, 50, (frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        x, y = x0 + dx * speed * t, y0 + dy * speed * t
        if cls.shape == "square":
            mask = (xx >= x) & (xx < x + side) & (yy >= y) & (yy < y + side)
        else:
            mask = (xx - x - side / 2) ** 2 + (yy - y - side / 2) ** 2 <= (side / 2) ** 2
        video[t][mask] = cls.colour
    return video


CODEC_OPTIONS = {  # MPEG-4 part 2 (alt-synthetic), and the codecs of Kinetics's downloads: H.264, VP9 (YouTube's webm), HEVC
    "mpeg4": {"qscale": "2"}, "libx264": {"crf": "23", "preset": "fast"}, "libvpx-vp9": {"crf": "32", "b": "0", "cpu-used": "8"},
    "libx265": {"crf": "28", "preset": "fast", "x265-params": "log-level=error"},
}


def write_video(path: Path, frames: np.ndarray, fps: int = 8, codec: str = "mpeg4", gop: int | None = None) -> None:
    """A video file (its container from `path`'s suffix) of uint8 RGB frames [T, H, W, 3], written with PyAV: MPEG-4 part 2,
    or a `CODEC_OPTIONS` codec such as H.264 (`libx264`, Kinetics's) with x264's defaults (3 B-frames, a keyframe at
    least every 250 frames, or every `gop`)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = CODEC_OPTIONS[codec] | ({"g": str(gop)} if gop else {})
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_videos(out: str | Path, train_per_class: int = 8, val_per_class: int = 4, frames: int = 16,
                 size: int = 64, seed: int = 0, classes: tuple[SyntheticClass, ...] = CLASSES) -> Path:
    """Videos, labels.txt, train.csv and val.csv under `out`; returns `out`."""
    import numpy as np

    out = Path(out)
    rng = np.random.default_rng(seed)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "labels.txt").write_text("".join(f"{c.name}\n" for c in classes), encoding="utf-8")
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        rows = ["path,label"]
        for cls in classes:
            for n in range(count):
                rel = f"videos/{cls.name.replace(' ', '_')}/{split}_{n:03d}.mp4"
                write_video(out / rel, render(cls, frames, size, rng))
                rows.append(f"{rel},{cls.name}")
        (out / f"{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


def write_tiny_corpus(out: str | Path, model: str = TINY_MODEL, seed: int = 0, device: str = "cpu") -> Path:
    """clip.pt (random weights of the tiny config) and corpus.pt embedded with it under `out`; returns corpus.pt."""
    import torch

    from alt_common.bundle import CorpusBundle
    from alt_common.clip import encode_texts, load_clip, resolve_model, save_random_weights, unloaded_clip

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    clip = unloaded_clip(resolve_model(model)[0])
    weights = (out / "clip.pt").resolve()
    save_random_weights(clip, weights, seed=seed, model=model, written_by="alt-synthetic")
    clip, tokenizer, provenance = load_clip(model, str(weights), device)
    units, descriptions, categories = (list(column) for column in zip(*ENTITIES))
    texts = [f"{u}: {d}" for u, d in zip(units, descriptions)]
    CorpusBundle(encode_texts(clip, tokenizer(texts)), units, descriptions, categories, model, str(weights),
                 entity_ids=list(range(len(units))), texts=texts, provenance=provenance).save(out / "corpus.pt")
    return out / "corpus.pt"


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


@app.command(epilog=examples("alt-synthetic -o synthetic", "alt-synthetic -o synthetic_big --train-per-class 32 --frames 32 --seed 1"))
def synthetic(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("synthetic"),
    train_per_class: Annotated[int, typer.Option(min=1, help="Training videos per class.")] = 8,
    val_per_class: Annotated[int, typer.Option(min=1, help="Validation videos per class.")] = 4,
    frames: Annotated[int, typer.Option(min=1, help="Frames per video.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the videos and of the tiny CLIP's random weights.")] = 0,
    device: Annotated[str, typer.Option(help=f"Where the tiny CLIP embeds the corpus: {DEVICE_HELP}")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Overwrite a task already in --out.")] = False,
    version: VersionOption = None,
) -> None:
    """Write the synthetic video task and a tiny corpus.pt (see the module docstring)."""
    from alt_common.io import writing

    from .guard import missing_folders, remove_made

    check_out(out_dir, force)
    run_on = str(pick_device(device))  # loads torch
    made = missing_folders(out_dir)  # removed again, with what this run wrote, on a full disk
    new = [out_dir / name for name in WRITES if not made and not (out_dir / name).exists()]
    try:
        with writing(out_dir):  # a full disk: `failed: no space left on device writing ...`, not a traceback
            write_videos(out_dir, train_per_class, val_per_class, frames, seed=seed)
            write_tiny_corpus(out_dir, seed=seed, device=run_on)
    except Failed:
        remove_made(made, new)
        raise
    Console().print(f"wrote {out_dir}/: videos/, labels.txt, train.csv, val.csv, clip.pt (random weights: a test model, "
                    "its predictions mean nothing), corpus.pt", highlight=False, markup=False, soft_wrap=True)


def check_out(out_dir: Path, force: bool = False) -> None:
    """Refuse, before any work, an --out that cannot be written (a file, a path under a file, a read-only or immutable
    folder, /proc: `guard.check_out_folder`) or that already holds a task (any file alt-synthetic writes), unless `force`."""
    from .guard import check_out_folder

    check_out_folder(out_dir)
    there = [name for name in WRITES if (out_dir / name).exists()]
    if there and not force:
        raise UserError(f"--out {out_dir}: already holds a synthetic task ({', '.join(there)}); pass --force to overwrite it, "
                        "or choose another --out")


def main() -> None:
    """Entry point of alt-synthetic (and `python -m alt_model.synthetic`)."""
    run(app, Console(stderr=True), Console())


if __name__ == "__main__":
    main()
