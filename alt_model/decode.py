"""Video decoding (DESIGN §2: the decoding backends of `data`, in a module of their own): one entry point, `read_frames`
and `read_clips`, over PyAV, decord or torchcodec.

Training, evaluation, alt-predict and alt-explain all read frames here (through `data.VideoDataset` or
directly); the backend is `data.backend` (`auto`: the first installed of `AUTO_ORDER`). Every backend
gives uint8 RGB frames [n, H, W, 3], counts the frames itself, and turns whatever its library raises
on a file it cannot read into `ModelError`, which the dataset logs, skips and counts.

- **pyav** (always installed) reads the packets' timestamps and keyframe flags first (no decoding),
  which gives the frame count and, for each wanted frame, the keyframe it must be decoded from. Each
  group of wanted frames sharing a keyframe is one seek and one decoding run, with the decoder told
  to skip the non-reference frames it does not need (`skip_frame=NONREF`: no other frame depends on
  them, so the frames kept are bit-identical). AVI files and raw streams (no presentation times; an
  AVI's B-frames carry made-up ones), and any stream whose seeks or frames do not land where its
  timestamps say, are decoded from the start instead, counting frames in display order.
- **decord** (0.6.0, X-CLIP's loader) and **torchcodec** (its `exact` seek mode: a scan of the file
  gives the count and keyframes) seek to the keyframe before each wanted frame and decode from there.

`short` (the training transforms' shorter side) returns every frame resized to it, (H, W) rounded as
`resized_shape`. PyAV converts to RGB and resizes in one sws_scale call, on one thread: bilinear
(antialiased when it shrinks) with `ACCURATE_RND | BITEXACT`, swscale's C code whatever the CPU's SIMD
(the unscaled conversion of `short=None`, kept as it was, is not: its SIMD and C code differ in 60% of
the values; made bit-exact it costs 3-4x and moves 3 grey levels on noisy chroma), and `FULL_CHR_H_INT`
(chroma interpolated at full width, which swscale forces for odd widths: without it the colours would
shift by ~1.4 grey levels with the width's parity; it costs nothing measurable per clip). decord and
torchcodec decode at full size, then torch's uint8 bilinear with antialiasing resizes (the training
transforms' resize, within 1 grey level). The frames are 0.9-1.4 grey levels from the plain PyAV
loop's resized by torch on real clips, 2.9 on the noisy generated clip (that conversion repeats chroma
samples where this one interpolates them, and darkens by ~1.2). Not used: skipping H.264's deblocking
(`skip_loop_filter`, settable only for a whole stream: 5-30% less CPU, 1.3-1.9 grey levels of drift,
over 2 from plain at 720p; on B-frames only, 0.3 for 0-7%), and `lowres` (no effect
on H.264). Of pyav's CPU time with `short=256` on the Kinetics-like clip, decoding is 63%, demuxing
13%, the sws_scale call 13%, opening 5%; it reads 1.4-1.8x the clips per CPU-second of the plain loop
at full size (full size: 1.8-2.0x), 1.5x through the whole training pipeline.

`AUTO_ORDER` is the order of `benchmarks/data.py`'s clips per CPU-second on Kinetics-like H.264; all
backends decode on one thread, since DataLoader workers are the parallelism of a training run.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .choices import AUTO_ORDER, BACKEND_CHOICES as CHOICES, BACKENDS as NAMES
from .errors import ModelError

TIMED_FORMATS = {"mp4", "mov", "matroska", "webm", "mpegts"}  # containers whose packets carry presentation times (FFmpeg's names)
INSTALL = {
    "decord": "pip install 'alt-toolkit[fast-video]' (decord 0.6.0: x86-64 Linux wheels only)",
    "torchcodec": "pip install 'alt-toolkit[fast-video]' (torchcodec built for this torch) and FFmpeg's shared libraries "
                  "(scripts/setup.sh fast-video installs Debian's)",
}


def installed() -> tuple[str, ...]:
    """The backends that load in this process, in `NAMES` order (importing torchcodec takes a second or two)."""
    return tuple(name for name in NAMES if loads(name))


@functools.cache
def loads(name: str) -> bool:
    """Whether backend `name` loads here: its module imports (and torchcodec finds FFmpeg's libraries)."""
    if name == "pyav":
        return True
    try:
        module = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a wheel built for another torch or Python fails in many ways: not installed
        return False
    return name != "torchcodec" or module.ffmpeg_major_version is not None  # torchcodec imports without FFmpeg, then cannot decode


def __getattr__(name: str):
    if name == "BACKENDS":  # found on first use, not at import
        return installed()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_backend(name: str) -> None:
    """ModelError naming data.backend unless `name` is a backend name (installed or not)."""
    if name not in CHOICES:
        raise ModelError(f"data.backend must be one of {', '.join(CHOICES)} (installed here: {', '.join(installed())}), got {name!r}")


def resolve_backend(name: str = "auto") -> str:
    """The installed backend `name` stands for (`auto`: the first of AUTO_ORDER installed), or ModelError saying how
    to install it."""
    check_backend(name)
    if name == "auto":  # the first that loads: the others are not imported
        return next(n for n in AUTO_ORDER if loads(n))
    if not loads(name):
        raise ModelError(f"data.backend={name}: {name} is not installed here (installed: {', '.join(installed())}); {INSTALL[name]}")
    return name


# ---------------------------------------------------------------------------------------------- backends


class _Unseekable(Exception):
    """PyAV: the stream's timestamps or seeks cannot place frames; decode it from the start instead."""


class _PyAV:
    """PyAV: a scan of the packets, then one seek and one run per keyframe (see the module docstring)."""

    @staticmethod
    def errors() -> tuple[type[BaseException], ...]:
        import av

        return (av.error.FFmpegError, IndexError, ValueError, OSError)

    def __init__(self, path: Path, short: int | None = None) -> None:
        from av.video.reformatter import Interpolation, VideoReformatter

        self.path, self.short = path, short
        self.reformatter = VideoReformatter()  # one converter for all frames: a frame's own is new each time
        # short's: bilinear in swscale's C code whatever the CPU's SIMD, chroma at full width (see the module docstring)
        self.interpolation = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT | Interpolation.FULL_CHR_H_INT
        self._open()
        try:
            self.packets = [(p.pts, p.is_keyframe) for p in self.container.demux(self.stream) if p.size and not p.is_discard]
        except BaseException:
            self.container.close()
            raise
        self.count = len(self.packets)
        pts = [p[0] for p in self.packets]
        # AVI and raw streams have no presentation times (an AVI's B-frames carry made-up ones): decode those in order
        self.timed = bool(TIMED_FORMATS & set(self.container.format.name.split(","))) and None not in pts and len(set(pts)) == len(pts)
        if self.timed:  # display index -> decode position, and presentation time -> display index
            self.position = sorted(range(self.count), key=pts.__getitem__)
            self.by_pts = {pts[position]: index for index, position in enumerate(self.position)}

    def _open(self) -> None:
        import av

        self.container = av.open(str(self.path))
        try:
            self.stream = self.container.streams.video[0]
            self.stream.codec_context.thread_count = 1  # skip_frame changes between packets: no frame threads
        except BaseException:
            self.container.close()
            raise

    def close(self) -> None:
        self.container.close()

    def rgb(self, frame) -> np.ndarray:
        if self.short is None:
            return self.reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()
        height, width = resized_shape(frame.height, frame.width, self.short)  # colours and size in one sws_scale call
        return self.reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation=self.interpolation,
                                         threads=1).to_ndarray()

    def frames(self, wanted: Sequence[int]) -> tuple[dict[int, np.ndarray], int]:
        if self.timed:
            try:
                out = self._seeking(wanted)
                if len(out) == len(wanted):
                    return out, self.count
            except _Unseekable:
                pass
        return self._sequential(wanted)

    def _runs(self, wanted: Sequence[int]) -> list[tuple[int, int]]:
        """(keyframe position, last position) of each decoding run, in decode order."""
        keys = [i for i, (_, key) in enumerate(self.packets) if key]
        runs: list[tuple[int, int]] = []
        for position in sorted(self.position[w] for w in wanted):
            pts = self.packets[position][0]
            key = max((k for k in keys if k <= position and self.packets[k][0] <= pts), default=None)
            if key is None:
                raise _Unseekable
            if runs and runs[-1][0] == key:
                runs[-1] = (key, position)
            else:
                runs.append((key, position))
        return runs

    def _seeking(self, wanted: Sequence[int]) -> dict[int, np.ndarray]:
        codec, want, out, shown = self.stream.codec_context, set(wanted), {}, -1

        def keep(frames) -> None:
            nonlocal shown
            for frame in frames:
                index = self.by_pts.get(frame.pts)
                if index is None or index <= shown:
                    raise _Unseekable  # frames out of display order: the timestamps do not say where they belong
                shown = index
                if index in want:
                    out[index] = self.rgb(frame)

        for key, last in self._runs(wanted):
            self.container.seek(self.packets[key][0], stream=self.stream, backward=True)  # FFmpeg seeks by presentation time
            codec.flush_buffers()
            started, shown = False, -1
            for packet in self.container.demux(self.stream):
                if not packet.size or packet.is_discard:
                    continue
                index = self.by_pts.get(packet.pts)
                if index is None:
                    raise _Unseekable
                position = self.position[index]
                if not started:
                    if position < key:  # landed before the keyframe: read on to it
                        continue
                    if position > key:
                        raise _Unseekable
                    started = True
                codec.skip_frame = "DEFAULT" if index in want else "NONREF"
                keep(codec.decode(packet))
                if position >= last:
                    break
            codec.skip_frame = "DEFAULT"
            keep(codec.decode(None))
        return out

    def _sequential(self, wanted: Sequence[int]) -> tuple[dict[int, np.ndarray], int]:
        """Every frame from the start up to the last wanted one, counted in display order."""
        want, last, out, count = set(wanted), max(wanted), {}, 0
        self.close()  # opened again: a raw stream cannot seek back to its start
        self._open()
        for count, frame in enumerate(self.container.decode(self.stream), start=1):
            if count - 1 in want:
                out[count - 1] = self.rgb(frame)
            if count - 1 == last:
                break
        return out, count


