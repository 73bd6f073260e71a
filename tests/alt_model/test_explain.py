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
from tiny import make_clip, make_corpus


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
    with torch.no_grad():
        out = encoder(pixels)
    S = F.normalize(corpus["embeddings"], dim=-1)
    for t, frame in enumerate(frames):
        cos = F.normalize(out.regions[t], dim=-1) @ S.T
        best, second = cos.topk(2, dim=-1).values.unbind(-1)
        assert (best - second).min() > 1e-4  # no near-tie (measured: 0.0019), so rounding cannot decide the argmax
        assert frame.entity_ids == cos.argmax(dim=-1).tolist()
        assert frame.scores == pytest.approx(cos.max(dim=-1).values.tolist(), abs=1e-5)
        assert len(frame.entity_ids) == len(frame.sizes) == out.regions.shape[1]
        cls_cos = F.normalize(out.cls[t], dim=-1) @ S.T
        best, second = cls_cos.topk(2).values.tolist()
        assert best - second > 1e-4  # measured: 0.03
        assert frame.cls_entity == int(cls_cos.argmax())


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


def write_video(path, frames=24, size=64, fps=12):
    """A real MPEG-4 file: a red square moving right over a grey background."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(frames):
            image = np.full((size, size, 3), 120, dtype=np.uint8)
            x = 4 + t * (size - 24) // frames
            image[20:40, x : x + 20] = (220, 30, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture
def explain_inputs(tmp_path):
    clip = make_clip()
    checkpoint = tmp_path / "tiny.pt"
    torch.save(clip.state_dict(), checkpoint)
    corpus = make_corpus(k=12, dim=32) | {"model": "alt-tiny-vit", "pretrained": str(checkpoint)}
    torch.save(corpus, tmp_path / "corpus.pt")
    write_video(tmp_path / "clip.mp4")
    (tmp_path / "labels.txt").write_text("moving square\nstill life\nwaving hand\n")
    return tmp_path, corpus


@pytest.fixture
def run_explain(run_main):
    from alt_model.explain_cli import main

    return lambda *args: run_main(main, *args)


def test_pictures_show_the_pixels_the_model_saw():
    from open_clip.constants import OPENAI_DATASET_MEAN as CLIP_MEAN, OPENAI_DATASET_STD as CLIP_STD

    from alt_model.data import eval_transform
    from alt_model.explain import display_frames

    frames = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)).numpy()
    pixels = (torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255 - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    assert (display_frames(pixels, CLIP_MEAN, CLIP_STD) == frames).all()
    crops = eval_transform(frames, 64, 1, CLIP_MEAN, CLIP_STD)[0]
    assert display_frames(crops, CLIP_MEAN, CLIP_STD).shape == (2, 64, 64, 3)


def test_alt_explain_with_a_trained_checkpoint(run_explain, task, trained, tmp_path):
    code, stdout, stderr = run_explain(next(task.root.rglob("*.mp4")), "--checkpoint", trained / "last.pt",
                                       "--frames", 4, "--out", tmp_path / "out")
    assert code == 0, stderr
    data = json.loads((tmp_path / "out" / "explanation.json").read_text())
    labels = task.labels.read_text().splitlines()
    assert len(data["predictions"]) == min(5, len(labels)) and {p["label"] for p in data["predictions"]} <= set(labels)
    probabilities = [p["probability"] for p in data["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1.0, abs=1e-3)
    assert len(data["frames"]) == 4 and data["predictions"][0]["label"] in stdout


def test_alt_explain_end_to_end(run_explain, explain_inputs):
    folder, corpus = explain_inputs
    (folder / "more_labels.txt").write_text("jumping jack\n", encoding="utf-8")
    code, stdout, stderr = run_explain(folder / "clip.mp4", "--corpus", folder / "corpus.pt", "--labels", folder / "labels.txt",
                                       "-l", folder / "more_labels.txt", "--frames", 4, "--out", folder / "out", "--device", "cpu")
    assert code == 0, stderr
    data = json.loads((folder / "out" / "explanation.json").read_text())
    assert len(data["frames"]) == 4 and data["entities"] == corpus["units"]
    assert {p["label"] for p in data["predictions"]} == {"moving square", "still life", "waving hand", "jumping jack"}
    assert sum(p["probability"] for p in data["predictions"]) == pytest.approx(1.0, abs=1e-3)
    for t in range(4):
        assert (folder / "out" / f"frame_{t:02d}.png").is_file() and (folder / "out" / f"frame_{t:02d}_regions.png").is_file()
    assert data["top_entities"][0]["entity"] in stdout and "moving square" in stdout


def test_alt_explain_bad_inputs_are_one_line(run_explain, explain_inputs):
    folder, corpus = explain_inputs
    (folder / "broken.mp4").write_bytes(b"\x00" * 300)
    wide = corpus | {"embeddings": F.normalize(torch.randn(12, 48), dim=-1)}
    torch.save(wide, folder / "wide.pt")
    cases = [
        ([folder / "clip.mp4"], "pass --corpus corpus.pt (the entities to align to), or --checkpoint from alt-train"),
        ([folder / "clip.mp4", "--checkpoint", folder / "corpus.pt"], "corpus.pt: not an alt-train checkpoint"),
        ([folder / "missing.mp4", "--corpus", folder / "corpus.pt"], "missing.mp4: video not found"),
        ([folder / "broken.mp4", "--corpus", folder / "corpus.pt"], "broken.mp4: cannot decode a video stream"),
        ([folder / "clip.mp4", "--corpus", folder / "nope.pt"], "nope.pt: corpus.pt not found"),
        ([folder / "clip.mp4", "--corpus", folder / "wide.pt"], "corpus embeddings are 48-d but the CLIP model's joint space is 32-d"),
    ]
    for args, message in cases:
        code, _, stderr = run_explain(*args)
        assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, (args, stderr)
