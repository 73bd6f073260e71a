"""alt_model/hub.py and `alt-export`: model folders (config.json, model.safetensors, corpus.safetensors,
clip.safetensors) that rebuild the trained model bit for bit, load without pickle, are written atomically, and hold
all they need: moved elsewhere, with the run, the CLIP weights and the corpus gone, they predict over new labels."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open
from videos import Task, real_clips, train_tiny

from alt_common.bundle import CorpusBundle
from alt_common.clip import load_clip
from alt_common.errors import Failed, UserError
from alt_common.io import file_sha256
from alt_model import ModelError
from alt_model.checkpoint import load_checkpoint, model_state
from alt_model.cli import eval_main
from alt_model.factory import load_trained
from alt_model.hub import (
    FILES, FORMAT_1_FILES, export_checkpoint, from_pretrained, load_model, portable_config, pretrained_corpus, save_pretrained,
)
from alt_model.predict import Predictor, collate_videos
from alt_model.predict_cli import export_main, predict_main
from alt_model.synthetic import write_tiny_corpus


def _views(model, cfg) -> torch.Tensor:
    """Two real h264 clips and a synthetic one as 2x3 test views, flattened: [3·6, T, 3, S, S]."""
    dataset = Predictor(model, [], cfg.model.frames, None).dataset(
        [real_clips()["bikes.mp4"], real_clips()["carphone_pristine.mp4"]], (2, 3))
    return collate_videos([dataset[0], dataset[1]]).video.flatten(0, 1)


def test_round_trip_gives_bit_identical_logits(trained, exported):
    original, cfg, state = load_trained(trained / "best.pt")
    loaded, loaded_cfg, meta = from_pretrained(exported)
    video = _views(original, cfg)
    with torch.no_grad():  # in eval mode: training adds Gumbel noise to the alignment (Eq. 4)
        a, b = original.eval()(video, state["labels"]), loaded.eval()(video, meta["labels"])
    assert torch.equal(a.logits, b.logits) and torch.equal(a.entity_ids, b.entity_ids)  # bit for bit, not approximately
    assert torch.equal(a.video_embedding, b.video_embedding)
    assert meta["labels"] == state["labels"] and replace(loaded_cfg.model, name=None, pretrained=None) == cfg.model
    assert (loaded_cfg.model.name, loaded_cfg.model.pretrained) == (meta["clip"]["model"], meta["clip"]["pretrained"])  # resolved
    theirs, ours = model_state(original), model_state(loaded)
    assert theirs.keys() == ours.keys() and all(torch.equal(theirs[k], ours[k]) for k in theirs)
    assert torch.equal(loaded.entities, original.entities) and loaded.entity_units == original.entity_units


def test_the_folder_holds_json_and_safetensors_only(trained, exported, task):
    assert sorted(p.name for p in exported.iterdir()) == sorted(FILES)  # no temporary file left beside them
    umask = os.umask(0)
    os.umask(umask)
    assert {stat.S_IMODE((exported / name).stat().st_mode) for name in FILES} == {0o666 & ~umask}  # as open() makes them
    assert stat.S_IMODE(exported.stat().st_mode) == 0o777 & ~umask
    meta = json.loads((exported / "config.json").read_text())
    assert (meta["format"], meta["format_version"], meta["arch"]) == ("alt-pretrained", 2, "alt")
    state = load_checkpoint(trained / "best.pt")
    corpus = torch.load(task.corpus, weights_only=True)
    assert meta["labels"] == state["labels"] and meta["config"] == portable_config(state["config"])[0]
    assert meta["config"]["model"] == state["config"]["model"]  # what builds the model is kept whole
    assert meta["config"]["data"]["val_list"] is None and meta["run_files"]["data.val_list"] == "val.csv"  # a path of this machine
    clip, _, provenance = load_clip(corpus["model"], corpus["pretrained"])
    assert {k: v for k, v in meta["clip"].items() if k != "preprocess"} == {
        "model": "alt-tiny-vit", "open_clip_model": "alt-tiny-vit", "pretrained": "clip.pt",  # provenance: the file's name
        "pretrained_sha256": file_sha256(task.root / "clip.pt"), "activation": "gelu",
        "random_weights": bool(provenance.get("random_weights")), "weights": "clip.safetensors"}
    assert meta["clip"]["preprocess"]["mean"] == list(clip.visual.preprocess_cfg["mean"])
    assert meta["corpus"]["name"] == "corpus.pt" and meta["corpus"]["sha256"] == file_sha256(task.corpus) and "path" not in meta["corpus"]
    assert meta["corpus"]["units"] == corpus["units"] and meta["corpus"]["categories"] == corpus["categories"]
    assert meta["corpus"]["corpus_sha256"] == corpus["corpus_sha256"] and meta["corpus"]["entities"] == len(corpus["units"])
    for name in ("model.safetensors", "corpus.safetensors", "clip.safetensors"):
        assert (exported / name).read_bytes()[8:9] == b"{"  # a safetensors header (length, then JSON), not a pickle
    with safe_open(str(exported / "model.safetensors"), "pt") as f:
        assert set(f.keys()) == set(state["model"]) and "entities" not in f.keys()  # learned weights only, no corpus buffer
        image_tower = {k.removeprefix("encoder.") for k in f.keys() if k.startswith("encoder.visual.")}
    with safe_open(str(exported / "clip.safetensors"), "pt") as f:
        frozen = {k: f.get_tensor(k) for k in f.keys()}
    own = clip.state_dict()
    assert image_tower | set(frozen) == set(own) and not image_tower & set(frozen)  # CLIP whole, once: the trained tower, the rest
    assert "token_embedding.weight" in frozen and "logit_scale" in frozen  # the text tower, and the aligner's scale
    assert all(torch.equal(frozen[k].to(own[k].dtype), own[k]) for k in frozen)
    bundle = pretrained_corpus(exported)
    assert torch.equal(bundle.embeddings, corpus["embeddings"]) and bundle.descriptions == corpus["descriptions"]


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)] + [k for k in node if isinstance(k, str)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_a_moved_folder_predicts_new_labels_with_the_run_clip_and_corpus_gone(task, run_main, tmp_path, monkeypatch):
    """The folder alone: exported, moved, and the run, the CLIP weights and corpus.pt deleted, alt-predict --pretrained
    scores labels never trained on with the checkpoint's own probabilities; nothing is downloaded or unpickled."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tmp_path / "task"  # a copy of the session's task, with its own clip.pt and corpus.pt (which names that clip.pt)
    shutil.copytree(task.root, root, ignore=shutil.ignore_patterns("clip.pt", "corpus.pt"))
    mine = Task(root, root / "labels.txt", root / "train.csv", root / "val.csv", write_tiny_corpus(root))
    run = train_tiny(mine, tmp_path / "run", epochs=1)
    labels = tmp_path / "new_labels.txt"
    labels.write_text("a cat climbing a tree\nsomeone playing the violin\nblue circle going up\nred square moving left fast\n")
    videos = [real_clips()["bikes.mp4"], sorted(root.rglob("*.mp4"))[0]]
    listed = tmp_path / "videos.txt"
    listed.write_text("".join(f"{v}\n" for v in videos))
    common = ["--labels", labels, "--top-k", 4, "--workers", 0, "--device", "cpu"]
    code, _, err = run_main(predict_main, listed, "--checkpoint", run / "best.pt", "--out", tmp_path / "before.jsonl", *common)
    assert code == 0, err
    code, out, err = run_main(export_main, run / "best.pt", tmp_path / "exported")
    assert code == 0, err
    assert "clip.safetensors, config.json, corpus.safetensors, model.safetensors" in out

    moved = tmp_path / "elsewhere" / "shared-model"
    moved.parent.mkdir()
    shutil.move(tmp_path / "exported", moved)
    shutil.rmtree(run)
    (root / "clip.pt").unlink()
    (root / "corpus.pt").unlink()
    text = (moved / "config.json").read_text()
    assert str(tmp_path) not in text
    assert not [s for s in _strings(json.loads(text)) if s.startswith((os.sep, "~")) or os.path.isabs(s)]

    import huggingface_hub
    import open_clip

    def no_hub(*args, **kwargs):
        raise AssertionError("a model folder went to the hub")

    monkeypatch.setattr(open_clip.factory, "download_pretrained", no_hub)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    unpickled = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: unpickled.append(str(f)) or real(f, *a, **k))
    code, _, err = run_main(predict_main, listed, "--pretrained", moved, "--out", tmp_path / "after.jsonl", *common)
    assert code == 0, err
    assert unpickled == []
    before = [json.loads(line) for line in (tmp_path / "before.jsonl").read_text().splitlines()]
    after = [json.loads(line) for line in (tmp_path / "after.jsonl").read_text().splitlines()]
    assert [line["video"] for line in after] == [line["video"] for line in before] == [str(v) for v in videos]
    for old, new in zip(before, after):
        old, new = ({p["label"]: p["probability"] for p in line["predictions"]} for line in (old, new))
        assert old.keys() == new.keys() == set(labels.read_text().splitlines())
        assert all(abs(old[k] - new[k]) <= 1e-6 for k in old), (old, new)


