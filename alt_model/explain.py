"""What the model aligned (paper Fig. 4, left): the ToMe regions of each frame and the corpus entity
each region is matched to.

For frames [T, H, W, 3] (uint8, already at the tower's input size) the encoder gives, per frame,
the regions after block L-1 and which patches each covers (`sources`); each region's embedding is
matched to the corpus entities S by cosine similarity and the argmax of Eq. 5 (no Gumbel noise,
as at test time) names it; the class token gets an entity too. Rendering:

- `<stem>_regions.png`: the model's input frame with every region filled in its own colour (50% over the
  pixels, one colour per region, region boundaries dark), pixel-exact: the colour of each patch is
  the colour of the region the source map puts it in, as `frames[t].colours` in the JSON says;
- `<stem>.png`, for people: the ORIGINAL decoded frame (its own resolution; the shorter side brought to at least
  `MIN_SIDE` px by bicubic upscaling, at most `MAX_SIDE`) with the patch grid mapped onto the square the model saw
  (`crop_box`: the part outside it dimmed), each region filled with its entity's colour at `FILL_ALPHA` (the
  video's `COLOURED` commonest entities get a colour, the others stay unfilled), region boundaries drawn, one
  label `entity (cosine)` per region at the patch nearest its centroid (the largest region of each entity first,
  then the others by size; skipped when it would overlap a label already drawn; one per `LABEL_AREA` px²,
  `MAX_LABELS` at most), and beside it a legend: colour -> entity -> its share of the frame's patches;
- `contact_sheet.png`: the same pictures as tiles `TILE_HEIGHT` px high, 2 to 4 a row (as many as fit in
  `SHEET_WIDTH`), each under a two-line caption (frame, video frame index; class token), the video's legend under them;
- `explanation.json` with the same data, and where everything lies in the pictures (`picture`, per frame `labels`,
  `contact_sheet`).

When the CLIP model's weights are random (alt-synthetic's test model: `random_weights`), explanation.json says
`"random_weights": true`, and the labelled pictures and the contact sheet carry a red band on top saying the
alignment is not meaningful.
"""

from __future__ import annotations

import colorsys
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from alt_common.io import atomic_write, writing

from .encoder import RegionAwareEncoder

BOUNDARY = np.array([20, 20, 20], dtype=np.uint8)
RANDOM_NOTE = "random CLIP weights (alt-synthetic's test model): not meaningful"
NOTE_RED = (200, 20, 20)


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


# ---------------------------------------------------------------------------------------------- pictures for people

FILL_ALPHA = 0.35  # a region's fill: FILL_ALPHA · its entity's colour + (1 - FILL_ALPHA) · the frame
DIM = 0.45  # the part of the frame outside the model's crop: its pixels · DIM
MIN_SIDE, MAX_SIDE = 360, 1080  # the labelled picture's shorter side: a smaller frame is upscaled, a larger one shrunk
TILE_HEIGHT, SHEET_COLUMNS, SHEET_WIDTH, GAP = 270, 4, 2000, 8  # contact sheet: tile height, tiles a row at most
# (2 at least, fewer than 4 when 4 would make it wider than SHEET_WIDTH px), space between them
NOTE_HEIGHT = 28  # the red band of the random-weights note
MAX_LABELS, TILE_LABELS = 12, 5  # region labels drawn at most, per labelled picture and per contact-sheet tile
LABEL_AREA = 20000  # ... and one label per LABEL_AREA px² of the labelled picture's frame (4 at least)
ENTITY_COLOURS = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                           (227, 119, 194), (188, 189, 34), (23, 190, 207)], dtype=np.uint8)  # matplotlib's tab10 less its grey
COLOURED = len(ENTITY_COLOURS)  # the video's commonest entities that get a colour; the others' regions stay unfilled
LABEL_EDGE = (0, 0, 0)


