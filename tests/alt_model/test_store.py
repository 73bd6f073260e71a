"""`alt-data pack` and `ClipStore` (issue 33) on real videos of the synthetic task: the frames read back from a store
are the video's (within JPEG's error) at the stored index nearest each asked for; the files follow their schema and
webdataset reads the shards; unreadable videos, corrupt members, resuming, other settings and Ctrl-C."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from contextlib import redirect_stderr
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image

from alt_model.data import tsn_indices
from alt_model.decode import read_clips
from alt_model.errors import ModelError
from alt_model.store import ClipStore, snap, stored_indices
from alt_model.store_cli import main
from alt_model.synthetic import CLASSES, write_videos

FRAMES = 40  # per video: more than the 8 × 4 frames a default store keeps, so the reader has to snap
LABELS = [c.name for c in CLASSES]
SCRIPT = "import sys; from alt_model.store_cli import main; sys.argv[0] = 'alt-data'; main()"  # the console script, unbuilt
BROKEN_ROW = 3


def alt_data(*args: object) -> tuple[int, str]:
    """Run alt-data in this process: (exit code, stderr)."""
    err = io.StringIO()
    with mock.patch.object(sys, "argv", ["alt-data", *map(str, args)]), redirect_stderr(err), pytest.raises(SystemExit) as done:
        main()
    return done.value.code, err.getvalue()


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> Path:
    """8 training videos of 40 frames, 64 px, and `broken.csv`: the same list with a file of garbage as row 3."""
    root = write_videos(tmp_path_factory.mktemp("store-task"), train_per_class=2, val_per_class=1, frames=FRAMES)
    (root / "videos" / "broken.mp4").write_bytes(b"not a video at all\n" * 64)
    rows = (root / "train.csv").read_text().splitlines()
    rows.insert(1 + BROKEN_ROW, f"videos/broken.mp4,{LABELS[0]}")
    (root / "broken.csv").write_text("\n".join(rows) + "\n")
    return root


def pack_args(task: Path, listed: str = "train.csv") -> list[object]:
    return ["pack", task / listed, "-l", task / "labels.txt", "--video-root", task, "--short-side", "64", "--workers", "2"]


@pytest.fixture(scope="module")
def every_frame(task, tmp_path_factory) -> Path:
    """A store of every frame (8 segments × 5 = 40) at the videos' own size, JPEG quality 100."""
    out = tmp_path_factory.mktemp("every-frame") / "store"
    code, err = alt_data(*pack_args(task), "--per-segment", "5", "--quality", "100", "-o", out)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def packed(task, tmp_path_factory) -> tuple[Path, str]:
    """The default 8 × 4 frames of broken.csv's 9 rows, 4 a shard: (the store, alt-data's stderr)."""
    out = tmp_path_factory.mktemp("default") / "store"
    code, err = alt_data(*pack_args(task, "broken.csv"), "--per-shard", "4", "-o", out)
    assert code == 0, err
    return out, err


def member(tar: Path, name: str) -> bytes:
    with tarfile.open(tar) as archive:
        return archive.extractfile(name).read()


# ---------------------------------------------------------------------------------------------- frames kept and read


def test_stored_indices_are_tsn_centres_with_one_a_segment_and_the_formula_otherwise():
    for n in range(1, 300):
        for segments in (1, 3, 8, 16):
            assert stored_indices(n, segments, 1) == sorted(set(tsn_indices(n, segments)[0].tolist())), (n, segments)
            for per_segment in (2, 4):
                formula = {min(n - 1, int(k * n / segments + (j + 0.5) * n / (segments * per_segment)))
                           for k in range(segments) for j in range(per_segment)}
                assert stored_indices(n, segments, per_segment) == sorted(formula), (n, segments, per_segment)
    assert stored_indices(5, 8, 4) == [0, 1, 2, 3, 4]  # a short video keeps every frame it has


def test_snap_takes_the_nearest_stored_frame_and_the_lower_on_a_tie():
    stored = np.array([2, 6, 10])
    assert snap(stored, np.array([[0, 4, 5], [8, 9, 12]])).tolist() == [[0, 0, 1], [1, 2, 2]]