def test_a_format_1_folder_loads_where_its_clip_weights_are_and_says_what_to_do_where_not(trained, exported, task, tmp_path):
    """A folder alt-export wrote before clip.safetensors (format 1) names the CLIP weights its text tower comes from."""
    old = tmp_path / "format-1"
    old.mkdir()
    for name in FORMAT_1_FILES:
        shutil.copy(exported / name, old / name)
    meta = json.loads((old / "config.json").read_text())
    weights = tmp_path / "weights" / "clip.pt"
    weights.parent.mkdir()
    shutil.copy(task.root / "clip.pt", weights)
    meta.update(format_version=1, clip={"model": "alt-tiny-vit", "open_clip_model": "alt-tiny-vit", "pretrained": str(weights)})
    (old / "config.json").write_text(json.dumps(meta))
    new, _, _ = from_pretrained(exported)
    loaded, _, _ = from_pretrained(old)
    video = _views(new, load_trained(trained / "best.pt")[1])[:2]
    with torch.no_grad():
        assert torch.equal(loaded(video, ["a new label", "another"]).logits, new(video, ["a new label", "another"]).logits)
    weights.unlink()
    with pytest.raises(ModelError) as exc:
        from_pretrained(old)
    message = str(exc.value)
    assert message.startswith(f"{weights}: CLIP weights not found (the model folder {old} is of format 1") and "\n" not in message
    assert "'alt-export CKPT DIR'" in message and "pass DIR to --pretrained" in message and "to --checkpoint" in message
    assert "file to --pretrained" not in message