def crop_box(height: int, width: int, size: int) -> tuple[float, float, float, float]:
    """(top, left, height, width), in the pixels of a decoded frame of height x width, of the square the model sees of
    it: eval_transform's single test view (the shorter side resized to int(RESIZE_RATIO · size), mmaction's CenterCrop)."""
    from .data import RESIZE_RATIO, resized_shape

    h, w = resized_shape(height, width, int(RESIZE_RATIO * size))
    sy, sx = height / h, width / w
    return (h - size) // 2 * sy, (w - size) // 2 * sx, size * sy, size * sx


@lru_cache(maxsize=None)
def _font(size: int, bold: bool = False):
    """DejaVu Sans (matplotlib ships it) at `size` px, else Pillow's own scalable font."""
    from PIL import ImageFont

    try:
        from matplotlib import get_data_path

        return ImageFont.truetype(str(Path(get_data_path()) / "fonts" / "ttf" / f"DejaVuSans{'-Bold' if bold else ''}.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


def _fit(draw, text: str, font, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` px."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _patch_counts(frames: list[FrameAlignment]) -> Counter[int]:
    counts: Counter[int] = Counter()
    for frame in frames:
        for entity, size in zip(frame.entity_ids, frame.sizes):
            counts[entity] += size
    return counts


def entity_colours(frames: list[FrameAlignment]) -> dict[int, tuple[int, int, int]]:
    """Entity id -> its colour in the pictures: the COLOURED entities with the most patches over the video (ties: the
    lower id), in ENTITY_COLOURS' order; the same in every frame."""
    counts = _patch_counts(frames)
    ranked = sorted(counts, key=lambda e: (-counts[e], e))[:COLOURED]
    return {e: tuple(int(c) for c in ENTITY_COLOURS[k]) for k, e in enumerate(ranked)}


def legend_entries(frames: list[FrameAlignment], names: list[str], colours: dict[int, tuple[int, int, int]]) -> tuple[list[dict], dict]:
    """(the coloured entities of `frames` with their share of the patches, largest first; the others, together:
    {"entities": how many, "share": their share})."""
    counts = _patch_counts(frames)
    total = sum(counts.values()) or 1
    ranked = sorted(counts, key=lambda e: (-counts[e], e))
    shown = [{"entity": names[e], "colour": list(colours[e]), "share": round(counts[e] / total, 4)} for e in ranked if e in colours]
    rest = [e for e in ranked if e not in colours]
    return shown, {"entities": len(rest), "share": round(sum(counts[e] for e in rest) / total, 4)}


def overlay(original: np.ndarray, frame: FrameAlignment, colours: dict[int, tuple[int, int, int]],
            crop: tuple[float, float, float, float], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(the original frame [H, W, 3] resized to `size` (width, height; bicubic) with the patch grid laid over `crop`
    (top, left, height, width in the original's pixels): each region whose entity has a colour filled with it at
    FILL_ALPHA, region boundaries (and the crop's edge) BOUNDARY, the part outside the crop dimmed by DIM;
    the region of every pixel of it, -1 outside the crop)."""
    from PIL import Image

    height, width = original.shape[:2]
    base = original if size == (width, height) else np.asarray(Image.fromarray(original).resize(size, Image.BICUBIC))
    ph, pw = base.shape[:2]
    regions = np.asarray(frame.regions)
    gh, gw = regions.shape
    top, left, ch, cw = crop
    rows = np.floor(((np.arange(ph) + 0.5) * height / ph - top) * gh / ch).astype(np.int64)  # pixel centres in the grid
    cols = np.floor(((np.arange(pw) + 0.5) * width / pw - left) * gw / cw).astype(np.int64)
    inside_rows, inside_cols = (rows >= 0) & (rows < gh), (cols >= 0) & (cols < gw)
    per_pixel = np.full((ph, pw), -1, dtype=np.int64)
    per_pixel[np.ix_(inside_rows, inside_cols)] = regions[np.ix_(rows[inside_rows], cols[inside_cols])]
    fill = np.zeros((len(frame.sizes), 3))
    filled_region = np.zeros(len(frame.sizes), dtype=bool)
    for region, entity in enumerate(frame.entity_ids):
        if entity in colours:
            fill[region], filled_region[region] = colours[entity], True
    picture = base.astype(np.float64)
    picture[per_pixel < 0] *= DIM
    filled = (per_pixel >= 0) & filled_region[per_pixel.clip(0)]
    picture[filled] = FILL_ALPHA * fill[per_pixel[filled]] + (1 - FILL_ALPHA) * picture[filled]
    picture = np.round(picture).clip(0, 255).astype(np.uint8)
    edge = np.zeros(per_pixel.shape, dtype=bool)
    edge[:, 1:] |= per_pixel[:, 1:] != per_pixel[:, :-1]
    edge[1:, :] |= per_pixel[1:, :] != per_pixel[:-1, :]
    picture[edge] = BOUNDARY
    return picture, per_pixel


def draw_labels(draw, frame: FrameAlignment, names: list[str], crop: tuple[float, float, float, float],
                scale: tuple[float, float], bounds: tuple[int, int], font, limit: int) -> list[dict]:
    """One label `entity (cosine)` per region, centred on the region's patch nearest its centroid (moved inside
    `bounds`, (width, height)), white with a dark outline: first the largest region of each entity (entities by
    patches), then the other regions, largest first; a label whose box would overlap one already drawn is skipped;
    at most `limit`. Returns [{"region", "text", "box": [x0, y0, x1, y1]}]."""
    regions = np.asarray(frame.regions)
    gh, gw = regions.shape
    top, left, ch, cw = crop
    sy, sx = scale
    outline = max(2, round(font.size / 7))
    by_size = sorted(range(len(frame.sizes)), key=lambda r: (-frame.sizes[r], r))
    patches: Counter[int] = Counter()
    for entity, size in zip(frame.entity_ids, frame.sizes):
        patches[entity] += size
    largest = {}
    for region in by_size:
        largest.setdefault(frame.entity_ids[region], region)
    first = sorted(largest.values(), key=lambda r: (-patches[frame.entity_ids[r]], frame.entity_ids[r]))
    drawn: list[dict] = []
    for region in first + [r for r in by_size if r not in largest.values()]:
        if len(drawn) == limit:
            break
        rows, cols = np.nonzero(regions == region)
        if not len(rows):
            continue
        nearest = int(np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2))
        x = (left + (cols[nearest] + 0.5) * cw / gw) * sx
        y = (top + (rows[nearest] + 0.5) * ch / gh) * sy
        text = f"{names[frame.entity_ids[region]]} ({frame.scores[region]:.2f})"
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font, anchor="mm", stroke_width=outline)
        dx = max(0.0, -x0 + 1) - max(0.0, x1 - bounds[0] + 1)
        dy = max(0.0, -y0 + 1) - max(0.0, y1 - bounds[1] + 1)
        box = [round(x0 + dx) - 1, round(y0 + dy) - 1, round(x1 + dx) + 1, round(y1 + dy) + 1]
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in (d["box"] for d in drawn)):
            continue
        draw.text((x + dx, y + dy), text, font=font, anchor="mm", fill=(255, 255, 255), stroke_width=outline, stroke_fill=LABEL_EDGE)
        drawn.append({"region": region, "text": text, "box": box})
    return drawn


UNFILLED, DIMMED = (255, 255, 255), (72, 72, 72)  # the legend's swatches of the unfilled regions and of the dimmed part


def _legend_lines(entries: list[dict], other: dict, dimmed: bool) -> list[tuple[tuple[int, ...], str]]:
    """(swatch colour, text) per line of a legend: the coloured entities, the unfilled rest, the dimmed part."""
    def share(x: float) -> str:
        return f"{100 * x:.0f}%" if x >= 0.01 or x == 0 else f"{100 * x:.1f}%"

    lines = [(tuple(e["colour"]), f"{e['entity']}  {share(e['share'])}") for e in entries]
    if other["entities"]:
        many = "entity" if other["entities"] == 1 else "entities"
        lines.append((UNFILLED, f"{other['entities']} other {many}, unfilled  {share(other['share'])}"))
    if dimmed:
        lines.append((DIMMED, "dimmed: outside the model's crop"))
    return lines


def _swatch(draw, x: int, y: int, side: int, colour: tuple[int, ...]) -> None:
    draw.rectangle([x, y, x + side - 1, y + side - 1], fill=colour, outline=(60, 60, 60))


def legend_panel(entries: list[dict], other: dict, dimmed: bool, title: str, height: int, font_size: int):
    """A white panel at least `height` px high: `title`, then one line per entity (a swatch of its colour, its name,
    its share), the unfilled rest, and what the dimmed part is."""
    from PIL import Image, ImageDraw

    font, bold = _font(font_size), _font(font_size, bold=True)
    lines = _legend_lines(entries, other, dimmed)
    line, pad, side = font_size + 9, 12, font_size
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = math.ceil(min(460, max(220, *(probe.textlength(text, font=font) + side + 3 * pad + 2 for _, text in lines),
                                   probe.textlength(title, font=bold) + 2 * pad + 2)))
    panel = Image.new("RGB", (width, max(height, 2 * pad + line * (len(lines) + 1))), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    draw.text((pad, pad), _fit(draw, title, bold, width - 2 * pad), font=bold, fill=(30, 30, 30))
    for k, (colour, text) in enumerate(lines, start=1):
        y = pad + k * line
        _swatch(draw, pad, y + 1, side, colour)
        draw.text((2 * pad + side, y), _fit(draw, text, font, width - 3 * pad - side), font=font, fill=(30, 30, 30))
    return panel


def _band(width: int, height: int, text: str, colour: tuple[int, int, int], fill: tuple[int, int, int], bold: bool):
    """A `height` px band of `colour` across `width` with `text` in it (its font shrunk, then the text cut, to fit)."""
    from PIL import Image, ImageDraw

    band = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(band)
    size = max(9, height - 13)
    while size > 9 and draw.textlength(text, font=_font(size, bold)) > width - 12:
        size -= 1
    font = _font(size, bold)
    draw.text((6, height / 2), _fit(draw, text, font, width - 12), font=font, fill=fill, anchor="lm")
    return band


def noted_sheet(sheet: np.ndarray, note: str = RANDOM_NOTE) -> np.ndarray:
    """`sheet` [H, W, 3] under a NOTE_HEIGHT px red band with `note` in white."""
    return np.concatenate([np.asarray(_band(sheet.shape[1], NOTE_HEIGHT, note, NOTE_RED, (255, 255, 255), True)), sheet], axis=0)


def _caption(t: int, frame: FrameAlignment, names: list[str], video_frame: int | None) -> tuple[str, str]:
    """("frame t (video frame i)", "class token: entity (cosine)")."""
    at = f" (video frame {video_frame})" if video_frame is not None else ""
    return f"frame {t}{at}", f"class token: {names[frame.cls_entity]} ({frame.cls_score:.2f})"


def _picture_size(height: int, width: int, short: float) -> tuple[int, int]:
    scale = short / min(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def labelled_picture(original: np.ndarray, frame: FrameAlignment, names: list[str], colours: dict[int, tuple[int, int, int]],
                     crop: tuple[float, float, float, float], caption: tuple[str, str], note: str | None = None) -> tuple[np.ndarray, dict]:
    """`<stem>.png` (see the module docstring): (the picture, {"origin": where the frame starts in it, "size": the
    frame's size in it, "labels": the region labels drawn, "legend", "other"})."""
    from PIL import Image, ImageDraw

    height, width = original.shape[:2]
    short = min(max(min(height, width), MIN_SIDE), MAX_SIDE)
    size = _picture_size(height, width, short)
    body, _ = overlay(original, frame, colours, crop, size)
    image = Image.fromarray(body)
    font_size = max(13, round(short / 36))
    limit = min(MAX_LABELS, max(4, size[0] * size[1] // LABEL_AREA))
    labels = draw_labels(ImageDraw.Draw(image), frame, names, crop, (size[1] / height, size[0] / width), size, _font(font_size), limit)
    entries, other = legend_entries([frame], names, colours)
    dimmed = bool(crop[0] > 0.5 or crop[1] > 0.5 or crop[0] + crop[2] < height - 0.5 or crop[1] + crop[3] < width - 0.5)
    panel = legend_panel(entries, other, dimmed, "entity: share of the frame", size[1], max(13, font_size))
    bands = ([_band(size[0] + panel.width, NOTE_HEIGHT, note, NOTE_RED, (255, 255, 255), True)] if note else [])
    bands.append(_band(size[0] + panel.width, max(font_size, 13) + 16, " · ".join(caption), (255, 255, 255), (20, 20, 20), True))
    top = sum(b.height for b in bands)
    canvas = Image.new("RGB", (size[0] + panel.width, top + max(size[1], panel.height)), (255, 255, 255))
    y = 0
    for band in bands:
        canvas.paste(band, (0, y))
        y += band.height
    canvas.paste(image, (0, top))
    canvas.paste(panel, (size[0], top))
    for label in labels:
        label["box"] = [label["box"][0], label["box"][1] + top, label["box"][2], label["box"][3] + top]
    return np.asarray(canvas), {"origin": [0, top], "size": list(size), "labels": labels, "legend": entries, "other": other}


def contact_sheet(originals: list[np.ndarray], frames: list[FrameAlignment], names: list[str], colours: dict[int, tuple[int, int, int]],
                  crop: tuple[float, float, float, float], captions: list[tuple[str, str]]) -> tuple[np.ndarray, dict]:
    """(every frame as a TILE_HEIGHT px tile with its caption (two lines) above, up to SHEET_COLUMNS a row, the video's legend
    under them; {"columns", "tile": [width, height], "tiles": [[x, y] of each tile's frame]})."""
    from PIL import Image, ImageDraw

    height, width = originals[0].shape[:2]
    size = (max(1, round(width * TILE_HEIGHT / height)), TILE_HEIGHT)
    columns = min(SHEET_COLUMNS, len(frames), max(2, (SHEET_WIDTH - GAP) // (size[0] + GAP)))
    rows = -(-len(frames) // columns)
    caption_height = 38
    cell = caption_height + size[1]
    sheet_width = columns * size[0] + (columns + 1) * GAP
    entries, other = legend_entries(frames, names, colours)
    font = _font(14)
    lines = _legend_lines(entries, other, False)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    column_width = math.ceil(min(sheet_width - 2 * GAP, max(probe.textlength(text, font=font) for _, text in lines) + 14 + 3 * GAP))
    per_row = max(1, (sheet_width - GAP) // column_width)
    legend_rows = -(-len(lines) // per_row)
    legend_top = GAP + rows * (cell + GAP)
    canvas = Image.new("RGB", (sheet_width, legend_top + 26 + legend_rows * 23 + GAP), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    tiles = []
    for t, (original, frame) in enumerate(zip(originals, frames)):
        x, y = GAP + (t % columns) * (size[0] + GAP), GAP + (t // columns) * (cell + GAP)
        body, _ = overlay(original, frame, colours, crop, size)
        tile = Image.fromarray(body)
        draw_labels(ImageDraw.Draw(tile), frame, names, crop, (size[1] / height, size[0] / width), size, _font(12), TILE_LABELS)
        for line, (text, bold) in enumerate(zip(captions[t], (True, False))):
            draw.text((x, y + 1 + 17 * line), _fit(draw, text, _font(13, bold), size[0]), font=_font(13, bold), fill=(20, 20, 20))
        canvas.paste(tile, (x, y + caption_height))
        tiles.append([x, y + caption_height])
    draw.text((GAP, legend_top + 2), "entity: share of the video's patches", font=_font(14, bold=True), fill=(30, 30, 30))
    for k, (colour, text) in enumerate(lines):
        x, y = GAP + (k % per_row) * column_width, legend_top + 26 + (k // per_row) * 23
        _swatch(draw, x, y + 2, 14, colour)
        draw.text((x + 14 + GAP, y), _fit(draw, text, font, column_width - 14 - 2 * GAP), font=font, fill=(30, 30, 30))
    return np.asarray(canvas), {"columns": columns, "tile": list(size), "tiles": tiles, "legend": entries, "other": other}


def _save_png(array: np.ndarray, path: Path) -> None:
    """A PNG written atomically: a full disk leaves the old file as it was (`Failed` naming it), no half picture."""
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def write_explanation(images: np.ndarray, frames: list[FrameAlignment], names: list[str], out: Path,
                      video: str, predictions: list[tuple[str, float]] | None = None, random_weights: bool = False,
                      originals: np.ndarray | list[np.ndarray] | None = None, crop: tuple[float, float, float, float] | None = None,
                      video_frames: list[int] | None = None) -> dict:
    """PNGs per frame, a contact sheet and explanation.json under `out`; returns the JSON's content. `images`: the
    model's input frames [T, S, S, 3] (the pixel-exact region maps); `originals`: the decoded frames the labelled
    pictures and the contact sheet are drawn over (default: `images`), `crop` the square the model saw of them
    (`crop_box`; default: all of it), `video_frames` their indices in the video. `random_weights`: the CLIP model's
    weights are random, which the JSON and the pictures say (see the module docstring). Each file is written atomically
    (a full disk is `Failed` naming it, the file as it was)."""
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    note = RANDOM_NOTE if random_weights else None
    originals = [np.ascontiguousarray(o) for o in (images if originals is None else originals)]
    height, width = originals[0].shape[:2]
    crop = (0.0, 0.0, float(height), float(width)) if crop is None else tuple(float(c) for c in crop)
    indices = list(video_frames) if video_frames is not None else [None] * len(frames)
    colours = entity_colours(frames)
    captions = [_caption(t, frame, names, index) for t, (frame, index) in enumerate(zip(frames, indices))]
    placed = []
    for t, (image, original, frame) in enumerate(zip(images, originals, frames)):
        _save_png(region_picture(image, frame), out / f"frame_{t:02d}_regions.png")
        picture, where = labelled_picture(original, frame, names, colours, crop, captions[t], note)
        _save_png(picture, out / f"frame_{t:02d}.png")
        placed.append(where)
    sheet, layout = contact_sheet(originals, frames, names, colours, crop, captions)
    if random_weights:
        sheet = noted_sheet(sheet)
        layout["tiles"] = [[x, y + NOTE_HEIGHT] for x, y in layout["tiles"]]
    _save_png(sheet, out / "contact_sheet.png")
    data = {
        "video": video,
        "random_weights": random_weights,
        "entities": names,
        "top_entities": [{"entity": name, "patches": n} for name, n in top_entities(frames, names)],
        "predictions": [{"label": label, "probability": p} for label, p in predictions or []],
        "picture": {"frame_size": [height, width], "crop": [round(c, 3) for c in crop], "origin": placed[0]["origin"],
                    "size": placed[0]["size"], "fill_alpha": FILL_ALPHA, "dim": DIM},
        "legend": layout.pop("legend"), "other": layout.pop("other"),
        "contact_sheet": layout,
        "frames": [asdict(frame) | {"video_frame": index, "legend": where["legend"], "other": where["other"], "labels": where["labels"]}
                   for frame, index, where in zip(frames, indices, placed)],
    }
    atomic_write(out / "explanation.json", lambda tmp: Path(tmp).write_text(json.dumps(data, indent=1)))
    return data
