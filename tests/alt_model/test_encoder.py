"""alt_model/encoder.py: RegionAwareEncoder on tiny open_clip ViTs with random weights."""

from __future__ import annotations

import pytest
import torch
from tiny import TINY_CLIP, TINY_VIT, make_clip

from alt_model import ModelError, RegionAwareEncoder
from alt_model.encoder import self_attention

N, L = 64, 4  # the tiny ViT: 64 patches, 4 blocks


def _images(batch: int = 3, size: int = 64) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name, size", [(TINY_VIT, 64), (TINY_CLIP, 32)])
def test_r0_reproduces_encode_image(name, size):
    clip = make_clip(name)
    images = _images(size=size)
    with torch.no_grad():
        out = RegionAwareEncoder(clip.visual, r=0)(images)
        expected = clip.encode_image(images)
    torch.testing.assert_close(out.cls, expected, atol=1e-5, rtol=0)
    assert out.regions.shape == (3, clip.visual.grid_size[0] ** 2, clip.visual.output_dim)
    assert (out.sizes == 1).all() and torch.equal(out.sources[0], torch.eye(out.regions.shape[1]))


def test_r0_regions_are_the_second_last_blocks_patch_tokens():
    clip = make_clip()
    images = _images()
    with torch.no_grad():
        tokens = clip.visual.forward_intermediates(images, indices=[L - 2], output_fmt="NLC")["image_intermediates"][0]
        out = RegionAwareEncoder(clip.visual, r=0)(images)
    torch.testing.assert_close(out.regions, clip.visual.ln_post(tokens) @ clip.visual.proj, atol=1e-5, rtol=0)


def test_token_counts_follow_n_plus_1_minus_l_r():
    clip = make_clip()
    counts = []
    for block in clip.visual.transformer.resblocks:  # the MLP runs on the merged tokens of its block
        block.mlp.register_forward_hook(lambda module, args, out: counts.append(args[0].shape[1]))
    with torch.no_grad():
        out = RegionAwareEncoder(clip.visual, r=8)(_images())
    assert counts == [N + 1 - l * 8 for l in range(1, L + 1)]
    assert out.regions.shape[1] == out.sizes.shape[1] == N - (L - 1) * 8  # Eq. 3: regions after block L-1


def test_sources_partition_the_patches_and_sizes_count_them():
    clip = make_clip()
    with torch.no_grad():
        out = RegionAwareEncoder(clip.visual, r=[3, 9, 5, 7])(_images())
    assert out.sources.shape == (3, N - 17, N)
    assert torch.equal(out.sources.sum(dim=1), torch.ones(3, N))  # each patch in exactly one region, none in the class token
    assert torch.equal(out.sizes, out.sources.sum(dim=-1))
    assert out.sizes.sum(dim=1).tolist() == [N] * 3


def test_class_embedding_ignores_merges_in_the_last_block():
    clip = make_clip()
    images = _images()
    with torch.no_grad():
        plain = RegionAwareEncoder(clip.visual, r=[4, 4, 4, 0])(images)
        merged_last = RegionAwareEncoder(clip.visual, r=[4, 4, 4, 20])(images)
    torch.testing.assert_close(plain.cls, merged_last.cls, atol=1e-6, rtol=0)  # merging more in block L-1: 0.016
    assert torch.equal(plain.regions, merged_last.regions)  # taken before the last block: the same arithmetic


def test_too_large_r_is_capped_at_what_each_block_can_merge():
    clip = make_clip()
    encoder = RegionAwareEncoder(clip.visual, r=1000)
    assert encoder.merge_schedule(N + 1) == [32, 16, 8, 4]
    with torch.no_grad():
        out = encoder(_images())
    assert out.regions.shape[1] == 64 - 56 and torch.isfinite(out.cls).all()


def test_gradients_reach_the_vit_weights_through_the_merges():
    clip = make_clip()
    out = RegionAwareEncoder(clip.visual, r=8)(_images())
    (out.cls.sum() + out.regions.sum()).backward()
    blocks = clip.visual.transformer.resblocks
    assert all(b.attn.in_proj_weight.grad.abs().sum() > 0 for b in blocks)


@pytest.mark.parametrize("r", [-1, [8, 8]])
def test_bad_r_is_refused(r):
    with pytest.raises(ModelError, match="one per block"):
        RegionAwareEncoder(make_clip().visual, r=r).merge_schedule(N + 1)


@pytest.mark.parametrize("change, message", [
    (lambda v: setattr(v, "pool_type", "avg"), "pool_type"),
    (lambda v: setattr(v, "patch_dropout", torch.nn.Dropout()), "patch dropout"),
])
def test_unsupported_towers_are_refused_with_the_reason(change, message):
    visual = make_clip().visual
    change(visual)
    with pytest.raises(ModelError, match=message):
        RegionAwareEncoder(visual)


def test_a_non_vit_tower_is_refused():
    with pytest.raises(ModelError, match="VisionTransformer"):
        RegionAwareEncoder(torch.nn.Linear(2, 2))


def test_gradient_checkpointing_recomputes_blocks_with_the_same_gradients():
    grads, calls = [], []
    for checkpointing in (False, True):
        clip = make_clip()
        clip.visual.set_grad_checkpointing(checkpointing)
        mlp = clip.visual.transformer.resblocks[1].mlp
        mlp.register_forward_pre_hook(lambda module, args: calls.append(checkpointing))
        out = RegionAwareEncoder(clip.visual, r=8)(_images())
        (out.cls.square().sum() + out.regions.sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in clip.visual.transformer.parameters()]))
    assert calls == [False, True, True]  # run again in the backward pass
    torch.testing.assert_close(grads[0], grads[1])


def test_proportional_attention_weighs_a_token_as_the_patches_it_stands_for():
    attn = make_clip().visual.transformer.resblocks[0].attn
    x = torch.randn(2, 5, 64)
    twice, _ = self_attention(attn, torch.cat([x, x[:, 4:]], dim=1), None)  # token 4 present twice
    sizes = torch.tensor([1.0, 1, 1, 1, 2])
    merged, _ = self_attention(attn, x, sizes.log()[None, None, None])  # token 4 once, of size 2
    torch.testing.assert_close(merged, twice[:, :5])
