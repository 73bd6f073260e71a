"""alt_model/loss.py: Eq. 10 with soft targets (label smoothing, Mixup/CutMix over whole clips)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from alt_model.config import AugConfig
from alt_model.loss import make_mixer, soft_cross_entropy, soft_targets


def test_eq10_with_smoothed_targets_is_label_smoothed_cross_entropy():
    logits, labels = torch.randn(4, 5, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 3, 1, 4])
    targets = soft_targets(torch.zeros(4, 2, 3, 8, 8), labels, 5, None, 0.1)
    torch.testing.assert_close(soft_cross_entropy(logits, targets), F.cross_entropy(logits, labels, label_smoothing=0.1))
    torch.testing.assert_close(soft_cross_entropy(logits, F.one_hot(labels, 5).float()), F.cross_entropy(logits, labels))


def test_mixup_mixes_whole_clips_and_odd_batches_are_only_smoothed():
    assert make_mixer(AugConfig(mixup=0.0, cutmix=0.0), 5) is None
    mixer = make_mixer(AugConfig(cutmix=0.0), 5)
    torch.manual_seed(0)
    video = torch.arange(2.0)[:, None, None, None, None].expand(2, 3, 3, 4, 4).clone()  # clip 0 all zeros, clip 1 all ones
    targets = soft_targets(video, torch.tensor([0, 1]), 5, mixer, 0.1)
    assert all(torch.unique(video[b]).numel() == 1 for b in range(2))  # one λ for every frame and pixel of a clip
    lam = 1 - float(video[0, 0, 0, 0, 0])  # clip 0 became λ·0 + (1 - λ)·1
    torch.testing.assert_close(targets[0, :2], torch.tensor([0.02 + 0.9 * lam, 0.02 + 0.9 * (1 - lam)]))  # the same λ
    odd = torch.zeros(3, 2, 3, 4, 4)
    smoothed = soft_targets(odd, torch.tensor([0, 1, 2]), 5, mixer, 0.1)
    torch.testing.assert_close(smoothed, F.one_hot(torch.tensor([0, 1, 2]), 5) * 0.9 + 0.02)
    assert not odd.any()
