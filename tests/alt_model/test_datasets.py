"""alt-lists: the five datasets' annotation folders, written here in their published formats (CRLF, trailing spaces,
quoted CSV, JSON lists, a class absent from a split), into the toolkit's lists; the class order against the X-CLIP
label lists in ../shared; the videos found under a root in each layout; the bad-input contract."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alt_common.labels import normalize_label, read_labels
from alt_model.data import read_video_list
from alt_model.datasets import VideoFinder, read_dataset
from alt_model.lists_cli import main

K400_HEADER = "label,youtube_id,time_start,time_end,split"


def run_lists(run_main, *args) -> tuple[int, str, str]:
    return run_main(main, *args)


def rows(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        assert next(reader) == ["path", "label"]
        return [tuple(r) for r in reader]


def touch(root: Path, *paths: str) -> None:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def written(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------- Kinetics


@pytest.fixture
def kinetics(tmp_path) -> Path:
    """Kinetics-600's annotation files: quoted labels, both spellings of American football, a class only in validation."""
    folder = tmp_path / "kinetics600"
    folder.mkdir()
    (folder / "train.csv").write_text(
        f"{K400_HEADER}\n"
        '"passing american football (not in game)",--33Lscn6sk,4,14,train\n'
        '"abseiling",_7ZbAqmBk9A,120,130,train\n'
        '"passing American football (in game)",-Zz1xYq,0,10,train\n'
        '"abseiling",a1b2c3d4e5f,35,45,train\n', encoding="utf-8")
    (folder / "validate.csv").write_text(
        f"{K400_HEADER}\n"
        '"zumba",zz-top_0001,9,19,val\n'
        '"abseiling",q_q_q_q_q_q,100,110,val\n', encoding="utf-8")
    (folder / "test.csv").write_text("youtube_id,time_start,time_end,split\nabcdefghijk,0,10,test\n", encoding="utf-8")
    return folder


def test_kinetics_lists_the_canonical_paths_and_sorts_the_labels_as_released(kinetics, tmp_path, run_main):
    out = tmp_path / "lists"
    code, stdout, err = run_lists(run_main, "kinetics600", kinetics, "--out", out)
    assert code == 0, err
    assert (out / "labels.txt").read_text(encoding="utf-8").splitlines() == [  # Python's sort of the published names
        "abseiling", "passing american football (in game)", "passing american football (not in game)", "zumba"]
    assert rows(out / "train.csv") == [
        ("train/--33Lscn6sk_000004_000014.mp4", "passing american football (not in game)"),
        ("train/_7ZbAqmBk9A_000120_000130.mp4", "abseiling"),
        ("train/-Zz1xYq_000000_000010.mp4", "passing american football (in game)"),
        ("train/a1b2c3d4e5f_000035_000045.mp4", "abseiling")]
    assert rows(out / "val.csv") == [("val/zz-top_0001_000009_000019.mp4", "zumba"), ("val/q_q_q_q_q_q_000100_000110.mp4", "abseiling")]
    assert written(out) == ["labels.txt", "lists.json", "train.csv", "val.csv"]  # the unlabelled test.csv gives no list
    manifest = json.loads((out / "lists.json").read_text(encoding="utf-8"))
    assert manifest["videos"] == {"train": 4, "val": 2} and manifest["labels"] == 4 and manifest["missing"] is None
    assert [Path(a["path"]).name for a in manifest["annotations"]] == ["train.csv", "validate.csv"]
    assert "4 classes in labels.txt" in stdout