def test_a_checkpoint_whose_clip_weights_are_gone_names_the_fix_of_alt_predict(trained, task, run_main, tmp_path):
    """Not load_clip's 'pass an existing .pt file to --pretrained' (CLIP weights in corpus embed): alt-predict's
    --pretrained takes a model folder."""
    bundle = CorpusBundle.load(task.corpus)
    bundle.pretrained = str(tmp_path / "gone" / "clip.pt")
    bundle.save(tmp_path / "corpus.pt")
    code, _, err = run_main(predict_main, real_clips()["bikes.mp4"], "--checkpoint", trained / "best.pt", "--corpus",
                            tmp_path / "corpus.pt", "--workers", 0)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{tmp_path / 'gone' / 'clip.pt'}: CLIP weights not found ({trained / 'best.pt'} reads CLIP's frozen text tower" in err
    assert f"'alt-export {trained / 'best.pt'} DIR' and load that with --pretrained DIR" in err
    assert "file to --pretrained" not in err


def test_loading_a_folder_unpickles_nothing(exported, monkeypatch):
    """Nothing goes through torch.load: not the folder's files, nor the CLIP weights (the folder carries their frozen part)."""
    loaded_paths = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: loaded_paths.append(str(f)) or real(f, *a, **k))
    from_pretrained(exported)
    assert loaded_paths == []


