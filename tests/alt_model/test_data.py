"""alt_model/data.py on real video files: list files, TSN indices, PyAV decoding, transforms, bad inputs."""

from __future__ import annotations

import logging

import av
import numpy as np
import pytest
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

from alt_model import ModelError
from alt_model.data import (SCALES, VideoDataset, VideoItem, collate, multiscale_box, read_clips,
                            read_video_list, sample_shots, eval_transform, train_transform, tsn_indices)
from alt_model.synthetic import CLASSES

LABELS = [c.name for c in CLASSES]


def _all_frames(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_training_indices_take_one_random_frame_per_segment():
    rng = np.random.default_rng(0)
    for _ in range(20):
        idx = tsn_indices(32, 8, rng)[0]
        assert idx.shape == (8,) and all(4 * i <= f < 4 * (i + 1) for i, f in enumerate(idx))
    assert not np.array_equal(tsn_indices(32, 8, np.random.default_rng(1)), tsn_indices(32, 8, np.random.default_rng(2)))


def test_test_indices_are_segment_centres_and_clips_spread_inside_segments():
    assert tsn_indices(32, 8).tolist() == [[2, 6, 10, 14, 18, 22, 26, 30]]
    two = tsn_indices(32, 8, clips=2)
    assert two[0].tolist() == [1, 5, 9, 13, 17, 21, 25, 29] and two[1].tolist() == [3, 7, 11, 15, 19, 23, 27, 31]
    assert tsn_indices(4, 8).tolist() == [[0, 0, 1, 1, 2, 2, 3, 3]]  # short video: frames repeat, in order


def test_decoding_returns_the_frames_at_the_sampled_indices(task):
    path = sorted(task.root.glob("videos/*/train_000.mp4"))[0]
    frames = _all_frames(path)
    clips = read_clips(path, lambda n: tsn_indices(n, 8, clips=2))
    assert len(frames) == 16 and clips.shape == (2, 8, 64, 64, 3) and clips.dtype == np.uint8
    np.testing.assert_array_equal(clips[1], frames[tsn_indices(16, 8, clips=2)[1]])


def test_csv_and_xclip_lists_give_the_same_videos(task, tmp_path):
    csv_items = read_video_list(task.train, task.root, LABELS)
    lines = [f"{item.path.relative_to(task.root)} {item.label}" for item in csv_items]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    assert read_video_list(tmp_path / "train.txt", task.root, LABELS) == csv_items
    assert len(csv_items) == 24 and sorted({i.label for i in csv_items}) == [0, 1, 2, 3]


@pytest.mark.parametrize("content, message", [
    ("path,label\nvideos/a.mp4,juggling fire\n", "label 'juggling fire' is not in the label set"),
    ("videos/a.mp4 7\n", "label id 7 is outside 0..3"),
    ("path,label\n", "no videos listed"),
    ("", "no videos listed"),
    ("videos/a.mp4\n", "expected 'path label_id'"),
])
def test_bad_list_files_are_one_line_errors(task, tmp_path, content, message):
    (tmp_path / "list.csv").write_text(content)
    with pytest.raises(ModelError, match=message) as exc:
        read_video_list(tmp_path / "list.csv", task.root, LABELS)
    assert "\n" not in str(exc.value)


def test_missing_videos_stop_the_run_unless_skipped(task, tmp_path, caplog):
    rows = task.train.read_text().splitlines() + [f"videos/gone.mp4,{LABELS[0]}"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ModelError, match=r"1 of 25 videos .* missing .*gone.mp4.*data.skip_missing=true"):
        read_video_list(tmp_path / "list.csv", task.root, LABELS)
    with caplog.at_level(logging.WARNING, logger="alt_model"):
        assert len(read_video_list(tmp_path / "list.csv", task.root, LABELS, skip_missing=True)) == 24
    assert "gone.mp4" in caplog.text
    with pytest.raises(ModelError, match="video list not found"):
        read_video_list(tmp_path / "nope.csv", task.root, LABELS)


def test_labels_outside_a_subset_are_dropped_when_asked(task):
    items = read_video_list(task.val, task.root, LABELS[2:], drop_unknown=True)
    assert len(items) == 6 and {i.label for i in items} == {0, 1}


def test_a_corrupt_video_is_logged_skipped_and_counted(task, tmp_path, caplog):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    good = read_video_list(task.val, task.root, LABELS)[0]
    dataset = VideoDataset([good, VideoItem(bad, 1)], frames=8, size=64, train=True)
    with caplog.at_level(logging.WARNING, logger="alt_model"):
        batch = collate([dataset[0], dataset[1]])
    assert batch.failed == 1 and batch.video.shape == (1, 8, 3, 64, 64) and batch.labels.tolist() == [good.label]
    assert "bad.mp4" in caplog.text and "skipped" in caplog.text
    assert collate([None]).failed == 1 and len(collate([None]).labels) == 0


def test_multiscale_boxes_use_the_scales_and_stay_inside_the_frame():
    rng = np.random.default_rng(0)  # a frame resized to shorter side int(256 / 224 · 64) = 73; the sides snap to 64 within 3
    sides = {64 if abs(int(73 * s) - 64) < 3 else int(73 * s) for s in SCALES}
    for _ in range(200):
        top, left, h, w = multiscale_box(73, 97, 64, rng)
        assert top >= 0 and left >= 0 and top + h <= 73 and left + w <= 97 and {h, w} <= sides


def test_train_transform_is_a_coherent_normalised_clip():
    frames = np.random.default_rng(0).integers(0, 256, (8, 48, 80, 3), dtype=np.uint8)
    x = train_transform(frames, 32, np.random.default_rng(3))
    assert x.shape == (8, 3, 32, 32)
    again = train_transform(frames, 32, np.random.default_rng(3))
    assert torch.equal(x, again)  # a function of the generator: the same seed, the same crop and flip, bit for bit
    other = train_transform(frames, 32, np.random.default_rng(4))
    assert (x - other).abs().max() > 1.0  # and the generator does choose: another seed, another crop or flip
    grey = np.full((8, 48, 80, 3), 128, np.uint8)
    expected = (128 / 255 - torch.tensor(OPENAI_DATASET_MEAN)) / torch.tensor(OPENAI_DATASET_STD)
    torch.testing.assert_close(train_transform(grey, 32, np.random.default_rng(0))[:, :, 5, 5], expected.expand(8, 3))


def test_eval_transform_centre_and_three_crops():
    frames = np.zeros((4, 64, 128, 3), np.uint8)
    frames[..., :10, :] = 255  # a white band on the left edge
    one, three = eval_transform(frames, 64, 1), eval_transform(frames, 64, 3)
    assert one.shape == (1, 4, 3, 64, 64) and three.shape == (3, 4, 3, 64, 64)
    middle = torch.from_numpy(frames[:, :, 32:96]).permute(0, 3, 1, 2).float() / 255  # 3 crops span 64 x 128 at x = 0, 32, 64
    mean, std = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1), torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(three[1], (middle - mean) / std)
    assert three[0].mean() > three[2].mean()  # the first crop takes the left edge
    with pytest.raises(ModelError, match="1 or 3 spatial crops"):
        eval_transform(frames, 64, 2)


def test_dataset_augmentation_depends_on_seed_epoch_and_index_only(task):
    items = read_video_list(task.train, task.root, LABELS)[:2]
    a = VideoDataset(items, 8, 64, train=True, seed=5)
    b = VideoDataset(items, 8, 64, train=True, seed=5)
    assert torch.equal(a[1][0], b[1][0]) and torch.equal(a[1][0], b[(0, 1)][0])
    assert (a[1][0] - b[(1, 1)][0]).abs().max() > 1.0  # another epoch: other frames and crops, not rounding
    views = VideoDataset(items, 8, 64, train=False, clips=2, crops=3)[0][0]
    assert views.shape == (6, 8, 3, 64, 64)


def test_k_shot_sampling_is_deterministic_per_seed(task):
    items = read_video_list(task.train, task.root, LABELS)
    two = sample_shots(items, 2, seed=0)
    assert len(two) == 8 and all(sum(i.label == c for i in two) == 2 for c in range(4))
    assert sample_shots(items, 2, seed=0) == two and sample_shots(items, 2, seed=1) != two
    with pytest.raises(ModelError, match="fewer than 7 training videos"):
        sample_shots(items, 7, seed=0)
