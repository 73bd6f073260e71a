"""What the model aligned (paper Fig. 4, left): the ToMe regions of each frame and the corpus entity
each region is matched to.

For frames [T, H, W, 3] (uint8, already at the tower's input size) the encoder gives, per frame,
the regions after block L-1 and which patches each covers (`sources`); each region's embedding is
matched to the corpus entities S by cosine similarity and the argmax of Eq. 5 (no Gumbel noise,
as at test time) names it; the class token gets an entity too. Rendering:

- `<stem>_regions.png`: the frame with every region filled in its own colour (50% over the
  pixels, one colour per region, region boundaries dark), pixel-exact: the colour of each patch is
  the colour of the region the source map puts it in, as `frames[t].colours` in the JSON says;
- `<stem>.png`: the same picture with the largest regions labelled `entity (cosine)`;
- `contact_sheet.png`: all frames side by side, and `explanation.json` with the same data.
"""

from __future__ import annotations

import colorsys
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .encoder import RegionAwareEncoder

BOUNDARY = np.array([20, 20, 20], dtype=np.uint8)


@dataclass
class FrameAlignment:
    regions: list[list[int]]  # [gh][gw] region index of every patch (row-major grid)
    entity_ids: list[int]  # per region: the aligned entity (argmax of Eq. 5)
    scores: list[float]  # per region: its cosine with that entity
    sizes: list[int]  # per region: how many patches it covers
    colours: list[list[int]]  # per region: its RGB colour in the pictures
    cls_entity: int  # the class token's entity
    cls_score: float


def palette(n: int) -> np.ndarray:
    """n distinct, well-spread RGB colours (golden-ratio hues, alternating lightness)."""
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    return np.array([[round(255 * c) for c in colorsys.hls_to_rgb(h, 0.45 + 0.15 * (i % 2), 0.85)] for i, h in enumerate(hues)],
                    dtype=np.uint8).reshape(n, 3)


@torch.no_grad()
def align_frames(encoder: RegionAwareEncoder, entities: Tensor, pixels: Tensor) -> list[FrameAlignment]:
    """pixels [T, 3, H, W] (normalised as the tower expects), entities S [K, d] -> one alignment per frame."""
    out = encoder(pixels)
    S = F.normalize(entities.float(), dim=-1)
    region_sims = F.normalize(out.regions.float(), dim=-1) @ S.T  # Eq. 4 without noise
    cls_sims = F.normalize(out.cls.float(), dim=-1) @ S.T
    gh, gw = encoder.visual.grid_size
    frames = []
    for t in range(len(pixels)):
        scores, ids = region_sims[t].max(dim=-1)  # Eq. 5: the argmax entity
        patch_region = out.sources[t].argmax(dim=0).view(gh, gw)  # sources partition the patches
        cls_score, cls_id = cls_sims[t].max(dim=-1)
        frames.append(FrameAlignment(
            regions=patch_region.tolist(), entity_ids=ids.tolist(), scores=[round(s, 6) for s in scores.tolist()],
            sizes=out.sizes[t].round().int().tolist(), colours=palette(len(ids)).tolist(),
            cls_entity=int(cls_id), cls_score=round(float(cls_score), 6),
        ))
    return frames


def display_frames(pixels: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """The normalised frames [T, 3, S, S] the model saw, back to uint8 RGB [T, S, S, 3] for pictures."""
    rgb = pixels * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    return (rgb * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def region_picture(image: np.ndarray, frame: FrameAlignment) -> np.ndarray:
    """The frame [H, W, 3] uint8 with each patch blended 50% with its region's colour, boundaries dark."""
    regions = np.asarray(frame.regions)
    gh, gw = regions.shape
    ph, pw = image.shape[0] // gh, image.shape[1] // gw
    per_pixel = regions.repeat(ph, axis=0).repeat(pw, axis=1)
    colours = np.asarray(frame.colours, dtype=np.uint16)[per_pixel]
    picture = ((image[: gh * ph, : gw * pw].astype(np.uint16) + colours) // 2).astype(np.uint8)
    edge = np.zeros(per_pixel.shape, dtype=bool)
    edge[:, 1:] |= per_pixel[:, 1:] != per_pixel[:, :-1]
    edge[1:, :] |= per_pixel[1:, :] != per_pixel[:-1, :]
    picture[edge] = BOUNDARY
    return picture


def top_entities(frames: list[FrameAlignment], names: list[str], k: int = 10) -> list[tuple[str, int]]:
    """The k entities most regions of the video are aligned to, with how many (regions weighed by patch count)."""
    counts: Counter[str] = Counter()
    for frame in frames:
        for entity, size in zip(frame.entity_ids, frame.sizes):
            counts[names[entity]] += size
    return counts.most_common(k)


def _save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def labelled_figure(picture: np.ndarray, frame: FrameAlignment, names: list[str], path: Path, labels: int = 8) -> None:
    """The region picture with its `labels` largest regions named, via matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regions = np.asarray(frame.regions)
    ph, pw = picture.shape[0] / regions.shape[0], picture.shape[1] / regions.shape[1]
    fig, ax = plt.subplots(figsize=(6, 6 * picture.shape[0] / picture.shape[1]))
    ax.imshow(picture, interpolation="nearest")
    for region in sorted(range(len(frame.sizes)), key=lambda i: -frame.sizes[i])[:labels]:
        rows, cols = np.nonzero(regions == region)
        ax.text((cols.mean() + 0.5) * pw, (rows.mean() + 0.5) * ph, f"{names[frame.entity_ids[region]]} ({frame.scores[region]:.2f})",
                ha="center", va="center", fontsize=7, color="white", bbox={"facecolor": "black", "alpha": 0.6, "pad": 1, "linewidth": 0})
    ax.set_title(f"class token: {names[frame.cls_entity]} ({frame.cls_score:.2f})", fontsize=9)
    ax.axis("off")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_explanation(images: np.ndarray, frames: list[FrameAlignment], names: list[str], out: Path,
                      video: str, predictions: list[tuple[str, float]] | None = None) -> dict:
    """PNGs per frame, a contact sheet and explanation.json under `out`; returns the JSON's content."""
    out.mkdir(parents=True, exist_ok=True)
    pictures = [region_picture(image, frame) for image, frame in zip(images, frames)]
    for t, (picture, frame) in enumerate(zip(pictures, frames)):
        _save_png(picture, out / f"frame_{t:02d}_regions.png")
        labelled_figure(picture, frame, names, out / f"frame_{t:02d}.png")
    gap = np.full((pictures[0].shape[0], 4, 3), 255, dtype=np.uint8)
    _save_png(np.concatenate([p for picture in pictures for p in (picture, gap)][:-1], axis=1), out / "contact_sheet.png")
    data = {
        "video": video,
        "entities": names,
        "top_entities": [{"entity": name, "patches": n} for name, n in top_entities(frames, names)],
        "predictions": [{"label": label, "probability": p} for label, p in predictions or []],
        "frames": [asdict(frame) for frame in frames],
    }
    (out / "explanation.json").write_text(json.dumps(data, indent=1))
    return data
