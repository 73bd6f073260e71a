"""The training objective (paper Eq. 10, supplementary A): cross-entropy of the logits scale · cᵀz
against soft targets.

Eq. 10 is written with one-hot targets y; training softens them as X-CLIP does: label smoothing,
and Mixup/CutMix (timm's `Mixup`, one box and one λ for all the frames of a clip), whose targets
mix two videos' labels. timm pairs a batch with its reverse, so a batch of odd size is not mixed,
only smoothed.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .config import AugConfig


def make_mixer(aug: AugConfig, num_classes: int) -> Any:
    """timm's Mixup/CutMix for the augmentation config, or None when both are off."""
    if aug.mixup <= 0 and aug.cutmix <= 0:
        return None
    from timm.data import Mixup

    return Mixup(mixup_alpha=aug.mixup, cutmix_alpha=aug.cutmix, switch_prob=aug.switch_prob, mode="batch",
                 label_smoothing=aug.label_smoothing, num_classes=num_classes)


def soft_targets(video: Tensor, labels: Tensor, num_classes: int, mixer: Any, smoothing: float) -> Tensor:
    """Mix `video` [B, T, 3, S, S] in place and return the soft targets y [B, C]; odd batches are only smoothed."""
    if mixer is not None and len(labels) % 2 == 0:
        return mixer(video.flatten(1, 2), labels)[1]  # [B, T·3, S, S] view: one box / one λ for every frame of a clip
    from timm.data.mixup import mixup_target

    return mixup_target(labels, num_classes, 1.0, smoothing)


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Eq. 10: L = -1/N Σ_n Σ_i y_i,n log softmax(logits_n)_i, for logits [N, C] = scale · cᵀz and soft targets y [N, C]."""
    return -(targets * logits.log_softmax(dim=-1)).sum(dim=-1).mean()