def test_a_store_of_every_frame_reads_back_the_videos_frames(task, every_frame):
    store = ClipStore.open(every_frame)
    items = store.items(LABELS)
    assert [str(i.path) for i in items] == [line.split(",")[0] for line in (task / "train.csv").read_text().splitlines()[1:]]
    for number, item in enumerate(items):
        seen: dict[str, list[int]] = {"store": [], "video": []}

        def chooser(where: str, seed: int = number):
            rng = np.random.default_rng(seed)
            return lambda n: seen[where].append(n) or tsn_indices(n, 8, rng, clips=2)

        got = store.read_clips(item.path, chooser("store"))
        want = read_clips(task / item.path, chooser("video"))
        assert seen["store"] == seen["video"] == [FRAMES]
        assert got.shape == want.shape == (2, 8, 64, 64, 3) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).mean() <= 2, item.path


def test_a_default_store_returns_the_stored_frame_nearest_each_index(task, packed):
    out, _ = packed
    store = ClipStore.open(out)
    for item in store.items(LABELS):
        row = next(i for i, line in enumerate((task / "broken.csv").read_text().splitlines()[1:]) if line.startswith(f"{item.path},"))
        key, tar = f"{row:08d}", out / f"shard-{row // 4:06d}.tar"
        meta = json.loads(member(tar, f"{key}.json"))
        assert meta["indices"] == stored_indices(FRAMES, 8, 4) and len(meta["indices"]) == 32
        indices = tsn_indices(FRAMES, 8, np.random.default_rng(row))
        got = store.read_clips(item.path, lambda n: indices)
        for t, index in enumerate(indices[0]):
            nearest = min(meta["indices"], key=lambda s: (abs(s - index), s))
            jpeg = member(tar, f"{key}.{meta['indices'].index(nearest):04d}.jpg")
            assert np.array_equal(got[0, t], np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))), (item.path, index)


# ---------------------------------------------------------------------------------------------- the files


def test_the_files_follow_the_schema_and_webdataset_reads_the_shards(task, packed):
    import webdataset

    out, _ = packed
    store = json.loads((out / "store.json").read_text())
    assert set(store) == {"format", "version", "list", "labels", "labels_sha256", "video_root", "segments", "per_segment",
                          "short_side", "quality", "per_shard", "backend", "shards", "videos", "failed", "created", "toolkit",
                          "command"}
    assert store["format"] == "alt-clip-store" and store["version"] == 1 and store["list"]["rows"] == 9
    assert store["labels"] == LABELS and (store["segments"], store["per_segment"], store["short_side"]) == (8, 4, 64)
    assert store["shards"] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert (store["videos"], store["failed"], store["backend"]) == (8, 1, "pyav")
    assert store["command"].startswith("alt-data pack ") and "--per-shard 4" in store["command"]
    keys = []
    for name in store["shards"]:
        tar = out / name
        index = json.loads(tar.with_suffix(".json").read_text())
        assert index["shard"] == name and index["size"] == tar.stat().st_size
        with tarfile.open(tar) as archive:
            members = archive.getmembers()
            assert all(re.fullmatch(r"\d{8}\.(json|\d{4}\.jpg)", m.name) for m in members)
            assert {(m.mtime, m.uid, m.gid) for m in members} == {(0, 0, 0)}  # reproducible headers
            data = tar.read_bytes()
            for key, sample in index["samples"].items():
                offset, size = sample["json"]
                assert data[offset:offset + size] == archive.extractfile(f"{key}.json").read()
                assert len(sample["jpg"]) == len(sample["indices"]) == 32
                for j, (offset, size) in enumerate(sample["jpg"]):
                    assert data[offset:offset + size] == archive.extractfile(f"{key}.{j:04d}.jpg").read()
                meta = json.loads(archive.extractfile(f"{key}.json").read())
                assert meta == {"path": sample["path"], "label": LABELS[sample["label_id"]], "label_id": sample["label_id"],
                                "frames": FRAMES, "indices": sample["indices"], "height": 64, "width": 64}
        read = list(webdataset.WebDataset(str(tar), shardshuffle=False))
        assert [s["__key__"] for s in read] == list(index["samples"])
        assert all(set(s) - {"__key__", "__url__", "__local_path__"} == {"json", *(f"{j:04d}.jpg" for j in range(32))} for s in read)
        keys += list(index["samples"])
    assert keys == [f"{row:08d}" for row in range(9) if row != BROKEN_ROW]