class _Decord:
    """decord's VideoReader: it indexes the file when opened, and seeks to keyframes in `get_batch`."""

    @staticmethod
    def errors() -> tuple[type[BaseException], ...]:
        import decord

        return (decord.DECORDError, IndexError, ValueError, OSError, RuntimeError)

    def __init__(self, path: Path, short: int | None = None) -> None:
        import decord

        self.reader, self.short = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1), short
        self.count = len(self.reader)

    def close(self) -> None:
        del self.reader

    def frames(self, wanted: Sequence[int]) -> tuple[dict[int, np.ndarray], int]:
        return dict(zip(wanted, _resize(self.reader.get_batch(list(wanted)).asnumpy(), self.short))), self.count


class _TorchCodec:
    """torchcodec's VideoDecoder in its exact seek mode (a scan of the file indexes every frame)."""

    @staticmethod
    def errors() -> tuple[type[BaseException], ...]:
        return (RuntimeError, IndexError, ValueError, OSError)

    def __init__(self, path: Path, short: int | None = None) -> None:
        from torchcodec.decoders import VideoDecoder

        self.decoder, self.short = VideoDecoder(str(path), dimension_order="NHWC", seek_mode="exact", num_ffmpeg_threads=1), short
        self.count = self.decoder.metadata.num_frames or 0

    def close(self) -> None:
        del self.decoder

    def frames(self, wanted: Sequence[int]) -> tuple[dict[int, np.ndarray], int]:
        return dict(zip(wanted, _resize(self.decoder.get_frames_at(list(wanted)).data.numpy(), self.short))), self.count


