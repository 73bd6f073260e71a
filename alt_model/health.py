"""Divergence watch for the training loop, without a host sync per step.

Every micro-batch's loss and, where no GradScaler owns them, every step's gradient norm are checked
for finiteness on the device: the first optimizer step that saw a non-finite one is kept there, in
one scalar, and the GPU never waits for the host. The host reads them only where it is about to
write something a diverged run must not leave behind: a log line, a checkpoint, an evaluation.
Under fp16 the GradScaler owns the gradients (an inf gradient there is a skipped step and a smaller
scale, not a divergence), so only the losses are watched.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from alt_common.errors import Failed

from . import distributed
from .distributed import Dist


class Health:
    """The first optimizer step (1-based) whose loss or gradient norm was not finite, kept on `device` (0: none yet)."""

    def __init__(self, device: torch.device) -> None:
        self.first_bad = torch.zeros((), dtype=torch.int64, device=device)

    def note(self, value: Tensor, step: int) -> None:
        """Record `step` as the first bad one if `value` (a loss or a norm, any shape) holds a non-finite number."""
        bad = ~torch.isfinite(value.detach()).all()
        self.first_bad = torch.where(bad & (self.first_bad == 0), step, self.first_bad)

    def first_bad_step(self, d: Dist) -> int | None:
        """The host's one read (a collective under torchrun: every process calls it at the same step): the earliest bad
        step of any process, or None."""
        steps = [s for s in distributed.gather(int(self.first_bad), d) if s > 0]
        return min(steps) if steps else None

    def check(self, d: Dist, epoch: int, out: Path) -> None:
        """Stop a diverged run (Failed) before it writes anything more: no log line, checkpoint or evaluation holds it."""
        step = self.first_bad_step(d)
        if step is None:
            return
        kept = out / "last.pt"
        keep = f"the run's last checkpoint is {kept}, from before it" if kept.is_file() else "no checkpoint was written"
        raise Failed(f"training diverged: a loss or gradient was not finite at step {step} (epoch {epoch + 1}); {keep}; lower "
                     "train.lr_adapter/train.lr_vit or check train.init and the data")
