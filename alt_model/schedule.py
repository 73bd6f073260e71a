"""How a run's optimizer steps fall and what learning rate each takes (paper Sec. 3.3, supplementary A; X-CLIP's code).

`BatchPlan` cuts an epoch into micro-batches of `train.batch_size` and accumulation windows of `global_batch`;
`lr_lambdas` gives LambdaLR its factor per parameter group as `train.schedule` says: `warmup-cosine` (linear warm-up
to the peak, then a cosine to `min_lr_ratio` of it, per optimizer step) or `timm-cosine` (X-CLIP's: timm's
CosineLRScheduler as microsoft/VideoX builds and steps it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .config import TrainConfig
from .errors import ModelError


@dataclass(frozen=True)
class BatchPlan:
    """How an epoch is cut, per process: `micro` micro-batches of `train.batch_size`, `accum` of them per optimizer step."""

    micro: int
    accum: int

    @classmethod
    def of(cls, tc: TrainConfig, world: int, videos: int) -> BatchPlan:
        """The plan for `videos` per process and epoch; ModelError when `global_batch` cannot be met exactly."""
        per_step = tc.batch_size * world
        if tc.global_batch % per_step:
            raise ModelError(f"train.global_batch {tc.global_batch} is not a multiple of train.batch_size × processes "
                             f"({tc.batch_size} × {world} = {per_step}); change one of them")
        return cls(micro=math.ceil(videos / tc.batch_size), accum=tc.global_batch // per_step)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.micro / self.accum)

    def window(self, i: int) -> tuple[int, bool]:
        """(micro-batches in the accumulation window of micro-batch `i`, whether `i` closes it); the last may be shorter."""
        start = i - i % self.accum
        size = min(self.accum, self.micro - start)
        return size, i + 1 == start + size


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine to `min_ratio` at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def timm_cosine_lr(t: int, peak: float, warmup: int, total: int, floor: float) -> float:
    """timm's CosineLRScheduler after update `t`, as X-CLIP builds it (utils/optimizer.py: warmup_lr_init 0, one cycle of
    t_initial = `total` updates that includes the `warmup` ones, lr_min = `floor`): a line from 0, then the cosine of t / total."""
    if t < warmup:
        return peak * t / warmup
    if t >= total:
        return floor
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * t / total))


def timm_cosine_factor(step: int, peak: float, plan: BatchPlan, tc: TrainConfig) -> float:
    """`train.schedule: timm-cosine`: the lr of optimizer step `step` over its group's `peak`. X-CLIP's main.py counts updates
    in micro-batches (t_initial = epochs × micro-batches per epoch) and calls step_update(epoch × micro-batches + i) after the
    step that closes micro-batch i: step 0 runs at warmup_lr_init (0; the peak without warm-up) and step s at the lr of the
    micro-batch that closed step s - 1. Every group ends at lr_vit × min_lr_ratio (X-CLIP's lr_min = LR / 100, for all groups)."""
    total, warmup = int(tc.epochs * plan.micro), int(tc.warmup_epochs * plan.micro)
    if step == 0:
        return 0.0 if warmup else 1.0
    epoch, window = divmod(step - 1, plan.steps_per_epoch)
    t = epoch * plan.micro + min((window + 1) * plan.accum, plan.micro) - 1
    return timm_cosine_lr(t, peak, warmup, total, tc.lr_vit * tc.min_lr_ratio) / peak


def lr_lambdas(optimizer: torch.optim.Optimizer, tc: TrainConfig, plan: BatchPlan, warmup: int, total: int) -> list[Callable[[int], float]]:
    """LambdaLR's factor per parameter group, as `train.schedule` says: `warmup-cosine` (`lr_factor` over `warmup` and `total`
    optimizer steps) or `timm-cosine` (`timm_cosine_factor`)."""
    if tc.schedule == "timm-cosine":
        return [lambda s, peak=g["lr"]: timm_cosine_factor(s, peak, plan, tc) for g in optimizer.param_groups]
    return [lambda s: lr_factor(s, warmup, total, tc.min_lr_ratio) for _ in optimizer.param_groups]