def test_an_unreadable_video_is_listed_and_left_out(task, packed, caplog):
    out, err = packed
    assert err.strip().splitlines()[-1] == f"packed 8 of 9 videos into 3 shards in {out}; 1 could not be read ({out / 'failed.csv'})"
    rows = list(csv.reader((out / "failed.csv").read_text().splitlines()))
    assert rows[0] == ["row", "path", "error"] and len(rows) == 2
    assert rows[1][:2] == [str(BROKEN_ROW), "videos/broken.mp4"] and "cannot decode" in rows[1][2]
    index = json.loads((out / "shard-000000.json").read_text())
    assert [f["row"] for f in index["failed"]] == [BROKEN_ROW]
    with caplog.at_level(logging.WARNING, "alt_model.store"):
        items = ClipStore.open(out).items(list(reversed(LABELS)))  # label ids follow the texts, not the packed order
    assert len(items) == 8 and all(LABELS[3 - item.label] in str(item.path).replace("_", " ") for item in items)
    assert "1 of 9 listed videos were not packed" in caplog.text


def test_every_video_unreadable_fails(task, tmp_path):
    (tmp_path / "list.csv").write_text(f"path,label\nvideos/broken.mp4,{LABELS[0]}\n")
    code, err = alt_data("pack", tmp_path / "list.csv", "-l", task / "labels.txt", "--video-root", task, "-o", tmp_path / "store",
                         "--workers", "1")
    assert code == 1 and err.startswith("failed: none of the 1 videos could be read") and "videos/broken.mp4" in err, err
    assert not (tmp_path / "store" / "store.json").exists()


# ---------------------------------------------------------------------------------------------- reading errors


def test_a_corrupt_or_cut_short_member_is_a_model_error_naming_shard_and_key(packed, tmp_path):
    out = tmp_path / "store"
    shutil.copytree(packed[0], out)
    index = json.loads((out / "shard-000001.json").read_text())
    sample = index["samples"]["00000005"]
    offset, _ = sample["jpg"][2]
    with open(out / "shard-000001.tar", "r+b") as f:
        f.seek(offset)
        f.write(b"\0" * 16)
    store = ClipStore.open(out)
    path = sample["path"]
    with pytest.raises(ModelError, match=re.escape(f"{out / 'shard-000001.tar'}: 00000005.0002.jpg: cannot decode (")):
        store.read_clips(path, lambda n: np.array([sample["indices"][2]]))
    assert store.read_clips(path, lambda n: np.array([sample["indices"][3]])).shape == (1, 64, 64, 3)  # its other frames read
    last = index["samples"]["00000007"]
    os.truncate(out / "shard-000001.tar", last["jpg"][-1][0] + 10)
    with pytest.raises(ModelError, match=re.escape(f"{out / 'shard-000001.tar'}: 00000007.0031.jpg: cut short (")):
        store.read_clips(last["path"], lambda n: np.array([n - 1]))
    with pytest.raises(ModelError, match="shard-000001.tar: missing, or not the size its index says"):
        ClipStore.open(out)


def test_check_list_and_labels_outside_the_label_set(task, packed, tmp_path):
    store = ClipStore.open(packed[0])
    store.check_list(task / "broken.csv")
    edited = tmp_path / "broken.csv"
    edited.write_text((task / "broken.csv").read_text().replace("train_001", "train_000", 1))
    with pytest.raises(ModelError, match=re.escape(f"{packed[0]} was packed from another version of {edited}; pack it again")):
        store.check_list(edited)
    with pytest.raises(ModelError, match="label 'red square moving right' is not in the label set \\(3 labels\\)"):
        store.items(LABELS[1:])
    with pytest.raises(ModelError, match="no clip store here"):
        ClipStore.open(tmp_path)


# ---------------------------------------------------------------------------------------------- resuming and settings


def test_resume_redoes_only_missing_shards_into_the_same_bytes_as_a_fresh_pack(task, tmp_path):
    args = [*pack_args(task), "--short-side", "48", "--per-shard", "2"]  # 4 shards; frames resized
    fresh, resumed = tmp_path / "fresh", tmp_path / "resumed"
    done = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args), "-o", fresh], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "7"}, timeout=300)
    assert done.returncode == 0, done.stderr
    shutil.copytree(fresh, resumed)  # mtimes kept
    for name in ("store.json", "shard-000001.tar", "shard-000001.json", "shard-000002.json"):
        (resumed / name).unlink()
    (resumed / "shard-000002.tar").rename(resumed / "shard-000002.tar.partial")  # as a run killed while writing shard 2
    os.truncate(resumed / "shard-000002.tar.partial", 5000)
    with pytest.raises(ModelError, match=re.escape(f"{resumed} is not completely packed: 2 of 4 shards; run alt-data pack again")):
        ClipStore.open(resumed)
    kept = {name: (resumed / name).stat().st_mtime_ns for name in ("shard-000000.tar", "shard-000000.json", "shard-000003.tar")}
    code, err = alt_data(*args, "-o", resumed)
    assert code == 0, err
    assert {name: (resumed / name).stat().st_mtime_ns for name in kept} == kept
    assert not list(resumed.glob("*.partial"))
    shards = sorted(p.name for p in fresh.glob("shard-*"))
    assert len(shards) == 8 and sorted(p.name for p in resumed.glob("shard-*")) == shards
    for name in [*shards, "failed.csv", "pack.json"]:
        assert (resumed / name).read_bytes() == (fresh / name).read_bytes(), name
    frames = ClipStore.open(resumed).read_clips(Path("videos/red_square_moving_right/train_001.mp4"), lambda n: np.arange(3))
    assert frames.shape == (3, 48, 48, 3)