def test_kinetics_finds_each_layout_under_the_video_root_and_leaves_out_the_missing(kinetics, tmp_path, run_main):
    root = tmp_path / "videos"
    touch(root,
          "train/passing_american_football_not_in_game/--33Lscn6sk_000004_000014.mp4",  # mmaction's renamed class folders
          "train/abseiling/_7ZbAqmBk9A_000120_000130.mp4",
          "train/passing American football (in game)/-Zz1xYq_000000_000010.mkv",  # yt-dlp's container, the same stem
          "validate/zz-top_0001_000009_000019.mp4", "validate/q_q_q_q_q_q_000100_000110.mp4")  # flat, split named as its file
    out = tmp_path / "lists"
    code, _, err = run_lists(run_main, "kinetics600", kinetics, "--out", out, "--video-root", root)
    assert code == 0, err
    assert rows(out / "train.csv") == [
        ("train/passing_american_football_not_in_game/--33Lscn6sk_000004_000014.mp4", "passing american football (not in game)"),
        ("train/abseiling/_7ZbAqmBk9A_000120_000130.mp4", "abseiling"),
        ("train/passing American football (in game)/-Zz1xYq_000000_000010.mkv", "passing american football (in game)")]
    assert rows(out / "val.csv") == [("validate/zz-top_0001_000009_000019.mp4", "zumba"), ("validate/q_q_q_q_q_q_000100_000110.mp4", "abseiling")]
    assert "warning: 1 of 6 listed videos are not under" in err and "train 1: train/a1b2c3d4e5f_000035_000045.mp4" in err
    assert len(err.strip().splitlines()) == 1
    with open(out / "missing.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [["split", "path", "listed_at"], ["train", "train/a1b2c3d4e5f_000035_000045.mp4", f"{kinetics / 'train.csv'}:5"]]
    labels = read_labels([out / "labels.txt"])[0]
    items = read_video_list(out / "train.csv", root, labels)  # what alt-train reads: every path there, every label known
    assert [labels[i.label] for i in items] == [r[1] for r in rows(out / "train.csv")]
    touch(root, "train/abseiling/a1b2c3d4e5f_000035_000045.mp4")  # the video arrives: a re-run lists it, missing.csv goes
    code, _, err = run_lists(run_main, "kinetics600", kinetics, "--out", out, "--video-root", root)
    assert code == 0 and not err and len(rows(out / "train.csv")) == 4 and not (out / "missing.csv").exists()


def test_kinetics_test_csv_with_labels_gives_a_test_list(kinetics, tmp_path, run_main):
    (kinetics / "test.csv").write_text(f"{K400_HEADER}\n\"zumba\",abcdefghijk,0,10,test\n", encoding="utf-8")
    (kinetics / "validate.csv").rename(kinetics / "val.csv")  # the CVDF mirror's name
    out = tmp_path / "lists"
    assert run_lists(run_main, "kinetics600", kinetics, "--out", out)[0] == 0
    assert rows(out / "test.csv") == [("test/abcdefghijk_000000_000010.mp4", "zumba")]


@pytest.mark.parametrize("name", ["kinetics_400_labels.csv", "kinetics_600_labels.csv"])
def test_kinetics_class_order_is_the_released_label_lists(shared_labels, tmp_path, name):
    with open(shared_labels / name, newline="", encoding="utf-8") as f:
        released = [r["name"] for r in csv.DictReader(f)]
    folder = tmp_path / "ann"
    folder.mkdir()
    shuffled = released[1::2] + released[::2]
    lines = [K400_HEADER] + [f'"{label}",vid{i:08d},0,10,train' for i, label in enumerate(shuffled)]
    (folder / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "validate.csv").write_text(f'{K400_HEADER}\n"{released[0]}",v,0,10,val\n', encoding="utf-8")
    assert read_dataset("kinetics400", folder).labels == [normalize_label(n) for n in released]


# ---------------------------------------------------------------------------------------------- UCF-101


def crlf(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())


@pytest.fixture
def ucf(tmp_path) -> Path:
    """ucfTrainTestlist/ as published: CRLF, 1-based ids, the HandstandPushups/HandStandPushups spelling, YoYo only in split 2."""
    folder = tmp_path / "UCF101TrainTestSplits-RecognitionTask" / "ucfTrainTestlist"
    crlf(folder / "classInd.txt", ["1 ApplyEyeMakeup", "2 HandstandPushups", "3 YoYo"])
    crlf(folder / "trainlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "HandstandPushups/v_HandStandPushups_g08_c01.avi 2"])
    crlf(folder / "testlist01.txt", ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandstandPushups/v_HandStandPushups_g01_c01.avi"])
    crlf(folder / "trainlist02.txt", ["YoYo/v_YoYo_g01_c01.avi 3", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1"])
    crlf(folder / "testlist02.txt", ["YoYo/v_YoYo_g08_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"])
    return folder.parent


def test_ucf101_ids_count_from_one_and_test_lists_take_the_folders_class(ucf, tmp_path, run_main):
    out = tmp_path / "lists"
    code, stdout, err = run_lists(run_main, "ucf101", ucf, "--out", out)  # the folder above ucfTrainTestlist/ also works
    assert code == 0, err
    assert (out / "labels.txt").read_text(encoding="utf-8") == "apply eye makeup\nhandstand pushups\nyo yo\n"
    assert rows(out / "train.csv") == [("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "apply eye makeup"),
                                       ("HandstandPushups/v_HandStandPushups_g08_c01.avi", "handstand pushups")]
    assert rows(out / "val.csv") == [("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "apply eye makeup"),
                                     ("HandstandPushups/v_HandStandPushups_g01_c01.avi", "handstand pushups")]
    assert json.loads((out / "lists.json").read_text(encoding="utf-8"))["split"] == 1
    code, _, err = run_lists(run_main, "ucf101", ucf / "ucfTrainTestlist", "--out", out, "--split", "2")
    assert code == 0, err
    assert rows(out / "train.csv") == [("YoYo/v_YoYo_g01_c01.avi", "yo yo"), ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "apply eye makeup")]
    assert (out / "labels.txt").read_text(encoding="utf-8") == "apply eye makeup\nhandstand pushups\nyo yo\n"  # all classes, every split


def test_ucf101_finds_videos_whose_folder_is_spelt_in_another_case(ucf, tmp_path, run_main):
    root = tmp_path / "UCF-101"
    touch(root, "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "HandStandPushups/v_HandStandPushups_g08_c01.avi",
          "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "HandStandPushups/v_HandStandPushups_g01_c01.avi")
    out = tmp_path / "lists"
    code, _, err = run_lists(run_main, "ucf101", ucf, "--out", out, "--video-root", root, "--require-videos")
    assert code == 0, err
    assert rows(out / "train.csv")[1] == ("HandStandPushups/v_HandStandPushups_g08_c01.avi", "handstand pushups")
    labels = read_labels([out / "labels.txt"])[0]
    assert [i.label for i in read_video_list(out / "val.csv", root, labels)] == [0, 1]


def test_ucf101_class_order_is_classind(shared_labels, tmp_path):
    with open(shared_labels / "ucf_101_labels.csv", newline="", encoding="utf-8") as f:
        released = [r["name"] for r in csv.DictReader(f)]
    folder = tmp_path / "ucfTrainTestlist"
    crlf(folder / "classInd.txt", [f"{i + 1} {name}" for i, name in enumerate(released)])
    crlf(folder / "trainlist01.txt", [f"{name}/v_{name}_g08_c01.avi {i + 1}" for i, name in enumerate(released)])
    crlf(folder / "testlist01.txt", [f"{name}/v_{name}_g01_c01.avi" for name in released])
    lists = read_dataset("ucf101", folder)
    assert lists.labels == [normalize_label(n) for n in released] and len(set(lists.labels)) == 101
    assert [v.label for v in lists.splits["train"]] == lists.labels  # id i+1 is class i: no off-by-one


# ---------------------------------------------------------------------------------------------- HMDB-51


def hmdb_folder(root: Path, classes: dict[str, list[str]], splits: tuple[int, ...] = (1, 2, 3)) -> Path:
    folder = root / "testTrainMulti_7030_splits"
    folder.mkdir(parents=True)
    for cls, lines in classes.items():
        for n in splits:
            (folder / f"{cls}_test_split{n}.txt").write_text("".join(f"{line} \n" for line in lines), encoding="utf-8")
    return folder


def test_hmdb51_reads_the_flags_with_their_trailing_spaces(tmp_path, run_main):
    hmdb_folder(tmp_path / "ann", {
        "kick": ["kick_me_u_cm_np1_fr_goo_0.avi 1", "kick_you_u_cm_np1_fr_bad_1.avi 2", "kick_him_u_cm_np1_fr_med_2.avi 0"],
        "kick_ball": ["Goal_kick_ball_f_cm_np1_ba_med_0.avi 2"],  # a class absent from the training split
        "brush_hair": ["April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1"],
    })
    out = tmp_path / "lists"
    code, _, err = run_lists(run_main, "hmdb51", tmp_path / "ann", "--out", out, "--split", "3")
    assert code == 0, err
    assert (out / "labels.txt").read_text(encoding="utf-8") == "brush hair\nkick ball\nkick\n"  # HMDB-51's order, not a sort
    assert rows(out / "train.csv") == [("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi", "brush hair"),
                                       ("kick/kick_me_u_cm_np1_fr_goo_0.avi", "kick")]
    assert rows(out / "val.csv") == [("kick_ball/Goal_kick_ball_f_cm_np1_ba_med_0.avi", "kick ball"),
                                     ("kick/kick_you_u_cm_np1_fr_bad_1.avi", "kick")]
    assert json.loads((out / "lists.json").read_text(encoding="utf-8"))["annotations"][0]["path"].endswith("brush_hair_test_split3.txt")


def test_hmdb51_class_order_is_xclips_label_list(shared_labels, tmp_path):
    with open(shared_labels / "hmdb_51_labels.csv", newline="", encoding="utf-8") as f:
        released = [r["name"] for r in csv.DictReader(f)]
    hmdb_folder(tmp_path, {name.replace(" ", "_"): [f"{name.replace(' ', '_')}_0.avi 1"] for name in reversed(released)}, (1,))
    assert read_dataset("hmdb51", tmp_path).labels == released


# ---------------------------------------------------------------------------------------------- Something-Something V2


@pytest.fixture
def ssv2(tmp_path) -> Path:
    folder = tmp_path / "labels"
    folder.mkdir()
    labels = {"Pushing something from left to right": "1", "Approaching something with your camera": "0",
              "Putting something, something and something on the table": "2", "Pushing something from right to left": "3"}
    (folder / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")
    train = [{"id": "78687", "label": "pushing a pen from left to right", "template": "Pushing [something] from left to right",
              "placeholders": ["a pen"]},
             {"id": "42326", "label": "putting a cup, a spoon and a bowl on the table",
              "template": "Putting [something], [something] and [something] on the table", "placeholders": ["a cup", "a spoon", "a bowl"]}]
    (folder / "train.json").write_text(json.dumps(train, indent=1), encoding="utf-8")
    val = [{"id": "1", "label": "approaching a door with your camera", "template": "Approaching [something] with your camera",
            "placeholders": ["a door"]}]
    (folder / "validation.json").write_text(json.dumps(val, indent=1), encoding="utf-8")
    return tmp_path


def test_ssv2_classes_are_the_templates_without_brackets_in_id_order(ssv2, tmp_path, run_main):
    out = tmp_path / "lists"
    code, _, err = run_lists(run_main, "ssv2", ssv2, "--out", out)
    assert code == 0, err
    assert (out / "labels.txt").read_text(encoding="utf-8").splitlines() == [
        "approaching something with your camera", "pushing something from left to right",
        "putting something, something and something on the table", "pushing something from right to left"]
    assert rows(out / "train.csv") == [("78687.webm", "pushing something from left to right"),
                                       ("42326.webm", "putting something, something and something on the table")]
    assert rows(out / "val.csv") == [("1.webm", "approaching something with your camera")]
    labels = read_labels([out / "labels.txt"])[0]
    assert len(labels) == 4  # the label with commas stays one label


# ---------------------------------------------------------------------------------------------- bad input


def _corrupt(folder: Path, name: str, old: str, new: str) -> Path:
    path = next(folder.rglob(name))
    path.write_bytes(path.read_bytes().replace(old.encode(), new.encode()))
    return path


@pytest.mark.parametrize("dataset, fixture, name, old, new, message", [
    ("ucf101", "ucf", "trainlist01.txt", "v_HandStandPushups_g08_c01.avi 2", "v_HandStandPushups_g08_c01.avi 102",
     "trainlist01.txt:2: class id 102 is not in classInd.txt (1..3)"),
    ("ucf101", "ucf", "trainlist01.txt", "HandstandPushups/v_HandStandPushups_g08_c01.avi 2", "HandstandPushups/v_HandStandPushups_g08_c01.avi 1",
     "trainlist01.txt:2: HandstandPushups/v_HandStandPushups_g08_c01.avi is listed as class 1 (ApplyEyeMakeup)"),
    ("ucf101", "ucf", "classInd.txt", "3 YoYo", "3 YoYo extra", "classInd.txt:3: expected 'ID ClassName'"),
    ("ucf101", "ucf", "testlist01.txt", "HandstandPushups/", "Handstand/", "testlist01.txt:2: the folder of Handstand/"),
    ("ucf101", "ucf", "trainlist01.txt", "g08_c01.avi 1", "g08_c01.avi one", "trainlist01.txt:1: class id 'one' is not a whole number"),
    ("ssv2", "ssv2", "validation.json", "Approaching [something]", "Approaching [something] slowly",
     "validation.json:3: template 'Approaching something slowly with your camera' is not in labels.json"),
    ("ssv2", "ssv2", "train.json", '"id": "42326"', '"id": "x"', "train.json:11: expected an entry with 'id' and 'template'"),
    ("ssv2", "ssv2", "train.json", '"id": "42326"', '"vid": "42326"', "train.json:10: expected an entry with 'id' and 'template'"),
    ("ssv2", "ssv2", "labels.json", '"2"', '"two"', "labels.json:4: class id 'two' of 'Putting something"),
    ("ssv2", "ssv2", "train.json", '"placeholders"', '"placeholders" ', None),  # still valid JSON: a control, no error
    ("ssv2", "ssv2", "labels.json", "}", ",}", "labels.json:6: not valid JSON"),
    ("kinetics600", "kinetics", "validate.csv", "zz-top_0001,9,", "zz-top_0001,nine,", "validate.csv:2: time_start 'nine' is not a whole number"),
    ("kinetics600", "kinetics", "train.csv", '"abseiling",_7Zb', ',_7Zb', "train.csv:3: row has no value in the 'label' column"),
])
def test_bad_annotations_are_one_line_naming_file_and_line_and_nothing_is_written(request, tmp_path, run_main, dataset, fixture,
                                                                                  name, old, new, message):
    folder = request.getfixturevalue(fixture)
    path = _corrupt(folder, name, old, new)
    out = tmp_path / "lists"
    code, stdout, err = run_lists(run_main, dataset, folder, "--out", out)
    if message is None:
        assert code == 0, err
        return
    assert code == 2 and err.startswith(f"error: {path.parent}") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and not written(out)


def test_hmdb51_bad_flag_and_missing_split_file(tmp_path, run_main):
    folder = hmdb_folder(tmp_path / "ann", {"kick": ["a.avi 1", "b.avi 3"], "wave": ["c.avi 2"]})
    code, _, err = run_lists(run_main, "hmdb51", tmp_path / "ann", "--out", tmp_path / "lists")
    assert code == 2 and f"{folder / 'kick_test_split1.txt'}:2: expected 'video.avi 1|2|0'" in err
    (folder / "kick_test_split1.txt").write_text("a.avi 1\n", encoding="utf-8")
    (folder / "wave_test_split2.txt").unlink()
    code, _, err = run_lists(run_main, "hmdb51", tmp_path / "ann", "--out", tmp_path / "lists", "--split", "2")
    assert code == 2 and "no wave_test_split2.txt (1 classes lack split 2)" in err and not written(tmp_path / "lists")


@pytest.mark.parametrize("args, message", [
    (["ucf101", "{empty}"], "{empty}: no classInd.txt here or in ucfTrainTestlist/; pass the folder UCF-101's ucfTrainTestlist.zip unpacks to"),
    (["ssv2", "{empty}"], "no labels.json or something-something-v2-labels.json here or in labels/"),
    (["kinetics400", "{empty}/nowhere"], "{empty}/nowhere: not found; pass the folder the dataset's annotation archive unpacks to"),
    (["hmdb51", "{empty}"], "no {class}_test_split1.txt files here or in testTrainMulti_7030_splits/"),
    (["ucf101", "{ucf}", "--split", "4"], "--split 4: ucf101 has official splits 1..3"),
    (["ssv2", "{empty}", "--split", "1"], "--split 1: ssv2 has one official train/validation split; drop --split"),
    (["ucf101", "{ucf}", "--require-videos"], "--require-videos checks the videos under --video-root"),
    (["ucf101", "{ucf}", "--video-root", "{empty}/none"], "--video-root {empty}/none: not found"),
    (["ucf101", "{ucf}", "--video-root", "{empty}"], "none of the 2 train videos is under {empty} (the first would be "
                                                     "{empty}/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi)"),
    (["ucf101", "{ucf}", "--video-root", "{partial}", "--require-videos"], "2 of 4 listed videos are not under {partial} (train 1, val 1: "),
])
def test_bad_options_and_folders(ucf, tmp_path, run_main, args, message):
    empty, partial = tmp_path / "empty", tmp_path / "partial"
    empty.mkdir()
    touch(partial, "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi")
    fill = {"empty": empty, "ucf": ucf, "partial": partial, "class": "{class}"}
    out = tmp_path / "lists"
    code, _, err = run_lists(run_main, *[a.format(**fill) for a in args], "--out", out)
    assert code == 2 and message.format(**fill) in err, err
    assert len(err.strip().splitlines()) == 1 and not written(out)


def test_out_in_the_annotation_folder_never_overwrites_kinetics_train_csv(kinetics, run_main):
    before = (kinetics / "train.csv").read_bytes()
    code, _, err = run_lists(run_main, "kinetics600", kinetics, "--out", kinetics)
    assert code == 2 and f"{kinetics / 'train.csv'}: is an input of this command and --out would overwrite it" in err
    assert (kinetics / "train.csv").read_bytes() == before and not (kinetics / "labels.txt").exists()


# ---------------------------------------------------------------------------------------------- the finder, reproducibility


def test_video_finder_prefers_the_exact_name(tmp_path):
    touch(tmp_path, "a/Clip.avi", "a/clip.avi", "a/other.mp4", "B_c/x.mp4")
    finder = VideoFinder(tmp_path)
    assert finder.find("a/clip.avi") == "a/clip.avi" and finder.find("a/Clip.avi") == "a/Clip.avi"
    assert finder.find("A/CLIP.AVI") in ("a/Clip.avi", "a/clip.avi") and finder.find("a/other.webm") == "a/other.mp4"
    assert finder.find("b c/x.mp4") == "B_c/x.mp4" and finder.find("a/none.avi") is None and finder.find("z/clip.avi") is None


def test_the_same_lists_in_two_processes_with_other_hash_seeds(kinetics, tmp_path):
    root = tmp_path / "videos"
    touch(root, *(f"train/{label}/{name}" for label, name in [
        ("abseiling", "_7ZbAqmBk9A_000120_000130.mp4"), ("abseiling", "a1b2c3d4e5f_000035_000045.mp4"),
        ("passing American football (in game)", "-Zz1xYq_000000_000010.mp4")]), "val/zz-top_0001_000009_000019.mp4")
    outputs = []
    for seed in ("0", "12345"):
        out = tmp_path / f"lists{seed}"
        code = subprocess.run([sys.executable, "-c", "from alt_model.lists_cli import main; main()", "kinetics600", str(kinetics),
                               "--out", str(out), "--video-root", str(root)], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True).returncode
        assert code == 0
        outputs.append({name: (out / name).read_bytes() for name in written(out)})
    assert outputs[0] == outputs[1] and set(outputs[0]) == {"labels.txt", "lists.json", "missing.csv", "train.csv", "val.csv"}