def resized_shape(height: int, width: int, short: int) -> tuple[int, int]:
    """(height, width) of a frame resized to shorter side `short`, rounded as mmcv's rescale_size (X-CLIP's Resize(-1, short));
    `data` and its transforms use this one rule too."""
    scale = short / min(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def resize_frames(x: Any, height: int, width: int) -> Any:
    """uint8 frames [n, 3, H, W] (a torch tensor) resized (bilinear, antialiased) by torch's uint8 kernel on channels-last
    memory: within a grey level or so of its float kernel at a twentieth of the CPU time. The result is channels last."""
    import torch
    import torch.nn.functional as F

    return F.interpolate(x.contiguous(memory_format=torch.channels_last), size=(height, width), mode="bilinear", align_corners=False,
                         antialias=True)


def _resize(frames: np.ndarray, short: int | None) -> np.ndarray:
    """uint8 frames [n, H, W, 3] resized to shorter side `short` (None: as they are), as `data`'s transforms resize, for the
    backends that do not resize in their own colour conversion here."""
    if short is None:
        return frames
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # channels last already: no copy
    return resize_frames(x, *resized_shape(*frames.shape[1:3], short)).permute(0, 2, 3, 1).numpy()


READERS = {"pyav": _PyAV, "decord": _Decord, "torchcodec": _TorchCodec}
_WHERE = re.compile(r"(\[[\d:]+\] )?\S+\.(cpp|cc|h):\d+[:,]? ?")  # "[08:43:35] /src/video_reader.cc:486: ", "/src/Decoder.cpp:41, "


# ---------------------------------------------------------------------------------------------- entry points


def read_clips(path: str | Path, choose: Callable[[int], np.ndarray], backend: str = "auto", short: int | None = None) -> np.ndarray:
    """uint8 RGB frames [*choose(n).shape, H, W, 3] of a video of n frames, at the indices `choose(n)` returns; with
    `short`, each resized to shorter side `short` (H, W: `resized_shape`).

    ModelError naming the file when it cannot be decoded. If fewer frames decode than the stream said, the
    indices are chosen again from the frames that are there.
    """
    reader, path = READERS[resolve_backend(backend)], Path(path)
    try:
        video = reader(path, short)
        try:
            n = video.count
            if n <= 0:
                raise ModelError(f"{path}: the video has no frames")
            for _ in range(2):
                indices = choose(n)
                wanted = sorted(set(indices.ravel().tolist()))
                frames, decoded = video.frames(wanted)
                if len(frames) == len(wanted):
                    first = frames[wanted[0]]
                    return np.stack([frames[i] for i in indices.ravel()]).reshape(*indices.shape, *first.shape)
                if decoded == 0:
                    raise ModelError(f"{path}: no frame could be decoded")
                n = decoded  # the stream ended before its stated length: sample again from what is there
            raise ModelError(f"{path}: the frame count keeps changing between reads")
        finally:
            video.close()
    except reader.errors() as exc:
        raise ModelError(f"{path}: cannot decode a video stream ({type(exc).__name__}: {_reason(exc)[:100]})") from None


def _reason(exc: BaseException) -> str:
    """The message of a decoding error without the C++ source locations decord and torchcodec put in it."""
    return " ".join(_WHERE.sub("", str(exc)).split())


def read_frames(path: str | Path, indices: Sequence[int] | np.ndarray, backend: str = "auto", short: int | None = None) -> np.ndarray:
    """uint8 RGB frames [len(indices), H, W, 3] of the video at `path`, at frame `indices` (in any order, repeats
    allowed), resized to shorter side `short` if given; ModelError naming the file when it cannot be decoded or an
    index is past its end."""
    wanted = np.asarray(indices, dtype=np.int64).reshape(-1)

    def choose(n: int) -> np.ndarray:
        if not len(wanted) or wanted.min() < 0 or wanted.max() >= n:
            raise ModelError(f"{path}: frame indices must be in 0..{n - 1} (the video has {n} frames), got {wanted.tolist()[:8]}")
        return wanted

    return read_clips(path, choose, backend, short)
