"""alt_model/hub.py and `alt-export`: model folders (config.json, model.safetensors, corpus.safetensors) that
rebuild the trained model bit for bit, load without pickle, and are written atomically."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open
from videos import real_clips

from alt_common.io import file_sha256
from alt_model import ModelError
from alt_model.checkpoint import load_checkpoint, model_state
from alt_model.cli import eval_main
from alt_model.factory import load_trained
from alt_model.hub import FILES, export_checkpoint, from_pretrained, load_model, pretrained_corpus, save_pretrained
from alt_model.predict import Predictor, collate_videos
from alt_model.predict_cli import export_main


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
    assert (meta["format"], meta["format_version"], meta["arch"]) == ("alt-pretrained", 1, "alt")
    state = load_checkpoint(trained / "best.pt")
    corpus = torch.load(task.corpus, weights_only=True)
    assert meta["labels"] == state["labels"] and meta["config"] == state["config"]
    assert meta["clip"] == {"model": "alt-tiny-vit", "open_clip_model": "alt-tiny-vit", "pretrained": corpus["pretrained"]}
    assert meta["corpus"]["path"] == str(task.corpus.resolve()) and meta["corpus"]["sha256"] == file_sha256(task.corpus)
    assert meta["corpus"]["units"] == corpus["units"] and meta["corpus"]["categories"] == corpus["categories"]
    assert meta["corpus"]["corpus_sha256"] == corpus["corpus_sha256"] and meta["corpus"]["entities"] == len(corpus["units"])
    for name in ("model.safetensors", "corpus.safetensors"):
        assert (exported / name).read_bytes()[8:9] == b"{"  # a safetensors header (length, then JSON), not a pickle
    with safe_open(str(exported / "model.safetensors"), "pt") as f:
        assert set(f.keys()) == set(state["model"]) and "entities" not in f.keys()  # learned weights only, no corpus buffer
    bundle = pretrained_corpus(exported)
    assert torch.equal(bundle.embeddings, corpus["embeddings"]) and bundle.descriptions == corpus["descriptions"]


def test_loading_a_folder_unpickles_nothing_of_it(exported, monkeypatch):
    """The CLIP weights the corpus names still load as they always do; nothing in the folder goes through torch.load."""
    loaded_paths = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: loaded_paths.append(str(f)) or real(f, *a, **k))
    from_pretrained(exported)
    assert not [p for p in loaded_paths if str(exported) in p]


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
    with pytest.raises(OSError):
        export_checkpoint(trained / "best.pt", target)
    assert list(tmp_path.iterdir()) == []  # no folder, no temporary sibling
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    export_checkpoint(trained / "best.pt", target)
    before = {name: (target / name).read_bytes() for name in FILES}
    monkeypatch.setattr(safetensors.torch, "save_file", failing)
    with pytest.raises(OSError):
        export_checkpoint(trained / "best.pt", target)
    assert {name: (target / name).read_bytes() for name in FILES} == before and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_save_pretrained_from_a_model_in_memory(trained, exported, task, tmp_path):
    from alt_common.bundle import CorpusBundle

    model, cfg, state = load_trained(trained / "best.pt")
    folder = save_pretrained(model, cfg, tmp_path / "again", corpus=CorpusBundle.load(task.corpus), labels=state["labels"],
                             corpus_path=task.corpus)
    for name in ("model.safetensors", "corpus.safetensors"):  # the same bytes as alt-export's, from the checkpoint alone
        assert (folder / name).read_bytes() == (exported / name).read_bytes()
    assert json.loads((folder / "config.json").read_text()) == json.loads((exported / "config.json").read_text())
    assert load_model(folder)[2] == load_model(trained / "best.pt")[2] == state["labels"]


def test_export_cli_and_eval_of_the_folder(trained, exported, run_main, tmp_path):
    code, out, err = run_main(export_main, trained / "best.pt", tmp_path / "shared")
    assert code == 0, err
    assert "config.json, corpus.safetensors, model.safetensors" in out
    code, out, err = run_main(export_main, trained / "best.pt", tmp_path / "shared")  # an export folder is replaced
    assert code == 0, err
    metrics = {}
    for flag, source in (("--checkpoint", trained / "best.pt"), ("--pretrained", tmp_path / "shared")):
        code, out, err = run_main(eval_main, flag, source, "--out", tmp_path / flag.strip("-"), "--workers", 0)
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
