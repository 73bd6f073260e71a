"""alt_model.explain on a tiny random-weight ViT: region pictures follow the source map exactly,
every region gets one corpus entity (the argmax of an independent cosine), and the JSON and the
PNGs agree."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from alt_model import RegionAwareEncoder
from alt_model.explain import align_frames, palette, region_picture, write_explanation
from test_alt_fixtures import make_clip, make_corpus, one_thread  # noqa: F401  (fixtures)


@pytest.fixture
def aligned():
    clip = make_clip()
    encoder = RegionAwareEncoder(clip.visual, r=8)
    corpus = make_corpus(k=12, dim=32)
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (3, 64, 64, 3), generator=generator, dtype=torch.uint8)
    pixels = images.permute(0, 3, 1, 2).float() / 255
    return encoder, corpus, images.numpy(), pixels, align_frames(encoder, corpus["embeddings"], pixels)


def test_regions_partition_the_frame_as_the_source_map_says(aligned):
    encoder, corpus, images, pixels, frames = aligned
    out = encoder(pixels)
    for t, frame in enumerate(frames):
        regions = np.asarray(frame.regions)
        assert regions.shape == (8, 8)
        sources = out.sources[t].numpy()  # [n, N]
        assert (sources.sum(axis=0) == 1).all()
        assert (regions.reshape(-1) == sources.argmax(axis=0)).all()
        assert frame.sizes == [int(s) for s in sources.sum(axis=1)] == np.bincount(regions.reshape(-1), minlength=len(sources)).tolist()
        picture = region_picture(images[t], frame)
        colours = np.asarray(frame.colours)
        assert len({tuple(c) for c in colours}) == len(colours)  # one colour per region
        for i in range(8):
            for j in range(8):  # an inner pixel of each 8x8 patch: image blended with its region's colour
                expected = (images[t, i * 8 + 4, j * 8 + 4].astype(int) + colours[regions[i, j]]) // 2
                assert (picture[i * 8 + 4, j * 8 + 4] == expected).all()


def test_every_region_gets_its_argmax_entity(aligned):
    encoder, corpus, images, pixels, frames = aligned
    out = encoder(pixels)
    S = F.normalize(corpus["embeddings"], dim=-1)
    for t, frame in enumerate(frames):
        cos = F.normalize(out.regions[t], dim=-1) @ S.T
        assert frame.entity_ids == cos.argmax(dim=-1).tolist()
        assert frame.scores == pytest.approx(cos.max(dim=-1).values.tolist(), abs=1e-5)
        assert len(frame.entity_ids) == len(frame.sizes) == out.regions.shape[1]
        assert frame.cls_entity == int((F.normalize(out.cls[t], dim=-1) @ S.T).argmax())


def test_json_and_pngs_agree(aligned, tmp_path):
    encoder, corpus, images, pixels, frames = aligned
    data = write_explanation(images, frames, corpus["units"], tmp_path, "synthetic.mp4", [("a", 0.7), ("b", 0.3)])
    assert json.loads((tmp_path / "explanation.json").read_text()) == data
    for t, frame in enumerate(data["frames"]):
        saved = np.asarray(Image.open(tmp_path / f"frame_{t:02d}_regions.png").convert("RGB"))
        assert (saved == region_picture(images[t], frames[t])).all()
        assert (tmp_path / f"frame_{t:02d}.png").stat().st_size > 1000
    sheet = np.asarray(Image.open(tmp_path / "contact_sheet.png"))
    assert sheet.shape == (64, 3 * 64 + 2 * 4, 3)
    total = sum(sum(f["sizes"]) for f in data["frames"])
    assert sum(e["patches"] for e in data["top_entities"]) <= total == 3 * 64
    assert data["predictions"][0] == {"label": "a", "probability": 0.7}


def test_palette_colours_are_distinct():
    colours = palette(200)
    assert len({tuple(c) for c in colours.tolist()}) == 200
