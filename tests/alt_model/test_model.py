"""alt_model/model.py and adapter.py: ALT end to end on a tiny open_clip ViT, its ablation switches, training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny import make_corpus

from alt_common.errors import UserError
from alt_model import ALT, AdapterBlock, ModelError

LABELS = ["abseiling", "playing guitar", "riding a bike"]
N, L, R = 64, 4, 8
REGIONS = N - (L - 1) * R


def _video(batch: int = 2, frames: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, frames, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def _alt(clip, corpus, tokenizer, **options) -> ALT:
    torch.manual_seed(0)
    return ALT(clip, corpus, num_frames=8, r=R, tokenizer=tokenizer, templates=["a video of {}"], **options).eval()


def _max_change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max().detach())


def _record_inputs(module: torch.nn.Module) -> list:
    seen = []
    module.register_forward_hook(lambda m, args, out: seen.append(args))
    return seen


@pytest.mark.parametrize("frames", [8, 16])
def test_shapes(clip, corpus, tokenizer, frames):
    out = _alt(clip, corpus, tokenizer)(_video(frames=frames), LABELS)
    assert out.logits.shape == (2, 3) and out.video_embedding.shape == (2, 32)
    assert out.entity_ids.shape == (2, frames, 1 + REGIONS) and int(out.entity_ids.max()) < 12
    assert out.frames.regions.shape == (2 * frames, REGIONS, 32)


def test_adapter_depth_follows_the_vision_width(clip, corpus, tokenizer):
    assert len(_alt(clip, corpus, tokenizer).adapter.blocks) == 4  # ViT-B-sized and smaller: M = 4
    assert len(_alt(clip, corpus, tokenizer, adapter_depth=6).adapter.blocks) == 6


def test_queries_are_the_aligned_corpus_entities(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer)
    seen = _record_inputs(model.query_reducer)
    out = model(_video(), LABELS)
    tokens = seen[0][0]
    torch.testing.assert_close(tokens, model.entities[out.entity_ids.flatten(0, 1)])  # Eq. 6: ÂS, one entity per token
    changed = make_corpus(seed=1)  # other entities: the queries, hence the logits, move (measured: by 0.39)
    assert _max_change(_alt(clip, changed, tokenizer)(_video(), LABELS).logits, out.logits) > 1e-2


def test_align_false_takes_queries_from_the_image_embeddings(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, align=False)
    seen_q, seen_e = _record_inputs(model.query_reducer), _record_inputs(model.frame_reducer)
    out = model(_video(), LABELS)
    assert out.entity_ids is None
    torch.testing.assert_close(seen_q[0][0], seen_e[0][0])  # q = MLP(E), like ê
    other = _alt(clip, make_corpus(seed=1), tokenizer, align=False)(_video(), LABELS)
    assert torch.equal(other.logits, out.logits)  # the corpus plays no part: the same arithmetic, bit for bit


def test_action_name_queries_align_to_the_label_set_not_the_corpus(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, queries="action-names")
    seen = _record_inputs(model.aligner)
    out = model(_video(), LABELS)
    torch.testing.assert_close(seen[0][1], model.text_head.class_embeddings(LABELS))
    assert int(out.entity_ids.max()) < len(LABELS)
    other = _alt(clip, make_corpus(seed=1), tokenizer, queries="action-names")(_video(), LABELS)
    assert torch.equal(other.logits, out.logits)  # the corpus plays no part: the same arithmetic, bit for bit


def test_learnable_queries_replace_the_aligned_entities(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, queries="learnable")
    assert not hasattr(model, "query_reducer") and model.learned_queries.shape == (8, 64)  # Q_0 at the adapter width
    out = model(_video(), LABELS)
    assert out.entity_ids is None
    out.logits.sum().backward()
    assert model.learned_queries.grad.abs().sum() > 0
    with pytest.raises(ModelError, match="8 frames"):
        model(_video(frames=16), LABELS)


def test_regions_false_uses_the_class_embedding_alone(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, regions=False)
    seen = _record_inputs(model.frame_reducer)
    out = model(_video(), LABELS)
    assert out.entity_ids.shape == (2, 8, 1)
    torch.testing.assert_close(seen[0][0], out.frames.cls[:, None])
    full = _alt(clip, corpus, tokenizer)(_video(), LABELS)
    assert _max_change(full.logits, out.logits) > 1e-2  # the regions matter (measured: 1.3)


def test_token_weights_give_the_class_token_the_whole_frame(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer)
    out = model(_video(), LABELS)
    weights = model.token_weights(out.frames)
    torch.testing.assert_close(weights[:, 0], torch.full((16,), 0.5))
    torch.testing.assert_close(weights[:, 1:], out.frames.sizes / (2 * N))


def test_categories_restrict_the_corpus(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer, categories=["body", "scene"])
    keep = [i for i, c in enumerate(corpus["categories"]) if c in ("body", "scene")]
    torch.testing.assert_close(model.entities, corpus["embeddings"][keep])
    assert model.entity_units == [corpus["units"][i] for i in keep]
    assert int(model(_video(), LABELS).entity_ids.max()) < len(keep)
    with pytest.raises(UserError, match="no corpus entities in categories"):
        _alt(clip, corpus, tokenizer, categories=["weather"])


def test_temporal_conv_is_what_makes_the_model_see_frame_order(clip, corpus, tokenizer):
    # In float64, so that "order-blind" means equal up to ~1e-15 (sums taken in another order), not up to
    # float32 noise (~1e-6) that a tolerance would have to tell from the conv's effect (measured: 0.027).
    video = _video().double()
    shuffled = video[:, torch.randperm(8, generator=torch.Generator().manual_seed(3))]
    for temporal_conv in (True, False):
        model = _alt(clip, corpus, tokenizer, temporal_conv=temporal_conv).double()
        classes = model.text_head.class_embeddings(LABELS).double()
        change = _max_change(model(video, classes).logits, model(shuffled, classes).logits)
        if temporal_conv:
            assert change > 1e-3, change
        else:
            assert change < 1e-10, change


@pytest.mark.parametrize("self_attention", [True, False])
def test_self_attention_is_what_lets_queries_see_other_frames(self_attention):
    torch.manual_seed(0)
    block = AdapterBlock(32, heads=2, temporal_conv=False, self_attention=self_attention)
    queries, frames = torch.randn(1, 4, 32), torch.randn(1, 4, 32)
    moved = queries.clone()
    # A random direction, not a constant shift: the pre-norm LayerNorm would remove a constant exactly.
    moved[:, 0] += 5.0 * torch.randn(32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before, after = block(queries, frames), block(moved, frames)
    assert _max_change(before[:, 0], after[:, 0]) > 1.0  # the perturbation is real (measured: 11)
    others = _max_change(before[:, 1:], after[:, 1:])  # measured: 0.48 with self-attention, 0.0 without
    if self_attention:
        assert others > 1e-2, others
    else:  # each query's rows are computed from that query alone: nothing but its own position moves
        assert others < 1e-6, others


def test_every_adapter_block_convolves_the_adapter_input_over_time(clip, corpus, tokenizer):
    adapter = _alt(clip, corpus, tokenizer).adapter
    seen = [_record_inputs(block.cross_attn) for block in adapter.blocks]
    queries, frames = torch.randn(2, 8, 64), torch.randn(2, 8, 64)  # at the adapter width: the tiny tower's 64
    adapter(queries, frames)
    for block, inputs in zip(adapter.blocks, seen):  # Eq. 8: Ê_m = Ê + 1D-CONV_m(Ê), kernel 3, same length
        conv = F.conv1d(frames.transpose(1, 2), block.conv.weight, block.conv.bias, padding=1).transpose(1, 2)
        torch.testing.assert_close(inputs[0][1], block.norm_kv(frames + conv))


@pytest.mark.parametrize("options, message", [
    ({"queries": "names"}, "queries must be one of"),
    ({"align": False, "queries": "learnable"}, "align=False"),
])
def test_contradictory_options_are_refused(clip, corpus, tokenizer, options, message):
    with pytest.raises(ModelError, match=message):
        _alt(clip, corpus, tokenizer, **options)


def test_corpus_of_another_width_is_refused(clip, tokenizer):
    with pytest.raises(UserError, match="16-d"):
        _alt(clip, make_corpus(dim=16), tokenizer)


def test_training_steps_lower_the_loss_on_a_fixed_batch(clip, corpus, tokenizer):
    model = _alt(clip, corpus, tokenizer).train()
    video, target = _video(batch=3), torch.tensor([0, 1, 2])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(6):
        loss = F.cross_entropy(model(video, LABELS).logits, target)  # Eq. 10
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            assert all(p.grad is not None for p in (model.encoder.visual.conv1.weight, model.adapter.head[0].weight,
                                                     model.frame_reducer.mlp[0].weight, model.query_reducer.mlp[0].weight))
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]  # measured: 1.47 -> 1.12
