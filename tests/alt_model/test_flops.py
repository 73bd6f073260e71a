"""alt_model/flops.py: multiply-adds counted on the meta device, against the supplementary's Table C5."""

from __future__ import annotations

import open_clip
import pytest
import torch
from tiny import TINY_VIT
from torch.utils.flop_counter import FlopCounterMode

from alt_model import RegionAwareEncoder, count_gflops
from alt_common.clip import resolve_model


@pytest.mark.parametrize("r, paper", [(0, 141), (8, 110)])
def test_vit_b16_8_frames_matches_table_c5(r, paper):
    gflops = count_gflops("ViT-B-16", frames=8, r=r)
    assert gflops == pytest.approx(paper, rel=0.05)
    assert 0 < gflops.adapter < 0.05 * gflops  # the adapter is a small part of the cost


def test_merging_and_frames_scale_the_encoder_cost():
    costs = [count_gflops(TINY_VIT, frames=8, r=r).encoder for r in (0, 4, 8)]
    assert costs[0] > costs[1] > costs[2]
    assert count_gflops(TINY_VIT, frames=16, r=8).encoder == pytest.approx(2 * costs[2])


def test_the_encoder_part_is_the_region_aware_vit_counted_alone():
    with torch.device("meta"):
        visual = open_clip.create_model(resolve_model(TINY_VIT)[0], device="meta").visual
        frames = torch.randn(8, 3, 64, 64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        RegionAwareEncoder(visual, r=8)(frames)
    gflops = count_gflops(TINY_VIT, frames=8, r=8)
    assert gflops.encoder == pytest.approx(counter.get_total_flops() / 2e9, rel=1e-9)  # multiply-adds: FLOPs / 2
