"""Reading video frames with PyAV for inference: TSN segment-centre sampling and CLIP's test transform.

`segment_centres(n, T)` is TSN's test-time sampling (the video cut into T equal segments, the
middle frame of each); `read_frames` decodes only up to the last frame it needs; `to_model_input`
resizes the shorter side to the tower's size, centre-crops, and normalises with the model's own
mean and std (open_clip's `visual.preprocess_cfg`), returning also the uint8 crops for pictures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import ModelError


def segment_centres(num_frames: int, samples: int) -> list[int]:
    """TSN test sampling: the centre frame of each of `samples` equal segments of `num_frames` frames."""
    return [min(num_frames - 1, int((i + 0.5) * num_frames / samples)) for i in range(samples)]


def _decode(path: Path) -> list[np.ndarray]:
    import av

    try:
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise ModelError(f"{path}: cannot decode a video stream ({type(exc).__name__}: {str(exc)[:80]}); check the file") from None


def read_frames(path: str | Path, samples: int) -> np.ndarray:
    """[samples, H, W, 3] uint8 RGB frames of a video at its segment centres."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: video not found; pass an existing video file")
    frames = _decode(path)
    if not frames:
        raise ModelError(f"{path}: the video has no frames; check the file")
    return np.stack([frames[i] for i in segment_centres(len(frames), samples)])


def to_model_input(frames: np.ndarray, visual: torch.nn.Module) -> tuple[np.ndarray, Tensor]:
    """(uint8 crops [T, S, S, 3], normalised pixels [T, 3, S, S]) for an open_clip vision tower of size S."""
    cfg = getattr(visual, "preprocess_cfg", {}) or {}
    size = visual.image_size[0] if isinstance(visual.image_size, (tuple, list)) else visual.image_size
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    x = F.interpolate(x, size=(max(size, round(h * scale)), max(size, round(w * scale))), mode="bicubic", align_corners=False)
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    crops = x[..., top : top + size, left : left + size].clamp(0, 255).round()
    mean = torch.tensor(cfg.get("mean", (0.48145466, 0.4578275, 0.40821073))).view(1, 3, 1, 1)
    std = torch.tensor(cfg.get("std", (0.26862954, 0.26130258, 0.27577711))).view(1, 3, 1, 1)
    pixels = (crops / 255 - mean) / std
    return crops.to(torch.uint8).permute(0, 2, 3, 1).numpy(), pixels