def test_other_settings_are_refused_and_force_repacks_the_store_alone(task, packed, tmp_path):
    out = tmp_path / "store"
    shutil.copytree(packed[0], out)
    (out / "notes.txt").write_text("the user's")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    args = [*pack_args(task, "broken.csv"), "--per-shard", "4"]
    code, err = alt_data(*args, "-o", out, "--short-side", "32")
    assert code == 2 and err == (f"error: {out} holds a clip store packed with other settings (short-side: 64 there, 32 here); pass "
                                 "a new --out, or --force to delete it and pack again\n")
    code, err = alt_data(*args, "-o", out, "--segments", "4", "--quality", "80")
    assert code == 2 and "(segments: 8 there, 4 here; quality: 90 there, 80 here)" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    code, err = alt_data(*args, "-o", out, "--short-side", "32", "--per-shard", "9", "--force")
    assert code == 0, err
    store = json.loads((out / "store.json").read_text())
    assert (store["short_side"], store["per_shard"], store["shards"]) == (32, 9, ["shard-000000.tar"])
    assert sorted(p.name for p in out.iterdir()) == ["failed.csv", "notes.txt", "pack.json", "shard-000000.json", "shard-000000.tar",
                                                     "store.json"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("the user's")
    code, err = alt_data(*args, "-o", other)
    assert code == 2 and f"{other} is not empty and holds no clip store" in err
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(("change", "message"), [
    ({"list": "missing.csv"}, "missing.csv: video list not found"),
    ({"list": "unknown.csv"}, "label 'flying saucer' is not in the label set"),
    ({"extra": ["--segments", "0"]}, "Invalid value for '--segments'"),
    ({"extra": ["--quality", "101"]}, "Invalid value for '--quality'"),
], ids=["missing-list", "unknown-label", "segments-0", "quality-101"])
def test_bad_input_is_one_line_and_writes_nothing(task, tmp_path, change, message):
    (tmp_path / "unknown.csv").write_text("path,label\nvideos/broken.mp4,flying saucer\n")
    out = tmp_path / "store"
    code, err = alt_data("pack", tmp_path / change.get("list", "unknown.csv") if "list" in change else task / "train.csv",
                         "-l", task / "labels.txt", "--video-root", task, "-o", out, *change.get("extra", []))
    assert code == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- Ctrl-C


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(entry))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the workers from /proc")
def test_ctrl_c_keeps_finished_shards_and_leaves_no_workers(task, tmp_path):
    rows = (task / "train.csv").read_text().splitlines()
    (tmp_path / "long.csv").write_text("\n".join([rows[0], *rows[1:] * 12]) + "\n")  # 96 rows, one a shard
    out = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, "pack", str(tmp_path / "long.csv"), "-l", str(task / "labels.txt"),
                                "--video-root", str(task), "-o", str(out), "--per-shard", "1", "--workers", "2",
                                "--short-side", "32"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "shard-000000.json").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        workers = children(process.pid)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    done = len(list(out.glob("shard-*.json")))
    assert process.returncode == 130, err
    assert err == f"interrupted: {done} of 96 shards packed in {out}; run the same command again to resume\n"
    assert 1 <= done < 96 and len(workers) >= 2
    assert not list(out.glob("*.partial")) and not list(out.glob(".*.tmp")) and not (out / "store.json").exists()
    deadline = time.monotonic() + 5  # multiprocessing's resource tracker leaves once it sees its parent gone
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]
    with pytest.raises(ModelError, match=re.escape(f"{out} is not completely packed: {done} of 96 shards")):
        ClipStore.open(out)
