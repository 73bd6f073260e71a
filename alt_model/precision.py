"""Mixed precision: one policy, `train.precision`, for training and for evaluation (DESIGN §9).

- `auto`: bf16 autocast on GPUs that support it, else fp16;
- `bf16`, `fp16`: autocast in that dtype on GPUs;
- `fp32`: no autocast.
CPUs always run in fp32, whatever the setting (so CPU runs are exact and resume bit for bit).
Training with fp16 scales the loss with a GradScaler; bf16 needs none. Evaluating a checkpoint
uses the precision its run was configured with.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` (one of PRECISIONS) on `device`; None runs in fp32 (always on CPUs)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Mixed precision on GPUs with `dtype`; plain fp32 otherwise."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None and device.type == "cuda" else nullcontext()


def grad_scaler(dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """The loss scaler training needs for `dtype`: active for fp16 only, a pass-through otherwise."""
    return torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
