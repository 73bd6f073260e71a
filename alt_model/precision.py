"""Mixed precision: one policy, `train.precision`, for training and for evaluation (DESIGN §9).

- `auto`: bf16 autocast on GPUs with native bf16 (compute capability 8.0 and up: A100, H100, RTX 30xx
  and newer), else fp16 (V100, T4: torch emulates bf16 there, slowly);
- `bf16`, `fp16`: autocast in that dtype on GPUs;
- `fp32`: no autocast.
CPUs always run in fp32, whatever the setting (so CPU runs are exact and resume bit for bit).
Training with fp16 scales the loss with a GradScaler; bf16 needs none. Evaluating a checkpoint
uses the precision its run was configured with.
Whatever the autocast dtype, the few computations fp16 cannot hold run in fp32 (`fp32_cosines`, and
ToMe's size-weighted merge in `tome.py`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor

from .choices import PRECISIONS


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` (one of PRECISIONS) on `device`; None runs in fp32 (always on CPUs)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Mixed precision on GPUs with `dtype`; plain fp32 otherwise."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None and device.type == "cuda" else nullcontext()


def grad_scaler(dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """The loss scaler training needs for `dtype`: active for fp16 only, a pass-through otherwise."""
    return torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)


def fp32_cosines(x: Tensor, y: Tensor) -> Tensor:
    """Cosine similarities [..., n, m] of the rows of x [..., n, d] and y [..., m, d], in fp32 (or wider, for fp64
    inputs) whatever autocast is on: fp16 (bf16) rounds a cosine near 0.3 to a multiple of 2.4e-4 (2e-3), and closer
    ones tie or swap."""
    device_type = x.device.type
    wide = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
    off = torch.autocast(device_type, enabled=False) if torch.amp.is_autocast_available(device_type) else nullcontext()
    with off:
        return F.normalize(x.to(wide), dim=-1) @ F.normalize(y.to(wide), dim=-1).transpose(-1, -2)