def _edited(exported, tmp_path, edit) -> object:
    folder = tmp_path / "edited"
    shutil.copytree(exported, folder)
    meta = json.loads((folder / "config.json").read_text())
    edit(meta)
    (folder / "config.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["config"]["model"].update(adapter_depth=1), "weights do not fit this model (missing [], unexpected ['adapter.blocks.1."),
    (lambda m: m["config"]["model"].update(adapter_width="joint"), "size mismatch for"),
    (lambda m: m["config"]["model"].update(temporal_conv=False), "unexpected ['adapter."),
    (lambda m: m.update(arch="xclip"), "a model of architecture 'xclip', not 'alt'"),
    (lambda m: m.update(format_version=9), "format version 9 is not one this toolkit reads"),
    (lambda m: m.pop("format"), "not an ALT model folder"),
])
def test_a_folder_of_another_model_shape_fails_in_one_line(exported, tmp_path, edit, message):
    folder = _edited(exported, tmp_path, edit)
    with pytest.raises(ModelError) as exc:
        from_pretrained(folder)
    assert message in str(exc.value) and "\n" not in str(exc.value)
    if "weights do not fit" in message or "size mismatch" in message:
        assert "model.safetensors and config.json describe different models" in str(exc.value)


def test_a_failed_export_leaves_no_folder_and_keeps_the_old_one(trained, tmp_path, monkeypatch):
    import safetensors.torch

    target = tmp_path / "model"
    real = safetensors.torch.save_file

    def failing(tensors, filename, metadata=None):
        real(tensors, filename, metadata)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", failing)
    with pytest.raises(Failed, match=f"no space left on device writing {target}$"):  # one line, not a traceback
        export_checkpoint(trained / "best.pt", target)
    assert list(tmp_path.iterdir()) == []  # no folder, no temporary sibling
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    export_checkpoint(trained / "best.pt", target)
    before = {name: (target / name).read_bytes() for name in FILES}
    monkeypatch.setattr(safetensors.torch, "save_file", failing)
    with pytest.raises(Failed, match="no space left on device"):
        export_checkpoint(trained / "best.pt", target)
    assert {name: (target / name).read_bytes() for name in FILES} == before and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_save_pretrained_from_a_model_in_memory(trained, exported, task, tmp_path):
    from alt_common.bundle import CorpusBundle

    model, cfg, state = load_trained(trained / "best.pt")
    folder = save_pretrained(model, cfg, tmp_path / "again", corpus=CorpusBundle.load(task.corpus), labels=state["labels"],
                             corpus_path=task.corpus)
    for name in ("model.safetensors", "corpus.safetensors", "clip.safetensors"):  # the same bytes as alt-export's
        assert (folder / name).read_bytes() == (exported / name).read_bytes()
    assert json.loads((folder / "config.json").read_text()) == json.loads((exported / "config.json").read_text())
    assert load_model(folder)[2] == load_model(trained / "best.pt")[2] == state["labels"]


def test_export_cli_and_eval_of_the_folder(trained, exported, task, run_main, tmp_path):
    code, out, err = run_main(export_main, trained / "best.pt", tmp_path / "shared")
    assert code == 0, err
    assert "clip.safetensors, config.json, corpus.safetensors, model.safetensors" in out
    code, out, err = run_main(export_main, trained / "best.pt", tmp_path / "shared")  # an export folder is replaced
    assert code == 0, err
    code, _, err = run_main(eval_main, "--pretrained", tmp_path / "shared", "--out", tmp_path / "nolist", "--workers", 0)
    assert code == 2 and "pass --val-list" in err, err  # the run's lists are paths of the machine it ran on, not the folder's
    metrics = {}
    for flag, source in (("--checkpoint", trained / "best.pt"), ("--pretrained", tmp_path / "shared")):
        code, out, err = run_main(eval_main, flag, source, "--out", tmp_path / flag.strip("-"), "--workers", 0,
                                  "--val-list", task.val, "--video-root", task.root)
        assert code == 0, err
        metrics[flag] = json.loads((tmp_path / flag.strip("-") / "metrics.json").read_text())
    assert metrics["--pretrained"] == metrics["--checkpoint"] and metrics["--pretrained"]["videos"] == 12


@pytest.mark.parametrize("args, message", [
    (["--checkpoint", "{ckpt}", "--pretrained", "{folder}"], "pass one of --checkpoint CKPT (alt-train) and --pretrained DIR"),
    (["--pretrained", "{ckpt}"], "it takes a model folder written by alt-export"),
    (["--checkpoint", "{folder}"], "a folder, but not a released X-CLIP"),
    (["--pretrained", "{folder}", "--shots", "2"], "--shots fine-tunes from an alt-train checkpoint"),
])
def test_eval_takes_exactly_one_model(trained, exported, run_main, args, message):
    args = [a.format(ckpt=trained / "best.pt", folder=exported) for a in args]
    code, _, err = run_main(eval_main, *args, "--workers", 0)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_clip_weights_that_fp16_holds_exactly_are_kept_in_half_the_bytes():
    """OpenAI's CLIP weights were published in fp16: clip.safetensors keeps such tensors in fp16 and loads them back to
    the same fp32 numbers; a tensor fp16 would round stays fp32. The image tower is left to the model's own weights."""
    from open_clip.model import get_model_preprocess_cfg
    from tiny import TINY_VIT, make_clip

    from alt_common.clip import clip_from_state, clip_preprocess, frozen_clip_state, uses_quick_gelu

    clip = make_clip(TINY_VIT)
    with torch.no_grad():
        clip.token_embedding.weight.copy_(clip.token_embedding.weight.half().float())
    state = frozen_clip_state(clip)
    assert not [k for k in state if k.startswith("visual.")]
    assert state["token_embedding.weight"].dtype == torch.float16 and state["positional_embedding"].dtype == torch.float32
    preprocess = clip_preprocess(clip) | {"mean": [0.5, 0.5, 0.5]}
    rebuilt, _, provenance = clip_from_state(TINY_VIT, state, activation="gelu", preprocess=preprocess)
    theirs, ours = clip.state_dict(), rebuilt.state_dict()
    assert all(torch.equal(theirs[k], ours[k]) and ours[k].dtype == theirs[k].dtype for k in state)
    assert get_model_preprocess_cfg(rebuilt)["mean"] == (0.5, 0.5, 0.5) and provenance["activation"] == "gelu"
    assert uses_quick_gelu(clip_from_state(TINY_VIT, state, activation="quick_gelu")[0])  # as the weights were trained
    with pytest.raises(UserError, match="activation 'silu' is not"):
        clip_from_state(TINY_VIT, state, activation="silu")
    with pytest.raises(UserError, match="not weights of alt-tiny-vit"):
        clip_from_state(TINY_VIT, {**state, "text_projection": torch.zeros(3, 3)}, activation="gelu")
